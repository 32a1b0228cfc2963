"""The Compare view's live curves: loss, training accuracy and validation accuracy of every
compared algorithm overlaid, against episodes or training seconds (validations excluded), one stable colour per
algorithm; a chip per algorithm above the plots hides or shows its curves.

`CurvesPanel` only draws: the Compare view feeds it the run's events (`curves[name].add…`) and
asks it to `redraw()` at most REDRAW_MS apart, so a fast run never floods the GUI thread.
"""
from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette, QPixmap
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from app.views.studio.training_panel import append_smoothed

from .results import algo_color, set_plot_title, swatch

REDRAW_MS = 40  # 25 Hz, like the Studio's curves
LEGEND_MAX = 4  # algorithms named in the loss plot's own legend; more: the chips are the legend
PLOTS = (("loss", "Training loss"), ("accuracy", "Training accuracy"), ("accuracy", "Validation accuracy"))


class Curves:
    """One algorithm's curve buffers (loss and accuracy smoothed as the Studio's) and its three plot items."""

    def __init__(self, name: str, title: str, color: QColor, plots: list):
        self.name, self.title, self.color = name, title, color
        self.ep: list[float] = []
        self.sec: list[float] = []
        self.loss: list[float] = []
        self.acc: list[float] = []
        self.val_ep: list[float] = []
        self.val_sec: list[float] = []
        self.val: list[float] = []
        pen = pg.mkPen(color, width=2)
        self.items = [plots[0].plot([], [], pen=pen, name=title), plots[1].plot([], [], pen=pen),
                      plots[2].plot([], [], pen=pen, symbol="o", symbolSize=6, symbolBrush=color, symbolPen=pg.mkPen(color))]

    def add(self, episodes: float, seconds: float, loss: float, acc: float) -> None:
        if not (math.isfinite(loss) and math.isfinite(acc)):
            return
        self.ep.append(float(episodes))
        self.sec.append(float(seconds))
        append_smoothed(self.loss, loss)
        append_smoothed(self.acc, acc)

    def add_val(self, episodes: float, seconds: float, acc: float) -> None:
        self.val_ep.append(float(episodes))
        self.val_sec.append(float(seconds))
        self.val.append(acc)

    def add_recorded(self, curves: dict) -> None:
        """A finished result's curves (`AlgoResult.curves`), as a run would have added them."""
        for e, s, lo, a in zip(curves["episodes"], curves["seconds"], curves["loss"], curves["accuracy"]):
            self.add(e, s, lo, a)
        for e, s, a in zip(curves["val_episodes"], curves["val_seconds"], curves["val_accuracy"]):
            self.add_val(e, s, a)

    def draw(self, by_seconds: bool) -> None:
        x, vx = (self.sec, self.val_sec) if by_seconds else (self.ep, self.val_ep)
        self.items[0].setData(x, self.loss)
        self.items[1].setData(x, self.acc)
        self.items[2].setData(vx, self.val)

    def set_visible(self, on: bool) -> None:
        for it in self.items:
            it.setVisible(on)

    @property
    def visible(self) -> bool:
        return self.items[0].isVisible()

    def remove(self, plots: list) -> None:
        for p, it in zip(plots, self.items):
            p.removeItem(it)


