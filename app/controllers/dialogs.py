"""The dialogs the app tells and asks the user through: one small service.

The main window and the Compare view receive a `Dialogs` (a constructor argument, the real one by
default) and never call QMessageBox / QFileDialog themselves. So the code that decides *what* to
ask is the same whoever answers: a person (`Dialogs`), a tool that must never block (`Unattended`:
screenshots, benchmarks) or a test (a recording fake that subclasses `Dialogs`).
"""
from __future__ import annotations

import sys

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

Button = QMessageBox.StandardButton
LONG_TEXT = 600  # characters: a longer message shows its first paragraph, the rest under "Show Details…"


class Dialogs:
    """Real Qt dialogs, parented to `parent` (the main window) so they sit over it."""

    def __init__(self, parent: QWidget | None = None):
        self.parent = parent

    def inform(self, title: str, text: str) -> None:
        """A non-blocking warning (the event loop, and training, keep running)."""
        long = len(text) > LONG_TEXT
        box = QMessageBox(QMessageBox.Icon.Warning, title, text.split("\n\n")[0] if long else text, Button.Ok, self.parent)
        if long:
            box.setDetailedText(text)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def ask(self, title: str, text: str, buttons: Button = Button.Yes | Button.No, default: Button = Button.Yes) -> Button:
        """A blocking question; the button the user pressed."""
        return QMessageBox.question(self.parent, title, text, buttons, default)

    def save_path(self, title: str, start: str, filters: str) -> str | None:
        """A file name to write (None: cancelled)."""
        return QFileDialog.getSaveFileName(self.parent, title, start, filters)[0] or None

    def open_path(self, title: str, start: str, filters: str) -> str | None:
        """An existing file to read (None: cancelled)."""
        return QFileDialog.getOpenFileName(self.parent, title, start, filters)[0] or None

    def open_files(self, title: str, start: str, filters: str) -> list[str]:
        """Existing files to read (empty: cancelled)."""
        return QFileDialog.getOpenFileNames(self.parent, title, start, filters)[0]

    def open_folder(self, title: str, start: str) -> str | None:
        """An existing folder (None: cancelled)."""
        return QFileDialog.getExistingDirectory(self.parent, title, start) or None


class Unattended(Dialogs):
    """For runs nobody watches (screenshots, benchmarks): messages go to stderr, every question is
    answered `answer`, and every file dialog is cancelled. Nothing ever blocks."""

    def __init__(self, answer: Button = Button.No):
        super().__init__(None)
        self.answer = answer

    def inform(self, title: str, text: str) -> None:
        print(f"{title}: {text}", file=sys.stderr)

    def ask(self, title: str, text: str, buttons: Button = Button.Yes | Button.No, default: Button = Button.Yes) -> Button:
        return self.answer

    def save_path(self, title: str, start: str, filters: str) -> str | None:
        return None

    def open_path(self, title: str, start: str, filters: str) -> str | None:
        return None

    def open_files(self, title: str, start: str, filters: str) -> list[str]:
        return []

    def open_folder(self, title: str, start: str) -> str | None:
        return None
