"""Where the window and its dialogs go on screen: the first launch's size, a restored window
kept on its screen (its geometry and splitters saved in the settings at close), a dialog placed
beside what it must not cover."""
from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, QSettings, QSize
from PySide6.QtWidgets import QSplitter, QWidget



PREFERRED_WINDOW = QSize(1400, 860)  # the first launch's client size where the screen has room
# Title bar and borders that a window manager adds around the client area (resize() sizes the latter).
FRAME_ALLOWANCE = QSize(16, 40)


def first_window_rect(available: QRect, preferred: QSize = PREFERRED_WINDOW) -> QRect:
    """The frame rectangle of a first launch: a client area of `preferred` size plus the frame,
    shrunk to the screen's available area (a 1366×768 laptop), centred in it."""
    rect = QRect(QPoint(0, 0), (preferred + FRAME_ALLOWANCE).boundedTo(available.size()))
    rect.moveCenter(available.center())
    return rect


def fit_inside(frame: QRect, available: QRect) -> QRect:
    """A restored window's frame rectangle shrunk and moved so that it lies inside `available`
    (the screen it was saved on may have been larger, or gone)."""
    rect = QRect(frame.topLeft(), frame.size().boundedTo(available.size()))
    rect.moveLeft(max(available.left(), min(rect.left(), available.right() - rect.width() + 1)))
    rect.moveTop(max(available.top(), min(rect.top(), available.bottom() - rect.height() + 1)))
    return rect


def place_beside(size: QSize, avoid: QRect, available: QRect, gap: int = 8) -> QPoint:
    """Where a window of `size` (frame included) goes so that it does not cover `avoid`: to its
    right, below it, to its left or above it, the first that fits in `available`; else the
    available area's bottom-right corner (covering as little of `avoid` as the screen allows)."""
    def clamp(v: int, lo: int, hi: int) -> int:
        return max(lo, min(v, hi))

    w, h = size.width(), size.height()
    x_in = lambda x: clamp(x, available.left(), available.right() + 1 - w)  # noqa: E731
    y_in = lambda y: clamp(y, available.top(), available.bottom() + 1 - h)  # noqa: E731
    for pos in (QPoint(avoid.right() + 1 + gap, y_in(avoid.top())), QPoint(x_in(avoid.left()), avoid.bottom() + 1 + gap),
                QPoint(avoid.left() - gap - w, y_in(avoid.top())), QPoint(x_in(avoid.left()), avoid.top() - gap - h)):
        rect = QRect(pos, size)
        if available.contains(rect) and not rect.intersects(avoid):
            return pos
    return QPoint(available.right() + 1 - w, available.bottom() + 1 - h)


def restore_window_state(window: QWidget, settings: QSettings, splits: dict[str, QSplitter]) -> None:
    """Give `window` the geometry and splitter positions it was closed with, kept on the screen
    (a first launch: `first_window_rect`)."""
    geo = settings.value("window/geometry")
    available = window.screen().availableGeometry()
    if geo is not None and window.restoreGeometry(geo):
        frame = window.frameGeometry()
        fitted = fit_inside(frame, available)
        if fitted != frame:
            margins = frame.size() - window.geometry().size()
            window.resize(fitted.size() - margins)
            window.move(fitted.topLeft())
    else:
        rect = first_window_rect(available)
        window.resize(rect.size() - FRAME_ALLOWANCE)
        window.move(rect.topLeft())
    for key, split in splits.items():
        state = settings.value(f"window/split_{key}")
        if state is not None:
            split.restoreState(state)


def save_window_state(window: QWidget, settings: QSettings, splits: dict[str, QSplitter]) -> None:
    settings.setValue("window/geometry", window.saveGeometry())
    for key, split in splits.items():
        settings.setValue(f"window/split_{key}", split.saveState())
