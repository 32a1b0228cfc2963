"""A drawing canvas: dark ink on white paper, brush and eraser, size, undo, clear; mouse and pen.

The canvas paints into a fixed 256×256 QImage whatever the widget's size or the screen's scale,
so a drawing becomes the same PNG at 100% and 200% scaling; `core.prepare_image` later turns that
PNG into model input exactly like Omniglot's (also dark strokes on white).
"""
from __future__ import annotations

from PySide6.QtCore import QBuffer, QByteArray, QEvent, QIODevice, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QKeySequence, QMouseEvent, QPainter, QPen, QShortcut, QTabletEvent
from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QLabel, QSizePolicy, QSlider, QToolButton, QVBoxLayout, QWidget

from app.views.widgets.style import icon

SIDE = 256  # pixels of the stored drawing
MAX_UNDO = 50


class Canvas(QWidget):
    changed = Signal()  # after every stroke segment (live classification listens, throttled)
    strokeFinished = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.image = QImage(SIDE, SIDE, QImage.Format.Format_RGB32)
        self.image.fill(Qt.GlobalColor.white)
        self.brush_size = 14.0  # in drawing pixels (of 256)
        self.eraser = False
        self._undo: list[QImage] = []
        self._last: QPointF | None = None
        self._painted = False
        self.setAttribute(Qt.WidgetAttribute.WA_StaticContents)
        self.setAttribute(Qt.WidgetAttribute.WA_TabletTracking, False)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setMinimumSize(120, 120)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setToolTip("Draw with the mouse or a pen. Ctrl+Z undoes a stroke.")

    def sizeHint(self) -> QSize:
        return QSize(200, 200)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, w: int) -> int:
        return w

    # -- geometry: the square area the drawing occupies inside the widget --------------------
    def drawing_rect(self) -> QRectF:
        side = min(self.width(), self.height()) - 2
        return QRectF((self.width() - side) / 2, (self.height() - side) / 2, side, side)

    def _to_image(self, pos: QPointF) -> QPointF:
        t = self.drawing_rect()
        return QPointF((pos.x() - t.x()) * SIDE / t.width(), (pos.y() - t.y()) * SIDE / t.height())

    # -- painting ------------------------------------------------------------------------------
    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        t = self.drawing_rect()
        p.drawImage(t, self.image)
        p.setPen(QPen(self.palette().mid().color(), 1))
        p.drawRect(t.adjusted(-0.5, -0.5, 0.5, 0.5))

    def _begin(self, pos: QPointF) -> None:
        self._undo.append(self.image.copy())
        del self._undo[:-MAX_UNDO]
        self._last = self._to_image(pos)
        self._segment(self._last, 1.0)

    def _segment(self, to: QPointF, pressure: float) -> None:
        if self._last is None:
            return
        p = QPainter(self.image)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        color = QColor(Qt.GlobalColor.white if self.eraser else Qt.GlobalColor.black)
        width = self.brush_size * (2.0 if self.eraser else 1.0) * max(0.25, pressure)
        p.setPen(QPen(color, width, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin))
        if to == self._last:
            p.drawPoint(to)
        else:
            p.drawLine(self._last, to)
        p.end()
        self._last = to
        self._painted = True
        self.update()
        self.changed.emit()

    def _end(self) -> None:
        if self._last is not None:
            self._last = None
            self.strokeFinished.emit()

    def mousePressEvent(self, e: QMouseEvent) -> None:
        if e.button() == Qt.MouseButton.LeftButton:
            self._begin(e.position())

    def mouseMoveEvent(self, e: QMouseEvent) -> None:
        if e.buttons() & Qt.MouseButton.LeftButton:
            self._segment(self._to_image(e.position()), 1.0)

    def mouseReleaseEvent(self, e: QMouseEvent) -> None:
        if e.button() == Qt.MouseButton.LeftButton:
            self._end()

    def keyPressEvent(self, e) -> None:
        if e.matches(QKeySequence.StandardKey.Undo):
            self.undo()
            e.accept()
            return
        super().keyPressEvent(e)

    def tabletEvent(self, e: QTabletEvent) -> None:
        # A pen gives pressure; accepting the event stops Qt from also synthesising mouse events.
        t = e.type()
        if t == QTabletEvent.Type.TabletPress:
            self._begin(e.position())
        elif t == QTabletEvent.Type.TabletMove and self._last is not None:
            self._segment(self._to_image(e.position()), e.pressure())
        elif t == QTabletEvent.Type.TabletRelease:
            self._end()
        e.accept()

    # -- commands ------------------------------------------------------------------------------
    def undo(self) -> None:
        if self._undo:
            self.image = self._undo.pop()
            self._painted = not self.is_blank()
            self.update()
            self.changed.emit()

    def clear(self) -> None:
        if not self.is_blank():
            self._undo.append(self.image.copy())
        self.image.fill(Qt.GlobalColor.white)
        self._painted = False
        self.update()
        self.changed.emit()

    def reset(self) -> None:
        """Blank paper and no history (after a drawing was taken as a sample)."""
        self.image.fill(Qt.GlobalColor.white)
        self._undo.clear()
        self._painted = False
        self.update()
        self.changed.emit()

    def is_blank(self) -> bool:
        if not self._painted:
            return True
        # Cheap check on a downscaled copy: any pixel darker than paper means ink.
        small = self.image.scaled(32, 32, Qt.AspectRatioMode.IgnoreAspectRatio, Qt.TransformationMode.SmoothTransformation)
        small = small.convertToFormat(QImage.Format.Format_Grayscale8)
        return min(small.constBits().tobytes()) > 250

    def to_png(self) -> bytes:
        gray = self.image.convertToFormat(QImage.Format.Format_Grayscale8)
        data = QByteArray()
        buf = QBuffer(data)
        buf.open(QIODevice.OpenModeFlag.WriteOnly)
        gray.save(buf, "PNG")
        return bytes(data.data())


