"""The toolbar's algorithm picker: the engine's algorithms grouped by family (a bold,
unselectable header per family). Until the engine is loaded it says so and is disabled."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QComboBox, QStyle, QStyleOptionComboBox, QStylePainter, QWidget


class AlgorithmBox(QComboBox):
    picked = Signal(str)  # the person chose this algorithm (never emitted while showing the project's)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMinimumWidth(230)
        # As wide as the longest algorithm's name once the list arrives (the width Qt takes at the
        # first show is that of "Loading the engine…", which cut "Memory-Augmented Neural Net…").
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.model_ = QStandardItemModel(self)
        self.setModel(self.model_)
        self.model_.appendRow(QStandardItem("Loading the engine…"))
        self.setEnabled(False)
        self.currentIndexChanged.connect(self._row_picked)

    def list_algorithms(self) -> None:
        """List the engine's algorithms (once it is loaded) and enable the box."""
        import core

        self.blockSignals(True)
        self.model_.clear()
        for family, label in core.FAMILIES.items():
            members = [cls for cls in core.ALGORITHMS.values() if cls.family == family]
            if not members:
                continue
            head = QStandardItem(label)
            head.setFlags(Qt.ItemFlag.NoItemFlags)  # a group header: not selectable
            f = QFont()
            f.setBold(True)
            head.setFont(f)
            self.model_.appendRow(head)
            for cls in members:
                item = QStandardItem("    " + cls.title)
                item.setData(cls.name, Qt.ItemDataRole.UserRole)
                item.setToolTip(cls.paper)
                self.model_.appendRow(item)
        self.setEnabled(True)
        self.blockSignals(False)

    def paintEvent(self, event) -> None:
        # QComboBox's own painting, less the indent that sets the algorithms under their family
        # headers in the list: the closed box shows the name alone.
        p = QStylePainter(self)
        opt = QStyleOptionComboBox()
        self.initStyleOption(opt)
        opt.currentText = opt.currentText.strip()
        p.drawComplexControl(QStyle.ComplexControl.CC_ComboBox, opt)
        p.drawControl(QStyle.ControlElement.CE_ComboBoxLabel, opt)

    def row_of(self, name: str) -> int:
        """The row of algorithm `name`; -1 when the list has none (the engine not loaded, or unknown)."""
        for row in range(self.model_.rowCount()):
            if self.model_.item(row).data(Qt.ItemDataRole.UserRole) == name:
                return row
        return -1

    def show_algorithm(self, name: str) -> None:
        """Select `name` without emitting `picked`."""
        self.blockSignals(True)
        self.setCurrentIndex(self.row_of(name))
        self.blockSignals(False)

    def _row_picked(self, row: int) -> None:
        name = self.model_.item(row).data(Qt.ItemDataRole.UserRole) if row >= 0 else None
        if name:
            self.picked.emit(name)
