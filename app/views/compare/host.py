"""The Compare view as its pages see it: `CompareHost` names the few members the pages (export,
test episodes, my queries and their side-by-side explanations, the sweep) use, so no page reaches
into the view or into another part's widgets. `view.CompareView` is the host; a test may pass
anything with these members."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from PySide6.QtCore import QSettings, SignalInstance
from PySide6.QtGui import QColor, QFont, QPalette, QPixmap

from app.controllers.dialogs import Dialogs
from app.model import EngineState, Project
from app.model.compare import CompareSetup

if TYPE_CHECKING:
    import core


@dataclass(frozen=True)
class PictureParts:
    """What the view's PNG export is made of, drawn as the view shows it now."""
    legend: list[tuple[str, QColor]]  # (title, colour) of each algorithm whose curves are shown
    measures: str  # what the plots measured, where their titles can only say "each model's own" ("" without plots)
    pictures: list[QPixmap]  # top to bottom: the plots (while shown) and the results


class CompareHost(Protocol):
    project: Project  # the Studio's support and query sets; where a finished sweep is kept
    engine: EngineState
    settings: QSettings | None  # remembers the export folder
    dialogs: Dialogs  # asks for file names
    comparison: core.Comparison | None  # the comparison on screen (its models in memory when run here)
    models: dict[str, bytes]  # its models as checkpoint bytes (what the project file keeps)
    message: SignalInstance  # (title, text): shown by the window
    status: SignalInstance  # a status-bar line

    def is_running(self) -> bool:
        """Whether a comparison runs now (its models are not ready yet)."""

    def trained_names(self) -> list[str]:
        """The algorithms whose trained model is at hand."""

    def compared_models(self) -> dict[str, Any]:
        """What a job-thread function needs to use the comparison's models: {"comparison", "models"}."""

    def current_setup(self) -> CompareSetup:
        """The setup the form shows now (its source is where test episodes come from)."""

    def set_run_enabled(self, on: bool) -> None:
        """Allow or refuse a comparison run (a sweep uses the comparison's models meanwhile)."""

    def say_progress(self, text: str) -> None:
        """The line under the Run button: what the comparison on screen is, or what it does."""

    def show_comparison(self, comp: core.Comparison, models: dict[str, bytes] | None = None, store: bool = False,
                        source: dict | None = None) -> None: ...

    def picture_parts(self) -> PictureParts: ...

    def palette(self) -> QPalette: ...

    def font(self) -> QFont: ...
