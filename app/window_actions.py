"""The main window's toolbar and menus: New, Open, Save, the [Studio] [Compare] switch, the
algorithm picker, Train and Stop; the File, Edit, Training, View and Help menus.

`WindowActions` is mixed into `app.main_window.MainWindow` (as a Qt Designer form class is mixed
into its window): it builds the actions once, as attributes of the window (`new_act`, `train_act`,
`compare_view_act`, `algo_box`, `train_btn`, …), each calling the window's own entry points (`train`,
`stop_training`, `show_view`, `import_model`) or its controllers (`files`, `editor`). The window's
module keeps the panels and the wiring.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QLabel, QPushButton, QToolBar

from app.views.studio import help_dialogs
from app.views.studio.algorithm_box import AlgorithmBox
from app.views.widgets.style import icon


class WindowActions:
    """The toolbar and menus of the main window it is mixed into (`self` is that QMainWindow)."""

    def _build_toolbar(self) -> None:
        tb = QToolBar("Main")
        tb.setObjectName("mainToolbar")
        tb.setMovable(False)
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.addToolBar(tb)
        self.new_act = QAction(icon("new"), "New", self, shortcut=QKeySequence.StandardKey.New, triggered=self.files.new_project)
        self.open_act = QAction(icon("open"), "Open…", self, shortcut=QKeySequence.StandardKey.Open, triggered=self.files.open_dialog)
        self.save_act = QAction(icon("save"), "Save", self, shortcut=QKeySequence.StandardKey.Save, triggered=self.files.save)
        self.save_as_act = QAction("Save As…", self, shortcut=QKeySequence.StandardKey.SaveAs, triggered=self.files.save_as)
        self.train_act = QAction(icon("train", "white"), "Train", self, triggered=lambda: self.train())
        self.train_act.setShortcuts([QKeySequence("Ctrl+Return"), QKeySequence("Ctrl+Enter")])
        self.train_act.setToolTip("Meta-train the selected algorithm (Ctrl+Enter)")
        self.stop_act = QAction(icon("stop"), "Stop", self, triggered=self.stop_training, enabled=False)
        self.stop_act.setToolTip("Stop meta-training (takes effect within one step)")
        # The view switch: [Studio] [Compare].
        self.view_group = QActionGroup(self)
        self.view_group.setExclusive(True)
        self.studio_view_act = QAction("Studio", self, checkable=True, checked=True, shortcut=QKeySequence("Ctrl+1"),
                                       toolTip="Your support and query sets, one algorithm (Ctrl+1)")
        self.compare_view_act = QAction("Compare", self, checkable=True, shortcut=QKeySequence("Ctrl+2"),
                                        toolTip="Compare algorithms side by side on identical episodes (Ctrl+2)")
        for a in (self.studio_view_act, self.compare_view_act):
            self.view_group.addAction(a)
            tb.addAction(a)
        self.studio_view_act.triggered.connect(lambda: self.show_view("studio"))
        self.compare_view_act.triggered.connect(lambda: self.show_view("compare"))
        tb.addSeparator()
        for a in (self.new_act, self.open_act, self.save_act):
            tb.addAction(a)
        self.studio_tool_actions = [tb.addSeparator(), tb.addWidget(QLabel(" Algorithm "))]
        self.algo_box = AlgorithmBox()
        self.studio_tool_actions += [tb.addWidget(self.algo_box), tb.addSeparator()]
        self.train_btn = QPushButton(icon("train", "white"), "Train")
        self.train_btn.setObjectName("primary")
        self.train_btn.setToolTip(self.train_act.toolTip())
        self.train_btn.clicked.connect(self.train_act.trigger)
        self.studio_tool_actions.append(tb.addWidget(self.train_btn))
        tb.addAction(self.stop_act)
        self.studio_tool_actions.append(self.stop_act)
        self.addAction(self.train_act)  # keeps Ctrl+Enter alive though the action is not on the toolbar
        self.addAction(self.save_as_act)

    def _build_menus(self) -> None:
        menu = self.menuBar()
        fm = menu.addMenu("&File")
        for a in (self.new_act, self.open_act, self.save_act, self.save_as_act):
            fm.addAction(a)
        fm.addSeparator()
        self.import_model_act = fm.addAction("Import Model…", self.import_model)
        self.import_model_act.setToolTip("Add a model file meta-trained with `fewshot train` (one process or torchrun) to the library and use it")
        fm.addSeparator()
        fm.addAction("Quit", QKeySequence.StandardKey.Quit, self.close)
        self.editor.undo_action.setIcon(icon("undo"))
        self.editor.redo_action.setIcon(icon("redo"))
        em = menu.addMenu("&Edit")
        em.addAction(self.editor.undo_action)
        em.addAction(self.editor.redo_action)
        self.edit_menu = em
        tm = menu.addMenu("&Training")
        tm.addAction(self.train_act)
        tm.addAction(self.stop_act)
        vm = menu.addMenu("&View")
        vm.addAction(self.studio_view_act)
        vm.addAction(self.compare_view_act)
        vm.addSeparator()
        help_dialogs.add_theme_menu(vm, self.settings)
        self.shortcuts_act, self.how_to_act, self.about_act = help_dialogs.add_help_menu(
            menu, self, lambda: (self.engine.device_type, self.task_tab.device_box.currentText()))
