"""Edit ▸ Undo / Redo over every change to the project (classes, samples, queries, settings).

Each edit is made through real events (clicks, keys, drops), undone with Ctrl+Z and redone with
Ctrl+Shift+Z. The keys go where a real keyboard sends them: to the widget with the focus (that
is what decides between a text field's own undo, the drawing canvas's stroke undo and the
window's Edit ▸ Undo), or to the window when nothing has the focus.
"""
from __future__ import annotations


from PySide6.QtCore import Qt
from PySide6.QtGui import QContextMenuEvent
from PySide6.QtWidgets import QApplication, QMenu, QMessageBox

from tests.app.apphelpers import TINY_HPARAMS, TINY_SOURCE, drop_paths, fill_support, glyph_png, mouse_stroke

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier


def _press(qtbot, window, key, mods=Qt.KeyboardModifier.NoModifier) -> None:
    focus = QApplication.focusWidget()
    qtbot.keyClick(focus if focus is not None and focus.window() is window else window, key, mods)


def undo(qtbot, window) -> None:
    _press(qtbot, window, Qt.Key.Key_Z, CTRL)


def redo(qtbot, window) -> None:
    _press(qtbot, window, Qt.Key.Key_Z, CTRL | SHIFT)


def snapshot(project):
    """Everything an edit may change: names, sample ids and bytes in order, configuration."""
    return ([(c.name, [(s.id, s.png) for s in c.samples]) for c in project.classes],
            [(s.id, s.png) for s in project.queries],
            project.algorithm, dict(project.hparams), project.task, project.model_file)


def _shown(window):
    """What the support columns show: names and sample ids."""
    return [(col.name.text(), col.samples.sample_ids()) for col in window.support.columns]


def _files(tmp_path, kinds, seed=0):
    paths = []
    for i, k in enumerate(kinds):
        p = tmp_path / f"img{seed}_{i}.png"
        p.write_bytes(glyph_png(k, seed * 10 + i))
        paths.append(p)
    return paths


def _undo_redo(qtbot, window, before, after, check=None):
    """Ctrl+Z gives `before` back exactly, Ctrl+Shift+Z `after`; `check(state)` checks the widgets."""
    undo(qtbot, window)
    assert snapshot(window.project) == before
    if check:
        check("before")
    redo(qtbot, window)
    assert snapshot(window.project) == after
    if check:
        check("after")


def _click_item(qtbot, view, row: int, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    rect = view.visualItemRect(view.item(row))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, modifier, rect.center())


def test_add_class_by_button(window, qtbot):
    before = snapshot(window.project)
    qtbot.mouseClick(window.support.add_btn, Qt.MouseButton.LeftButton)
    after = snapshot(window.project)
    assert window.project.class_names() == ["A", "B", "C", "D", "E", "F"]
    assert window.editor.undo_action.text() == "Undo Add class “F”"
    _undo_redo(qtbot, window, before, after, lambda _: None)
    assert len(window.support.columns) == 6


def test_remove_class_by_its_x_button_and_the_edit_menu_names_it(window, qtbot):
    fill_support(window.project, n_classes=4, shots=2)
    window.project.rename_class(1, "cat")
    before, shown = snapshot(window.project), _shown(window)
    qtbot.mouseClick(window.support.columns[1].remove_btn, Qt.MouseButton.LeftButton)
    after = snapshot(window.project)
    assert window.project.class_names() == ["A", "C", "D"]
    edit_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Edit")
    texts = [a.text() for a in edit_menu.actions()]
    assert "Undo Remove class “cat”" in texts and "Redo" in texts
    undo(qtbot, window)
    assert snapshot(window.project) == before  # the same samples: ids and bytes, in order
    assert _shown(window) == shown
    assert "Redo Remove class “cat”" in [a.text() for a in edit_menu.actions()]
    redo(qtbot, window)
    assert snapshot(window.project) == after


def test_rename_in_the_inline_editor(window, qtbot):
    before = snapshot(window.project)
    field = window.support.columns[0].name
    qtbot.mouseClick(field, Qt.MouseButton.LeftButton)
    qtbot.keyClick(field, Qt.Key.Key_A, CTRL)
    qtbot.keyClicks(field, "cat")
    qtbot.keyClick(field, Qt.Key.Key_Return)
    after = snapshot(window.project)
    assert window.project.class_names()[0] == "cat"
    assert window.editor.undo_action.text() == "Undo Rename class “A” to “cat”"
    # The focus is still in the name field: Ctrl+Z there undoes the rename, and the field shows it.
    assert QApplication.focusWidget() is field

    def check(state):
        assert field.text() == ("A" if state == "before" else "cat")

    _undo_redo(qtbot, window, before, after, check)
    # Leaving the field afterwards does not rename it again.
    field.clearFocus()
    assert snapshot(window.project) == after


