"""The Compare view's "Test episodes" tab: where the compared models disagree.

Left, the comparison's shared test episodes, one row each with every model's accuracy on it and
their spread (best minus worst), sorted by the spread: the episodes the models disagree on most
come first (the pairwise matrix says *that* they differ; this shows *where*). Picking one draws
it (on the job thread: `episode_jobs.compare_episode_job`) with one mark per model under each
query, green where that model got it right, red where not, outlined in the model's colour.
"""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QSplitter, QTableWidget, QVBoxLayout, QWidget

from app.engine.episode_jobs import compare_episode_job
from app.views.widgets.episode_grid import EpisodeGrid, LatestJob

from .host import CompareHost
from .results import SortItem, algo_color, swatch

SPREAD_COLUMN = 1


class TestEpisodesPage(QWidget):
    message = Signal(str, str)

    def __init__(self, view: CompareHost, parent: QWidget | None = None):
        """`view`: the Compare view whose comparison (its models, its test source) is browsed."""
        super().__init__(parent)
        self.view = view
        self.names: list[str] = []
        self.data: dict[str, Any] | None = None  # the episode on screen
        self.drawer = LatestJob(self, self._show, lambda exc: self.legend.setText(f"Cannot show this test episode: {exc}"))
        self.table = QTableWidget(0, 0)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemSelectionChanged.connect(self._picked)
        self.note = QLabel("Run a comparison: its test episodes are listed here.")
        self.note.setObjectName("muted")
        self.note.setWordWrap(True)
        self.legend = QLabel()
        self.legend.setWordWrap(True)
        self.grid = EpisodeGrid()
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(self.note)
        ll.addWidget(self.table, 1)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.legend)
        rl.addWidget(self.grid, 1)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(1, 1)
        split.setChildrenCollapsible(False)
        split.setSizes([330, 800])
        lay = QVBoxLayout(self)
        lay.addWidget(split)

    def fill(self, comp) -> None:
        """List `comp`'s test episodes (its finished models' per-episode accuracies), most disputed first."""
        self.grid.show_image(None)
        self.data = None
        done = [r for r in comp.results.values() if r.finished and r.per_episode] if comp is not None else []
        self.names = [r.algorithm for r in done]
        t = self.table
        t.blockSignals(True)
        t.setSortingEnabled(False)
        t.clear()
        t.setColumnCount(2 + len(done))
        t.setHorizontalHeaderLabels(["Episode", "Spread", *[r.algorithm for r in done]])
        t.horizontalHeaderItem(SPREAD_COLUMN).setToolTip("Best minus worst accuracy on the episode: where the models disagree most")
        for col, r in enumerate(done, start=2):
            t.horizontalHeaderItem(col).setIcon(swatch(algo_color(r.algorithm)))
            t.horizontalHeaderItem(col).setToolTip(f"{r.title}: accuracy on each test episode")
        episodes = min((len(r.per_episode) for r in done), default=0)
        t.setRowCount(episodes)
        for i in range(episodes):
            accs = [r.per_episode[i] for r in done]
            spread = max(accs) - min(accs)
            t.setItem(i, 0, SortItem(str(i), i))
            t.setItem(i, SPREAD_COLUMN, SortItem(f"{100 * spread:.0f}", spread))
            for col, a in enumerate(accs, start=2):
                t.setItem(i, col, SortItem(f"{100 * a:.0f}", a))
        t.setSortingEnabled(True)
        t.sortItems(SPREAD_COLUMN, Qt.SortOrder.DescendingOrder)
        t.blockSignals(False)
        if not done:
            self.note.setText("Run a comparison: its test episodes are listed here.")
        else:
            self.note.setText(f"{episodes} test episodes, most disputed first (accuracy %). Pick one to see every model's predictions.")
        self.legend.setText("")

    def show_episode(self, index: int) -> None:
        """Select test episode `index` (as a click on its row does)."""
        for row in range(self.table.rowCount()):
            if self.table.item(row, 0).key == index:
                self.table.selectRow(row)
                return

    def _picked(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return
        if not self.view.trained_names():
            self.message.emit("No trained models", "This comparison holds no trained models (a JSON export keeps none): run it again to see its predictions.")
            return
        index = self.table.item(rows[0].row(), 0).key
        holder = self.view.compared_models()
        source = dict(self.view.current_setup().source)
        colors = {n: algo_color(n) for n in self.names}
        self.legend.setText(f"Drawing test episode {index}…")
        self.drawer.ask(lambda: compare_episode_job(holder, source, index, colors))

    def _show(self, data: dict[str, Any]) -> None:
        self.data = data
        self.grid.show_image(data["image"])
        parts = []
        for name, guesses in data["predictions"].items():
            color = algo_color(name).name()
            if isinstance(guesses, str):
                parts.append(f"<span style='color:{color}'>■</span> {name}: {guesses}")
            else:
                right = sum(g == t for g, t in zip(guesses, data["query_y"]))
                parts.append(f"<span style='color:{color}'>■</span> {name} {right}/{len(guesses)}")
        self.legend.setText(f"Test episode {data['index']} — marks under each query, left to right: " + " · ".join(parts)
                            + " (green: right, red: wrong)")
