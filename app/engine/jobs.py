"""Short jobs off the GUI thread: `run_job` runs a function on a one-thread pool (classify, source
checks, model loading) and delivers its result or error on the GUI thread. One thread: jobs share
the loaded model, and keeping them serial means no two threads ever use the same learner at once.

`core` (and so torch) is imported inside the job functions, never at module import: the window
shows before torch has loaded. Long runs (meta-training, comparisons) have threads of their own:
`app.engine.workers`.
"""
from __future__ import annotations

import gc
import os
import sys
import threading
from typing import Any, Callable

import shiboken6
from PySide6.QtCore import QObject, QRunnable, QThread, QThreadPool, Signal


def lower_thread_priority(niceness: int = 10) -> None:
    """Make the calling worker thread yield the CPU to the GUI thread.

    On a busy machine the GUI thread otherwise waits tens of milliseconds for a core while the
    trainer computes; a nicer worker keeps the event loop's stalls short. On Linux niceness is
    per thread (setpriority on the thread id); elsewhere QThread priorities do the same job.
    """
    if sys.platform.startswith("linux"):
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
        except OSError:
            pass
    else:
        thread = QThread.currentThread()
        if thread is not None:
            thread.setPriority(QThread.Priority.LowPriority)


def quietly_collected(fn: Callable[[], Any]) -> Any:
    """Run `fn` with the garbage collector paused, then freeze what it left behind.

    Importing torch (and torch's lazy imports on the first optimizer step) creates hundreds of
    thousands of long-lived objects; a full collection during that walks them all while holding
    the GIL, freezing the GUI for 100-250 ms (measured). Frozen objects are never scanned again.
    """
    gc.disable()
    try:
        return fn()
    finally:
        gc.freeze()
        gc.enable()


def _compared(holder: dict, device: str):
    """(job thread) The comparison of `holder`, its models loaded: those of a reopened project are
    loaded from their checkpoint bytes on first use."""
    import core

    comp = holder["comparison"]
    if not comp.learners and holder.get("models"):
        comp.load_models(holder["models"], core.auto_device(device))
    if not comp.learners:
        raise core.CompareError("this comparison holds no trained models (a JSON export keeps none): run it again to classify")
    return comp


def classify_grid(holder: dict, support: list[bytes], labels: list[int], queries: list[bytes], device: str) -> dict[str, Any]:
    """(job thread) Every compared model's probabilities for the person's queries."""
    return _compared(holder, device).classify_images(support, labels, queries)


def explain_grid(holder: dict, support: list[bytes], labels: list[int], query: bytes, classes: list[str], query_name: str,
                 device: str) -> dict[str, Any]:
    """(job thread) Every compared model's explanation of one query: {algorithm: Explanation, or
    the message (a str) of a model that cannot classify this support set}."""
    out = _compared(holder, device).explain_images(support, labels, [query], classes, [query_name])
    return {name: e if isinstance(e, str) else e[0] for name, e in out.items()}


class _JobSignals(QObject):
    done = Signal(object)
    error = Signal(object)


class _Job(QRunnable):
    def __init__(self, fn: Callable[[], Any], signals: _JobSignals):
        super().__init__()
        self.fn, self.signals = fn, signals
        self.setAutoDelete(True)

    def run(self) -> None:
        lower_thread_priority()
        try:
            result = self.fn()
        except Exception as exc:  # noqa: BLE001 - reported on the GUI thread
            self.signals.error.emit(exc)
        else:
            self.signals.done.emit(result)


_pool: QThreadPool | None = None
_live: set[_JobSignals] = set()  # keep signal carriers alive until their job reported


def job_pool() -> QThreadPool:
    global _pool
    if _pool is None:
        _pool = QThreadPool()
        _pool.setMaxThreadCount(1)
        _pool.setExpiryTimeout(-1)
    return _pool


def run_job(fn: Callable[[], Any], on_done: Callable[[Any], None], on_error: Callable[[Exception], None],
            owner: QObject | None = None) -> None:
    """Run `fn` on the job thread; its result or error reaches `on_done` / `on_error` on the GUI
    thread — unless `owner` (a window) has been deleted or is closing for good (its `closing` is
    true) meanwhile: a result that arrives after its window is gone is dropped rather than written
    into deleted widgets."""
    signals = _JobSignals()  # created on the GUI thread, so its slots run there
    _live.add(signals)

    def finish(handler, value):
        _live.discard(signals)
        if owner is not None and (not shiboken6.isValid(owner) or getattr(owner, "closing", False)):
            return
        handler(value)

    signals.done.connect(lambda v: finish(on_done, v))
    signals.error.connect(lambda e: finish(on_error, e))
    job_pool().start(_Job(fn, signals))


# -- classification (runs inside a job) ------------------------------------------------------
# The one cache of loaded models, used by the one job thread only (classify, explain, the
# Episodes view): (checkpoint path, device) -> (the file's modification time, learner).
_models: dict[tuple[str, str], tuple[int, Any]] = {}


def forget_model(path: str | None = None) -> None:
    for key in [k for k in _models if path is None or k[0] == path]:
        _models.pop(key, None)


def cached_learner(model_path: str, device: str):
    """The checkpoint's learner on `device`, loaded once and kept until `forget_model` or until
    the file changes (a run that writes its checkpoint again at the same path)."""
    import core

    dev = core.auto_device(device)
    key, mtime = (str(model_path), str(dev)), os.stat(model_path).st_mtime_ns
    if key not in _models or _models[key][0] != mtime:
        _models[key] = (mtime, core.load_checkpoint(model_path, dev)[0])
    return _models[key][1]


def classify(model_path: str, device: str, support: list[tuple[int, bytes]], queries: list[bytes]) -> dict[str, Any]:
    """Adapt the checkpoint's learner on the support set and predict every query, each on its own.

    Returns {"probs": [[p_class0, ...] per query], "device": "cpu"} — plain Python only.
    """
    import core

    learner = cached_learner(model_path, device)
    probs = core.predict(learner, [png for _, png in support], [label for label, _ in support], queries)
    return {"probs": probs.tolist(), "device": learner.device.type}


def explain(model_path: str, device: str, support: list[tuple[int, bytes]], query: bytes, classes: list[str],
            query_name: str) -> dict[str, Any]:
    """How the checkpoint's learner, adapted on the support set, classifies one query:
    {"explanation": core.Explanation (plain data), "device": "cpu"}. Its probabilities are those
    `classify` gives for the same query (both classify each query on its own)."""
    import core

    learner = cached_learner(model_path, device)
    try:
        [explanation] = core.explain_images(learner, [png for _, png in support], [label for label, _ in support], [query],
                                            classes, [query_name])
    except ValueError as exc:  # e.g. more ways than the model was meta-trained for: the engine's words
        raise core.ConfigError(str(exc)) from exc
    return {"explanation": explanation, "device": learner.device.type}
