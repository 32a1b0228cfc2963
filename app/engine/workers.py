"""Everything that touches the engine runs here, off the GUI thread.

- `TrainSession` owns a QThread running `TrainWorker`, which iterates `core.Trainer.run()` and
  emits plain-Python dicts (never tensors) through queued signals. Stop sets the core CancelToken,
  so it takes effect within one training step.
- `CompareSession` does the same for the Compare view: `CompareWorker` iterates
  `core.Comparison.run()`; `SweepSession` for its sweep: `SweepWorker` iterates `core.Sweep.run()`.

Short jobs (classification, source checks, model loading) run on the one job thread: `app.engine.jobs`.
Source settings open as the engine's ClassSources in `app.engine.sources`.

`core` (and so torch) is imported inside these functions, never at module import: the window
shows before torch has loaded.
"""
from __future__ import annotations

import dataclasses
import os
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QThread, Signal, Slot

from app.model import TrainRequest, train_config
from app.model.library import measure_words, verify_model_bytes

from .episode_jobs import LIVE_EVERY_S, LiveEpisodes
from .jobs import lower_thread_priority, quietly_collected
from .sources import build_sources, compare_sources, describe_source, validation_data


def import_engine() -> str:
    """Import `core` (and torch) and warm it up; returns the device type training will use
    ("cpu" / "cuda"). One job, so no torch import ever runs on two threads at once: torch's lazy
    imports are not thread-safe (a warm-up importing torch._dynamo on the job thread while the GUI
    thread used `core` once failed with "'prims' object has no attribute 'sum'")."""
    def imp():
        import torch

        import core

        for name in core.__all__:  # core is lazy: load every module now, on this thread, not on the GUI thread later
            getattr(core, name)
        # Leave one core to the GUI thread: with every core busy in torch's OpenMP pool the event
        # loop waits for the scheduler and stutters (training loses little: small convolutions
        # scale poorly across threads anyway).
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        torch.set_num_threads(max(1, cores - 1))
        return core.auto_device("auto").type

    device_type = quietly_collected(imp)
    try:
        quietly_collected(_warm_up_step)
    except Exception:  # noqa: BLE001 - a failed warm-up only means the first real step is slower
        pass
    return device_type


def _warm_up_step() -> None:
    """One tiny training step, so that torch's lazy imports (its optimizers pull in ~900 modules
    on their first step, ~1 s) happen before the engine is reported ready, not mid-training."""
    import numpy as np

    import core

    rng = np.random.default_rng(0)
    images = {name: [rng.integers(0, 255, (28, 28), dtype=np.uint8) for _ in range(2)] for name in "ab"}
    cfg = core.TrainConfig(algorithm="protonet", hparams={"hidden": 2, "train_way": 2, "train_query": 1}, n_way=2,
                           k_shot=1, q_query=1, steps=1, val_episodes=0, device="cpu")
    for _ in core.Trainer(cfg, core.in_memory(images)).run():
        pass


# -- the training thread ---------------------------------------------------------------------
def failure_message(exc: BaseException, verb: str, noun: str, memory_hint: str = "") -> tuple[str, str]:
    """(title, text) for an exception that ended a worker's run: the engine's own errors and bad
    settings are stated plainly, memory exhaustion gets its own title, anything else the traceback."""
    import core

    if isinstance(exc, core.TrainingDiverged):
        return "Training diverged", str(exc)
    if isinstance(exc, (core.FewShotError, ValueError)):
        return f"Cannot {verb}", str(exc)
    if isinstance(exc, MemoryError) or "out of memory" in str(exc).lower():
        return "Out of memory", f"{noun} ran out of memory: {exc}{memory_hint}"
    return f"{noun} failed", "".join(traceback.format_exception(exc)).strip()


