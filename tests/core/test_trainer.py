import pytest
import torch

import core
from core import CheckpointError, TrainingDiverged


def _cfg(**kw):
    base = dict(algorithm="protonet", hparams={"hidden": 16, "train_way": 10, "train_query": 3}, steps=6, val_every=3,
                val_episodes=5, device="cpu", seed=5)
    base.update(kw)
    return core.TrainConfig(**base)


def _run(trainer):
    return list(trainer.run())


def test_progress_is_plain_python_and_validation_happens(small_real_sources):
    train, test = small_real_sources
    progress = _run(core.Trainer(_cfg(), train, test))
    assert [p.step for p in progress] == [1, 2, 3, 4, 5, 6, 6]
    assert progress[-1].status == "done" and progress[-1].val_accuracy is not None
    assert progress[2].val_accuracy is not None and progress[1].val_accuracy is None
    for value in progress[0].to_dict().values():
        assert value is None or isinstance(value, (int, float, str))
    assert progress[0].eta_s is not None and progress[0].episodes_per_s > 0


def test_cancel_stops_within_one_step(small_real_sources):
    train, _ = small_real_sources
    token = core.CancelToken()
    trainer = core.Trainer(_cfg(steps=100, val_episodes=0), train, cancel=token)
    seen = []
    for p in trainer.run():
        seen.append(p)
        if p.step == 3 and p.status == "running":
            token.cancel()
    assert seen[-1].status == "cancelled" and seen[-1].step == 3 and trainer.step == 3


def test_time_budget_stops_the_run(small_real_sources):
    train, _ = small_real_sources
    progress = _run(core.Trainer(_cfg(steps=10**6, max_seconds=0.5, val_episodes=0), train))
    assert progress[-1].status == "time_limit" and progress[-1].step < 10**6


def test_checkpoint_round_trip_gives_same_predictions(small_real_sources, tmp_path):
    train, test = small_real_sources
    path = tmp_path / "m.pt"
    trainer = core.Trainer(_cfg(checkpoint_path=str(path)), train, test)
    _run(trainer)
    learner, data = core.load_checkpoint(path)
    assert data["algorithm"] == "protonet" and core.InputSpec.from_dict(data["input_spec"]) == train.spec
    assert data["trainer"]["step"] == 6 and len(data["trainer"]["history"]["loss"]) == 6
    ep = core.EpisodeSampler(test, 5, 1, 3, seed=9).episode(0)
    a = trainer.learner.adapt(ep.support_x, ep.support_y)(ep.query_x)
    b = learner.adapt(ep.support_x, ep.support_y)(ep.query_x)
    assert torch.allclose(a, b, atol=1e-5)


