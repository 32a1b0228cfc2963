"""The Compare view's result widgets: the results table, the pairwise matrix and the bar chart of
test accuracy (`ResultsTables`), and the grid of every model's prediction for the user's queries
(`QueryGrid`); plus the one colour per algorithm that the whole view shares."""
from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPalette, QPixmap, QTextOption
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QSplitter, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

import core

from app.model.compare_measure import learned_from, test_data, test_measure, unlike_learned
from app.model.library import ModelEntry, accuracy_figure, accuracy_text, measure_words
from app.model.words import fmt_count
from app.views.widgets.common import sample_source, thumb_icon

PEAK_MB_COLUMN = 6
MATRIX_NOTE = ("Pairwise{}: the share of the shared test episodes on which the row algorithm beats the column "
               "(ties count ½); * = significant (two-sided Wilcoxon signed-rank test on the paired per-episode "
               "accuracies, Holm-corrected, α = 0.05). Hover a cell for the p-values.")

# Tableau-10: one colour per algorithm, fixed by its place in the registry (stable across runs).
PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#76b7b2", "#edc948", "#ff9da7", "#9c755f", "#7f7f7f"]


def algo_color(name: str) -> QColor:
    import core

    names = list(core.ALGORITHMS)
    i = names.index(name) if name in names else sum(name.encode()) % len(PALETTE)
    return QColor(PALETTE[i % len(PALETTE)])


def set_plot_title(plot, title: str, *lines: str) -> None:
    """A plot's title with smaller lines under it (what its figures measured), centred; the title
    row grows to hold them (pyqtgraph keeps it one line high)."""
    plot.setTitle(title + "".join(f"<br><span style='font-size:8pt'>{line}</span>" for line in lines if line))
    label = plot.titleLabel
    label.item.document().setDefaultTextOption(QTextOption(Qt.AlignmentFlag.AlignHCenter))
    height = label.item.boundingRect().height() + 2
    label.setMaximumHeight(height)
    plot.layout.setRowFixedHeight(0, height)


def swatch(color: QColor, size: int = 12) -> QIcon:
    pm = QPixmap(size, size)
    pm.fill(color)
    return QIcon(pm)


class SortItem(QTableWidgetItem):
    """A table cell that sorts by a number (or text) rather than by its displayed text."""

    def __init__(self, text: str, key: Any = None):
        super().__init__(text)
        self.key = text if key is None else key
        self.setFlags(self.flags() & ~Qt.ItemFlag.ItemIsEditable)

    def __lt__(self, other: QTableWidgetItem) -> bool:
        a, b = self.key, getattr(other, "key", other.text())
        if isinstance(a, (int, float)) and isinstance(b, (int, float)):
            return a < b
        return str(a) < str(b)


