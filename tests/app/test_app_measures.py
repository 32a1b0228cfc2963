"""What a new user reads in the Studio, through real events: one model shows one figure per measure
everywhere, and every accuracy names what it measured (ways × shots, which data, how many
episodes); after Stop the window says which model is in use and why, and forgets it when it is old
news; runs ended in the same minute get names of their own; at 1366×768 the Inside view's map fits
and its labels cover neither each other nor a marker."""
from __future__ import annotations

import re

import pytest
from PySide6.QtCore import QEvent, QPoint, Qt
from PySide6.QtGui import QHelpEvent
from PySide6.QtWidgets import QApplication, QToolBar, QToolTip

from tests.app.apphelpers import TINY_HPARAMS, TINY_SOURCE, glyph_png, pump_until, use_model_from_models_tab

# A percentage, and the measure after it up to the end of its clause:
# "99.0% · 5-way 1-shot · Omniglot test · 600 episodes".
FIGURE = re.compile(r"(\d+(?:\.\d+)?%)(?: · (\d+-way \d+-shot(?: · [^·;—]+?)*?))?(?=\.\s|\.$|;|,|\s—|$)")
LAKE = re.compile(r"(Lake's \d+ runs): (\d+\.\d+%) \(\d+ / \d+\)")  # the figure of a model made for Lake's runs


def _figures(text: str) -> list[tuple[str, str]]:
    """Every (figure, measure) a text shows; a figure with no measure after it has measure ""."""
    lake = [(m.group(2), m.group(1)) for m in LAKE.finditer(text)]
    return lake + [(m.group(1), m.group(2) or "") for m in FIGURE.finditer(LAKE.sub("", text))]


def _places(window, entry) -> dict[str, str]:
    """Every place of the Studio that shows the figure of the model `entry`, as text."""
    tree = window.models_tab.tree
    [row] = [tree.topLevelItem(i) for i in range(tree.topLevelItemCount()) if tree.topLevelItem(i).data(0, Qt.ItemDataRole.UserRole) == entry.id]
    column = 4  # the accuracy column
    return {"status bar": window.model_label.text(), "training panel": window.training.stats.text(),
            "Models cell": row.text(column), "Models tooltip": _hover_tooltip(tree, row, column)}


def _hover_tooltip(tree, row, column: int) -> str:
    """The tooltip the Models list shows when the pointer rests on a cell (the event Qt sends)."""
    tree.scrollToItem(row)
    rect = tree.visualItemRect(row)
    pos = QPoint(tree.header().sectionViewportPosition(column) + 4, rect.center().y())
    QToolTip.hideText()
    QApplication.sendEvent(tree.viewport(), QHelpEvent(QEvent.Type.ToolTip, pos, tree.viewport().mapToGlobal(pos)))
    return QToolTip.text()


def _assert_one_figure_per_measure(places: dict[str, str], text: str) -> None:
    """Each place names the measure of each figure it shows (the Models cell: in its tooltip), and
    one measure has one figure."""
    seen: dict[str, tuple[str, str]] = {}
    for where, shown in places.items():
        for figure, measure in _figures(shown):
            assert measure or where == "Models cell", f"the {where} shows {figure} without saying what it measured: {shown!r}"
            if not measure:
                assert figure in places["Models tooltip"], f"the Models cell's {figure} is not the figure its tooltip names"
                continue
            first = seen.setdefault(measure, (figure, where))
            assert first[0] == figure, f"{measure}: {first[0]} in the {first[1]}, {figure} in the {where}"
    for where in ("status bar", "training panel", "Models tooltip"):
        assert text in places[where], f"the {where} does not show the model's figure {text!r}: {places[where]!r}"


def _toolbar_button(window, action):
    return window.findChild(QToolBar, "mainToolbar").widgetForAction(action)


def _tiny_task(window, steps: int) -> None:
    """Tiny ProtoNet runs, set in the Task tab's model as its widgets would: 3-way, few classes."""
    from app.model import Source

    window.hparam_tab.form.set_values(TINY_HPARAMS)
    window.editor.update_task("Tiny runs", source=Source.from_dict(TINY_SOURCE), n_way=3, steps=steps, max_seconds=0)


def _click_train(window, qtbot) -> None:
    qtbot.mouseClick(window.train_btn, Qt.MouseButton.LeftButton)
    assert window.session is not None


def _click_stop_after(window, qtbot, steps: int = 5) -> None:

    pump_until(lambda: window.training.last is not None and window.training.last["step"] >= steps)
    qtbot.mouseClick(_toolbar_button(window, window.stop_act), Qt.MouseButton.LeftButton)
    pump_until(lambda: window.session is None)