class CurvesPanel(QWidget):
    """The heading row (x axis choice; `header` takes the view's export buttons), the chips and the
    three linked plots."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.curves: dict[str, Curves] = {}
        self.measure_details = ""
        self.chips: dict[str, QToolButton] = {}
        self.dirty = False
        self.x_box = QComboBox()
        self.x_box.addItem("against episodes", "episodes")
        self.x_box.addItem("against training seconds", "seconds")
        self.x_box.currentIndexChanged.connect(lambda: (self.mark_dirty(), self.redraw()))
        title = QLabel("Meta-training")
        title.setObjectName("heading")
        self.header = QHBoxLayout()
        self.header.addWidget(title)
        self.header.addWidget(self.x_box)
        self.header.addStretch(1)
        pg.setConfigOptions(antialias=True)
        self.plots_widget = pg.GraphicsLayoutWidget()
        self.plots_widget.setMinimumHeight(200)
        self.plots: list = []
        for col, (label, plot_title) in enumerate(PLOTS):
            p = self.plots_widget.addPlot(row=0, col=col, title=plot_title)
            p.setLabel("left", label)
            p.showGrid(x=True, y=True, alpha=0.15)
            p.setMenuEnabled(False)
            if col:
                p.setYRange(0, 1, padding=0.02)
                p.setXLink(self.plots[0])
            self.plots.append(p)
        self.legend = self.plots[0].addLegend(offset=(-4, 4), labelTextSize="8pt")
        self.legend.setBrush(pg.mkBrush(self.palette().color(QPalette.ColorRole.Base)))
        # Shown instead of the plots when the models on screen kept no training record (e.g.
        # models trained elsewhere without one): three empty plots would only suggest missing data.
        self.no_records = QLabel()
        self.no_records.setObjectName("muted")
        self.no_records.setWordWrap(True)
        self.no_records.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.no_records.setVisible(False)
        # The chips get a row of their own: with all ten algorithms ticked they would otherwise
        # widen the window past a laptop screen.
        self.chip_row = QHBoxLayout()
        self.chip_row.setSpacing(4)
        chips = QHBoxLayout()
        chips.addLayout(self.chip_row)
        chips.addStretch(1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(self.header)
        lay.addLayout(chips)
        lay.addWidget(self.plots_widget, 1)
        lay.addWidget(self.no_records, 1)

    def start(self, algorithms: dict[str, str]) -> None:
        """Clear the plots and prepare one curve set and chip per algorithm (name -> title)."""
        for c in self.curves.values():
            c.remove(self.plots)
        self.curves.clear()
        self.legend.clear()
        while self.chip_row.count():
            it = self.chip_row.takeAt(0)
            if it.widget():
                it.widget().deleteLater()
        self.chips.clear()
        for name, title in algorithms.items():
            color = algo_color(name)
            self.curves[name] = Curves(name, title, color, self.plots)
            chip = QToolButton()
            chip.setText(name)
            chip.setIcon(swatch(color))
            chip.setCheckable(True)
            chip.setChecked(True)
            chip.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            chip.setToolTip(f"Show or hide {title}'s curves")
            chip.toggled.connect(lambda on, n=name: self.show_algorithm(n, on))
            self.chip_row.addWidget(chip)
            self.chips[name] = chip
        self._fill_legend()
        # Beyond a few algorithms the in-plot legend covers the curves it names; the chip row above
        # the plots (a colour swatch and name per algorithm) is the legend then.
        self.legend.setVisible(len(algorithms) <= LEGEND_MAX)
        self.dirty = True

    def has_records(self) -> bool:
        """Whether any algorithm has a point to draw (a live or recorded training or validation)."""
        return any(c.ep or c.val_ep for c in self.curves.values())

    def show_plots(self, on: bool, why_not: str = "") -> None:
        """The plots, or instead of them the line `why_not` says (no training records to draw)."""
        self.plots_widget.setVisible(on)
        self.x_box.setEnabled(on)
        self.no_records.setText(why_not)
        self.no_records.setVisible(not on)

    def plots_picture(self) -> QPixmap | None:
        """The three plots as they show now; None while a line says why there are none."""
        return None if self.plots_widget.isHidden() else self.plots_widget.grab()

    def set_measures(self, training: str, validation: str, details: str = "") -> None:
        """Name under each plot's title what its curves measured; `details` (the plots' tooltip, and
        a line in the exported picture) says whose is which when a title can only say "each model's own"."""
        for p, (_, title), measure in zip(self.plots, PLOTS, (training, training, validation)):
            set_plot_title(p, title, measure)
        self.measure_details = details
        self.plots_widget.setToolTip(details)

    def _fill_legend(self) -> None:
        """The loss plot's legend names the algorithms whose curves are shown, in the run's order."""
        self.legend.clear()
        for c in self.curves.values():
            if c.visible:
                self.legend.addItem(c.items[0], c.title)
        for label in self.legend.items:
            label[1].setAttr("color", self.palette().color(QPalette.ColorRole.Text))
            label[1].setText(label[1].text)

    def show_algorithm(self, name: str, on: bool) -> None:
        """A chip: show or hide an algorithm's curves; the legend and the axes follow the shown ones."""
        self.curves[name].set_visible(on)
        self._fill_legend()
        self.plots[0].enableAutoRange()  # the x axis (linked to all three plots) fits the curves still shown

    def shown_curves(self) -> list[Curves]:
        return [c for c in self.curves.values() if c.visible]

    def mark_dirty(self) -> None:
        self.dirty = True

    def redraw(self) -> bool:
        """Draw what was added since the last redraw; False when there was nothing new."""
        if not self.dirty:
            return False
        self.dirty = False
        by_seconds = self.x_box.currentData() == "seconds"
        for c in self.curves.values():
            c.draw(by_seconds)
        for p in self.plots:
            p.setLabel("bottom", "training seconds" if by_seconds else "episodes")
        return True

    def apply_palette(self, extra_plots: tuple = ()) -> None:
        """Background, axes and titles in the palette's colours (`extra_plots`: other PlotWidgets
        of the view, e.g. the results' bar chart, to style alike)."""
        pal = self.palette()
        fg = pal.color(QPalette.ColorRole.Text)
        for w in (self.plots_widget, *extra_plots):
            w.setBackground(pal.color(QPalette.ColorRole.Base))
        for p in self.plots + [w.getPlotItem() for w in extra_plots]:
            for axis in ("left", "bottom"):
                p.getAxis(axis).setPen(pg.mkPen(pal.color(QPalette.ColorRole.Mid)))
                p.getAxis(axis).setTextPen(pg.mkPen(fg))
            p.titleLabel.setAttr("color", fg)
            p.titleLabel.setText(p.titleLabel.text)
