"""Adding images from the panels' buttons: files picked in a dialog (starting in the folder the
last ones came from), or samples drawn in the "Draw samples" dialog, placed beside the support
columns it adds to."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QPoint, QRect, QSettings, Qt
from PySide6.QtWidgets import QMainWindow

from app.controllers.dialogs import Dialogs
from app.controllers.undo import Editor
from app.model import images
from app.model import Project
from app.views.widgets.window_geometry import FRAME_ALLOWANCE, place_beside

from .draw_dialog import DrawDialog
from .query_panel import QueryPanel
from .support_panel import SupportPanel


class ImageAdder(QObject):
    def __init__(self, window: QMainWindow, project: Project, editor: Editor, support: SupportPanel, query: QueryPanel,
                 dialogs: Dialogs, settings: QSettings):
        super().__init__(window)
        self.window, self.project, self.editor = window, project, editor
        self.support, self.query, self.dialogs, self.settings = support, query, dialogs, settings
        support.drawRequested.connect(self.draw_samples)
        support.addFilesRequested.connect(self.add_files_to_class)
        query.addFilesRequested.connect(self.add_query_files)

    def _pick_files(self, title: str) -> list[Path]:
        start = self.settings.value("folders/images", str(Path.home()))
        files = self.dialogs.open_files(title, start, "Images (*.png *.jpg *.jpeg *.bmp *.gif *.tif *.tiff *.webp *.ppm *.pgm);;All files (*)")
        if files:
            self.settings.setValue("folders/images", str(Path(files[0]).parent))
        return [Path(f) for f in files]

    def add_files_to_class(self, index: int) -> None:
        files = self._pick_files(f"Add images to “{self.project.classes[index].name}”")
        if files:
            self.support.add_payload(images.collect(files, folders_as_classes=False), index)

    def add_query_files(self) -> None:
        files = self._pick_files("Add query images")
        if files:
            self.query.add_payload(images.collect(files, folders_as_classes=False))

    def draw_samples(self, index: int) -> None:
        dlg = DrawDialog(self.window, self.project, self.editor, index)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        # Beside the support columns it adds to, not over them (Qt would centre it on the window).
        dlg.adjustSize()
        columns = QRect(self.support.scroll.mapToGlobal(QPoint(0, 0)), self.support.scroll.size())
        dlg.move(place_beside(dlg.size() + FRAME_ALLOWANCE, columns, self.window.screen().availableGeometry()))
        dlg.show()
