"""The Inside view, driven like a person: pick a query and see how the model in use classified it;
the explanation follows the support set, the model and the query, is computed off the GUI thread,
never shows a stale result, and exports as PNG. The renderer draws every part kind. In the Compare
view, a query row shows every compared model's explanation side by side."""
from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from tests.app.apphelpers import (TorchCallsOnThisThread, drop_paths, fill_support, glyph_png, meta_trained_bytes, start_tiny_comparison,
                        wait_for_results)


# -- the renderer, on hand-made explanations ----------------------------------------------------

def every_kind():
    """An Explanation holding one part of every kind core knows (3 classes, 2 support images each)."""
    import core

    classes = ["circle", "cross", "tee"]
    parts = [
        core.Points("Embedding space", "Support images, prototypes and the query.", x=[0, 1, 0.2, 1.1, 2, 2.1, 0.1, 1.05, 2.05, 1.0],
                    y=[0, 0.1, 1, 1.1, 0, 0.2, 0.5, 0.6, 0.1, 0.8], labels=[""] * 6 + ["circle", "cross", "tee", "query"],
                    kind_of=["support"] * 6 + ["prototype"] * 3 + ["query"], group=[0, 0, 1, 1, 2, 2, 0, 1, 2, -1],
                    links=[(9, 6, 1.2), (9, 7, 0.3), (9, 8, 2.5)], link_label="squared distance", axes=("PC 1", "PC 2")),
        core.Matrix("Distances", "Per step and class.", values=[[1.2, 0.3, 2.5], [0.5, 0.9, 1.0]], rows=["step 0", "step 1"],
                    columns=classes, value_label="distance"),
        core.Curves("Inner loop", "Support loss per step.", x=[0, 1, 2], series={"support loss": [1.1, 0.8, 0.5]}, x_label="step"),
        core.Bars("Learned vs fixed", "Relation beside cosine.", categories=classes, series={"relation": [0.2, 0.9, 0.1], "cosine": [0.5, 0.7, 0.4]}),
        core.Images("Difference maps", "L1 differences.", images=[[[0, 1], [1, 0]], [[0.5, 0.2, 0.1], [0.9, 0.3, 0.0]]], labels=["a", "b"]),
        core.SupportWeights("Attention", "They sum to 1.", values=[0.05, 0.05, 0.4, 0.3, 0.1, 0.1], value_label="attention"),
        core.Text("In words", "", body="The query is closest to the cross prototype."),
    ]
    return core.Explanation("protonet", "How it classified", "Nearest prototype wins.", classes, [0.2, 0.7, 0.1],
                            [0, 0, 1, 1, 2, 2], "query 1", parts)


def test_the_renderer_draws_every_part_kind_and_says_when_it_cannot(qtbot):
    import core
    from app.views.studio.explain_render import ExplanationView

    view = ExplanationView()
    qtbot.addWidget(view)
    view.resize(500, 800)
    view.show()
    e = every_kind()
    assert {p.kind for p in e.parts} == set(core.PART_KINDS)  # a new kind in core needs a drawing here
    view.show_explanation(e, [glyph_png(k % 3, k) for k in range(6)])
    assert [c.kind for c in view.cards] == [p.kind for p in e.parts] and all(c.drawn for c in view.cards)
    assert view.probabilities == e.probabilities and view.prediction.text() == "→ cross  70%"
    points = view.cards[0].body.plot
    assert len([i for i in points.getPlotItem().items if type(i).__name__ == "ScatterPlotItem"]) == 3  # support, prototype, query
    weights = view.cards[5].body
    assert "cross: 0.4" in [lab.text() for lab in weights.findChildren(type(view.message))]  # each thumbnail says its value
    assert not view.picture().isNull()

    # A kind this version does not know, and a part whose data cannot be drawn: each card says so; the rest still draw.
    class Hologram(core.Part):
        kind = "hologram"

    broken = core.Curves("Broken", "", x=[0, 1], series={"a": [1, 2]})
    broken.series = {"a": "not numbers"}
    e.parts += [Hologram("A 3-D hologram", "From a newer version."), broken]
    view.show_explanation(e)
    unknown, bad = view.cards[-2:]
    assert not unknown.drawn and "Cannot draw this part" in unknown.body.text() and "hologram" in unknown.body.text()
    assert not bad.drawn and "Cannot draw this part" in bad.body.text()
    assert all(c.drawn for c in view.cards[:-2])
    assert view.cards[5].drawn  # without the support images, weights draw on blank thumbnails


