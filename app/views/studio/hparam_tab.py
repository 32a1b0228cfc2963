"""The Studio's "Hyperparameters" tab: a view of the project's algorithm choice (the paper's
fields for the chosen algorithm, the values changed from its defaults), with Restore paper
defaults and the algorithm's presets. Each edit goes to the undo `Editor` as one step."""
from __future__ import annotations

from PySide6.QtWidgets import QAbstractSpinBox, QFrame, QHBoxLayout, QLabel, QLineEdit, QPushButton, QScrollArea, QVBoxLayout, QWidget

from app.controllers.undo import Editor
from app.model import EngineState, Project
from app.views.widgets.style import icon

from .hparam_form import HParamForm, PresetButton


class HParamTab(QScrollArea):
    def __init__(self, project: Project, editor: Editor, engine: EngineState, parent: QWidget | None = None):
        super().__init__(parent)
        self.project, self.editor = project, editor
        self.engine = engine  # whether the engine is loaded
        self.form_algorithm: str | None = None  # the algorithm whose fields the form shows
        self.form = HParamForm()
        self.paper_label = QLabel()
        self.paper_label.setObjectName("muted")
        self.paper_label.setWordWrap(True)
        restore = QPushButton(icon("restore"), "Restore paper defaults")
        restore.clicked.connect(self.form.restore_defaults)
        # Settings a run in docs/results.md measured to work better than the paper's on a CPU budget (the
        # algorithm's `presets`); shown only for algorithms that have some.
        self.preset_btn = PresetButton(self.form)
        buttons = QHBoxLayout()
        buttons.addWidget(restore)
        buttons.addWidget(self.preset_btn)
        buttons.addStretch(1)
        inner = QWidget()
        lay = QVBoxLayout(inner)
        lay.addWidget(self.paper_label)
        lay.addWidget(self.form)
        lay.addLayout(buttons)
        lay.addStretch(1)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setWidget(inner)
        self.form.edited.connect(self._form_edited)

    def show_choice(self) -> None:
        """Render the project's algorithm and hyperparameters (the engine is loaded and knows the
        algorithm). A form already showing them (the one just edited) is left alone, and it
        emits no edit (signals blocked)."""
        p = self.project
        if self.form_algorithm != p.algorithm:
            self.show_form(p.algorithm, p.hparams)
        else:
            shown = {f["name"]: p.hparams.get(f["name"], f["default"]) for f in self.form.fields}
            if self.form.values() != shown:
                self.form.blockSignals(True)
                self.form.set_values(shown)
                self.form.blockSignals(False)

    def show_form(self, name: str, values: dict) -> None:
        import core

        cls = core.ALGORITHMS[name]
        self.form.blockSignals(True)
        self.form.set_fields(core.hparam_fields(cls.HParams), values)
        self.form.blockSignals(False)
        self.form_algorithm = name
        for editor in self.form.editors.values():
            if isinstance(editor, (QAbstractSpinBox, QLineEdit)):
                self.editor.watch_field(editor)
        self.paper_label.setText(f"<b>{cls.title}</b> — {core.FAMILIES.get(cls.family, cls.family)}<br>{cls.paper}")
        self.preset_btn.set_presets(cls.presets)

    def _form_edited(self) -> None:
        if not (self.engine.ready and self.form.fields):
            return
        new, old = self.form.changed_from_defaults(), self.project.hparams
        changed = [f["name"] for f in self.form.fields if new.get(f["name"]) != old.get(f["name"])]
        if len(changed) != 1:  # several at once: Restore paper defaults, a preset
            self.editor.set_config("Change hyperparameters", hparams=new)
            return
        field = self.form.editors[changed[0]]
        label = self.form.layout_.labelForField(field).text()
        # The edits of one visit to a number or text field merge (typing 1, 2, 8 is one step).
        typed = isinstance(field, (QAbstractSpinBox, QLineEdit))
        self.editor.set_config(f"Change {label}", merge_key=("hparam", changed[0]) if typed else None, hparams=new)
