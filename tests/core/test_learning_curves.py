"""Time to accuracy: the validation curve a run keeps in its checkpoint, read back against training time."""
from types import SimpleNamespace

import pytest

import core
import core.trainer
from core.tools.cli import main
from core.studies.learning_curves import LearningCurve, curves_markdown


def _train(sources, monkeypatch, path, val_episodes=5):
    """A tiny ProtoNet run on a fake clock: every training step takes 1 s, every validation 50 s."""
    train, test = sources
    now = [0.0]
    monkeypatch.setattr(core.trainer, "time", SimpleNamespace(perf_counter=lambda: now[0]))
    cfg = core.TrainConfig(algorithm="protonet", hparams={"hidden": 8, "train_way": 5, "train_query": 2}, n_way=3, steps=6,
                           val_every=2, val_episodes=val_episodes, device="cpu", seed=1, checkpoint_path=str(path))
    trainer = core.Trainer(cfg, train, test)
    real_step, real_validate = trainer.learner.meta_train_step, trainer.validate

    def step(tasks):
        now[0] += 1.0
        return real_step(tasks)

    def validate():
        now[0] += 50.0
        return real_validate()

    monkeypatch.setattr(trainer.learner, "meta_train_step", step)
    monkeypatch.setattr(trainer, "validate", validate)
    list(trainer.run())
    return trainer


def test_a_runs_curve_reads_back_against_training_time(small_real_sources, monkeypatch, tmp_path, capsys):
    trainer = _train(small_real_sources, monkeypatch, tmp_path / "run.pt")
    curve = LearningCurve.from_checkpoint(tmp_path / "run.pt")
    assert curve.label == "run" and curve.steps == [2, 4, 6] and curve.train_s == [2.0, 4.0, 6.0]  # validations excluded
    assert curve.accuracy == trainer.history["val_accuracy"] and len(curve.ci95) == 3
    assert curve.accuracy_at(1.0) is None and curve.accuracy_at(5.0) == curve.accuracy[1]
    best = max(curve.accuracy)
    assert curve.time_to(best) == curve.train_s[curve.accuracy.index(best)] and curve.time_to(1.01) is None
    table = curves_markdown([curve], [3.0, 6.0], [0.0, 1.01])
    assert "| `run` |" in table and "not reached" in table and f"{100 * curve.accuracy[0]:.2f}" in table
    assert main(["curves", str(tmp_path / "run.pt"), "--at", "3,6", "--reach", "0", "--csv", str(tmp_path / "c.csv")]) == 0
    out = capsys.readouterr().out
    assert "to 0%" in out and "0:02" in out  # the first validation reaches 0% at 2 s of training
    assert len((tmp_path / "c.csv").read_text().splitlines()) == 1 + 3


def test_a_run_without_validations_says_so(small_real_sources, monkeypatch, tmp_path):
    _train(small_real_sources, monkeypatch, tmp_path / "quiet.pt", val_episodes=0)
    with pytest.raises(core.CheckpointError, match="kept no validations"):
        LearningCurve.from_checkpoint(tmp_path / "quiet.pt")