class CanvasPanel(QWidget):
    """A canvas with its tool row: brush / eraser, size, undo, clear."""

    def __init__(self, parent: QWidget | None = None, compact: bool = False):
        super().__init__(parent)
        self.canvas = Canvas(self)
        tools = QHBoxLayout()
        tools.setSpacing(2)
        self.brush_btn = self._tool("brush", "Brush (B)", checkable=True)
        self.eraser_btn = self._tool("eraser", "Eraser (E)", checkable=True)
        group = QButtonGroup(self)
        group.addButton(self.brush_btn)
        group.addButton(self.eraser_btn)
        self.brush_btn.setChecked(True)
        self.brush_btn.toggled.connect(lambda on: setattr(self.canvas, "eraser", not on))
        self.size = QSlider(Qt.Orientation.Horizontal)
        self.size.setRange(4, 40)
        self.size.setValue(int(self.canvas.brush_size))
        self.size.setToolTip("Brush size")
        self.size.setMaximumWidth(90)
        self.size.valueChanged.connect(lambda v: setattr(self.canvas, "brush_size", float(v)))
        self.undo_btn = self._tool("undo", "Undo stroke (Ctrl+Z)")
        self.undo_btn.clicked.connect(self.canvas.undo)
        self.clear_btn = self._tool("clear", "Clear the canvas")
        self.clear_btn.clicked.connect(self.canvas.clear)
        tools.addWidget(self.brush_btn)
        tools.addWidget(self.eraser_btn)
        if not compact:
            tools.addWidget(QLabel("Size"))
        tools.addWidget(self.size)
        tools.addStretch(1)
        tools.addWidget(self.undo_btn)
        tools.addWidget(self.clear_btn)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(4)
        lay.addLayout(tools)
        lay.addWidget(self.canvas, 1)
        for keys, slot in (("B", self.brush_btn.click), ("E", self.eraser_btn.click)):
            sc = QShortcut(QKeySequence(keys), self)
            sc.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            sc.activated.connect(slot)
        self.canvas.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    def event(self, e) -> bool:
        # Ctrl+Z belongs to the canvas while focus is in this panel, although the main window's
        # Undo has the same keys: claimed here, before shortcuts are matched (a second Ctrl+Z
        # shortcut would make both ambiguous, and then neither runs); keyPressEvent then undoes.
        if e.type() == QEvent.Type.ShortcutOverride and e.matches(QKeySequence.StandardKey.Undo):
            e.accept()
            return True
        return super().event(e)

    def keyPressEvent(self, e) -> None:
        if e.matches(QKeySequence.StandardKey.Undo):  # focus on the size slider, say; the canvas handles its own
            self.canvas.undo()
            return
        super().keyPressEvent(e)

    def _tool(self, name: str, tip: str, checkable: bool = False) -> QToolButton:
        b = QToolButton(self)
        b.setIcon(icon(name))
        b.setToolTip(tip)
        b.setCheckable(checkable)
        b.setAutoRaise(True)
        return b
