"""Starter models (issue 19): the recipes, the shipped files against their manifest, and a short
re-measurement of each shipped model against the accuracy its manifest records."""
from __future__ import annotations

import dataclasses
import json

import pytest
import torch

import core
from core.tools import starter
from core.algorithms import ALGORITHMS
from core.checkpoint import learner_from_checkpoint, read_checkpoint
from core.tools.cli import build_parser, main


def _count_steps(monkeypatch, learner_class, kill_at: int | None = None) -> list:
    """Count `learner_class`'s training steps from now on (the list grows by one per step); with
    `kill_at`, that step raises KeyboardInterrupt instead, which is what a session's end does to
    a build as far as its checkpoint knows. The original step is the class's own, not a patch."""
    current = learner_class.meta_train_step
    real_step, calls = getattr(current, "__wrapped__", current), []

    def step(self, tasks):
        calls.append(1)
        if len(calls) == kill_at:
            raise KeyboardInterrupt
        return real_step(self, tasks)

    step.__wrapped__ = real_step
    monkeypatch.setattr(learner_class, "meta_train_step", step)
    return calls


def test_every_algorithm_has_a_recipe_the_train_command_accepts():
    assert all(name in starter.RECIPES and starter.RECIPES[name].algorithm == name for name in ALGORITHMS)
    for name, recipe in starter.RECIPES.items():
        assert recipe.key == name
        for run in recipe.runs:
            args = build_parser().parse_args(["train", "-a", recipe.algorithm, "--source", "omniglot", "--data", "D", *run])
            assert args.steps > 0 and not args.minutes and recipe.targets and 5 in recipe.targets  # machine-independent
        assert recipe.command().startswith(("fewshot train", "OMP_NUM_THREADS=1 fewshot train"))
        if recipe.members:
            assert recipe.train_args == recipe.members[0] and recipe.algorithm == "protonet"
            assembly = build_parser().parse_args(recipe.command().splitlines()[-1].split()[1:])
            assert assembly.func.__name__ == "cmd_ensemble" and assembly.out == f"{name}.pt"


def test_the_shipped_starter_files_match_their_manifest():
    assert starter.problems() == []
    manifest = starter.read_manifest()
    assert "Omniglot" in manifest["attribution"] and "MIT" in manifest["attribution"]
    for name, entry in manifest["models"].items():
        data = read_checkpoint(starter.starter_dir() / entry["file"])
        assert data["algorithm"] == entry["algorithm"] == starter.RECIPES[name].algorithm  # a named recipe's key is not its algorithm
        assert not data.get("optim")  # weights and record, no optimizer state
        # Small: its float32 weights and its training record (under 1 MB even for MANN's 35,039
        # steps), nothing else. The Conv-4 models are ~0.5 MB; MANN's 680k weights alone are 2.7 MB.
        weights = sum(t.numel() * 4 for t in data["model"].values())
        assert entry["bytes"] < weights + 1_000_000, f"{name}: {entry['bytes']} bytes for {weights} bytes of weights"


@pytest.mark.parametrize("name", sorted(starter.read_manifest()["models"]) or ["none shipped"])
def test_a_shipped_starter_model_scores_what_its_manifest_records(name, omniglot_root):
    if name == "none shipped":
        pytest.skip("no starter model is shipped yet")
    root = omniglot_root
    torch.set_num_threads(1)
    entry = starter.read_manifest()["models"][name]
    learner = learner_from_checkpoint(read_checkpoint(starter.starter_dir() / entry["file"]), "cpu")
    got = 100 * starter.check_accuracy(learner, root, entry["check"].get("split", "test"))
    print(f"\n{name}: {got:.2f}% on the first {starter.CHECK_EPISODES} test episodes (manifest: {entry['check']['accuracy']:.2f})")
    assert got == pytest.approx(entry["check"]["accuracy"], abs=1.0)


