"""Draws any `core.Explanation` without knowing which algorithm made it.

On top: the prediction (one bar per class) and what the algorithm does; below, one card per part:
its title, its picture, and its caption in plain words under it. Each part kind has one drawing
function (`RENDERERS`); a kind this version cannot draw — or a part whose data cannot be drawn —
shows its title and says so instead of failing the whole view.

Only the data types are used from `core.explanation` (pure Python): this module never needs torch.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QSize, Qt, QTimer
from PySide6.QtGui import QColor, QFontMetrics, QImage, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import (QApplication, QFrame, QGridLayout, QLabel, QScrollArea, QSizePolicy, QVBoxLayout, QWidget)

from .explain_plots import (MARKERS, PLOT_H, SERIES_COLORS, SPARE_MARKERS, SYMBOL_CHARS, MapLabels, StillPlot, class_color, label_rows,
                            with_legend)
from .query_panel import ConfidenceBars

THUMB = 52  # support thumbnails in a support-weights part
SMALL_IMAGE = 64  # an Images part's pictures are scaled to this height
MAX_CELL_LABELS = 100  # a heat map with more cells than this shows colours only (the numbers would not fit)
CARD_SLACK = 6  # pixels a card keeps between its picture and the view's bottom edge


# -- one function per part kind: (part, context) -> widget ---------------------------------------

MAP_H = PLOT_H + 110  # a map's height where the view has room: space between the labelled points
MIN_MAP_H = 170  # … and where it has not (a short window): still a map
MARKER_PX = {"prototype": 18, "query": 18}  # a marker's diameter by kind; other kinds: SMALL_MARKER_PX
SMALL_MARKER_PX = 10


def draw_points(part, ctx: "RenderContext") -> QWidget:
    plot = StillPlot(MAP_H)
    text = plot.palette().color(QPalette.ColorRole.Text)
    base = plot.palette().color(QPalette.ColorRole.Base)
    plot.setLabel("bottom", part.axes[0] or "")
    plot.setLabel("left", part.axes[1] or "")
    x, y = np.asarray(part.x, float), np.asarray(part.y, float)
    # The range is the points' own (the labels, placed in pixels, must not move it).
    for axis, v in (("x", x), ("y", y)):
        lo, hi = (float(v.min()), float(v.max())) if len(v) else (0.0, 1.0)
        pad = 0.12 * (hi - lo) if hi > lo else 1.0
        (plot.setXRange if axis == "x" else plot.setYRange)(lo - pad, hi + pad, padding=0)
    plot.disableAutoRange()
    size = [MARKER_PX.get(kind, SMALL_MARKER_PX) for kind in part.kind_of]
    labels = MapLabels(plot, [(x[k], y[k], size[k]) for k in range(len(x))], [((x[i], y[i]), (x[j], y[j])) for i, j, _ in part.links])
    # Links under the points: dashed lines, each with its value along it, in its far end's colour
    # (lines that overlap still say which number is whose).
    if part.links:
        xs, ys = [], []
        for i, j, _ in part.links:
            xs += [x[i], x[j]]
            ys += [y[i], y[j]]
        plot.addItem(pg.PlotCurveItem(np.array(xs), np.array(ys), connect="pairs", pen=pg.mkPen(text, width=1, style=Qt.PenStyle.DashLine)))
    legend: list[tuple[QColor | None, str, str]] = []
    spare = iter(SPARE_MARKERS)
    markers = dict(MARKERS)
    for kind in dict.fromkeys(part.kind_of):  # the kinds in order of first appearance
        if kind not in markers:
            markers[kind] = next(spare, "o")
        idx = [k for k, kk in enumerate(part.kind_of) if kk == kind]
        big = kind in MARKER_PX
        brushes = [pg.mkBrush(class_color(part.group[k])) for k in idx]
        query = kind == "query"
        item = pg.ScatterPlotItem(x[idx], y[idx], symbol=markers[kind], size=MARKER_PX.get(kind, SMALL_MARKER_PX),
                                  brush=brushes if not query else pg.mkBrush(text), pen=pg.mkPen(text if not query else "w", width=1.5 if big else 0.5))
        plot.addItem(item)
        # The legend shows the marker in the text colour: the colour means the class, not the kind.
        legend.append((None, SYMBOL_CHARS.get(markers[kind], "●"), kind))
    # Names first (the query's, then the others in order), then the lines' numbers where room is left.
    named = [k for k, label in enumerate(part.labels) if label and part.kind_of[k] != "support"]  # support points are many; their colour says their class
    for k in sorted(named, key=lambda k: part.kind_of[k] != "query"):
        t = pg.TextItem(part.labels[k], color=class_color(part.group[k]) if part.group[k] >= 0 else text, anchor=(0.5, 0.5))
        plot.addItem(t)
        labels.add_point_label(t, x[k], y[k], size[k], below_first=part.kind_of[k] == "query")
    for i, j, v in part.links:
        t = pg.TextItem(f"{v:.3g}", color=class_color(part.group[j]) if part.group[j] >= 0 else text, anchor=(0.5, 0.5), fill=pg.mkBrush(base))
        plot.addItem(t)
        labels.add_line_label(t, (x[i], y[i]), (x[j], y[j]), size[j])
    if ctx.classes and any(g >= 0 for g in part.group):
        for g in sorted({g for g in part.group if g >= 0}):
            if g < len(ctx.classes):
                legend.append((class_color(g), "■", ctx.classes[g]))
    box = with_legend(plot, legend)
    if ctx.body_height is not None:  # the view's height is known: the map with its legend fits in it
        legend_h = box.legend.heightForWidth(ctx.width) + box.layout().spacing() if box.legend is not None else 0
        plot.setFixedHeight(int(max(MIN_MAP_H, min(MAP_H, ctx.body_height - legend_h))))
    plot.labels = labels  # kept with the plot: it places the labels again when the plot's size changes
    labels.place()
    return box


def draw_matrix(part, ctx: "RenderContext") -> QWidget:
    values = np.asarray(part.values, float)
    rows, cols = len(part.rows), len(part.columns)
    plot = StillPlot(PLOT_H, categories=True)
    text = plot.palette().color(QPalette.ColorRole.Text)
    finite = values[np.isfinite(values)] if values.size else np.array([0.0])
    lo = part.vmin if part.vmin is not None else float(finite.min()) if finite.size else 0.0
    hi = part.vmax if part.vmax is not None else float(finite.max()) if finite.size else 1.0
    if hi <= lo:
        hi = lo + 1e-9
    img = pg.ImageItem(values.T if values.size else np.zeros((1, 1)))  # ImageItem's first axis is x: columns
    img.setRect(QRectF(-0.5, -0.5, max(cols, 1), max(rows, 1)))
    cmap = pg.colormap.get("viridis")
    img.setColorMap(cmap)
    img.setLevels((lo, hi))
    plot.addItem(img)
    plot.invertY(True)  # the first row on top, as in a table
    left = label_rows(plot, part.rows)
    cell_px = (ctx.width - left - 140) / max(cols, 1)  # 140: the colour bar, its labels and the margins (measured)
    plot.categories.set_names(part.columns, cell_px)
    plot.setFixedHeight(min(640, 24 + 24 * max(rows, 1) + plot.categories.needed_height))  # upright names take room from the cells otherwise
    bar = pg.ColorBarItem(values=(lo, hi), colorMap=cmap, interactive=False, label=part.value_label or None, width=12)
    bar.setImageItem(img, insert_in=plot.getPlotItem())
    bar.getAxis("right").setTextPen(text)
    fm = QFontMetrics(QApplication.font())
    numbers = [[f"{v:.2g}" for v in row] for row in values.tolist()]
    widest = max((fm.horizontalAdvance(t) for row in numbers for t in row), default=0)
    if rows * cols <= MAX_CELL_LABELS and widest + 6 <= cell_px:  # numbers only where they fit in their cells
        for r in range(rows):
            for c in range(cols):
                v = values[r, c]
                frac = (v - lo) / (hi - lo) if np.isfinite(v) else 0.0
                t = pg.TextItem(numbers[r][c], color="k" if frac > 0.6 else "w", anchor=(0.5, 0.5))
                t.setPos(c, r)
                plot.addItem(t)
    return plot


def draw_curves(part, ctx: "RenderContext") -> QWidget:
    plot = StillPlot()
    plot.setLabel("bottom", part.x_label or "")
    plot.setLabel("left", part.y_label or "")
    x = np.asarray(part.x, float)
    legend = []
    for k, (name, ys) in enumerate(part.series.items()):
        color = series_color(name, k, ctx)
        plot.plot(x, np.asarray(ys, float), pen=pg.mkPen(color, width=2), symbol="o", symbolSize=5,
                  symbolBrush=color, symbolPen=None)
        legend.append((color, "━", name))
    if len(x) and len(x) <= 20 and np.all(x == np.round(x)):  # steps: whole numbers only on the axis
        plot.getAxis("bottom").setTicks([[(v, f"{v:g}") for v in x], []])
    plot.showGrid(x=True, y=True, alpha=0.2)
    return with_legend(plot, legend)


def series_color(name: str, k: int, ctx: "RenderContext") -> QColor:
    """A series named after a class (the query's probability of "cross") gets that class's colour,
    so one class has one colour across the view; other series take the palette in order."""
    if name in ctx.classes:
        return class_color(ctx.classes.index(name))
    color = SERIES_COLORS[k % len(SERIES_COLORS)]
    return QColor(color) if color else QApplication.palette().color(QPalette.ColorRole.Text)


def draw_bars(part, ctx: "RenderContext") -> QWidget:
    """Grouped bars, upright; when the category names would not fit side by side under upright
    bars, lying bars with the names on the left, where they have room."""
    cats = list(part.categories)
    fm = QFontMetrics(QApplication.font())
    lying = bool(cats) and max(fm.horizontalAdvance(c) for c in cats) + 10 > (ctx.width - 70) / len(cats)
    plot = StillPlot(max(PLOT_H, 50 + 24 * len(cats) * max(1, len(part.series))) if lying else PLOT_H, categories=not lying)
    plot.setLabel("bottom" if lying else "left", part.value_label or "")
    legend = []
    n = max(1, len(part.series))
    width = 0.8 / n
    for k, (name, vals) in enumerate(part.series.items()):
        color = series_color(name, k, ctx)
        pos = np.arange(len(cats)) - 0.4 + width * (k + 0.5)
        if n == 1 and all(c in ctx.classes for c in cats):  # one bar per class: in the class's colour
            brushes = {"brushes": [pg.mkBrush(class_color(ctx.classes.index(c))) for c in cats]}
        else:
            brushes = {"brush": pg.mkBrush(color)}
        size = np.asarray(vals, float)
        if lying:
            bars = pg.BarGraphItem(x0=0, y=pos, width=size, height=width * 0.9, pen=None, **brushes)
        else:
            bars = pg.BarGraphItem(x=pos, height=size, width=width * 0.9, pen=None, **brushes)
        plot.addItem(bars)
        legend.append((color, "■", name))
    if lying:
        plot.invertY(True)  # the first category on top, as it reads
        label_rows(plot, cats)
        plot.showGrid(x=True, alpha=0.2)
    else:
        plot.categories.set_names(cats, (ctx.width - 70) / max(len(cats), 1))
        plot.showGrid(y=True, alpha=0.2)
    return with_legend(plot, legend if len(part.series) > 1 else [])


def grey_pixmap(image: Sequence[Sequence[float]], vmin: float | None, vmax: float | None, height: int = SMALL_IMAGE) -> QPixmap:
    """A grey-level 2-D array as a pixmap `height` pixels high (dark = low), scaled without smoothing
    so each value stays a visible cell."""
    a = np.asarray(image, float)
    finite = a[np.isfinite(a)]
    lo = vmin if vmin is not None else float(finite.min()) if finite.size else 0.0
    hi = vmax if vmax is not None else float(finite.max()) if finite.size else 1.0
    g = np.clip((np.nan_to_num(a, nan=lo) - lo) / (hi - lo if hi > lo else 1.0), 0, 1)
    g = np.ascontiguousarray((g * 255).astype(np.uint8))
    qimg = QImage(g.data, g.shape[1], g.shape[0], g.strides[0], QImage.Format.Format_Grayscale8).copy()
    width = max(1, round(height * g.shape[1] / g.shape[0]))
    return QPixmap.fromImage(qimg.scaled(width, height, Qt.AspectRatioMode.IgnoreAspectRatio, Qt.TransformationMode.FastTransformation))


def _per_row(tiles: list[QWidget], width: int) -> int:
    """How many tiles fit side by side in `width` pixels (the column never grows wider than the view)."""
    widest = max((t.sizeHint().width() for t in tiles), default=1) + 8
    return max(1, int(width // widest))


def _tile_grid(tiles: list[QWidget], per_row: int) -> QWidget:
    w = QWidget()
    grid = QGridLayout(w)
    grid.setContentsMargins(0, 0, 0, 0)
    grid.setHorizontalSpacing(8)
    grid.setVerticalSpacing(6)
    for k, tile in enumerate(tiles):
        grid.addWidget(tile, k // per_row, k % per_row, Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
    grid.setColumnStretch(per_row, 1)
    return w


def _tile(pixmap: QPixmap, caption: str, extra: QWidget | None = None) -> QWidget:
    w = QWidget()
    lay = QVBoxLayout(w)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.setSpacing(2)
    pic = QLabel()
    pic.setPixmap(pixmap)
    pic.setAlignment(Qt.AlignmentFlag.AlignCenter)
    lay.addWidget(pic)
    if extra is not None:
        lay.addWidget(extra)
    label = QLabel(caption)
    label.setObjectName("muted")
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setToolTip(caption)
    lay.addWidget(label)
    return w


def draw_images(part, ctx: "RenderContext") -> QWidget:
    tiles = [_tile(grey_pixmap(im, part.vmin, part.vmax), label) for im, label in zip(part.images, part.labels)]
    return _tile_grid(tiles, _per_row(tiles, ctx.width))


class WeightBar(QWidget):
    """A value as a filled bar under a support thumbnail (its share of vmin..vmax) in the class's colour."""

    def __init__(self, value: float, lo: float, hi: float, color: QColor, width: int):
        super().__init__()
        self.value, self.lo, self.hi, self.color = value, lo, hi, color
        self.setFixedSize(width, 8)

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), self.palette().color(QPalette.ColorRole.AlternateBase))
        frac = (self.value - self.lo) / (self.hi - self.lo) if self.hi > self.lo else 0.0
        p.fillRect(QRectF(0, 0, self.width() * max(0.0, min(1.0, frac)), self.height()), self.color)


