import dataclasses

import pytest
import torch

import core
from core.algorithms import ALGORITHMS, hparam_fields, hparams_from_dict
from core.episodes import Episode


def _random_tasks(n_tasks, n_way=3, k=1, q=2, size=8, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    tasks = []
    for _ in range(n_tasks):
        tasks.append(Episode(torch.rand(n_way * k, 1, size, size, generator=g, dtype=dtype), torch.arange(n_way).repeat_interleave(k),
                             torch.rand(n_way * q, 1, size, size, generator=g, dtype=dtype), torch.arange(n_way).repeat_interleave(q),
                             tuple("abc"[:n_way])))
    return tasks


def _tiny_maml(first_order: bool):
    torch.manual_seed(0)
    spec = core.InputSpec(size=(8, 8))
    m = core.create("maml", {"hidden": 4, "inner_lr": 0.3, "inner_steps": 2, "first_order": first_order}, spec, n_way=3)
    return m.double()


def _flat_grad(m, tasks):
    theta = m.params()
    loss, _ = m.meta_loss(tasks)
    grads = torch.autograd.grad(loss, list(theta.values()))
    return torch.cat([g.flatten() for g in grads])


def test_registry_lists_the_algorithms_with_frozen_paper_defaults():
    assert {"protonet", "maml", "fomaml", "reptile"} <= set(ALGORITHMS)
    for cls in ALGORITHMS.values():
        hp = cls.HParams()
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(hp, dataclasses.fields(hp)[0].name, 1)
        for f in hparam_fields(cls.HParams):
            assert f["doc"], f"{cls.name}.{f['name']} has no doc"
        assert cls.family in core.FAMILIES
    assert core.get_algorithm("maml").HParams().inner_lr == 0.4
    assert core.get_algorithm("protonet").HParams().train_way == 60
    assert core.get_algorithm("fomaml").HParams().first_order is True


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_presets_are_valid_settings_that_differ_from_the_paper(name):
    cls = ALGORITHMS[name]
    defaults = dataclasses.asdict(cls.HParams())
    for label, values in cls.presets.items():
        parsed = hparams_from_dict(cls.HParams, values)  # raises on an unknown field or a bad value
        assert all(getattr(parsed, k) == v != defaults[k] for k, v in values.items()), (label, values)


def test_hparams_from_dict_parses_and_validates():
    hp = hparams_from_dict(core.get_algorithm("maml").HParams, {"inner_lr": "0.1", "first_order": "true", "inner_steps": "5"})
    assert hp.inner_lr == 0.1 and hp.first_order is True and hp.inner_steps == 5
    with pytest.raises(ValueError, match="unknown hyperparameter"):
        hparams_from_dict(core.get_algorithm("maml").HParams, {"nope": 1})
    with pytest.raises(ValueError, match="out of range"):
        hparams_from_dict(core.get_algorithm("maml").HParams, {"inner_steps": 0})
    with pytest.raises(ValueError, match="expected one of"):
        hparams_from_dict(core.get_algorithm("maml").HParams, {"bn_mode": "weird"})


def test_maml_second_order_gradient_matches_finite_differences():
    m = _tiny_maml(first_order=False)
    tasks = _random_tasks(2)
    analytic = _flat_grad(m, tasks)
    params = list(m.net.parameters())
    flat = torch.cat([p.detach().flatten() for p in params])
    g = torch.Generator().manual_seed(1)
    coords = torch.randperm(len(flat), generator=g)[:40].tolist()
    eps = 1e-6

    def loss_at(vec):
        with torch.no_grad():
            torch.nn.utils.vector_to_parameters(vec, params)
        return float(m.meta_loss(tasks)[0].detach())

    numeric = []
    for i in coords:
        e = torch.zeros_like(flat)
        e[i] = eps
        numeric.append((loss_at(flat + e) - loss_at(flat - e)) / (2 * eps))
    loss_at(flat)
    numeric = torch.tensor(numeric, dtype=torch.float64)
    rel = (analytic[coords] - numeric).norm() / numeric.norm()
    assert rel < 1e-4, f"relative error {rel:.2e}"
    # and along a random direction through all coordinates at once
    d = torch.randn(len(flat), generator=g, dtype=torch.float64)
    fd = (loss_at(flat + eps * d) - loss_at(flat - eps * d)) / (2 * eps)
    loss_at(flat)
    assert abs(fd - float(analytic @ d)) / abs(fd) < 1e-4


def test_fomaml_gradient_is_query_gradient_at_adapted_weights_and_differs_from_maml():
    tasks = _random_tasks(1)
    fo = _tiny_maml(first_order=True)
    so = _tiny_maml(first_order=False)
    g_fo = _flat_grad(fo, tasks)
    g_so = _flat_grad(so, tasks)
    # the query-loss gradient evaluated at θ' (θ' treated as a leaf)
    t = tasks[0]
    adapted = fo.inner_loop(fo.params(), t.support_x, t.support_y, fo.hparams.inner_steps, create_graph=False)
    leaf = {k: v.detach().requires_grad_() for k, v in adapted.items()}
    qloss = torch.nn.functional.cross_entropy(torch.func.functional_call(fo.net, leaf, (t.query_x,)), t.query_y)
    g_query = torch.cat([g.flatten() for g in torch.autograd.grad(qloss, list(leaf.values()))])
    assert torch.allclose(g_fo, g_query, rtol=1e-10, atol=1e-12)
    assert g_fo.abs().sum() > 0  # the gradient still reaches θ
    assert (g_fo - g_so).norm() / g_so.norm() > 1e-3


@pytest.mark.parametrize("name,steps,config,threshold", [
    ("protonet", 40, {"train_way": 20, "train_query": 5}, 0.60),  # 3× chance; ~0.65 on the built-in fallback, more on Omniglot
    ("maml", 25, {"meta_batch": 16}, 0.45),
    ("fomaml", 30, {"meta_batch": 16}, 0.40),
    ("reptile", 40, {}, 0.40),
])
def test_each_algorithm_learns_well_above_chance(small_real_sources, name, steps, config, threshold):
    train, test = small_real_sources
    cfg = core.TrainConfig(algorithm=name, steps=steps, val_every=10**6, val_episodes=0, device="cpu", seed=0, **config)
    trainer = core.Trainer(cfg, train)
    for _ in trainer.run():
        pass
    res = core.evaluate(trainer.learner, test, n_way=5, k_shot=1, q_query=5, episodes=40)
    assert res.mean > threshold, f"{name}: {res} (chance 20%)"
    # every query on its own, as the app classifies: a lone query is not normalised by itself
    # (MAML and Reptile use the batch's BatchNorm statistics; a batch of one is near chance)
    alone = core.evaluate(trainer.learner, test, n_way=5, k_shot=1, q_query=5, episodes=40, each_query=True)
    assert alone.mean > threshold, f"{name}, each query on its own: {alone} (chance 20%)"


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_classifier_probabilities_sum_to_one_for_fewer_ways(name, small_real_sources):
    train, _ = small_real_sources
    learner = core.create(name, None, train.spec, n_way=5)
    ep = core.EpisodeSampler(train, 3, 2, 4, seed=0).episode(0)
    clf = learner.adapt(ep.support_x, ep.support_y)
    p = clf.predict_proba(ep.query_x)
    assert p.shape == (12, 3)
    assert torch.allclose(p.sum(-1), torch.ones(12), atol=1e-5)


def _bn_modes(name):
    """The algorithm's BatchNorm modes, or [None] when it has no such setting."""
    fields = {f["name"]: f for f in hparam_fields(ALGORITHMS[name].HParams)}
    return list(fields["bn_mode"]["choices"]) if "bn_mode" in fields else [None]


@pytest.mark.parametrize("name,bn_mode", [(n, m) for n in sorted(ALGORITHMS) for m in _bn_modes(n)])
def test_classify_each_gives_every_query_a_prediction_independent_of_the_others(name, bn_mode, small_real_sources):
    train, _ = small_real_sources
    torch.manual_seed(0)
    learner = core.create(name, None if bn_mode is None else {"bn_mode": bn_mode}, train.spec, n_way=5)
    ep = core.EpisodeSampler(train, 5, 1, 2, seed=0).episode(0)
    clf = learner.adapt(ep.support_x, ep.support_y)
    together = clf.classify_each(ep.query_x)
    alone = torch.cat([clf.classify_each(ep.query_x[i:i + 1]) for i in range(10)])
    assert together.shape == (10, 5) and torch.allclose(together.exp().sum(-1), torch.ones(10), atol=1e-5)
    assert torch.allclose(together, alone, atol=1e-5)
    if not clf.batch_dependent:  # then the batch and the per-query predictions are the same thing
        assert torch.allclose(clf(ep.query_x), together, atol=1e-5)
    elif bn_mode == "transductive" and name in ("maml", "fomaml", "reptile", "lstm_meta"):
        # the batch's own statistics: a query classified in a batch of one is normalised by itself,
        # which classify_each never does
        assert not torch.allclose(clf(ep.query_x[:1]), alone[:1], atol=1e-4)


def test_budget_learning_rate_schedule_follows_progress_and_step_schedule_halves():
    spec = core.InputSpec(size=(16, 16))
    tasks = _random_tasks(1, size=16, dtype=torch.float32)
    m = core.create("protonet", {"hidden": 4, "lr_schedule": "budget", "train_way": 0, "train_query": 0}, spec, n_way=3)
    lrs = []
    for progress in (0.0, 0.5, 1.0):
        m.progress = progress
        m.meta_train_step(tasks)
        lrs.append(m.optimizer.param_groups[0]["lr"])
    assert lrs == pytest.approx([1e-3, 1e-3 * (0.01 + 0.99 * 0.5), 1e-5])
    m = core.create("protonet", {"hidden": 4, "lr_halve_every": 2, "train_way": 0, "train_query": 0}, spec, n_way=3)
    for _ in range(4):
        m.progress = 0.9  # ignored by the paper's step schedule
        m.meta_train_step(tasks)
    assert m.optimizer.param_groups[0]["lr"] == pytest.approx(1e-3 / 4)


@pytest.mark.parametrize("name,hparams", [("maml", {"hidden": 4}), ("reptile", {"hidden": 4}), ("lstm_meta", {"filters": 4, "hidden": 4}),
                                          ("metanet", {"hidden": 4, "fc_hidden": 4, "rep_dim": 4})])
def test_a_head_per_training_way_refuses_more_ways_with_one_message(name, hparams):
    """The learners whose head has one output per training way share one check and one message."""
    torch.manual_seed(0)
    m = core.create(name, hparams, core.InputSpec(size=(28, 28)), n_way=3)
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(4, 1, 28, 28, generator=g), torch.arange(4)
    with pytest.raises(ValueError, match=r"^this model was meta-trained for 3-way tasks; it cannot classify 4 classes \(meta-train with ≥ 4 ways\)$"):
        m.adapt(x, y).classify_each(x)
    assert m.adapt(x[:2], y[:2]).predict_proba(x[:2]).shape == (2, 2)  # fewer ways: the head's first rows


def test_episode_predictions_are_what_episode_accuracy_scores_and_none_for_an_episode_without_queries():
    torch.manual_seed(0)
    learner = core.create("protonet", {"hidden": 4}, core.InputSpec(size=(16, 16)))
    ep = _random_tasks(1, size=16, dtype=torch.float32)[0]
    predicted = core.episode_predictions(learner, ep)
    assert predicted.shape == ep.query_y.shape and int(predicted.max()) < 3
    assert core.episode_accuracy(learner, ep) == pytest.approx(float((predicted == ep.query_y).float().mean()))
    no_queries = dataclasses.replace(ep, query_x=ep.query_x[:0], query_y=ep.query_y[:0])  # a MANN training episode
    assert core.episode_predictions(learner, no_queries).tolist() == []
