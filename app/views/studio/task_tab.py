"""The Studio's "Task & source" tab: a view of `project.task` (source, N, K, Q, steps, time limit,
seed, device). Each edit goes to the undo `Editor` as one step; `show_task` renders the model
after every configuration change. A folder source is checked on the job thread before it is used."""
from __future__ import annotations

from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import QFormLayout, QLabel, QSpinBox, QWidget

from app.controllers.dialogs import Dialogs
from app.controllers.undo import Editor
from app.engine import jobs, sources
from app.model import LIMITS as TASK_LIMITS
from app.model import Project, Source, TaskSettings

from .task_fields import BUILTIN_NOTE, ask_source_folder, device_combo, source_combo, spin_box


class TaskTab(QWidget):
    problem = Signal(str, str)  # title, text: a source folder that cannot be used
    status = Signal(str, int)  # a status-bar message and how long it shows (ms; 0 = until replaced)

    def __init__(self, project: Project, editor: Editor, dialogs: Dialogs, settings: QSettings, parent: QWidget | None = None):
        super().__init__(parent)
        self.project, self.editor, self.dialogs, self.settings = project, editor, dialogs, settings
        form = QFormLayout(self)
        self.source_box = source_combo("What the model meta-trains on (the built-in source needs no download)")
        self.source_label = QLabel()
        self.source_label.setObjectName("muted")
        self.source_label.setWordWrap(True)
        self.spins: dict[str, QSpinBox] = {}
        specs = [("n_way", "Ways (N)", "Classes per validation episode"),
                 ("k_shot", "Shots (K)", "Support images per class"),
                 ("q_query", "Queries", "Query images per class in validation episodes"),
                 ("steps", "Steps", "Meta-training steps"),
                 ("max_seconds", "Time limit (s)", "Stop after this many seconds of training (validations pause the clock; 0 = no limit)"),
                 ("seed", "Seed", "The same seed gives every algorithm the same episodes")]
        form.addRow("Meta-train on", self.source_box)
        form.addRow("", self.source_label)
        for key, label, tip in specs:
            # The model's bounds: a box never offers a value the model refuses.
            self.spins[key] = spin_box(*TASK_LIMITS[key], tip)
            form.addRow(label, self.spins[key])
            # Typing 2, 5, 0 is one step: the edits of one visit to the box merge.
            self.spins[key].valueChanged.connect(lambda v, k=key, label=label: self.editor.update_task(label, mergeable=True, **{k: v}))
            self.editor.watch_field(self.spins[key])
        self.device_box = device_combo()
        form.addRow("Device", self.device_box)
        self.device_box.currentIndexChanged.connect(lambda: self.editor.update_task("device", device=self.device_box.currentData()))
        self.source_box.activated.connect(self._source_picked)

    def show_task(self, task: TaskSettings) -> None:
        """Render the task. A widget already showing the model's value (the one just edited) is
        left alone, and none emits an edit (signals blocked)."""
        for key, spin in self.spins.items():
            if spin.value() != getattr(task, key):
                spin.blockSignals(True)
                spin.setValue(getattr(task, key))
                spin.blockSignals(False)
        if self.device_box.currentData() != task.device:
            self.device_box.blockSignals(True)
            self.device_box.setCurrentIndex(max(0, self.device_box.findData(task.device)))
            self.device_box.blockSignals(False)
        self._show_source()

    def _show_source(self) -> None:
        src = self.project.task.source
        self.source_box.setCurrentIndex(max(0, self.source_box.findData(src.kind)))
        self.source_label.setText(src.folder or BUILTIN_NOTE)

    def _source_picked(self, index: int) -> None:
        kind = self.source_box.itemData(index)
        if kind == "builtin":
            self.choose_source("builtin", "")
            return
        folder = ask_source_folder(self.dialogs, self.settings, kind)
        if folder:
            self.choose_source(kind, folder)
        else:
            self._show_source()

    def choose_source(self, kind: str, folder: str) -> None:
        """Check a source on the job thread; only a valid one replaces the current setting."""
        if kind == "builtin":
            self.editor.update_task("source", source=Source())
            self._show_source()
            return
        self.status.emit(f"Reading {folder}…", 0)
        self.source_box.setEnabled(False)
        source = Source(kind, folder)
        n_way = self.project.task.n_way

        def ok(_):
            self.source_box.setEnabled(True)
            self.settings.setValue(f"folders/{kind}", folder)
            self.editor.update_task("source", source=source)
            self._show_source()
            self.status.emit("Source ready", 3000)

        def bad(exc):
            self.source_box.setEnabled(True)
            self._show_source()  # back to the previous source: nothing else changes
            self.status.emit("", 0)
            self.problem.emit("Cannot use this folder", str(exc))

        jobs.run_job(lambda: (sources.build_sources(source.to_dict(), n_way), None)[1], ok, bad, owner=self.window())  # a result after the window closed is dropped
