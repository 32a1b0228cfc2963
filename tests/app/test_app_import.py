"""Import Model…: a checkpoint meta-trained outside the app — by `fewshot train`, in one process or
under torchrun on several — joins the model library and classifies, driven through the Models tab."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton

from tests.app.apphelpers import fill_support, glyph_png, wait_for_results

REPO = Path(__file__).resolve().parents[2]


def _import_button(window) -> QPushButton:
    return next(b for b in window.models_tab.findChildren(QPushButton) if b.text() == "Import…")


def test_a_model_meta_trained_with_torchrun_is_imported_from_the_models_tab_and_classifies(make_window, tmp_path, qtbot):
    ckpt = tmp_path / "proto_2ranks.pt"
    # two ranks (Gloo, one thread each) meta-train a small ProtoNet, as `torchrun -m core train` does on a cluster
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                          "-m", "core", "train", "-a", "protonet", "--train-way", "10", "--train-query", "3", "--steps", "3",
                          "--val-every", "3", "--val-episodes", "4", "--device", "cpu", "--out", str(ckpt)],
                         cwd=REPO, env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-8000:]  # a rank's own traceback comes before torchrun's summary
    window = make_window()
    window.dialogs.paths = [str(ckpt)]  # the file the person picks in the Import dialog
    window.show_view("studio")
    window.tabs.setCurrentWidget(window.models_tab)  # the Models tab, where the person clicks Import…
    qtbot.mouseClick(_import_button(window), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.current_model() is not None, timeout=60_000)
    entry = window.current_model()
    assert entry.name == "Prototypical Networks (proto_2ranks.pt)"
    assert entry.algorithm == "protonet" and entry.steps == 3 and entry.val_accuracy is not None
    assert "built-in" in entry.source.lower()
    assert window.dialogs.path_titles == ["Import a model"] and not window.dialogs.messages
    fill_support(window.project, n_classes=3, shots=2)
    window.project.add_queries([glyph_png(k, 7) for k in range(3)])
    window.classify()
    rows = wait_for_results(window, qtbot)
    assert len(rows) == 3 and all(abs(sum(r.bars.probs) - 1.0) < 1e-4 for r in rows)


def test_a_damaged_model_file_is_refused_with_a_message_and_changes_nothing(window, tiny_checkpoint, tmp_path, qtbot):
    bad = tmp_path / "half.pt"
    bad.write_bytes(tiny_checkpoint[: len(tiny_checkpoint) // 2])  # a copy cut short
    window.dialogs.paths = [str(bad)]
    window.tabs.setCurrentWidget(window.models_tab)
    before = [e.id for e in window.library.entries()]
    qtbot.mouseClick(_import_button(window), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(window.dialogs.messages), timeout=60_000)
    title, text = window.dialogs.messages[-1]
    assert title == "Cannot import the model" and text.startswith("half.pt: ") and "damaged" in text
    assert [e.id for e in window.library.entries()] == before and window.current_model() is None
