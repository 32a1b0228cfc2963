"""The Models tab: the model library's list (name, algorithm, source, N/K, accuracy — its measure
on hover —, steps, date) with Use / Rename / Delete / Import…; the starter models shipped with the app are listed
in italics (Delete hides them; Show starters brings them back). It shows the entries it is given and forwards what the
person asks for (`useRequested`, `renamed`, `deleteRequested`); the window decides what follows."""
from __future__ import annotations

from PySide6.QtCore import QEvent, QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QPushButton, QStyledItemDelegate, QToolTip, QTreeWidget,
                               QTreeWidgetItem, QVBoxLayout, QWidget)

from app.engine import workers
from app.model.library import accuracy_figure, accuracy_text

# "Accuracy", not "Val. acc.": a starter's figure is a test, a person's own model's its validation;
# the cell says which ("val." or not) and its tooltip the whole measure.
MODEL_COLUMNS = ["Name", "Algorithm", "Source", "N/K", "Accuracy", "Steps", "Date"]
ACCURACY_COLUMN = MODEL_COLUMNS.index("Accuracy")
NOTE_ROLE = Qt.ItemDataRole.UserRole + 2  # a row's sentence for its tooltip, after its columns (what a starter model is)


class WrappedTextDelegate(QStyledItemDelegate):
    """Row heights for text wrapped at its column's width: QTreeView sizes rows without the
    column width, so its word wrap never gets a second line."""

    def sizeHint(self, option, index) -> QSize:
        size = super().sizeHint(option, index)
        view = self.parent()
        width = max(20, view.header().sectionSize(index.column()) - 10)  # less the item's text margins
        font = index.data(Qt.ItemDataRole.FontRole) or option.font
        text_h = QFontMetrics(font).boundingRect(QRect(0, 0, width, 10_000), Qt.TextFlag.TextWordWrap, str(index.data() or "")).height()
        return QSize(size.width(), max(size.height(), text_h + 4))


class ModelTree(QTreeWidget):
    """The Models tab's list. The pane is narrow: the name (stretched, wrapped onto a second
    line when needed), accuracy, N/K and date always show in full; algorithm and
    source (the default name holds the algorithm too) show only when there is room for every
    column. Hovering a row shows all its columns (a cell with a tooltip of its own, such as the
    accuracy's measure, by that tooltip)."""

    OPTIONAL_COLUMNS = (1, 2)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWordWrap(True)
        self.setTextElideMode(Qt.TextElideMode.ElideNone)  # wrap a long name rather than cut it
        self.setUniformRowHeights(False)
        self.setItemDelegateForColumn(0, WrappedTextDelegate(self))
        self.model().rowsInserted.connect(lambda *_: QTimer.singleShot(0, self.fit_columns))
        # Row heights follow the name column's width (a wrapped name needs a second line).
        self.header().sectionResized.connect(lambda col, *_: col == 0 and self.scheduleDelayedItemsLayout())

    def resizeEvent(self, e) -> None:
        super().resizeEvent(e)
        self.fit_columns()

    def fit_columns(self) -> None:
        need = sum(max(self.sizeHintForColumn(c), self.header().sectionSizeHint(c)) for c in range(self.columnCount()))
        for c in self.OPTIONAL_COLUMNS:
            self.setColumnHidden(c, need > self.viewport().width())

    def viewportEvent(self, e) -> bool:
        if e.type() == QEvent.Type.ToolTip:
            item = self.itemAt(e.pos())
            if item is not None:
                head = self.headerItem()
                lines = [f"{head.text(c)}: {item.toolTip(c) or item.text(c)}" for c in range(self.columnCount())]
                note = item.data(0, NOTE_ROLE)
                QToolTip.showText(e.globalPos(), "\n".join(lines + ([note] if note else [])), self.viewport())
                return True
        return super().viewportEvent(e)


STARTER_ROLE = Qt.ItemDataRole.UserRole + 1  # a row's flag: a starter model shipped with the app


