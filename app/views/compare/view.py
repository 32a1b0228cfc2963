"""The Compare view: several algorithms meta-trained on identical seeded episodes, side by side.

Left, the setup (`setup.SetupPanel`): tick algorithms, each with its own hyperparameter
form, one meta-training source, N/K/Q, the protocol, a budget per algorithm, the seed and the
device; Run / Stop. Right, the "Results" tab: the overlaid live curves (`curves`), with the
export buttons (`export`) above them, and the results table, bar chart and pairwise
matrix (`results`); and the "My queries" tab (`queries`), which classifies the
Studio view's queries with every trained model.

This module assembles those parts and runs the comparison: `core.Comparison.run()` on its own
QThread (`workers.CompareSession`), forwarding plain dicts; Stop sets its CancelToken (algorithms
that finished keep their results). The trained models stay in memory (`comparison.learners`) for
the query grid. Saving the project stores them in the project file too (as checkpoints beside
`comparison.json`), so a reopened project shows the whole comparison and can still classify with
its models; a JSON export holds no models.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtWidgets import QLabel, QSplitter, QTabWidget, QVBoxLayout, QWidget

from app.controllers.dialogs import Dialogs
from app.engine import workers
from app.model import EngineState, Project
from app.model.compare import CompareSetup, ComparisonRecord
from app.model.compare_measure import curve_measures

from .curves import REDRAW_MS, CurvesPanel
from .episodes import TestEpisodesPage
from .export import CompareFiles
from .host import PictureParts
from .queries import QueriesPage
from .results import ResultsTables
from .setup import SetupPanel
from .sweep import SweepPage


class CompareView(QWidget):
    """The host of the Compare pages (`host.CompareHost`: what they may use of it)."""
    comparisonReady = Signal()  # a comparison is on screen (finished, stopped, opened): the screenshot scripts wait on it
    message = Signal(str, str)  # (title, text): shown by the window
    status = Signal(str)  # a status-bar line
    runningChanged = Signal(bool)
    ended = Signal()  # a run's thread has stopped (a window closing mid-run waits for it)

    def __init__(self, project: Project, engine: EngineState, settings: QSettings | None = None, parent: QWidget | None = None,
                 dialogs: Dialogs | None = None):
        super().__init__(parent)
        self.project, self.engine = project, engine
        self.settings = settings
        self.dialogs = dialogs if dialogs is not None else Dialogs(self)  # file and folder dialogs (messages go out as `message`)
        self.session: workers.CompareSession | None = None
        self.closing = False
        self.comparison = None  # core.Comparison on screen (with its models in memory when run here)
        self.models: dict[str, bytes] = {}  # its models as checkpoint bytes (what the project file keeps)
        self.run_names: list[str] = []
        self.shown = None  # the comparison the plots and tables show (live during a run)
        self.current: tuple[int, str] | None = None  # (index, title) of the algorithm running
        self.last: dict | None = None  # its latest progress / testing event
        self._build()
        self.timer = QTimer(self, interval=REDRAW_MS)
        self.timer.timeout.connect(self.redraw)
        engine.readyChanged.connect(self._engine_loaded)
        if engine.ready:
            self._engine_loaded()

    def _build(self) -> None:
        self.setup = SetupPanel(self.dialogs, self.settings)
        self.setup.run_btn.clicked.connect(self.run)
        self.setup.stop_btn.clicked.connect(self.stop)
        self.setup.message.connect(self.message)
        self.curve_panel = CurvesPanel()
        self.files = CompareFiles(self)
        self.curve_panel.header.addWidget(QLabel("Export"))
        for b in self.files.buttons:
            self.curve_panel.header.addWidget(b)
        self.results = ResultsTables()
        self.curve_panel.apply_palette((self.results.bars,))
        results_page = _split(Qt.Orientation.Vertical, (self.curve_panel, 2), (self.results, 3))
        self.queries = QueriesPage(self)
        self.queries.message.connect(self.message)
        self.right_tabs = QTabWidget()
        self.right_tabs.setDocumentMode(True)
        self.right_tabs.addTab(results_page, "Results")
        self.right_tabs.addTab(self.queries, "My queries")
        self.test_episodes = TestEpisodesPage(self)
        self.test_episodes.message.connect(self.message)
        self.right_tabs.addTab(self.test_episodes, "Test episodes")
        self.sweep = SweepPage(self)
        self.sweep.message.connect(self.message)
        self.sweep.runningChanged.connect(self.runningChanged)  # a sweep writes into the project too: no New / Open meanwhile
        self.sweep.ended.connect(self.ended)  # a window waiting for its runs to end waits for a sweep too
        self.right_tabs.addTab(self.sweep, "Sweep")
        split = _split(Qt.Orientation.Horizontal, (self.setup, 0), (self.right_tabs, 1))
        split.setSizes([340, 1100])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(split)

    def _engine_loaded(self) -> None:
        """The engine is loaded: list the algorithms and show the project's comparison."""
        self.setup.list_algorithms(cuda=self.engine.cuda)
        self.load_from_project()

    # -- running -----------------------------------------------------------------------------------
    def is_running(self) -> bool:
        return self.session is not None

    def run(self) -> bool:
        if self.session is not None or self.sweep.is_running():
            return False
        if not self.engine.ready:
            self.status.emit("The engine is still loading…")
            return False
        import core

        cfg = self.setup.value.config_args(self.setup.starters)  # starter mode tests the ticked algorithms' starter models
        if not cfg["algorithms"]:
            self.message.emit("Nothing to compare", "Tick at least one algorithm (two or more to compare them).")
            return False
        try:
            core.CompareConfig(**cfg).validate()
        except core.CompareError as exc:
            self.message.emit("Invalid hyperparameters", str(exc))
            return False
        request = {"config": cfg, "source": dict(self.setup.value.source)}
        self.session = workers.CompareSession(request, self)
        self.session.stage.connect(self.setup.say_progress)
        self.session.event.connect(self._event)
        self.session.finished.connect(self._finished)
        self.session.failed.connect(self._failed)
        self.session.ended.connect(self._ended)
        self.comparison, self.models = None, {}
        self._start_display(core.Comparison.from_dict({"format": core.studies.compare.FORMAT, "config": cfg,
                                                       "results": [{"algorithm": n, "title": core.ALGORITHMS[n].title,
                                                                    "family": core.ALGORITHMS[n].family} for n in cfg["algorithms"]]}),
                            running=True)
        self.setup.start_progress(len(cfg["algorithms"]))
        self._set_running(True)
        self.session.start()
        return True

    def stop(self) -> None:
        if self.session is not None:
            self.session.stop()
            self.setup.say_progress("Stopping… (finished algorithms keep their results)")

    def stop_and_wait(self, timeout_ms: int = 1800) -> bool:
        """Closing but keeping the run: Stop as the Stop button does, wait for the thread, and take
        in the result now (its finished algorithms' results go into the project, as after Stop).
        False if the thread is still inside one step after `timeout_ms`."""
        return self.session is None or self.session.stop_and_wait(timeout_ms)

    def shutdown(self, timeout_ms: int = 1800) -> bool:
        """Closing: cancel a run and wait for its thread; False if it is still inside one step."""
        self.closing = True
        self.timer.stop()
        if not self.sweep.shutdown(timeout_ms):
            return False
        if self.session is not None and not self.session.close_for_good(timeout_ms):
            return False
        self.session = None
        return True

    def _set_running(self, running: bool) -> None:
        self.setup.set_running(running)
        self.files.open_btn.setEnabled(not running)
        self.queries.set_enabled(not running)
        self.sweep.set_run_enabled(not running and not self.sweep.is_running())
        if running:
            self.timer.start()
        else:
            self.timer.stop()
            self.redraw()
        self.runningChanged.emit(running)

    def _start_display(self, comp, running: bool = False) -> None:
        """Clear the plots and tables and prepare one curve set per algorithm of `comp` (`running`:
        the run that fills them has begun)."""
        self.shown = comp
        self.run_names = list(comp.results)
        self.curve_panel.start({name: r.title or name for name, r in comp.results.items()})
        self._fill_results(comp)
        self._show_curves(comp, running)
        self.queries.clear()
        self.test_episodes.fill(comp)

    def _event(self, ev: dict) -> None:
        """A core.Comparison event (called for every training step: keep it cheap)."""
        kind, name = ev["kind"], ev.get("algorithm")
        shown = self.shown
        if kind == "progress":
            c = self.curve_panel.curves.get(name)
            if c is not None:
                if ev["status"] == "running":
                    c.add(ev["episodes"], ev["train_s"], ev["loss"], ev["accuracy"])
                if ev.get("val_accuracy") is not None:
                    c.add_val(ev["episodes"], ev["train_s"], ev["val_accuracy"])
            self.last = ev
            self.curve_panel.mark_dirty()
            return
        if kind == "start":
            r = shown.results[name]
            r.status, r.parameters, r.device, r.episode_shape = "training", ev["parameters"], ev["device"], dict(ev["shape"])
            self.current = (ev["index"], ev["title"])
            self.last = None
        elif kind == "testing":
            self.last = ev
            shown.results[name].status = "testing"
        elif kind == "result":
            import core

            shown.results[name] = r = core.AlgoResult.from_dict(ev["result"])
            c = self.curve_panel.curves.get(name)
            if c is not None and name in shown.config.models:  # tested as it is: its own training record, now
                c.add_recorded(r.curves)
            self._fill_results(shown)
        elif kind in ("stopped", "failed"):
            r = shown.results[name]
            r.status, r.message = kind, ev["message"]
            self._fill_results(shown)
        elif kind == "end":
            for r in shown.results.values():
                if r.status == "pending":
                    r.status = "skipped"
        if kind in ("start", "result"):  # a shape or a training record arrived: the plots' measures follow
            self._show_curves(shown, running=True)
        self.curve_panel.mark_dirty()

    def _finished(self, payload: dict) -> None:
        comp = payload.get("comparison")
        if comp is None or self.closing:
            return
        self.current = None  # the run is over: the progress line below stays as written here
        self.comparison, self.models = comp, dict(payload.get("models") or {})
        self.setup.show_end(comp)
        self.show_comparison(comp, self.models, store=True)

    def _failed(self, title: str, text: str) -> None:
        self.setup.say_progress(title)
        self.message.emit(title, text)

    def _ended(self) -> None:
        session, self.session = self.session, None
        if session is not None:
            session.thread.wait()
            session.deleteLater()
        if not self.closing:
            self._set_running(False)
        self.ended.emit()

    def redraw(self) -> None:
        """Draw what the run added since the last redraw (REDRAW_MS apart while it runs)."""
        if self.curve_panel.redraw() and self.session is not None and self.current is not None:
            index, title = self.current
            self.setup.show_progress(index, len(self.run_names), title, self.last, self.shown.config.seconds_each)

    # -- showing a comparison -------------------------------------------------------------------------
    def show_comparison(self, comp, models: dict[str, bytes] | None = None, store: bool = False, source: dict | None = None) -> None:
        """Show a finished / stopped / opened comparison; `store`: make it the project's."""
        self.comparison, self.models = comp, dict(models or {})
        if self.engine.ready:
            self.setup.apply_setup(comp.config, source or self._saved_source())
        self._start_display(comp)
        for name, r in comp.results.items():
            self.curve_panel.curves[name].add_recorded(r.curves)
        self._show_curves(comp)
        self.redraw()
        if store:  # a run's record, not an edit: no undo step (see Project.set_comparison)
            self.project.set_comparison(ComparisonRecord(comp.to_dict(), source or self.setup.value.source, self.models))
        self.comparisonReady.emit()

    def _fill_results(self, comp) -> None:
        self.results.fill(comp, self.setup.compared_starters(comp.config))

    def _show_curves(self, comp, running: bool = False) -> None:
        """The plots with what their curves measured, or, when no model on screen has a point to
        draw (every one tested as it is, none with a training record), a line saying so."""
        training, validation, details = curve_measures(comp)
        self.curve_panel.set_measures(training, validation, details)
        if (running and comp.config.trains) or self.curve_panel.has_records() or not comp.results:
            self.curve_panel.show_plots(True)
        elif running:
            self.curve_panel.show_plots(False, "No training here: each model is tested as it is, and its own training record "
                                               "shows here once it has been tested.")
        else:
            self.curve_panel.show_plots(False, "No training curves: these models were tested as they are, and none brought "
                                               "a record of its training.")

    def _saved_source(self) -> dict | None:
        record = self.project.comparison
        return record.source if record is not None else None

    def load_from_project(self) -> None:
        """Show the project's saved comparison (after Open / Restore / New)."""
        record = self.project.comparison
        if self.session is not None or not self.engine.ready:
            return  # (called again once the engine is loaded)
        self.sweep.load_from_project()
        import core

        if record is None:
            self.comparison, self.models = None, {}
            self._start_display(core.Comparison.from_dict({"format": core.studies.compare.FORMAT, "config": {"algorithms": []}, "results": []}))
            self.setup.say_progress("Not run yet")
            return
        try:
            comp = core.Comparison.from_dict(record.data)
        except core.CompareError as exc:
            self.message.emit("Cannot show the saved comparison", str(exc))
            return
        self.setup.say_progress(f"Saved comparison of {comp.created.replace('T', ' ')}")
        self.show_comparison(comp, record.models, source=record.source)

    def trained_names(self) -> list[str]:
        """The algorithms whose trained model is at hand (in memory or as checkpoint bytes)."""
        comp = self.comparison
        if comp is None:
            return []
        return [n for n, r in comp.results.items() if r.finished and (n in comp.learners or n in self.models)]

    # -- what the pages ask of the view (host.CompareHost) ---------------------------------------------
    def compared_models(self) -> dict:
        return {"comparison": self.comparison, "models": self.models}

    def current_setup(self) -> CompareSetup:
        return self.setup.value

    def set_run_enabled(self, on: bool) -> None:
        self.setup.set_run_enabled(on)

    def say_progress(self, text: str) -> None:
        self.setup.say_progress(text)

    def picture_parts(self) -> PictureParts:
        self.redraw()  # what the last REDRAW_MS brought
        plots = self.curve_panel.plots_picture()
        return PictureParts([(c.title, c.color) for c in self.curve_panel.shown_curves()],
                            self.curve_panel.measure_details if plots is not None else "",
                            [*([plots] if plots is not None else []), self.results.grab()])

    # -- files (export.CompareFiles): with no path, each asks for one ---------------------------
    def export_csv(self, path: str | None = None) -> list[Path]:
        return self.files.export_csv(path)

    def export_png(self, path: str | None = None) -> Path | None:
        return self.files.export_png(path)

    def save_json(self, path: str | None = None) -> Path | None:
        return self.files.save_json(path)

    def open_json(self, path: str | None = None) -> bool:
        return self.files.open_json(path)


def _split(orientation: Qt.Orientation, *parts: tuple[QWidget, int]) -> QSplitter:
    """A splitter of (widget, stretch factor) parts that never collapses one."""
    split = QSplitter(orientation)
    for i, (w, stretch) in enumerate(parts):
        split.addWidget(w)
        split.setStretchFactor(i, stretch)
    split.setChildrenCollapsible(False)
    return split
