"""The Compare view's "Sweep" tab: how accuracy grows with shots, and falls with ways.

Every compared model (and, ticked, the Studio's model in use) is evaluated over a grid of shots ×
ways on the same fixed test episodes per point (`core.Sweep`, on its own QThread:
`app.engine.workers.SweepSession`; this page starts it and shows its reports),
with progress and Stop; Stop keeps the points already finished. Two plots show the result: accuracy
against shots at the chosen ways, and against ways at the chosen shots, one line per model with
its 95% CI as a band. The finished (or stopped) sweep goes into the project (`Project.sweep`), so a
saved project shows it again.
"""
from __future__ import annotations

from typing import Callable

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QProgressBar, QPushButton,
                               QSpinBox, QVBoxLayout, QWidget)

import core

from app.engine.workers import SweepSession
from app.model.compare import LIMITS

from .host import CompareHost
from .results import algo_color

STUDIO_PREFIX = "Studio: "  # the label of the Studio's model in a sweep


def parse_counts(text: str, what: str, least: int) -> list[int]:
    """"1, 2, 5" -> [1, 2, 5]; a clear ValueError for anything else."""
    parts = [t for t in text.replace(";", ",").replace(" ", ",").split(",") if t]
    try:
        values = sorted({int(t) for t in parts})
    except ValueError:
        values = []
    if not values or min(values) < least:
        raise ValueError(f"{what}: write whole numbers ≥ {least} separated by commas (e.g. {least}, {least + 3}, {least + 8}); got “{text}”")
    return values


