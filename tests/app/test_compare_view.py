"""The Compare view, driven like a person: tick algorithms, Run, read the table, chart and matrix;
Stop keeps finished results; the comparison exports, re-opens and travels in the project file."""
from __future__ import annotations

import time

import pytest
from PySide6.QtCore import QPoint, Qt

from tests.app.apphelpers import TINY_COMPARE_SOURCE, few_validation_episodes, fill_support, glyph_png


@pytest.fixture
def view(window, qtbot):
    window.compare_view_act.trigger()
    assert window.stack.currentIndex() == 1
    qtbot.waitUntil(lambda: not window.train_btn.isVisible(), timeout=60_000)  # Studio-only tools leave the toolbar
    v = window.compare
    few_validation_episodes(v)
    v.setup.set_source(TINY_COMPARE_SOURCE)
    for key, value in {"n_way": 3, "k_shot": 1, "q_query": 2, "steps_each": 6, "seconds_each": 0, "eval_episodes": 10}.items():
        v.setup.spins[key].setValue(value)
    return v


def _tick(qtbot, view, names):
    for name in names:
        box = view.setup.checks[name]
        qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(7, box.height() // 2))  # on the tick box
        qtbot.mouseClick(view.setup.edit_buttons[name], Qt.MouseButton.LeftButton)
        assert view.setup.editing == name and "hidden" in view.setup.form.editors  # this algorithm's own form
        view.setup.form.editors["hidden"].setValue(8)


def _drawn(item) -> int:
    x = item.getData()[0]
    return 0 if x is None else len(x)


def test_tick_two_algorithms_run_and_see_table_chart_matrix_curves_and_query_grid(window, view, qtbot, tmp_path):
    _tick(qtbot, view, ["protonet", "matching"])
    assert set(view.setup.value.algorithms) == {"protonet", "matching"}
    assert view.setup.value.hparams == {"protonet": {"hidden": 8}, "matching": {"hidden": 8}}
    with qtbot.waitSignal(view.comparisonReady, timeout=60_000):
        qtbot.mouseClick(view.setup.run_btn, Qt.MouseButton.LeftButton)
        assert not view.setup.run_btn.isEnabled() and view.setup.stop_btn.isEnabled()
    qtbot.waitUntil(lambda: view.session is None, timeout=60_000)
    assert view.setup.run_btn.isEnabled() and not view.setup.stop_btn.isEnabled()
    # The table: one row per algorithm with accuracy ± CI, time, steps, episodes/s, parameters, memory, device.
    t = view.results.table
    assert t.rowCount() == 2
    rows = {t.item(r, 0).data(Qt.ItemDataRole.UserRole): [t.item(r, c).text() for c in range(t.columnCount())] for r in range(2)}
    for name in ("protonet", "matching"):
        acc, _, steps, rate, params, mem, device = rows[name][1:]
        assert "±" in acc and steps == "6" and float(rate) > 0 and params != "–" and device == "cpu"
    t.sortItems(1, Qt.SortOrder.DescendingOrder)  # sortable by the number, not the text
    accs = [view.comparison.results[t.item(r, 0).data(Qt.ItemDataRole.UserRole)].mean for r in range(2)]
    assert accs == sorted(accs, reverse=True)
    # The bar chart holds both means, with CI whiskers; the matrix is 2 × 2 and its win rates add to 1.
    assert list(view.results.bar_item.opts["width"]) == pytest.approx(sorted((100 * r.mean for r in view.comparison.results.values()), reverse=True))
    assert view.results.bar_item.isVisible() and len(view.results.err_item.opts["left"]) == 2
    m = view.results.matrix
    assert m.rowCount() == m.columnCount() == 2
    w01, w10 = (float(m.item(i, j).text().split("%")[0]) for i, j in ((0, 1), (1, 0)))
    assert w01 + w10 == pytest.approx(100.0, abs=0.11) and "Wilcoxon" in m.item(0, 1).toolTip()
    # Overlaid curves, one colour each; a chip hides an algorithm's curves; seconds on x.
    for name in ("protonet", "matching"):
        assert _drawn(view.curve_panel.curves[name].items[0]) == 6 and _drawn(view.curve_panel.curves[name].items[2]) >= 1
    assert view.curve_panel.curves["protonet"].color != view.curve_panel.curves["matching"].color
    qtbot.mouseClick(view.curve_panel.chips["protonet"], Qt.MouseButton.LeftButton)
    assert not view.curve_panel.curves["protonet"].items[0].isVisible() and view.curve_panel.curves["matching"].items[0].isVisible()
    view.curve_panel.x_box.setCurrentIndex(1)
    assert list(view.curve_panel.curves["matching"].items[0].getData()[0]) == view.curve_panel.curves["matching"].sec
    # The project holds the comparison and its models.
    assert [r["status"] for r in window.project.comparison.data["results"]] == ["done", "done"]
    assert set(window.project.comparison.models) == {"protonet", "matching"}

    # My queries: every trained model classifies the Studio view's queries.
    fill_support(window.project, n_classes=3, shots=1)
    window.project.add_queries([glyph_png(k, 9) for k in range(3)])
    view.right_tabs.setCurrentIndex(1)
    with qtbot.waitSignal(view.queries.ready, timeout=60_000):
        qtbot.mouseClick(view.queries.classify_btn, Qt.MouseButton.LeftButton)
    g = view.queries.grid
    assert g.rowCount() == 3 and g.columnCount() == 4
    for r in range(3):
        for c in (1, 2):
            assert "%" in g.item(r, c).text()
        assert g.item(r, 3).text().startswith(("✓", "⚠"))
    assert "disagreement" in view.queries.note.text()

    # Exports: CSV (table + matrix), PNG, JSON; the buttons ask for a file name (the suffix is added).
    window.dialogs.paths = [str(tmp_path / "c"), str(tmp_path / "c")]
    qtbot.mouseClick(view.files.csv_btn, Qt.MouseButton.LeftButton)
    table_csv, matrix_csv = tmp_path / "c.csv", tmp_path / "c-pairwise.csv"
    assert table_csv.read_text().startswith("algorithm,") and "win rate" in matrix_csv.read_text()
    png = view.export_png(str(tmp_path / "c.png"))
    assert png.stat().st_size > 10_000
    qtbot.mouseClick(view.files.json_btn, Qt.MouseButton.LeftButton)
    js = tmp_path / "c.json"
    assert js.is_file() and window.dialogs.path_titles == ["Export the results table as CSV", "Save the comparison as JSON"]
    before = sorted(t.item(r, 1).text() for r in range(2))

    # Saved in the project file: reopening shows the comparison, and its models still classify.
    path = tmp_path / "p.fsproj"
    assert window.save_to(path)
    window.project.set_comparison(None)
    view.load_from_project()
    assert view.results.table.rowCount() == 0 and view.comparison is None
    with qtbot.waitSignal(view.comparisonReady, timeout=60_000):
        assert window.open_path(path)
    assert sorted(view.results.table.item(r, 1).text() for r in range(2)) == before and view.results.matrix.rowCount() == 2
    assert set(view.trained_names()) == {"protonet", "matching"}
    assert view.comparison.learners == {}  # loaded lazily, on the job thread, when first needed
    with qtbot.waitSignal(view.queries.ready, timeout=60_000):
        qtbot.mouseClick(view.queries.classify_btn, Qt.MouseButton.LeftButton)
    assert view.queries.grid.rowCount() == 3 and "%" in view.queries.grid.item(0, 1).text()

    # The JSON re-opens and shows the same comparison (without models: a JSON keeps none).
    with qtbot.waitSignal(view.comparisonReady, timeout=60_000):
        assert view.open_json(str(js))
    assert sorted(view.results.table.item(r, 1).text() for r in range(2)) == before and view.results.matrix.rowCount() == 2
    assert view.trained_names() == [] and _drawn(view.curve_panel.curves["matching"].items[0]) == 6
    assert view.curve_panel.legend.isVisible() and len(view.curve_panel.legend.items) == 2
    # With many algorithms the chips are the legend: the in-plot one would cover the curves.
    import json

    data = json.loads(js.read_text())
    extra = [dict(data["results"][0], algorithm=n, title=n) for n in ("relation", "siamese", "maml")]
    data["results"] += extra
    data["pairwise"] = None
    many = tmp_path / "many.json"
    many.write_text(json.dumps(data))
    with qtbot.waitSignal(view.comparisonReady, timeout=60_000):
        assert view.open_json(str(many))
    assert len(view.curve_panel.chips) == 5 and not view.curve_panel.legend.isVisible()


def test_stop_keeps_finished_results_and_closing_mid_run_is_safe(window, view, qtbot):
    _tick(qtbot, view, ["protonet", "matching"])
    view.setup.spins["steps_each"].setValue(1_000_000)
    view.setup.spins["seconds_each"].setValue(1)
    first, second = view.setup.value.algorithms
    assert view.run()
    qtbot.waitUntil(lambda: view.shown.results[second].status == "training" and view.last is not None, timeout=60_000)
    with qtbot.waitSignal(view.comparisonReady, timeout=60_000):
        qtbot.mouseClick(view.setup.stop_btn, Qt.MouseButton.LeftButton)
    res = view.comparison.results
    assert res[first].status == "done" and len(res[first].per_episode) == 10
    assert res[second].status == "stopped" and not res[second].per_episode
    assert view.results.table.rowCount() == 2 and len(view.results.bar_item.opts["width"]) == 1
    assert "(stopped)" in " ".join(view.results.table.item(r, 0).text() for r in range(2))
    qtbot.waitUntil(lambda: view.session is None, timeout=60_000)

    # Closing the window mid-run stops the worker promptly; nothing half-trained is kept.
    view.setup.spins["seconds_each"].setValue(0)
    assert view.run()
    qtbot.waitUntil(lambda: view.last is not None and view.last.get("step", 0) >= 3, timeout=60_000)
    thread = view.session.thread
    window.project.dirty = False
    t0 = time.perf_counter()
    closed_at_once = window.close()  # False only when the worker needs more than 1.8 s: hidden, then closed
    qtbot.waitUntil(lambda: not window.isVisible() and view.session is None and not thread.isRunning(), timeout=60_000)
    print(f"\nclosed mid-comparison {'at once' if closed_at_once else '(hidden first)'} in {(time.perf_counter() - t0) * 1000:.0f} ms")


def test_each_algorithms_form_offers_its_measured_settings(view, qtbot):
    import core

    qtbot.mouseClick(view.setup.edit_buttons["matching"], Qt.MouseButton.LeftButton)
    assert not view.setup.preset_btn.isHidden()
    view.setup.preset_btn.menu().actions()[0].trigger()
    assert view.setup.value.hparams["matching"] == core.ALGORITHMS["matching"].presets["measured"]
    qtbot.mouseClick(view.setup.edit_buttons["maml"], Qt.MouseButton.LeftButton)  # no presets: no button
    assert view.setup.preset_btn.isHidden() and view.setup.value.hparams.get("maml", {}) == {}
    qtbot.mouseClick(view.setup.edit_buttons["protonet"], Qt.MouseButton.LeftButton)  # issue 17's measured setting
    assert not view.setup.preset_btn.isHidden() and "distance euclidean" in view.setup.preset_btn.menu().actions()[0].text()
    assert view.setup.value.hparams["matching"]["cosine_scale"] == 10.0  # matching keeps its own settings


def test_choosing_a_folder_source_asks_for_the_folder_and_a_cancel_keeps_the_source(window, view, qtbot, tmp_path):
    from PySide6.QtTest import QTest

    box = view.setup.source_box
    box.setFocus()
    (tmp_path / "omniglot-py" / "images_background").mkdir(parents=True)  # Omniglot's layout (another folder is refused)
    window.dialogs.paths = [str(tmp_path)]
    QTest.keyClick(box, Qt.Key.Key_Down)  # Omniglot folder…: the folder dialog answers
    assert view.setup.value.source == {"kind": "omniglot", "folder": str(tmp_path)} and view.setup.source_label.text() == str(tmp_path)
    QTest.keyClick(box, Qt.Key.Key_Down)  # Image folder…: the dialog is cancelled
    assert view.setup.value.source["kind"] == "omniglot" and box.currentData() == "omniglot"
    assert window.dialogs.path_titles == ["Choose the Omniglot folder", "Choose an image folder (one sub-folder per class)"]
