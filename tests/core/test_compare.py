"""The comparison engine: identical episodes, shared test episodes, statistics, Stop, records, CLI."""
from __future__ import annotations

import json

import pytest
import torch

import core
from core.studies import compare as cmp
from core.studies import report
from core.algorithms import ALGORITHMS
from core.episodes import TEST_SEED
from tests.conftest import builtin_train_test

TINY = {"protonet": {"hidden": 8}, "maml": {"hidden": 8, "meta_batch_size": 2, "inner_steps": 1, "inner_steps_test": 1},
        "matching": {"hidden": 8}}


@pytest.fixture(scope="module")
def sources():
    """Tiny disjoint train / test sources of the built-in generator (a second or two to build)."""
    return builtin_train_test(24, 12, n_instances=8)


def _config(algorithms, **kw):
    trained = kw.get("models", {})  # a trained model keeps the settings it was trained with
    base = dict(algorithms=list(algorithms), hparams={a: TINY[a] for a in algorithms if a in TINY and a not in trained}, n_way=3, k_shot=1, q_query=2,
                steps_each=4, seed=3, eval_episodes=6, val_every=1000, val_episodes=0, device="cpu")
    base.update(kw)
    return core.CompareConfig(**base)


class Spy:
    """Records (a copy of) every training task and every test support set each algorithm receives."""

    def __init__(self, monkeypatch, names):
        self.train: dict[str, list] = {n: [] for n in names}
        self.adapted: dict[str, list] = {n: [] for n in names}
        for n in names:
            cls = ALGORITHMS[n]
            step, adapt = cls.meta_train_step, cls.adapt

            def spy_step(learner, tasks, _step=step, _n=n):
                self.train[_n] += [(t.support_x.clone(), t.support_y.clone(), t.query_x.clone(), t.query_y.clone()) for t in tasks]
                return _step(learner, tasks)

            def spy_adapt(learner, sx, sy, _adapt=adapt, _n=n):
                self.adapted[_n].append((sx.clone(), sy.clone()))
                return _adapt(learner, sx, sy)

            monkeypatch.setattr(cls, "meta_train_step", spy_step)
            monkeypatch.setattr(cls, "adapt", spy_adapt)


def _run(comp, stop_when=None):
    events = []
    for ev in comp.run():
        events.append(ev)
        if stop_when is not None and stop_when(ev):
            comp.cancel.cancel()
    return events


def test_same_seed_gives_two_algorithms_identical_training_episodes_and_the_same_test_episodes(sources, monkeypatch):
    train, test = sources
    spy = Spy(monkeypatch, ["protonet", "maml"])
    comp = core.Comparison(_config(["protonet", "maml"]), train, None, test)
    events = _run(comp)
    assert events[-1] == {"kind": "end", "status": "done", "finished": ["protonet", "maml"]}
    # ProtoNet takes one episode per step, MAML a meta-batch of 2: the same stream, in the same order.
    assert len(spy.train["protonet"]) == 4 and len(spy.train["maml"]) == 8
    for a, b in zip(spy.train["protonet"], spy.train["maml"][:4]):
        for ta, tb in zip(a, b):
            assert torch.equal(ta, tb)
    assert not torch.equal(spy.train["protonet"][0][0], spy.train["protonet"][1][0])  # and the episodes do vary
    # Every algorithm is tested on the same support sets, and scores exactly what evaluate() gives.
    assert len(spy.adapted["protonet"]) == len(spy.adapted["maml"]) == 6
    for (sa, ya), (sb, yb) in zip(spy.adapted["protonet"], spy.adapted["maml"]):
        assert torch.equal(sa, sb) and torch.equal(ya, yb)
    assert comp.results["protonet"].test_digest == comp.results["maml"].test_digest != ""
    for name in ("protonet", "maml"):
        r = comp.results[name]
        ref = core.evaluate(comp.learners[name], test, 3, 1, 2, episodes=6, seed=TEST_SEED, device="cpu")
        assert r.per_episode == pytest.approx(ref.per_episode) and r.mean == pytest.approx(ref.mean)
        assert r.status == "done" and r.steps == 4 and r.parameters == comp.learners[name].parameter_count() > 0
        assert r.train_seconds > 0 and r.episodes_per_s > 0 and r.device == "cpu" and len(r.curves["loss"]) == 4
        assert r.peak_memory_mb is None or r.peak_memory_mb > 0