def test_truncated_foreign_and_empty_checkpoints_give_clear_errors(small_real_sources, tmp_path):
    train, _ = small_real_sources
    good = tmp_path / "good.pt"
    _run(core.Trainer(_cfg(steps=1, val_episodes=0, checkpoint_path=str(good)), train))
    raw = good.read_bytes()
    (tmp_path / "cut.pt").write_bytes(raw[: len(raw) // 2])
    (tmp_path / "empty.pt").write_bytes(b"")
    torch.save({"state_dict": {"w": torch.zeros(2)}}, tmp_path / "foreign.pt")
    (tmp_path / "text.pt").write_text("hello")
    for name, words in (("cut.pt", "truncated or damaged"), ("empty.pt", "empty file"), ("foreign.pt", "not a Few-Shot Studio checkpoint"),
                        ("text.pt", "not a Few-Shot Studio checkpoint"), ("missing.pt", "no such checkpoint")):
        with pytest.raises(CheckpointError, match=words) as e:
            core.load_checkpoint(tmp_path / name)
        assert name in str(e.value)


@pytest.mark.parametrize("algorithm,hparams", [
    ("protonet", {"hidden": 16, "train_way": 10, "train_query": 3, "lr_halve_every": 2}),
    ("reptile", {"hidden": 16, "meta_batch_size": 2, "inner_steps": 2}),
    ("maml", {"hidden": 16, "meta_batch_size": 2}),
    # the recipe options of the long builds: a schedule over the run, learned step sizes, and a
    # switch from first to second order that the resumed half crosses (steps 1-3 first order)
    ("maml", {"hidden": 16, "meta_batch_size": 2, "meta_lr_schedule": "budget", "learn_inner_lr": True, "first_order_until": 0.5}),
    ("relation", {"hidden": 16, "train_query": 2, "lr_schedule": "budget"}),
])
def test_resume_is_identical_to_an_uninterrupted_run(small_real_sources, tmp_path, algorithm, hparams):
    train, _ = small_real_sources
    straight = core.Trainer(_cfg(algorithm=algorithm, hparams=hparams, val_episodes=0), train)
    _run(straight)
    path = tmp_path / "half.pt"
    first = core.Trainer(_cfg(algorithm=algorithm, hparams=hparams, val_episodes=0, checkpoint_path=str(path)), train)
    token = first.cancel
    for p in first.run():
        if p.step == 3 and p.status == "running":
            token.cancel()
    resumed = core.Trainer(_cfg(algorithm=algorithm, hparams=hparams, val_episodes=0), train, resume_from=path)
    assert resumed.step == 3
    _run(resumed)
    for (k, a), b in zip(straight.learner.state_dict().items(), resumed.learner.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6), k
    assert resumed.history["loss"] == pytest.approx(straight.history["loss"], rel=1e-5)


def test_nan_loss_stops_with_message_and_keeps_last_good(small_real_sources, tmp_path):
    train, test = small_real_sources
    path = tmp_path / "m.pt"
    trainer = core.Trainer(_cfg(steps=10, val_every=2, checkpoint_path=str(path)), train, test)
    it = trainer.run()
    for p in it:
        if p.step == 2:
            break
    saved = path.read_bytes()
    good = {k: v.clone() for k, v in trainer.learner.state_dict().items()}
    with torch.no_grad():
        next(trainer.learner.parameters()).fill_(float("nan"))
    with pytest.raises(TrainingDiverged, match="became nan.*last good"):
        next(it)
    assert path.read_bytes() == saved  # the last good checkpoint is untouched
    for k, v in trainer.learner.state_dict().items():
        assert torch.equal(v, good[k]), k


def test_device_selection():
    assert core.auto_device("cpu").type == "cpu"
    assert core.auto_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device"):
            core.auto_device("cuda")


def _steady_clock(monkeypatch, tick_s: float):
    """The trainer's clock advances `tick_s` per reading, whatever the machine's speed or load: a
    time-budget test then runs the same steps everywhere (a real 1 s budget gives a loaded machine
    so few, slow steps that the last one starts well before the budget is spent)."""
    from types import SimpleNamespace

    now = [0.0]

    def perf_counter() -> float:
        now[0] += tick_s
        return now[0]

    monkeypatch.setattr(core.trainer, "time", SimpleNamespace(perf_counter=perf_counter))


def test_reptile_anneals_its_meta_step_over_steps_and_over_a_time_budget(small_real_sources, monkeypatch):
    train, _ = small_real_sources
    hp = {"hidden": 4, "meta_batch_size": 1, "inner_steps": 1}
    by_steps = core.Trainer(_cfg(algorithm="reptile", hparams=hp, steps=4, val_episodes=0), train)
    sizes = []
    for p in by_steps.run():
        sizes.append(by_steps.learner.meta_step_size())
    assert sizes[:4] == pytest.approx([1.0, 0.75, 0.5, 0.25])  # ε = 1 − steps done / steps
    _steady_clock(monkeypatch, 0.01)  # four readings a step: 25 steps fill the 1 s budget
    by_time = core.Trainer(_cfg(algorithm="reptile", hparams=hp, steps=10**9, max_seconds=1.0, val_episodes=0), train)
    _run(by_time)
    # With a time budget the run's length is the budget: ε has annealed most of the way to 0.
    assert by_time.learner.progress > 0.8 and by_time.learner.meta_step_size() < 0.2


def test_a_learner_made_without_a_spec_uses_the_default():
    learner = core.get_algorithm("protonet")()
    assert learner.spec == core.InputSpec() and learner.input_shape == (1, 28, 28)


def test_the_trainer_parses_the_hyperparameters_once_and_names_the_algorithm_in_a_bad_one(monkeypatch):
    import core.algorithms.base as base

    train = core.builtin_split("train", n_classes=12, n_instances=4)
    parsed = []
    real = base.hparams_from_dict
    monkeypatch.setattr(base, "hparams_from_dict", lambda cls, values: parsed.append(values) or real(cls, values))
    trainer = core.Trainer(_cfg(hparams={"hidden": "8", "train_way": 4}, val_episodes=0), train)
    assert parsed == [{"hidden": "8", "train_way": 4}]  # one parse feeds both the episode shape and the learner
    assert trainer.learner.hparams.hidden == 8 and trainer.episode_shape()["train_way"] == 4 and trainer.learner.n_way == 4
    with pytest.raises(core.ConfigError, match=r"^Prototypical Networks: hidden=-3 is out of range"):
        core.Trainer(_cfg(hparams={"hidden": -3}), train)
    with pytest.raises(core.ConfigError, match=r"^MAML: unknown hyperparameter\(s\) nope"):
        core.Trainer(_cfg(algorithm="maml", hparams={"nope": 1}), train)


def test_validations_pause_the_time_budget_and_their_training_times_are_kept(small_real_sources, monkeypatch, tmp_path):
    """A budget counts training time: a validation (here 100 s on a fake clock) does not eat it, and
    each validation records the training seconds it was taken at (time-to-accuracy curves)."""
    from types import SimpleNamespace

    import core.trainer

    train, test = small_real_sources
    now = [0.0]
    monkeypatch.setattr(core.trainer, "time", SimpleNamespace(perf_counter=lambda: now[0]))
    trainer = core.Trainer(_cfg(steps=10**6, max_seconds=5.0, val_every=2, checkpoint_path=str(tmp_path / "c.pt")), train, test)
    real_step, real_validate = trainer.learner.meta_train_step, trainer.validate

    def step(tasks):
        now[0] += 1.0  # one training step: 1 s
        return real_step(tasks)

    def validate():
        now[0] += 100.0  # one validation: 100 s
        return real_validate()

    monkeypatch.setattr(trainer.learner, "meta_train_step", step)
    monkeypatch.setattr(trainer, "validate", validate)
    last = _run(trainer)[-1]
    assert last.status == "time_limit" and last.step == 5  # 5 training seconds, not 5 seconds of anything
    assert trainer.history["val_step"] == [2, 4, 5] and trainer.history["val_train_s"] == [2.0, 4.0, 5.0]
    assert last.train_s == 5.0 and last.elapsed_s == 205.0  # (read before its own closing validation)
    now[0] += 1000.0  # later (the app saves its checkpoint after the run): the training time stays what it was
    assert trainer.train_seconds() == 5.0 and trainer.trainer_state(last.elapsed_s)["train_s"] == 5.0
    # kept in the checkpoint: a resumed run's curve continues from the same training time
    resumed = core.Trainer(_cfg(steps=7, val_every=2), train, test, resume_from=tmp_path / "c.pt")
    assert resumed.train_before == 5.0 and resumed.history["val_train_s"] == [2.0, 4.0, 5.0]


def test_a_stopped_run_validates_on_the_first_fixed_episodes_and_keeps_the_figure(small_real_sources):
    train, val = small_real_sources
    token = core.CancelToken()
    trainer = core.Trainer(core.TrainConfig(steps=50, val_every=1000, val_episodes=20, hparams={"hidden": 8}, device="cpu"), train, val)
    trainer.cancel = token
    for p in trainer.run():
        if p.step == 3:
            token.cancel()
    assert trainer.step == 3 and trainer.history["val_step"] == []  # stopped: no validation of its own
    acc = trainer.validate_stopped(5, core.CancelToken())
    assert acc == core.evaluate(trainer.learner, val, episodes=5, seed=core.VAL_SEED).mean
    assert [trainer.history[k][-1] for k in ("val_step", "val_accuracy")] == [3, acc]
    assert len({len(trainer.history[k]) for k in ("val_step", "val_accuracy", "val_ci95", "val_train_s")}) == 1
    cut_short = core.CancelToken()
    cut_short.cancel()
    assert trainer.validate_stopped(5, cut_short) is None and len(trainer.history["val_step"]) == 1
