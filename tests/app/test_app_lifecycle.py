"""What happens to a run when it is stopped, when it is the quick one, and when the window closes
under it: a stopped run is kept and validated but never displaces a better model unasked; the
quick training honours the Task tab's time limit; closing mid-run asks keep / discard / cancel."""
from __future__ import annotations

import time

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QToolBar

from tests.app.apphelpers import TINY_HPARAMS, TINY_SOURCE, fill_support, glyph_png, start_tiny_comparison

B = QMessageBox.StandardButton


def _start_tiny(window, steps: int = 100_000) -> None:
    """A tiny ProtoNet run; the run's settings are overrides, the Task tab keeps its own."""
    window.hparam_tab.form.set_values(TINY_HPARAMS)
    assert window.train(overrides={"source": TINY_SOURCE, "steps": steps, "max_seconds": 0, "n_way": 3})


def _wait_steps(window, qtbot, steps: int = 5) -> None:
    qtbot.waitUntil(lambda: window.training.last is not None and window.training.last["step"] >= steps, timeout=60_000)


def _import_model(window, tiny_checkpoint, val_accuracy: float):
    """A ProtoNet model in the library with the given recorded validation figure, in use."""
    entry = window.library.import_bytes(tiny_checkpoint, algorithm="protonet", title="Prototypical Networks", source="Built-in characters",
                                        n_way=3, k_shot=1, val_accuracy=val_accuracy, steps=55,
                                        measure="3-way 1-shot · built-in characters · 40 episodes")  # what the tiny runs measure
    window.use_model(entry.id)
    assert window.current_model().id == entry.id
    return entry


def _answers(asked: list, **by_title):
    """A question answerer (FakeDialogs.answer) that answers each question by its title and records what was asked."""
    def ask(title, text, *args, **kwargs):
        asked.append((title, text))
        return by_title[title.replace(" ", "_").rstrip("?")]
    return ask


def _closed(window) -> bool:
    return window.closing and not window.isVisible() and window.session is None and window.compare.session is None


# -- bug 4: Stop ------------------------------------------------------------------------------
def test_a_stopped_run_is_kept_and_validated_but_does_not_replace_a_better_model(window, tiny_checkpoint, qtbot):
    import core

    good = _import_model(window, tiny_checkpoint, val_accuracy=0.99)
    _start_tiny(window)
    _wait_steps(window, qtbot)
    # The run's last progress, as it ends: then the panel goes back to the model in use's record.
    ended = []
    window.runs.runningChanged.connect(lambda running: running or ended.append(dict(window.training.last)))
    stop = window.findChild(QToolBar, "mainToolbar").widgetForAction(window.stop_act)
    qtbot.mouseClick(stop, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.session is None, timeout=60_000)
    [last] = ended
    steps = last["step"]
    assert last["status"] == "cancelled"

    # Kept in the library, labelled stopped with its step count, with a figure of its own.
    [stopped] = [e for e in window.library.entries() if e.id != good.id]
    assert stopped.stopped and stopped.steps == steps and f"stopped at step {steps}" in stopped.name
    assert stopped.val_accuracy is not None and stopped.val_accuracy < good.val_accuracy
    history = core.read_checkpoint(window.library.path(stopped.id))["trainer"]["history"]
    assert history["val_step"][-1] == steps and history["val_accuracy"][-1] == stopped.val_accuracy  # the kept weights were validated
    qtbot.waitUntil(lambda: f"val. {stopped.val_accuracy:.1%}" in window.training.note.text(), timeout=60_000)  # and the panel says so

    # The better model stays in use, and the status bar says why.
    assert window.current_model().id == good.id and window.project.model_file.endswith(f"{good.id}.pt")
    label = window.model_label.text()
    print(f"\nmodel label: {label}")
    assert label.startswith(f"Model: {good.name}, val. 99.0%")
    assert "still in use: the stopped run scored lower and is only kept in Models" in label
    # The Models tab shows both; the model in use is the bold row; Steps marks the stopped one.
    rows = {window.models_tab.tree.topLevelItem(i).data(0, Qt.ItemDataRole.UserRole): window.models_tab.tree.topLevelItem(i) for i in range(2)}
    assert rows[stopped.id].text(5) == f"{steps} · stopped" and rows[good.id].text(5) == "55"
    assert rows[good.id].font(0).bold() and not rows[stopped.id].font(0).bold()
    # Switching algorithm and back picks the better model again, not the newer stopped one.
    window.algo_box.setCurrentIndex(window.algo_box.row_of("relation"))
    window.algo_box.setCurrentIndex(window.algo_box.row_of("protonet"))
    assert window.current_model().id == good.id
    # Choosing the stopped run is the person's call.
    window.use_model(stopped.id)
    assert window.current_model().id == stopped.id and "still in use" not in window.model_label.text()


