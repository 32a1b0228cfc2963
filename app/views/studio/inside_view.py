"""The Studio's Inside view: how the model in use reached its prediction for one query.

Pick a query (in the view's picker, or by clicking its row in the query set: the two follow each
other) and the view shows that query's `core.Explanation` for the model in use, drawn by
`explain_render.ExplanationView`. It is recomputed off the GUI thread (`jobs.explain` through
`jobs.run_job`, sharing classification's model cache) when the model, the support set or the query
changes, debounced like auto-classification, and only while the view is on screen. As in
`classifier.Classifier`, a result computed for a model, support set or query that has since
changed is stale and never shown.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.controllers.dialogs import Dialogs
from app.engine import jobs
from app.model import EngineState, Project
from app.model.library import ModelLibrary
from app.views.widgets.common import sample_source, thumb_icon, write_png

from .explain_render import ExplanationView
from .query_panel import QueryPanel

DEBOUNCE_MS = 100  # as the auto-classify timer: a burst of edits asks for one explanation


def query_name(project: Project, sample) -> str:
    """A query's name as the person knows it: its file or drawing name, else its place in the list."""
    short = sample_source(sample)[0]
    if short:
        return short
    ids = [s.id for s in project.queries]
    return f"query {ids.index(sample.id) + 1}" if sample.id in ids else "query"


