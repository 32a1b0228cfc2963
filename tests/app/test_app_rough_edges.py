"""Rough edges a new user hits, each through real events: the selected query row's bars, long
class names and dropped folders, the live canvas that must not move, the Draw dialog's count, the
algorithm box, Rename on a starter model, closing during a sweep, the Episodes tab's progress."""
from __future__ import annotations

import re

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QPalette

from tests.app.apphelpers import drop_paths, fill_support, gate_second_sweep_point, glyph_png, mouse_stroke, pump_until


def _distance(a: QColor, b: QColor) -> int:
    return abs(a.red() - b.red()) + abs(a.green() - b.green()) + abs(a.blue() - b.blue())


def _settle_layouts() -> None:
    """Run the layout requests that a changed size hint posted (as the event loop would)."""
    from PySide6.QtWidgets import QApplication

    QApplication.sendPostedEvents()
    QApplication.processEvents()





def _query_panel(qtbot, n_classes: int = 5, queries: int = 2, palette: QPalette | None = None):
    from app.model import Project
    from app.views.studio.query_panel import QueryPanel

    project = Project()
    fill_support(project, n_classes, 1)
    project.add_queries([glyph_png(i, 9) for i in range(queries)])
    panel = QueryPanel(project)
    if palette is not None:
        panel.setPalette(palette)
    qtbot.addWidget(panel)
    return project, panel


