"""The Compare pages on their own, each with a stand-in for the Compare view that has only the
members `app.views.compare.host.CompareHost` names: the export draws the picture from what the
host hands it, the sweep runs the host's models and keeps the host's Run refused meanwhile, and
the real CompareView has every member the pages may use."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QColor, QPixmap

from tests.app.apphelpers import TINY_COMPARE_SOURCE


class FakeHost(QObject):
    """A CompareHost with no widgets: what the pages ask of it is recorded."""
    message = Signal(str, str)
    status = Signal(str)

    def __init__(self, models: dict[str, bytes] | None = None, running: bool = False):
        super().__init__()
        from app.controllers.dialogs import Dialogs
        from app.model import EngineState, Project
        from app.model.compare import CompareSetup

        self.project, self.engine = Project(), EngineState()
        self.engine.set_ready("cpu")
        self.settings, self.dialogs = None, Dialogs()
        self.comparison, self.models = None, dict(models or {})
        self.running = running
        self.setup = CompareSetup(source=TINY_COMPARE_SOURCE)
        self.run_allowed: list[bool] = []
        self.progress: list[str] = []
        self.messages: list[tuple[str, str]] = []
        self.message.connect(lambda title, text: self.messages.append((title, text)))
        self.parts = None

    def is_running(self) -> bool:
        return self.running

    def trained_names(self) -> list[str]:
        return list(self.models)

    def compared_models(self) -> dict:
        return {"comparison": self.comparison, "models": self.models}

    def current_setup(self):
        return self.setup

    def set_run_enabled(self, on: bool) -> None:
        self.run_allowed.append(on)

    def say_progress(self, text: str) -> None:
        self.progress.append(text)

    def show_comparison(self, comp, models=None, store=False, source=None) -> None:
        self.comparison = comp

    def picture_parts(self):
        return self.parts

    def palette(self):
        from PySide6.QtWidgets import QApplication

        return QApplication.palette()

    def font(self):
        from PySide6.QtWidgets import QApplication

        return QApplication.font()


def _host_members() -> set[str]:
    from app.views.compare.host import CompareHost

    return {n for n in vars(CompareHost) if not n.startswith("_")} | set(CompareHost.__annotations__)


def test_the_compare_view_and_the_stand_in_have_every_member_the_pages_may_use(qapp):
    from app.model import EngineState, Project
    from app.views.compare.view import CompareView

    view = CompareView(Project(), EngineState())  # the engine not loaded: nothing of core's is needed
    members = _host_members()
    assert {"project", "engine", "comparison", "current_setup", "is_running", "message", "set_run_enabled",
            "say_progress", "picture_parts"} <= members
    assert [m for m in sorted(members) if not hasattr(view, m)] == []
    assert [m for m in sorted(members) if not hasattr(FakeHost(), m)] == []
    view.say_progress("Opened a.json")
    view.set_run_enabled(False)
    assert view.current_setup() is view.setup.value and view.compared_models() == {"comparison": None, "models": {}}
    assert view.picture_parts().legend == [] and len(view.picture_parts().pictures) >= 1


def test_the_exported_picture_is_the_hosts_legend_measures_and_parts_top_to_bottom(qapp):
    from app.views.compare.export import CompareFiles
    from app.views.compare.host import PictureParts

    host = FakeHost()
    files = CompareFiles(host)
    plots, results = QPixmap(300, 120), QPixmap(240, 80)
    plots.fill(QColor("white"))
    results.fill(QColor("white"))
    host.parts = PictureParts([("Prototypical Networks", QColor("red"))], "", [plots, results])
    plain = files.image()
    assert plain.width() == 300 * plain.devicePixelRatio() and plain.height() > (120 + 80) * plain.devicePixelRatio()
    host.parts = PictureParts([("Prototypical Networks", QColor("red"))], "Validation: each model's own", [plots, results])
    assert files.image().height() > plain.height()  # the measures line says whose is which
    assert files.export_csv("/nowhere/x.csv") == [] and host.messages == [("Nothing to export", "Run a comparison (or open one) first.")]


def test_opening_a_comparison_is_refused_while_one_runs(qapp, tmp_path):
    from app.views.compare.export import CompareFiles

    host = FakeHost(running=True)
    assert CompareFiles(host).open_json(str(tmp_path / "c.json")) is False and host.comparison is None and host.progress == []


@pytest.fixture
def sweep_page(qtbot, tiny_checkpoint):
    import core

    from app.views.compare.sweep import SweepPage

    for name in core.__all__:  # the engine loaded on this thread first, as the window's job thread does
        getattr(core, name)
    host = FakeHost({"protonet": tiny_checkpoint})
    page = SweepPage(host)
    qtbot.addWidget(page)
    return host, page


def test_a_sweep_runs_the_hosts_models_keeps_its_run_refused_meanwhile_and_goes_into_its_project(sweep_page, qtbot):
    host, page = sweep_page
    page.shots_edit.setText("1, 2")
    page.ways_edit.setText("2, 3")
    page.episodes_box.setValue(2)
    page.queries_box.setValue(1)
    with qtbot.waitSignal(page.ended, timeout=120_000):
        assert page.run()
        assert host.run_allowed == [False] and page.is_running()
    assert host.run_allowed == [False, True] and not page.is_running()
    assert host.messages == []
    result = host.project.sweep
    assert sorted({(p["n_way"], p["k_shot"]) for p in result["points"]}) == [(2, 1), (2, 2), (3, 1), (3, 2)]
    assert page.summary().startswith("4 of 4 points measured")


def test_a_sweep_with_nothing_to_sweep_or_while_a_comparison_runs_does_not_start(qtbot, qapp):
    from app.views.compare.sweep import SweepPage

    host = FakeHost()
    page = SweepPage(host)
    qtbot.addWidget(page)
    got = []
    page.message.connect(lambda title, text: got.append(title))
    assert not page.run() and got == ["Nothing to sweep"]
    host.running = True
    assert not page.run() and got == ["Nothing to sweep"] and host.run_allowed == []  # refused without a word: Run is off then
