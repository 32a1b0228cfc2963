"""The app's engine glue on its own, without a window: a job runs off the GUI thread and reports on
it (or not at all to an owner that is closing or gone); the workers, run here on the test's own
thread, turn an engine run into plain reports, a checked model file, a comparison with its models
or a sweep of the models handed to them, and a failure into a title and a message; the Episodes
jobs take the stream the settings say and draw its episode i."""
from __future__ import annotations

import gc
import json
import threading

import pytest

from tests.app.apphelpers import TINY_COMPARE_SOURCE, TINY_HPARAMS, TINY_SOURCE


def test_a_job_runs_off_the_gui_thread_and_reports_on_it(qtbot):
    from app.engine import jobs

    gui, got = threading.get_ident(), []
    jobs.run_job(threading.get_ident, lambda ident: got.append(("done", ident, threading.get_ident())), got.append)
    jobs.run_job(lambda: 1 / 0, got.append, lambda exc: got.append(("error", type(exc).__name__, threading.get_ident())))
    qtbot.waitUntil(lambda: len(got) == 2, timeout=60_000)
    (done, job_thread, delivered), (error, name, delivered_error) = got
    assert done == "done" and job_thread != gui and delivered == gui
    assert (error, name, delivered_error) == ("error", "ZeroDivisionError", gui)


def test_a_result_for_an_owner_that_is_closing_or_gone_is_dropped(qtbot):
    import shiboken6
    from PySide6.QtCore import QObject

    from app.engine import jobs

    class Window(QObject):
        closing = False

    closing, gone, open_ = Window(), Window(), Window()
    closing.closing = True
    release, got = threading.Event(), []
    for owner in (closing, gone, open_):
        jobs.run_job(lambda: release.wait(60), lambda _, o=owner: got.append(o), lambda _: got.append("error"), owner=owner)
    shiboken6.delete(gone)
    release.set()
    qtbot.waitUntil(lambda: bool(got), timeout=60_000)  # one job thread: the earlier two have reported by now
    assert got == [open_]


def test_quietly_collected_pauses_the_collector_and_restores_it_even_after_an_error():
    from app.engine.jobs import quietly_collected

    try:
        assert quietly_collected(gc.isenabled) is False and gc.isenabled()
        with pytest.raises(ZeroDivisionError):
            quietly_collected(lambda: 1 / 0)
        assert gc.isenabled()
    finally:
        gc.unfreeze()  # what it froze is the test process's, not an engine's


def test_a_failed_run_is_told_in_plain_words():
    import core

    from app.engine.workers import failure_message

    assert failure_message(core.TrainingDiverged("the loss became NaN"), "meta-train", "Training") == ("Training diverged", "the loss became NaN")
    assert failure_message(ValueError("hidden=1 is out of range [2, 512]"), "meta-train", "Training") == (
        "Cannot meta-train", "hidden=1 is out of range [2, 512]")
    assert failure_message(RuntimeError("CUDA out of memory"), "compare", "The comparison", "\nTry fewer ways.") == (
        "Out of memory", "The comparison ran out of memory: CUDA out of memory\nTry fewer ways.")
    try:
        {}["shape"]
    except KeyError as exc:  # anything else: its traceback, for a bug report
        title, text = failure_message(exc, "compare", "The comparison")
    assert title == "The comparison failed" and text.startswith("Traceback") and text.endswith("KeyError: 'shape'")


def test_stop_before_the_run_made_its_token_stops_it_and_an_error_becomes_failed():
    from app.engine.workers import CancellableWorker

    class Broken(CancellableWorker):
        def _run(self):
            self.new_token()
            raise ValueError("no such folder")

    worker, failed = Broken(request=None), []
    worker.failed.connect(lambda title, text: failed.append((title, text)))
    worker.cancel()
    assert worker.stopping
    worker.run()
    assert worker.token.cancelled and failed == [("Cannot run", "no such folder")]


def _tiny_request(tmp_path, **task):
    from app.model import AlgorithmChoice, Source, TaskSettings, TrainRequest

    settings = TaskSettings(source=Source.from_dict(TINY_SOURCE), n_way=3, k_shot=1, q_query=2, steps=6, max_seconds=0, device="cpu")
    return TrainRequest(AlgorithmChoice("protonet", TINY_HPARAMS), settings.replace(**task), str(tmp_path), "tiny", val_episodes=2)


def _collect(worker, *names):
    got = {name: [] for name in names}
    for name in names:
        getattr(worker, name).connect(lambda *args, name=name: got[name].append(args[0] if len(args) == 1 else args))
    return got


