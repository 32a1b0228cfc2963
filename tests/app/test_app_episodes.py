"""The Studio's Episodes tab: the grid shows exactly the sampler's episode i, stepping is
deterministic, a run shows its live episodes, and showing them never changes what is trained."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from tests.app.apphelpers import TINY_HPARAMS, TINY_SOURCE, run_tiny_comparison


def _sampler_images(sampler, index):
    """The sampler's own tensors for episode `index`, as the uint8 images the model saw (x · 255)."""
    ep = sampler.episode(index)
    as_uint8 = lambda x: (x * 255).round().to(dtype=__import__("torch").uint8).numpy()  # noqa: E731
    return as_uint8(ep.support_x), as_uint8(ep.query_x), ep.support_y.tolist(), ep.query_y.tolist(), list(ep.class_names)


def _assert_shows(data, sampler, index):
    support, query, support_y, query_y, names = _sampler_images(sampler, index)
    assert data["index"] == index
    assert np.array_equal(data["support"], support) and np.array_equal(data["query"], query)
    assert data["support_y"] == support_y and data["query_y"] == query_y and data["class_names"] == names


def _tiny_task(window, n_way=3):
    from app.model import Source

    window.hparam_tab.form.set_values(TINY_HPARAMS)
    window.project.update_task(steps=30, max_seconds=0, n_way=n_way, source=Source.from_dict(TINY_SOURCE))


def _click_and_wait(qtbot, view, button):
    before = view.data
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.data is not before, timeout=120_000)  # the next episode is on screen
    return view.data


def test_stepping_through_the_test_episodes_shows_exactly_the_samplers_episode_i(window_with_model, qtbot):
    import core

    window = window_with_model
    _tiny_task(window)
    view = window.episodes
    window.tabs.setCurrentWidget(view)
    view.stream_box.setCurrentIndex(view.stream_box.findData("test"))  # (draws test episode 0)
    qtbot.waitUntil(lambda: view.data is not None and view.data["stream"] == "test" and not view.drawer.busy, timeout=120_000)
    forward = [_click_and_wait(qtbot, view, view.next_btn) for _ in range(3)]
    assert [d["index"] for d in forward] == [1, 2, 3]
    back = _click_and_wait(qtbot, view, view.prev_btn)
    assert back["index"] == 2
    # Deterministic: episode 2 drawn again is the same episode, with the same predictions.
    assert np.array_equal(back["query"], forward[1]["query"]) and back["predictions"] == forward[1]["predictions"]
    test = core.open_source("builtin", "test", n_classes=100)  # the app's test split of the built-in source
    sampler = core.EpisodeSampler(test, 3, 1, window.project.task.q_query, seed=core.TEST_SEED)
    for d in forward:
        _assert_shows(d, sampler, d["index"])
        ids = sampler.draw(d["index"])[0].tolist()  # the source's class ids, rotation included (base × 4 + quarter turns)
        assert d["class_labels"] == [f"{n}: {name.split(' ↻')[0]} (id {c}, rotated {c % 4 * 90}°)" for n, (name, c) in enumerate(zip(d["class_names"], ids))]
    # The model in use predicted each query, as core.evaluate scores it.
    learner = core.load_checkpoint(window.library.path(window.current_model().id), "cpu")[0]
    for d in (forward[2], back):
        ep = sampler.episode(d["index"])
        expected = learner.adapt(ep.support_x, ep.support_y)(ep.query_x).argmax(-1).tolist()
        assert d["predictions"] == {"model": expected}
    right = sum(g == t for g, t in zip(expected, ep.query_y.tolist()))  # episode 2's, on screen
    assert f"{right} of {len(expected)} queries right" in view.info.text()
    assert view.grid.picture.pixmap().width() > 400  # a picture is on screen


