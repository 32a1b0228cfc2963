"""The Compare view's results table and chart do not mislead: Peak MB shows only a model's own
figure (on the CPU the process's peak is every model's together, so the column is not shown),
and the bar chart's axis starts at 0.

The view is built alone (no main window) over the starter models the package ships, tested as
they are on a few tiny built-in test episodes: nothing is trained."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QSettings, Qt
from PySide6.QtTest import QTest

from apphelpers import FakeDialogs
from test_app_rough_edges import _pump_until

TINY_TEST_SOURCE = {"kind": "builtin", "folder": "", "classes": 30, "test_classes": 12}


@pytest.fixture
def compare(qtbot, tmp_path):
    """A Compare view alone, at a laptop's size, with the shipped starter models (as the window
    wires them); messages land in `view.messages`."""
    import core

    if not {"protonet", "matching"} <= set(core.starter_models()):
        pytest.skip("the ProtoNet and Matching Networks starter models are not shipped")
    from app.compare_view import CompareView
    from app.library import DEFAULT_STARTERS, ModelLibrary
    from app.model import Project

    view = CompareView(Project(), QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat), dialogs=FakeDialogs())
    qtbot.addWidget(view)
    view.resize(1366, 768)
    view.show()
    view.set_core_ready()  # the engine is loaded (here on this thread: a test has no window to load it)
    view.library = ModelLibrary(tmp_path / "models", starter_folder=DEFAULT_STARTERS)
    view.setup.set_starters(view.library.starter_files())
    view.messages = []
    view.message.connect(lambda title, text: view.messages.append((title, text)))
    yield view
    _pump_until(lambda: view.session is None)


def _starter_mode(view) -> None:
    """Pick "Starter models (no training)" in the mode box, from the keyboard."""
    box = view.setup.mode_box
    box.setFocus()
    QTest.keyClick(box, Qt.Key.Key_Down)
    assert view.setup.starter_mode()


def _tick(view, qtbot, names) -> None:
    """Tick these algorithms (those not ticked yet), with a click on each one's tick box."""
    for name in names:
        box = view.setup.checks[name]
        if not box.isChecked():
            qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(7, box.height() // 2))
        assert box.isChecked()


def _run_starters(view, qtbot, names=("protonet", "matching"), source=TINY_TEST_SOURCE, episodes: int = 6) -> None:
    """Test the ticked starter models on a few tiny episodes (3-way 1-shot, 2 queries): Run, then
    wait, pumping events, until the comparison is on screen and its thread has ended."""
    view.setup.set_source(source)
    for key, value in {"n_way": 3, "k_shot": 1, "q_query": 2, "eval_episodes": episodes}.items():
        view.setup.spins[key].setValue(value)
    _tick(view, qtbot, names)
    ready = []
    view.comparisonReady.connect(lambda: ready.append(True))
    qtbot.mouseClick(view.setup.run_btn, Qt.MouseButton.LeftButton)
    _pump_until(lambda: ready and view.session is None)
    assert [r.status for r in view.comparison.results.values()] == ["done"] * len(names), view.messages


def test_peak_memory_shows_only_a_models_own_figure_and_the_chart_starts_at_zero(compare, qtbot):
    view = compare
    _starter_mode(view)
    _run_starters(view, qtbot)
    # Peak MB on the CPU would be the process's (the same for every model): the column is not shown.
    assert all(r.device == "cpu" for r in view.comparison.results.values())
    header = view.results.table.horizontalHeaderItem(6).text()
    assert header == "Peak MB" and view.results.table.isColumnHidden(6)
    # The bars start at 0: a bar's length is its accuracy.
    (x_min, x_max), _ = view.results.bars.getPlotItem().getViewBox().viewRange()
    assert x_min <= 0 and x_max >= 100