@pytest.mark.parametrize("model_id, figures", [
    ("starter-protonet", 2),  # its test figure, and its record's validation points
    ("starter-handwriting", 1),  # Lake's 20 runs; trained without validation, so no points
])
def test_the_shipped_starter_shows_one_figure_per_measure_everywhere_each_named(make_window, qtbot, model_id, figures):
    """The status bar, the training panel and the Models tab's cell and tooltip: the starter's test
    figure and its measure alike in each; the validation points of its record name theirs."""

    import core
    from app.model.library import DEFAULT_STARTERS, STARTER_PREFIX, accuracy_figure, accuracy_text

    if model_id.removeprefix(STARTER_PREFIX) not in core.starter_models():
        pytest.skip(f"{model_id} is not shipped")
    window = make_window(starters=DEFAULT_STARTERS)
    if window.current_model().id != model_id:
        use_model_from_models_tab(window, model_id)
    entry = window.current_model()
    assert entry is not None and entry.starter and entry.id == model_id
    pump_until(lambda: window.training.stats.text().startswith(entry.name))  # its training record, read on the job thread
    text = accuracy_text(entry)
    places = _places(window, entry)
    print("\n" + "\n".join(f"{k}: {v}" for k, v in places.items()))
    _assert_one_figure_per_measure(places, text)
    tree = window.models_tab.tree
    assert tree.headerItem().text(4) == "Accuracy"  # not "Val. acc.": a starter's figure is a test
    assert places["Models cell"] == accuracy_figure(entry)
    assert len(_figures(places["training panel"])) == figures  # the model's figure, and its record's validation points, each named


def test_a_persons_own_model_names_its_validation_everywhere(make_window, qtbot):
    """A run trained here: its validation figure with ways × shots, data and episodes, the same in
    the status bar, the panel that showed the run, and the Models tab."""

    from app.model.library import accuracy_figure, accuracy_text

    window = make_window()
    _tiny_task(window, steps=12)
    _click_train(window, qtbot)
    pump_until(lambda: window.session is None)
    entry = window.current_model()
    assert entry is not None and not entry.starter and entry.val_accuracy is not None
    assert entry.measure == "3-way 1-shot · built-in characters · 40 episodes"
    places = _places(window, entry)
    print("\n" + "\n".join(f"{k}: {v}" for k, v in places.items()))
    text = accuracy_text(entry)
    assert text.startswith(f"val. {entry.val_accuracy:.1%} · 3-way 1-shot")
    _assert_one_figure_per_measure(places, text)
    assert places["Models cell"] == accuracy_figure(entry) == f"val. {entry.val_accuracy:.1%}"


def test_after_stop_the_window_says_which_model_is_in_use_and_why_until_that_is_old_news(make_window, qtbot):
    """Stop a run that scores lower than the starter in use: the panel goes back to the starter's
    record and says why; the status bar names the model in use without reading as if the stopped
    run were. The next run, and the Compare view, drop the explanation."""

    from app.model.library import DEFAULT_STARTERS, accuracy_text

    window = make_window(starters=DEFAULT_STARTERS)
    starter = window.current_model()
    pump_until(lambda: window.training.stats.text().startswith(starter.name))
    _tiny_task(window, steps=100_000)
    _click_train(window, qtbot)
    _click_stop_after(window, qtbot)
    [stopped] = [e for e in window.library.entries() if not e.starter]
    assert stopped.stopped and stopped.val_accuracy is not None and window.current_model().id == starter.id

    label = window.model_label.text()
    print(f"\nstatus bar: {label}")
    assert label.startswith(f"Model: {starter.name}, {accuracy_text(starter)} — still in use")
    # The starter's figure is a test on Omniglot, the run's a quick validation on built-in
    # characters: not one measure, so the window does not say the run "scored lower".
    assert "kept:" not in label and "the stopped run's figure measures something else and is only kept in Models" in label
    # The panel shows the model in use (not the stopped run's curves), and a line says why.
    pump_until(lambda: window.training.stats.text().startswith(starter.name))
    note = window.training.note
    print(f"panel: {note.text()}")
    assert note.isVisible() and "Not in use: the run you stopped after" in note.text() and accuracy_text(stopped) in note.text()
    assert "cannot be ranked" in note.text() and accuracy_text(starter) in note.text()
    assert window.training.progress_bar.value() == starter.steps

    _click_train(window, qtbot)  # the next run: the explanation spoke of the last one
    assert "still in use" not in window.model_label.text() and not window.training.note.isVisible()
    _click_stop_after(window, qtbot)
    assert "still in use" in window.model_label.text()  # this stopped run cannot displace it either
    qtbot.mouseClick(_toolbar_button(window, window.compare_view_act), Qt.MouseButton.LeftButton)
    assert window.stack.currentIndex() == 1
    assert window.model_label.text() == f"Model: {starter.name}, {accuracy_text(starter)}"


def test_runs_ended_in_the_same_minute_get_names_of_their_own(window, qtbot, monkeypatch):
    """Two runs with the same clock reading (the names carry the minute): a counter tells them apart."""
    import datetime as real
    from types import SimpleNamespace


    from app.model import library

    class Frozen(real.datetime):
        @classmethod
        def now(cls, tz=None):
            return real.datetime(2026, 12, 7, 15, 8, 30)

    monkeypatch.setattr(library, "_dt", SimpleNamespace(datetime=Frozen))
    _tiny_task(window, steps=3)
    for _ in range(2):
        _click_train(window, qtbot)
        pump_until(lambda: window.session is None)
    names = [e.name for e in window.library.entries()]
    print(f"\nnames: {names}")
    assert len(names) == 2 and len(set(names)) == 2
    assert sorted(names) == ["Prototypical Networks 2026-12-07 15:08", "Prototypical Networks 2026-12-07 15:08 (2)"]