class InsideView(QWidget):
    explained = Signal()  # an explanation (or a message saying why there is none) is on screen
    status = Signal(str, int)  # a status-bar message and how long it shows (ms)

    def __init__(self, project: Project, library: ModelLibrary, query: QueryPanel, dialogs: Dialogs,
                 current_model: Callable, engine: EngineState, settings: QSettings | None = None,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.project, self.library, self.query, self.dialogs = project, library, query, dialogs
        self.current_model, self.engine, self.settings = current_model, engine, settings
        self._busy = False
        self._again = False  # something changed while a job ran: look again when it ends
        self._shown: tuple | None = None  # the context of what is on screen (an explanation or an error)
        self._syncing = False  # the picker and the query list are being made to agree: not a new choice

        self.picker = QComboBox()
        self.picker.setMinimumWidth(160)
        self.picker.setToolTip("The query to explain (clicking a row in the query set picks it too)")
        self.picker.currentIndexChanged.connect(self._picked)
        self.state = QLabel()
        self.state.setObjectName("muted")
        self.state.setWordWrap(True)
        self.export_btn = QPushButton("Export PNG…")
        self.export_btn.setToolTip("Save this explanation as a picture")
        self.export_btn.clicked.connect(lambda: self.export_png())
        head = QHBoxLayout()
        head.addWidget(QLabel("Query"))
        head.addWidget(self.picker)
        head.addWidget(self.state, 1)
        head.addWidget(self.export_btn)
        self.render = ExplanationView()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 4, 0, 0)
        lay.addLayout(head)
        lay.addWidget(self.render, 1)

        self.timer = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self.timer.timeout.connect(self.refresh)
        project.queriesChanged.connect(self._queries_changed)
        project.classesChanged.connect(self.schedule)
        project.configChanged.connect(self.schedule)  # the algorithm or the model in use
        query.list.currentItemChanged.connect(self._row_clicked)
        self._queries_changed()

    # -- which query ----------------------------------------------------------------------------
    def selected(self):
        """The query sample being explained (None: there are no queries)."""
        sid = self.picker.currentData()
        return next((s for s in self.project.queries if s.id == sid), None)

    def select(self, sample_id: int) -> None:
        row = self.picker.findData(sample_id)
        if row >= 0:
            self.picker.setCurrentIndex(row)

    def _queries_changed(self) -> None:
        keep = self.picker.currentData()
        self._syncing = True
        self.picker.clear()
        for s in self.project.queries:
            self.picker.addItem(thumb_icon(s, 24), query_name(self.project, s), s.id)
        row = self.picker.findData(keep)
        self.picker.setCurrentIndex(row if row >= 0 else 0 if self.project.queries else -1)
        self._syncing = False
        self._follow_list()
        self.schedule()

    def _picked(self, _row: int) -> None:
        if not self._syncing:
            self._follow_list()
            self.schedule()

    def _follow_list(self) -> None:
        """Select the picked query's row in the query set (and keep that row in view)."""
        sid = self.picker.currentData()
        lst = self.query.list
        for i in range(lst.count()):
            if lst.item(i).data(Qt.ItemDataRole.UserRole) == sid and lst.currentRow() != i:
                self._syncing = True
                lst.setCurrentRow(i)
                self._syncing = False
                break

    def _row_clicked(self, item, _previous) -> None:
        # While the query set rebuilds its rows (a query added or removed: it hears of it first), Qt
        # moves the current row: that is not the person's choice and must not replace the picked
        # query. The picker still lists the old queries then; it is brought up to date next.
        listed = [self.picker.itemData(i) for i in range(self.picker.count())]
        rebuilding = listed != [s.id for s in self.project.queries]
        if item is not None and not self._syncing and not rebuilding:
            self.select(item.data(Qt.ItemDataRole.UserRole))

    # -- computing --------------------------------------------------------------------------------
    def schedule(self) -> None:
        self.timer.start()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.schedule()  # nothing is computed while hidden: catch up now

    def _context(self, entry, sample) -> tuple:
        """What an explanation depends on: the model, the class names, the support samples, the
        query and the device. One computed for another context is stale."""
        return (str(self.library.path(entry.id)), tuple(self.project.class_names()),
                tuple(s.id for c in self.project.classes for s in c.samples), sample.id, self.project.task.device)

    def missing(self) -> str | None:
        """What stops an explanation, in plain words (None: nothing)."""
        if not self.engine.ready:
            return "The engine is still loading…"
        if self.current_model() is None:
            import core

            title = core.ALGORITHMS[self.project.algorithm].title if self.project.algorithm in core.ALGORITHMS else self.project.algorithm
            return f"There is no meta-trained {title} model yet: press Train, or pick a model in the Models tab."
        ok, why = self.project.validity()
        if not ok:
            return f"The support set {why}."
        if not self.project.queries:
            return "There is no query yet: drop, paste or draw an image in the query set to see how the model classifies it."
        return None

    def refresh(self) -> None:
        if not self.isVisible():
            return  # showEvent looks again when the view is shown
        why = self.missing()
        if why is not None:
            self._shown = None
            self.state.setText("")
            self.render.setEnabled(True)
            self.render.show_message(why)
            self.export_btn.setEnabled(False)
            self.explained.emit()
            return
        entry, sample = self.current_model(), self.selected()
        context = self._context(entry, sample)
        if context == self._shown:
            return
        if self._busy:
            self._again = True
            return
        self._start(entry, sample, context)

    def _start(self, entry, sample, context: tuple) -> None:
        self._busy = True
        name = query_name(self.project, sample)
        self.state.setText(f"Working out how “{entry.name}” classifies {name}…")
        self.render.setEnabled(False)  # what is on screen belongs to the previous request
        support = [(ci, s.png) for ci, c in enumerate(self.project.classes) for s in c.samples]
        pngs = [png for _, png in support]
        path, device, classes = context[0], context[4], list(context[1])

        def current() -> bool:
            entry_now, sample_now = self.current_model(), self.selected()
            return entry_now is not None and sample_now is not None and self.missing() is None \
                and context == self._context(entry_now, sample_now)

        def done(result: dict) -> None:
            self._busy = False
            if current():
                self._shown = context
                self.render.setEnabled(True)
                self.render.show_explanation(result["explanation"], pngs)
                self.state.setText(f"Model “{entry.name}” on {result['device'].upper()}")
                self.export_btn.setEnabled(True)
                self.explained.emit()
            self._next()

        def failed(exc: Exception) -> None:
            self._busy = False
            if current():  # an error about a replaced model or query is moot
                self._shown = context  # not retried until something changes
                self.render.setEnabled(True)
                self.render.show_message(f"Cannot explain {name}: {exc}")
                self.state.setText("")
                self.export_btn.setEnabled(False)
                self.explained.emit()
            self._next()

        jobs.run_job(lambda: jobs.explain(path, device, support, sample.png, classes, name), done, failed, owner=self.window())

    def _next(self) -> None:
        self._again = False
        self.refresh()  # a no-op when what is on screen is still current

    def computing(self) -> bool:
        return self._busy

    # -- export -----------------------------------------------------------------------------------
    def export_png(self, path: str | None = None) -> Path | None:
        """Save the explanation on screen as a PNG (asks where, through the dialog service)."""
        if self.render.explanation is None:
            self.dialogs.inform("Nothing to export", "There is no explanation on screen yet.")
            return None
        if path is None:
            start = self.settings.value("folders/inside", str(Path.home())) if self.settings is not None else str(Path.home())
            path = self.dialogs.save_path("Export the explanation as PNG", start, "PNG images (*.png)")
            if not path:
                return None
        path = Path(path)
        if path.suffix.lower() != ".png":
            path = path.with_name(path.name + ".png")
        if not write_png(self.render.picture(), path):
            self.dialogs.inform("Cannot export", f"{path}: could not write the image.")
            return None
        if self.settings is not None:
            self.settings.setValue("folders/inside", str(path.parent))
        self.status.emit(f"Wrote {path.name}", 3000)
        return path