def test_a_run_shows_its_live_training_episodes_and_they_are_the_trainers(window, qtbot):
    import core

    _tiny_task(window)
    view = window.episodes
    window.tabs.setCurrentWidget(view)
    with qtbot.waitSignal(window.runs.runningChanged, timeout=10_000):
        assert window.train()
    qtbot.waitUntil(lambda: window.session is None, timeout=180_000)
    data = view.data
    assert data is not None and data["stream"] == "train" and "live" in data["predictions"]
    assert data["index"] == 29 and data["step"] == 30  # the run's last step (10-way episodes: ProtoNet's train_way)
    assert view.follow_box.isChecked() and view.index_box.value() == 29
    train = core.open_source("builtin", "train", n_classes=TINY_SOURCE["classes"])
    sampler = core.EpisodeSampler(train, 10, 1, 3, seed=0)
    _assert_shows(data, sampler, 29)
    # Stepping back from the live episode stays in the run's stream (its source, shape and seed).
    back = _click_and_wait(qtbot, view, view.prev_btn)
    assert not view.follow_box.isChecked()
    _assert_shows(back, sampler, 28)
    assert "model" in back["predictions"]  # now the model in use (the run's, saved) predicts


@pytest.mark.parametrize("algorithm,hparams", [("protonet", TINY_HPARAMS), ("maml", {"hidden": 8, "meta_batch_size": 2}),
                                               ("mann", {"classes": 3, "meta_batch_size": 2})])  # MANN: episodes without queries
def test_drawing_live_episodes_never_changes_what_is_trained(algorithm, hparams, qapp):  # qapp: painting text needs one
    """A live episode's prediction adapts the training learner between steps: the weights after
    the run must be the very same as without it (every step drawn here, not once a second)."""
    import torch

    import core
    from app.engine.episode_jobs import LiveEpisodes

    torch.set_num_threads(1)
    source = core.builtin(n_classes=30, first_class=0)

    def train(live: bool):
        cfg = core.TrainConfig(algorithm=algorithm, hparams=hparams, n_way=3, k_shot=1, q_query=2, steps=6, val_every=3,
                               val_episodes=2, device="cpu", seed=1)
        trainer = core.Trainer(cfg, source, source)
        watcher = LiveEpisodes(trainer, every_s=0.0)
        shown = []
        for p in trainer.run():
            if live:
                shown.append(watcher.after_step(p))
        return trainer.learner.state_dict(), [d["index"] for d in shown if d is not None]

    plain, _ = train(False)
    watched, indices = train(True)
    assert len(indices) == 6  # every step's episode was drawn and predicted
    for key in plain:
        assert torch.equal(plain[key], watched[key]), key


# -- the Compare view's test episodes ------------------------------------------------------------------



def click_row(qtbot, table, row):
    rect = table.visualItemRect(table.item(row, 0))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_compare_lists_test_episodes_most_disputed_first_and_shows_every_models_predictions(window, qtbot):
    import core

    view = run_tiny_comparison(window, qtbot)
    page = view.test_episodes
    view.right_tabs.setCurrentWidget(page)
    comp = view.comparison
    t = page.table
    assert t.rowCount() == 10
    spreads = [t.item(r, 1).key for r in range(10)]
    expected = sorted((max(a) - min(a) for a in zip(comp.results["protonet"].per_episode, comp.results["matching"].per_episode)), reverse=True)
    assert spreads == expected  # most disputed first
    index = t.item(0, 0).key
    click_row(qtbot, t, 0)
    qtbot.waitUntil(lambda: page.data is not None, timeout=120_000)
    data = page.data
    assert data["index"] == index and set(data["predictions"]) == {"protonet", "matching"}
    test = core.open_source("builtin", "test", n_classes=12)
    _assert_shows(data, core.EpisodeSampler(test, 3, 1, 2, seed=comp.config.test_seed), index)
    for name, guesses in data["predictions"].items():
        right = sum(g == t for g, t in zip(guesses, data["query_y"]))
        assert right / len(guesses) == pytest.approx(comp.results[name].per_episode[index])  # as the comparison scored it
    assert f"Test episode {index}" in page.legend.text()
