"""Closing the window: what happens to a meta-training run or a comparison still running (keep
its work, throw it away, or do not close), the unsaved-changes question, and a shutdown that
never destroys a running thread (the window hides and closes for good when the thread ends)."""
from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QObject, QSettings
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QMainWindow, QMessageBox

from app.engine import jobs

from .autosave import Autosave
from .dialogs import Dialogs
from .panels import CompareRuns, TrainingCurves
from .project_files import ProjectFiles
from .training_controller import TrainingController


class Closing(QObject):
    def __init__(self, window: QMainWindow, runs: TrainingController, training_panel: TrainingCurves, compare: CompareRuns,
                 files: ProjectFiles, autosaver: Autosave, settings: QSettings, dialogs: Dialogs, save_window_state: Callable[[], None]):
        """`save_window_state`: keeps the window's geometry and splitters in `settings` (the window's own)."""
        super().__init__(window)
        self.window, self.runs, self.training_panel, self.compare = window, runs, training_panel, compare
        self.files, self.autosaver, self.settings, self.dialogs = files, autosaver, settings, dialogs
        self.save_window_state = save_window_state
        self.keep_runs = False  # closing was answered "keep what the run did"
        self.close_when_stopped = False  # hidden, closing for good once the kept run has ended
        self.closing = False  # closing for good: the questions are answered

    def after_run(self) -> None:
        """A run has ended (its thread is gone): a close that waited for it goes on."""
        if self.closing or self.close_when_stopped:
            self.window.close()

    def _stop_runs_before_closing(self) -> bool:
        """Closing while meta-training or a comparison runs: ask whether to keep what it has done
        (Save), throw it away (Discard) or not close (Cancel). Keeping stops it as Stop does and
        takes its result in — a partial model into the library, a comparison's finished algorithms
        into the project — before the unsaved-changes question. True when closing may go on."""
        running = []
        if self.runs.session is not None:
            last = self.training_panel.last
            where = f" (step {last['step']} of {last['total_steps']})" if last and "total_steps" in last else ""
            running.append((f"Meta-training is still running{where}.", "keep the partial model in the Models list"))
        if self.compare.is_running():
            running.append(("A comparison is still running.", "keep the finished algorithms' results in the project"))
        sweep = self.compare.sweep
        if sweep.is_running():
            last = sweep.last_progress
            where = f" (point {last['points_done'] + 1} of {last['points_total']})" if last else ""
            running.append((f"A sweep is still running{where}.", "keep the sweep's finished points in the project"))
        if not running:
            self.keep_runs = self.close_when_stopped = False
            return True
        if not self.keep_runs:
            B = QMessageBox.StandardButton
            answer = self.dialogs.ask("Stop and close?", " ".join(what for what, _ in running) + "\n\n"
                                      f"Save: stop it and {' and '.join(keep for _, keep in running)}.\n"
                                      "Discard: stop it and throw its work away.\nCancel: keep it running.",
                                      B.Save | B.Discard | B.Cancel, B.Save)
            if answer == B.Cancel:
                return False
            if answer != B.Save:
                return True  # the shutdown in closeEvent cancels and discards
            self.keep_runs = True
        if ((self.runs.session is None or self.runs.session.stop_and_wait(1800)) and self.compare.stop_and_wait(1800)
                and self.compare.sweep.stop_and_wait(1800)):
            self.keep_runs = False
            return True
        # Still inside one uninterruptible piece of work: hide now; closing goes on when the run
        # has ended (_training_ended, compare.ended — also after a sweep — call close() again).
        self.close_when_stopped = True
        self.window.hide()
        return False

    def close_event(self, event: QCloseEvent) -> None:
        if not self.closing:
            if not self._stop_runs_before_closing():
                event.ignore()
                return
            if not self.files.confirm_discard():
                self.window.show()  # it may have been hidden while a kept run ended
                event.ignore()
                return
        self.closing = True
        self.save_window_state()
        if self.runs.session is not None:
            if not self.runs.session.shutdown(1800):
                # Still inside one uninterruptible piece of work (e.g. building a source): hide now
                # and finish closing when the thread ends, never destroying a running QThread.
                self.window.hide()
                event.ignore()
                return
            session, self.runs.session = self.runs.session, None
            session.blockSignals(True)  # its queued "finished" must not touch a closing window
            session.deleteLater()
        if not self.compare.shutdown(1800):
            self.window.hide()  # as above: close for good when the comparison's thread has ended
            event.ignore()
            return
        jobs.job_pool().waitForDone(2000)
        self.autosaver.timer.stop()
        self.autosaver.drop_autosave()  # a clean exit: nothing of this session's to restore next time
        self.settings.sync()
        event.accept()
