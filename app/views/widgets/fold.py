"""Room for the upper pane of a vertical splitter: the tab widget under it folds to its tab bar."""
from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QSplitter, QTabWidget

NO_MAXIMUM = 16777215  # QWIDGETSIZE_MAX


class FoldingTabs(QObject):
    """While the upper pane of `split` shows something that needs height (`want_room(True)`) and
    is shorter than `wanted` pixels, the tab widget under it (`lower`) folds to its tab bar. Its
    tabs stay in view: clicking one (or another tab coming up) unfolds it to where it was, as
    `want_room(False)` does."""

    def __init__(self, split: QSplitter, lower: QTabWidget, wanted: int, parent: QObject | None = None):
        super().__init__(parent)
        self.split, self.lower, self.wanted = split, lower, wanted
        self._unfolded: list[int] | None = None  # the sizes to go back to while folded
        lower.tabBarClicked.connect(lambda _index: self.unfold())  # also the tab already current
        lower.currentChanged.connect(lambda _index: self.unfold())  # also by the keyboard, or the window

    @property
    def folded(self) -> bool:
        return self._unfolded is not None

    def want_room(self, on: bool) -> None:
        if not on:
            self.unfold()
        elif not self.folded and self.split.widget(0).height() < self.wanted:
            self.fold()

    def fold(self) -> None:
        sizes = self.split.sizes()
        bar = self.lower.tabBar().sizeHint().height()
        self._unfolded = sizes
        self.lower.setMaximumHeight(bar)
        self.split.setSizes([sum(sizes) - bar, bar])

    def unfold(self) -> None:
        if self._unfolded is not None:
            sizes, self._unfolded = self._unfolded, None
            self.lower.setMaximumHeight(NO_MAXIMUM)
            self.split.setSizes(sizes)