class SweepPage(QWidget):
    message = Signal(str, str)
    runningChanged = Signal(bool)
    ended = Signal()  # a sweep's thread has stopped (a window closing mid-sweep waits for it)

    def __init__(self, view: CompareHost, parent: QWidget | None = None):
        """`view`: the Compare view whose comparison's models (and test source) are swept."""
        super().__init__(parent)
        self.view = view
        self.studio_model: Callable[[], tuple[str, str] | None] = lambda: None  # (path, name) of the Studio's model in use
        self.session: SweepSession | None = None
        self.last_progress: dict | None = None  # the running sweep's latest point report (closing names it)
        self.result = None  # core.SweepResult on screen
        self.shots_edit = QLineEdit("1, 2, 3, 5, 10")
        self.ways_edit = QLineEdit()
        self.ways_edit.setPlaceholderText("2, 5, 10, 20, 50 — up to what the models and source support")
        self.episodes_box = QSpinBox()
        self.episodes_box.setRange(*LIMITS["eval_episodes"])
        self.episodes_box.setValue(100)
        self.episodes_box.setToolTip("Test episodes per point (the same ones for every model)")
        self.queries_box = QSpinBox()
        self.queries_box.setRange(*LIMITS["q_query"])
        self.queries_box.setValue(core.DEFAULT_TASK.q_query)
        self.studio_box = QCheckBox("Also the Studio's model in use")
        self.run_btn = QPushButton("Run sweep")
        self.run_btn.setObjectName("primary")
        self.stop_btn = QPushButton("Stop")
        self.stop_btn.setEnabled(False)
        self.stop_btn.setToolTip("Stop the sweep: the points already finished are kept")
        self.run_btn.clicked.connect(self.run)
        self.stop_btn.clicked.connect(self.stop)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(False)
        self.status = QLabel("Not run yet: sweeps the compared models.")
        self.status.setObjectName("muted")
        self.status.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Shots", self.shots_edit)
        form.addRow("Ways", self.ways_edit)
        counts = QHBoxLayout()
        counts.addWidget(self.episodes_box)
        counts.addWidget(QLabel("episodes a point,"))
        counts.addWidget(self.queries_box)
        counts.addWidget(QLabel("queries a class"))
        counts.addStretch(1)
        form.addRow("Test", counts)
        buttons = QHBoxLayout()
        for w in (self.studio_box, self.run_btn, self.stop_btn):
            buttons.addWidget(w)
        buttons.addWidget(self.bar, 1)
        form.addRow(buttons)
        self.at_ways, self.at_shots = QComboBox(), QComboBox()
        self.at_ways.currentIndexChanged.connect(lambda _: self.redraw())
        self.at_shots.currentIndexChanged.connect(lambda _: self.redraw())
        self.plots = pg.GraphicsLayoutWidget()
        self.plots.setMinimumHeight(260)
        self.shot_plot = self.plots.addPlot(row=0, col=0, title="Accuracy against shots")
        self.way_plot = self.plots.addPlot(row=0, col=1, title="Accuracy against ways")
        for p, x in ((self.shot_plot, "shots (K)"), (self.way_plot, "ways (N)")):
            p.setLabel("bottom", x)
            p.setLabel("left", "test accuracy")
            p.setYRange(0, 1, padding=0.02)
            p.showGrid(x=True, y=True, alpha=0.15)
            p.setMenuEnabled(False)
        self.legend = self.shot_plot.addLegend(offset=(-4, -4), labelTextSize="8pt")
        self._style()
        pick = QHBoxLayout()
        pick.addWidget(QLabel("Shots curve at"))
        pick.addWidget(self.at_ways)
        pick.addStretch(1)
        pick.addWidget(QLabel("Ways curve at"))
        pick.addWidget(self.at_shots)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.status)
        lay.addLayout(pick)
        lay.addWidget(self.plots, 1)

    def _style(self) -> None:
        pal = self.palette()
        self.plots.setBackground(pal.color(QPalette.ColorRole.Base))
        fg = pal.color(QPalette.ColorRole.Text)
        for p in (self.shot_plot, self.way_plot):
            for axis in ("left", "bottom"):
                p.getAxis(axis).setTextPen(pg.mkPen(fg))
            p.titleLabel.setAttr("color", fg)
            p.titleLabel.setText(p.titleLabel.text)

    # -- running ---------------------------------------------------------------------------------------
    def is_running(self) -> bool:
        return self.session is not None

    def run(self) -> bool:
        view = self.view
        if self.session is not None or view.is_running():
            return False
        if not view.engine.ready:
            self.message.emit("The engine is still loading", "Wait until the engine has loaded, then run the sweep.")
            return False
        try:
            shots = parse_counts(self.shots_edit.text(), "Shots", 1)
            ways = parse_counts(self.ways_edit.text(), "Ways", 2) if self.ways_edit.text().strip() else None
        except ValueError as exc:
            self.message.emit("Cannot sweep", str(exc))
            return False
        models = {n: view.models[n] for n in view.trained_names() if n in view.models}
        studio = self.studio_model() if self.studio_box.isChecked() else None
        if not models and studio is None:
            self.message.emit("Nothing to sweep", "Run a comparison first (its trained models are swept), or tick “Also the Studio's model in use”.")
            return False
        comp = view.comparison
        request = {"models": models, "source": dict(view.current_setup().source), "device": comp.config.device if comp else "auto",
                   "n_way": max([comp.config.n_way if comp else 2, *(ways or [2])]),
                   "studio": (STUDIO_PREFIX + studio[1], studio[0]) if studio else None,
                   "config": {"shots": shots, "ways": ways, "q_query": self.queries_box.value(), "episodes": self.episodes_box.value()}}
        self.session = SweepSession(request, self)
        self.session.stage.connect(self.status.setText)
        self.session.progress.connect(self._progress)
        self.session.finished.connect(self._finished)
        self.session.failed.connect(self._failed)
        self.session.ended.connect(self._ended)
        self.bar.setValue(0)
        self.last_progress = None
        self._set_running(True)
        self.session.start()
        return True

    def set_run_enabled(self, on: bool) -> None:
        """Allow or refuse Run sweep while no sweep runs (a comparison is making the models)."""
        self.run_btn.setEnabled(on)

    def stop(self) -> None:
        if self.session is not None:
            self.session.stop()
            self.status.setText("Stopping… (the finished points are kept)")

    def stop_and_wait(self, timeout_ms: int = 1800) -> bool:
        """Closing but keeping the sweep: Stop as the Stop button does, wait for the thread, and
        take in its finished points now (into the project, as after Stop). False if the thread is
        still inside one episode after `timeout_ms`."""
        return self.session is None or self.session.stop_and_wait(timeout_ms)

    def shutdown(self, timeout_ms: int = 1800) -> bool:
        """Closing: cancel a sweep and wait for its thread; False if it is still inside one episode."""
        if self.session is not None and not self.session.close_for_good(timeout_ms):
            return False
        self.session = None
        return True

    def _set_running(self, running: bool) -> None:
        self.run_btn.setEnabled(not running)
        self.stop_btn.setEnabled(running)
        for w in (self.shots_edit, self.ways_edit, self.episodes_box, self.queries_box, self.studio_box):
            w.setEnabled(not running)
        self.view.set_run_enabled(not running)  # one run at a time: the models are the comparison's
        self.runningChanged.emit(running)

    def _progress(self, p: dict) -> None:
        if "result" in p:
            self.show_result(p["result"])
        if "fraction" in p and p.get("status") == "running":
            self.last_progress = p
            self.bar.setValue(round(1000 * p["fraction"]))
            self.status.setText(f"{p['model']}: {p['n_way']}-way {p['k_shot']}-shot, episode {p['episode']} of {p['episodes']} "
                                f"({p['accuracy']:.1%}) · point {p['points_done'] + 1} of {p['points_total']}")

    def _finished(self, result: dict) -> None:
        self.show_result(result)
        stopped = result.get("status") == "cancelled"
        self.bar.setValue(1000 if not stopped else self.bar.value())
        self.status.setText(f"{'Stopped' if stopped else 'Finished'}: {self.summary()}" + ("; the finished ones are kept" if stopped else ""))
        self.view.project.set_sweep(result)  # a run's record, not an edit: no undo step (see Project.set_sweep)

    def _failed(self, title: str, text: str) -> None:
        self.status.setText(title)
        self.message.emit(title, text)

    def _ended(self) -> None:
        session, self.session = self.session, None
        if session is not None:
            session.thread.wait()
            session.deleteLater()
        self._set_running(False)
        self.ended.emit()  # a window waiting for its runs to end (closing, or keeping the sweep) closes now

    # -- showing ---------------------------------------------------------------------------------------
    def load_from_project(self) -> None:
        """Show the project's saved sweep (after Open / Restore / New): the engine is loaded."""
        data = self.view.project.sweep
        if self.session is not None:
            return
        if not data:
            self.result = None
            self.status.setText("Not run yet: sweeps the compared models.")
            self.redraw()
            return
        try:
            self.show_result(data)
        except core.ConfigError as exc:
            self.message.emit("Cannot show the saved sweep", str(exc))
            return
        self.status.setText(f"Saved sweep: {self.summary()}")

    def show_result(self, data: dict) -> None:
        self.result = core.SweepResult.from_dict(data)
        _refill(self.at_ways, self.result.ways, "{}-way")
        _refill(self.at_shots, self.result.shots, "{}-shot")
        self.redraw()

    def summary(self) -> str:
        """How many points were measured, and which a model cannot classify (in its own words)."""
        points = self.result.points
        done = sum(p.status == "done" for p in points)
        text = f"{done} of {len(points)} points measured ({self.result.config.episodes} test episodes each)"
        unsupported = sorted({f"{p.model} at {p.n_way} ways" for p in points if p.status == "unsupported"})
        return text + (f"; not possible: {', '.join(unsupported)}" if unsupported else "")

    def redraw(self) -> None:
        self.legend.clear()
        for p in (self.shot_plot, self.way_plot):
            p.clear()
        r = self.result
        if r is None or self.at_ways.currentData() is None or self.at_shots.currentData() is None:
            return
        n, k = self.at_ways.currentData(), self.at_shots.currentData()
        self.shot_plot.setTitle(f"Accuracy against shots ({n}-way)")
        self.way_plot.setTitle(f"Accuracy against ways ({k}-shot)")
        for model in r.models:
            color, dashed = self.color(model)
            for plot, points, x_of in ((self.shot_plot, r.shot_curve(model, n), lambda p: p.k_shot),
                                       (self.way_plot, r.way_curve(model, k), lambda p: p.n_way)):
                if not points:
                    continue
                x = [float(x_of(p)) for p in points]
                mean = [p.mean for p in points]
                edge = pg.mkPen(QColor(0, 0, 0, 0))  # invisible band edges (a curve without a pen has no path to fill between)
                lo = pg.PlotDataItem(x, [p.mean - p.ci95 for p in points], pen=edge)
                hi = pg.PlotDataItem(x, [p.mean + p.ci95 for p in points], pen=edge)
                band = QColor(color)
                band.setAlpha(50)
                plot.addItem(lo)
                plot.addItem(hi)
                plot.addItem(pg.FillBetweenItem(lo, hi, brush=pg.mkBrush(band)))
                pen = pg.mkPen(color, width=2, style=Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine)
                plot.addItem(pg.PlotDataItem(x, mean, pen=pen, symbol="o", symbolSize=6, symbolBrush=color, symbolPen=pg.mkPen(color),
                                             name=model if plot is self.shot_plot else None))
        fg = self.palette().color(QPalette.ColorRole.Text)
        for label in self.legend.items:
            label[1].setAttr("color", fg)
            label[1].setText(label[1].text)

    def color(self, model: str) -> tuple[QColor, bool]:
        """A compared model's colour is its algorithm's (as in every other plot); the Studio's model
        is dashed in its algorithm's colour."""
        if model.startswith(STUDIO_PREFIX) and self.result is not None:
            title = self.result.titles.get(model, "")
            name = next((n for n, cls in core.ALGORITHMS.items() if cls.title == title), model)
            return algo_color(name), True
        return algo_color(model), False


def _refill(box: QComboBox, values: list[int], fmt: str) -> None:
    """The choices `values`, keeping the current one when it is still among them (else, for ways,
    the default task's where there, and the first otherwise)."""
    current = box.currentData()
    box.blockSignals(True)
    box.clear()
    for v in values:
        box.addItem(fmt.format(v), v)
    i = box.findData(current)
    if i < 0 and core.DEFAULT_TASK.n_way in values and "way" in fmt:
        i = box.findData(core.DEFAULT_TASK.n_way)
    box.setCurrentIndex(max(0, i))
    box.blockSignals(False)
