"""The "Draw samples" dialog: draw support samples for a class, one "Add sample" at a time."""
from __future__ import annotations

from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QVBoxLayout, QWidget

from app.controllers.undo import Editor
from app.model import images
from app.model import Project
from app.model.words import plural
from app.views.widgets.style import icon

from .canvas import CanvasPanel


class DrawDialog(QDialog):
    """Draw samples for a class: each "Add sample" keeps the drawing and clears the canvas."""

    def __init__(self, parent: QWidget, project: Project, editor: Editor, index: int):
        super().__init__(parent)
        self.project, self.editor = project, editor
        self.setWindowTitle("Draw samples")
        editor.seal()  # the samples drawn in this dialog (per class) are one undo step
        self.class_box = QComboBox()
        self.class_box.addItems(self.project.class_names())
        self.class_box.setCurrentIndex(index)
        self.panel = CanvasPanel(self)
        self.panel.setMinimumSize(300, 320)
        self.added = QLabel("")
        self.added.setObjectName("muted")
        self.added.setWordWrap(True)  # samples for many classes name them all
        buttons = QDialogButtonBox()
        self.add_btn = buttons.addButton("Add sample", QDialogButtonBox.ButtonRole.ActionRole)
        self.add_btn.setIcon(icon("add"))
        self.add_btn.setDefault(True)
        self.add_btn.setShortcut(QKeySequence("Return"))
        buttons.addButton(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        self.add_btn.clicked.connect(self.add_sample)
        form = QFormLayout()
        form.addRow("Class", self.class_box)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.panel, 1)
        lay.addWidget(self.added)
        lay.addWidget(buttons)
        self.added_to: dict[int, int] = {}  # class index -> samples added to it here, in the order first added

    def add_sample(self) -> None:
        if self.panel.canvas.is_blank():
            self.added.setText("Draw something first.")
            return
        i = self.class_box.currentIndex()
        if 0 <= i < len(self.project.classes):
            samples = [s for c in self.project.classes for s in c.samples]
            self.editor.add_samples(i, [images.NamedPng(self.panel.canvas.to_png(), images.next_drawing_name(samples))], merge_key="draw")
            self.added_to[i] = self.added_to.get(i, 0) + 1
            self.added.setText(self.added_text())
        self.panel.canvas.reset()

    def added_text(self) -> str:
        """What this dialog has added, class by class: "5 samples added: one each to “A”, “B”, …"."""
        classes = self.project.classes
        counts = {classes[i].name: n for i, n in self.added_to.items() if i < len(classes)}
        head = f"{plural(sum(counts.values()), 'sample')} added"
        names = ", ".join(f"“{name}”" for name in counts)
        if len(counts) == 1:
            return f"{head} to {names}."
        each = set(counts.values())
        if each == {1}:
            return f"{head}: one each to {names}."
        if len(each) == 1:
            return f"{head}: {each.pop()} each to {names}."
        return f"{head}: " + ", ".join(f"{n} to “{name}”" for name, n in counts.items()) + "."