def test_add_samples_by_a_drop_on_a_column(window, qtbot, tmp_path):
    before = snapshot(window.project)
    assert drop_paths(window.support.columns[2], _files(tmp_path, [0, 1, 2]))
    after = snapshot(window.project)
    assert len(window.project.classes[2].samples) == 3
    assert window.editor.undo_action.text() == "Undo Add 3 images to “C”"

    def check(state):
        assert window.support.columns[2].count.text() == ("0 samples" if state == "before" else "3 samples")

    _undo_redo(qtbot, window, before, after, check)


def test_a_folder_drop_that_makes_classes_is_one_step(window, qtbot, tmp_path):
    fill_support(window.project, n_classes=2, shots=1)
    for name in ("alpha", "beta", "gamma"):
        (tmp_path / "set" / name).mkdir(parents=True)
        for i, p in enumerate(_files(tmp_path / "set" / name, [0, 1], seed=len(name))):
            p.rename(tmp_path / "set" / name / f"{i}.png")
    before = snapshot(window.project)
    assert drop_paths(window.support, [tmp_path / "set"])
    after = snapshot(window.project)
    assert window.project.class_names() == ["A", "B", "alpha", "beta", "gamma"]
    assert window.editor.undo_action.text() == "Undo Add 6 images to 3 classes"
    _undo_redo(qtbot, window, before, after)


def test_remove_a_sample_with_the_delete_key_and_by_the_context_menu(window, qtbot):
    fill_support(window.project, n_classes=3, shots=3)
    before = snapshot(window.project)
    view = window.support.columns[1].samples
    _click_item(qtbot, view, 1)  # the middle one: undo must put it back in its place
    qtbot.keyClick(view, Qt.Key.Key_Delete)
    after = snapshot(window.project)
    assert [s.id for s in window.project.classes[1].samples] == [before[0][1][1][0][0], before[0][1][1][2][0]]
    assert window.editor.undo_action.text() == "Undo Remove sample"
    _undo_redo(qtbot, window, before, after)
    undo(qtbot, window)
    assert window.support.columns[1].samples.sample_ids() == [s for s, _ in before[0][1][1]]

    # Two selected, removed by the context menu's action: one step.
    _click_item(qtbot, view, 0)
    _click_item(qtbot, view, 2, CTRL)
    pos = view.visualItemRect(view.item(2)).center()  # the context menu event a right-click makes
    QApplication.sendEvent(view.viewport(), QContextMenuEvent(QContextMenuEvent.Reason.Mouse, pos, view.viewport().mapToGlobal(pos)))
    menu = view.findChildren(QMenu)[-1]
    [action] = menu.actions()
    assert action.text() == "Remove 2 samples"
    qtbot.waitExposed(menu)
    qtbot.mouseClick(menu, Qt.MouseButton.LeftButton, pos=menu.actionGeometry(action).center())
    after = snapshot(window.project)
    assert [s.id for s in window.project.classes[1].samples] == [before[0][1][1][1][0]]
    _undo_redo(qtbot, window, before, after)


def test_add_queries_remove_one_and_clear_them(window, qtbot, tmp_path):
    q = window.query
    empty = snapshot(window.project)
    assert drop_paths(q.list, _files(tmp_path, [0, 1, 2]))
    added = snapshot(window.project)
    assert len(window.project.queries) == 3 and window.editor.undo_action.text() == "Undo Add 3 queries"
    _undo_redo(qtbot, window, empty, added, lambda state: q.list.count() == (0 if state == "before" else 3))

    _click_item(qtbot, q.list, 0)
    qtbot.keyClick(q.list, Qt.Key.Key_Delete)
    one_less = snapshot(window.project)
    assert len(window.project.queries) == 2 and window.editor.undo_action.text() == "Undo Remove query"
    _undo_redo(qtbot, window, added, one_less)

    qtbot.mouseClick(q.clear_btn, Qt.MouseButton.LeftButton)
    cleared = snapshot(window.project)
    assert window.project.queries == [] and window.editor.undo_action.text() == "Undo Clear queries"
    undo(qtbot, window)
    assert snapshot(window.project) == one_less
    assert [row.sample.id for row in q.rows()] == [s for s, _ in one_less[1]]
    redo(qtbot, window)
    assert snapshot(window.project) == cleared
    # Three more undos go back to the empty start; nothing is left to undo.
    for _ in range(3):
        undo(qtbot, window)
    assert snapshot(window.project) == empty and not window.editor.undo_action.isEnabled()


