"""Meta-training from the Studio, and which model is in use and why.

`train` starts a run (`workers.TrainSession`) of the project's algorithm on its task settings;
the training panel shows its curves. When it ends, the checkpoint joins the model library and
becomes the model in use if it `replaces` the previous one (a stopped run that scored lower is
kept, not used); `model_note` says why when that is not obvious, in the status bar, until the next
run, another model or the Compare view (`forget_notes`). `current_model` is the library entry
Classify uses; the training panel shows that model's training record (after a stopped run that
was not used too, with a line saying why). Every figure shown names its measure (`accuracy_text`).
Renaming and deleting library models are here too (deleting the one in use changes which model
is), and importing a checkpoint trained elsewhere (`fewshot train`, torchrun)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox

from core.tasks import DEFAULT_TASK

from app.engine import jobs, sources, workers
from app.model import EngineState, Project, Source, TrainRequest
from app.model.library import ModelFileError, ModelLibrary, accuracy_text, comparable, measure_words, replaces, scores_at_least
from app.model.words import plural

from .classifier import quick_seconds
from .dialogs import Dialogs
from .panels import QueryResults, TrainingCurves


def recorded_measure(checkpoint: dict) -> str:
    """What a checkpoint's last validation measured, as far as its record says: the app writes
    the measure with it; a `fewshot train` record holds the ways, shots and episodes (not which
    data). A stopped run's quick validation used fewer episodes than its settings say."""
    extra = checkpoint.get("extra") or {}
    if extra.get("measure"):
        return str(extra["measure"])
    trainer = checkpoint.get("trainer") or {}
    config = trainer.get("config") or {}
    if not (trainer.get("history") or {}).get("val_accuracy"):
        return ""
    episodes = 0 if extra.get("stopped") else int(config.get("val_episodes") or 0)
    return measure_words(int(config.get("n_way", DEFAULT_TASK.n_way)), int(config.get("k_shot", DEFAULT_TASK.k_shot)), "", episodes)