def test_many_support_images_wrap_to_the_views_width(qtbot):
    """Fifteen weighted thumbnails in a narrow view wrap onto several rows: the column never gets
    wider than the view (its right side, captions included, would be cut off)."""
    import core
    from app.views.studio.explain_render import ExplanationView

    view = ExplanationView()
    qtbot.addWidget(view)
    view.resize(400, 700)
    view.show()
    qtbot.waitExposed(view)
    labels = [k // 3 for k in range(15)]
    e = core.Explanation("matching", "How it classified", "", list("abcde"), [0.2] * 5, labels, "q",
                         [core.SupportWeights("Attention", "A caption long enough to need wrapping at this width, as real ones do.",
                                              values=[1 / 15] * 15, value_label="attention")])
    view.show_explanation(e, [glyph_png(k % 3, k) for k in range(15)])
    qtbot.wait(50)
    print(f"column {view.content.minimumSizeHint().width()} px in a {view.scroll.viewport().width()} px view")
    assert view.content.minimumSizeHint().width() <= view.scroll.viewport().width()


# -- the Studio's Inside view ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_matching(tmp_path_factory) -> bytes:
    return meta_trained_bytes(tmp_path_factory.mktemp("ckpt"), "matching", {"hidden": 16}, 4)


def _open_inside(window) -> None:
    bar = window.top_tabs.tabBar()
    QTest.mouseClick(bar, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, bar.tabRect(window.top_tabs.indexOf(window.inside)).center())
    assert window.top_tabs.currentWidget() is window.inside


def _click_query_row(window, row: int) -> None:
    lst = window.query.list
    QTest.mouseClick(lst.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, lst.visualItemRect(lst.item(row)).center())


def _explained(window, qtbot, sample, n_support: int):
    """The explanation on screen once it is of `sample`, with `n_support` support images, and settled."""
    from app.views.studio.inside_view import query_name

    inside = window.inside

    def ready():
        e = inside.render.explanation
        return not inside.computing() and inside.render.isEnabled() and e is not None and inside.selected() is sample \
            and e.query == query_name(window.project, sample) and len(e.support_labels) == n_support
    qtbot.waitUntil(ready, timeout=120_000)
    return inside.render.explanation


def test_selecting_a_query_shows_its_explanation_which_follows_the_support_set_and_the_model(window_with_model, tiny_matching, qtbot, tmp_path):
    window = window_with_model
    fill_support(window.project, n_classes=3, shots=1)
    window.project.add_queries([glyph_png(k, 7) for k in range(3)])
    matching = window.library.import_bytes(tiny_matching, algorithm="matching", title="Matching Networks",
                                           source="Built-in characters", n_way=3, k_shot=1, val_accuracy=0.5, steps=4)
    window.show_models()
    with TorchCallsOnThisThread() as on_gui_thread:
        rows = wait_for_results(window, qtbot)  # auto-classified
        _open_inside(window)
        _click_query_row(window, 1)
        q1 = window.project.queries[1]
        assert window.inside.selected() is q1  # the row click picked it
        e = _explained(window, qtbot, q1, 3)
        # What the view shows is the query panel's classification of that query, by the same model.
        assert e.algorithm == "protonet" and e.classes == window.project.class_names()
        assert window.inside.render.probabilities == pytest.approx(rows[1].bars.probs, abs=1e-5)
        assert window.inside.render.prediction.text() == rows[1].prediction.text()

        # Another support image, dropped on the "B" class column as a file: the explanation follows.
        png = tmp_path / "extra.png"
        png.write_bytes(glyph_png(1, 11))
        assert drop_paths(window.support.columns[1], [png])
        e = _explained(window, qtbot, q1, 4)
        rows = wait_for_results(window, qtbot)
        assert e.support_labels == [0, 1, 1, 2]
        assert window.inside.render.probabilities == pytest.approx(rows[1].bars.probs, abs=1e-5)

        # Another query: picked in the view's own picker, the query set's row follows.
        window.inside.picker.setCurrentIndex(2)
        assert window.query.list.currentRow() == 2
        e = _explained(window, qtbot, window.project.queries[2], 4)
        assert window.inside.render.probabilities == pytest.approx(rows[2].bars.probs, abs=1e-5)

        # Another model, chosen in the Models tab.
        from tests.app.apphelpers import use_model_from_models_tab

        use_model_from_models_tab(window, matching.id)
        qtbot.waitUntil(lambda: window.inside.render.explanation is not None and window.inside.render.explanation.algorithm == "matching"
                        and not window.inside.computing(), timeout=120_000)
        rows = wait_for_results(window, qtbot)
        assert window.inside.render.probabilities == pytest.approx(rows[2].bars.probs, abs=1e-5)
        assert "Matching" in window.inside.state.text() or matching.name in window.inside.state.text()
    assert on_gui_thread.calls == [], f"engine work on the GUI thread: {sorted(set(on_gui_thread.calls))}"


def test_an_explanation_computed_for_a_support_set_changed_meanwhile_is_never_shown(window_with_model, qtbot, monkeypatch):
    from app.engine import jobs

    window = window_with_model
    fill_support(window.project, n_classes=3, shots=1)
    window.project.add_queries([glyph_png(0, 7)])
    real, gate, started = jobs.explain, threading.Event(), []

    def gated(path, device, support, *args):
        started.append(len(support))
        assert gate.wait(60), "the test never opened the gate"
        return real(path, device, support, *args)

    monkeypatch.setattr(jobs, "explain", gated)
    shown = []
    window.inside.explained.connect(lambda: shown.append(window.inside.render.explanation))
    _open_inside(window)
    qtbot.waitUntil(lambda: started == [3], timeout=60_000)  # the job for three support images is running
    assert "Working out how" in window.inside.state.text()  # and the view says so
    window.project.add_samples(0, [glyph_png(0, 12)])  # the support set changes meanwhile
    qtbot.wait(300)  # past the debounce: the new request waits for the running job
    gate.set()
    qtbot.waitUntil(lambda: started == [3, 4] and not window.inside.computing() and bool(shown), timeout=120_000)
    assert [len(e.support_labels) for e in shown] == [4]  # the stale one never reached the screen


def test_the_view_says_what_is_missing(window, qtbot, tiny_checkpoint):
    _open_inside(window)
    render = window.inside.render
    qtbot.waitUntil(lambda: "no meta-trained Prototypical Networks model" in render.message.text(), timeout=20_000)
    entry = window.library.import_bytes(tiny_checkpoint, algorithm="protonet", title="Prototypical Networks",
                                        source="Built-in characters", n_way=3, k_shot=1, val_accuracy=0.5, steps=15)
    window.use_model(entry.id)
    qtbot.waitUntil(lambda: "The support set needs" in render.message.text() or "without samples" in render.message.text(), timeout=20_000)
    fill_support(window.project, n_classes=3, shots=1)
    qtbot.waitUntil(lambda: "no query yet" in render.message.text(), timeout=20_000)
    assert render.explanation is None and not window.inside.export_btn.isEnabled()


def test_export_png_writes_the_explanation_as_a_png(window_with_model, qtbot, tmp_path):
    window = window_with_model
    fill_support(window.project, n_classes=3, shots=1)
    window.project.add_queries([glyph_png(2, 7)])
    _open_inside(window)
    qtbot.waitUntil(lambda: window.inside.render.explanation is not None and window.inside.export_btn.isEnabled(), timeout=120_000)
    window.dialogs.paths = [str(tmp_path / "inside")]
    qtbot.mouseClick(window.inside.export_btn, Qt.MouseButton.LeftButton)
    out = tmp_path / "inside.png"
    assert window.dialogs.path_titles == ["Export the explanation as PNG"]
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 2_000


# -- the Compare view: one column per compared model -----------------------------------------------

def test_a_query_row_in_my_queries_shows_every_compared_model_side_by_side(window, qtbot):
    start_tiny_comparison(window, ["protonet", "matching"])
    v = window.compare
    with qtbot.waitSignal(v.comparisonReady, timeout=120_000):
        qtbot.mouseClick(v.setup.run_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: v.session is None, timeout=60_000)
    fill_support(window.project, n_classes=3, shots=1)
    window.project.add_queries([glyph_png(k, 9) for k in range(3)])
    v.right_tabs.setCurrentIndex(1)
    page = v.queries
    with qtbot.waitSignal(page.ready, timeout=60_000):
        qtbot.mouseClick(page.classify_btn, Qt.MouseButton.LeftButton)
    g = page.grid
    with qtbot.waitSignal(page.inside.explained, timeout=120_000):
        qtbot.mouseClick(g.viewport(), Qt.MouseButton.LeftButton, pos=g.visualItemRect(g.item(1, 1)).center())
    assert set(page.inside.columns) == {"protonet", "matching"}
    for name, col in page.inside.columns.items():
        assert col.explanation.algorithm == name
        assert col.probabilities == pytest.approx(page.results[name][1], abs=1e-5)  # the grid's numbers for that row


def test_the_picked_query_stays_picked_when_queries_are_added_or_others_removed(window, qtbot):
    window.project.add_queries([glyph_png(k, 7) for k in range(3)])
    _open_inside(window)
    _click_query_row(window, 2)
    picked = window.project.queries[2]
    assert window.inside.selected() is picked and window.inside.picker.currentIndex() == 2
    window.project.add_queries([glyph_png(0, 20)])  # the query set's rows are rebuilt
    assert window.inside.selected() is picked and window.query.list.currentRow() == 2
    window.editor.remove_samples([window.project.queries[0].id])
    assert window.inside.selected() is picked and window.query.list.currentRow() == 1
    window.editor.remove_samples([picked.id])  # the picked one goes: another is picked, not none
    assert window.inside.selected() is window.project.queries[0]
