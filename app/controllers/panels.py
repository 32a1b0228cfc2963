"""The views as the controllers see them: each Protocol names the few things a controller asks of
a panel, so no controller imports a view (the layers contract in pyproject.toml). The main window
passes the real panels (`app.views.studio.query_panel.QueryPanel`, `…training_panel.TrainingPanel`,
`app.views.compare.view.CompareView`); a test may pass anything with these members."""
from __future__ import annotations

from typing import Protocol

from PySide6.QtCore import SignalInstance


class QueryResults(Protocol):
    """The query set's panel: where classification results and the live drawing's answer show."""
    classifyRequested: SignalInstance  # the Classify button
    liveChanged: SignalInstance  # the live drawing changed

    def drawing(self) -> bytes | None:
        """The live drawing as a PNG; None while its canvas is blank."""

    def set_pending(self, ids: set[int]) -> None: ...

    def set_live(self, names: list[str] | None, probs: list[float] | None, note: str = "") -> None: ...

    def clear_results(self) -> None: ...


class TrainingCurves(Protocol):
    """The training panel: a live run's curves, or the training record of the model in use."""
    last: dict | None  # the live run's latest progress report

    def start(self, title: str, total_steps: int, validation: tuple[int, int, str, int] | None = None) -> None: ...

    def add(self, p: dict) -> None: ...

    def stop(self) -> None: ...

    def failed(self, title: str) -> None: ...

    def reset(self, title: str = "", detail: str = "") -> None: ...

    def show_record(self, record: dict, name: str, figure: str = "", own_validation: bool = False, note: str = "") -> None: ...


class SweepRun(Protocol):
    """A sweep of the Compare view, as closing the window asks about it."""
    last_progress: dict | None

    def is_running(self) -> bool: ...

    def stop_and_wait(self, timeout_ms: int = 1800) -> bool: ...


class CompareRuns(Protocol):
    """The Compare view, as closing the window asks about its comparison and its sweep."""
    sweep: SweepRun

    def is_running(self) -> bool: ...

    def stop_and_wait(self, timeout_ms: int = 1800) -> bool: ...

    def shutdown(self, timeout_ms: int = 1800) -> bool: ...