class CancellableWorker(QObject):
    """A long engine run on a worker thread: `run()` calls `_run()` and turns any exception into
    `failed(title, message)`; `cancel()` (any thread) sets the core CancelToken `_run` made, or
    marks the run cancelled before it made one."""
    failed = Signal(str, str)  # (title, message)
    verb, noun, memory_hint = "run", "The run", ""  # for failure_message

    def __init__(self, request: Any):
        super().__init__()
        self.request = request
        self.token = None
        self._cancel_early = threading.Event()  # Stop pressed before the token existed

    def cancel(self) -> None:
        self._cancel_early.set()
        if self.token is not None:
            self.token.cancel()

    @property
    def stopping(self) -> bool:
        """Stop was pressed (the run may still be finishing: a stopped run's quick validation)."""
        return self._cancel_early.is_set()

    def new_token(self):
        import core

        self.token = core.CancelToken()
        if self._cancel_early.is_set():
            self.token.cancel()
        return self.token

    @Slot()
    def run(self) -> None:
        lower_thread_priority()
        try:
            self._run()
        except Exception as exc:  # noqa: BLE001 - every failure must reach the GUI, not kill the thread
            self.failed.emit(*failure_message(exc, self.verb, self.noun, self.memory_hint))

    def _run(self) -> None:
        raise NotImplementedError


# A stopped run's quick validation: the first episodes of the fixed validation set. At 5-way 1-shot
# 15-query on one CPU thread, 10 episodes took 0.05 s (MANN) to 2.1 s (Reptile), measured.
STOPPED_VAL_EPISODES = 10


class TrainWorker(CancellableWorker):
    stage = Signal(str)  # a human-readable phase ("Preparing the source…")
    progress = Signal(dict)  # core.Progress.to_dict()
    episode = Signal(object)  # now and then, the training episode just used (episode_jobs.LiveEpisodes)
    finished = Signal(dict)  # {"status", "model_id"?, "meta"?}
    verb, noun, memory_hint = "meta-train", "Training", "\nTry fewer ways, queries or a smaller meta-batch."
    live_every_s: float | None = LIVE_EVERY_S  # the live episode's refresh; None: no live episodes

    def __init__(self, request: TrainRequest):
        super().__init__(request)
        self.discard = False  # closing: write no model (and validate none)
        self.second_token = None  # a second Stop: cuts the stopped run's quick validation short
        self._cancel_again = threading.Event()

    def cancel(self) -> None:
        if self.stopping:
            self._cancel_again.set()
            if self.second_token is not None:
                self.second_token.cancel()
        super().cancel()

    def new_token(self):
        import core

        self.second_token = core.CancelToken()
        if self._cancel_again.is_set():
            self.second_token.cancel()
        return super().new_token()

    def _run(self) -> None:
        import core

        r = self.request
        task, source = r.task, r.task.source.to_dict()
        self.new_token()
        self.stage.emit(f"Preparing {describe_source(source).lower()}…")
        # Decoding or generating a source allocates many Python objects: see quietly_collected.
        train, val = quietly_collected(lambda: build_sources(source, task.n_way))
        if self.token.cancelled:
            self.finished.emit({"status": "cancelled"})
            return
        cfg = train_config(r.choice, task, r.val_episodes)
        trainer = core.Trainer(cfg, train, val, cancel=self.token)
        self.stage.emit(f"Meta-training on {trainer.device.type.upper()}")
        last: dict = {}
        live = LiveEpisodes(trainer, self.live_every_s) if self.live_every_s is not None else None
        for p in trainer.run():
            last = p.to_dict()
            self.progress.emit(last)
            shown = live.after_step(p) if live is not None else None
            if shown is not None:
                self.episode.emit({**shown, "source": source})  # the run's source: stepping through its stream later
        status = last.get("status", "cancelled")
        if trainer.step == 0 or self.discard:
            self.finished.emit({"status": status})
            return
        stopped = status == "cancelled"
        val_episodes = cfg.val_episodes
        if stopped:
            # The run's last validation (if any) measured older weights: validate what is kept.
            self.stage.emit(f"Stopped at step {trainer.step}: validating the partial model…")
            # A short validation of the stopped run (the first fixed validation episodes), so the kept
            # model has a figure; Stop pressed again (or closing) cuts it short: then there is none.
            val_acc = trainer.validate_stopped(STOPPED_VAL_EPISODES, self.second_token)
            val_episodes = min(cfg.val_episodes, STOPPED_VAL_EPISODES)
            if val_acc is not None:  # the curves and the panel's line show the figure too (no new loss point)
                self.progress.emit({**last, "loss": float("nan"), "val_accuracy": val_acc, "val_episodes": val_episodes})
        else:
            hist = trainer.history
            val_acc = hist["val_accuracy"][-1] if hist["val_accuracy"] else None
        if self.discard:  # closing chose to discard while the partial model was validated
            self.finished.emit({"status": status})
            return
        cls = core.get_algorithm(r.choice.name)
        meta = {"algorithm": r.choice.name, "title": cls.title, "source": describe_source(source),
                "n_way": task.n_way, "k_shot": task.k_shot, "val_accuracy": val_acc, "steps": trainer.step,
                "stopped": stopped, "hparams": dataclasses.asdict(trainer.learner.hparams),
                "measure": measure_words(task.n_way, task.k_shot, validation_data(source), val_episodes) if val_acc is not None else ""}
        path = Path(r.library_root) / f"{r.model_id}.pt"
        core.save_checkpoint(path, trainer.learner, trainer.trainer_state(last.get("elapsed_s", 0.0)), extra=meta)
        # The library checks every model it takes in; checked here, on this thread, the GUI thread's
        # library.add costs only a hash (the verdict is remembered by digest).
        verify_model_bytes(path.read_bytes(), path.name)
        self.finished.emit({"status": status, "model_id": r.model_id, "meta": meta})


