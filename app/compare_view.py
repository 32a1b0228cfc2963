"""The Compare view: several algorithms meta-trained on identical seeded episodes, side by side.

Left, the setup: tick any registered algorithms (the ⚙ button shows an algorithm's own
hyperparameter form, generated from its HParams like the Studio's), one meta-training source,
N/K/Q, the episode protocol, a budget per algorithm (steps and/or seconds), the number of shared
test episodes, the seed and the device; Run / Stop.
Right: overlaid live curves (loss, training accuracy, validation accuracy) against episodes or
wall-clock seconds, one stable colour per algorithm (the chips above the plots hide or show an
algorithm's curves); the results table (sortable: click a header) beside a bar chart of test
accuracy with 95% CI whiskers; the pairwise matrix (share of shared test episodes the row beats
the column, colour-coded, * = significant by the paired test); and a "My queries" tab that
classifies the Studio view's queries with every trained model (query × algorithm: predicted class
and confidence; rows where the algorithms disagree are highlighted).

The run is `core.Comparison.run()` on its own QThread (`workers.CompareSession`), forwarding plain dicts;
Stop sets its CancelToken (algorithms that finished keep their results). The trained models stay
in memory (`comparison.learners`) for the query grid. Saving the project stores them in the
project file too (as checkpoints beside `comparison.json`), so a reopened project shows the whole
comparison and can still classify with its models; a JSON export holds no models.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QRectF, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPalette
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QFrame, QGridLayout, QHBoxLayout, QLabel,
                               QProgressBar, QPushButton, QScrollArea, QSpinBox, QSplitter, QTabWidget, QToolButton,
                               QVBoxLayout, QWidget)

from . import workers
from .common import fmt_count, fmt_duration
from .compare_results import QueryGrid, ResultsTables, algo_color, swatch
from .dialogs import Dialogs
from .hparam_form import HParamForm, PresetButton, field_label
from .project import Project
from .style import icon

REDRAW_MS = 40  # 25 Hz, like the Studio's curves
SMOOTH = 0.9  # exponential moving average of the noisy per-step curves
LEGEND_MAX = 4  # algorithms named in the loss plot's own legend; more: the chips are the legend
SOURCE_KINDS = [("builtin", "Built-in characters"), ("omniglot", "Omniglot folder…"), ("folder", "Image folder…")]
PROTOCOLS = [("same", "Identical for all"), ("paper", "Each paper's shape")]
DEFAULT_SETUP: dict[str, Any] = {"n_way": 5, "k_shot": 1, "q_query": 15, "protocol": "same", "steps_each": 500, "seconds_each": 60,
                                 "eval_episodes": 600, "seed": 0, "device": "auto", "val_every": 100, "val_episodes": 40}


class Curves:
    """One algorithm's curve buffers (raw and smoothed) and its three plot items."""

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
        self.loss.append(SMOOTH * self.loss[-1] + (1 - SMOOTH) * loss if self.loss else loss)
        self.acc.append(SMOOTH * self.acc[-1] + (1 - SMOOTH) * acc if self.acc else acc)

    def add_val(self, episodes: float, seconds: float, acc: float) -> None:
        self.val_ep.append(float(episodes))
        self.val_sec.append(float(seconds))
        self.val.append(acc)

    def draw(self, by_seconds: bool) -> None:
        x, vx = (self.sec, self.val_sec) if by_seconds else (self.ep, self.val_ep)
        self.items[0].setData(x, self.loss)
        self.items[1].setData(x, self.acc)
        self.items[2].setData(vx, self.val)

    def set_visible(self, on: bool) -> None:
        for it in self.items:
            it.setVisible(on)

    def remove(self, plots: list) -> None:
        for p, it in zip(plots, self.items):
            p.removeItem(it)


