"""The Compare view's side-by-side explanations: one query of "My queries" explained by every
compared model, one column per model, each drawn by the same renderer as the Studio's Inside view.
The work runs on the job thread (`jobs.explain_grid`); a result for a query, support set or
comparison that has since changed is stale and never shown."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

from app.engine import jobs
from app.views.studio.explain_render import ExplanationView
from app.views.studio.inside_view import query_name

from .host import CompareHost
from .results import algo_color, swatch

COLUMN_W = 400  # wide enough for a plot with readable axes; more columns scroll sideways


class SideBySide(QWidget):
    explained = Signal()  # the columns (or a message saying why there are none) are on screen

    def __init__(self, view: CompareHost, parent: QWidget | None = None):
        """`view`: the Compare view whose comparison (and models) explain, and whose project's
        support set is used."""
        super().__init__(parent)
        self.view = view
        self.columns: dict[str, ExplanationView] = {}
        self._request: tuple | None = None  # the context of the newest request
        self._busy = False
        self._waiting = None  # a query asked for while a job ran: explained when it ends
        self.note = QLabel()
        self.note.setObjectName("muted")
        self.note.setWordWrap(True)
        self.row = QHBoxLayout()
        self.row.setContentsMargins(0, 0, 0, 0)
        self.row.setSpacing(10)
        self.row.addStretch(1)
        body = QWidget()
        body.setLayout(self.row)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setWidget(body)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 4, 0, 0)
        lay.addWidget(self.note)
        lay.addWidget(self.scroll, 1)
        self.clear()

    def clear(self) -> None:
        self._request = None
        self._set_columns({})
        self.note.setText("Select a query row to see how each compared model classified it, side by side.")

    def _set_columns(self, explanations: dict) -> None:
        for col in list(self.columns.values()):
            self.row.removeWidget(col.parentWidget())
            col.parentWidget().deleteLater()
        self.columns = {}
        import core

        for name, e in explanations.items():
            frame = QFrame()
            frame.setFixedWidth(COLUMN_W)
            box = QVBoxLayout(frame)
            box.setContentsMargins(0, 0, 0, 0)
            title = QLabel(core.ALGORITHMS[name].title if name in core.ALGORITHMS else name)
            title.setObjectName("heading")
            icon = QLabel()
            icon.setPixmap(swatch(algo_color(name)).pixmap(12, 12))
            head = QHBoxLayout()
            head.addWidget(icon)
            head.addWidget(title, 1)
            box.addLayout(head)
            col = ExplanationView(scrollable=False)
            col.plot_width = COLUMN_W - 30
            if isinstance(e, str):  # this model cannot classify the support set: its reason
                col.show_message(f"Cannot explain: {e}")
            else:
                col.show_explanation(e, self._support_pngs(), heading="")
                col.heading.setVisible(False)  # the column's title names the model; the query is named above
            box.addWidget(col)
            box.addStretch(1)
            self.row.insertWidget(self.row.count() - 1, frame, 0, Qt.AlignmentFlag.AlignTop)
            self.columns[name] = col

    def _support_pngs(self) -> list[bytes]:
        return [s.png for c in self.view.project.classes for s in c.samples]

    def _context(self, sample) -> tuple:
        p = self.view.project
        return (id(self.view.comparison), sample.id, tuple(p.class_names()), tuple(s.id for c in p.classes for s in c.samples))

    def explain(self, sample) -> None:
        """Explain `sample` (a query of the grid) with every compared model, off the GUI thread."""
        view, project = self.view, self.view.project
        ok, why = project.validity()
        if not ok:
            self._set_columns({})
            self.note.setText(f"The support set in the Studio view {why}.")
            self.explained.emit()
            return
        if not view.trained_names() or view.is_running():
            self._set_columns({})
            self.note.setText("Explanations need the compared models: wait for the comparison to end, or run one."
                              if view.is_running() else "This comparison holds no trained models: run it again to see inside them.")
            self.explained.emit()
            return
        if self._busy:  # one job at a time: the newest request waits, and the running one's result is no longer wanted
            self._waiting, self._request = sample, self._context(sample)
            return
        self._busy = True
        context = self._request = self._context(sample)
        name = query_name(project, sample)
        self.note.setText(f"Working out how each model classifies {name}…")
        holder = view.compared_models()
        labels = [ci for ci, c in enumerate(project.classes) for _ in c.samples]
        support = self._support_pngs()
        classes = project.class_names()
        device = view.comparison.config.device

        def done(result: dict) -> None:
            self._busy = False
            if context == self._request and context == self._context(sample):
                self._set_columns(result)
                self.note.setText(f"{name}: how each compared model classified it (one column per model).")
                self.explained.emit()
            self._next()

        def failed(exc: Exception) -> None:
            self._busy = False
            if context == self._request:
                self._set_columns({})
                self.note.setText(f"Cannot explain {name}: {exc}")
                self.explained.emit()
            self._next()

        jobs.run_job(lambda: jobs.explain_grid(holder, support, labels, sample.png, classes, name, device), done, failed,
                     owner=self.window())

    def _next(self) -> None:
        sample, self._waiting = self._waiting, None
        if sample is not None:
            self.explain(sample)
