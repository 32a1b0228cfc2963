"""Project files: New, Open (read and checked on the job thread), Save, Save As, and the
"unsaved changes" question. The window shows what it reports (`openingChanged`, `adopted`,
`titleChanged`, `status`); a project taken in replaces the model's contents (`Project.replace_with`)."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtWidgets import QMessageBox

from app.engine import jobs
from app.model import projectfile
from app.model import Project
from app.model.library import ModelFileError, ModelLibrary

from .dialogs import Dialogs
from .undo import Editor


class ProjectFiles(QObject):
    opened = Signal(bool)  # an open ended: True when the project was taken over
    openingChanged = Signal(object)  # the Path being read on the job thread; None when that has ended
    adopted = Signal()  # another project is in (New, Open, Restore): every view shows it afresh
    saved = Signal()  # the project is on disk as it is now: an autosave has nothing to add
    titleChanged = Signal()  # the project's path or unsaved mark changed outside the model's signals
    status = Signal(str, int)  # a status-bar message and how long it shows (ms)

    def __init__(self, project: Project, editor: Editor, library: ModelLibrary, settings: QSettings, dialogs: Dialogs,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.project, self.editor, self.library, self.settings, self.dialogs = project, editor, library, settings, dialogs
        self.opening: Path | None = None  # the project file being read on the job thread

    def model_payload(self) -> tuple[bytes | None, dict]:
        entry = self.library.find_by_path(self.project.model_file)
        if entry is None or not self.library.path(entry.id).is_file():
            return None, {}
        from dataclasses import asdict
        return self.library.path(entry.id).read_bytes(), asdict(entry)

    def save(self) -> bool:
        if self.opening is not None:
            return False
        if not self.project.path:
            return self.save_as()
        return self.save_to(self.project.path)

    def save_as(self) -> bool:
        if self.opening is not None:
            return False
        start = self.project.path or str(Path(self.settings.value("folders/projects", str(Path.home()))) / f"Untitled{projectfile.SUFFIX}")
        path = self.dialogs.save_path("Save project", start, f"Few-Shot Studio projects (*{projectfile.SUFFIX})")
        if not path:
            return False
        if not path.endswith(projectfile.SUFFIX):
            path += projectfile.SUFFIX
        return self.save_to(path)

    def save_to(self, path: str | Path) -> bool:
        model, meta = self.model_payload()
        try:
            projectfile.save_project(self.project, path, model, meta)
        except OSError as exc:
            self.dialogs.inform("Cannot save", f"{path}: {exc.strerror or exc}")
            return False
        self.project.path = str(path)
        self.project.dirty = False
        self.saved.emit()  # the saved file holds everything: nothing to restore
        self.settings.setValue("folders/projects", str(Path(path).parent))
        self.titleChanged.emit()
        self.status.emit(f"Saved {path}", 3000)
        return True

    def confirm_discard(self) -> bool:
        if not self.project.dirty or not any(c.samples for c in self.project.classes) and not self.project.queries and not self.project.comparison:
            return True
        answer = self.dialogs.ask("Unsaved changes", "Save the changes to this project first?",
                                  QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
                                  QMessageBox.StandardButton.Save)
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    def new_project(self) -> None:
        if self.opening is None and self.confirm_discard():
            self._adopt(Project())

    def open_dialog(self) -> None:
        if self.opening is not None or not self.confirm_discard():
            return
        start = self.settings.value("folders/projects", str(Path.home()))
        path = self.dialogs.open_path("Open project", start, f"Few-Shot Studio projects (*{projectfile.SUFFIX});;All files (*)")
        if path:
            self.open_path(path)

    def open_path(self, path: str | Path, keep_path: bool = True, then=None) -> bool:
        """Start opening a project file; False when another open is still in progress.

        The file is read, bounded and checked (models included) on the job thread, so a large or
        hostile file never freezes the window; meanwhile the status bar says so and nothing can
        edit the project it will replace. On any error the message says why and the current
        project stays as it was. `opened(ok)` tells when it ended; `then()` runs after a
        successful open."""
        if self.opening is not None:
            self.status.emit(f"Still opening {self.opening.name}…", 3000)
            return False
        path = Path(path)
        self._show_opening(path)

        def opened(loaded: projectfile.LoadedProject) -> None:
            self._show_opening(None)
            project = loaded.project
            refused = loaded.refused_text(path)
            if loaded.model:
                keep = ("name", "algorithm", "title", "source", "n_way", "k_shot", "val_accuracy", "measure", "steps", "date", "hparams", "stopped",
                        "sha256")
                meta = {k: v for k, v in loaded.meta.items() if k in keep}
                meta.setdefault("algorithm", project.algorithm)
                try:
                    entry = self.library.import_bytes(loaded.model, **meta)
                    project.model_file = str(self.library.path(entry.id))
                except (ModelFileError, OSError) as exc:
                    refused = "\n".join(filter(None, [refused, f"{path.name}: its model was not added to the library: {exc}."]))
            if not keep_path:
                project.path = None
            self.settings.setValue("folders/projects", str(path.parent))
            self._adopt(project)
            if refused:
                self.dialogs.inform("Model not loaded", refused)
            if then is not None:
                then()
            self.opened.emit(True)

        def failed(exc: Exception) -> None:
            self._show_opening(None)
            text = str(exc) if isinstance(exc, projectfile.ProjectFileError) else f"{path}: {exc.__class__.__name__}: {exc}"
            self.dialogs.inform("Cannot open project", text)
            self.opened.emit(False)

        jobs.run_job(lambda: projectfile.load_project(path), opened, failed, owner=self.parent())  # the window: a result after it closed is dropped
        return True

    def _show_opening(self, path: Path | None) -> None:
        self.opening = path
        self.openingChanged.emit(path)

    def _adopt(self, project: Project) -> None:
        self.editor.clear()  # undo never reaches into another project
        self.project.replace_with(project)
        self.adopted.emit()

    def mark_restored(self, origin: str) -> None:
        """A project just restored from an autosave belongs to the file it came from (if any) and
        is unsaved."""
        self.project.path = origin or None
        self.project.dirty = True
        self.titleChanged.emit()
