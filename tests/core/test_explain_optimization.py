"""The optimisation-based learners' explanations (MAML, FOMAML, Reptile, the LSTM meta-learner)
are checked against the model's own numbers: the query's probabilities after every adaptation step
are what `adapt()` with that many steps predicts (the last step: the prediction itself), step 0 is
the unadapted network with the same BatchNorm treatment, the support losses and the weight changes
are those of the model's own steps, and explaining leaves the model, its gradients, its optimizer
state and its train/eval mode as they were."""
import copy
import dataclasses
import time

import pytest
import torch
import torch.nn.functional as F

import core
from core.explanation import Bars, Curves

ATOL = 1e-6


@pytest.fixture
def episode(small_real_sources):
    """A 3-way 1-shot episode for learners meta-trained on 5 ways (their heads are sliced to 3)."""
    train, _ = small_real_sources
    return train.spec, core.EpisodeSampler(train, 3, 1, 2, seed=0).episode(0)


def learner(name: str, spec, **hparams):
    torch.manual_seed(0)
    return core.create(name, hparams, spec, n_way=5)


def with_hparams(model, **changes):
    """The same weights under other hyperparameters (e.g. fewer test-time steps)."""
    other = copy.deepcopy(model)
    other.hparams = dataclasses.replace(model.hparams, **changes)
    return other


def explain_one(model, ep, q: int = 0):
    query = ep.query_x[q:q + 1]
    parts = model.explain_parts(ep.support_x, ep.support_y, query, ["a", "b", "c"])
    return query, {p.title: p for p in parts}


def prob_table(parts) -> torch.Tensor:
    """[steps + 1, N] from the probabilities-per-step curves."""
    curve = parts["The query's class probabilities, step by step"]
    assert isinstance(curve, Curves) and list(curve.series) == ["a", "b", "c"]
    return torch.tensor(list(curve.series.values()), dtype=torch.float64).T


def model_probs(model, ep, query) -> torch.Tensor:
    return core.probabilities(model, ep.support_x, ep.support_y, query)[0]


