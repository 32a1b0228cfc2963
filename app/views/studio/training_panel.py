"""Live meta-training curves and progress.

Progress dicts from the worker are appended to plain lists (cheap, whatever the step rate); a
~25 Hz QTimer pushes the buffers into pyqtgraph items that were created once (`setData`), so a
fast trainer never floods the GUI with redraws.
"""
from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QVBoxLayout, QWidget

import core

from app.model.library import measure_words, validation_figure
from app.model.words import fmt_count
from app.views.widgets.style import is_dark

REDRAW_MS = 40  # 25 Hz
SMOOTH = 0.9  # exponential moving average for the noisy per-step curves
STEPS_FORMAT = "%v / %m steps"


def append_smoothed(series: list[float], value: float) -> None:
    """Append `value` to a smoothed curve (the Studio's and the Compare view's): SMOOTH's
    exponential moving average, starting at the first value."""
    series.append(SMOOTH * series[-1] + (1 - SMOOTH) * value if series else value)


class TrainingPanel(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        pg.setConfigOptions(antialias=True)
        self.plots = pg.GraphicsLayoutWidget()
        self.plots.setMinimumHeight(220)
        self.loss_plot = self.plots.addPlot(row=0, col=0)
        self.acc_plot = self.plots.addPlot(row=1, col=0)
        self.acc_plot.setXLink(self.loss_plot)
        self.loss_plot.setLabel("left", "loss")
        self.acc_plot.setLabel("left", "accuracy")
        self.acc_plot.setLabel("bottom", "episodes")
        self.acc_plot.setYRange(0, 1, padding=0.02)
        self.acc_plot.getViewBox().setLimits(yMin=-0.05, yMax=1.05)
        for p in (self.loss_plot, self.acc_plot):
            p.showGrid(x=True, y=True, alpha=0.15)
            p.setMenuEnabled(False)
        self.loss_plot.hideAxis("bottom")
        self.loss_raw = self.loss_plot.plot([], [])
        self.loss_curve = self.loss_plot.plot([], [])
        self.acc_raw = self.acc_plot.plot([], [])
        self.acc_curve = self.acc_plot.plot([], [])
        self.val_curve = self.acc_plot.plot([], [], symbol="o", symbolSize=6)
        # The legend gets a row of its own under the plots: inside, it covered the curves.
        self.acc_legend = pg.LegendItem(offset=None, labelTextSize="8pt", colCount=3)
        self.plots.addItem(self.acc_legend, row=2, col=0)
        for curve, name in ((self.loss_curve, "loss"), (self.acc_curve, "training accuracy"), (self.val_curve, "validation accuracy")):
            self.acc_legend.addItem(curve, name)
        self.progress_bar = QProgressBar()
        self.progress_bar.setTextVisible(True)
        self.progress_bar.setFormat(STEPS_FORMAT)
        self.stats = QLabel("Not trained yet")
        self.stats.setObjectName("muted")
        self.stats.setWordWrap(True)  # a long record summary must not widen the panel
        self.stats.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # Why the curves on screen are not those of the run that just ended, when that is so (not
        # muted: it answers the question the person has after Stop).
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.note.setVisible(False)
        # What a live run's validation measures (ways, shots, data, episodes): its figure names it.
        self.validation: tuple[int, int, str, int] | None = None
        row = QHBoxLayout()
        row.addWidget(self.progress_bar, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.plots, 1)
        lay.addLayout(row)
        lay.addWidget(self.note)
        lay.addWidget(self.stats)
        self.timer = QTimer(self)
        self.timer.setInterval(REDRAW_MS)
        self.timer.timeout.connect(self.redraw)
        self.apply_palette()
        self.reset()

    def apply_palette(self) -> None:
        pal = self.palette()
        dark = is_dark(pal)
        self.plots.setBackground(pal.color(QPalette.ColorRole.Base))
        fg = pal.color(QPalette.ColorRole.Text)
        for p in (self.loss_plot, self.acc_plot):
            for axis in ("left", "bottom"):
                p.getAxis(axis).setPen(pg.mkPen(pal.color(QPalette.ColorRole.Mid)))
                p.getAxis(axis).setTextPen(pg.mkPen(fg))
        c_loss = QColor("#e07b39")
        c_acc = QColor("#4f74e3" if dark else "#3559c7")
        c_val = QColor("#46c07a" if dark else "#2e9d5b")
        faint = lambda c: QColor(c.red(), c.green(), c.blue(), 60)  # noqa: E731
        self.loss_raw.setPen(pg.mkPen(faint(c_loss), width=1))
        self.loss_curve.setPen(pg.mkPen(c_loss, width=2))
        self.acc_raw.setPen(pg.mkPen(faint(c_acc), width=1))
        self.acc_curve.setPen(pg.mkPen(c_acc, width=2))
        self.val_curve.setPen(pg.mkPen(c_val, width=2))
        self.val_curve.setSymbolBrush(c_val)
        self.val_curve.setSymbolPen(pg.mkPen(c_val))
        for _, label in self.acc_legend.items:
            label.setAttr("color", fg)
            label.setText(label.text)

    def reset(self, title: str = "", detail: str = "") -> None:
        """No curves: `title` (or "Not trained yet") on the line below them, `detail` on hover."""
        self.x: list[float] = []
        self.loss: list[float] = []
        self.acc: list[float] = []
        self.loss_s: list[float] = []
        self.acc_s: list[float] = []
        self.val_x: list[float] = []
        self.val: list[float] = []
        self.last: dict | None = None
        self._dirty = True
        # Empty plots start from the default ranges, not the previous run's (autorange keeps a
        # range when it has no data); the next run's data rescales them again.
        self.loss_plot.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)
        self.loss_plot.enableAutoRange()
        self.acc_plot.enableAutoRange(axis="x")
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        # No run yet: a bare range would read "0 / 1 steps" whatever the Steps setting says.
        self.progress_bar.setFormat("no run")
        self.stats.setText(title or "Not trained yet")
        self.stats.setToolTip(detail)
        self.note.setText("")
        self.note.setVisible(False)
        self.redraw()

    def show_record(self, record: dict, name: str, figure: str = "", own_validation: bool = False, note: str = "") -> None:
        """The curves of a finished run, from a checkpoint's training record (`Trainer.trainer_state`:
        per-step loss and accuracy, validation points, steps, episodes, time, source). `figure`:
        the model's figure with its measure, as everywhere else. `own_validation`: the record's
        validation points measured something else than the figure (a starter model's figure is a
        test), so the line names theirs too. `note`: a line above, saying why this model is shown."""
        self.timer.stop()
        self.reset()
        self.note.setText(note)
        self.note.setVisible(bool(note))
        history = record.get("history") or {}
        steps = list(history.get("step") or [])
        done = int(record.get("step") or (steps[-1] if steps else 0))
        if not steps or not done:
            self.stats.setText(f"{name}{f': {figure}' if figure else ''} — no training record")
            return
        per_step = float(record.get("episodes_seen") or 0) / done or 1.0  # episodes per step: the x axis
        for step, loss, acc in zip(steps, history.get("loss") or [], history.get("accuracy") or []):
            self.add({"episodes": step * per_step, "loss": loss, "accuracy": acc})
        self.val_x = [s * per_step for s in history.get("val_step") or []]
        self.val = list(history.get("val_accuracy") or [])[: len(self.val_x)]
        self.last = None  # not a live run: redraw() draws the curves, the text is set here
        self._dirty = True
        self.redraw()
        self.progress_bar.setFormat(STEPS_FORMAT)
        self.progress_bar.setRange(0, done)
        self.progress_bar.setValue(done)
        source = f" on {record['source']}" if record.get("source") else ""
        episodes = int(record.get("episodes_seen") or 0)
        config = record.get("config") or {}
        curve = ""
        if own_validation and self.val:
            measure = measure_words(int(config.get("n_way", 0)), int(config.get("k_shot", 0)), "", int(config.get("val_episodes") or 0))
            curve = f"; validation (green points): {self.val[-1]:.1%} · {measure}"
        members = record.get("members") or []  # an ensemble: its networks' records one after the other
        ensemble = f" — an ensemble of {len(members)} networks, their curves one after the other" if len(members) > 1 else ""
        self.stats.setText(f"{name}{f': {figure}' if figure else ''}. {fmt_count(done)} steps, {fmt_count(episodes)} "
                           f"episodes in {core.fmt_duration(record.get('elapsed_s'))}{source}{curve}{ensemble}.")

    def start(self, title: str, total_steps: int, validation: tuple[int, int, str, int] | None = None) -> None:
        """A live run begins. `validation`: what its validation measures (ways, shots, data,
        episodes), so its figure names its measure."""
        self.reset(title)
        self.validation = validation
        self.progress_bar.setFormat(STEPS_FORMAT)
        self.progress_bar.setRange(0, max(1, total_steps))
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()
        self.redraw()

    def failed(self, title: str) -> None:
        """A live run ended in an error: its curves stay, the line below them says `title`."""
        self.stop()
        self.stats.setText(title)

    def add(self, p: dict) -> None:
        """Buffer one Progress dict (called for every step; must stay cheap)."""
        x = float(p["episodes"])
        if math.isfinite(p["loss"]):
            self.x.append(x)
            self.loss.append(p["loss"])
            self.acc.append(p["accuracy"])
            append_smoothed(self.loss_s, p["loss"])
            append_smoothed(self.acc_s, p["accuracy"])
        if p.get("val_accuracy") is not None:
            self.val_x.append(x)
            self.val.append(p["val_accuracy"])
        self.last = p
        self._dirty = True

    def redraw(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        self.loss_raw.setData(self.x, self.loss)
        self.loss_curve.setData(self.x, self.loss_s)
        self.acc_raw.setData(self.x, self.acc)
        self.acc_curve.setData(self.x, self.acc_s)
        self.val_curve.setData(self.val_x, self.val)
        p = self.last
        if p is None:
            return
        self.progress_bar.setMaximum(max(1, p["total_steps"]))
        self.progress_bar.setValue(p["step"])
        val = f" · {self.validation_text(self.val[-1], p.get('val_episodes'))}" if self.val else ""
        if p["status"] == "running":
            self.stats.setText(f"{p['episodes_per_s']:.1f} episodes/s · ETA {core.fmt_duration(p['eta_s'])} · "
                               f"{fmt_count(p['episodes'])} episodes{val}")
        else:
            self.stats.setText(f"{p['message'].capitalize()} after {fmt_count(p['step'])} steps, {core.fmt_duration(p['elapsed_s'])}{val}")

    def validation_text(self, accuracy: float, episodes: int | None = None) -> str:
        """A live run's validation figure with its measure (`episodes`: when a validation used
        fewer than the run's own, as a stopped run's quick one does)."""
        if self.validation is None:
            return validation_figure(accuracy)
        n_way, k_shot, data, run_episodes = self.validation
        return f"{validation_figure(accuracy)} · {measure_words(n_way, k_shot, data, episodes or run_episodes)}"