def draw_support_weights(part, ctx: "RenderContext") -> QWidget:
    values = list(part.values)
    finite = [v for v in values if np.isfinite(v)] or [0.0]
    lo = part.vmin if part.vmin is not None else min(finite)
    hi = part.vmax if part.vmax is not None else max(finite)
    best = max(range(len(values)), key=lambda k: values[k] if np.isfinite(values[k]) else -np.inf) if values else -1
    tiles = []
    for k, v in enumerate(values):
        group = ctx.support_labels[k] if k < len(ctx.support_labels) else -1
        pm = ctx.support_thumb(k)
        who = ctx.classes[group] if 0 <= group < len(ctx.classes) else f"support {k + 1}"
        tile = _tile(pm, f"{who}: {v:.3g}", WeightBar(v, lo, hi, class_color(group), pm.width() or THUMB))
        if k == best:  # the support image that weighs most: the reader's eye goes there first
            tile.setStyleSheet("QLabel { font-weight: 600; }")
        tiles.append(tile)
    return _tile_grid(tiles, _per_row(tiles, ctx.width))


def draw_text(part, ctx: "RenderContext") -> QWidget:
    label = QLabel(part.body)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


RENDERERS: dict[str, Callable[[Any, "RenderContext"], QWidget]] = {
    "points": draw_points, "matrix": draw_matrix, "curves": draw_curves, "bars": draw_bars,
    "images": draw_images, "support_weights": draw_support_weights, "text": draw_text,
}