def test_typing_a_setting_in_the_task_tab_is_one_step(window, qtbot):
    window.tabs.setCurrentIndex(0)
    before = snapshot(window.project)
    spin = window.task_tab.spins["steps"]
    qtbot.mouseClick(spin, Qt.MouseButton.LeftButton)
    qtbot.keyClick(spin, Qt.Key.Key_A, CTRL)
    qtbot.keyClicks(spin, "250")
    qtbot.keyClick(spin, Qt.Key.Key_Return)
    after = snapshot(window.project)
    assert window.project.task.steps == 250
    assert window.editor.undo_action.text() == "Undo Change Steps"
    assert window.editor.stack.count() == 1  # 2, 25, 250: one step

    def check(state):
        assert spin.value() == (1000 if state == "before" else 250)

    _undo_redo(qtbot, window, before, after, check)
    # The device box: a discrete choice.
    before = after
    qtbot.keyClick(window.task_tab.device_box, Qt.Key.Key_Down)
    after = snapshot(window.project)
    assert window.project.task.device == "cpu"

    def check_device(state):
        assert window.task_tab.device_box.currentData() == ("auto" if state == "before" else "cpu")

    _undo_redo(qtbot, window, before, after, check_device)


def test_a_hyperparameter_typed_in_the_form(window, qtbot):
    window.tabs.setCurrentIndex(1)
    before = snapshot(window.project)
    box = window.hparam_tab.form.editors["hidden"]
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton)
    qtbot.keyClick(box, Qt.Key.Key_A, CTRL)
    qtbot.keyClicks(box, "128")
    qtbot.keyClick(box, Qt.Key.Key_Tab)  # on to the next field
    after = snapshot(window.project)
    assert window.project.hparams == {"hidden": 128} and window.editor.stack.count() == 1
    assert window.editor.undo_action.text() == f"Undo Change {window.hparam_tab.form.layout_.labelForField(box).text()}"

    def check(state):
        assert box.value() == (64 if state == "before" else 128)

    _undo_redo(qtbot, window, before, after, check)


def test_restore_paper_defaults_is_one_step(window, qtbot):
    window.hparam_tab.form.set_values(TINY_HPARAMS)  # three fields at once
    window.editor.clear()
    before = snapshot(window.project)
    restore = next(b for b in window.tabs.widget(1).findChildren(type(window.train_btn)) if b.text() == "Restore paper defaults")
    qtbot.mouseClick(restore, Qt.MouseButton.LeftButton)
    after = snapshot(window.project)
    assert window.project.hparams == {} and window.editor.undo_action.text() == "Undo Change hyperparameters"
    _undo_redo(qtbot, window, before, after, lambda state: window.hparam_tab.form.values()["hidden"] == (16 if state == "before" else 64))


def test_change_algorithm(window, qtbot):
    import core

    window.hparam_tab.form.editors["hidden"].setValue(32)
    before = snapshot(window.project)
    box = window.algo_box
    box.setFocus()
    qtbot.keyClick(box, Qt.Key.Key_Down)  # the next algorithm in the list
    after = snapshot(window.project)
    new = window.project.algorithm
    assert new != "protonet" and window.project.hparams == {}
    assert window.editor.undo_action.text() == f"Undo Change algorithm to {core.ALGORITHMS[new].title}"

    def check(state):
        name = "protonet" if state == "before" else new
        assert box.currentData() == name
        fields = {f["name"] for f in core.hparam_fields(core.ALGORITHMS[name].HParams)}
        assert set(window.hparam_tab.form.values()) == fields
        if state == "before":
            assert window.hparam_tab.form.values()["hidden"] == 32

    _undo_redo(qtbot, window, before, after, check)


def test_samples_drawn_in_one_draw_dialog_are_one_step(window, qtbot):
    from app.views.studio.draw_dialog import DrawDialog

    before = snapshot(window.project)
    dlg = DrawDialog(window, window.project, window.editor, 1)
    qtbot.addWidget(dlg)
    dlg.show()
    qtbot.waitExposed(dlg)
    for points in ([(30, 30), (90, 90)], [(90, 30), (30, 90)]):
        mouse_stroke(dlg.panel.canvas, points)
        qtbot.mouseClick(dlg.add_btn, Qt.MouseButton.LeftButton)
    dlg.close()
    after = snapshot(window.project)
    assert len(window.project.classes[1].samples) == 2
    assert window.editor.undo_action.text() == "Undo Add 2 samples to “B”"
    _undo_redo(qtbot, window, before, after)


