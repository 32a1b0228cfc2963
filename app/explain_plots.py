"""The plotting pieces the explanation renderer draws with: class and series colours, markers,
a still (non-interactive) pyqtgraph plot, a category axis, a legend line and named rows."""
from __future__ import annotations

import html
from typing import Sequence

import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFontMetrics, QPalette
from PySide6.QtWidgets import QApplication, QLabel, QVBoxLayout, QWidget

PLOT_H = 230  # a plot's height: room for axis labels and a legend, small enough to see a few at once
# Colours for the support set's classes (class index → colour); distinct in light and dark themes.
CLASS_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
# Series that are not classes (support loss, cosine, …): colours apart from the first class colours.
# None: the theme's text colour (black on light, white on dark).
SERIES_COLORS = [None, "#e6550d", "#3182bd", "#31a354", "#756bb1", "#969696"]
# Marker per kind of point; kinds the table does not know get the next unused marker.
MARKERS = {"support": "o", "prototype": "star", "query": "d", "memory": "s", "class": "t", "point": "o"}
SPARE_MARKERS = ["s", "t", "p", "h", "+", "x", "t1", "t2"]


def class_color(group: int) -> QColor:
    """The colour of class `group` (-1: no class: grey)."""
    return QColor(CLASS_COLORS[group % len(CLASS_COLORS)]) if group >= 0 else QColor("#888888")


class CategoryAxis(pg.AxisItem):
    """A bottom axis naming integer positions (columns of a heat map, groups of bars). Names that
    fit side by side are drawn as usual; when they would overlap, every name stands upright under
    its position (read bottom to top), elided to MAX_AXIS_LABEL_PX."""

    def __init__(self):
        super().__init__("bottom")
        self.names: list[str] = []
        self.upright = False

    def set_names(self, names: Sequence[str], slot_px: float) -> None:
        fm = QFontMetrics(QApplication.font())
        self.names = [fm.elidedText(str(n), Qt.TextElideMode.ElideRight, MAX_AXIS_LABEL_PX) for n in names]
        widest = max((fm.horizontalAdvance(n) for n in self.names), default=0)
        self.upright = widest + 10 > slot_px
        self.setTicks([[(i, "" if self.upright else n) for i, n in enumerate(self.names)], []])
        self.needed_height = widest + 12 + (fm.height() + 4 if self.label.isVisible() else 0) if self.upright else 30
        if self.upright:
            self.setHeight(self.needed_height)

    def drawPicture(self, p, axisSpec, tickSpecs, textSpecs) -> None:
        super().drawPicture(p, axisSpec, tickSpecs, textSpecs)
        if not self.upright or self.linkedView() is None:
            return
        fm = QFontMetrics(QApplication.font())
        p.setFont(QApplication.font())
        p.setPen(self.textPen())
        view = self.linkedView()
        for i, name in enumerate(self.names):
            x = self.mapFromScene(view.mapViewToScene(QPointF(i, 0))).x()
            p.save()
            p.translate(x, axisSpec[1].y() + 6)  # just under the axis line
            p.rotate(-90)  # the text's x axis now points up: it ends at the tick
            w = fm.horizontalAdvance(name)
            p.drawText(QRectF(-w - 2, -fm.height() / 2, w, fm.height()), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, name)
            p.restore()


class StillPlot(pg.PlotWidget):
    """A plot that does not zoom or pan: in a scrolling column the wheel scrolls the column, and a
    picture that explains should not be moved away by accident. `categories`: its bottom axis
    names integer positions (a CategoryAxis, as `.categories`)."""

    def __init__(self, height: int = PLOT_H, categories: bool = False):
        self.categories = CategoryAxis() if categories else None
        super().__init__(background=None, axisItems={"bottom": self.categories} if categories else None)
        self.setFixedHeight(height)
        self.setMouseEnabled(False, False)
        self.setMenuEnabled(False)
        self.hideButtons()
        text = self.palette().color(QPalette.ColorRole.Text)
        for name in ("left", "bottom"):
            self.getAxis(name).setTextPen(text)
            self.getAxis(name).setPen(text)
            self.getAxis(name).enableAutoSIPrefix(False)  # "score (x0.001)" with 800 reads worse than 0.8

    def wheelEvent(self, ev) -> None:
        ev.ignore()  # to the scroll area around


# The legend is a line of text above the plot, not a box inside it: inside, it hid the curves.
SYMBOL_CHARS = {"o": "●", "star": "★", "d": "◆", "s": "■", "t": "▼", "p": "⬟", "h": "⬢", "+": "+", "x": "✕", "t1": "▲", "t2": "▶"}


def with_legend(plot: "StillPlot", entries: list[tuple[QColor | None, str, str]]) -> QWidget:
    """`plot` under a wrapped line of legend entries (colour or None for the text colour, symbol
    character, name); the returned widget keeps the plot as `.plot`."""
    box = QWidget()
    lay = QVBoxLayout(box)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.setSpacing(2)
    if entries:
        text = plot.palette().color(QPalette.ColorRole.Text).name()
        keys = [f'<span style="color:{(c.name() if c is not None else text)}">{html.escape(sym)}</span>&nbsp;{html.escape(name)}'
                for c, sym, name in entries]
        legend = QLabel("&nbsp;&nbsp;&nbsp; ".join(keys))
        legend.setTextFormat(Qt.TextFormat.RichText)
        legend.setWordWrap(True)
        lay.addWidget(legend)
    lay.addWidget(plot)
    box.plot = plot
    return box


MAX_AXIS_LABEL_PX = 190  # a category axis's labels are elided beyond this: the plot keeps most of the width


def label_rows(plot: "StillPlot", names: Sequence[str]) -> int:
    """Name the integer positions of the left axis, one per row, with room for the names (the
    widest elided to MAX_AXIS_LABEL_PX); returns the axis's width (pixels)."""
    fm = QFontMetrics(plot.font())
    shown = [fm.elidedText(str(n), Qt.TextElideMode.ElideRight, MAX_AXIS_LABEL_PX) for n in names]
    axis = plot.getAxis("left")
    width = min(MAX_AXIS_LABEL_PX, max((fm.horizontalAdvance(n) for n in shown), default=0)) + 14 \
        + (fm.height() + 4 if axis.label.isVisible() else 0)
    axis.setWidth(width)
    axis.setTicks([[(i, n) for i, n in enumerate(shown)], []])
    return width
