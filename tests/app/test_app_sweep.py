"""The Compare view's Sweep tab, driven with clicks: accuracy against shots and ways for the
compared models (and the Studio's model), Stop keeps the finished points, the sweep survives
saving and opening the project."""
from __future__ import annotations

from PySide6.QtCore import QPoint, Qt

from tests.app.apphelpers import TINY_COMPARE_SOURCE, gate_second_sweep_point, run_tiny_comparison


def _set(page, shots, ways, episodes, queries=2):
    page.shots_edit.setText(shots)
    page.ways_edit.setText(ways)
    page.episodes_box.setValue(episodes)
    page.queries_box.setValue(queries)


def _click(qtbot, button):
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def test_sweep_the_compared_models_and_see_the_curves_saved_with_the_project(window, qtbot, tmp_path):
    import core

    view = run_tiny_comparison(window, qtbot)
    page = view.sweep
    view.right_tabs.setCurrentWidget(page)
    _set(page, "1, 2", "2, 3", 4)
    _click(qtbot, page.run_btn)
    assert page.stop_btn.isEnabled() and not page.run_btn.isEnabled()
    # One run at a time, and no New / Open while the sweep will write into the project.
    assert not view.setup.run_btn.isEnabled() and not window.open_act.isEnabled() and not window.new_act.isEnabled()
    qtbot.waitUntil(lambda: page.session is None, timeout=120_000)
    assert view.setup.run_btn.isEnabled() and window.open_act.isEnabled()
    r = page.result
    assert r.status == "done" and r.models == ["protonet", "matching"]
    assert {(p.model, p.n_way, p.k_shot) for p in r.points} == {(m, n, k) for m in r.models for n in (2, 3) for k in (1, 2)}
    assert all(p.status == "done" and len(p.per_episode) == 4 for p in r.points)
    # The (3-way, 1-shot) point is core.evaluate at that point, on the same test episodes.
    test = core.open_source("builtin", "test", n_classes=TINY_COMPARE_SOURCE["test_classes"])
    expected = core.evaluate(view.comparison.learners["protonet"], test, 3, 1, 2, episodes=4)
    assert r.point("protonet", 3, 1).per_episode == expected.per_episode
    # One line (with its CI band) per model in each plot; the combo boxes pick the other axis.
    assert page.at_ways.currentData() == 2 and page.at_shots.currentData() == 1
    lines = [it for it in page.shot_plot.items if getattr(it, "name", lambda: None)() in ("protonet", "matching")]
    assert len(lines) == 2
    page.at_ways.setCurrentIndex(page.at_ways.findData(3))
    assert "3-way" in page.shot_plot.titleLabel.text
    # Saved in the project, and shown again after opening it.
    assert window.project.sweep == r.to_dict()
    path = tmp_path / "swept.fsproj"
    assert window.save_to(path)
    window.project.set_sweep(None)
    view.sweep.load_from_project()
    assert page.result is None
    with qtbot.waitSignal(window.files.opened, timeout=60_000):
        window.open_path(path)
    qtbot.waitUntil(lambda: page.result is not None, timeout=60_000)
    assert page.result.to_dict() == r.to_dict()





def test_stop_mid_sweep_keeps_the_finished_points(window, qtbot, monkeypatch):
    view = run_tiny_comparison(window, qtbot, names=("protonet",))
    page = view.sweep
    view.right_tabs.setCurrentWidget(page)
    episodes = 6
    reached, release = gate_second_sweep_point(monkeypatch, episodes)
    _set(page, "1, 2, 3, 5", "2, 3", episodes)  # 8 points
    _click(qtbot, page.run_btn)
    qtbot.waitUntil(reached.is_set, timeout=120_000)
    _click(qtbot, page.stop_btn)
    assert "Stopping" in page.status.text()
    release.set()
    qtbot.waitUntil(lambda: page.session is None, timeout=120_000)
    r = page.result
    assert r.status == "cancelled" and [p.status for p in r.points] == ["done", "stopped"] + ["pending"] * 6
    assert len(r.points[0].per_episode) == episodes and r.points[1].per_episode == []
    assert window.project.sweep == r.to_dict()  # kept in the project
    assert "Stopped" in page.status.text() and page.run_btn.isEnabled()


def test_the_studio_model_in_use_can_be_swept_and_bad_input_says_why(window_with_model, qtbot):
    window = window_with_model
    window.compare_view_act.trigger()
    view = window.compare
    view.setup.set_source(TINY_COMPARE_SOURCE)
    page = view.sweep
    view.right_tabs.setCurrentWidget(page)
    _set(page, "1, two", "", 2)
    _click(qtbot, page.run_btn)
    assert window.dialogs.messages[-1][0] == "Cannot sweep" and "Shots" in window.dialogs.messages[-1][1]
    assert page.session is None and page.shots_edit.text() == "1, two"  # nothing lost
    _set(page, "1, 2", "2, 3", 2)
    _click(qtbot, page.run_btn)  # no comparison, and the Studio's model not ticked
    assert window.dialogs.messages[-1][0] == "Nothing to sweep"
    qtbot.mouseClick(page.studio_box, Qt.MouseButton.LeftButton, pos=page.studio_box.rect().topLeft() + QPoint(7, page.studio_box.height() // 2))
    assert page.studio_box.isChecked()
    _click(qtbot, page.run_btn)
    qtbot.waitUntil(lambda: page.session is None, timeout=120_000)
    label = page.result.models[0]
    assert page.result.models == [label] and label.startswith("Studio: ")
    assert all(p.status == "done" for p in page.result.points)
    assert page.color(label)[1]  # dashed: not one of the compared models


def test_closing_the_window_mid_sweep_stops_its_thread(window, qtbot):
    view = run_tiny_comparison(window, qtbot, names=("protonet",))
    page = view.sweep
    _set(page, "1, 2, 3, 5", "2, 3", 3000)
    _click(qtbot, page.run_btn)
    qtbot.waitUntil(lambda: page.session is not None and "episode" in page.status.text(), timeout=120_000)
    thread = page.session.thread
    window.project.dirty = False
    window.close()  # may hide first when the thread needs more than 1.8 s to end
    qtbot.waitUntil(lambda: not window.isVisible() and page.session is None and not thread.isRunning(), timeout=60_000)