def test_build_writes_the_model_without_optimizer_state_and_its_manifest_entry(tmp_path, monkeypatch, omniglot_root):
    from core.trainer import TrainConfig, Trainer

    root = omniglot_root
    train = core.omniglot(root, "train")
    trainer = Trainer(TrainConfig(algorithm="protonet", steps=3, train_way=10, train_query=2, val_episodes=0, device="cpu",
                                  checkpoint_path=str(tmp_path / "t.pt")), train)
    for _ in trainer.run():
        pass
    monkeypatch.setattr(starter, "TEST_EPISODES", 10)
    entry = starter.build("protonet", root, tmp_path / "starter", from_checkpoint=tmp_path / "t.pt", say=lambda *_: None)
    manifest = json.loads((tmp_path / "starter" / "manifest.json").read_text())
    assert manifest["models"]["protonet"] == entry and entry["steps"] == 3 and entry["accuracy"]["5"]["episodes"] == 10
    assert not read_checkpoint(tmp_path / "starter" / "protonet.pt").get("optim")
    assert entry["sha256"] == starter.sha256_of(tmp_path / "starter" / "protonet.pt")
    # its accuracy is below the recipe's target after 3 steps: the check says so
    assert any("below the target" in p for p in starter.problems(tmp_path / "starter"))
    # a short record ships whole
    assert read_checkpoint(tmp_path / "starter" / "protonet.pt")["trainer"]["history"]["step"] == [1, 2, 3]


def test_a_long_training_record_ships_averaged_into_a_few_points(tmp_path, monkeypatch, omniglot_root):
    """A long build's per-step loss and accuracy would outweigh its weights (60,000 MAML steps: three
    times); the shipped model keeps them averaged into STARTER_CURVE_POINTS bins, its validations whole."""
    from core.trainer import TrainConfig, Trainer

    trainer = Trainer(TrainConfig(algorithm="protonet", steps=7, train_way=5, train_query=1, val_every=3, val_episodes=2, device="cpu",
                                  checkpoint_path=str(tmp_path / "t.pt")), core.omniglot(omniglot_root, "train"))
    for _ in trainer.run():
        pass
    record = read_checkpoint(tmp_path / "t.pt")["trainer"]["history"]
    monkeypatch.setattr(starter, "TEST_EPISODES", 4)
    monkeypatch.setattr(starter, "STARTER_CURVE_POINTS", 3)
    starter.build("protonet", omniglot_root, tmp_path / "starter", from_checkpoint=tmp_path / "t.pt", say=lambda *_: None)
    shipped = read_checkpoint(tmp_path / "starter" / "protonet.pt")["trainer"]["history"]
    edges = [0, 2, 5, 7]  # 7 steps in 3 equal bins
    assert shipped["step"] == [record["step"][e - 1] for e in edges[1:]] == [2, 5, 7]
    for key in ("loss", "accuracy"):
        assert shipped[key] == pytest.approx([sum(record[key][a:b]) / (b - a) for a, b in zip(edges, edges[1:])])
    assert shipped["val_step"] == record["val_step"] and shipped["val_accuracy"] == record["val_accuracy"]


def test_a_transductive_model_is_measured_both_ways_the_papers_batch_and_the_apps_query_by_query(tmp_path, monkeypatch, omniglot_root):
    """MAML's papers score an episode's queries as one batch (BatchNorm on the batch's statistics);
    the app classifies each query on its own. The manifest records both; a model with running
    statistics, where the two agree by construction, records one."""
    from core.trainer import TrainConfig, Trainer

    trainer = Trainer(TrainConfig(algorithm="maml", steps=2, hparams={"hidden": 8, "meta_batch_size": 2}, val_episodes=0, device="cpu",
                                  checkpoint_path=str(tmp_path / "m.pt")), core.omniglot(omniglot_root, "train"))
    for _ in trainer.run():
        pass
    monkeypatch.setattr(starter, "TEST_EPISODES", 6)
    said = []
    entry = starter.build("maml", omniglot_root, tmp_path / "starter", from_checkpoint=tmp_path / "m.pt", say=said.append)
    each = entry["accuracy"]["5"]["each_query"]
    assert 0 <= each["mean"] <= 100 and each["ci95"] >= 0
    assert any("each query on its own" in line for line in said)
    protonet = Trainer(TrainConfig(algorithm="protonet", steps=1, train_way=5, train_query=2, val_episodes=0, device="cpu",
                                   checkpoint_path=str(tmp_path / "p.pt")), core.omniglot(omniglot_root, "train"))
    for _ in protonet.run():
        pass
    entry = starter.build("protonet", omniglot_root, tmp_path / "starter", from_checkpoint=tmp_path / "p.pt", say=lambda *_: None)
    assert "each_query" not in entry["accuracy"]["5"]


