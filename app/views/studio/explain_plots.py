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
    character, name); the returned widget keeps the plot as `.plot` and the legend as `.legend`."""
    box = QWidget()
    lay = QVBoxLayout(box)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.setSpacing(2)
    box.legend = None
    if entries:
        text = plot.palette().color(QPalette.ColorRole.Text).name()
        keys = [f'<span style="color:{(c.name() if c is not None else text)}">{html.escape(sym)}</span>&nbsp;{html.escape(name)}'
                for c, sym, name in entries]
        legend = QLabel("&nbsp;&nbsp;&nbsp; ".join(keys))
        legend.setTextFormat(Qt.TextFormat.RichText)
        legend.setWordWrap(True)
        lay.addWidget(legend)
        box.legend = legend
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


class MapLabels:
    """A map's labels, each where it covers no marker and no other label and stays inside the
    plot: it tries a few places in turn (around its point, or along its line) and takes the first
    free one. A point's label takes the least crowded place when none is free (the name of a
    prototype must show); a line's number is left out then (the map's bar chart or caption has
    it). A name that had to go further than beside its point gets a thin line to it, in its colour
    (prototypes drawn alike sit on one spot: their names stand apart and say whose is whose).
    Places are worked out in pixels, so they are worked out again when the plot's size changes."""

    GAP = 3  # pixels kept free around a marker and between labels

    LINE_COST = 400  # a name over a line costs as much as covering this many square pixels of another label

    def __init__(self, plot: StillPlot, markers: Sequence[tuple[float, float, float]],
                 lines: Sequence[tuple[tuple[float, float], tuple[float, float]]] = ()):
        """`markers`: (x, y, diameter in pixels) of every marker drawn on the map; `lines`: the
        lines drawn on it, which a name would rather not cover (their numbers go along them)."""
        self.plot, self.markers, self.lines = plot, list(markers), list(lines)
        self.labels: list[tuple[pg.TextItem, str, tuple]] = []  # (item, "point" | "line", where)
        self.leaders: dict[int, pg.PlotCurveItem] = {}  # id(a point's label) -> the line from it to its point
        plot.getViewBox().sigTransformChanged.connect(self.place)  # resized (the range is fixed)

    def add_point_label(self, item: pg.TextItem, x: float, y: float, diameter: float, below_first: bool = False) -> None:
        leader = pg.PlotCurveItem(pen=pg.mkPen(item.color, width=1))
        leader.setZValue(-1)  # under the markers: it starts at the point's edge, not over it
        self.plot.addItem(leader)
        self.leaders[id(item)] = leader
        self.labels.append((item, "point", (x, y, diameter, below_first)))

    def add_line_label(self, item: pg.TextItem, a: tuple[float, float], b: tuple[float, float], b_diameter: float) -> None:
        """A number along the line from `a` to `b` (nearer `b` first: lines fanning out of one
        point would stack their numbers near it); `b_diameter`: the marker's at `b`."""
        self.labels.append((item, "line", (a, b, b_diameter)))

    def _places(self, kind: str, where: tuple, w: float, h: float, to_px, bounds: QRectF) -> list[QPointF]:
        """Where a w × h label may go (centres, scene pixels), best first."""
        if kind == "line":
            a, b = to_px(*where[0]), to_px(*where[1])
            along = [a + (b - a) * f for f in (0.62, 0.5, 0.75, 0.4, 0.85, 0.3, 0.9, 0.2)]
            # A line too short or too crowded for its number: beside its far end, whose colour it has.
            return along + self._around(b, where[2], w, h, bounds, (0, 6))
        x, y, diameter, below_first = where
        return self._around(to_px(x, y), diameter, w, h, bounds, (0, 6, 14, 26, 42, 64, 90, 120), below_first)

    def _around(self, c: QPointF, diameter: float, w: float, h: float, bounds: QRectF, extras: Sequence[int],
                below_first: bool = False) -> list[QPointF]:
        """Centres for a w × h label around a marker at `c`: beside it, below, above, on the
        diagonals; each ring `extra` pixels further out than the last."""
        inward = 1 if c.x() <= bounds.center().x() else -1  # towards the middle: a label never runs off the edge first
        out = []
        for extra in extras:  # further out only when nothing nearer is free
            r = diameter / 2 + self.GAP + extra
            side, down = QPointF(inward * (r + w / 2), 0), QPointF(0, r + h / 2)
            diagonal = lambda sx, sy: QPointF(sx * (0.7 * r + w / 2), sy * (0.7 * r + h / 2))  # noqa: E731
            near = [down, side] if below_first else [side, down]
            out += [c + p for p in near + [-down, -side, diagonal(inward, 1), diagonal(inward, -1), diagonal(-inward, 1), diagonal(-inward, -1)]]
        return out

    def place(self) -> None:
        vb = self.plot.getViewBox()
        bounds = vb.sceneBoundingRect()
        if bounds.width() < 10 or bounds.height() < 10:
            return  # not laid out yet
        to_px = lambda x, y: vb.mapViewToScene(QPointF(x, y))  # noqa: E731
        lines = [(to_px(*a), to_px(*b)) for a, b in self.lines]
        taken, names = [], []  # what a label must not cover; the names placed so far (a leader must not cross one)
        for x, y, diameter in self.markers:
            c, r = to_px(x, y), diameter / 2 + self.GAP
            taken.append(QRectF(c.x() - r, c.y() - r, 2 * r, 2 * r))
        for item, kind, where in self.labels:
            size = item.textItem.boundingRect().size()
            w, h = size.width(), size.height()
            best, least, lead = None, float("inf"), None
            for centre in self._places(kind, where, w, h, to_px, bounds):
                rect = QRectF(centre.x() - w / 2, centre.y() - h / 2, w, h)
                # Beyond the plot's edge counts as crowded as can be: a last resort for a name.
                crowd = sum(_area(rect.intersected(t)) for t in taken) + (0 if bounds.contains(rect) else 1e9)
                end = None
                if kind == "point":
                    crowd += self.LINE_COST * sum(_crosses(rect, a, b) for a, b in lines)
                    c = to_px(where[0], where[1])
                    end = self._leader_end(c, where[2], rect)
                    if end is not None:  # its line to the point crosses no name placed before it
                        crowd += self.LINE_COST * sum(_crosses(n, c, end) for n in names)
                if crowd < least:
                    best, least, lead = rect, crowd, end
                if crowd == 0:
                    break
            if least > 0 and kind == "line":
                item.setVisible(False)
                continue
            item.setVisible(True)
            item.setPos(vb.mapSceneToView(best.center()))
            item.updateTransform(force=True)  # its anchor offset follows the view's scale only when told (a hidden one was not)
            taken.append(best.adjusted(-self.GAP, -self.GAP, self.GAP, self.GAP))
            if kind == "point":
                names.append(best)
                c = to_px(where[0], where[1])
                a, b = vb.mapSceneToView(c), vb.mapSceneToView(lead) if lead is not None else None
                self.leaders[id(item)].setData(*(([a.x(), b.x()], [a.y(), b.y()]) if b is not None else ([], [])))
                if lead is not None:
                    lines.append((c, lead))  # the names placed next keep off it too

    def _leader_end(self, c: QPointF, diameter: float, rect: QRectF) -> QPointF | None:
        """Where a line from a marker at `c` meets its label at `rect`; None when the label is beside
        the marker and needs no line."""
        near = QPointF(min(max(c.x(), rect.left()), rect.right()), min(max(c.y(), rect.top()), rect.bottom()))
        return near if (near - c).manhattanLength() > diameter / 2 + self.GAP + 14 else None


def _area(r: QRectF) -> float:
    return max(0.0, r.width()) * max(0.0, r.height())


def _crosses(rect: QRectF, a: QPointF, b: QPointF) -> bool:
    """Whether the segment a–b passes through `rect` (tested at a few pixels' spacing)."""
    steps = max(2, int((b - a).manhattanLength() / 4))
    return any(rect.contains(a + (b - a) * (k / steps)) for k in range(steps + 1))
