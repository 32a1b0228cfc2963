"""The app's Qt-free model layer: the pure signal, the typed task settings, the project's mutators,
the predictions it keeps for its queries and whether the engine is loaded."""
from __future__ import annotations

import gc

import pytest

from app.model import AlgorithmChoice, EngineState, Project, Signal, Source, TaskSettings, train_config


def test_a_signal_calls_its_slots_in_order_and_forgets_disconnected_and_collected_ones():
    sig, calls = Signal(), []

    class View:
        def refresh(self, *args):
            calls.append(("view", args))

    view = View()
    first = lambda *a: calls.append(("first", a))  # noqa: E731
    sig.connect(first)
    sig.connect(view.refresh)
    sig.emit(1)
    assert calls == [("first", (1,)), ("view", (1,))]
    sig.disconnect(first)
    with pytest.raises(ValueError):
        sig.disconnect(first)
    del view
    gc.collect()
    calls.clear()
    sig.emit(2)
    assert calls == [] and len(sig) == 0  # a collected view's bound method is not kept alive by the signal


def test_a_slot_may_disconnect_itself_while_the_signal_is_delivered():
    sig, calls = Signal(), []

    def once():
        calls.append("once")
        sig.disconnect(once)

    sig.connect(once)
    sig.connect(lambda: calls.append("other"))
    sig.emit()
    sig.emit()
    assert calls == ["once", "other", "other"]


def test_task_settings_are_validated_with_a_message_naming_the_field():
    with pytest.raises(ValueError, match="n_way=1 is out of range"):
        TaskSettings(n_way=1)
    with pytest.raises(ValueError, match="device"):
        TaskSettings(device="tpu")
    with pytest.raises(ValueError, match="source kind"):
        Source(kind="web")
    with pytest.raises(ValueError, match="k_shot must be a whole number"):
        TaskSettings.from_dict({"k_shot": "two"})


def test_an_old_settings_dict_loads_and_the_typed_settings_round_trip():
    old = {"source": {"kind": "omniglot", "folder": "/data/omniglot"}, "n_way": 20, "steps": 500.0}  # no k_shot, seed, …
    task = TaskSettings.from_dict(old)
    assert task == TaskSettings(source=Source("omniglot", "/data/omniglot"), n_way=20, steps=500)
    assert TaskSettings.from_dict(task.to_dict()) == task
    assert task.to_dict()["source"] == {"kind": "omniglot", "folder": "/data/omniglot"}
    assert TaskSettings.from_dict(None) == TaskSettings()


def test_the_project_owns_the_task_and_says_once_when_it_changes():
    p, seen = Project(), []
    p.configChanged.connect(lambda: seen.append("config"))
    p.changed.connect(lambda: seen.append("changed"))
    p.update_task(n_way=3)
    assert p.task.n_way == 3 and sorted(seen) == ["changed", "config"] and p.dirty
    p.update_task(n_way=3)  # the same value: no signal
    assert len(seen) == 2
    with pytest.raises(ValueError):
        p.update_task(n_way=0)
    assert p.task.n_way == 3  # a refused value changes nothing


def test_the_algorithm_choice_is_a_value_the_project_hands_out_copies_of():
    p = Project()
    p.set_algorithm("maml", {"inner_steps": 4})
    assert p.choice == AlgorithmChoice("maml", {"inner_steps": 4})
    p.hparams["inner_steps"] = 9  # a copy: the project's choice is not edited behind its back
    assert p.hparams == {"inner_steps": 4}


def test_the_typed_settings_become_the_engines_train_config_in_one_place():
    task = TaskSettings(n_way=3, k_shot=2, q_query=4, steps=200, max_seconds=0, seed=7, device="cpu")
    cfg = train_config(AlgorithmChoice("protonet", {"hidden": 16}), task, val_episodes=12)
    assert (cfg.algorithm, cfg.hparams, cfg.n_way, cfg.k_shot, cfg.q_query, cfg.steps, cfg.seed, cfg.device) == (
        "protonet", {"hidden": 16}, 3, 2, 4, 200, 7, "cpu")
    assert cfg.max_seconds is None and cfg.val_every == 20 and cfg.val_episodes == 12


def test_the_project_keeps_each_querys_prediction_until_its_support_set_changes():
    project = Project(n_classes=2)
    project.add_samples(0, [b"a"])
    first, second = project.add_queries([b"q1", b"q2"])
    changes = []
    project.predictions.changed.connect(lambda: changes.append(len(project.predictions)))
    project.predictions.set(["A", "B"], {first.id: [0.2, 0.8]})
    p = project.predictions.get(first.id)
    assert p.names == ("A", "B") and p.probs == (0.2, 0.8) and p.best == 1
    assert first.id in project.predictions and second.id not in project.predictions and changes == [1]
    project.predictions.set(["A", "B"], {})  # nothing answered: nothing changed, no signal
    project.add_queries([b"q3"])  # another query: the answers about the support set still hold
    assert changes == [1] and project.predictions.get(first.id) == p
    project.rename_class(1, "Bee")  # the class names (and so every answer's labels) changed
    assert len(project.predictions) == 0 and changes == [1, 0]
    with pytest.raises(ValueError, match="one probability per class"):
        project.predictions.set(["A", "B"], {first.id: [1.0]})


def test_the_engine_state_says_once_that_the_engine_is_ready():
    engine, heard = EngineState(), []
    engine.readyChanged.connect(lambda: heard.append(engine.device_type))
    assert not engine.ready and not engine.cuda
    engine.set_ready("cuda")
    engine.set_ready("cpu")  # said once: a second call changes nothing
    assert engine.ready and engine.cuda and heard == ["cuda"]


def test_two_models_rank_only_when_their_figures_measure_the_same_thing():
    from app.model.library import ModelEntry, comparable, replaces, scores_at_least

    starter = ModelEntry("s", "starter", "protonet", val_accuracy=0.99, starter=True, measure="5-way 1-shot · Omniglot test · 600 episodes")
    run = ModelEntry("r", "run", "protonet", val_accuracy=0.70, stopped=True, measure="3-way 1-shot · built-in characters · 40 episodes")
    better_run = ModelEntry("b", "run", "protonet", val_accuracy=0.80, stopped=True, measure="3-way 1-shot · built-in characters")  # fewer episodes: same measure
    assert not comparable(run, starter) and not scores_at_least(run, starter) and not scores_at_least(starter, run)
    assert comparable(run, better_run) and scores_at_least(better_run, run) and not scores_at_least(run, better_run)
    assert not replaces(run, starter)  # a stopped run never displaces a model it cannot be ranked against
    assert replaces(better_run, run) and not replaces(run, better_run)
    unmeasured = ModelEntry("u", "old", "protonet", val_accuracy=0.9, n_way=3)  # kept before figures named their measure
    assert comparable(unmeasured, ModelEntry("v", "old", "protonet", val_accuracy=0.8, n_way=3))
    assert not comparable(unmeasured, ModelEntry("w", "none", "protonet", n_way=3))  # no figure: unknown