class ThreadSession(QObject):
    """Owns a QThread running one worker object; re-emits the worker's signals (named in
    `relayed`, declared by the subclass) on the GUI thread, and `ended` once the thread stops."""
    relayed: tuple[str, ...] = ()

    def __init__(self, worker: QObject, thread_name: str, parent: QObject | None = None):
        super().__init__(parent)
        self.thread = QThread()
        self.thread.setObjectName(thread_name)
        self.worker = worker
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.run)
        for name in self.relayed:
            getattr(self.worker, name).connect(getattr(self, name))
        # The worker's run() returns after finished/failed; then the thread's loop can end.
        self.worker.finished.connect(self.thread.quit)
        self.worker.failed.connect(self.thread.quit)
        self.thread.finished.connect(self.ended)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.worker.cancel()

    def is_running(self) -> bool:
        return self.thread.isRunning()

    def shutdown(self, timeout_ms: int = 1800) -> bool:
        """Closing: cancel the run and wait for its thread; True once it has ended (safe to destroy).
        A subclass first tells its worker what closing makes pointless (a model to write, …)."""
        self.worker.cancel()
        if self.thread.isRunning():
            self.thread.quit()  # ends the loop as soon as run() returns
            return self.thread.wait(timeout_ms)
        return True

    def close_for_good(self, timeout_ms: int = 1800) -> bool:
        """Closing: `shutdown` (cancel, wait for the thread); once the thread has ended, no queued
        signal of this session reaches the closing window, and it is deleted. False while the
        thread is still inside one uninterruptible piece of work."""
        if not self.shutdown(timeout_ms):
            return False
        self.blockSignals(True)
        self.deleteLater()
        return True

    def stop_and_wait(self, timeout_ms: int = 1800) -> bool:
        """Stop as the Stop button does (the run's result is kept), wait for the thread, and deliver
        the worker's queued signals (finished or failed, then ended) now rather than at the next
        turn of the event loop: a window closing after this has the result in hand. False when the
        thread is still inside one uninterruptible piece of work after `timeout_ms`."""
        if not self.worker.stopping:  # a second cancel would cut a stopped run's validation short
            self.worker.cancel()
        if self.thread.isRunning():
            self.thread.quit()  # ends the loop as soon as run() returns
            if not self.thread.wait(timeout_ms):
                return False
        QCoreApplication.sendPostedEvents(self, QEvent.Type.MetaCall)
        return True


class TrainSession(ThreadSession):
    """One meta-training run on its own QThread. Emits the worker's signals on the GUI thread."""
    stage = Signal(str)
    progress = Signal(dict)
    episode = Signal(object)
    finished = Signal(dict)
    failed = Signal(str, str)
    ended = Signal()  # the thread has stopped (after finished/failed)
    relayed = ("stage", "progress", "episode", "finished", "failed")

    def __init__(self, request: TrainRequest, parent: QObject | None = None):
        super().__init__(TrainWorker(request), "fewshot-train", parent)

    def shutdown(self, timeout_ms: int = 1800) -> bool:
        self.worker.discard = True  # closing: do not write a half-trained model
        self.worker.cancel()  # (shutdown's cancel is then the second: do not validate one either)
        return super().shutdown(timeout_ms)


