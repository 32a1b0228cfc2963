"""Classification, off the GUI thread: adapt the model in use on the support set and classify the
query set (and the live drawing). One job at a time; while one runs only the newest request
waits, and a result computed for a model, class names or support set that has since changed is
stale and never shown."""
from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QMessageBox

from app.engine import jobs
from app.model import EngineState, Project, TaskSettings
from app.model.library import ModelLibrary
from app.model.words import plural

from .dialogs import Dialogs
from .panels import QueryResults

LIVE_MS = 250  # a drawn query is re-classified at most this often while drawing
QUICK_SECONDS = 60  # the budget of the "quick meta-training" offered when no model exists


def quick_seconds(task: TaskSettings) -> int:
    """The quick meta-training's time budget: QUICK_SECONDS, or the Task tab's time limit when that
    is shorter (a limit the person set is a limit, whichever way training starts)."""
    limit = task.max_seconds
    return min(QUICK_SECONDS, limit) if limit > 0 else QUICK_SECONDS


class Classifier(QObject):
    """Classifies the project's queries with the model in use (`current_model()`, the window's
    choice) and shows the results in the query panel."""

    status = Signal(str, int)  # a status-bar message and how long it shows (ms)
    quickTrainWanted = Signal()  # no model yet, and the person asked to meta-train one quickly, then classify

    def __init__(self, project: Project, library: ModelLibrary, query: QueryResults, dialogs: Dialogs,
                 current_model: Callable, engine: EngineState, parent: QObject | None = None):
        super().__init__(parent)
        self.project, self.library, self.query, self.dialogs = project, library, query, dialogs
        self.current_model = current_model
        self.engine = engine  # whether the engine is loaded
        self._classify_busy = False
        self._classify_again: dict | None = None
        self._classify_ids: list[int] = []  # the queries the running classification covers
        self._running_key: tuple | None = None  # (context, query ids) of the running classification
        self.live_timer = QTimer(self, singleShot=True, interval=LIVE_MS)
        self.live_timer.timeout.connect(self.classify_live)
        self.auto_classify_timer = QTimer(self, singleShot=True, interval=100)
        self.auto_classify_timer.timeout.connect(self._auto_classify)
        query.classifyRequested.connect(lambda: self.classify())
        query.liveChanged.connect(lambda: self.live_timer.isActive() or self.live_timer.start())
        project.queriesChanged.connect(self.maybe_auto_classify)
        project.classesChanged.connect(self.maybe_auto_classify)

    def maybe_auto_classify(self) -> None:
        if self.engine.ready and self.current_model() is not None and self.project.validity()[0] and self._unanswered():
            self.auto_classify_timer.start()

    def _unanswered(self) -> bool:
        return any(s.id not in self.project.predictions for s in self.project.queries)

    def _auto_classify(self) -> None:
        # Asked again when the timer fires: a Classify click meanwhile may already have answered
        # every query (on a busy machine the timer can fire after that job's result).
        if self._unanswered():
            self.classify(quiet=True)

    def classify(self, quiet: bool = False) -> None:
        """Adapt on the support set and classify every query (and the live drawing), off the GUI thread."""
        ok, why = self.project.validity()
        if not ok:
            if not quiet:
                self.dialogs.inform("The support set is not ready", f"The support set {why}.")
            return
        entry = self.current_model()
        if entry is None:
            if quiet or not self.engine.ready:
                return
            seconds = quick_seconds(self.project.task)
            budget = f"{seconds} s, the Task tab's time limit" if seconds < QUICK_SECONDS else f"about {seconds} s"
            import core

            answer = self.dialogs.ask("No meta-trained model",
                                      f"There is no meta-trained {core.ALGORITHMS[self.project.algorithm].title} model yet.\n\n"
                                      f"Meta-train one quickly on the built-in characters ({budget}) and then classify?")
            if answer == QMessageBox.StandardButton.Yes:
                self.quickTrainWanted.emit()
            return
        live = self.query.drawing()
        self._submit_classify(entry, [s.id for s in self.project.queries], [s.png for s in self.project.queries], live)

    def classify_live(self) -> None:
        drawing = self.query.drawing()
        if drawing is None:
            self.query.set_live(None, None)
            return
        entry = self.current_model()
        ok, why = self.project.validity()
        if entry is None or not ok:
            self.query.set_live(None, None, "Train a model first" if entry is None else f"Support set {why}")
            return
        self._submit_classify(entry, [], [], drawing)

    def _classify_context(self, entry) -> tuple:
        """What a classification's result depends on besides its images: the model, the class
        names and the support samples. A result computed for another context is stale."""
        return (str(self.library.path(entry.id)) if entry is not None else None, tuple(self.project.class_names()),
                tuple(s.id for c in self.project.classes for s in c.samples))

    def _submit_classify(self, entry, ids: list[int], queries: list[bytes], live: bytes | None) -> None:
        request = {"entry": entry, "ids": ids, "queries": queries, "live": live}
        if self._classify_busy and live is None and not self._classify_again \
                and self._running_key == (self._classify_context(entry), tuple(ids)):
            return  # the running job already computes exactly this (e.g. the auto-classify timer firing meanwhile)
        if self._classify_busy:
            # One job at a time; while one runs, remember only the newest request (throttling).
            if self._classify_again and not live:
                request["live"] = self._classify_again.get("live")
            if self._classify_again and not ids:  # a live-only request must not drop queued queries
                request.update(ids=self._classify_again["ids"], queries=self._classify_again["queries"])
            self._classify_again = request
            self._show_pending()
            return
        self._classify_busy = True
        self._classify_ids = list(ids)
        self._show_pending()
        context = self._classify_context(entry)
        self._running_key = (context, tuple(ids))
        names = list(context[1])
        support = [(ci, s.png) for ci, c in enumerate(self.project.classes) for s in c.samples]
        path, device = context[0], self.project.task.device
        all_queries = queries + ([live] if live is not None else [])

        def done(result: dict) -> None:
            self._classify_busy, self._classify_ids = False, []
            # A result for a model, class names or support set that changed while the job ran is
            # stale: showing it would put the old model's predictions next to the new model's name.
            if context == self._classify_context(self.current_model()):
                probs = result["probs"]
                if live is not None:
                    self.query.set_live(names, probs[-1])
                    probs = probs[:-1]
                self.project.predictions.set(names, dict(zip(ids, probs)))
                self.status.emit(f"Classified {plural(len(all_queries), 'image')} on {result['device'].upper()}", 3000)
            self._next_classify()

        def failed(exc: Exception) -> None:
            self._classify_busy, self._classify_ids = False, []
            if context == self._classify_context(self.current_model()):  # an error about a replaced model is moot
                self.dialogs.inform("Cannot classify", str(exc))
            self._next_classify()

        jobs.run_job(lambda: jobs.classify(path, device, support, all_queries), done, failed, owner=self.parent())  # the window: a result after it closed is dropped

    def _next_classify(self) -> None:
        nxt, self._classify_again = self._classify_again, None
        entry = self.current_model()  # the model in use now: it may have changed since the request queued
        if nxt is not None and entry is not None:
            self._submit_classify(entry, nxt["ids"], nxt["queries"], nxt["live"])
        else:
            self._show_pending()

    def classifying(self) -> bool:
        """Whether a classification is running or queued."""
        return self._classify_busy or self._classify_again is not None

    def _show_pending(self) -> None:
        """Rows that a running or queued classification covers say so until their result arrives."""
        queued = self._classify_again["ids"] if self._classify_again else []
        self.query.set_pending(set(self._classify_ids) | set(queued))
