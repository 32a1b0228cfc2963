"""Meta-training in the worker thread (live curves, Stop, a responsive GUI), classification, close."""
from __future__ import annotations

import time

import pytest

from apphelpers import TINY_HPARAMS, TINY_SOURCE, Heartbeat, fill_support, glyph_png

STALL_LIMIT_S = 0.050


def _start_tiny(window, steps: int = 400) -> None:
    window.form.set_values(TINY_HPARAMS)
    window.project.set_setting("steps", steps)
    window.project.set_setting("max_seconds", 0)
    window.project.set_setting("n_way", 3)
    assert window.train(overrides={"source": TINY_SOURCE})


def test_training_updates_curves_and_progress_stop_ends_it_and_gui_never_stalls(window, qtbot):
    beat = Heartbeat()
    beat.start()
    _start_tiny(window, steps=400)  # validates every 40 steps
    assert not window.train_btn.isEnabled() and window.stop_act.isEnabled()
    panel = window.training
    def drawn(item):
        x = item.getData()[0]
        return 0 if x is None else len(x)

    qtbot.waitUntil(lambda: drawn(panel.val_curve) >= 2 and panel.redraws >= 3, timeout=30_000)
    beat.stop()
    print(f"\nlongest event-loop stall while training: {beat.max_gap * 1000:.1f} ms over {beat.ticks} heartbeats")
    assert beat.max_gap < STALL_LIMIT_S
    # The plot items really hold the buffered curves, and the progress bar follows.
    assert drawn(panel.loss_curve) > 40
    assert panel.progress_bar.maximum() == 400 and panel.progress_bar.value() > 40
    assert "episodes/s" in panel.stats.text() and "ETA" in panel.stats.text()
    window.stop_act.trigger()
    t0 = time.perf_counter()
    qtbot.waitUntil(lambda: window.session is None, timeout=5000)
    assert time.perf_counter() - t0 < 2.0
    assert panel.last["status"] == "cancelled" and panel.last["step"] < 400
    assert window.train_btn.isEnabled() and not window.stop_act.isEnabled()
    # A stopped run still leaves a usable model in the library, used by this project.
    [entry] = window.library.entries()
    assert entry.algorithm == "protonet" and entry.val_accuracy is not None
    assert window.project.model_file.endswith(f"{entry.id}.pt")


def test_classify_shows_confidences_that_sum_to_one(window_with_model, qtbot):
    window = window_with_model
    fill_support(window.project, n_classes=3, shots=2)
    window.project.add_queries([glyph_png(k, 7) for k in range(3)])
    with qtbot.waitSignal(window.classified, timeout=10_000):
        window.classify()
    rows = window.query.rows()
    assert len(rows) == 3
    for row in rows:
        names, probs = row.bars.names, row.bars.probs
        assert names == window.project.class_names() and len(probs) == 3
        assert sum(probs) == pytest.approx(1.0, abs=1e-6)
        assert row.prediction.text().startswith("→ ")
    # A drawn query is classified live (throttled) while drawing.
    from apphelpers import mouse_stroke

    canvas = window.query.draw.canvas
    mouse_stroke(canvas, [(40, 40), (120, 120), (60, 140)])
    # Wait for the live result itself: a queued classification of the queries may land first.
    qtbot.waitUntil(lambda: len(window.query.live_bars.probs) == 3, timeout=10_000)
    assert sum(window.query.live_bars.probs) == pytest.approx(1.0, abs=1e-6)
    assert window.query.live_prediction.text().startswith("→ ")


def test_a_querys_confidences_do_not_depend_on_the_other_queries_even_with_transductive_batchnorm(window, qtbot, tmp_path):
    """MAML normalises with the batch's own BatchNorm statistics (the paper's protocol): classified
    as one batch, a query's prediction would change when the user adds another query, and a lone
    query (a single drawing) would be normalised by itself. The app classifies each on its own."""
    import core

    cfg = core.TrainConfig(algorithm="maml", hparams={"hidden": 8}, n_way=3, k_shot=1, q_query=1, steps=2,
                           val_every=1000, val_episodes=0, device="cpu", seed=0)
    trainer = core.Trainer(cfg, core.builtin(n_classes=30, first_class=0))
    for _ in trainer.run():
        pass
    assert trainer.learner.hparams.bn_mode == "transductive"
    path = tmp_path / "maml.pt"
    core.save_checkpoint(path, trainer.learner, trainer.trainer_state(0.0), extra={})
    entry = window.library.import_bytes(path.read_bytes(), algorithm="maml", title="MAML", source="Built-in characters",
                                        n_way=3, k_shot=1, val_accuracy=0.5, steps=2)
    window.use_model(entry.id)
    fill_support(window.project, n_classes=3, shots=1)
    window.project.add_queries([glyph_png(0, 7)])
    with qtbot.waitSignal(window.classified, timeout=20_000):
        window.classify()
    alone = list(window.query.rows()[0].bars.probs)
    window.project.add_queries([glyph_png(1, 7), glyph_png(2, 7)])
    with qtbot.waitSignal(window.classified, timeout=20_000):
        window.classify()
    rows = window.query.rows()
    assert len(rows) == 3
    assert rows[0].bars.probs == pytest.approx(alone, abs=1e-6)
    assert all(sum(r.bars.probs) == pytest.approx(1.0, abs=1e-6) for r in rows)


