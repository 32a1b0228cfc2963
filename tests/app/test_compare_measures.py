"""The Compare view's figures say what they measured, and what they are next to the models' own:
every test accuracy names its ways × shots, data and episodes (table, chart, matrix, CSV, PNG);
starter mode says plainly when the test data is unlike what the starter models learned from and
offers an Omniglot folder, refusing one that is not in Omniglot's layout; the starter models'
own training records are drawn (or, with none, no empty plots); Peak MB shows only a model's own
figure; the bar chart's axis starts at 0.

The view is built alone (no main window) over the starter models the package ships, tested as
they are on a few tiny built-in test episodes: nothing is trained."""
from __future__ import annotations

import csv

import pytest
from PySide6.QtCore import QPoint, QSettings, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLabel, QPushButton

from tests.app.apphelpers import TINY_HPARAMS, FakeDialogs, pump_until, write_starter_folder

TINY_TEST_SOURCE = {"kind": "builtin", "folder": "", "classes": 30, "test_classes": 12}
TINY_MEASURE = "3-way 1-shot · built-in characters · 6 episodes"


@pytest.fixture
def compare(qtbot, tmp_path):
    """A Compare view alone, at a laptop's size, with the shipped starter models and their library
    entries (as the window wires them); messages land in `view.messages`."""
    import core

    if not {"protonet", "matching"} <= set(core.starter_models()):
        pytest.skip("the ProtoNet and Matching Networks starter models are not shipped")
    from app.model import EngineState, Project
    from app.model.library import DEFAULT_STARTERS, ModelLibrary
    from app.views.compare.view import CompareView

    engine = EngineState()
    view = CompareView(Project(), engine, QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat), dialogs=FakeDialogs())
    qtbot.addWidget(view)
    view.resize(1366, 768)
    view.show()
    engine.set_ready("cpu")  # the engine is loaded (here on this thread: a test has no window to load it)
    view.library = ModelLibrary(tmp_path / "models", starter_folder=DEFAULT_STARTERS)
    view.setup.set_starters(view.library.starter_files(), view.library.find_by_path)
    view.messages = []
    view.message.connect(lambda title, text: view.messages.append((title, text)))
    yield view
    pump_until(lambda: view.session is None)


def _starter_mode(view) -> None:
    """Pick "Starter models (no training)" in the mode box, from the keyboard."""
    box = view.setup.mode_box
    box.setFocus()
    QTest.keyClick(box, Qt.Key.Key_Down)
    assert view.setup.value.starter


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
    pump_until(lambda: ready and view.session is None)
    assert [r.status for r in view.comparison.results.values()] == ["done"] * len(names), view.messages


def _shown_text(widget) -> str:
    """Every line of text the widget shows now (its visible labels), one a line."""
    return "\n".join(lab.text() for lab in widget.findChildren(QLabel) if lab.isVisibleTo(widget) and lab.text())


def _button(widget, text: str) -> QPushButton:
    [button] = [b for b in widget.findChildren(QPushButton) if b.text() == text and b.isVisibleTo(widget)]
    return button


def _drawn(item) -> int:
    """How many points a plot item draws."""
    y = item.getData()[1]
    return 0 if y is None else len(y)


def _accuracy_cells(view) -> dict[str, object]:
    t = view.results.table
    return {t.item(row, 0).data(Qt.ItemDataRole.UserRole): t.item(row, 1) for row in range(t.rowCount())}


