"""Prototypical Networks as an ensemble (`members`): networks that learn apart on the same episodes,
a query's distance to a class their mean distance; `fewshot ensemble` assembles networks trained apart."""
from __future__ import annotations

import pytest
import torch

import core
from core.algorithms.protonet import PrototypicalNetwork, ensemble_of
from core.checkpoint import load_checkpoint, read_checkpoint
from core.tools.cli import main


def _episode(n_way=5, k=1, q=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return core.Episode(torch.rand(n_way * k, 1, 28, 28, generator=g), torch.arange(n_way).repeat_interleave(k),
                        torch.rand(n_way * q, 1, 28, 28, generator=g), torch.arange(n_way).repeat_interleave(q),
                        tuple(str(i) for i in range(n_way)))


def _net(seed: int, **hp) -> PrototypicalNetwork:
    torch.manual_seed(seed)
    return core.create("protonet", {"hidden": 8, **hp})


def test_one_network_keeps_its_weights_names():
    """A one-network model has exactly the paper's parameters: checkpoints from before the ensemble load as they were."""
    assert all(k.startswith("encoder.") for k in _net(0).state_dict())
    assert any(k.startswith("more_encoders.0.") for k in _net(0, members=2).state_dict())


def test_the_members_learn_apart_as_networks_trained_one_by_one():
    """Each member learns from its own loss on the same episodes: after three steps an ensemble's
    two networks equal two networks trained alone from the same starting weights."""
    both = _net(0, members=2)
    alone = [_net(1), _net(2)]
    for net, encoder in zip(alone, both.encoders):
        net.encoder.load_state_dict(encoder.state_dict())
    for step in range(3):
        episodes = [_episode(seed=step)]
        both.meta_train_step(episodes)
        for net in alone:
            net.meta_train_step(episodes)
    for net, encoder in zip(alone, both.encoders):
        for a, b in zip(net.encoder.parameters(), encoder.parameters()):
            assert torch.allclose(a, b, atol=1e-6)


def test_an_ensemble_predicts_the_members_geometric_mean():
    """softmax(−mean distance) is the renormalised geometric mean of the members' probabilities."""
    a, b = _net(3), _net(4)
    ep = _episode(seed=7)
    ens = ensemble_of([a, b])
    pa, pb, pe = (core.probabilities(m, ep.support_x, ep.support_y, ep.query_x) for m in (a, b, ens))
    geometric = (pa * pb).sqrt()
    assert torch.allclose(pe, geometric / geometric.sum(-1, keepdim=True), atol=1e-6)
    assert ens.hparams.members == 2 and ens.embed(ep.query_x).shape[1] == 2 * a.embed(ep.query_x).shape[1]
    # an ensemble of an ensemble and a network: three members, in order
    three = ensemble_of([ens, _net(5)], test_views=2)
    assert three.hparams.members == 3 and three.hparams.test_views == 2
    assert torch.equal(three.more_encoders[0].blocks[0][0].weight, b.encoder.blocks[0][0].weight)


def test_the_inside_view_shows_the_distances_it_decides_by():
    ens = ensemble_of([_net(3), _net(4)])
    ep = _episode(seed=2)
    parts = ens.explain_parts(ep.support_x, ep.support_y, ep.query_x[:1], list(ep.class_names))
    bars = parts[1]
    distances = torch.tensor(next(iter(bars.series.values())))
    log_p = ens.adapt(ep.support_x, ep.support_y)(ep.query_x[:1])[0]
    assert torch.allclose(torch.log_softmax(-distances.double(), -1), log_p.double(), atol=1e-5)
    assert "mean" in bars.title.lower() and "2 networks" in bars.title


def test_networks_that_differ_are_not_assembled():
    with pytest.raises(ValueError, match="hidden: 8 vs 16"):
        ensemble_of([_net(0), _net(1, hidden=16)])
    with pytest.raises(ValueError, match="at least two"):
        ensemble_of([_net(0)])


def test_fewshot_ensemble_writes_a_model_the_engine_loads(tmp_path, capsys):
    paths = []
    for seed in (0, 1):
        net = _net(seed)
        history = {"step": list(range(1, 11 + seed)), "loss": [1.0] * (10 + seed), "accuracy": [0.5] * (10 + seed),
                   "val_step": [5], "val_accuracy": [0.4 + seed], "val_ci95": [0.1], "val_train_s": [1.0]}
        paths.append(core.save_checkpoint(tmp_path / f"m{seed}.pt", net, {"step": 10 + seed, "train_s": 2.0, "episodes_seen": 10, "source": "x",
                                                                            "history": history}))
    assert main(["ensemble", *map(str, paths), "--out", str(tmp_path / "e.pt"), "--hp", "test_views=4"]) == 0
    ens, raw = load_checkpoint(tmp_path / "e.pt")
    assert ens.hparams.members == 2 and ens.hparams.test_views == 4
    assert raw["trainer"]["step"] == 21 and raw["trainer"]["train_s"] == 4.0 and [m["file"] for m in raw["trainer"]["members"]] == ["m0.pt", "m1.pt"]
    # its curves: the members' records one after the other, spanning all 21 steps
    h = raw["trainer"]["history"]
    assert h["step"] == list(range(1, 22)) and len(h["loss"]) == 21
    assert h["val_step"] == [5, 15] and h["val_train_s"] == [1.0, 3.0] and h["val_accuracy"] == [0.4, 1.4]

    member = load_checkpoint(paths[1])[0]
    assert torch.equal(ens.more_encoders[0].blocks[0][0].weight, member.encoder.blocks[0][0].weight)
    assert "an ensemble of 2 Prototypical Networks" in capsys.readouterr().out
    # clear refusals, nothing written
    maml = core.save_checkpoint(tmp_path / "maml.pt", core.create("maml"))
    assert main(["ensemble", str(paths[0]), str(maml), "--out", str(tmp_path / "bad.pt")]) == 2
    assert main(["ensemble", *map(str, paths), "--out", str(tmp_path / "bad.pt"), "--hp", "nonsense=1"]) == 2
    err = capsys.readouterr().err
    assert "only Prototypical Networks" in err and "unknown hyperparameter" in err and not (tmp_path / "bad.pt").exists()
    assert read_checkpoint(tmp_path / "e.pt")["algorithm"] == "protonet"


def test_a_long_member_record_is_averaged_into_bins(tmp_path, monkeypatch):
    from core import checkpoint

    monkeypatch.setattr(checkpoint, "ENSEMBLE_CURVE_POINTS", 4)
    paths = []
    for seed in (0, 1):
        history = {"step": list(range(1, 9)), "loss": [float(s) for s in range(1, 9)], "accuracy": [0.5] * 8,
                   "val_step": [8], "val_accuracy": [0.9], "val_ci95": [0.1], "val_train_s": [2.0]}
        paths.append(core.save_checkpoint(tmp_path / f"m{seed}.pt", _net(seed), {"step": 8, "train_s": 2.0, "episodes_seen": 8, "history": history}))
    checkpoint.save_ensemble(paths, tmp_path / "e.pt")
    h = read_checkpoint(tmp_path / "e.pt")["trainer"]["history"]
    assert h["step"] == [2, 4, 6, 8, 10, 12, 14, 16] and h["loss"] == [1.5, 3.5, 5.5, 7.5] * 2
    assert h["val_step"] == [8, 16] and h["accuracy"] == [0.5] * 8