class ResultsTables(QSplitter):
    """Results table (sortable) and pairwise matrix on the left, bar chart with CI whiskers on the right."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.table = QTableWidget(0, 8)
        self.table.setHorizontalHeaderLabels(["Algorithm", "Accuracy %", "Time", "Steps", "Ep/s", "Params", "Peak MB", "Device"])
        tips = ["", "Test accuracy: mean ± 95% CI (1.96·sd/√M) over the shared test episodes",
                "Wall time of meta-training, periodic validation included", "Meta-training steps",
                "Training episodes per second", "Parameter count",
                "Peak memory in MB: the CUDA peak allocation while the model trained and was tested on a GPU. Shown only for "
                "models run on a GPU: on the CPU the process's peak memory is PyTorch's and every model's together, not this model's",
                "Where it trained"]
        for col, tip in enumerate(tips):
            self.table.horizontalHeaderItem(col).setToolTip(tip)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSortIndicator(1, Qt.SortOrder.DescendingOrder)  # best first, until a header is clicked
        self.table.setSortingEnabled(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.matrix = QTableWidget(0, 0)
        self.matrix.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.matrix.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.matrix.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.matrix_note = QLabel(MATRIX_NOTE.format(""))
        self.matrix_note.setObjectName("muted")
        self.matrix_note.setWordWrap(True)
        self.bars = pg.PlotWidget()
        self.bars.setMenuEnabled(False)
        self.bars.setMouseEnabled(x=False, y=False)
        self.bars.setLabel("bottom", "test accuracy (%)")
        self.bars.setTitle("Test accuracy, 95% CI")
        self.bars.showGrid(x=True, alpha=0.15)
        self.bar_item = pg.BarGraphItem(x=[], height=[], width=0.6)
        self.err_item = pg.ErrorBarItem(beam=0.25)
        self.bars.addItem(self.bar_item)
        self.bars.addItem(self.err_item)
        self.bars.setMinimumWidth(200)
        table_box = QWidget()
        tl = QVBoxLayout(table_box)
        tl.setContentsMargins(0, 0, 0, 0)
        h1 = QLabel("Results")
        h1.setObjectName("heading")
        tl.addWidget(h1)
        # What every accuracy here measured, and (starter models) whether it is what they learned from.
        self.measure_note = QLabel()
        self.measure_note.setObjectName("muted")
        self.measure_note.setWordWrap(True)
        self.unlike_note = QLabel()
        self.unlike_note.setWordWrap(True)
        self.unlike_note.setVisible(False)
        tl.addWidget(self.measure_note)
        tl.addWidget(self.unlike_note)
        tl.addWidget(self.table, 3)
        h2 = QLabel("Pairwise")
        h2.setObjectName("heading")
        tl.addWidget(h2)
        tl.addWidget(self.matrix_note)
        tl.addWidget(self.matrix, 2)
        self.addWidget(table_box)
        self.addWidget(self.bars)
        self.setStretchFactor(0, 5)
        self.setStretchFactor(1, 2)
        self.setChildrenCollapsible(False)
        self.setSizes([800, 260])

    def fill(self, comp, own: dict[str, ModelEntry] | None = None) -> None:
        """Show a comparison's results (None: empty); `own`: the library entries of the starter
        models it tested ({algorithm: entry}), whose own figures the accuracies are set beside."""
        results = list(comp.results.values()) if comp is not None else []
        own = own or {}
        measure = test_measure(comp.config) if results else ""
        self._show_measure(comp, measure, own)
        t = self.table
        t.setSortingEnabled(False)
        t.setRowCount(len(results))
        best = max((r.mean for r in results if r.finished), default=None)
        for row, r in enumerate(results):
            name_item = SortItem(r.title + ("" if r.finished else f" ({r.status})"), r.title)
            name_item.setIcon(swatch(algo_color(r.algorithm)))
            name_item.setToolTip(f"{r.algorithm}: {r.message}" if r.message else r.algorithm)
            name_item.setData(Qt.ItemDataRole.UserRole, r.algorithm)
            if r.finished:
                acc = SortItem(core.fmt_accuracy(r.mean, r.ci95), r.mean)
                if r.mean == best:
                    f = acc.font()
                    f.setBold(True)
                    acc.setFont(f)
                acc.setToolTip(f"{acc.text()} · {measure}" + (self._own_figure(own[r.algorithm], measure) if r.algorithm in own else ""))
            else:
                acc = SortItem("–", -1.0)
            cells = [name_item, acc,
                     SortItem(core.fmt_duration(r.train_seconds) if r.steps else "–", r.train_seconds),
                     SortItem(fmt_count(r.steps), r.steps),
                     SortItem(f"{r.episodes_per_s:.1f}" if r.steps else "–", r.episodes_per_s),
                     SortItem(fmt_count(r.parameters) if r.parameters else "–", r.parameters),
                     SortItem(f"{r.peak_memory_mb:,.0f}".replace(",", "\u202f") if _per_model(r) else "–", r.peak_memory_mb if _per_model(r) else 0.0),
                     SortItem(r.device or "–")]
            cells[6].setToolTip(r.memory_kind)
            cells[2].setToolTip(f"{r.episodes:,} training episodes; test took {r.test_seconds:.0f} s" if r.steps else "")
            for col, item in enumerate(cells):
                if col:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                t.setItem(row, col, item)
        t.setSortingEnabled(True)
        # The column shows only where a figure is the model's own: on the CPU every result would
        # read the process's peak (PyTorch and all models together), the same for every algorithm.
        t.setColumnHidden(PEAK_MB_COLUMN, not any(_per_model(r) for r in results))
        self._fill_bars(results)
        self._fill_matrix(comp)

    def _show_measure(self, comp, measure: str, own: dict[str, ModelEntry]) -> None:
        """Name the measure above the table, under the chart's title and in the matrix's note; say
        plainly when starter models were tested on data unlike what they learned from."""
        self.measure_note.setText(f"Test accuracy %, mean ± 95% CI · {measure}" if measure else "")
        self.measure_note.setVisible(bool(measure))
        c = comp.config if measure else None
        set_plot_title(self.bars.getPlotItem(), "Test accuracy, 95% CI",
                       *((measure_words(c.n_way, c.k_shot, "", c.eval_episodes), test_data(c.source)) if c else ()))
        self.matrix_note.setText(MATRIX_NOTE.format(f" ({measure})" if measure else ""))
        learned = unlike_learned(c, own) if c else ""
        self.unlike_note.setVisible(bool(learned))
        if learned:
            by_measure: dict[str, list[str]] = {}
            for name, e in own.items():
                by_measure.setdefault(e.measure, []).append(f"{name} {accuracy_figure(e)}")
            figures = "; ".join(f"{', '.join(names)} ({measure})" for measure, names in by_measure.items())
            self.unlike_note.setText(f"⚠ These starter models learned from {learned}; the test data here, {test_data(c.source)}, is "
                                     f"another kind of data, so they score lower than their own figures: {figures}. "
                                     f"Choose an {learned} folder under Test on to compare with those.")

    @staticmethod
    def _own_figure(entry: ModelEntry, measure: str) -> str:
        same = entry.measure == measure
        return (f"\nIts own figure: {accuracy_text(entry)}" +
                (" — the same measure" if same else f" (learned from {learned_from(entry)}; a different measure)"))

    def _fill_bars(self, results) -> None:
        """Horizontal bars (names stay readable for ten algorithms), the best on top."""
        done = sorted((r for r in results if r.finished), key=lambda r: -r.mean)
        self.bar_item.setVisible(bool(done))
        self.err_item.setVisible(bool(done))
        n = len(done)
        self.bars.getAxis("left").setTicks([[(n - 1 - i, r.algorithm) for i, r in enumerate(done)]])
        # The axis starts at 0, so a bar's length is its accuracy: one starting near the lowest
        # whisker made gaps of a few points look several times larger than they are.
        self.bars.setXRange(0, 100, padding=0.02)
        if not done:
            return
        ys = [n - 1 - i for i in range(n)]
        means = [100 * r.mean for r in done]
        cis = [100 * r.ci95 for r in done]
        self.bar_item.setOpts(x0=[0.0] * n, width=means, y=ys, height=0.6, brushes=[algo_color(r.algorithm) for r in done],
                              pens=[pg.mkPen(algo_color(r.algorithm).darker(130)) for r in done])
        fg = self.palette().color(QPalette.ColorRole.Text)
        self.err_item.setData(x=np.array(means, dtype=float), y=np.array(ys, dtype=float), left=np.array(cis, dtype=float),
                              right=np.array(cis, dtype=float), beam=0.25, pen=pg.mkPen(fg, width=1.5))
        self.bars.setYRange(-0.6, n - 0.4, padding=0)

    def _fill_matrix(self, comp) -> None:
        m = self.matrix
        if comp is None or len([r for r in comp.results.values() if r.finished]) < 2:
            m.clear()
            m.setRowCount(0)
            m.setColumnCount(0)
            return
        pw = comp.pairwise(by_accuracy=True)  # best first, like the table's default order
        n = len(pw.names)
        m.clear()
        m.setRowCount(n)
        m.setColumnCount(n)
        m.setHorizontalHeaderLabels(pw.names)
        m.setVerticalHeaderLabels([f"{a} beats…" for a in pw.names])
        good, bad = QColor("#2e9d5b"), QColor("#c8553d")
        for i, a in enumerate(pw.names):
            for j, b in enumerate(pw.names):
                if i == j:
                    item = QTableWidgetItem("–")
                else:
                    w = pw.win[i][j]
                    sig = pw.significant(i, j)
                    item = QTableWidgetItem(f"{100 * w:.1f}%" + (" *" if sig else ""))
                    t = abs(w - 0.5) * 2
                    c = QColor(good if w > 0.5 else bad)
                    c.setAlpha(int(25 + 150 * t) if abs(w - 0.5) > 1e-9 else 0)
                    item.setBackground(c)
                    if sig:
                        f = QFont(item.font())
                        f.setBold(True)
                        item.setFont(f)
                    item.setToolTip(f"{a} beats {b} on {100 * w:.1f}% of the {pw.episodes} shared test episodes (ties count ½).\n"
                                    f"Wilcoxon signed-rank ({pw.method[i][j]}): p = {pw.p_value[i][j]:.3g}; Holm-adjusted p = {pw.p_holm[i][j]:.3g}"
                                    f" → {'significant' if sig else 'not significant'} at α = 0.05")
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                m.setItem(i, j, item)


def _per_model(r) -> bool:
    """Whether a result's peak memory is its own model's: on a GPU, CUDA's peak allocation since the
    model began (`core.peakmem`); on the CPU it is the process's peak, PyTorch and all models together."""
    return r.peak_memory_mb is not None and r.device.startswith("cuda")