# -- the view ----------------------------------------------------------------------------------
class CompareView(QWidget):
    comparisonReady = Signal()  # a comparison is on screen (finished, stopped, opened): tests wait on it
    gridReady = Signal()  # the query grid is filled
    message = Signal(str, str)  # (title, text): shown by the window
    status = Signal(str)  # a status-bar line
    runningChanged = Signal(bool)
    ended = Signal()  # a run's thread has stopped (a window closing mid-run waits for it)

    def __init__(self, project: Project, settings: QSettings | None = None, parent: QWidget | None = None, dialogs: Dialogs | None = None):
        super().__init__(parent)
        self.dialogs = dialogs if dialogs is not None else Dialogs(self)  # file and folder dialogs (messages go out as `message`)
        self.project = project
        self.settings = settings
        self.session: workers.CompareSession | None = None
        self.core_ready = False
        self.closing = False
        self.comparison = None  # core.Comparison on screen (with its models in memory when run here)
        self.models: dict[str, bytes] = {}  # its models as checkpoint bytes (what the project file keeps)
        self.source: dict = {"kind": "builtin", "folder": ""}
        self.hparams: dict[str, dict[str, Any]] = {}  # per algorithm: values changed from the paper's
        self.checks: dict[str, QCheckBox] = {}
        self.edit_buttons: dict[str, QToolButton] = {}
        self.editing: str | None = None
        self.curves: dict[str, Curves] = {}
        self.chips: dict[str, QToolButton] = {}
        self.run_names: list[str] = []
        self.grid_results: dict[str, Any] = {}
        self._grid_busy = False
        self._dirty = False
        self.shown = None  # the comparison the plots and tables show (live during a run)
        self.current: tuple[int, str] | None = None  # (index, title) of the algorithm running
        self.last: dict | None = None  # its latest progress / testing event
        self._build()
        self.timer = QTimer(self, interval=REDRAW_MS)
        self.timer.timeout.connect(self.redraw)

    # -- construction ---------------------------------------------------------------------------
    def _build(self) -> None:
        setup = self._setup_panel()
        right = QTabWidget()
        right.setDocumentMode(True)
        self.results_page = self._results_page()
        right.addTab(self.results_page, "Results")
        right.addTab(self._queries_page(), "My queries")
        self.right_tabs = right
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(setup)
        split.addWidget(right)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setChildrenCollapsible(False)
        split.setSizes([340, 1100])
        self.split = split
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(split)

    def _setup_panel(self) -> QWidget:
        heading = QLabel("Compare algorithms")
        heading.setObjectName("heading")
        hint = QLabel("Every algorithm meta-trains on the same seeded episodes, then all are tested on the same test episodes.")
        hint.setObjectName("muted")
        hint.setWordWrap(True)
        self.algo_box = QFrame()
        self.algo_layout = QGridLayout(self.algo_box)
        self.algo_layout.setContentsMargins(0, 0, 0, 0)
        self.algo_layout.setVerticalSpacing(2)
        self.algo_layout.addWidget(QLabel("Loading the engine…"), 0, 0)
        self.form_title = QLabel("")
        self.form_title.setObjectName("muted")
        self.form_title.setWordWrap(True)
        self.form = HParamForm()
        self.form.edited.connect(self._form_edited)
        self.restore_btn = QPushButton(icon("restore"), "Restore paper defaults")
        self.restore_btn.clicked.connect(self.form.restore_defaults)
        self.restore_btn.setEnabled(False)
        self.preset_btn = PresetButton(self.form)

        self.source_box = QComboBox()
        for key, label in SOURCE_KINDS:
            self.source_box.addItem(label, key)
        self.source_box.activated.connect(self._source_picked)
        self.source_label = QLabel("procedurally drawn characters, no download")
        self.source_label.setObjectName("muted")
        self.source_label.setWordWrap(True)
        self.spins: dict[str, QSpinBox] = {}
        specs = [("n_way", "Ways (N)", 2, 100, "Classes per episode (the test protocol)"),
                 ("k_shot", "Shots (K)", 1, 50, "Support images per class"),
                 ("q_query", "Queries", 1, 100, "Query images per class"),
                 ("steps_each", "Steps each", 1, 10_000_000, "Meta-training steps per algorithm"),
                 ("seconds_each", "Time each (s)", 0, 10_000_000, "Wall-clock budget per algorithm (0 = none); the run stops at whichever budget ends first"),
                 ("eval_episodes", "Test episodes", 1, 100_000, "Shared test episodes (600 is the standard)"),
                 ("seed", "Seed", 0, 2**31 - 1, "The same seed gives every algorithm the same episodes and initial weights")]
        for key, _, lo, hi, tip in specs:
            s = QSpinBox()
            s.setRange(lo, hi)
            s.setToolTip(tip)
            s.setValue(int(DEFAULT_SETUP[key]))
            self.spins[key] = s
        self.protocol_box = QComboBox()
        for key, label in PROTOCOLS:
            self.protocol_box.addItem(label, key)
        self.protocol_box.setToolTip("Identical episodes: every algorithm trains on the same N-way K-shot Q-query tasks, in the same order "
                                     "(its own Training ways / shots / queries settings are not used).\n"
                                     "Paper: each keeps its paper's training shape (ProtoNet's 60 ways, Reptile's 10 shots…), same seed.")
        self.protocol_box.currentIndexChanged.connect(lambda: self.editing and self.edit_hparams(self.editing))
        self.device_box = QComboBox()
        self.device_box.addItem("Auto (CUDA when present)", "auto")
        self.device_box.addItem("CPU", "cpu")
        self.device_box.addItem("CUDA", "cuda")
        for box in (self.source_box, self.protocol_box, self.device_box):
            box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            box.setMinimumContentsLength(12)
        task = QFormLayout()
        task.addRow("Meta-train on", self.source_box)
        task.addRow("", self.source_label)
        for key, label, *_ in specs[:3]:
            task.addRow(label, self.spins[key])
        task.addRow("Episodes", self.protocol_box)
        for key, label, *_ in specs[3:]:
            task.addRow(label, self.spins[key])
        task.addRow("Device", self.device_box)

        inner = QWidget()
        v = QVBoxLayout(inner)
        v.setContentsMargins(0, 0, 6, 0)
        v.addWidget(hint)
        v.addWidget(self._group("Algorithms"))
        v.addWidget(self.algo_box)
        v.addWidget(self._group("Hyperparameters"))
        v.addWidget(self.form_title)
        v.addWidget(self.form)
        v.addWidget(self.restore_btn, 0, Qt.AlignmentFlag.AlignLeft)
        v.addWidget(self.preset_btn, 0, Qt.AlignmentFlag.AlignLeft)  # below, not beside: the column is narrow
        v.addWidget(self._group("Task, budget & source"))
        v.addLayout(task)
        v.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)  # never clip a form row
        scroll.setWidget(inner)
        self.setup_scroll = scroll

        self.run_btn = QPushButton(icon("train", "white"), "Run comparison")
        self.run_btn.setObjectName("primary")
        self.run_btn.setToolTip("Meta-train the ticked algorithms one after another, then test each on the shared test episodes")
        self.run_btn.clicked.connect(self.run)
        self.stop_btn = QPushButton(icon("stop"), "Stop")
        self.stop_btn.setToolTip("Stop: algorithms that finished keep their results")
        self.stop_btn.setEnabled(False)
        self.stop_btn.clicked.connect(self.stop)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_btn, 1)
        buttons.addWidget(self.stop_btn)
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(8)
        self.progress_label = QLabel("Not run yet")
        self.progress_label.setObjectName("muted")
        self.progress_label.setWordWrap(True)
        w = QFrame()
        w.setObjectName("card")
        lay = QVBoxLayout(w)
        lay.setContentsMargins(10, 8, 10, 10)
        lay.addWidget(heading)
        lay.addWidget(scroll, 1)
        lay.addLayout(buttons)
        lay.addWidget(self.progress)
        lay.addWidget(self.progress_label)
        w.setMinimumWidth(320)
        w.setMaximumWidth(460)
        self.setup_widgets = [inner]
        return w

    @staticmethod
    def _group(text: str) -> QLabel:
        lab = QLabel(text)
        f = lab.font()
        f.setBold(True)
        lab.setFont(f)
        lab.setContentsMargins(0, 8, 0, 2)
        return lab

    def _results_page(self) -> QWidget:
        # Curves: loss | training accuracy | validation accuracy, against episodes or seconds.
        self.x_box = QComboBox()
        self.x_box.addItem("against episodes", "episodes")
        self.x_box.addItem("against seconds", "seconds")
        self.x_box.currentIndexChanged.connect(lambda: self._mark_dirty(force=True))
        self.chip_row = QHBoxLayout()
        self.chip_row.setSpacing(4)
        top = QHBoxLayout()
        title = QLabel("Meta-training")
        title.setObjectName("heading")
        top.addWidget(title)
        top.addWidget(self.x_box)
        top.addStretch(1)
        self.export_csv_btn = self._tool("save", "CSV…", "Export the results table and the pairwise matrix as CSV", self.export_csv)
        self.export_png_btn = self._tool("image", "PNG…", "Export the curves, table, chart and matrix as a PNG image", self.export_png)
        self.save_json_btn = self._tool("save", "JSON…", "Save the whole comparison (setup, curves, results) as JSON", self.save_json)
        self.open_json_btn = self._tool("open", "Open…", "Open a comparison saved as JSON", self.open_json)
        top.addWidget(QLabel("Export"))
        for b in (self.export_csv_btn, self.export_png_btn, self.save_json_btn, self.open_json_btn):
            top.addWidget(b)
        pg.setConfigOptions(antialias=True)
        self.plots_widget = pg.GraphicsLayoutWidget()
        self.plots_widget.setMinimumHeight(200)
        self.plots = []
        for col, (label, title_) in enumerate((("loss", "Training loss"), ("accuracy", "Training accuracy"), ("accuracy", "Validation accuracy"))):
            p = self.plots_widget.addPlot(row=0, col=col, title=title_)
            p.setLabel("left", label)
            p.showGrid(x=True, y=True, alpha=0.15)
            p.setMenuEnabled(False)
            if col:
                p.setYRange(0, 1, padding=0.02)
                p.setXLink(self.plots[0])
            self.plots.append(p)
        self.legend = self.plots[0].addLegend(offset=(-4, 4), labelTextSize="8pt")
        self.legend.setBrush(pg.mkBrush(self.palette().color(QPalette.ColorRole.Base)))
        curves_box = QWidget()
        cl = QVBoxLayout(curves_box)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.addLayout(top)
        # The chips get a row of their own: with all ten algorithms ticked they would otherwise
        # widen the window past a laptop screen.
        chips = QHBoxLayout()
        chips.addLayout(self.chip_row)
        chips.addStretch(1)
        cl.addLayout(chips)
        cl.addWidget(self.plots_widget, 1)

        # Results table, pairwise matrix, bar chart (compare_results.py); the names tests and exports use.
        self.results = ResultsTables()
        self.table, self.matrix, self.bars = self.results.table, self.results.matrix, self.results.bars
        self.bar_item, self.err_item = self.results.bar_item, self.results.err_item
        bottom = self.bottom_split = self.results
        page = QSplitter(Qt.Orientation.Vertical)
        page.addWidget(curves_box)
        page.addWidget(bottom)
        page.setStretchFactor(0, 2)
        page.setStretchFactor(1, 3)
        page.setChildrenCollapsible(False)
        self.page_split = page
        self.apply_palette()
        return page

    def _queries_page(self) -> QWidget:
        self.classify_btn = QPushButton(icon("classify", "white"), "Classify my queries with every trained algorithm")
        self.classify_btn.setObjectName("primary")
        self.classify_btn.setToolTip("Adapt every compared model to the Studio view's support set and classify its queries")
        self.classify_btn.clicked.connect(self.classify_queries)
        self.grid_note = QLabel("Uses the support and query sets of the Studio view.")
        self.grid_note.setObjectName("muted")
        self.grid_note.setWordWrap(True)
        self.grid = QueryGrid()
        head = QHBoxLayout()
        head.addWidget(self.classify_btn)
        head.addWidget(self.grid_note, 1)
        w = QWidget()
        lay = QVBoxLayout(w)
        lay.addLayout(head)
        lay.addWidget(self.grid, 1)
        return w

    def _tool(self, icon_name: str, text: str, tip: str, slot) -> QToolButton:
        b = QToolButton()
        b.setIcon(icon(icon_name))
        b.setText(text)
        b.setToolTip(tip)
        b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        b.clicked.connect(slot)
        return b

    def apply_palette(self) -> None:
        pal = self.palette()
        fg = pal.color(QPalette.ColorRole.Text)
        for w in (self.plots_widget, self.bars):
            w.setBackground(pal.color(QPalette.ColorRole.Base))
        for p in self.plots + [self.bars.getPlotItem()]:
            for axis in ("left", "bottom"):
                p.getAxis(axis).setPen(pg.mkPen(pal.color(QPalette.ColorRole.Mid)))
                p.getAxis(axis).setTextPen(pg.mkPen(fg))
            p.titleLabel.setAttr("color", fg)
            p.titleLabel.setText(p.titleLabel.text)

    # -- the engine is loaded: list the algorithms ------------------------------------------------
    def set_core_ready(self) -> None:
        import core

        self.core_ready = True
        while self.algo_layout.count():
            item = self.algo_layout.takeAt(0)
            if item.widget():
                item.widget().deleteLater()
        row = 0
        for family, label in core.FAMILIES.items():
            members = [cls for cls in core.ALGORITHMS.values() if cls.family == family]
            if not members:
                continue
            head = QLabel(label)
            head.setObjectName("muted")
            self.algo_layout.addWidget(head, row, 0, 1, 2)
            row += 1
            for cls in members:
                cb = QCheckBox(cls.title)
                cb.setIcon(swatch(algo_color(cls.name)))
                cb.setToolTip(f"{cls.title} — {cls.paper}")
                cb.setObjectName(f"compare-{cls.name}")
                btn = QToolButton()
                btn.setText("⚙")
                btn.setCheckable(True)
                btn.setAutoRaise(True)
                btn.setToolTip(f"Hyperparameters of {cls.title}")
                btn.clicked.connect(lambda _=False, n=cls.name: self.edit_hparams(n))
                cb.toggled.connect(lambda on, n=cls.name: on and self.editing is None and self.edit_hparams(n))
                self.checks[cls.name] = cb
                self.edit_buttons[cls.name] = btn
                self.algo_layout.addWidget(cb, row, 0)
                self.algo_layout.addWidget(btn, row, 1)
                row += 1
        self.algo_layout.setColumnStretch(0, 1)
        if not _cuda_available():
            self.device_box.model().item(2).setEnabled(False)
        self.edit_hparams(next(iter(core.ALGORITHMS)))
        self.load_from_project()

    def edit_hparams(self, name: str) -> None:
        """Show `name`'s hyperparameter form (its own values are kept per algorithm)."""
        import core

        cls = core.ALGORITHMS[name]
        self.editing = name
        for n, b in self.edit_buttons.items():
            b.setChecked(n == name)
        self.form.blockSignals(True)
        self.form.set_fields(core.hparam_fields(cls.HParams), self.hparams.get(name, {}))
        self.form.blockSignals(False)
        shape_fields = [field_label(f) for f in core.hparam_fields(cls.HParams) if f["name"] in ("train_way", "train_shot", "train_query")]
        note = (f"<br><i>With identical episodes, {', '.join(shape_fields)} "
                f"{'is' if len(shape_fields) == 1 else 'are'} not used: every algorithm trains on N-way K-shot Q-query.</i>"
                if shape_fields and self.protocol_box.currentData() == "same" else "")
        self.form_title.setText(f"<b>{cls.title}</b> — {cls.paper}{note}")
        self.restore_btn.setEnabled(True)
        self.preset_btn.set_presets(cls.presets)

    def _form_edited(self) -> None:
        if self.editing and self.form.fields:
            self.hparams[self.editing] = self.form.changed_from_defaults()

    def selected(self) -> list[str]:
        return [n for n, cb in self.checks.items() if cb.isChecked()]

    # -- source ----------------------------------------------------------------------------------
    def _source_picked(self, index: int) -> None:
        kind = self.source_box.itemData(index)
        if kind == "builtin":
            self.set_source({"kind": "builtin", "folder": ""})
            return
        start = self.settings.value(f"folders/{kind}", str(Path.home())) if self.settings is not None else str(Path.home())
        folder = self.dialogs.open_folder("Choose the Omniglot folder" if kind == "omniglot" else "Choose an image folder (one sub-folder per class)", start)
        if folder:
            self.set_source({"kind": kind, "folder": folder})
        else:
            self.set_source(self.source)

    def set_source(self, source: dict) -> None:
        """The meta-training source (checked when the run starts: a bad folder is reported then)."""
        self.source = dict(source)
        self.source_box.setCurrentIndex(max(0, self.source_box.findData(self.source.get("kind", "builtin"))))
        self.source_label.setText(self.source.get("folder") or "procedurally drawn characters, no download")

    # -- setup <-> config ----------------------------------------------------------------------------
    def config_dict(self) -> dict[str, Any]:
        s = {k: int(v.value()) for k, v in self.spins.items()}
        return {"algorithms": self.selected(), "hparams": {n: dict(self.hparams.get(n, {})) for n in self.selected() if self.hparams.get(n)},
                "n_way": s["n_way"], "k_shot": s["k_shot"], "q_query": s["q_query"], "protocol": self.protocol_box.currentData(),
                "steps_each": s["steps_each"], "seconds_each": float(s["seconds_each"]) or None, "seed": s["seed"],
                "eval_episodes": s["eval_episodes"], "device": self.device_box.currentData(),
                # ~10 validations per run; under a time budget (steps unknown) every 50 steps.
                "val_every": max(5, min(s["steps_each"] // 10, 50 if s["seconds_each"] else 10**9)),
                "val_episodes": int(DEFAULT_SETUP["val_episodes"])}

    def _apply_setup(self, config, source: dict | None) -> None:
        for n, cb in self.checks.items():
            cb.blockSignals(True)
            cb.setChecked(n in config.algorithms)
            cb.blockSignals(False)
        self.hparams = {n: dict(v) for n, v in (config.hparams or {}).items()}
        for key in ("n_way", "k_shot", "q_query", "steps_each", "eval_episodes", "seed"):
            self.spins[key].setValue(min(int(getattr(config, key)), self.spins[key].maximum()))
        self.spins["seconds_each"].setValue(int(config.seconds_each or 0))
        self.protocol_box.setCurrentIndex(max(0, self.protocol_box.findData(config.protocol)))
        self.device_box.setCurrentIndex(max(0, self.device_box.findData(config.device)))
        if source:
            self.set_source(source)
        if self.editing:
            self.edit_hparams(self.editing)

    def _saved_source(self) -> dict | None:
        data = self.project.comparison or {}
        return (data.get("app") or {}).get("source")

    # -- running -----------------------------------------------------------------------------------
    def is_running(self) -> bool:
        return self.session is not None

    def run(self) -> bool:
        if self.session is not None:
            return False
        if not self.core_ready:
            self.status.emit("The engine is still loading…")
            return False
        import core

        cfg = self.config_dict()
        if not cfg["algorithms"]:
            self.message.emit("Nothing to compare", "Tick at least one algorithm (two or more to compare them).")
            return False
        try:
            core.CompareConfig(**cfg).validate()
        except core.CompareError as exc:
            self.message.emit("Invalid hyperparameters", str(exc))
            return False
        request = {"config": cfg, "source": dict(self.source)}
        self.session = workers.CompareSession(request, self)
        self.session.stage.connect(self._stage)
        self.session.event.connect(self._event)
        self.session.finished.connect(self._finished)
        self.session.failed.connect(self._failed)
        self.session.ended.connect(self._ended)
        self.comparison, self.models = None, {}
        self._start_display(core.Comparison.from_dict({"format": core.compare.FORMAT, "config": cfg,
                                                       "results": [{"algorithm": n, "title": core.ALGORITHMS[n].title,
                                                                    "family": core.ALGORITHMS[n].family} for n in cfg["algorithms"]]}))
        self.progress.setRange(0, max(1, 100 * len(cfg["algorithms"])))
        self.progress.setValue(0)
        self._set_running(True)
        self.session.start()
        return True

    def stop(self) -> None:
        if self.session is not None:
            self.session.stop()
            self.progress_label.setText("Stopping… (finished algorithms keep their results)")

    def stop_and_wait(self, timeout_ms: int = 1800) -> bool:
        """Closing but keeping the run: Stop as the Stop button does, wait for the thread, and take
        in the result now (its finished algorithms' results go into the project, as after Stop).
        False if the thread is still inside one step after `timeout_ms`."""
        return self.session is None or self.session.stop_and_wait(timeout_ms)

    def shutdown(self, timeout_ms: int = 1800) -> bool:
        """Closing: cancel a run and wait for its thread; False if it is still inside one step."""
        self.closing = True
        self.timer.stop()
        if self.session is None:
            return True
        if not self.session.shutdown(timeout_ms):
            return False
        session, self.session = self.session, None
        session.blockSignals(True)
        session.deleteLater()
        return True

    def _set_running(self, running: bool) -> None:
        self.run_btn.setEnabled(not running)
        self.stop_btn.setEnabled(running)
        for w in self.setup_widgets:
            w.setEnabled(not running)
        self.open_json_btn.setEnabled(not running)
        self.classify_btn.setEnabled(not running)
        if running:
            self.timer.start()
        else:
            self.timer.stop()
            self.redraw()
        self.runningChanged.emit(running)

    def _start_display(self, comp) -> None:
        """Clear the plots and tables and prepare one curve set per algorithm of `comp`."""
        self.shown = comp
        self.run_names = list(comp.results)
        for c in self.curves.values():
            c.remove(self.plots)
        self.curves.clear()
        self.legend.clear()
        while self.chip_row.count():
            it = self.chip_row.takeAt(0)
            if it.widget():
                it.widget().deleteLater()
        self.chips.clear()
        for name, r in comp.results.items():
            color = algo_color(name)
            self.curves[name] = Curves(name, r.title or name, color, self.plots)
            chip = QToolButton()
            chip.setText(name)
            chip.setIcon(swatch(color))
            chip.setCheckable(True)
            chip.setChecked(True)
            chip.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            chip.setToolTip(f"Show or hide {r.title or name}'s curves")
            chip.toggled.connect(lambda on, n=name: self.show_algorithm(n, on))
            self.chip_row.addWidget(chip)
            self.chips[name] = chip
        self._fill_legend()
        # Beyond a few algorithms the in-plot legend covers the curves it names; the chip row above
        # the plots (a colour swatch and name per algorithm) is the legend then.
        self.legend.setVisible(len(comp.results) <= LEGEND_MAX)
        self._fill_results()
        self.grid.clear()
        self.grid.setRowCount(0)
        self.grid.setColumnCount(0)
        self.grid_results = {}

    def _fill_legend(self) -> None:
        """The loss plot's legend names the algorithms whose curves are shown, in the run's order."""
        self.legend.clear()
        for c in self.curves.values():
            if c.items[0].isVisible():
                self.legend.addItem(c.items[0], c.title)
        for label in self.legend.items:
            label[1].setAttr("color", self.palette().color(QPalette.ColorRole.Text))
            label[1].setText(label[1].text)

    def show_algorithm(self, name: str, on: bool) -> None:
        """A chip: show or hide an algorithm's curves; the legend and the axes follow the shown ones."""
        self.curves[name].set_visible(on)
        self._fill_legend()
        self.plots[0].enableAutoRange()  # the x axis (linked to all three plots) fits the curves still shown

    def _stage(self, text: str) -> None:
        self.progress_label.setText(text)

    def _event(self, ev: dict) -> None:
        """A core.Comparison event (called for every training step: keep it cheap)."""
        kind, name = ev["kind"], ev.get("algorithm")
        shown = self.shown
        if kind == "progress":
            c = self.curves.get(name)
            if c is not None:
                if ev["status"] == "running":
                    c.add(ev["episodes"], ev["elapsed_s"], ev["loss"], ev["accuracy"])
                if ev.get("val_accuracy") is not None:
                    c.add_val(ev["episodes"], ev["elapsed_s"], ev["val_accuracy"])
            self.last = ev
            self._dirty = True
            return
        if kind == "start":
            r = shown.results[name]
            r.status, r.parameters, r.device = "training", ev["parameters"], ev["device"]
            self.current = (ev["index"], ev["title"])
            self.last = None
        elif kind == "testing":
            self.last = ev
            shown.results[name].status = "testing"
        elif kind == "result":
            import core

            shown.results[name] = core.AlgoResult.from_dict(ev["result"])
            self._fill_results()
        elif kind in ("stopped", "failed"):
            r = shown.results[name]
            r.status, r.message = kind, ev["message"]
            self._fill_results()
        elif kind == "end":
            for r in shown.results.values():
                if r.status == "pending":
                    r.status = "skipped"
        self._dirty = True

    def _progress_text(self) -> None:
        cur = getattr(self, "current", None)
        ev = getattr(self, "last", None)
        if cur is None:
            return
        i, title = cur
        n = len(self.run_names)
        cfg = self.shown.config
        if ev is not None and ev["kind"] == "progress":
            frac = ev["step"] / max(1, ev["total_steps"])
            if cfg.seconds_each:
                frac = max(frac, min(1.0, ev["elapsed_s"] / cfg.seconds_each))
            self.progress.setValue(int(100 * i + 85 * frac))
            val = f" · validation {ev['val_accuracy']:.1%}" if ev.get("val_accuracy") is not None else ""
            self.progress_label.setText(f"{i + 1}/{n} {title}: meta-training, step {fmt_count(ev['step'])} · "
                                        f"{ev['episodes_per_s']:.1f} episodes/s · {fmt_duration(ev['elapsed_s'])}{val}")
        elif ev is not None and ev["kind"] == "testing":
            self.progress.setValue(int(100 * i + 85 + 15 * ev["done"] / ev["total"]))
            self.progress_label.setText(f"{i + 1}/{n} {title}: testing, episode {ev['done']}/{ev['total']} · {ev['accuracy']:.1%} so far")
        else:
            self.progress.setValue(100 * i)
            self.progress_label.setText(f"{i + 1}/{n} {title}: starting…")

    def _finished(self, payload: dict) -> None:
        comp = payload.get("comparison")
        if comp is None or self.closing:
            return
        self.current = None  # the run is over: the progress line below stays as written here
        self.comparison, self.models = comp, dict(payload.get("models") or {})
        done = [r for r in comp.results.values() if r.finished]
        self.progress.setValue(self.progress.maximum() if comp.status == "done" else self.progress.value())
        self.progress_label.setText(("Finished" if comp.status == "done" else "Stopped") +
                                    f": {len(done)} of {len(comp.results)} algorithm{'s' if len(comp.results) != 1 else ''} tested on "
                                    f"{comp.config.eval_episodes} shared episodes")
        self.show_comparison(comp, self.models, store=True)

    def _failed(self, title: str, text: str) -> None:
        self.progress_label.setText(title)
        self.message.emit(title, text)

    def _ended(self) -> None:
        session, self.session = self.session, None
        if session is not None:
            session.thread.wait()
            session.deleteLater()
        if not self.closing:
            self._set_running(False)
        self.ended.emit()

    # -- showing a comparison -------------------------------------------------------------------------
    def show_comparison(self, comp, models: dict[str, bytes] | None = None, store: bool = False, source: dict | None = None) -> None:
        """Show a finished / stopped / opened comparison; `store`: make it the project's."""
        self.comparison, self.models = comp, dict(models or {})
        if self.core_ready:
            self._apply_setup(comp.config, source or self._saved_source())
        self._start_display(comp)
        for name, r in comp.results.items():
            c = self.curves[name]
            cv = r.curves
            for e, s, lo, a in zip(cv["episodes"], cv["seconds"], cv["loss"], cv["accuracy"]):
                c.add(e, s, lo, a)
            for e, s, a in zip(cv["val_episodes"], cv["val_seconds"], cv["val_accuracy"]):
                c.add_val(e, s, a)
        self._fill_results()
        self._dirty = True
        self.redraw()
        if store:
            data = comp.to_dict()
            data["app"] = {"source": dict(source or self.source)}
            self.project.set_comparison(data, self.models)
        self.comparisonReady.emit()

    def load_from_project(self) -> None:
        """Show the project's saved comparison (after Open / Restore / New)."""
        data = self.project.comparison
        if self.session is not None or not self.core_ready:
            return  # (set_core_ready calls this again once the engine is loaded)
        if not data:
            self.comparison, self.models = None, {}
            self.run_names = []
            if self.core_ready:
                import core

                self._start_display(core.Comparison.from_dict({"format": core.compare.FORMAT, "config": {"algorithms": []}, "results": []}))
            self.progress_label.setText("Not run yet")
            return
        import core

        try:
            comp = core.Comparison.from_dict(data)
        except core.CompareError as exc:
            self.message.emit("Cannot show the saved comparison", str(exc))
            return
        self.progress_label.setText(f"Saved comparison of {comp.created.replace('T', ' ')}")
        self.show_comparison(comp, self.project.comparison_models, source=(data.get("app") or {}).get("source"))

    def _mark_dirty(self, force: bool = False) -> None:
        self._dirty = True
        if force:
            self.redraw()

    def redraw(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        by_seconds = self.x_box.currentData() == "seconds"
        for c in self.curves.values():
            c.draw(by_seconds)
        self.plots[2].setLabel("bottom", "seconds" if by_seconds else "episodes")
        self.plots[1].setLabel("bottom", "seconds" if by_seconds else "episodes")
        self.plots[0].setLabel("bottom", "seconds" if by_seconds else "episodes")
        if self.session is not None:
            self._progress_text()

    def _fill_results(self) -> None:
        self.results.fill(getattr(self, "shown", None))

    # -- my queries ---------------------------------------------------------------------------------------
    def trained_names(self) -> list[str]:
        comp = self.comparison
        if comp is None:
            return []
        return [n for n, r in comp.results.items() if r.finished and (n in comp.learners or n in self.models)]

    def classify_queries(self) -> None:
        ok, why = self.project.validity()
        if not ok:
            self.message.emit("The support set is not ready", f"The support set in the Studio view {why}.")
            return
        if not self.project.queries:
            self.message.emit("No queries", "Add query images in the Studio view first (drop, paste or draw them).")
            return
        if not self.trained_names():
            self.message.emit("No trained models", "Run a comparison first: its trained models classify your queries "
                                                   "(a comparison opened from JSON holds no models).")
            return
        if self._grid_busy:
            return
        self._grid_busy = True
        self.classify_btn.setEnabled(False)
        holder = {"comparison": self.comparison, "models": self.models}
        labels = [ci for ci, c in enumerate(self.project.classes) for _ in c.samples]
        support = [s.png for c in self.project.classes for s in c.samples]
        queries = list(self.project.queries)
        names = self.project.class_names()
        device = self.comparison.config.device

        def done(result: dict) -> None:
            self._grid_busy = False
            self.classify_btn.setEnabled(self.session is None)
            self.fill_grid(names, queries, result)
            self.gridReady.emit()

        def failed(exc: Exception) -> None:
            self._grid_busy = False
            self.classify_btn.setEnabled(self.session is None)
            self.message.emit("Cannot classify", str(exc))

        self.grid_note.setText("Classifying…")
        workers.run_job(lambda: workers.classify_grid(holder, support, labels, [q.png for q in queries], device), done, failed, owner=self.window())

    def fill_grid(self, class_names: list[str], queries: list, result: dict[str, Any]) -> None:
        """Rows: queries; columns: the query, each algorithm's prediction, agreement."""
        self.grid_results = result
        self.grid_note.setText(self.grid.fill(class_names, queries, result))

    # -- export / open -------------------------------------------------------------------------------------
    def _ask_path(self, title: str, suffix: str, filt: str, save: bool = True) -> str | None:
        start = self.settings.value("folders/compare", str(Path.home())) if self.settings is not None else str(Path.home())
        start = str(Path(start) / f"comparison{suffix}")
        path = (self.dialogs.save_path if save else self.dialogs.open_path)(title, start, filt)
        if not path:
            return None
        if save and not path.endswith(suffix):
            path += suffix
        if self.settings is not None:
            self.settings.setValue("folders/compare", str(Path(path).parent))
        return path

    def _need_comparison(self) -> bool:
        if self.comparison is None:
            self.message.emit("Nothing to export", "Run a comparison (or open one) first.")
            return False
        return True

    def export_csv(self, path: str | None = None) -> list[Path]:
        if not self._need_comparison():
            return []
        path = path or self._ask_path("Export the results table as CSV", ".csv", "CSV (*.csv)")
        if not path:
            return []
        table = Path(path)
        matrix = table.with_name(table.stem + "-pairwise.csv")
        try:
            # Best first, as the table and the matrix show them (until a column header is clicked).
            self.comparison.write_table_csv(table, by_accuracy=True)
            self.comparison.write_matrix_csv(matrix, by_accuracy=True)
        except OSError as exc:
            self.message.emit("Cannot export", f"{path}: {exc.strerror or exc}")
            return []
        self.status.emit(f"Wrote {table.name} and {matrix.name}")
        return [table, matrix]

    def export_png(self, path: str | None = None) -> Path | None:
        path = path or self._ask_path("Export the plots as PNG", ".png", "PNG images (*.png)")
        if not path:
            return None
        if not self.export_image().save(str(path)):
            self.message.emit("Cannot export", f"{path}: could not write the image")
            return None
        self.status.emit(f"Wrote {Path(path).name}")
        return Path(path)

    def export_image(self) -> QImage:
        """What PNG… writes: a legend line (colour and name of every algorithm shown), the three
        plots and the results (table, matrix, chart); not the buttons and chips around them."""
        self.redraw()
        pal = self.palette()
        parts = [self.plots_widget.grab(), self.results.grab()]
        width = max(pm.deviceIndependentSize().width() for pm in parts)
        fm = self.fontMetrics()
        line_h = fm.height() + 8
        entries, x, y = [], 8.0, 0.0  # (x, y, curves) of each legend entry, wrapped to the width
        for c in self.curves.values():
            if not c.items[0].isVisible():
                continue
            w = 16 + fm.horizontalAdvance(c.title) + 18
            if x + w > width and x > 8:
                x, y = 8.0, y + line_h
            entries.append((x, y, c))
            x += w
        legend_h = y + line_h + 4 if entries else 0
        dpr = parts[0].devicePixelRatio()
        height = legend_h + sum(pm.deviceIndependentSize().height() for pm in parts)
        img = QImage(round(width * dpr), round(height * dpr), QImage.Format.Format_ARGB32)
        img.setDevicePixelRatio(dpr)
        img.fill(pal.color(QPalette.ColorRole.Base))
        p = QPainter(img)
        p.setFont(self.font())
        for x, y, c in entries:
            p.fillRect(QRectF(x, y + 4 + (fm.height() - 10) / 2, 10, 10), c.color)
            p.setPen(pal.color(QPalette.ColorRole.Text))
            p.drawText(QRectF(x + 16, y + 4, width, fm.height()), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, c.title)
        y = legend_h
        for pm in parts:
            p.drawPixmap(0, round(y), pm)
            y += pm.deviceIndependentSize().height()
        p.end()
        return img

    def save_json(self, path: str | None = None) -> Path | None:
        if not self._need_comparison():
            return None
        path = path or self._ask_path("Save the comparison as JSON", ".json", "Comparison JSON (*.json)")
        if not path:
            return None
        try:
            out = self.comparison.save_json(path)
        except OSError as exc:
            self.message.emit("Cannot save", f"{path}: {exc.strerror or exc}")
            return None
        self.status.emit(f"Wrote {out.name}")
        return out

    def open_json(self, path: str | None = None) -> bool:
        if self.session is not None or not self.core_ready:
            return False
        path = path or self._ask_path("Open a comparison", ".json", "Comparison JSON (*.json);;All files (*)", save=False)
        if not path:
            return False
        import core

        try:
            comp = core.Comparison.load_json(path)
        except core.CompareError as exc:
            self.message.emit("Cannot open the comparison", str(exc))
            return False
        self.progress_label.setText(f"Opened {Path(path).name} (no models: re-run to classify your queries)")
        self.show_comparison(comp, {}, store=True, source=self.source)
        return True


def _cuda_available() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:  # noqa: BLE001
        return False