def test_a_different_seed_gives_different_training_episodes(sources, monkeypatch):
    train, test = sources
    spy = Spy(monkeypatch, ["protonet"])
    _run(core.Comparison(_config(["protonet"], steps_each=1, eval_episodes=1), train, None, test))
    _run(core.Comparison(_config(["protonet"], steps_each=1, eval_episodes=1, seed=4), train, None, test))
    assert not torch.equal(spy.train["protonet"][0][0], spy.train["protonet"][1][0])


def test_stop_mid_comparison_keeps_finished_results(sources):
    train, test = sources
    comp = core.Comparison(_config(["protonet", "matching", "maml"], steps_each=50), train, None, test)
    events = _run(comp, stop_when=lambda ev: ev["kind"] == "progress" and ev["algorithm"] == "matching" and ev["step"] == 2)
    r = comp.results
    assert r["protonet"].status == "done" and len(r["protonet"].per_episode) == 6
    assert r["matching"].status == "stopped" and r["matching"].steps == 2 and not r["matching"].per_episode
    assert r["maml"].status == "skipped"
    assert list(comp.learners) == ["protonet"] and comp.status == "cancelled"
    assert events[-1]["status"] == "cancelled" and events[-1]["finished"] == ["protonet"]
    assert [e["algorithm"] for e in events if e["kind"] == "start"] == ["protonet", "matching"]
    md = comp.markdown()
    assert "Prototypical Networks" in md and "stopped" in md and "Pairwise" not in md
    # Stopping while testing drops that algorithm's partial (unpaired) test, keeps the earlier one.
    comp = core.Comparison(_config(["protonet", "matching"], steps_each=2), train, None, test)
    _run(comp, stop_when=lambda ev: ev["kind"] == "testing" and ev["algorithm"] == "matching" and ev["done"] == 2)
    assert comp.results["protonet"].status == "done" and comp.results["matching"].status == "stopped"
    assert "while testing" in comp.results["matching"].message and list(comp.learners) == ["protonet"]


def test_a_failing_algorithm_does_not_lose_the_others(sources, monkeypatch):
    train, test = sources

    def boom(self, tasks):
        raise core.TrainingDiverged("the training loss became nan")

    monkeypatch.setattr(ALGORITHMS["matching"], "meta_train_step", boom)
    comp = core.Comparison(_config(["matching", "protonet"], steps_each=2), train, None, test)
    events = _run(comp)
    assert comp.results["matching"].status == "failed" and "nan" in comp.results["matching"].message
    assert comp.results["protonet"].status == "done" and events[-1]["finished"] == ["protonet"]


def test_bad_configurations_are_clear_errors():
    with pytest.raises(core.CompareError, match="at least one"):
        core.Comparison(core.CompareConfig(algorithms=[]))
    with pytest.raises(core.CompareError, match="unknown algorithm"):
        core.Comparison(core.CompareConfig(algorithms=["nope"]))
    with pytest.raises(core.CompareError, match="maml: .*out of range"):
        core.Comparison(core.CompareConfig(algorithms=["maml"], hparams={"maml": {"inner_steps": 0}}))
    with pytest.raises(core.CompareError, match="not among"):
        core.Comparison(core.CompareConfig(algorithms=["maml"], hparams={"protonet": {"hidden": 8}}))


@pytest.fixture(scope="module")
def finished(sources):
    train, test = sources
    comp = core.Comparison(_config(["protonet", "matching"], steps_each=3, eval_episodes=8), train, None, test)
    _run(comp)
    assert [r.status for r in comp.results.values()] == ["done", "done"]
    return comp