def test_a_lake_recipe_is_tested_on_the_evaluation_alphabets_and_lakes_runs(tmp_path, monkeypatch, omniglot_root):
    from core.trainer import TrainConfig, Trainer

    trainer = Trainer(TrainConfig(algorithm="protonet", steps=3, train_way=10, train_query=2, val_episodes=0, device="cpu",
                                  checkpoint_path=str(tmp_path / "t.pt")), core.omniglot(omniglot_root, "background"))
    for _ in trainer.run():
        pass
    recipe = starter._r("protonet", "--train-split background --steps 3", {5: 99.0, 20: 97.0})
    recipe = dataclasses.replace(recipe, name="handwriting", test_split="evaluation", lake_target=96.7, role="handwriting")
    monkeypatch.setitem(starter.RECIPES, "handwriting", recipe)
    monkeypatch.setattr(starter, "TEST_EPISODES", 10)
    said = []
    entry = starter.build("handwriting", omniglot_root, tmp_path / "starter", from_checkpoint=tmp_path / "t.pt", say=said.append)
    assert (tmp_path / "starter" / "handwriting.pt").is_file() and entry["file"] == "handwriting.pt"
    assert entry["algorithm"] == "protonet" and entry["role"] == "handwriting" and entry["test_split"] == "evaluation"
    assert entry["lake"]["total"] == 400 and entry["lake"]["runs"] == 20 and 0 < entry["lake"]["correct"] < 400
    assert "never saw" in entry["data"] and set(entry["accuracy"]) == {"5", "20"}
    assert any(line.startswith("starter handwriting: Lake's 20 runs: ") for line in said)
    assert starter.lake_label(entry["lake"]) == f"Lake's 20 runs: {entry['lake']['accuracy']:.2f}% ({entry['lake']['correct']} / 400)"
    found = starter.problems(tmp_path / "starter")
    assert any(p.startswith("handwriting: Lake's runs") and "below the target 96.7" in p for p in found)
    with pytest.raises(core.FewShotError, match="tested on Lake et al.'s runs, expected at"):
        starter.build("handwriting", tmp_path, tmp_path / "starter", from_checkpoint=tmp_path / "t.pt", say=said.append)


def test_a_build_cut_short_resumes_to_the_model_an_uninterrupted_build_makes(tmp_path, monkeypatch, omniglot_root):
    """A build that spans sessions: the first is cut short after step 5 (its last checkpoint is at
    step 4); --resume continues from there to the very model an uninterrupted build writes."""
    from core.algorithms.protonet import PrototypicalNetwork

    recipe = starter._r("protonet", "--steps 8 --val-every 4 --val-episodes 0 --train-way 5 --train-query 2 --hp hidden=8", {5: 20.0})
    monkeypatch.setitem(starter.RECIPES, "protonet", recipe)
    monkeypatch.setattr(starter, "TEST_EPISODES", 5)
    quiet = lambda *_: None  # noqa: E731
    whole = starter.build("protonet", omniglot_root, tmp_path / "whole", say=quiet, work=tmp_path / "work-whole", train=main)

    _count_steps(monkeypatch, PrototypicalNetwork, kill_at=5)
    work = tmp_path / "work"
    with pytest.raises(core.FewShotError, match="keeps its last checkpoint"):
        starter.build("protonet", omniglot_root, tmp_path / "resumed", say=quiet, work=work, train=main)
    assert read_checkpoint(work / "protonet.pt")["trainer"]["step"] == 4
    with pytest.raises(core.FewShotError, match="in progress \\(step 4\\); continue it with --resume"):
        starter.build("protonet", omniglot_root, tmp_path / "resumed", say=quiet, work=work, train=main)  # nothing is overwritten
    resumed_steps = _count_steps(monkeypatch, PrototypicalNetwork)
    resumed = starter.build("protonet", omniglot_root, tmp_path / "resumed", say=quiet, work=work, resume=True, train=main)
    assert len(resumed_steps) == 4  # steps 5 to 8: it continued, it did not start again
    assert not (work / "protonet.pt").exists()  # the build's checkpoint goes once the model is written
    a = read_checkpoint(tmp_path / "whole" / "protonet.pt")["model"]
    b = read_checkpoint(tmp_path / "resumed" / "protonet.pt")["model"]
    for name in a:
        assert torch.allclose(a[name].float(), b[name].float(), atol=1e-6), name
    assert resumed["steps"] == whole["steps"] == 8 and resumed["accuracy"] == whole["accuracy"]