def test_every_test_accuracy_names_its_measure_on_screen_and_in_the_exports(compare, qtbot, tmp_path):
    from app.model.library import accuracy_text

    view = compare
    _starter_mode(view)
    _run_starters(view, qtbot)
    results = view.results
    # Above the table, under the chart's title and in the matrix's note: ways × shots, data, episodes.
    shown = _shown_text(results)
    assert f"Test accuracy %, mean ± 95% CI · {TINY_MEASURE}" in shown and f"Pairwise ({TINY_MEASURE})" in shown
    title = results.bars.getPlotItem().titleLabel.text
    assert "3-way 1-shot · 6 episodes" in title and "built-in characters" in title
    # Each figure's tooltip says it with its measure, then the starter model's own figure, word for
    # word as the Models tab and the status bar say it.
    for name, cell in _accuracy_cells(view).items():
        assert cell.toolTip().startswith(f"{cell.text()} · {TINY_MEASURE}")
        own = accuracy_text(view.library.get(f"starter-{name}"))
        assert f"Its own figure: {own}" in cell.toolTip() and "a different measure" in cell.toolTip()
    # The CSV: every row names the measure of its accuracy.
    view.dialogs.paths = [str(tmp_path / "c")]
    qtbot.mouseClick(view.files.csv_btn, Qt.MouseButton.LeftButton)
    with open(tmp_path / "c.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["measure"] for r in rows] == [TINY_MEASURE] * 2 and all(r["accuracy"] for r in rows)
    # The PNG holds the results as the screen shows them, the measure's line above the table included.
    image = view.files.image()
    assert image.height() >= results.height() + view.curve_panel.plots_widget.height()
    assert results.measure_note.isVisibleTo(results) and results.measure_note.geometry().bottom() < results.table.geometry().top()


def test_starter_mode_says_when_the_test_data_is_unlike_what_the_models_learned_and_offers_omniglot(compare, qtbot, tmp_path):
    from app.model.library import accuracy_text

    view, setup = compare, compare.setup
    unlike = "not the Omniglot handwriting the starter models learned from"
    assert unlike not in _shown_text(setup)  # racing from scratch: nothing to compare with
    _starter_mode(view)
    protonet_figure = accuracy_text(view.library.get("starter-protonet"))
    note = _shown_text(setup)
    assert f"Testing on the built-in characters: {unlike}, so they score lower here than their own figures" in note
    _tick(view, qtbot, ["protonet"])
    assert f"Prototypical Networks: {protonet_figure}" in _shown_text(setup)  # a ticked model's own figure, as the Models tab says it

    # A folder that is not Omniglot's layout is refused at once, saying what the layout is.
    view.dialogs.paths = [str(tmp_path)]
    qtbot.mouseClick(_button(setup, "Test on Omniglot: choose its folder…"), Qt.MouseButton.LeftButton)
    assert view.dialogs.path_titles == ["Choose the Omniglot folder"]
    [(title, text)] = view.messages
    assert title == "Not an Omniglot folder" and "images_background" in text and "built-in characters" in text
    assert setup.value.source["kind"] == "builtin" and setup.source_box.currentData() == "builtin"

    # An Omniglot folder: the note says it is what they learned from, and the button goes.
    root = tmp_path / "omniglot"
    (root / "omniglot-py" / "images_evaluation" / "Alphabet" / "character01").mkdir(parents=True)
    view.dialogs.paths = [str(root)]
    qtbot.mouseClick(_button(setup, "Test on Omniglot: choose its folder…"), Qt.MouseButton.LeftButton)
    assert setup.value.source == {"kind": "omniglot", "folder": str(root)} and setup.source_box.currentData() == "omniglot"
    note = _shown_text(setup)
    assert "the kind of data the starter models learned from" in note and protonet_figure in note and unlike not in note
    assert not setup.omniglot_btn.isVisibleTo(setup) and len(view.messages) == 1

    # Back on the built-in characters, the results say it too, with the models' own figures.
    setup.source_box.setFocus()
    QTest.keyClick(setup.source_box, Qt.Key.Key_Up)  # Omniglot folder… → Built-in characters
    assert setup.value.source["kind"] == "builtin"
    _run_starters(view, qtbot)  # ProtoNet, ticked above, and Matching Networks
    shown = _shown_text(view.results)
    assert "These starter models learned from Omniglot; the test data here, built-in characters, is another kind of data" in shown
    for name in ("protonet", "matching"):
        entry = view.library.get(f"starter-{name}")
        assert entry.measure in shown and f"{name} {entry.val_accuracy:.1%}" in shown


def test_starter_models_show_their_own_training_records(compare, qtbot):
    from core.checkpoint import read_checkpoint

    view = compare
    _starter_mode(view)
    _run_starters(view, qtbot)
    panel = view.curve_panel
    for name in ("protonet", "matching"):
        history = read_checkpoint(view.setup.starters[name])["trainer"]["history"]
        loss, acc, val = (_drawn(panel.curves[name].items[i]) for i in range(3))
        assert loss == acc == len(history["loss"]) > 0  # every step of its own run
        assert val == len(history["val_accuracy"])
    assert panel.plots_widget.isVisibleTo(view) and not panel.no_records.isVisibleTo(view)
    # The validation plot names what it measured: ProtoNet's starter validated 20-way (Matching kept none).
    protonet = read_checkpoint(view.setup.starters["protonet"])["trainer"]["config"]
    assert f"{protonet['n_way']}-way 1-shot · {protonet['val_episodes']} episodes" in panel.plots[2].titleLabel.text


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


def test_models_without_a_training_record_show_no_empty_plots_on_screen_or_in_the_png(qtbot, tmp_path, compare):
    """A model trained elsewhere that kept no record of its training (its checkpoint's history
    empty): a line says so where the plots were, and the exported picture has no plots."""
    import core

    from app.model.library import ModelLibrary

    trainer = core.Trainer(core.TrainConfig(algorithm="protonet", hparams=TINY_HPARAMS, n_way=3, k_shot=1, q_query=3, steps=2,
                                            val_episodes=0, device="cpu"), core.builtin(n_classes=30, first_class=0))
    for _ in trainer.run():
        pass
    state = trainer.trainer_state(0.0)
    state["history"] = {}
    core.save_checkpoint(tmp_path / "bare.pt", trainer.learner, state, extra={})
    folder = write_starter_folder(tmp_path / "starters", {"protonet": (tmp_path / "bare.pt").read_bytes()})
    view = compare
    library = ModelLibrary(tmp_path / "bare-models", starter_folder=folder)
    view.setup.set_starters(library.starter_files(), library.find_by_path)
    _starter_mode(view)
    _run_starters(view, qtbot, names=("protonet",))
    panel = view.curve_panel
    assert not panel.plots_widget.isVisibleTo(view)
    assert "these models were tested as they are, and none brought a record of its training" in _shown_text(panel)
    assert view.files.image().height() < view.results.height() + panel.plots_widget.minimumHeight()


@pytest.mark.slow
def test_a_starter_tested_on_its_own_measure_shows_its_own_figure(compare, qtbot, omniglot_root):
    """Tested on Omniglot's test split, 5-way 1-shot over the 600 fixed episodes (the test its own
    figure came from), a starter model reads the same measure and the same figure in Compare as
    in the Models tab and the status bar. Decoding Omniglot and 600 episodes: a minute or more."""
    from app.model.library import accuracy_figure

    view = compare
    _starter_mode(view)
    view.setup.set_source({"kind": "omniglot", "folder": str(omniglot_root)})
    for key, value in {"n_way": 5, "k_shot": 1, "q_query": 15, "eval_episodes": 600}.items():
        view.setup.spins[key].setValue(value)
    _tick(view, qtbot, ["protonet"])
    ready = []
    view.comparisonReady.connect(lambda: ready.append(True))
    qtbot.mouseClick(view.setup.run_btn, Qt.MouseButton.LeftButton)
    pump_until(lambda: ready and view.session is None, timeout_s=900)
    entry = view.library.get("starter-protonet")
    [(name, cell)] = _accuracy_cells(view).items()
    assert entry.measure == "5-way 1-shot · Omniglot test · 600 episodes"
    assert cell.toolTip().startswith(f"{cell.text()} · {entry.measure}") and "the same measure" in cell.toolTip()
    assert f"{view.comparison.results[name].mean:.1%}" == accuracy_figure(entry)
    assert "learned from" not in _shown_text(view.results)  # the data they learned from: nothing to warn of