def test_a_finished_run_becomes_the_model_in_use_even_if_it_scored_lower(window, tiny_checkpoint, qtbot):
    """A run that used its steps is what the person asked for: it is used, and the label says where
    the better one went."""
    good = _import_model(window, tiny_checkpoint, val_accuracy=0.99)
    _start_tiny(window, steps=12)
    qtbot.waitUntil(lambda: window.session is None, timeout=60_000)
    new = window.current_model()
    assert new.id != good.id and not new.stopped and new.val_accuracy < good.val_accuracy
    assert "the model before it scored higher and is still in Models" in window.model_label.text()


def test_a_second_stop_cuts_the_quick_validation_of_a_stopped_run_short(qtbot):
    """The worker's own mechanism, driven directly (two clicks a microsecond apart cannot be timed
    against the worker): one Stop validates the kept weights, a second one skips that."""
    import core

    from app.engine import workers

    cfg = core.TrainConfig(algorithm="protonet", hparams=TINY_HPARAMS, n_way=3, k_shot=1, q_query=3, steps=3,
                           val_every=1000, val_episodes=40, device="cpu", seed=0)
    source = core.builtin(n_classes=30, first_class=0)
    figures = []
    for stops in (1, 2):
        worker = workers.TrainWorker(None)  # driven directly: no request is read
        trainer = core.Trainer(cfg, source, source, cancel=worker.new_token())
        for _ in trainer.run():
            pass
        for _ in range(stops):
            worker.cancel()
        figures.append(trainer.validate_stopped(workers.STOPPED_VAL_EPISODES, worker.second_token))  # as the worker calls it
        assert trainer.cancel is worker.token and trainer.config.val_episodes == 40  # the trainer is left as it was
    assert figures[0] is not None and figures[1] is None


# -- bug 5: the quick training -----------------------------------------------------------------
def test_the_quick_training_honours_the_task_tabs_time_limit(window, qtbot):
    fill_support(window.project, n_classes=3, shots=1)
    window.hparam_tab.form.set_values(TINY_HPARAMS)
    asked = []
    window.dialogs.answer = lambda title, text, *a, **k: asked.append(text) or B.Yes
    for limit, expected, words in ((45, 45, "45 s, the Task tab's time limit"), (0, 60, "about 60 s"), (600, 60, "about 60 s")):
        window.task_tab.spins["max_seconds"].setValue(limit)
        window.classify()
        assert window.session is not None, "the quick training did not start"
        task = window.session.worker.request.task
        window.stop_training()
        print(f"\ntime limit {limit} s -> quick training budget {task.max_seconds} s; asked: {asked[-1]!r}")
        assert task.max_seconds == expected and task.source.kind == "builtin"
        assert words in asked[-1]
        qtbot.waitUntil(lambda: window.session is None, timeout=60_000)


# -- bug 6: closing mid-run ----------------------------------------------------------------------
@pytest.mark.parametrize("wait_ms", [1800, 0], ids=["stops-in-time", "hides-and-closes-when-stopped"])
def test_closing_during_training_and_keeping_saves_the_partial_model(window, qtbot, monkeypatch, wait_ms):
    """With no time to wait for the run to stop (wait_ms 0), the window hides and finishes closing
    once the run has ended; either way the partial model is kept."""
    from app.engine import workers

    stop_and_wait = workers.ThreadSession.stop_and_wait
    monkeypatch.setattr(workers.ThreadSession, "stop_and_wait", lambda session, timeout_ms: stop_and_wait(session, min(timeout_ms, wait_ms)))
    asked = []
    window.dialogs.answer = _answers(asked, Stop_and_close=B.Save, Unsaved_changes=B.Discard)
    _start_tiny(window)
    _wait_steps(window, qtbot)
    thread = window.session.thread
    t0 = time.perf_counter()
    closed_at_once = window.close()
    qtbot.waitUntil(lambda: _closed(window), timeout=60_000)
    print(f"\nclosed (keeping the run; {'at once' if closed_at_once else 'hidden, then closed'}) "
          f"{1000 * (time.perf_counter() - t0):.0f} ms after the answer")
    assert not thread.isRunning()
    assert asked[0][0] == "Stop and close?" and "Meta-training is still running (step " in asked[0][1]
    [entry] = window.library.entries()
    assert entry.stopped and entry.steps >= 5 and entry.val_accuracy is not None


