"""The hyperparameter form is generated from every registered algorithm's HParams and round-trips."""
from __future__ import annotations

import pytest

import core


def _other_value(f):
    """A valid non-default value for a field, inside its range."""
    d, lo, hi = f["default"], f.get("min"), f.get("max")
    if f.get("choices"):
        return next(c for c in f["choices"] if c != d)
    if f["type"] is bool:
        return not d
    if f["type"] is int:
        v = d + 1
        return v if hi is None or v <= hi else d - 1
    if f["type"] is float:
        v = d * 2 if d else 0.5
        return v if hi is None or v <= hi else d / 2
    return str(d) + "x"


@pytest.mark.parametrize("name", sorted(core.ALGORITHMS))
def test_generated_form_round_trips(qtbot, name):
    from app.views.studio.hparam_form import HParamForm

    cls = core.ALGORITHMS[name]
    fields = core.hparam_fields(cls.HParams)
    form = HParamForm()
    qtbot.addWidget(form)
    form.set_fields(fields)
    defaults = {f["name"]: f["default"] for f in fields}
    assert form.values() == defaults
    changed = {f["name"]: _other_value(f) for f in fields}
    form.set_values(changed)
    assert form.values() == changed
    assert form.changed_from_defaults() == {k: v for k, v in changed.items() if v != defaults[k]}
    core.hparams_from_dict(cls.HParams, form.values())  # the engine accepts what the form gives
    for f in fields:  # tooltips carry the field's documentation
        assert f["doc"] and f["doc"] in form.editors[f["name"]].toolTip()
    form.restore_defaults()
    assert form.values() == defaults


def test_algorithm_picker_lists_every_registered_algorithm_by_family(window):
    from PySide6.QtCore import Qt

    model = window.algo_box.model_
    listed = [model.item(r).data(Qt.ItemDataRole.UserRole) for r in range(model.rowCount())]
    assert sorted(n for n in listed if n) == sorted(core.ALGORITHMS)
    headers = [model.item(r).text() for r in range(model.rowCount()) if not model.item(r).data(Qt.ItemDataRole.UserRole)]
    assert set(headers) <= set(core.FAMILIES.values())
    assert all(not (model.item(r).flags() & Qt.ItemFlag.ItemIsSelectable) for r in range(model.rowCount())
               if not model.item(r).data(Qt.ItemDataRole.UserRole))
    # Default: ProtoNet; picking MAML shows MAML's form and records it in the project.
    assert window.project.algorithm == "protonet" and "hidden" in window.hparam_tab.form.editors
    window.algo_box.setCurrentIndex(window.algo_box.row_of("maml"))
    assert window.project.algorithm == "maml" and "inner_lr" in window.hparam_tab.form.editors
    window.hparam_tab.form.editors["inner_steps"].setValue(4)
    assert window.project.hparams == {"inner_steps": 4}


def test_measured_settings_preset_fills_the_form_and_the_project(window):
    window.algo_box.setCurrentIndex(window.algo_box.row_of("mann"))
    btn = window.hparam_tab.preset_btn
    assert not btn.isHidden() and btn.menu().actions()
    window.hparam_tab.form.editors["controller"].setValue(64)  # an edit that the preset (paper defaults + preset) undoes
    btn.menu().actions()[0].trigger()
    preset = core.ALGORITHMS["mann"].presets["measured"]
    assert window.project.hparams == preset
    assert window.hparam_tab.form.values()["cosine_scale"] == 10.0 and window.hparam_tab.form.values()["controller"] == 200
    # Restore paper defaults undoes it; an algorithm without presets hides the button.
    window.hparam_tab.form.restore_defaults()
    assert window.project.hparams == {}
    window.algo_box.setCurrentIndex(window.algo_box.row_of("maml"))
    assert btn.isHidden()


def test_invalid_source_folder_shows_the_core_error_and_changes_nothing(window, qtbot, tmp_path):
    before = window.project.task.source
    window.choose_source("folder", str(tmp_path / "missing"))
    qtbot.waitUntil(lambda: bool(window.dialogs.messages), timeout=60_000)
    title, text = window.dialogs.messages[-1]
    assert "missing" in text and "no such folder" in text
    assert window.project.task.source == before
    assert window.task_tab.source_box.currentData() == "builtin"


def test_number_formats():
    from app.model.words import fmt_count, plural

    assert plural(1, "image") == "1 image" and plural(0, "image") == "0 images" and plural(3, "item") == "3 items"

    assert fmt_count(1234567) == "1\u202f234\u202f567" and fmt_count(999) == "999" and fmt_count(4836.0) == "4\u202f836"


def test_the_task_tab_is_a_view_of_the_projects_task_with_no_round_trip(window, qtbot):
    """N has one owner: typing into Ways (N) goes to project.task through the undo stack, and the box
    that was typed into is not set again by its own edit; an undo (a change from elsewhere) is shown."""
    from PySide6.QtCore import Qt

    from app.model import LIMITS

    window.tabs.setCurrentIndex(0)
    spin = window.task_tab.spins["n_way"]
    assert all((window.task_tab.spins[k].minimum(), window.task_tab.spins[k].maximum()) == LIMITS[k] for k in window.task_tab.spins)
    set_again = []
    original = spin.setValue
    spin.setValue = lambda v: (set_again.append(v), original(v))  # what the window calls; typing goes through Qt's own path
    qtbot.mouseClick(spin, Qt.MouseButton.LeftButton)
    qtbot.keyClick(spin, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(spin, "12")
    qtbot.keyClick(spin, Qt.Key.Key_Return)
    print(f"\nvalues set back into the box while typing: {set_again}")
    assert window.project.task.n_way == 12 and spin.value() == 12
    assert set_again == [], "the edited box was set again from the model: a round trip"
    window.editor.undo_action.trigger()
    assert window.project.task.n_way == 5 and spin.value() == 5 and set_again == [5]
