"""Small Qt helpers shared by the panels: thumbnails, clipboard and drag-and-drop payloads."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QMimeData, Qt
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import QApplication, QWidget

from . import images

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


def qimage_to_png(img: QImage) -> bytes:
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    img.save(buf, "PNG")
    return bytes(data.data())


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
                out.groups.append((None, [images.load_bytes(qimage_to_png(img), "pasted image")]))
            except images.ImageLoadError as exc:
                out.skipped.append(str(exc))
    return out


def clipboard_payload(folders_as_classes: bool = False) -> images.Collected:
    return mime_payload(QApplication.clipboard().mimeData(), folders_as_classes)


def set_drop_highlight(w: QWidget, on: bool) -> None:
    w.setProperty("drop", on)
    w.style().unpolish(w)
    w.style().polish(w)
