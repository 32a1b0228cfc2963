"""The Compare view's "My queries" tab: classify the Studio view's queries with every model the
comparison trained (query × algorithm: predicted class and confidence; rows where the algorithms
disagree are highlighted). Selecting a row shows that query explained by every compared model, side
by side (`inside.SideBySide`). The work runs on the job thread (`jobs.classify_grid`,
`jobs.explain_grid`)."""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSplitter, QVBoxLayout, QWidget

from app.engine import jobs
from app.views.widgets.style import icon

from .host import CompareHost
from .inside import SideBySide
from .results import QueryGrid


class QueriesPage(QWidget):
    ready = Signal()  # the grid is filled
    message = Signal(str, str)  # (title, text): why nothing was classified

    def __init__(self, view: CompareHost, parent: QWidget | None = None):
        """`view`: the Compare view whose comparison (and models) classify, and whose project's
        support and query sets are used."""
        super().__init__(parent)
        self.view = view
        self.results: dict[str, Any] = {}  # per algorithm: what the grid shows
        self.busy = False
        self.classify_btn = QPushButton(icon("classify", "white"), "Classify my queries with every trained algorithm")
        self.classify_btn.setObjectName("primary")
        self.classify_btn.setToolTip("Adapt every compared model to the Studio view's support set and classify its queries")
        self.classify_btn.clicked.connect(self.classify)
        self.note = QLabel("Uses the support and query sets of the Studio view.")
        self.note.setObjectName("muted")
        self.note.setWordWrap(True)
        self.grid = QueryGrid()
        self.queries: list = []  # the query samples of the grid's rows
        self.inside = SideBySide(view)
        self.grid.currentCellChanged.connect(lambda row, *_: self.inside.explain(self.queries[row]) if 0 <= row < len(self.queries) else None)
        head = QHBoxLayout()
        head.addWidget(self.classify_btn)
        head.addWidget(self.note, 1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.grid)
        split.addWidget(self.inside)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 2)
        split.setChildrenCollapsible(False)
        lay = QVBoxLayout(self)
        lay.addLayout(head)
        lay.addWidget(split, 1)

    def clear(self) -> None:
        self.queries = []
        self.inside.clear()
        self.grid.clear()
        self.grid.setRowCount(0)
        self.grid.setColumnCount(0)
        self.results = {}

    def set_enabled(self, on: bool) -> None:
        """Off while a comparison runs (and while a classification is under way)."""
        self.classify_btn.setEnabled(on and not self.busy)

    def classify(self) -> None:
        view, project = self.view, self.view.project
        ok, why = project.validity()
        if not ok:
            self.message.emit("The support set is not ready", f"The support set in the Studio view {why}.")
            return
        if not project.queries:
            self.message.emit("No queries", "Add query images in the Studio view first (drop, paste or draw them).")
            return
        if not view.trained_names():
            self.message.emit("No trained models", "Run a comparison first: its trained models classify your queries "
                                                   "(a comparison opened from JSON holds no models).")
            return
        if self.busy:
            return
        self.busy = True
        self.classify_btn.setEnabled(False)
        holder = view.compared_models()
        labels = [ci for ci, c in enumerate(project.classes) for _ in c.samples]
        support = [s.png for c in project.classes for s in c.samples]
        queries = list(project.queries)
        names = project.class_names()
        device = view.comparison.config.device

        def done(result: dict) -> None:
            self.busy = False
            self.set_enabled(not view.is_running())
            self.fill(names, queries, result)
            self.ready.emit()

        def failed(exc: Exception) -> None:
            self.busy = False
            self.set_enabled(not view.is_running())
            self.message.emit("Cannot classify", str(exc))

        self.note.setText("Classifying…")
        jobs.run_job(lambda: jobs.classify_grid(holder, support, labels, [q.png for q in queries], device), done, failed, owner=self.window())

    def fill(self, class_names: list[str], queries: list, result: dict[str, Any]) -> None:
        """Rows: queries; columns: the query, each algorithm's prediction, agreement."""
        self.results, self.queries = result, list(queries)
        self.inside.clear()
        self.note.setText(self.grid.fill(class_names, queries, result))