def test_closing_just_after_stop_and_keeping_lets_the_stopped_run_finish_its_validation(window, qtbot):
    window.dialogs.answer = _answers([], Stop_and_close=B.Save)
    _start_tiny(window)
    _wait_steps(window, qtbot)
    window.stop_training()
    window.close()  # while the stopped run validates: keeping must not cut that short like a second Stop
    qtbot.waitUntil(lambda: _closed(window), timeout=60_000)
    [entry] = window.library.entries()
    assert entry.stopped and entry.val_accuracy is not None


def test_closing_during_training_and_discarding_keeps_nothing(window, qtbot):
    asked = []
    window.dialogs.answer = _answers(asked, Stop_and_close=B.Discard)
    _start_tiny(window)
    _wait_steps(window, qtbot)
    thread = window.session.thread
    window.project.dirty = False
    window.close()
    qtbot.waitUntil(lambda: _closed(window), timeout=60_000)
    assert not thread.isRunning() and window.library.entries() == []
    assert [title for title, _ in asked] == ["Stop and close?"]


def test_cancelling_the_close_leaves_the_run_going(window, qtbot):
    window.dialogs.answer = _answers([], Stop_and_close=B.Cancel)
    _start_tiny(window)
    _wait_steps(window, qtbot)
    assert not window.close()
    assert window.isVisible() and window.session is not None and not window.closing
    step = window.training.last["step"]
    qtbot.waitUntil(lambda: window.training.last["step"] > step + 3, timeout=60_000)  # still training
    window.stop_training()
    qtbot.waitUntil(lambda: window.session is None, timeout=60_000)


def test_closing_during_a_comparison_and_keeping_saves_its_finished_results_in_the_project(window, qtbot, tmp_path):
    from app.model import projectfile

    start_tiny_comparison(window, ["protonet", "matching"], steps_each=1_000_000, seconds_each=1, eval_episodes=10)
    view = window.compare
    view.setup.show_setup(view.setup.value.replace(hparams={"protonet": {"hidden": 8}, "matching": {"hidden": 8}}))
    first, second = view.setup.value.algorithms
    path = tmp_path / "kept.fsproj"
    window.project.path = str(path)
    asked = []
    window.dialogs.answer = _answers(asked, Stop_and_close=B.Save, Unsaved_changes=B.Save)
    assert view.run()
    qtbot.waitUntil(lambda: view.shown.results[second].status == "training" and view.last is not None, timeout=60_000)
    window.close()
    qtbot.waitUntil(lambda: _closed(window), timeout=60_000)
    assert [title for title, _ in asked] == ["Stop and close?", "Unsaved changes"]
    assert "A comparison is still running." in asked[0][1]
    project = projectfile.load_project(path).project
    results = {r["algorithm"]: r for r in project.comparison.data["results"]}
    assert results[first]["status"] == "done" and len(results[first]["per_episode"]) == 10
    assert results[second]["status"] == "stopped"


def test_a_classification_that_ends_after_the_window_closed_is_dropped(window, tiny_checkpoint, qtbot, monkeypatch):
    """A job's result reaches nothing once its window has closed for good (jobs.run_job's
    owner is the window, also for the jobs its controllers start): here a classification still
    running when the window closes."""
    import threading

    from app.engine import jobs

    _import_model(window, tiny_checkpoint, val_accuracy=0.9)
    fill_support(window.project, n_classes=3, shots=1)
    real, gate, started = jobs.classify, threading.Event(), []

    def gated(*args):
        started.append(True)
        assert gate.wait(60), "the test never opened the gate"
        return real(*args)

    monkeypatch.setattr(jobs, "classify", gated)
    window.project.add_queries([glyph_png(k, 7) for k in range(3)])
    qtbot.mouseClick(window.query.classify_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(started), timeout=60_000)
    shown = []
    window.project.predictions.changed.connect(lambda: shown.append(len(window.project.predictions)))
    window.project.dirty = False  # nothing to ask about: the window closes at once
    window.close()
    assert window.closing and not window.isVisible()
    gate.set()
    assert jobs.job_pool().waitForDone(60_000)
    qtbot.wait(100)  # the job's queued result is delivered (and dropped)
    assert shown == [] and len(window.project.predictions) == 0