def unadapted(model, ep, query, transductive: bool, loss_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(the query's probabilities, the support loss) of the network before adaptation, with
    adapt()'s BatchNorm treatment: transductive, a lone query goes through beside the support set."""
    model.net.train(transductive)
    with torch.no_grad():
        batch = torch.cat([ep.support_x, query]) if transductive else query
        probs = model.net(batch)[-1, :3].double().softmax(-1)
        loss = F.cross_entropy(model.net(ep.support_x)[:, :loss_classes], ep.support_y)
    return probs, loss


def assert_before_after_bars(parts, table):
    bars = parts["Before and after adaptation"]
    assert torch.allclose(torch.tensor(bars.series["before"], dtype=torch.float64), table[0])
    assert torch.allclose(torch.tensor(bars.series["after"], dtype=torch.float64), table[-1])


def movement(parts) -> dict[str, tuple[float, float]]:
    absolute = parts["How far each layer's weights moved"]
    relative = parts["How far each layer moved, relative to its size"]
    assert isinstance(absolute, Bars) and absolute.categories == relative.categories
    return {c: (a, r) for c, a, r in zip(absolute.categories, absolute.series["‖θk − θ0‖"], relative.series["% of ‖θ0‖"])}


def assert_layers_moved(moves, start: dict, end: dict, layers: dict[str, str]):
    """Each layer's bars (`layers`: name -> parameter-name prefix) are ‖θ_k − θ_0‖ and its % of ‖θ_0‖."""
    for layer, prefix in layers.items():
        keys = [k for k in start if k.startswith(prefix)]
        assert keys, prefix
        change = sum(float((end[k].detach() - start[k].detach()).double().pow(2).sum()) for k in keys) ** 0.5
        size = sum(float(start[k].detach().double().pow(2).sum()) for k in keys) ** 0.5
        assert moves[layer][0] == pytest.approx(change, rel=1e-6, abs=1e-9), layer
        assert moves[layer][1] == pytest.approx(100 * change / size, rel=1e-6, abs=1e-9), layer


# -- MAML and First-Order MAML -----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["maml", "fomaml"])
@pytest.mark.parametrize("bn_mode", ["transductive", "running"])
def test_maml_probabilities_after_every_inner_step_are_adapts(name, bn_mode, episode):
    spec, ep = episode
    model = learner(name, spec, hidden=8, inner_steps_test=3, bn_mode=bn_mode)
    for q in range(2):
        query, parts = explain_one(model, ep, q)
        table = prob_table(parts)
        assert table.shape == (4, 3)
        for steps in range(1, 4):  # the last is the prediction itself
            assert torch.allclose(table[steps], model_probs(with_hparams(model, inner_steps_test=steps), ep, query), atol=ATOL), steps
        assert torch.allclose(table[-1], model_probs(model, ep, query), atol=ATOL)
        # MAML's inner loop uses the head's first 3 rows: the support loss is over 3 classes
        before, support_loss = unadapted(model, ep, query, bn_mode == "transductive", loss_classes=3)
        assert torch.allclose(table[0], before, atol=ATOL)
        assert_before_after_bars(parts, table)
        losses = parts["Support loss during adaptation"].series["support loss"]
        assert losses[0] == pytest.approx(float(support_loss), rel=1e-6)
        assert losses[-1] < losses[0]  # the inner loop fits the support set


def test_maml_support_losses_and_layer_moves_are_the_inner_loops(episode):
    spec, ep = episode
    model = learner("maml", spec, hidden=8, inner_steps_test=3)
    query, parts = explain_one(model, ep)
    model.train()
    theta = {k: v.detach().requires_grad_() for k, v in model.params(3).items()}
    losses = parts["Support loss during adaptation"].series["support loss"]
    with torch.enable_grad():
        for steps in range(4):
            adapted = model.inner_loop(theta, ep.support_x, ep.support_y, steps, create_graph=False)
            with torch.no_grad():
                loss = F.cross_entropy(torch.func.functional_call(model.net, adapted, (ep.support_x,)), ep.support_y)
            assert losses[steps] == pytest.approx(float(loss), rel=1e-6)
    moves = movement(parts)
    assert list(moves) == ["conv 1", "norm 1", "conv 2", "norm 2", "conv 3", "norm 3", "conv 4", "norm 4", "head"]
    assert_layers_moved(moves, theta, adapted, {"conv 1": "backbone.blocks.0.0.", "norm 4": "backbone.blocks.3.1.", "head": "head."})


# -- Reptile ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bn_mode", ["transductive", "running"])
def test_reptile_probabilities_after_every_adam_step_are_adapts(bn_mode, episode):
    spec, ep = episode
    # 3 support images in batches of 2: the minibatch order reshuffles, as adapt()'s does
    model = learner("reptile", spec, hidden=8, inner_steps_test=5, inner_batch_test=2, inner_lr=0.01, bn_mode=bn_mode)
    query, parts = explain_one(model, ep)
    table = prob_table(parts)
    assert table.shape == (6, 3)
    for steps in range(1, 6):
        assert torch.allclose(table[steps], model_probs(with_hparams(model, inner_steps_test=steps), ep, query), atol=ATOL), steps
    # Reptile trains on all the head's outputs (5), and classifies with the first 3
    before, support_loss = unadapted(model, ep, query, bn_mode == "transductive", loss_classes=5)
    assert torch.allclose(table[0], before, atol=ATOL)
    assert_before_after_bars(parts, table)
    losses = parts["Support loss during adaptation"].series["support loss"]
    assert losses[0] == pytest.approx(float(support_loss), rel=1e-6)
    assert losses[-1] < losses[0]


def test_reptile_layer_moves_are_adapts_adam_steps(episode):
    spec, ep = episode
    model = learner("reptile", spec, hidden=8, inner_steps_test=5, inner_batch_test=2, inner_lr=0.01)
    _, parts = explain_one(model, ep)
    fast = copy.deepcopy(model.net)  # adapt()'s training, done here by hand
    fast.train()
    opt = torch.optim.Adam(fast.parameters(), lr=0.01, betas=(0.0, 0.999), fused=True)  # on a CPU adapt()'s Adam is the fused one
    model._train_on(fast, opt, ep.support_x, ep.support_y, 5, 2, torch.Generator().manual_seed(0))
    assert_layers_moved(movement(parts), dict(model.net.named_parameters()), dict(fast.named_parameters()),
                        {"conv 2": "backbone.blocks.1.0.", "norm 1": "backbone.blocks.0.1.", "head": "head."})


# -- LSTM meta-learner --------------------------------------------------------------------------------

@pytest.mark.parametrize("bn_mode", ["transductive", "support"])
def test_lstm_meta_probabilities_after_every_learned_update_are_adapts(bn_mode, episode):
    spec, ep = episode
    model = learner("lstm_meta", spec, filters=8, update_steps=4, bn_mode=bn_mode)
    query, parts = explain_one(model, ep)
    table = prob_table(parts)
    assert table.shape == (5, 3)
    for steps in range(1, 5):
        assert torch.allclose(table[steps], model_probs(with_hparams(model, update_steps=steps), ep, query), atol=ATOL), steps
    assert_before_after_bars(parts, table)


def test_lstm_meta_gates_and_losses_are_the_learned_updates(episode):
    spec, ep = episode
    model = learner("lstm_meta", spec, filters=8, update_steps=4)
    _, parts = explain_one(model, ep)
    trace = []
    with torch.no_grad():
        c0 = model.initial_cell(3)
        c_T = model.unroll(c0, ep.support_x, ep.support_y, 4, trace)
        final_loss = F.cross_entropy(model.learner_logits(c_T, ep.support_x), ep.support_y)
    for title, column, name in [("Learned learning rate (input gate)", 3, "i"), ("Learned weight decay (forget gate)", 4, "f")]:
        curve = parts[title]
        assert curve.x == [1, 2, 3, 4]
        gates = torch.stack([t[column] for t in trace]).double()
        assert 0 < gates.min() and gates.max() < 1  # a sigmoid: a step size and a share kept
        values = {k: torch.tensor(v, dtype=torch.float64) for k, v in curve.series.items()}
        assert torch.allclose(values[f"{name} mean"], gates.mean(1), rtol=1e-6)
        assert torch.all((0 < values[f"{name} 10th pct"]) & (values[f"{name} 10th pct"] <= values[f"{name} mean"] + 1e-12))
        assert torch.all((values[f"{name} mean"] <= values[f"{name} 90th pct"] + 1e-12) & (values[f"{name} 90th pct"] < 1))
    losses = parts["Support loss: learned update vs plain SGD"]
    learned = losses.series["LSTM update"]
    assert learned == pytest.approx([float(t[2]) for t in trace] + [float(final_loss)], rel=1e-6)
    # plain SGD at the mean first input gate, from the same c_0: the baseline adapt() would run with that rate
    sgd_lr = float(torch.stack([t[3] for t in trace])[0].double().mean())
    assert f"learning rate {sgd_lr:.3g}" in losses.caption
    baseline = with_hparams(model, sgd_lr=sgd_lr, sgd_steps=4)
    with torch.no_grad():
        c_sgd = baseline.sgd_unroll(c0, ep.support_x, ep.support_y)
        sgd_final = F.cross_entropy(model.learner_logits(c_sgd, ep.support_x), ep.support_y)
    assert losses.series["plain SGD"][0] == pytest.approx(learned[0], rel=1e-6)
    assert losses.series["plain SGD"][-1] == pytest.approx(float(sgd_final), rel=1e-5)
    assert_layers_moved(movement(parts), model.unflatten(c0), model.unflatten(c_T),
                        {"conv 3": "convs.2.", "norm 2": "norms.1.", "head": "head."})


def test_lstm_meta_set_to_adapt_with_sgd_explains_the_sgd_path(episode):
    spec, ep = episode
    model = learner("lstm_meta", spec, filters=8, update_steps=3, test_update="sgd", sgd_steps=6, sgd_lr=0.05)
    query, parts = explain_one(model, ep)
    table = prob_table(parts)
    assert table.shape == (7, 3)  # the SGD path adapt() takes, not the learned update's
    assert torch.allclose(table[-1], model_probs(model, ep, query), atol=ATOL)
    assert "learning rate 0.05" in parts["Support loss: learned update vs plain SGD"].caption
    assert len(parts["Support loss during adaptation"].series["support loss"]) == 7


# -- all four -----------------------------------------------------------------------------------------

def assert_same(a, b, where=""):
    """Nested dicts/lists of tensors and plain values are equal."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for k in a:
            assert_same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


@pytest.mark.parametrize("name", ["maml", "fomaml", "reptile", "lstm_meta"])
@pytest.mark.parametrize("training", [True, False])
def test_explaining_leaves_weights_gradients_optimizer_and_mode_alone(name, training, small_real_sources):
    train, _ = small_real_sources
    size = {"filters": 8} if name == "lstm_meta" else {"hidden": 8}
    model = learner(name, train.spec, **size)
    sampler = core.EpisodeSampler(train, 5, 1, 1, seed=0)
    model.meta_train_step([sampler.episode(0)])  # gradients and optimizer state now exist
    model.train(training)
    weights = copy.deepcopy(model.state_dict())
    grads = {k: None if p.grad is None else p.grad.clone() for k, p in model.named_parameters()}
    optim = copy.deepcopy(model.optim_state())
    ep = sampler.episode(1)
    model.explain_parts(ep.support_x, ep.support_y, ep.query_x[:1], list("abcde"))
    assert model.training == training and all(m.training == training for m in model.modules())
    assert_same(weights, model.state_dict(), "weights")
    assert_same(grads, {k: None if p.grad is None else p.grad for k, p in model.named_parameters()}, "grads")
    assert_same(optim, model.optim_state(), "optimizer")


@pytest.mark.parametrize("name", ["maml", "fomaml", "reptile", "lstm_meta"])
def test_one_explanation_of_a_default_size_model(name, small_real_sources, capsys):
    """Default-size Conv-4 models, 5-way 1-shot: the time is printed for a person to read, never asserted."""
    train, _ = small_real_sources
    model = core.create(name, None, train.spec, n_way=5)
    ep = core.EpisodeSampler(train, 5, 1, 1, seed=0).episode(0)
    start = time.perf_counter()
    parts = model.explain_parts(ep.support_x, ep.support_y, ep.query_x[:1], list("abcde"))
    seconds = time.perf_counter() - start
    probs = core.probabilities(model, ep.support_x, ep.support_y, ep.query_x[:1])[0]
    curve = next(p for p in parts if p.title == "The query's class probabilities, step by step")
    assert torch.allclose(torch.tensor([v[-1] for v in curve.series.values()], dtype=torch.float64), probs, atol=ATOL)
    with capsys.disabled():
        print(f"\n{name}: one query explained in {seconds:.3f} s (default size, one thread)")