class TrainingController(QObject):
    status = Signal(str, int)  # a status-bar message and how long it shows (ms; 0 = until replaced)
    runningChanged = Signal(bool)  # a run started (True) or has ended and its thread is gone (False)
    modelsChanged = Signal()  # the library changed: a run added a model, one was renamed or deleted
    classifyWanted = Signal()  # a new model is in use and there is something to classify with it
    liveEpisode = Signal(object)  # the run's latest training episode, drawn (the Episodes tab shows it)

    def __init__(self, project: Project, library: ModelLibrary, panel: TrainingCurves, query: QueryResults, dialogs: Dialogs,
                 engine: EngineState, other_run_busy: Callable[[], bool], parent: QObject | None = None):
        super().__init__(parent)
        self.project, self.library, self.training, self.query, self.dialogs = project, library, panel, query, dialogs
        self.engine = engine  # whether the engine is loaded
        self.other_run_busy = other_run_busy  # a comparison is running: no Studio training meanwhile
        self.session: workers.TrainSession | None = None
        self._after_training: str | None = None
        self._record_shown: str | None = None  # the model whose training record the panel shows
        self.model_note: tuple[str, str] | None = None  # (model id, why it is the model in use): the status bar's words
        self.record_note: tuple[str, str] | None = None  # (model id, a line above its record in the panel): why it is shown
        self._show_model_in_use = False  # when the run's thread is gone: the panel shows the model in use, not the run

    def train(self, quick: bool = False, then: str | None = None, overrides: dict[str, Any] | None = None) -> bool:
        """Meta-train the project's algorithm on its task settings. `overrides`: TaskSettings
        fields for this run only (a `source` may be given as a dict); the Task tab keeps its own."""
        if self.session is not None or self.other_run_busy():
            return False
        if not self.engine.ready:
            self.status.emit("The engine is still loading…", 3000)
            return False
        import core

        task = self.project.task
        if quick:
            # Quick meta-training: built-in source, a one-minute budget (or the Task tab's shorter
            # time limit), the chosen algorithm's settings.
            task = task.replace(source=Source(), max_seconds=quick_seconds(task))
        changes = dict(overrides or {})
        if isinstance(changes.get("source"), dict):
            changes["source"] = Source.from_dict(changes["source"])
        task = task.replace(**changes)
        # The hyperparameters are the engine's to validate (core.create): a bad one fails the run
        # with the engine's message ("Cannot meta-train").
        request = TrainRequest(self.project.choice, task, str(self.library.root), self.library.new_id(self.project.algorithm))
        self.session = workers.TrainSession(request, self)
        self.session.stage.connect(lambda text: self.status.emit(text, 0))
        self.session.progress.connect(self.training.add)
        self.session.episode.connect(self.liveEpisode)
        self.session.finished.connect(self._training_finished)
        self.session.failed.connect(self._training_failed)
        self.session.ended.connect(self._training_ended)
        self._after_training = then
        title = core.ALGORITHMS[self.project.algorithm].title
        self.forget_notes()  # they spoke of the last run
        self._record_shown = None  # the panel shows this run now
        self.training.start(f"Starting {title}…", task.steps,
                            (task.n_way, task.k_shot, sources.validation_data(task.source.to_dict()), request.val_episodes))
        self.runningChanged.emit(True)
        self.session.start()
        return True

    def stop_training(self) -> None:
        if self.session is not None:
            self.session.stop()
            self.status.emit("Stopping…", 0)

    def _training_finished(self, result: dict) -> None:
        self.training.stop()
        model_id = result.get("model_id")
        if not model_id:
            self.status.emit("Training stopped", 5000)
            self._show_model_in_use = True  # nothing was kept: the panel goes back to the model in use
            return
        previous = self.current_model()
        entry = self.library.add(model_id, **result["meta"])
        path = str(self.library.path(entry.id))
        if replaces(entry, previous):
            self._record_shown = path  # the panel already shows this run
            self.project.set_model_file(path)
            self.model_note = self._adopted_note(entry, previous)
            jobs.run_job(lambda: jobs.forget_model(), lambda _: None, lambda _: None, owner=self.parent())  # the window: a result after it closed is dropped
            self.query.clear_results()
            self.status.emit(f"Model saved: {entry.name}", 5000)
            if self._after_training == "classify" or self.project.queries:
                self.classifyWanted.emit()
        else:
            # A stopped run that scored lower (or has no figure): kept in the library, not used. The
            # panel goes back to the model in use, and says why the run's curves left it.
            if self.project.model_file is None:
                # The model in use was this algorithm's latest (a starter, say), and the library's
                # latest is now this run: name the model in use, or it would change unasked.
                self.project.set_model_file(str(self.library.path(previous.id)))
            # The status bar is shared with messages: its words stay short, the panel says the rest.
            if entry.val_accuracy is None:
                scored, why = "has no figure (its quick validation was skipped)", "the stopped run has no figure"
            elif not comparable(entry, previous):
                scored = (f"scored {accuracy_text(entry)}: a different measure from the model in use's figure "
                          f"({accuracy_text(previous)}), so the two cannot be ranked")
                why = "the stopped run's figure measures something else"
            else:
                scored, why = f"scored {accuracy_text(entry)}", "the stopped run scored lower"
            self.model_note = (previous.id, f"still in use: {why} and is only kept in Models")
            self.record_note = (previous.id, f"Not in use: the run you stopped after {plural(entry.steps, 'step')} {scored}; a stopped run "
                                             "replaces the model in use only if it scores at least as well on the same measure. "
                                             "It is kept in Models.")
            self._show_model_in_use = True
            self.status.emit("Stopped run saved in Models", 5000)
        self.modelsChanged.emit()

    @staticmethod
    def _adopted_note(entry, previous) -> tuple[str, str] | None:
        """Why a run that just ended is the model in use, when that is not obvious."""
        if previous is None:
            return (entry.id, "in use: the run you stopped; there is no other model yet") if entry.stopped else None
        if entry.stopped:
            return entry.id, "in use: the run you stopped scored at least as well as the model before it (still in Models)"
        if not comparable(entry, previous):
            return entry.id, "in use: the run that just finished (a finished run always is); the model before it is still in Models"
        if not scores_at_least(entry, previous):
            return entry.id, "in use: the run that just finished (a finished run always is); the model before it scored higher and is still in Models"
        return None

    def forget_notes(self) -> None:
        """The notes on why a model is in use spoke of the last run: a new run, another model or
        another view makes them stale."""
        self.model_note = self.record_note = None

    def _training_failed(self, title: str, message: str) -> None:
        self.training.failed(title)
        self.status.emit("", 0)
        self.dialogs.inform(title, message)

    def _training_ended(self) -> None:
        session, self.session = self.session, None
        if session is not None:
            session.thread.wait()
            session.deleteLater()
        if self._show_model_in_use:
            self._show_model_in_use = False
            self.show_training_record(self.current_model())
        self.runningChanged.emit(False)

    def current_model(self):
        """The library entry Classify uses: the project's model, else this algorithm's latest."""
        entry = self.library.find_by_path(self.project.model_file)
        if entry is None and self.project.model_file is None:
            entry = self.library.latest_for(self.project.algorithm)
        return entry

    def model_text(self, e) -> str:
        """The status bar's words for the model in use `e` (and why it is, when not obvious)."""
        if self.model_note and (e is None or self.model_note[0] != e.id):
            self.forget_notes()  # another model is in use now: the note is history
        if e is None:
            return "No model yet — Train, or Classify to train quickly"
        acc = f", {accuracy_text(e)}" if e.val_accuracy is not None else ""
        why = f" — {self.model_note[1]}" if self.model_note else ""
        return f"Model: {e.name}{acc}{why}"

    def show_training_record(self, entry) -> None:
        """The training panel shows how the model in use was meta-trained (the record its checkpoint
        keeps), so picking another model never leaves the last run's curves under its name. A live
        run's curves are never replaced."""
        path = str(self.library.path(entry.id)) if entry is not None else None
        if self.session is not None or path == self._record_shown:
            return
        self._record_shown = path
        if path is None:
            self.training.reset()
            return
        name, figure = entry.name, accuracy_text(entry) if entry.val_accuracy is not None else ""
        note = self.record_note[1] if self.record_note and self.record_note[0] == entry.id else ""

        def read() -> dict:
            import core

            return core.read_checkpoint(path).get("trainer") or {}

        def shown(record: dict) -> None:
            if self.session is None and self._record_shown == path:
                # A starter's figure is a test: its validation points measured something else.
                self.training.show_record(record, name, figure, own_validation=entry.starter, note=note)

        def failed(exc: Exception) -> None:
            if self.session is None and self._record_shown == path:
                # The reason without the file path and the library's own wording; all of it on hover.
                reason = str(exc).removeprefix(f"{path}: ").split(" (")[0]
                self.training.reset(f"{name} — training record unreadable: {reason}", detail=str(exc))

        jobs.run_job(read, shown, failed, owner=self.parent())  # the window: a result after it closed is dropped

    def rename_model(self, model_id: str, name: str) -> None:
        self.library.rename(model_id, name)
        self.modelsChanged.emit()

    def delete_model(self, model_id: str) -> None:
        """Delete a model from the library (asked first); deleting the one in use leaves none chosen."""
        e = self.library.get(model_id)
        if e is not None and e.starter:
            self.hide_starter(e)
            return
        if e is None or self.dialogs.ask("Delete model", f"Delete “{e.name}”? This cannot be undone.") != QMessageBox.StandardButton.Yes:
            return
        path = str(self.library.path(model_id))
        jobs.run_job(lambda: jobs.forget_model(path), lambda _: None, lambda _: None, owner=self.parent())  # the window: a result after it closed is dropped
        self.library.delete(model_id)
        if self.project.model_file == path:
            self.project.set_model_file(None)
        self.modelsChanged.emit()

    def hide_starter(self, e) -> None:
        """A starter model ships with the app: Delete hides it (asked first) — out of the list and
        out of use — and Show Starter Models brings it back."""
        if self.dialogs.ask("Hide starter model", f"Hide “{e.name}”? It ships with the app, so it is hidden, not deleted: "
                            "“Show starters” in the Models tab brings it back.") != QMessageBox.StandardButton.Yes:
            return
        self.library.hide(e.id)
        if self.project.model_file == str(self.library.path(e.id)):
            self.project.set_model_file(None)
        self.modelsChanged.emit()

    def show_starters(self) -> None:
        self.library.show_starters()
        self.modelsChanged.emit()

    def import_model_file(self, path: str, then: Callable[[str], None]) -> None:
        """Add a checkpoint written elsewhere — by `fewshot train`, in one process or several under
        torchrun — to the library; `then(model id)` once it is in (the window uses it). Read and
        checked on the job thread; a damaged or foreign file is one clear message and changes nothing."""
        if not self.engine.ready:
            self.status.emit("The engine is still loading…", 3000)
            return

        def read() -> tuple[bytes, dict]:
            import core

            with open(path, "rb") as fh:
                data = fh.read()
            core.verify_checkpoint(data)  # a short reason for a damaged or foreign file
            checkpoint = core.read_checkpoint(path)
            return data, {**core.checkpoint_summary(checkpoint), "measure": recorded_measure(checkpoint)}

        def imported(result: tuple[bytes, dict]) -> None:
            data, meta = result
            ranks = meta.pop("ranks", None)
            try:
                entry = self.library.import_bytes(data, name=f"{meta['title']} ({Path(path).name})", **meta)
            except (ModelFileError, OSError) as exc:
                self.dialogs.inform("Cannot import the model", f"{Path(path).name}: {exc}")
                return
            self.modelsChanged.emit()
            trained = f", meta-trained on {ranks} processes (torchrun)" if ranks else ""
            self.status.emit(f"Imported “{entry.name}”{trained}", 5000)
            then(entry.id)

        def failed(exc: Exception) -> None:
            reason = str(exc).removeprefix(f"{path}: ")
            self.dialogs.inform("Cannot import the model", f"{Path(path).name}: {reason}")

        jobs.run_job(read, imported, failed, owner=self.parent())
