"""Showing an episode's picture (`app.engine.episode_picture.draw_episode`, drawn on a worker or
the job thread): a scroll area at the picture's own size, and the one-at-a-time drawing jobs
behind it (the Episodes tab and the Compare view's test episodes both use them)."""
from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QLabel, QScrollArea, QWidget


class EpisodeGrid(QScrollArea):
    """Shows a drawn episode (a QImage) at its own size, scrolling when larger than the view."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.picture = QLabel()
        self.picture.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.setWidget(self.picture)
        self.setWidgetResizable(True)
        self.image: QImage | None = None

    def show_image(self, image: QImage | None, text: str = "") -> None:
        from PySide6.QtGui import QPixmap

        self.image = image
        if image is None:
            self.picture.setPixmap(QPixmap())
            self.picture.setText(text)
        else:
            self.picture.setPixmap(QPixmap.fromImage(image))


class LatestJob:
    """Runs drawing jobs on the job thread one at a time; a job asked for while another runs
    replaces any job still waiting, and a result is shown only when no newer job waits: stepping
    quickly through episodes draws the last one asked for, not each on the way."""

    def __init__(self, owner: QWidget, on_done: Callable[[Any], None], on_failed: Callable[[Exception], None]):
        self.owner, self.on_done, self.on_failed = owner, on_done, on_failed
        self.busy = False
        self.wanted: Callable[[], Any] | None = None

    def ask(self, fn: Callable[[], Any]) -> None:
        self.wanted = fn
        if not self.busy:
            self._next()

    def _next(self) -> None:
        from app.engine import jobs

        fn, self.wanted = self.wanted, None
        if fn is None:
            return
        self.busy = True

        def done(value: Any) -> None:
            self.busy = False
            if self.wanted is None:  # a newer one is drawn next: this one would only flash by
                self.on_done(value)
            self._next()

        def failed(exc: Exception) -> None:
            self.busy = False
            self.on_failed(exc)
            self._next()

        jobs.run_job(fn, done, failed, owner=self.owner.window())  # a result after the window closed is dropped