# -- the Compare view's thread side ----------------------------------------------------------------
class CompareWorker(CancellableWorker):
    stage = Signal(str)
    event = Signal(dict)  # core.Comparison.run()'s plain dicts
    finished = Signal(object)  # {"comparison": core.Comparison (sources released), "models": {name: checkpoint bytes}}
    verb, noun = "compare", "The comparison"

    def __init__(self, request: dict[str, Any]):
        super().__init__(request)
        self.discard = False  # closing: skip serialising the models

    def _run(self) -> None:
        import core

        r = self.request
        self.new_token()
        self.stage.emit(f"Preparing {describe_source(r['source']).lower()}…")
        config = core.CompareConfig(**r["config"])
        train, val, test = quietly_collected(lambda: compare_sources(r["source"], int(config.n_way), config.trains))
        where = describe_source(r["source"])
        config.source = (f"{where}: train {train.description}; test {test.description}" + (" (the training classes)" if test is train else "")
                         if train is not None else f"{where}: test {test.description}")
        comp = core.Comparison(config, train, val, test, cancel=self.token)
        for ev in comp.run():
            self.event.emit(ev)
        comp.train_source = comp.val_source = comp.test_source = None  # the GUI keeps the models, not the data
        models = {} if self.discard else comp.model_bytes()
        self.finished.emit({"comparison": comp, "models": models})


class CompareSession(ThreadSession):
    """One comparison on its own QThread; the worker's signals arrive on the GUI thread."""
    stage = Signal(str)
    event = Signal(dict)
    finished = Signal(object)
    failed = Signal(str, str)
    ended = Signal()
    relayed = ("stage", "event", "finished", "failed")

    def __init__(self, request: dict[str, Any], parent: QObject | None = None):
        super().__init__(CompareWorker(request), "fewshot-compare", parent)

    def shutdown(self, timeout_ms: int = 1800) -> bool:
        self.worker.discard = True  # closing: do not serialise the models
        return super().shutdown(timeout_ms)


PROGRESS_EVERY_S = 0.1  # a sweep reports its running point at most this often (and every finished point)


class SweepWorker(CancellableWorker):
    """A sweep of the compared models (and the Studio's model in use, when asked) over shots × ways.
    `request`: {"models": {name: checkpoint bytes}, "studio": (label, checkpoint path) or None,
    "source", "n_way" (the most ways the test source must hold), "device", "config" (SweepConfig's)}."""
    stage = Signal(str)
    progress = Signal(dict)  # core.SweepProgress.to_dict(), with "result" (SweepResult.to_dict()) after each finished point
    finished = Signal(dict)  # the SweepResult.to_dict() of a finished or stopped sweep
    verb, noun, memory_hint = "sweep", "The sweep", "\nTry fewer ways or shots."

    def _run(self) -> None:
        import core

        r = self.request
        self.new_token()
        self.stage.emit(f"Preparing {describe_source(r['source']).lower()}…")
        test = compare_sources(r["source"], int(r["n_way"]))[2]
        device = core.auto_device(r.get("device", "auto"))
        # Copies of their own: the job thread may classify with the comparison's models meanwhile.
        models = {name: core.learner_from_bytes(data, device, prefix=f"compared model {name}: ") for name, data in r["models"].items()}
        if r.get("studio"):
            label, path = r["studio"]
            models[label] = core.load_checkpoint(path, device)[0]
        sweep = core.Sweep(models, test, core.SweepConfig(**r["config"]), cancel=self.token)
        self.progress.emit({"result": sweep.result.to_dict()})
        self.stage.emit(f"Sweeping on {device.type.upper()}")
        last_emit, done = 0.0, 0
        for p in sweep.run():
            now = time.monotonic()
            if p.points_done != done or p.status != "running":
                done = p.points_done
                self.progress.emit({**p.to_dict(), "result": sweep.result.to_dict()})
                last_emit = now
            elif now - last_emit >= PROGRESS_EVERY_S:
                self.progress.emit(p.to_dict())
                last_emit = now
        self.finished.emit(sweep.result.to_dict())


class SweepSession(ThreadSession):
    """One sweep on its own QThread; the worker's signals arrive on the GUI thread."""
    stage = Signal(str)
    progress = Signal(dict)
    finished = Signal(dict)
    failed = Signal(str, str)
    ended = Signal()
    relayed = ("stage", "progress", "finished", "failed")

    def __init__(self, request: dict[str, Any], parent: QObject | None = None):
        super().__init__(SweepWorker(request), "fewshot-sweep", parent)