def test_the_manifest_is_held_while_one_build_writes_it(tmp_path):
    """Two builds side by side (one per core) each read, change and write the manifest: while one
    holds it, another cannot take it, so neither drops the other's entry."""
    fcntl = pytest.importorskip("fcntl")
    import os

    with starter._manifest_lock(tmp_path):
        other = os.open(tmp_path, os.O_RDONLY)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(other)
    other = os.open(tmp_path, os.O_RDONLY)
    try:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released when the write is done
    finally:
        os.close(other)


def test_cli_starter_lists_every_recipe_and_checks_a_folder(tmp_path, capsys):
    assert main(["starter", "list"]) == 0
    out = capsys.readouterr().out
    assert all(f"| `{name}` |" in out for name in starter.RECIPES)
    for name, entry in starter.read_manifest()["models"].items():
        assert f"| `{name}` | {starter.RECIPES[name].readme_row} | yes | {entry['accuracy']['5']['mean']:.2f}" in out
    assert main(["starter", "check"]) == 0
    # a shipped file changed after its manifest was written: check says which, exit 1
    folder = tmp_path / "starter"
    folder.mkdir()
    manifest = starter.read_manifest()
    for entry in manifest["models"].values():
        (folder / entry["file"]).write_bytes((starter.starter_dir() / entry["file"]).read_bytes())
    (folder / "manifest.json").write_text(json.dumps(manifest))
    assert main(["starter", "check", "--dir", str(folder)]) == 0
    capsys.readouterr()
    if manifest["models"]:
        name, entry = next(iter(manifest["models"].items()))
        (folder / entry["file"]).write_bytes(b"not the model")
        assert main(["starter", "check", "--dir", str(folder)]) == 1
        assert f"{name}: {entry['file']} does not match its manifest entry" in capsys.readouterr().out
    assert main(["starter", "build"]) == 2  # no --data


def test_an_ensemble_recipe_trains_each_member_then_assembles_them_and_resumes_mid_member(tmp_path, monkeypatch, omniglot_root):
    """An ensemble recipe: each member by its own command, then `fewshot ensemble`; a build cut
    short in the second member continues there (the first is not trained again) to the model an
    uninterrupted build writes."""
    from core.algorithms.protonet import PrototypicalNetwork

    member = "--steps 4 --val-every 2 --val-episodes 0 --train-way 5 --train-query 2 --hp hidden=8 --seed {}"
    recipe = dataclasses.replace(starter._r("protonet", member.format(0), {5: 20.0}),
                                 members=(tuple(member.format(0).split()), tuple(member.format(1).split())), ensemble_settings=("test_views=2",))
    monkeypatch.setitem(starter.RECIPES, "protonet", recipe)
    monkeypatch.setattr(starter, "TEST_EPISODES", 5)
    assert recipe.command().splitlines()[-1] == "fewshot ensemble protonet.m1.pt protonet.m2.pt --out protonet.pt --hp test_views=2"
    quiet = lambda *_: None  # noqa: E731
    whole = starter.build("protonet", omniglot_root, tmp_path / "whole", say=quiet, work=tmp_path / "work-whole", train=main)
    model = read_checkpoint(tmp_path / "whole" / "protonet.pt")
    assert model["hparams"]["members"] == 2 and model["hparams"]["test_views"] == 2 and whole["steps"] == 8

    _count_steps(monkeypatch, PrototypicalNetwork, kill_at=7)  # step 3 of the second member; its last checkpoint is at step 2
    work = tmp_path / "work"
    with pytest.raises(core.FewShotError, match="keeps its last checkpoint"):
        starter.build("protonet", omniglot_root, tmp_path / "resumed", say=quiet, work=work, train=main)
    assert read_checkpoint(work / "protonet.m2.pt")["trainer"]["step"] == 2
    calls = _count_steps(monkeypatch, PrototypicalNetwork)
    starter.build("protonet", omniglot_root, tmp_path / "resumed", say=quiet, work=work, resume=True, train=main)
    assert len(calls) == 2  # the second member's steps 3 and 4; the first was finished
    assert not list(work.glob("*.pt"))
    a, b = model["model"], read_checkpoint(tmp_path / "resumed" / "protonet.pt")["model"]
    assert set(a) == set(b) and any(k.startswith("more_encoders.0.") for k in a)
    for key in a:
        assert torch.allclose(a[key].float(), b[key].float(), atol=1e-6), key