def test_the_model_in_use_shows_how_it_was_meta_trained(window_with_model, qtbot):
    """Picking a model (here the fixture's: 15 ProtoNet steps) puts its recorded curves in the
    training panel; an algorithm with no model clears them; coming back shows them again."""
    window = window_with_model
    panel = window.training

    def points() -> int:
        x = panel.loss_curve.getData()[0]
        return 0 if x is None else len(x)

    qtbot.waitUntil(lambda: points() == 15, timeout=10_000)
    assert panel.progress_bar.value() == panel.progress_bar.maximum() == 15
    assert "15 steps" in panel.stats.text() and window.current_model().name in panel.stats.text()
    window.algo_box.setCurrentIndex(window._algo_row("relation"))  # no Relation Network model yet
    qtbot.waitUntil(lambda: points() == 0, timeout=5_000)
    assert panel.stats.text() == "Not trained yet"
    window.algo_box.setCurrentIndex(window._algo_row("protonet"))
    qtbot.waitUntil(lambda: points() == 15, timeout=10_000)


def test_a_model_file_damaged_after_import_says_so_in_the_training_panel(window, tiny_checkpoint, qtbot):
    entry = window.library.import_bytes(tiny_checkpoint, algorithm="protonet", title="Prototypical Networks",
                                        source="Built-in characters", n_way=3, k_shot=1, val_accuracy=0.5, steps=15)
    path = window.library.path(entry.id)
    path.write_bytes(tiny_checkpoint[: len(tiny_checkpoint) // 2])  # damaged on disk later (the library checked it on import)
    window.use_model(entry.id)
    qtbot.waitUntil(lambda: "training record unreadable" in window.training.stats.text(), timeout=10_000)
    assert window.training.stats.text().endswith("unreadable: truncated or damaged checkpoint")  # the engine's reason, no path
    assert "truncated or damaged checkpoint (" in window.training.stats.toolTip()  # the details on hover
    x = window.training.loss_curve.getData()[0]
    assert window.training.progress_bar.value() == 0 and (x is None or len(x) == 0)  # and no curves


def test_classify_without_a_model_offers_quick_training(window, qtbot, monkeypatch):
    fill_support(window.project, n_classes=2, shots=1)
    asked = []
    from PySide6.QtWidgets import QMessageBox
    window.ask = lambda title, text, *a, **k: asked.append(text) or QMessageBox.StandardButton.No
    window.classify()
    assert asked and "quickly" in asked[0] and window.session is None


def test_training_error_is_shown_and_sets_are_untouched(window, qtbot):
    fill_support(window.project, n_classes=3, shots=1)
    before = [(c.name, [s.png for s in c.samples]) for c in window.project.classes]
    window.form.set_values(TINY_HPARAMS)
    window.project.set_setting("steps", 5)
    window.train(overrides={"source": {"kind": "folder", "folder": "/nonexistent/few-shot"}})
    qtbot.waitUntil(lambda: window.session is None, timeout=10_000)
    title, text = window.messages[-1]
    assert title == "Cannot meta-train" and "/nonexistent/few-shot" in text
    assert window.train_btn.isEnabled()
    assert [(c.name, [s.png for s in c.samples]) for c in window.project.classes] == before


def test_closing_during_training_stops_the_worker_cleanly(window, qtbot):
    _start_tiny(window, steps=100_000)
    qtbot.waitUntil(lambda: window.training.last is not None and window.training.last["step"] >= 5, timeout=30_000)
    thread = window.session.thread
    window.project.dirty = False
    t0 = time.perf_counter()
    assert window.close()
    elapsed = time.perf_counter() - t0
    print(f"\nclosed mid-training in {elapsed * 1000:.0f} ms")
    assert elapsed < 2.0
    assert not thread.isRunning() and window.session is None
    assert window.library.entries() == []  # a run cut short by closing is discarded, not saved