class ModelsTab(QWidget):
    """The Models tab's page: the list (`tree`) and its Use / Rename / Delete buttons."""

    useRequested = Signal(str)  # a model id: Use, or a double click outside the name
    deleteRequested = Signal(str)  # a model id
    renamed = Signal(str, str)  # a model id and the name typed into its row
    importRequested = Signal()  # Import…: add a checkpoint file trained elsewhere (`fewshot train`, torchrun)
    showStartersRequested = Signal()  # Show starters: the hidden starter models back in the list

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.tree = ModelTree()
        self.tree.setHeaderLabels(MODEL_COLUMNS)
        self.tree.setRootIsDecorated(False)
        # Name, accuracy, steps, N/K and date first; algorithm and source last (ModelTree hides them when narrow).
        hdr = self.tree.header()
        hdr.setStretchLastSection(False)
        fit, share = QHeaderView.ResizeMode.ResizeToContents, QHeaderView.ResizeMode.Stretch
        for col in range(len(MODEL_COLUMNS)):
            hdr.setSectionResizeMode(col, share if col == 0 else fit)
        hdr.setMinimumSectionSize(36)
        for visual, logical in enumerate((0, 4, 5, 3, 6, 1, 2)):
            hdr.moveSection(hdr.visualIndex(logical), visual)
        self.tree.setEditTriggers(QAbstractItemView.EditTrigger.EditKeyPressed | QAbstractItemView.EditTrigger.DoubleClicked)
        self.tree.itemChanged.connect(self._model_renamed)
        self.tree.itemDoubleClicked.connect(lambda item, col: col != 0 and self.useRequested.emit(item.data(0, Qt.ItemDataRole.UserRole)))
        use = QPushButton("Use")
        use.setToolTip("Classify with this model")
        use.clicked.connect(lambda: self._selected_model() and self.useRequested.emit(self._selected_model()))
        rename = self.rename_btn = QPushButton("Rename")
        rename.clicked.connect(lambda: self.tree.currentItem() and self.tree.editItem(self.tree.currentItem(), 0))
        delete = QPushButton("Delete")
        delete.clicked.connect(lambda: self._selected_model() and self.deleteRequested.emit(self._selected_model()))
        imp = QPushButton("Import…")
        imp.setToolTip("Add a model file meta-trained elsewhere: a checkpoint from `fewshot train`, in one process or under torchrun")
        imp.clicked.connect(self.importRequested)
        self.show_starters_btn = QPushButton("Show starters")
        self.show_starters_btn.setToolTip("Show the starter models you hid again")
        self.show_starters_btn.clicked.connect(self.showStartersRequested)
        self.show_starters_btn.setVisible(False)
        self.delete_btn = delete
        self.tree.currentItemChanged.connect(self._selection_changed)
        row = QHBoxLayout()
        for b in (use, rename, delete, imp, self.show_starters_btn):
            row.addWidget(b)
        row.addStretch(1)
        lay = QVBoxLayout(self)
        lay.addWidget(self.tree, 1)
        lay.addLayout(row)
        self._selection_changed(None)

    def show_entries(self, entries, current_id: str | None, hidden_starters: int = 0) -> None:
        """List the library's entries; the one in use (`current_id`) in bold, starter models in
        italics (not renamable; Delete hides them). `hidden_starters`: how many are hidden."""
        self.show_starters_btn.setVisible(hidden_starters > 0)
        self.show_starters_btn.setText(f"Show starters ({hidden_starters})")
        self.tree.blockSignals(True)
        self.tree.clear()
        for e in entries:
            steps = f"{e.steps} · stopped" if e.stopped else str(e.steps)
            item = QTreeWidgetItem([e.name, e.title or e.algorithm, e.source, f"{e.n_way}/{e.k_shot}", accuracy_figure(e), steps,
                                    e.date.replace("T", " ")[:16]])
            item.setToolTip(ACCURACY_COLUMN, accuracy_text(e))  # what the figure measured
            if e.stopped:
                item.setToolTip(5, f"Stopped at step {e.steps} of its run; validated quickly ({workers.STOPPED_VAL_EPISODES} episodes)")
            item.setData(0, Qt.ItemDataRole.UserRole, e.id)
            item.setData(0, STARTER_ROLE, e.starter)
            if e.starter:
                # shipped with the app: its figure is the test accuracy of `fewshot starter build`
                item.setData(0, NOTE_ROLE, "A starter model shipped with the app, meta-trained on Omniglot (MIT licence) by "
                                           "`fewshot starter build`. Hide takes it out of the list.")
            else:
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
            f = item.font(0)
            f.setBold(e.id == current_id)
            f.setItalic(e.starter)
            for c in range(len(MODEL_COLUMNS)):
                item.setFont(c, f)
            self.tree.addTopLevelItem(item)
        for c in range(1, len(MODEL_COLUMNS)):
            self.tree.resizeColumnToContents(c)
        self.tree.blockSignals(False)
        self._selection_changed(self.tree.currentItem())  # the refill changed the selection without a signal

    def _selection_changed(self, item: QTreeWidgetItem | None, _previous=None) -> None:
        """A starter model ships with the app: it keeps its name (Rename is off, and says why), and
        its Delete only hides it, and says so."""
        starter = item is not None and bool(item.data(0, STARTER_ROLE))
        self.rename_btn.setEnabled(item is not None and not starter)
        self.rename_btn.setToolTip("A starter model ships with the app and keeps its name" if starter
                                   else "Rename this model (or double-click its name)")
        self.delete_btn.setText("Hide" if starter else "Delete")
        self.delete_btn.setToolTip("Hide this starter model (it ships with the app; Show starters brings it back)" if starter
                                   else "Delete this model")

    def _selected_model(self) -> str | None:
        item = self.tree.currentItem()
        return item.data(0, Qt.ItemDataRole.UserRole) if item else None

    def _model_renamed(self, item: QTreeWidgetItem, column: int) -> None:
        if column == 0:
            self.renamed.emit(item.data(0, Qt.ItemDataRole.UserRole), item.text(0))
