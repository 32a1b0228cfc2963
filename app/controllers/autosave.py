"""Autosave and crash recovery.

A clean exit deletes the autosave, so one found at start-up was left by a session that
crashed or was killed. It is set aside (renamed) before this session's first autosave and
offered from there: this session's own autosaves, written a few seconds after any change
(opening a project from the command line is one), are never mistaken for it.
"""
from __future__ import annotations

import datetime as _dt
import os
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, QTimer
from PySide6.QtWidgets import QMessageBox

from app.model import projectfile
from app.model import Project

from .dialogs import Dialogs
from .project_files import ProjectFiles

AUTOSAVE_DEBOUNCE_MS = 1500
AUTOSAVE_PERIOD_MS = 60_000


class Autosave(QObject):
    """Writes the project to `autosave_path()` a moment after each change (`timer`, started by
    the window) and every minute while it is unsaved; offers a previous session's work back."""

    _restore_after_open = False
    _autosave_claimed = False  # this session has set aside any autosave a previous session left

    def __init__(self, project: Project, files: ProjectFiles, data_path: Path, settings: QSettings, dialogs: Dialogs,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.project, self.files, self.data_path, self.settings, self.dialogs = project, files, data_path, settings, dialogs
        self.timer = QTimer(self, singleShot=True, interval=AUTOSAVE_DEBOUNCE_MS)
        self.timer.timeout.connect(self.autosave)
        self.period = QTimer(self, interval=AUTOSAVE_PERIOD_MS)
        self.period.timeout.connect(lambda: self.project.dirty and self.autosave())
        self.period.start()
        files.saved.connect(self.drop_autosave)  # the saved file holds everything: nothing to restore
        files.opened.connect(lambda _ok: self._after_open())

    def autosave_path(self) -> Path:
        return self.data_path / f"autosave{projectfile.SUFFIX}"

    def recovered_path(self) -> Path:
        return self.data_path / f"autosave-recovered{projectfile.SUFFIX}"

    def _set_aside_previous_autosave(self) -> None:
        if self._autosave_claimed:
            return
        self._autosave_claimed = True
        try:
            if self.autosave_path().is_file():
                os.replace(self.autosave_path(), self.recovered_path())
                self.settings.setValue("autosave/recovered_origin", self.settings.value("autosave/origin", ""))
        except OSError:
            pass  # then there is nothing this session can offer back

    def drop_autosave(self) -> None:
        """Delete this session's autosave (never a previous session's, which is set aside first)."""
        self._set_aside_previous_autosave()
        self.autosave_path().unlink(missing_ok=True)

    def autosave(self) -> None:
        self._set_aside_previous_autosave()
        if not self.project.dirty:
            # Just opened or saved: the file on disk holds it all; an autosave could only go stale.
            self.drop_autosave()
            return
        model, meta = self.files.model_payload()
        try:
            projectfile.save_project(self.project, self.autosave_path(), model, meta)
            self.settings.setValue("autosave/origin", self.project.path or "")
        except OSError:
            pass  # a failed autosave must never interrupt work; the next change retries

    def offer_restore(self) -> None:
        """Offer the work a session that did not close normally autosaved (once the engine is up,
        and after any project being opened, e.g. from the command line, is in)."""
        if self.files.opening is not None:
            self._restore_after_open = True  # ask once the project being opened is in
            return
        self._set_aside_previous_autosave()
        path = self.recovered_path()
        if not path.is_file():
            return
        when = _dt.datetime.fromtimestamp(path.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
        answer = self.dialogs.ask("Restore unsaved work?", f"Few-Shot Studio did not close normally last time.\n\nRestore the project autosaved at {when}?")
        if answer != QMessageBox.StandardButton.Yes:
            path.unlink(missing_ok=True)
            return
        origin = str(self.settings.value("autosave/recovered_origin", "") or "")

        def forget(_ok: bool) -> None:
            self.files.opened.disconnect(forget)
            path.unlink(missing_ok=True)

        if self.files.open_path(path, keep_path=False, then=lambda: self.files.mark_restored(origin)):
            self.files.opened.connect(forget)

    def _after_open(self) -> None:
        if self._restore_after_open:
            self._restore_after_open = False
            QTimer.singleShot(0, self.offer_restore)