def test_the_training_worker_reports_plain_progress_live_episodes_and_a_checked_model(qapp, tmp_path):
    from PySide6.QtGui import QImage

    from app.engine.workers import TrainWorker
    from app.model.library import verify_model_bytes

    worker = TrainWorker(_tiny_request(tmp_path))
    worker.live_every_s = 0.0  # every step's episode
    got = _collect(worker, "progress", "episode", "finished", "failed")
    worker.run()  # on this thread: its signals reach the lists at once
    assert got["failed"] == []
    assert [p["step"] for p in got["progress"]][-1] == 6 and json.dumps(got["progress"])  # plain data, nothing of torch's
    assert got["episode"] and all(isinstance(e["image"], QImage) and e["source"] == TINY_SOURCE for e in got["episode"])
    [finished] = got["finished"]
    assert finished["status"] == "done" and finished["model_id"] == "tiny"
    meta = finished["meta"]
    assert (meta["algorithm"], meta["n_way"], meta["k_shot"], meta["steps"]) == ("protonet", 3, 1, 6) and not meta["stopped"]
    assert meta["measure"] == "3-way 1-shot · built-in characters · 2 episodes"
    verify_model_bytes((tmp_path / "tiny.pt").read_bytes(), "tiny.pt")


def test_a_training_run_stopped_before_it_began_writes_no_model(qapp, tmp_path):
    from app.engine.workers import TrainWorker

    worker = TrainWorker(_tiny_request(tmp_path))
    got = _collect(worker, "finished", "failed")
    worker.cancel()
    worker.run()
    assert got == {"finished": [{"status": "cancelled"}], "failed": []} and not list(tmp_path.glob("*.pt"))


def test_the_compare_worker_runs_the_setups_comparison_and_hands_back_its_models(qapp):
    import core

    from app.engine.workers import CompareWorker
    from app.model.compare import CompareSetup, ComparisonRecord

    setup = CompareSetup(algorithms=("protonet",), hparams={"protonet": TINY_HPARAMS}, source=TINY_COMPARE_SOURCE, n_way=3,
                         q_query=2, steps_each=3, seconds_each=0, eval_episodes=4, device="cpu", val_episodes=2)
    worker = CompareWorker({"config": setup.config_args(), "source": setup.source})
    got = _collect(worker, "event", "finished", "failed")
    worker.run()
    assert got["failed"] == []
    kinds = [e["kind"] for e in got["event"]]
    assert {"start", "progress", "testing", "result"} <= set(kinds) and kinds[-1] == "end"
    [payload] = got["finished"]
    comp = payload["comparison"]
    assert comp.results["protonet"].finished and len(comp.results["protonet"].per_episode) == 4
    assert comp.train_source is None and set(payload["models"]) == {"protonet"}  # the data is released, the model kept
    assert "built-in characters" in comp.config.source.lower()
    record = ComparisonRecord(comp.to_dict(), setup.source, payload["models"])  # what the view keeps in the project
    assert core.Comparison.from_dict(record.data).results["protonet"].mean == comp.results["protonet"].mean


def test_the_sweep_worker_sweeps_the_models_it_is_handed_and_reports_plain_points(qapp, tiny_checkpoint):
    import core

    from app.engine.workers import SweepWorker

    request = {"models": {"protonet": tiny_checkpoint}, "studio": None, "source": TINY_COMPARE_SOURCE, "n_way": 3, "device": "cpu",
               "config": {"shots": [1], "ways": [2, 3], "q_query": 1, "episodes": 2}}
    worker = SweepWorker(request)
    got = _collect(worker, "progress", "finished", "failed")
    worker.run()
    assert got["failed"] == [] and json.dumps(got["progress"])  # plain data, nothing of torch's
    [finished] = got["finished"]
    result = core.SweepResult.from_dict(finished)
    assert result.models == ["protonet"] and [(p.n_way, p.k_shot, p.status) for p in result.points] == [(2, 1, "done"), (3, 1, "done")]
    assert all(len(p.per_episode) == 2 for p in result.points)


def test_the_episodes_job_takes_the_settings_streams_and_draws_episode_i(qapp):
    import core
    from PySide6.QtGui import QImage

    from app.engine import episode_jobs
    from app.model import TaskSettings

    task = TaskSettings(n_way=3, k_shot=1, q_query=2, seed=5).to_dict()
    request = {"stream": "test", "index": 2, "source": TINY_SOURCE, "task": task, "algorithm": "protonet", "hparams": TINY_HPARAMS}
    stages = []
    data = episode_jobs.episode_job(request, stages.append)
    assert stages[-1] == "drawing it" and data["predictions"] == {} and isinstance(data["image"], QImage)
    sampler, meta_batch = episode_jobs.stream_sampler(request)
    assert (sampler.n_way, sampler.k_shot, sampler.q_query, sampler.seed, meta_batch) == (3, 1, 2, core.TEST_SEED, 1)
    assert data["index"] == 2 and data["query_y"] == sampler.episode(2).query_y.tolist()
    train, _ = episode_jobs.stream_sampler({**request, "stream": "train"})
    # The algorithm's own training ways and queries (its hyperparameters say so), not the test's 3 and 2; the task's seed.
    assert (train.n_way, train.q_query, train.seed) == (TINY_HPARAMS["train_way"], TINY_HPARAMS["train_query"], 5)
