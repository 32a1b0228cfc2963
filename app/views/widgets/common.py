"""Small helpers shared by the panels: thumbnails, clipboard and drag-and-drop payloads (number
formats and plurals: app.model.words)."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QEvent, QIODevice, QMimeData, QObject, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QKeySequence, QPixmap, QWheelEvent
from PySide6.QtWidgets import QAbstractScrollArea, QAbstractSpinBox, QApplication, QComboBox, QLabel, QListWidget, QMenu, QSizePolicy, QWidget

from app.model import images

from .style import icon

_thumbs: dict[tuple[int, int], QIcon] = {}


def thumb_icon(sample, size: int = 56) -> QIcon:
    """A square thumbnail of a sample on white paper, cached by sample id."""
    key = (sample.id, size)
    if key not in _thumbs:
        img = QImage.fromData(sample.png)
        canvas = QPixmap(size * 2, size * 2)  # 2× for crisp thumbnails at 200% scaling
        canvas.fill(Qt.GlobalColor.white)
        if not img.isNull():
            from PySide6.QtGui import QPainter
            scaled = img.scaled(size * 2, size * 2, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
            p = QPainter(canvas)
            p.drawImage((canvas.width() - scaled.width()) // 2, (canvas.height() - scaled.height()) // 2, scaled)
            p.end()
        canvas.setDevicePixelRatio(2.0)
        _thumbs[key] = QIcon(canvas)
    return _thumbs[key]


def sample_source(sample) -> tuple[str, str]:
    """(a short name, a tooltip) for where a sample came from: a file's name and its full path,
    "drawing 3", "pasted"; ("", "") for samples of projects saved before samples had names."""
    name = getattr(sample, "name", "")
    if name.startswith("drawing"):
        return name, f"{name}: drawn in Few-Shot Studio"
    if name == "pasted":
        return name, "pasted from the clipboard"
    return (Path(name).name, name) if name else ("", "")


class ElidedLabel(QLabel):
    """A one-line label that elides its text in the middle (a long file name keeps its start and
    its extension) instead of widening its row."""

    def __init__(self, text: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self.full_text = text
        self.setMinimumWidth(40)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self._elide()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        super().setText(self.fontMetrics().elidedText(self.full_text, Qt.TextElideMode.ElideMiddle, max(10, self.width())))


def qimage_to_png(img: QImage) -> bytes:
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    img.save(buf, "PNG")
    return bytes(data.data())


def write_png(image: QImage | QPixmap, path: str | Path) -> bool:
    """Write `image` to `path` as PNG, atomically (a crash or a full disk mid-write leaves any
    earlier file whole, as every other file the app writes); False when it cannot be written."""
    import core

    data = qimage_to_png(image.toImage() if isinstance(image, QPixmap) else image)
    if not data:
        return False
    try:
        core.atomic_write(path, data)
    except OSError:
        return False
    return True


def local_paths(mime: QMimeData) -> list[Path]:
    return [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()] if mime.hasUrls() else []


def accepts(mime: QMimeData) -> bool:
    return bool(local_paths(mime)) or mime.hasImage()


def mime_payload(mime: QMimeData, folders_as_classes: bool) -> images.Collected:
    """What a drop or a paste carries: files/folders by path, or an image itself (e.g. from a browser)."""
    paths = local_paths(mime)
    if paths:
        return images.collect(paths, folders_as_classes)
    out = images.Collected()
    if mime.hasImage():
        img = QImage(mime.imageData())
        if not img.isNull():
            try:
                out.groups.append((None, [images.NamedPng(images.load_bytes(qimage_to_png(img), "pasted image"), "pasted")]))
            except images.ImageLoadError as exc:
                out.skipped.append(str(exc))
    return out


def clipboard_payload(folders_as_classes: bool = False) -> images.Collected:
    return mime_payload(QApplication.clipboard().mimeData(), folders_as_classes)


class DropOverlay(QWidget):
    """A dashed, tinted frame over a widget that files are being dragged over: drawn on top of
    it, so it shows whatever the widget is (a style-sheet border does not show on a frameless
    scroll area, nor on a list that is hidden while empty). Mouse and drag events pass through."""

    def __init__(self, parent: QWidget):
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.hide()

    def paintEvent(self, event) -> None:
        from PySide6.QtGui import QColor, QPainter, QPalette, QPen

        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        color = self.palette().color(QPalette.ColorRole.Highlight)
        tint = QColor(color)
        tint.setAlpha(28)
        pen = QPen(color, 2, Qt.PenStyle.DashLine)
        p.setPen(pen)
        p.setBrush(tint)
        p.drawRoundedRect(self.rect().adjusted(1, 1, -1, -1), 8, 8)


def set_drop_highlight(w: QWidget, on: bool) -> None:
    """Show (or hide) the drop highlight over `w` while files are dragged over it."""
    overlay = w.findChild(DropOverlay, options=Qt.FindChildOption.FindDirectChildrenOnly)
    if on:
        overlay = overlay or DropOverlay(w)
        overlay.setGeometry(w.rect())
        overlay.raise_()
        overlay.show()
    elif overlay is not None:
        overlay.hide()


def repolish(w: QWidget) -> None:
    """Re-apply the style sheet after a dynamic property it selects on has changed."""
    w.style().unpolish(w)
    w.style().polish(w)
    w.update()


class WheelGuard(QObject):
    """Application-wide: the mouse wheel over a spin box or combo box the user has not focused
    scrolls the panel around it instead of silently changing the setting under the pointer.

    Such editors get Qt.StrongFocus (Qt's default WheelFocus would let the wheel itself focus
    them), and an unfocused one's wheel event goes to the nearest scroll area's viewport. A
    click or Tab focuses the editor, and the wheel changes its value again as usual."""

    EDITORS = (QAbstractSpinBox, QComboBox)

    def eventFilter(self, obj: QObject, ev: QEvent) -> bool:
        kind = ev.type()
        if kind == QEvent.Type.Polish and isinstance(obj, self.EDITORS):
            obj.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        elif kind == QEvent.Type.Wheel and isinstance(obj, self.EDITORS) and not obj.hasFocus():
            area = obj.parentWidget()
            while area is not None and not isinstance(area, QAbstractScrollArea):
                area = area.parentWidget()
            if area is None:
                ev.ignore()  # nothing to scroll: a real wheel event goes on to the parents
                return True
            view = area.viewport()
            pos = view.mapFromGlobal(ev.globalPosition().toPoint())
            QApplication.sendEvent(view, QWheelEvent(pos.toPointF(), ev.globalPosition(), ev.pixelDelta(), ev.angleDelta(),
                                                     ev.buttons(), ev.modifiers(), ev.phase(), ev.inverted()))
            ev.accept()
            return True
        return False


def install_wheel_guard(app: QApplication | None = None) -> WheelGuard:
    """Install the one WheelGuard on the application (again: a no-op); returns it."""
    app = app or QApplication.instance()
    guard = getattr(app, "_wheel_guard", None)
    if guard is None:
        guard = app._wheel_guard = WheelGuard(app)
        app.installEventFilter(guard)
    return guard


class RemovableList(QListWidget):
    """A list of samples (item data = sample id) that Delete / Backspace or the context menu's
    Remove take out of the project: it only asks, by `removeRequested(ids)`; the owner removes."""
    removeRequested = Signal(list)  # sample ids

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setSelectionMode(QListWidget.SelectionMode.ExtendedSelection)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._menu)
        self.setAcceptDrops(False)  # drops go to the panel around it

    def selected_ids(self) -> list[int]:
        return [it.data(Qt.ItemDataRole.UserRole) for it in self.selectedItems()]

    def keyPressEvent(self, e) -> None:
        if (e.matches(QKeySequence.StandardKey.Delete) or e.key() == Qt.Key.Key_Backspace) and self.selected_ids():
            self.removeRequested.emit(self.selected_ids())
            return
        super().keyPressEvent(e)

    def _menu(self, pos) -> None:
        item = self.itemAt(pos)
        if item is None:
            return
        if not item.isSelected():  # right-clicking an unselected item acts on it alone
            self.clearSelection()
            item.setSelected(True)
        menu = QMenu(self)
        n = len(self.selected_ids())
        menu.addAction(icon("clear"), f"Remove {'sample' if n == 1 else f'{n} samples'}").triggered.connect(
            lambda: self.removeRequested.emit(self.selected_ids()))
        menu.popup(self.viewport().mapToGlobal(pos))