class RenderContext:
    """What a part refers to but does not hold: the class names, each support example's class and
    the user's support images (PNG bytes, in the support set's order) for their thumbnails."""

    def __init__(self, classes: Sequence[str], support_labels: Sequence[int], support_pngs: Sequence[bytes] = (), width: int = 420,
                 height: int | None = None):
        self.classes, self.support_labels, self.support_pngs = list(classes), list(support_labels), list(support_pngs)
        self.width = width  # about how wide a plot will be (pixels): decides how many axis labels fit
        self.height = height  # how tall the view shows at once (None: it does not scroll, there is room)
        self.body_height: int | None = None  # of it, what is left for the part being drawn under its title (part_card)

    def support_thumb(self, k: int) -> QPixmap:
        pm = QPixmap(THUMB, THUMB)
        pm.fill(Qt.GlobalColor.white)
        if k < len(self.support_pngs):
            img = QImage.fromData(self.support_pngs[k])
            if not img.isNull():
                p = QPainter(pm)
                scaled = img.scaled(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
                p.drawImage((THUMB - scaled.width()) // 2, (THUMB - scaled.height()) // 2, scaled)
                p.end()
        return pm


def part_card(part, ctx: RenderContext) -> QFrame:
    """A part's title, its picture (or why there is none) and its caption under it."""
    card = QFrame()
    card.setObjectName("card")
    lay = QVBoxLayout(card)
    lay.setContentsMargins(10, 8, 10, 8)
    lay.setSpacing(4)
    title = QLabel(getattr(part, "title", "") or "(untitled part)")
    title.setObjectName("heading")
    title.setWordWrap(True)
    lay.addWidget(title)
    if ctx.height is not None:  # a part that fits its height to the view (a map) knows what is left under the title
        m = lay.contentsMargins()
        ctx.body_height = ctx.height - m.top() - m.bottom() - title.heightForWidth(ctx.width) - lay.spacing() - CARD_SLACK
    kind = getattr(part, "kind", "")
    draw = RENDERERS.get(kind)
    try:
        if draw is None:
            raise LookupError(f"this version has no picture for “{kind}” parts")
        body = draw(part, ctx)
        card.drawn = True
    except Exception as exc:  # noqa: BLE001 - one bad part must not hide the others
        body = QLabel(f"Cannot draw this part ({exc}).")
        body.setObjectName("muted")
        body.setWordWrap(True)
        card.drawn = False
    card.kind, card.body = kind, body
    lay.addWidget(body)
    caption = getattr(part, "caption", "")
    if caption:
        cap = QLabel(caption)
        cap.setWordWrap(True)
        cap.setObjectName("muted")
        cap.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(cap)
    return card


class ExplanationView(QWidget):
    """One explanation: the prediction and summary on top, then each part's card in a column.
    `scrollable=False` leaves scrolling to a container (the Compare view's side-by-side columns)."""

    def __init__(self, parent: QWidget | None = None, scrollable: bool = True):
        super().__init__(parent)
        self.explanation = None
        self.cards: list[QFrame] = []
        self.plot_width: int | None = None  # how wide the plots will be, when the view cannot tell yet (not laid out)
        self._drawn_width = 0
        self._drawn_height: int | None = None
        self._shown_args: tuple = ((), None)
        self._redraw = QTimer(self, singleShot=True, interval=200)
        self._redraw.timeout.connect(self._draw_again)
        self.content = QWidget()
        self.column = QVBoxLayout(self.content)
        self.column.setContentsMargins(4, 4, 4, 4)
        self.column.setSpacing(8)
        self.heading = QLabel()
        self.heading.setObjectName("heading")
        self.heading.setWordWrap(True)
        self.prediction = QLabel()
        self.prediction.setObjectName("prediction")
        self.bars = ConfidenceBars(max_rows=6)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setObjectName("muted")
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        for w in (self.message, self.heading, self.prediction, self.bars, self.summary):
            self.column.addWidget(w)
        self.column.addStretch(1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        if scrollable:
            self.scroll = QScrollArea()
            self.scroll.setWidgetResizable(True)
            self.scroll.setFrameShape(QFrame.Shape.NoFrame)
            self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
            self.scroll.setWidget(self.content)
            lay.addWidget(self.scroll)
        else:
            self.scroll = None
            lay.addWidget(self.content)
        self.content.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        self.show_message("")

    @property
    def probabilities(self) -> list[float]:
        """The probabilities on screen (those of the explanation shown; [] when none is)."""
        return list(self.bars.probs)

    def _clear_cards(self) -> None:
        for card in self.cards:
            self.column.removeWidget(card)
            card.deleteLater()
        self.cards = []

    def show_message(self, text: str) -> None:
        """No explanation: a plain-words line instead (what is missing, or what went wrong)."""
        self.explanation = None
        self._clear_cards()
        self.message.setText(text)
        self.message.setVisible(bool(text))
        for w in (self.heading, self.prediction, self.bars, self.summary):
            w.setVisible(False)
        self.bars.set_values([], [])

    def show_explanation(self, explanation, support_pngs: Sequence[bytes] = (), heading: str | None = None) -> None:
        self.explanation = explanation
        self._clear_cards()
        self.message.setVisible(False)
        e = explanation
        self.heading.setText(heading if heading is not None else f"{e.title}{f' — {e.query}' if e.query else ''}")
        best = e.predicted
        self.prediction.setText(f"→ {e.classes[best]}  {e.probabilities[best]:.0%}")
        self.bars.set_values(e.classes, e.probabilities)
        self.summary.setText(e.summary)
        for w in (self.heading, self.prediction, self.bars):
            w.setVisible(True)
        self.summary.setVisible(bool(e.summary))
        self._shown_args = (support_pngs, heading)
        self._drawn_width, self._drawn_height = self._width(), self._height()
        ctx = RenderContext(e.classes, e.support_labels, support_pngs, self._drawn_width, self._drawn_height)
        left = self._height_left_under_summary()
        for k, part in enumerate(e.parts):
            # The first part shows whole beside the prediction when the view has the room (a map
            # then fits what is left); else it fits the whole view, scrolled to.
            ctx.height = left if k == 0 and left is not None and left >= MIN_MAP_H + 80 else self._drawn_height
            card = part_card(part, ctx)
            self.column.insertWidget(self.column.count() - 1, card)  # before the stretch
            self.cards.append(card)

    def _width(self) -> int:
        """About how wide a part's picture can be: the view's width less the card's margins."""
        width = self.plot_width or (self.scroll.viewport().width() if self.scroll is not None else self.width()) - 30
        return max(300, width)

    def _height_left_under_summary(self) -> int | None:
        """How tall the view is under its heading, prediction and summary (None: it does not scroll)."""
        if self._drawn_height is None:
            return None
        m = self.column.contentsMargins()
        width = self.scroll.viewport().width() - m.left() - m.right()
        shown = [w.heightForWidth(width) if w.hasHeightForWidth() else w.sizeHint().height()
                 for w in (self.heading, self.prediction, self.bars, self.summary) if not w.isHidden()]
        return self._drawn_height - m.top() - sum(shown) - self.column.spacing() * len(shown)

    def _height(self) -> int | None:
        """How tall the view shows at once (None: a container scrolls it, as Compare's columns)."""
        return self.scroll.viewport().height() if self.scroll is not None else None

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        # The parts are laid out for a size (how many thumbnails a row holds, which axis names fit,
        # how tall a map is): after the person resizes the panel, draw them again for the new one.
        height_changed = self._drawn_height is not None and abs((self._height() or 0) - self._drawn_height) > 40
        if self.explanation is not None and (abs(self._width() - self._drawn_width) > 40 or height_changed):
            self._redraw.start()

    def _draw_again(self) -> None:
        if self.explanation is not None:
            self.show_explanation(self.explanation, *self._shown_args)

    def picture(self) -> QPixmap:
        """The whole column as one picture (not only the part scrolled into view)."""
        return self.content.grab()

    def sizeHint(self) -> QSize:
        return QSize(420, 600)
