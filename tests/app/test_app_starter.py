"""Starter models in the app (issue 19): listed at first launch and used at once, so a drawn query
is classified without meta-training; Delete hides them, Show starters brings them back; another
algorithm picks its own starter model unless the person trained one; Compare can test them as they
are. The starter folder here is made from small built-in models with a manifest written the way
`fewshot starter build` writes it; the last test uses the models the package really ships."""
from __future__ import annotations

import hashlib
import json
import time

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QMessageBox

from tests.app.apphelpers import (TINY_HPARAMS, fill_support, glyph_png, meta_trained_bytes, mouse_stroke, wait_for_results,
                                  write_starter_folder)





@pytest.fixture(scope="module")
def starter_folder(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("starters")
    return write_starter_folder(tmp / "starter", {"protonet": meta_trained_bytes(tmp, "protonet", TINY_HPARAMS, 15),
                                                  "matching": meta_trained_bytes(tmp, "matching", {"hidden": 16}, 5)})


def _rows(window) -> dict[str, object]:
    tree = window.models_tab.tree
    return {tree.topLevelItem(i).data(0, Qt.ItemDataRole.UserRole): tree.topLevelItem(i) for i in range(tree.topLevelItemCount())}


def test_first_launch_lists_the_starter_models_and_a_drawn_query_is_classified_without_training(make_window, starter_folder, qtbot):
    window = make_window(starters=starter_folder)
    rows = _rows(window)
    assert set(rows) == {"starter-protonet", "starter-matching"}
    assert rows["starter-protonet"].font(0).italic() and rows["starter-protonet"].font(0).bold()  # in use: the default algorithm's
    assert "97.5%" in rows["starter-protonet"].text(4)
    assert window.current_model().id == "starter-protonet" and window.library.path("starter-protonet").parent == starter_folder
    fill_support(window.project, n_classes=3, shots=1)
    t0 = time.perf_counter()
    mouse_stroke(window.query.draw.canvas, [(40, 40), (120, 120), (60, 140)])  # a real stroke on the query canvas
    qtbot.waitUntil(lambda: len(window.query.live_bars.probs) == 3, timeout=60_000)
    print(f"\nfirst prediction of a drawn query {1000 * (time.perf_counter() - t0):.0f} ms after the stroke (engine loaded, no training)")
    assert window.query.live_prediction.text().startswith("→ ")
    assert sum(window.query.live_bars.probs) == pytest.approx(1.0, abs=1e-5)
    assert window.session is None and [e for e in window.library.entries() if not e.starter] == []  # nothing was meta-trained


def test_delete_hides_a_starter_model_and_show_starters_brings_it_back(make_window, starter_folder, qtbot):
    window = make_window(starters=starter_folder, ask=lambda *a, **k: QMessageBox.StandardButton.Yes)
    tab = window.models_tab
    tab.tree.setCurrentItem(_rows(window)["starter-protonet"])
    assert tab.delete_btn.text() == "Hide"
    qtbot.mouseClick(tab.delete_btn, Qt.MouseButton.LeftButton)
    assert window.dialogs.asked and window.dialogs.asked[-1][0] == "Hide starter model"
    assert set(_rows(window)) == {"starter-matching"} and (starter_folder / "protonet.pt").is_file()  # hidden, not deleted
    assert window.current_model() is None  # hidden is out of use too: Classify offers training, as with no model
    assert tab.show_starters_btn.isVisibleTo(tab) and tab.show_starters_btn.text() == "Show starters (1)"
    again = make_window(starters=starter_folder)  # the next launch remembers
    assert set(_rows(again)) == {"starter-matching"}
    qtbot.mouseClick(again.models_tab.show_starters_btn, Qt.MouseButton.LeftButton)
    assert set(_rows(again)) == {"starter-protonet", "starter-matching"} and not again.models_tab.show_starters_btn.isVisibleTo(again.models_tab)
    assert again.current_model().id == "starter-protonet"


def test_another_algorithm_uses_its_starter_model_unless_the_person_trained_one(make_window, starter_folder, tmp_path):
    window = make_window(starters=starter_folder)
    window.algo_box.setCurrentIndex(window.algo_box.row_of("matching"))
    assert window.current_model().id == "starter-matching"
    window.algo_box.setCurrentIndex(window.algo_box.row_of("maml"))  # none shipped here: no model, as before
    assert window.current_model() is None
    own = window.library.import_bytes(meta_trained_bytes(tmp_path, "matching", {"hidden": 16}, 3), algorithm="matching",
                                      title="Matching Networks", source="Built-in characters", n_way=3, k_shot=1, val_accuracy=0.4, steps=3)
    window.algo_box.setCurrentIndex(window.algo_box.row_of("matching"))
    assert window.current_model().id == own.id  # the person's own model comes first, whatever its accuracy


def test_picking_another_algorithm_classifies_the_queries_with_its_starter_model_at_once(make_window, starter_folder, qtbot):
    window = make_window(starters=starter_folder)
    fill_support(window.project, n_classes=3, shots=1)
    window.project.add_queries([glyph_png(k, 7) for k in range(3)])
    wait_for_results(window, qtbot)  # the default algorithm's starter model, with no Classify click
    window.algo_box.setCurrentIndex(window.algo_box.row_of("matching"))
    assert window.current_model().id == "starter-matching"
    assert [k for k, row in _rows(window).items() if row.font(0).bold()] == ["starter-matching"]  # the Models tab shows which is in use
    assert not any(s.id in window.project.predictions for s in window.project.queries)  # no answer of the previous model stays
    rows = wait_for_results(window, qtbot)  # and the new model's answers come without a click
    assert all(r.prediction.text().startswith("→ ") for r in rows)
    window.editor.undo_action.trigger()  # undoing the pick brings ProtoNet's model back, and its answers
    assert window.current_model().id == "starter-protonet"
    wait_for_results(window, qtbot)


def _with_handwriting_model(folder, data: bytes):
    """The starter folder plus a handwriting model (Lake's protocol) in the manifest, as `fewshot
    starter build --only handwriting` writes it."""
    (folder / "handwriting.pt").write_bytes(data)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["models"]["handwriting"] = {
        "file": "handwriting.pt", "algorithm": "protonet", "title": "Prototypical Networks", "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(), "steps": 15, "built": "2026-12-07T12:00:00", "settings": {},
        "role": "handwriting", "test_split": "evaluation",
        "accuracy": {"5": {"mean": 99.1, "ci95": 0.2, "episodes": 600}, "20": {"mean": 96.9, "ci95": 0.2, "episodes": 600}},
        "lake": {"correct": 387, "total": 400, "accuracy": 96.75, "runs": 20, "ci95": [94.5, 98.1]}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def test_the_handwriting_model_is_protonets_default_and_shows_its_figure_on_lakes_runs(starter_folder, tmp_path):
    """The library alone (no window): with a handwriting model shipped, picking ProtoNet uses it; Compare
    still gets ProtoNet's own starter (trained on the same split as the others); hiding the
    handwriting model falls back to that starter."""
    from app.model.library import ModelLibrary, accuracy_text

    folder = tmp_path / "starter"
    folder.mkdir()
    for f in starter_folder.iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    _with_handwriting_model(folder, (starter_folder / "protonet.pt").read_bytes())
    library = ModelLibrary(tmp_path / "models", starter_folder=folder)
    chosen = library.latest_for("protonet")
    assert chosen.id == "starter-handwriting" and chosen.role == "handwriting" and chosen.algorithm == "protonet"
    assert accuracy_text(chosen) == "Lake's 20 runs: 96.75% (387 / 400)"
    assert "handwriting model" in chosen.name
    assert accuracy_text(library.get("starter-protonet")) == "97.5% · 5-way 1-shot · Omniglot test · 600 episodes"
    assert library.starter_files()["protonet"] == str(folder / "protonet.pt")
    library.hide("starter-handwriting")
    assert library.latest_for("protonet").id == "starter-protonet"


def test_the_status_bar_and_models_tab_name_the_handwriting_models_measure(make_window, starter_folder, tmp_path):
    folder = tmp_path / "starter"
    folder.mkdir()
    for f in starter_folder.iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    # another file than ProtoNet's own starter (the library takes equal bytes as one model)
    _with_handwriting_model(folder, meta_trained_bytes(tmp_path, "protonet", TINY_HPARAMS, 4))
    window = make_window(starters=folder)
    assert window.current_model().id == "starter-handwriting"
    row = _rows(window)["starter-handwriting"]
    assert row.font(0).bold() and "Lake's 20 runs: 96.75% (387 / 400)" in row.toolTip(4)
    assert "Lake's 20 runs: 96.75% (387 / 400)" in window.model_label.text()


def test_a_starter_file_that_does_not_match_its_manifest_is_left_out(make_window, starter_folder, tmp_path):
    folder = write_starter_folder(tmp_path / "bad", {"protonet": (starter_folder / "protonet.pt").read_bytes()})
    with open(folder / "protonet.pt", "r+b") as f:
        f.seek(100)
        f.write(b"\0\0\0\0")  # damaged after the manifest was written
    window = make_window(starters=folder)
    assert _rows(window) == {} and window.current_model() is None


def test_compare_tests_the_starter_models_without_training(make_window, starter_folder, qtbot):
    window = make_window(starters=starter_folder)
    window.compare_view_act.trigger()
    setup = window.compare.setup
    setup.set_source({"kind": "builtin", "folder": "", "classes": 30, "test_classes": 12})
    for key, value in {"n_way": 3, "k_shot": 1, "q_query": 2, "eval_episodes": 6}.items():
        setup.spins[key].setValue(value)
    assert setup.mode_box.currentData() == "train"  # racing from scratch stays the default
    setup.mode_box.setCurrentIndex(setup.mode_box.findData("starter"))
    assert {n for n, cb in setup.checks.items() if cb.isEnabled()} == {"protonet", "matching"}
    assert not setup.spins["steps_each"].isEnabled() and setup.source_title.text() == "Test on"
    for name in ("protonet", "matching"):
        box = setup.checks[name]
        qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(7, box.height() // 2))
    events = []
    with qtbot.waitSignal(window.compare.comparisonReady, timeout=60_000):
        qtbot.mouseClick(setup.run_btn, Qt.MouseButton.LeftButton)
        window.compare.session.event.connect(lambda ev: events.append(ev["kind"]))
    comp = window.compare.comparison
    assert [r.status for r in comp.results.values()] == ["done", "done"] and "progress" not in events
    assert {r.steps for r in comp.results.values()} == {15, 5} and all(len(r.per_episode) == 6 for r in comp.results.values())
    assert comp.config.models == {n: str(starter_folder / f"{n}.pt") for n in ("protonet", "matching")}
    assert window.compare.results.table.rowCount() == 2
    print("\nrecorded source:", comp.config.source)
    assert ": test " in comp.config.source and "train " not in comp.config.source  # nothing trains: no training source opened


def test_the_shipped_protonet_starter_classifies_a_drawn_query_at_first_launch(make_window, qtbot):
    """The package's own starter models, as a new user gets them (the default algorithm's: the
    handwriting model where one ships, else ProtoNet's starter)."""
    import core

    shipped = core.starter_models()
    if "protonet" not in shipped:
        pytest.skip("no ProtoNet starter model is shipped")
    from app.model.library import DEFAULT_STARTERS

    window = make_window(starters=DEFAULT_STARTERS)
    assert window.current_model().id == ("starter-handwriting" if "handwriting" in shipped else "starter-protonet")
    fill_support(window.project, n_classes=5, shots=1)
    t0 = time.perf_counter()
    mouse_stroke(window.query.draw.canvas, [(40, 40), (120, 120), (60, 140)])
    qtbot.waitUntil(lambda: len(window.query.live_bars.probs) == 5, timeout=60_000)
    print(f"\nshipped starter {window.current_model().id}: first prediction {1000 * (time.perf_counter() - t0):.0f} ms after the stroke; "
          f"the test process (the app, its model and pytest) {_resident_mib()} MiB resident")
    assert window.query.live_prediction.text().startswith("→ ")


def _resident_mib() -> str:
    """This process's resident memory now (Linux VmRSS), for the printout; "?" elsewhere."""
    try:
        with open("/proc/self/status") as fh:
            return next(f"{int(line.split()[1]) / 1024:.0f}" for line in fh if line.startswith("VmRSS:"))
    except (OSError, StopIteration):
        return "?"
