"""The main window: wires the project model, the panels, the workers, the library and the files.

Layout: support set (top left), query set (bottom left), meta-training curves and the Inside view
(tabs, top right) and a tab widget (task & source, hyperparameters, models) below them. The engine is imported on a
worker thread right after the window shows; until then the algorithm list says so.
[Studio] [Compare] at the left of the toolbar switch between that view and the Compare view
(`app.views.compare.view.CompareView`: several algorithms on identical episodes, side by side).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, QStandardPaths, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QPalette
from PySide6.QtWidgets import QFrame, QLabel, QMainWindow, QProgressBar, QSplitter, QStackedWidget, QTabWidget, QVBoxLayout, QWidget

from app.controllers.autosave import Autosave
from app.controllers.classifier import Classifier
from app.controllers.closing import Closing
from app.controllers.dialogs import Dialogs
from app.controllers.project_files import ProjectFiles
from app.controllers.training_controller import TrainingController
from app.controllers.undo import Editor
from app.engine import jobs, workers
from app.engine.episode_picture import set_palette as set_episode_palette
from app.model import AlgorithmChoice, EngineState, Project
from app.model.library import DEFAULT_STARTERS, ModelLibrary
from app.views.compare.view import CompareView
from app.views.studio.add_images import ImageAdder
from app.views.studio.episodes_view import EpisodesView
from app.views.studio.hparam_tab import HParamTab
from app.views.studio.inside_view import InsideView
from app.views.studio.models_tab import ModelsTab
from app.views.studio.query_panel import QueryPanel
from app.views.studio.support_panel import SupportPanel
from app.views.studio.task_fields import offer_cuda
from app.views.studio.task_tab import TaskTab
from app.views.studio.training_panel import TrainingPanel
from app.views.widgets.common import install_wheel_guard
from app.views.widgets.fold import FoldingTabs
from app.views.widgets.style import app_icon
from app.views.widgets.window_geometry import restore_window_state, save_window_state

from .window_actions import WindowActions

APP_NAME = "Few-Shot Studio"
INSIDE_ROOM = 600  # the Inside tab's card height (px) below which the settings tabs fold while it is shown


def data_dir() -> Path:
    return Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation))


class MainWindow(WindowActions, QMainWindow):
    """The Studio's window. It builds the panels, tabs and controllers and connects them (its
    toolbar and menus come from `WindowActions`, app/window_actions.py); the little it does itself
    is glue that touches several of them: rendering the project into the tabs, using a model (its
    algorithm and hyperparameters come along), showing an open in progress. Each job with rules of
    its own lives in its own module (see docs/architecture.md). It stays one class (over 350 lines)
    because it is that assembly: split further, each piece would only reach back into the others'
    widgets. The thin methods at the end of each section (`train`,
    `classify`, `save_to`, `open_path`, `session`, …) are the app's entry points that `app.main`,
    the screenshot and benchmark scripts and the tests drive."""

    open_progress: QProgressBar | None = None  # a busy bar in the status bar while a project file is read

    def __init__(self, settings: QSettings | None = None, data_path: Path | None = None, load_core: bool = True,
                 dialogs: Dialogs | None = None, starter_folder: str | Path | None = DEFAULT_STARTERS):
        """`starter_folder`: where the starter models are (default: those shipped in the package; None: none)."""
        super().__init__()
        self.dialogs = dialogs if dialogs is not None else Dialogs(self)  # every message, question and file dialog
        self.settings = settings or QSettings()
        self.data_path = Path(data_path) if data_path else data_dir()
        self.data_path.mkdir(parents=True, exist_ok=True)
        self.library = ModelLibrary(self.data_path / "models", starter_folder)
        self.project = Project()
        self.engine = EngineState()  # loaded on the job thread once the window shows (load_core)
        self.setWindowTitle(APP_NAME)
        self.setWindowIcon(app_icon())
        # Every change to the project goes through the editor: Undo / Redo name the step.
        self.editor = Editor(self.project, self)
        self.files = ProjectFiles(self.project, self.editor, self.library, self.settings, self.dialogs, self)
        self.autosaver = Autosave(self.project, self.files, self.data_path, self.settings, self.dialogs, self)
        self._build()
        self.runs = TrainingController(self.project, self.library, self.training, self.query, self.dialogs,
                                       self.engine, lambda: self.compare.is_running(), self)
        self.classifier = Classifier(self.project, self.library, self.query, self.dialogs, self.current_model, self.engine, self)
        self.closer = Closing(self, self.runs, self.training, self.compare, self.files, self.autosaver, self.settings, self.dialogs,
                              self._save_window_state)
        self.image_adder = ImageAdder(self, self.project, self.editor, self.support, self.query, self.dialogs, self.settings)
        self._wire()
        restore_window_state(self, self.settings, self._splits())
        self._sync_from_project()
        if load_core:
            QTimer.singleShot(0, self.load_core)

    # -- construction ---------------------------------------------------------------------------
    def _build(self) -> None:
        install_wheel_guard()  # before any form exists: the wheel scrolls panels, not unfocused settings
        self._build_toolbar()
        self._build_menus()
        self._build_panels()

    def _build_panels(self) -> None:
        self.support = SupportPanel(self.project, self.editor)
        self.query = QueryPanel(self.project, self.editor)
        left = QSplitter(Qt.Orientation.Vertical)
        left.addWidget(self._card(self.support))
        left.addWidget(self._card(self.query))
        left.setStretchFactor(0, 3)
        left.setStretchFactor(1, 2)
        self.left_split = left

        self.training = TrainingPanel()
        # Inside (app/views/studio/inside_view.py): how the model in use classified the query picked in the query set.
        self.inside = InsideView(self.project, self.library, self.query, self.dialogs, self.current_model,
                                 self.engine, self.settings)
        self.top_tabs = QTabWidget()
        self.top_tabs.addTab(self.training, "Meta-training")
        self.top_tabs.addTab(self.inside, "Inside")
        self.tabs = QTabWidget()
        self.task_tab = TaskTab(self.project, self.editor, self.dialogs, self.settings)
        self.task_tab.problem.connect(self.show_message)
        self.task_tab.status.connect(lambda text, ms: self.statusBar().showMessage(text, ms))
        self.tabs.addTab(self.task_tab, "Task && source")
        self.hparam_tab = HParamTab(self.project, self.editor, self.engine)
        self.tabs.addTab(self.hparam_tab, "Hyperparameters")
        self.models_tab = ModelsTab()
        self.tabs.addTab(self.models_tab, "Models")
        set_episode_palette(self.palette().color(QPalette.ColorRole.Base), self.palette().color(QPalette.ColorRole.Text))
        self.episodes = EpisodesView(self.project, self._model_in_use, self.engine)
        self.tabs.addTab(self.episodes, "Episodes")
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self._card(self.top_tabs))
        right.addWidget(self.tabs)
        right.setStretchFactor(0, 3)
        right.setStretchFactor(1, 2)
        self.right_split = right
        # In a short window (1366×768) the Inside tab needs the height for the prediction and the
        # embedding map at once: the settings tabs fold to their tab bar while it is shown.
        self.settings_fold = FoldingTabs(right, self.tabs, INSIDE_ROOM, self)
        self.top_tabs.currentChanged.connect(lambda _i: self.settings_fold.want_room(self.top_tabs.currentWidget() is self.inside))
        main = QSplitter(Qt.Orientation.Horizontal)
        main.addWidget(left)
        main.addWidget(right)
        main.setStretchFactor(0, 3)
        main.setStretchFactor(1, 2)
        main.setChildrenCollapsible(False)
        self.main_split = main
        central = QWidget()
        lay = QVBoxLayout(central)
        lay.setContentsMargins(8, 8, 8, 8)
        lay.addWidget(main)
        self.compare = CompareView(self.project, self.engine, self.settings, dialogs=self.dialogs)
        self.compare.sweep.studio_model = self._model_in_use  # the Sweep tab can sweep the Studio's model too
        self.compare.setup.set_starters(self.library.starter_files(), self.library.find_by_path)  # Compare tests them without training, beside their own figures
        compare_page = QWidget()
        cl = QVBoxLayout(compare_page)
        cl.setContentsMargins(8, 8, 8, 8)
        cl.addWidget(self.compare)
        self.stack = QStackedWidget()
        self.stack.addWidget(central)
        self.stack.addWidget(compare_page)
        self.setCentralWidget(self.stack)

        sb = self.statusBar()
        self.model_label = QLabel("No model")
        self.device_label = QLabel("● engine loading…")
        sb.addPermanentWidget(self.model_label)
        sb.addPermanentWidget(self.device_label)

    @staticmethod
    def _card(w: QWidget) -> QFrame:
        f = QFrame()
        f.setObjectName("card")
        lay = QVBoxLayout(f)
        lay.setContentsMargins(10, 8, 10, 10)
        lay.addWidget(w)
        return f

    def _wire(self) -> None:
        p = self.project
        self.support.problem.connect(self.show_message)
        self.query.problem.connect(self.show_message)
        p.changed.connect(self._changed)
        p.configChanged.connect(self._sync_settings_widgets)
        self.algo_box.picked.connect(self._algorithm_picked)
        self.models_tab.useRequested.connect(self.use_model)
        self.models_tab.deleteRequested.connect(self.delete_model)
        self.models_tab.renamed.connect(self.runs.rename_model)
        self.models_tab.importRequested.connect(self.import_model)
        self.models_tab.showStartersRequested.connect(self.runs.show_starters)
        self.runs.status.connect(lambda text, ms: self.statusBar().showMessage(text, ms))
        self.runs.runningChanged.connect(self._training_running)
        self.runs.modelsChanged.connect(self.show_models)
        self.runs.liveEpisode.connect(self.episodes.show_live)
        self.runs.runningChanged.connect(lambda running: running and self.episodes.run_started())
        self.runs.classifyWanted.connect(lambda: self.closer.keep_runs or QTimer.singleShot(0, lambda: self.classify(quiet=True)))
        self.files.openingChanged.connect(self._show_opening)
        self.files.adopted.connect(self._adopted)
        self.files.titleChanged.connect(self._update_title)
        self.files.status.connect(lambda text, ms: self.statusBar().showMessage(text, ms))
        self.classifier.status.connect(lambda text, ms: self.statusBar().showMessage(text, ms))
        self.classifier.quickTrainWanted.connect(lambda: self.train(quick=True, then="classify"))
        self.inside.status.connect(lambda text, ms: self.statusBar().showMessage(text, ms))
        self.runs.modelsChanged.connect(self.inside.schedule)  # a new model can become the one in use
        self.query.list.itemDoubleClicked.connect(lambda _item: self.top_tabs.setCurrentWidget(self.inside))
        self.compare.message.connect(self.show_message)
        self.compare.status.connect(lambda text: self.statusBar().showMessage(text, 5000))
        self.compare.runningChanged.connect(self._compare_running)
        self.compare.ended.connect(self.closer.after_run)

    # -- views ------------------------------------------------------------------------------------
    def show_view(self, which: str) -> None:
        """"studio" or "compare"; the toolbar's algorithm picker and Train / Stop belong to the Studio."""
        compare = which == "compare"
        if compare and self.runs.model_note is not None:
            self.runs.forget_notes()  # why a model is in use after a run is the Studio's news, and old by now
            self._update_model_label()
        self.stack.setCurrentIndex(1 if compare else 0)
        (self.compare_view_act if compare else self.studio_view_act).setChecked(True)
        for a in self.studio_tool_actions:
            a.setVisible(not compare)
        self.train_act.setEnabled(not compare and self.session is None)

    def _compare_running(self, running: bool) -> None:
        # A comparison writes into the project when it ends: no New / Open / Studio training meanwhile.
        for a in (self.new_act, self.open_act):
            a.setEnabled(not running)
        self.train_btn.setEnabled(not running and self.session is None)
        self.train_act.setEnabled(not running and self.session is None and self.stack.currentIndex() == 0)

    # -- the engine ---------------------------------------------------------------------------
    def load_core(self) -> None:
        # The slow import (torch) happens on the job thread; the window is already on screen.
        jobs.run_job(workers.import_engine, self._on_core_loaded, lambda e: self.show_message("The engine failed to load", str(e)), owner=self)

    def _on_core_loaded(self, device_type: str) -> None:
        self.device_label.setText(f"● {device_type.upper()}")
        self.device_label.setToolTip("Training and classification run on this device")
        offer_cuda(self.task_tab.device_box, device_type == "cuda")
        self.algo_box.list_algorithms()
        self.engine.set_ready(device_type)  # the Compare view lists its algorithms and shows the project's comparison
        self._sync_from_project()
        self.show_models()
        QTimer.singleShot(0, self.autosaver.offer_restore)

    # -- project <-> widgets ----------------------------------------------------------------------
    def _sync_from_project(self) -> None:
        """Show the project's settings in the widgets (after New/Open/Restore and at start)."""
        p = self.project
        self._sync_settings_widgets()
        if self.engine.ready:
            import core

            if p.algorithm not in core.ALGORITHMS:
                self.show_message("Unknown algorithm", f"The project uses “{p.algorithm}”, which this version does not have; using Prototypical Networks.")
                p.choice = AlgorithmChoice()
            self.algo_box.show_algorithm(p.algorithm)
            self.hparam_tab.show_form(p.algorithm, p.hparams)
        self._update_title()
        self._update_model_label()

    _model_shown: tuple | None = None  # (algorithm, model file) the query results and model label belong to

    def _sync_settings_widgets(self) -> None:
        """Show the project's task settings, algorithm and hyperparameters: after every
        configuration change, so an undo or redo shows too. A widget already showing the model's
        value (the one just edited) is left alone, and none emits an edit (signals blocked)."""
        p = self.project
        task = p.task
        self.task_tab.show_task(task)
        if not self.engine.ready:
            return
        import core

        if p.algorithm not in core.ALGORITHMS:
            return  # _sync_from_project reports it and falls back
        if self.algo_box.currentData() != p.algorithm:
            self.algo_box.show_algorithm(p.algorithm)
        self.hparam_tab.show_choice()
        if self._model_shown != (p.algorithm, p.model_file):
            # Another model is in use: its label, and no result of the previous one stays on screen.
            self._model_shown = (p.algorithm, p.model_file)
            self.query.clear_results()
            self.show_models()  # the label, and the Models tab's row in use (bold)
            # Picking another algorithm (or undoing the pick) puts its model in use: the queries
            # get that model's answers at once, as they do when a model is picked in the Models tab.
            self.classifier.maybe_auto_classify()

    def _algorithm_picked(self, name: str) -> None:  # slot of algo_box.picked
        if name == self.project.algorithm:
            return
        import core

        self.hparam_tab.show_form(name, {})
        # The model in use belongs to one algorithm; switch to this algorithm's latest, if any.
        # One step: undo brings back the algorithm, its hyperparameters and its model together.
        entry = self.library.latest_for(name)
        self.editor.set_config(f"Change algorithm to {core.ALGORITHMS[name].title}", algorithm=name, hparams={},
                               model_file=str(self.library.path(entry.id)) if entry else None)

    def choose_source(self, kind: str, folder: str) -> None:
        self.task_tab.choose_source(kind, folder)

    def _changed(self) -> None:
        self._update_title()
        self.autosaver.timer.start()

    def _update_title(self) -> None:
        name = Path(self.project.path).name if self.project.path else "Untitled"
        self.setWindowTitle(f"{name}{' •' if self.project.dirty else ''} — {APP_NAME}")

    # -- messages -------------------------------------------------------------------------------
    def show_message(self, title: str, text: str) -> None:
        """A non-blocking message (the event loop, and training, keep running)."""
        self.dialogs.inform(title, text)

    # -- training (app/controllers/training_controller.py) -----------------------------------------
    @property
    def session(self) -> workers.TrainSession | None:
        """The Studio's meta-training run, while one runs."""
        return self.runs.session

    def train(self, quick: bool = False, then: str | None = None, overrides: dict[str, Any] | None = None) -> bool:
        return self.runs.train(quick, then, overrides)

    def stop_training(self) -> None:
        self.runs.stop_training()

    def _set_training_ui(self, running: bool) -> None:
        self.train_act.setEnabled(not running)
        self.train_btn.setEnabled(not running)
        self.stop_act.setEnabled(running)
        self.algo_box.setEnabled(not running and self.engine.ready)
        self.task_tab.setEnabled(not running)
        self.hparam_tab.form.setEnabled(not running)
        self.editor.set_config_locked(running)  # the run uses the settings it started with

    def _training_running(self, running: bool) -> None:  # slot of runs.runningChanged
        self._set_training_ui(running)
        if running:
            self._update_model_label()  # without the last run's note: a run has begun
        else:
            self.closer.after_run()

    # -- models ---------------------------------------------------------------------------------
    def current_model(self):
        """The library entry Classify uses: the project's model, else this algorithm's latest."""
        return self.runs.current_model()

    def _model_in_use(self) -> tuple[str, str] | None:
        """(checkpoint path, name) of the model in use, for the Episodes tab's predictions."""
        e = self.current_model()
        return (str(self.library.path(e.id)), e.name) if e is not None else None

    def _update_model_label(self) -> None:
        e = self.current_model()
        self.model_label.setText(self.runs.model_text(e))
        self.runs.show_training_record(e)

    def show_models(self) -> None:
        """Show the library's models in the Models tab and the model in use in the status bar (after
        the library changed, or another model came into use)."""
        current = self.current_model()
        self.models_tab.show_entries(self.library.entries(), current.id if current is not None else None, len(self.library.hidden_starters()))
        self._update_model_label()

    def delete_model(self, model_id: str) -> None:
        self.runs.delete_model(model_id)

    def import_model(self, path: str | None = None) -> None:
        """Add a checkpoint file to the library (asked for when not given) and use it."""
        if path is None:
            start = self.settings.value("folders/models", str(Path.home()))
            path = self.dialogs.open_path("Import a model", start, "Few-Shot Studio models (*.pt);;All files (*)")
            if not path:
                return
            self.settings.setValue("folders/models", str(Path(path).parent))
        self.runs.import_model_file(str(path), self.use_model)

    def use_model(self, model_id: str) -> None:
        e = self.library.get(model_id)
        if e is None:
            return
        config = {}
        if e.algorithm != self.project.algorithm and self.algo_box.row_of(e.algorithm) >= 0:
            self.hparam_tab.show_form(e.algorithm, e.hparams)  # the model's algorithm, with the hyperparameters it was trained with
            config = {"algorithm": e.algorithm, "hparams": self.hparam_tab.form.changed_from_defaults()}
        self.runs.forget_notes()  # the person chose it: no explanation needed
        self.editor.set_config(f"Use model “{e.name}”", model_file=str(self.library.path(model_id)), **config)
        self.query.clear_results()
        self.show_models()
        self.classifier.maybe_auto_classify()

    # -- classification (app/controllers/classifier.py) --------------------------------------------
    def classify(self, quiet: bool = False) -> None:
        self.classifier.classify(quiet)

    # -- project files and autosave (app/controllers/project_files.py, autosave.py) ----------------
    def save(self) -> bool:
        return self.files.save()

    def save_to(self, path: str | Path) -> bool:
        return self.files.save_to(path)

    def open_path(self, path: str | Path, keep_path: bool = True, then=None) -> bool:
        return self.files.open_path(path, keep_path, then)

    def _show_opening(self, path: Path | None) -> None:  # slot of files.openingChanged
        """While a project file is read, the panels that edit the project it will replace are
        disabled and no second open can start; a busy bar and a message say what is loading."""
        busy = path is not None
        if busy and self.open_progress is None:
            self.open_progress = QProgressBar()
            self.open_progress.setRange(0, 0)  # busy: no percentage to show
            self.open_progress.setMaximumWidth(120)
            self.open_progress.setTextVisible(False)
            self.statusBar().insertPermanentWidget(0, self.open_progress)
        if self.open_progress is not None:
            self.open_progress.setVisible(busy)
        self.stack.setEnabled(not busy)
        for a in (self.save_act, self.save_as_act):
            a.setEnabled(not busy)
        for a in (self.new_act, self.open_act):
            a.setEnabled(not busy and not self.compare.is_running())
        if busy:
            self.statusBar().showMessage(f"Opening {path.name}…")
        else:
            self.statusBar().clearMessage()

    def _adopted(self) -> None:  # slot of files.adopted: another project is in
        self.compare.load_from_project()
        self.query.clear_results()
        self._sync_from_project()
        self.show_models()
        self.classifier.maybe_auto_classify()

    # -- window state and shutdown --------------------------------------------------------------
    def _splits(self) -> dict:
        return {"main": self.main_split, "left": self.left_split, "right": self.right_split}

    def _save_window_state(self) -> None:
        self.settings_fold.unfold()  # the next launch opens with the settings tabs where the person left them
        save_window_state(self, self.settings, self._splits())

    @property
    def closing(self) -> bool:
        """Closing for good (jobs.run_job drops a late result for a window that is)."""
        return self.closer.closing

    def closeEvent(self, event: QCloseEvent) -> None:
        self.closer.close_event(event)