# -- the Inside view at 1366×768 ------------------------------------------------------------------
INSIDE_VIEW = (476, 292)  # the Inside tab's explanation area in a 1366×768 window (its scroll viewport)


def _explained(qtbot, algorithm: str):
    """An explanation view alone, the Inside tab's size at 1366×768, showing how the shipped starter
    of `algorithm` classifies a drawn X among five drawn classes (two alike pairs: crowded maps)."""
    import core


    from app.views.studio.explain_render import ExplanationView

    models = core.starter_models()
    if algorithm not in models:
        pytest.skip(f"no {algorithm} starter model is shipped")
    learner, _ = core.load_checkpoint(models[algorithm], "cpu")
    support = [glyph_png(c, s) for c in range(5) for s in range(2)]
    [explanation] = core.explain_images(learner, support, [c for c in range(5) for _ in range(2)], [glyph_png(1, 7)], list("ABCDE"))
    view = ExplanationView()
    qtbot.addWidget(view)
    view.resize(*INSIDE_VIEW)
    view.show()
    qtbot.waitExposed(view)
    view.resize(view.width() + (INSIDE_VIEW[0] - view.scroll.viewport().width()), view.height() + (INSIDE_VIEW[1] - view.scroll.viewport().height()))
    view.show_explanation(explanation, support)
    for _ in range(3):  # the new cards' layout, then the scroll range it sets
        QApplication.sendPostedEvents()
        QApplication.processEvents()
    [card] = [c for c in view.cards if c.kind == "points"]
    return view, card


def test_the_embedding_map_fits_the_inside_view_of_a_1366_by_768_window(qtbot):
    """Scrolled to, the map shows whole — its title, legend and plot — without scrolling on."""
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QWheelEvent

    view, card = _explained(qtbot, "protonet")
    viewport = view.scroll.viewport()
    bar = view.scroll.verticalScrollBar()
    for _ in range(100):  # wheel down until the map's card is at the top, or the column's end
        if card.mapTo(viewport, QPoint(0, 0)).y() <= 0 or bar.value() == bar.maximum():
            break
        at = QPointF(viewport.width() / 2, viewport.height() / 2)  # the wheel, over the view
        QApplication.sendEvent(viewport, QWheelEvent(at, viewport.mapToGlobal(at), QPoint(0, 0), QPoint(0, -120), Qt.MouseButton.NoButton,
                                                     Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False))
    assert bar.value() > 0, "the wheel scrolled the view"
    plot = card.body.plot
    top, bottom = card.mapTo(viewport, QPoint(0, 0)).y(), plot.mapTo(viewport, QPoint(0, plot.height())).y()
    print(f"\nviewport {viewport.height()} px; the map from its title to its plot's bottom: {bottom - top} px (plot {plot.height()} px)")
    assert bottom - top <= viewport.height()
    assert plot.height() >= 150  # still a map


def _label_and_marker_rects(plot):
    """(visible labels as (text, scene rect), markers as scene rects) of a map."""
    import pyqtgraph as pg
    from PySide6.QtCore import QRectF

    plot.grab()  # painted as on screen: a label's place in the scene follows the view's scale when drawn
    vb = plot.getViewBox()
    labels = [(t.textItem.toPlainText(), t.sceneBoundingRect()) for t in vb.addedItems if isinstance(t, pg.TextItem) and t.isVisible()]
    markers = []
    for scatter in (i for i in vb.addedItems if isinstance(i, pg.ScatterPlotItem)):
        for spot in scatter.points():
            c, r = vb.mapViewToScene(spot.pos()), spot.size() / 2
            markers.append(QRectF(c.x() - r, c.y() - r, 2 * r, 2 * r))
    return labels, markers


@pytest.mark.parametrize("algorithm", ["protonet", "metanet"])
def test_map_labels_cover_no_other_label_and_no_marker(qtbot, algorithm):
    """ProtoNet's prototype names (A and D, B and E drawn alike: their prototypes coincide) and the
    lines' numbers; Meta Networks' numbers next to the query's marker."""
    view, card = _explained(qtbot, algorithm)
    labels, markers = _label_and_marker_rects(card.body.plot)
    print("\n" + ", ".join(f"{text!r} at ({r.x():.0f}, {r.y():.0f})" for text, r in labels))
    overlap = lambda a, b: a.intersected(b).width() > 1 and a.intersected(b).height() > 1  # noqa: E731
    for k, (text, rect) in enumerate(labels):
        assert not any(overlap(rect, other) for _, other in labels[k + 1:]), f"{text!r} overlaps another label"
        assert not any(overlap(rect, m) for m in markers), f"{text!r} covers a marker"
    part = view.explanation.parts[view.cards.index(card)]
    names = {label for label, kind in zip(part.labels, part.kind_of) if label and kind != "support"}
    assert names <= {text for text, _ in labels}, "every prototype's and the query's name shows"