def test_json_round_trip_shows_the_same_comparison(finished, tmp_path):
    path = finished.save_json(tmp_path / "c.json")
    again = core.Comparison.load_json(path)
    assert again.to_dict() == json.loads(path.read_text())
    assert again.to_dict() == finished.to_dict()
    assert again.markdown() == finished.markdown()
    assert again.config == finished.config and again.learners == {}
    for name, r in finished.results.items():
        assert again.results[name].per_episode == r.per_episode and again.results[name].curves == r.curves
    (tmp_path / "foreign.json").write_text(json.dumps({"hello": 1}))
    with pytest.raises(core.CompareError, match="foreign.json: not a Few-Shot Studio comparison"):
        core.Comparison.load_json(tmp_path / "foreign.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(core.CompareError, match="not a comparison JSON"):
        core.Comparison.load_json(tmp_path / "bad.json")


def test_long_curves_are_thinned_by_averaging():
    n = 6000  # bins of 6 steps: the alternating 0 / 1 losses average to ½
    curves = {**cmp.new_curves(), "episodes": list(range(1, n + 1)), "seconds": [i / 10 for i in range(n)],
              "loss": [float(i % 2) for i in range(n)], "accuracy": [0.5] * n}
    thin = cmp.thin_curves(curves, 1000)
    assert len(thin["loss"]) == len(thin["episodes"]) == 1000
    assert thin["episodes"][-1] == n and thin["loss"] == pytest.approx([0.5] * 1000)


def test_csv_exports_round_trip(finished, tmp_path):
    rows = report.read_table_csv(finished.write_table_csv(tmp_path / "table.csv"))
    assert rows == finished.table_rows()
    assert rows[0]["accuracy"] == finished.results["protonet"].mean and rows[0]["test_episodes"] == 8
    m = report.read_matrix_csv(finished.write_matrix_csv(tmp_path / "matrix.csv"))
    pw = finished.pairwise()
    assert m["names"] == pw.names == ["protonet", "matching"]
    assert m["win"] == pw.win and m["p_holm"] == pw.p_holm and m["p_value"] == pw.p_value


def test_models_travel_as_bytes_and_classify_the_persons_set(finished, sources):
    _, test = sources
    ep = core.EpisodeSampler(test, 3, 2, 2, seed=1).episode(0)
    probs = finished.classify(ep.support_x, ep.support_y, ep.query_x)
    assert set(probs) == {"protonet", "matching"}
    for p in probs.values():
        assert len(p) == 6 and all(abs(sum(row) - 1) < 1e-9 for row in p)
    blobs = finished.model_bytes()
    again = core.Comparison.from_dict(finished.to_dict())
    again.load_models(blobs)
    reloaded = again.classify(ep.support_x, ep.support_y, ep.query_x)
    for name in probs:
        assert torch.allclose(torch.tensor(reloaded[name]), torch.tensor(probs[name]), atol=1e-6), name
    with pytest.raises(core.CheckpointError):
        core.learner_from_bytes(b"garbage")
    # Raw images (what the app hands over) go through each model's own InputSpec.
    imgs = [test.images[i, 0].numpy() for i in range(0, 40, 8)]  # 5 images of 5 different classes
    raw = finished.classify_images(imgs[:3], [0, 1, 2], imgs)
    assert set(raw) == {"protonet", "matching"} and all(len(p) == 5 for p in raw.values())


def test_cli_compare_prints_markdown_and_writes_json(tmp_path, capsys):
    from core.tools.cli import main
    from tests.core.test_sources import make_folder

    root = make_folder(tmp_path / "data", classes=5, per_class=4)
    out = tmp_path / "c.json"
    rc = main(["compare", "-a", "protonet,matching", "--source", "folder", "--data", str(root), "--way", "3", "--shot", "1",
               "--query", "2", "--steps-each", "2", "--eval-episodes", "4", "--val-episodes", "0", "--device", "cpu",
               "--hp", "*.hidden=8", "--hp", "protonet.train_way=4", "--preset", "*=measured", "--hp", "matching.lr_schedule=step",
               "--json", str(out), "--table-csv", str(tmp_path / "t.csv"),
               "--matrix-csv", str(tmp_path / "m.csv")])
    text = capsys.readouterr().out
    assert rc == 0, text
    assert "| Prototypical Networks (`protonet`) |" in text and "| Matching Networks (`matching`) |" in text
    assert "Pairwise" in text and "Wilcoxon" in text
    matrix_rows = [line for line in text.splitlines() if line.startswith(("| `protonet` |", "| `matching` |"))]
    assert len(matrix_rows) == 2 and all(line.count("–") == 1 and "%" in line for line in matrix_rows)
    comp = core.Comparison.load_json(out)
    measured = {name: core.ALGORITHMS[name].presets["measured"] for name in ("protonet", "matching")}  # --preset *=measured
    assert comp.config.hparams == {"protonet": {**measured["protonet"], "hidden": "8", "train_way": "4"},
                                   "matching": {**measured["matching"], "hidden": "8", "lr_schedule": "step"}}  # --hp over the preset
    assert comp.results["protonet"].hparams["hidden"] == 8 and len(comp.results["matching"].per_episode) == 4
    assert (tmp_path / "t.csv").is_file() and (tmp_path / "m.csv").is_file()
    assert main(["compare", "-a", "protonet,nope", "--source", "folder", "--data", str(root)]) == 2
    assert "unknown algorithm" in capsys.readouterr().err
    assert main(["compare", "-a", "protonet", "--source", "folder", "--data", str(root), "--hp", "hidden=8"]) == 2
    assert "ALGORITHM.NAME=VALUE" in capsys.readouterr().err
    assert main(["compare", "-a", "maml", "--source", "folder", "--data", str(root), "--preset", "maml=measured"]) == 2
    assert "maml has no preset 'measured'" in capsys.readouterr().err


def test_durations_read_as_clock_times():
    assert [report.fmt_duration(s) for s in (None, float("nan"), 0, 59.4, 59.6, 61, 3599.6, 3661)] == \
        ["–", "–", "0:00", "0:59", "1:00", "1:01", "1:00:00", "1:01:01"]
    assert report.fmt_duration(12.34, tenths_under_minute=True) == "12.3 s" and report.fmt_duration(75, tenths_under_minute=True) == "1:15"


def _trained_checkpoint(train, path, algorithm="protonet", steps=3, **spec_kw):
    """A small checkpoint of `algorithm`, meta-trained a few steps on `train` (as `fewshot train` writes it)."""
    cfg = core.TrainConfig(algorithm=algorithm, hparams=TINY.get(algorithm, {}), n_way=3, k_shot=1, q_query=2, steps=steps,
                           val_every=2, val_episodes=2, device="cpu", seed=5)
    trainer = core.Trainer(cfg, train, train)
    for _ in trainer.run():
        pass
    trainer.save(path, 0.0)
    return trainer


def test_a_trained_model_is_tested_on_the_shared_episodes_without_training(sources, tmp_path, monkeypatch):
    """Compare can race from scratch or take models already trained (the starter models): a model
    given in `models` is not trained again, scores on the shared test episodes exactly what
    `evaluate` gives it, keeps its own record, and classifies the person's set like the others."""
    train, test = sources
    trainer = _trained_checkpoint(train, tmp_path / "p.pt")
    spy = Spy(monkeypatch, ["protonet", "matching"])
    comp = core.Comparison(_config(["protonet", "matching"], steps_each=2, models={"protonet": str(tmp_path / "p.pt")}), train, None, test)
    events = _run(comp)
    r = comp.results["protonet"]
    assert [x.status for x in comp.results.values()] == ["done", "done"]
    assert spy.train["protonet"] == [] and len(spy.train["matching"]) == 2  # only matching trained
    assert r.steps == trainer.step == 3 and r.episode_shape == trainer.episode_shape()
    assert len(r.curves["val_accuracy"]) == len(trainer.history["val_accuracy"]) > 0  # the checkpoint's own validations
    start = next(e for e in events if e["kind"] == "start" and e["algorithm"] == "protonet")
    assert start["trained"] == str(tmp_path / "p.pt")
    learner, _ = core.load_checkpoint(tmp_path / "p.pt")
    expected = core.evaluate(learner, test, 3, 1, 2, 6, seed=TEST_SEED)
    assert r.mean == pytest.approx(expected.mean, abs=1e-12)
    assert comp.results["matching"].test_digest == r.test_digest  # the same episodes for both
    ep = core.EpisodeSampler(test, 3, 1, 2, seed=1).episode(0)
    assert set(comp.classify(ep.support_x, ep.support_y, ep.query_x)) == {"protonet", "matching"}
    # Only trained models: no training source needed.
    alone = core.Comparison(_config(["protonet"], models={"protonet": str(tmp_path / "p.pt")}), None, None, test)
    _run(alone)
    assert alone.results["protonet"].per_episode == r.per_episode


def test_a_trained_model_shows_its_own_training_record(sources, tmp_path):
    """A model trained elsewhere (a starter model) brings the curves of its own run: the loss and
    accuracy of every step from its checkpoint's history, at the episodes it had seen, with each
    step's training second read off its validation times, and what its validation measured."""
    train, test = sources
    trainer = _trained_checkpoint(train, tmp_path / "m.pt", algorithm="maml", steps=4)  # a meta-batch of 2 episodes a step
    comp = core.Comparison(_config(["maml"], models={"maml": str(tmp_path / "m.pt")}), None, None, test)
    _run(comp)
    r, h = comp.results["maml"], trainer.history
    assert r.curves["loss"] == h["loss"] and r.curves["accuracy"] == h["accuracy"] and len(h["loss"]) == 4
    assert r.curves["episodes"] == [2, 4, 6, 8] and r.curves["val_episodes"] == [4, 8]
    seconds = r.curves["seconds"]
    assert seconds == sorted(seconds) and seconds[-1] == pytest.approx(r.train_seconds)
    for step, at in zip(h["val_step"], h["val_train_s"]):  # a step that validated is at its validation's time
        assert seconds[step - 1] == pytest.approx(at)
    assert r.validation == {"n_way": 3, "k_shot": 1, "episodes": 2}
    assert core.AlgoResult.from_dict(r.to_dict()).validation == r.validation


def test_a_trained_model_that_does_not_fit_fails_alone_with_a_clear_message(sources, tmp_path):
    train, test = sources
    _trained_checkpoint(train, tmp_path / "p.pt")
    (tmp_path / "cut.pt").write_bytes((tmp_path / "p.pt").read_bytes()[:500])
    comp = core.Comparison(_config(["protonet", "matching"], models={"protonet": str(tmp_path / "cut.pt"), "matching": str(tmp_path / "p.pt")}),
                           train, None, test)
    _run(comp)
    assert comp.results["protonet"].status == "failed" and "cut.pt" in comp.results["protonet"].message
    assert comp.results["matching"].status == "failed" and "holds a protonet model, not matching" in comp.results["matching"].message
    big = core.builtin(n_classes=12, first_class=100, n_instances=4, spec=core.InputSpec(size=(32, 32)))
    comp = core.Comparison(_config(["protonet"], models={"protonet": str(tmp_path / "p.pt")}), None, None, big)
    _run(comp)
    assert comp.results["protonet"].status == "failed" and "28×28" in comp.results["protonet"].message and "32×32" in comp.results["protonet"].message
    with pytest.raises(core.CompareError, match="not among"):
        core.Comparison(core.CompareConfig(algorithms=["maml"], models={"protonet": "p.pt"}))
    with pytest.raises(core.CompareError, match="as it was trained"):
        core.Comparison(core.CompareConfig(algorithms=["protonet"], models={"protonet": "p.pt"}, hparams={"protonet": {"hidden": 8}}))


def test_cli_compare_takes_trained_models(tmp_path, capsys, sources):
    from core.tools.cli import main
    from tests.core.test_sources import make_folder

    root = make_folder(tmp_path / "data", classes=5, per_class=4)
    _trained_checkpoint(sources[0], tmp_path / "p.pt")
    rc = main(["compare", "-a", "protonet,matching", "--source", "folder", "--data", str(root), "--way", "3", "--shot", "1", "--query", "2",
               "--steps-each", "2", "--eval-episodes", "4", "--val-episodes", "0", "--device", "cpu", "--hp", "matching.hidden=8",
               "--model", f"protonet={tmp_path / 'p.pt'}"])
    text = capsys.readouterr().out
    assert rc == 0, text
    assert f"the trained model {tmp_path / 'p.pt'}" in text and "tested only" in text and "Matching Networks: " in text
    assert main(["compare", "-a", "protonet", "--source", "folder", "--data", str(root), "--model", "maml=x.pt"]) == 2
    assert "ALGO=CHECKPOINT" in capsys.readouterr().err
    assert main(["compare", "-a", "protonet", "--source", "folder", "--data", str(root), "--model", f"protonet={tmp_path / 'none.pt'}"]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["compare", "-a", "protonet", "--source", "folder", "--data", str(root), "--model", f"protonet={tmp_path / 'p.pt'}",
                 "--hp", "protonet.hidden=8"]) == 2
    assert "as it was trained" in capsys.readouterr().err