@pytest.mark.parametrize("theme", ["default", "light", "dark"])
def test_a_selected_query_rows_winning_bar_shows_long_and_its_empty_bars_stay_empty(qtbot, theme):
    from app.views.widgets.style import dark_palette, light_palette

    palette = {"default": None, "light": light_palette(), "dark": dark_palette()}[theme]
    project, panel = _query_panel(qtbot, palette=palette)
    panel.resize(900, 300)
    panel.show()
    qtbot.waitExposed(panel)
    first, second = project.queries
    project.predictions.set(project.class_names(), {first.id: [1.0, 0.0, 0.0, 0.0, 0.0], second.id: [0.1, 0.6, 0.3, 0.0, 0.0]})
    row = panel.rows()[0]
    qtbot.mouseClick(row, Qt.MouseButton.LeftButton, pos=QPoint(row.width() // 2, 4))
    assert panel.list.item(0).isSelected() and not panel.list.item(1).isSelected()

    view = panel.list.viewport()
    rect = panel.list.visualItemRect(panel.list.item(0))
    picture = view.grab(rect).toImage()
    bars = row.bars
    origin = bars.mapTo(view, QPoint(0, 0)) - rect.topLeft()
    h = bars.row_height()
    x = origin.x() + int(bars.width() * 0.6)  # inside every bar's groove, right of the names
    pixel = lambda bar: picture.pixelColor(x, origin.y() + bar * h + h // 2)  # noqa: E731
    background = picture.pixelColor(rect.width() - 3, 2)  # the selection highlight, beside the row's content
    assert _distance(background, panel.list.palette().color(QPalette.ColorRole.Highlight)) < 30
    winner, empty = pixel(0), pixel(1)  # "A 100%", then "B 0%"
    assert _distance(winner, background) > 150, "the winning bar must show on the highlight"
    assert _distance(empty, background) < _distance(empty, winner) / 2, "an empty bar must read as empty, not full"


def test_queries_kept_from_the_canvas_join_the_list_while_a_row_is_selected(qtbot):
    project, panel = _query_panel(qtbot, queries=1)
    panel.resize(900, 330)
    panel.show()
    qtbot.waitExposed(panel)
    row = panel.rows()[0]
    qtbot.mouseClick(row, Qt.MouseButton.LeftButton, pos=QPoint(row.width() // 2, 4))
    canvas = panel.draw.canvas
    for kept in (2, 3):
        r = canvas.drawing_rect()
        mouse_stroke(canvas, [(r.x() + r.width() * f, r.y() + r.height() * (1 - f)) for f in (0.2, 0.5, 0.8)])
        qtbot.mouseClick(panel.keep_btn, Qt.MouseButton.LeftButton)
        assert len(panel.rows()) == kept
    assert [r.bars.on_highlight for r in panel.rows()] == [panel.list.item(i).isSelected() for i in range(kept)]


def test_the_live_canvas_keeps_its_place_when_the_first_prediction_arrives(qtbot):
    project, panel = _query_panel(qtbot, queries=0)
    panel.resize(800, 330)  # about the query panel's height in a 1366×768 window
    panel.show()
    qtbot.waitExposed(panel)
    canvas = panel.draw.canvas

    def geometry():
        return canvas.mapTo(panel, QPoint(0, 0)), canvas.size(), canvas.drawing_rect()

    before = geometry()
    r = canvas.drawing_rect()
    mouse_stroke(canvas, [(r.x() + r.width() * f, r.y() + r.height() * f) for f in (0.2, 0.4, 0.6, 0.8)])
    assert not canvas.is_blank()
    panel.set_live(project.class_names(), [0.7, 0.2, 0.05, 0.03, 0.02])  # the classifier's first live result
    _settle_layouts()
    assert geometry() == before
    panel.set_live(None, None)  # the drawing kept or cleared: no result again
    _settle_layouts()
    assert geometry() == before


def _host_window(qtbot, n_classes: int = 5):
    """What the Draw dialog needs of the main window: a project and its undo editor."""
    from PySide6.QtWidgets import QMainWindow

    from app.controllers.undo import Editor
    from app.model import Project

    host = QMainWindow()
    host.project = Project()
    while len(host.project.classes) < n_classes:
        host.project.add_class()
    host.editor = Editor(host.project, host)
    qtbot.addWidget(host)
    return host


def _draw_and_add(qtbot, dlg, seed: int) -> None:
    canvas = dlg.panel.canvas
    r = canvas.drawing_rect()
    mouse_stroke(canvas, [(r.x() + r.width() * (0.2 + 0.1 * seed % 3), r.y() + r.height() * f) for f in (0.2, 0.5, 0.8)])
    qtbot.mouseClick(dlg.add_btn, Qt.MouseButton.LeftButton)


def test_the_draw_dialog_says_how_many_samples_went_to_which_class(qtbot):
    from app.views.studio.draw_dialog import DrawDialog

    host = _host_window(qtbot)
    dlg = DrawDialog(host, host.project, host.editor, 0)
    qtbot.addWidget(dlg)
    dlg.show()
    qtbot.waitExposed(dlg)
    names = host.project.class_names()
    _draw_and_add(qtbot, dlg, 0)
    assert dlg.added.text() == f"1 sample added to “{names[0]}”."
    for i in range(1, 5):  # the next class picked with the keyboard, as a person steps through them
        dlg.class_box.setFocus()
        qtbot.keyClick(dlg.class_box, Qt.Key.Key_Down)
        assert dlg.class_box.currentIndex() == i
        _draw_and_add(qtbot, dlg, i)
    assert [len(c.samples) for c in host.project.classes] == [1] * 5
    quoted = ", ".join(f"“{n}”" for n in names)
    assert dlg.added.text() == f"5 samples added: one each to {quoted}."
    _draw_and_add(qtbot, dlg, 5)  # a second one for the last class
    assert dlg.added.text() == "6 samples added: " + ", ".join(f"1 to “{n}”" for n in names[:4]) + f", 2 to “{names[4]}”."


LONG_NAMES = ["Futurama_character03", "Gujarati_character03", "Latin_character03", "Bengali_character03",
              "Syriac_(Estrangelo)_character03"]  # in the order a file manager handed them over: not by name


def _class_folders(tmp_path, names):
    folders = []
    for i, name in enumerate(names):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "0001.png").write_bytes(glyph_png(i))
        folders.append(folder)
    return folders


def _support_panel(qtbot, width: int):
    from app.model import Project
    from app.views.studio.support_panel import SupportPanel

    project = Project()
    panel = SupportPanel(project)
    qtbot.addWidget(panel)
    panel.resize(width, 300)
    panel.show()
    qtbot.waitExposed(panel)
    return project, panel


def test_dropped_class_folders_become_classes_in_name_order(qtbot, tmp_path):
    project, panel = _support_panel(qtbot, 815)
    assert drop_paths(panel, _class_folders(tmp_path, LONG_NAMES))
    assert project.class_names() == sorted(LONG_NAMES)
    assert [c.name.text() for c in panel.columns] == sorted(LONG_NAMES)


def test_long_class_names_keep_their_start_and_columns_widen_into_free_room(qtbot, tmp_path):
    project, panel = _support_panel(qtbot, 815)  # its width in a 1366×768 window
    assert drop_paths(panel, _class_folders(tmp_path, LONG_NAMES))
    _settle_layouts()
    columns = panel.columns
    for column in columns:
        name, shown = column.name.text(), column.name.shown_text()
        assert name in column.name.toolTip()
        if shown != name:  # too long for the column: cut in the middle, its start and its end kept
            assert "…" in shown and name.startswith(shown.split("…")[0]) and name.endswith(shown.split("…")[1])
            assert len(shown.split("…")[0]) >= 4
    assert any(c.name.shown_text() != c.name.text() for c in columns), "five columns in 815 px: some names must be cut"
    narrow = min(c.width() for c in columns)
    # With room to spare the columns widen, and every name shows in full.
    panel.resize(1900, 300)
    _settle_layouts()
    assert all(c.name.shown_text() == c.name.text() for c in columns)
    assert max(c.width() for c in columns) > narrow
    # Renamed to something short, a column goes back to its narrow width.
    column = columns[-1]
    column.name.setFocus()
    column.name.selectAll()
    qtbot.keyClicks(column.name, "S")
    qtbot.keyClick(column.name, Qt.Key.Key_Return)
    _settle_layouts()
    assert project.class_names()[-1] == "S" and column.width() == narrow and "“S”" in column.name.toolTip()


def _dropped_folder_of_folders(qtbot, tmp_path, names, width: int = 815):
    """A support panel `width` px wide (815: its width in a 1366×768 window) after one folder
    holding a sub-folder per name (each with an image) is dropped on it."""
    project, panel = _support_panel(qtbot, width)
    alphabet = tmp_path / "alphabet"
    alphabet.mkdir(parents=True)
    _class_folders(alphabet, names)
    assert drop_paths(panel, [alphabet])
    _settle_layouts()
    return project, panel


def test_a_dropped_folders_sub_folders_come_in_the_order_a_person_reads_them(qtbot, tmp_path):
    """Case aside and numbers by value: "character2" before "character10"."""
    project, panel = _dropped_folder_of_folders(qtbot, tmp_path, ["character10", "character2", "Character1", "character03"])
    # They fill the new project's empty classes A-D in turn; E stays empty.
    assert project.class_names() == ["Character1", "character2", "character03", "character10", "E"]
    assert [c.name.text() for c in panel.columns] == project.class_names()


def test_a_cut_class_name_keeps_the_part_that_tells_it_from_the_others(qtbot, tmp_path):
    # Omniglot's folders: the alphabet tells them apart, "_character03" they all share.
    project, panel = _dropped_folder_of_folders(qtbot, tmp_path, LONG_NAMES + ["Armenian_character03", "Tifinagh_character03"])
    assert project.class_names() == sorted(LONG_NAMES + ["Armenian_character03", "Tifinagh_character03"])
    cut = [c for c in panel.columns if c.name.shown_text() != c.name.text()]
    assert cut, "seven columns in 815 px: some names must be cut"
    for column in cut:
        name, shown = column.name.text(), column.name.shown_text()
        alphabet = name.removesuffix("_character03")
        # Cut after the alphabet, or in it when even the alphabet is too long: never before it.
        assert shown.endswith("…") and name.startswith(shown[:-1]) and shown.startswith(alphabet[:10]), shown
        assert name in column.name.toolTip()
    # Characters of one alphabet: the number at the end tells them apart, and stays in view.
    names = [f"Syriac_(Estrangelo)_character{k:02}" for k in (1, 2, 11, 12)]
    project, panel = _dropped_folder_of_folders(qtbot, tmp_path / "syriac", names, width=620)
    shown = [c.name.shown_text() for c in panel.columns[:4]]  # and the empty "E" left over
    assert all("…" in s for s in shown), shown
    assert [s[-2:] for s in shown] == ["01", "02", "11", "12"] and all(s.startswith("Syr") for s in shown), shown


def test_the_algorithm_box_shows_the_longest_algorithm_name_in_full_in_a_laptop_window(qtbot):
    from PySide6.QtWidgets import QMainWindow, QStyle, QStyleOptionComboBox, QToolBar

    from app.views.studio.algorithm_box import AlgorithmBox

    window = QMainWindow()
    qtbot.addWidget(window)
    toolbar = QToolBar()
    window.addToolBar(toolbar)
    box = AlgorithmBox()
    toolbar.addWidget(box)
    window.resize(1366, 740)
    window.show()
    qtbot.waitExposed(window)
    _settle_layouts()  # on screen while the engine loads, as in the Studio
    box.list_algorithms()  # the engine has loaded
    box.setFocus()
    for _ in range(box.count()):  # down the list with the keyboard, to the memory-augmented network
        if box.currentData() == "mann":
            break
        qtbot.keyClick(box, Qt.Key.Key_Down)
    assert box.currentText().strip() == "Memory-Augmented Neural Network"
    _settle_layouts()
    opt = QStyleOptionComboBox()
    box.initStyleOption(opt)
    room = box.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, opt, QStyle.SubControl.SC_ComboBoxEditField, box)
    assert box.fontMetrics().horizontalAdvance(box.currentText().strip()) <= room.width()


def test_rename_is_off_for_a_starter_model_and_says_why(qtbot):
    from PySide6.QtWidgets import QPushButton

    from app.model.library import ModelEntry
    from app.views.studio.models_tab import ModelsTab

    tab = ModelsTab()
    qtbot.addWidget(tab)
    tab.resize(700, 300)
    tab.show()
    qtbot.waitExposed(tab)
    starter = ModelEntry(id="starter-protonet", name="Prototypical Networks — starter model", algorithm="protonet",
                         val_accuracy=0.99, steps=1148, starter=True)
    mine = ModelEntry(id="protonet-1", name="Prototypical Networks 2026-12-07 15:08", algorithm="protonet", val_accuracy=0.8, steps=43)
    tab.show_entries([starter, mine], current_id=None)
    rename = next(b for b in tab.findChildren(QPushButton) if b.text() == "Rename")
    assert not rename.isEnabled()  # nothing picked yet
    tree = tab.tree

    def click_row(row: int) -> None:
        rect = tree.visualItemRect(tree.topLevelItem(row))
        qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(rect.center().x(), rect.center().y()))
        assert tree.currentItem() is tree.topLevelItem(row)

    click_row(0)
    assert not rename.isEnabled() and "starter" in rename.toolTip() and "keeps its name" in rename.toolTip()
    click_row(1)
    assert rename.isEnabled()
    qtbot.mouseClick(rename, Qt.MouseButton.LeftButton)
    assert tree.state() == tree.State.EditingState  # its name is open for typing


def test_closing_during_a_sweep_names_it_and_keeping_saves_its_finished_points(make_window, qtbot, monkeypatch):
    from PySide6.QtWidgets import QMessageBox


    from app.model.library import DEFAULT_STARTERS

    B = QMessageBox.StandardButton
    asked, answers = [], {"Stop and close?": [B.Cancel, B.Save], "Unsaved changes": [B.Discard]}

    def answer(title, text, *args, **kwargs):
        asked.append((title, text))
        return answers[title].pop(0)

    window = make_window(starters=DEFAULT_STARTERS, ask=answer)  # the starter model is in use: nothing to train
    fill_support(window.project, 3, 1)  # unsaved work, so closing also asks about saving it
    window.compare_view_act.trigger()
    view = window.compare
    view.setup.set_source({"kind": "builtin", "folder": "", "classes": 30, "test_classes": 12})
    page = view.sweep
    view.right_tabs.setCurrentWidget(page)
    episodes = 3
    reached, release = gate_second_sweep_point(monkeypatch, episodes)  # one point finished, one begun, whatever the load
    page.shots_edit.setText("1, 2, 3")
    page.ways_edit.setText("2, 3")  # 6 points
    page.episodes_box.setValue(episodes)
    page.queries_box.setValue(2)
    qtbot.mouseClick(page.studio_box, Qt.MouseButton.LeftButton, pos=QPoint(7, page.studio_box.height() // 2))
    assert page.studio_box.isChecked()
    qtbot.mouseClick(page.run_btn, Qt.MouseButton.LeftButton)
    # Held in the second point's first episode; the last report it sent is of the first point.
    pump_until(lambda: reached.is_set() and "point 1 of 6" in page.status.text())

    assert not window.close()  # Cancel: the sweep goes on
    title, text = asked[-1]
    assert title == "Stop and close?" and "A sweep is still running (point 1 of 6)." in text
    assert "keep the sweep's finished points" in text
    assert window.isVisible() and page.session is not None

    release.set()
    window.close()  # Save: stop it and keep what it finished, then the unsaved-changes question
    pump_until(lambda: window.closing and not window.isVisible() and page.session is None)
    assert [t for t, _ in asked] == ["Stop and close?", "Stop and close?", "Unsaved changes"]
    kept = window.project.sweep
    assert kept is not None and kept["status"] == "cancelled" and kept["points"][0]["status"] == "done"


def test_the_episodes_tab_says_what_it_is_doing_and_for_how_long_while_it_draws_an_episode(qtbot, monkeypatch):
    import threading

    from app.engine import episode_jobs, sources
    from app.model import EngineState, Project, Source
    from app.views.studio.episodes_view import EpisodesView

    project = Project()
    project.update_task(n_way=3, source=Source.from_dict({"kind": "builtin", "folder": "", "classes": 30}))
    engine = EngineState()
    engine.set_ready("cpu")  # core is imported by this test
    view = EpisodesView(project, model_in_use=lambda: None, engine=engine)
    qtbot.addWidget(view)
    view.resize(900, 500)
    view.show()
    qtbot.waitExposed(view)
    # Preparing the source is the long part the first time (15-20 s for the built-in characters):
    # here it lasts until released, however fast the machine.
    monkeypatch.setattr(episode_jobs, "_sources", {})
    release, real = threading.Event(), sources.compare_sources

    def slow_sources(*args, **kwargs):
        release.wait(120)
        return real(*args, **kwargs)

    monkeypatch.setattr(sources, "compare_sources", slow_sources)
    try:
        qtbot.mouseClick(view.next_btn, Qt.MouseButton.LeftButton)  # episode 1 of the training stream
        pump_until(lambda: "preparing the source" in view.info.text(), timeout_s=120)
        assert view.info.text().startswith("Drawing training stream, episode 1: preparing the source, Built-in characters")
        # It counts the seconds it has waited (on a loaded machine a late tick may skip one: 1 s, then 3 s).
        pump_until(lambda: re.search(r"… ([2-9]|\d{2,}) s$", view.info.text()) is not None, timeout_s=120)
    finally:
        release.set()
    pump_until(lambda: view.data is not None and view.data["index"] == 1, timeout_s=300)
    shown = view.info.text()
    assert shown.startswith("Training episode 1 ") and not view.clock.isActive()  # the episode's own line; the count stopped