def test_ctrl_z_on_the_drawing_canvas_undoes_the_stroke_not_the_project(window, qtbot):
    qtbot.mouseClick(window.support.add_btn, Qt.MouseButton.LeftButton)
    project_state = snapshot(window.project)
    canvas = window.query.draw.canvas
    mouse_stroke(canvas, [(20, 20), (80, 80), (120, 40)])
    assert not canvas.is_blank()
    canvas.setFocus()
    undo(qtbot, window)
    assert canvas.is_blank() and snapshot(window.project) == project_state
    # Focus elsewhere in the window: the project's undo.
    window.algo_box.setFocus()
    undo(qtbot, window)
    assert len(window.project.classes) == 5


def test_undo_and_redo_from_the_edit_menu(window, qtbot):
    fill_support(window.project, n_classes=2, shots=1)
    before = snapshot(window.project)
    qtbot.mouseClick(window.support.columns[0].remove_btn, Qt.MouseButton.LeftButton)
    after = snapshot(window.project)
    bar = window.menuBar()
    edit = next(a for a in bar.actions() if a.text() == "&Edit")
    for action, state in ((window.editor.undo_action, before), (window.editor.redo_action, after)):
        qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.actionGeometry(edit).center())
        menu = edit.menu()
        qtbot.waitExposed(menu)
        qtbot.mouseClick(menu, Qt.MouseButton.LeftButton, pos=menu.actionGeometry(action).center())
        assert snapshot(window.project) == state


def test_undo_marks_the_project_modified(window, qtbot, tmp_path):
    fill_support(window.project, n_classes=2, shots=1)
    qtbot.mouseClick(window.support.columns[1].remove_btn, Qt.MouseButton.LeftButton)
    assert window.save_to(tmp_path / "p.fsproj")
    assert not window.project.dirty and "•" not in window.windowTitle()
    undo(qtbot, window)
    assert window.project.dirty and "•" in window.windowTitle()


def test_new_and_open_clear_the_undo_history(make_window, qtbot, tmp_path):
    window = make_window(ask=lambda *a, **k: QMessageBox.StandardButton.Discard)
    fill_support(window.project, n_classes=2, shots=1)
    assert window.save_to(tmp_path / "p.fsproj")
    qtbot.mouseClick(window.support.add_btn, Qt.MouseButton.LeftButton)
    assert window.editor.undo_action.isEnabled()
    with qtbot.waitSignal(window.files.opened, timeout=60_000):  # a project opens on the job thread
        assert window.open_path(tmp_path / "p.fsproj")
    assert not window.editor.undo_action.isEnabled() and window.editor.undo_action.text() == "Undo"
    opened = snapshot(window.project)
    undo(qtbot, window)
    assert snapshot(window.project) == opened

    qtbot.mouseClick(window.support.add_btn, Qt.MouseButton.LeftButton)
    window.new_act.trigger()
    assert window.editor.stack.count() == 0 and not window.editor.redo_action.isEnabled()
    assert window.project.class_names() == ["A", "B", "C", "D", "E"]


def test_while_training_runs_settings_steps_wait_and_set_edits_do_not(window, qtbot):
    fill_support(window.project, n_classes=2, shots=1)
    window.hparam_tab.form.set_values(TINY_HPARAMS)
    for key, value in (("steps", 100_000), ("max_seconds", 0), ("n_way", 3)):
        window.task_tab.spins[key].setValue(value)
    settings = snapshot(window.project)
    qtbot.mouseClick(window.support.add_btn, Qt.MouseButton.LeftButton)
    assert window.train(overrides={"source": TINY_SOURCE})
    try:
        undo(qtbot, window)  # the class: allowed
        assert snapshot(window.project) == settings
        # Next is a settings step: it waits for the run, and says so.
        assert not window.editor.undo_action.isEnabled()
        assert window.editor.undo_action.text() == "Undo Change Ways (N) — when training ends"
        undo(qtbot, window)
        assert snapshot(window.project) == settings
        assert window.editor.redo_action.isEnabled()
    finally:
        window.stop_training()
        qtbot.waitUntil(lambda: window.session is None, timeout=60_000)
    assert window.editor.undo_action.text() == "Undo Change Ways (N)" and window.editor.undo_action.isEnabled()
    undo(qtbot, window)
    assert window.project.task.n_way == 5 and window.task_tab.spins["n_way"].value() == 5