class QueryGrid(QTableWidget):
    """Every compared model's prediction for each of the user's queries, disagreements highlighted."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(0, 0, parent)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setIconSize(QSize(48, 48))
        self.verticalHeader().setDefaultSectionSize(56)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)

    def fill(self, class_names: list[str], queries: list, result: dict[str, Any]) -> str:
        """Rows: queries; columns: the query, each algorithm's prediction, agreement. Returns a one-line summary."""
        import core

        algos = [n for n in result]
        g = self
        g.clear()
        g.setRowCount(len(queries))
        g.setColumnCount(len(algos) + 2)
        titles = [core.ALGORITHMS[n].title if n in core.ALGORITHMS else n for n in algos]
        g.setHorizontalHeaderLabels(["Query", *titles, "Verdict"])
        for col, n in enumerate(algos, start=1):
            g.horizontalHeaderItem(col).setIcon(swatch(algo_color(n)))
        amber = QColor("#f2b134")
        amber.setAlpha(90)
        disagreements = 0
        for row, q in enumerate(queries):
            thumb = QTableWidgetItem()
            thumb.setIcon(thumb_icon(q, 48))
            thumb.setText(sample_source(q)[0])
            thumb.setToolTip(sample_source(q)[1])
            g.setItem(row, 0, thumb)
            preds = {}
            for col, n in enumerate(algos, start=1):
                probs = result[n]
                if isinstance(probs, str):
                    item = QTableWidgetItem("cannot classify")
                    item.setToolTip(probs)
                else:
                    p = probs[row]
                    best = max(range(len(p)), key=p.__getitem__)
                    preds[n] = best
                    item = QTableWidgetItem(f"{class_names[best]}  {p[best]:.0%}")
                    ranked = sorted(range(len(p)), key=lambda k: -p[k])[:3]
                    item.setToolTip("\n".join(f"{class_names[k]}: {p[k]:.1%}" for k in ranked))
                g.setItem(row, col, item)
            answers = set(preds.values())
            if len(answers) > 1:
                disagreements += 1
                votes = list(preds.values())
                counts = {a: votes.count(a) for a in answers}
                listed = ", ".join(f"{class_names[a]} ×{k}" for a, k in sorted(counts.items(), key=lambda t: -t[1]))
                g.setItem(row, len(algos) + 1, QTableWidgetItem(f"⚠ disagree: {listed}"))
                majority = max(counts.values())
                for col in range(1, len(algos) + 2):
                    g.item(row, col).setBackground(amber)
                for col, n in enumerate(algos, start=1):
                    if n in preds and counts[preds[n]] < majority:  # the minority answers in bold
                        f = QFont(g.item(row, col).font())
                        f.setBold(True)
                        g.item(row, col).setFont(f)
            else:
                g.setItem(row, len(algos) + 1, QTableWidgetItem("✓ all agree" if answers else "–"))
        g.resizeColumnsToContents()
        return (f"{len(queries)} quer{'y' if len(queries) == 1 else 'ies'} × {len(algos)} algorithm{'s' if len(algos) != 1 else ''}, "
                               f"adapted on the Studio view's support set ({len(class_names)} classes); "
                               f"{disagreements} disagreement{'s' if disagreements != 1 else ''} highlighted.")
