"""LSTM Meta-Learner (Ravi & Larochelle 2017): the cell state is the learner, the meta-gradient
reaches the meta-learner and c_0 with the gradient inputs held constant, and it learns."""
import dataclasses

import pytest
import torch
import torch.nn.functional as F

import core
from core.algorithms.lstm_meta import preprocess
from core.episodes import Episode


def _tiny(n_way=3, dtype=torch.float64, **hparams):
    torch.manual_seed(0)
    spec = core.InputSpec(size=(16, 16))
    m = core.create("lstm_meta", {"filters": 4, "update_steps": 3, **hparams}, spec, n_way=n_way)
    return m.to(dtype)


def _task(n_way=3, k=2, q=3, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return Episode(torch.rand(n_way * k, 1, 16, 16, generator=g, dtype=dtype), torch.arange(n_way).repeat_interleave(k),
                   torch.rand(n_way * q, 1, 16, 16, generator=g, dtype=dtype), torch.arange(n_way).repeat_interleave(q),
                   tuple("abcde"[:n_way]))


def _module_with(m, c, n_way):
    """An ordinary learner module (the same architecture) whose parameters are loaded from c."""
    from core.algorithms.lstm_meta import ConvLearner

    net = ConvLearner(1, m.hparams.filters, n_way, (1, 16, 16)).to(c.dtype)
    torch.nn.utils.vector_to_parameters(c.detach().clone(), net.parameters())
    return net


def _grads(m, loss):
    params = [p for p in m.parameters()]
    return torch.autograd.grad(loss, params, allow_unused=False)


def test_preprocessing_follows_andrychowicz():
    p = 10.0
    x = torch.tensor([2.0, -1e-3, 1e-6, -1e-6, 0.0], dtype=torch.float64)
    out = preprocess(x, p)
    assert out[0].tolist() == pytest.approx([torch.log(torch.tensor(2.0)).item() / p, 1.0])
    assert out[1].tolist() == pytest.approx([torch.log(torch.tensor(1e-3)).item() / p, -1.0])
    # below e^-p ≈ 4.5e-5: (−1, e^p·x)
    assert out[2].tolist() == pytest.approx([-1.0, 1e-6 * torch.exp(torch.tensor(p)).item()])
    assert out[3].tolist() == pytest.approx([-1.0, -1e-6 * torch.exp(torch.tensor(p)).item()])
    assert out[4].tolist() == [-1.0, 0.0]


def test_cell_state_after_T_steps_is_the_learners_parameter_vector():
    m = _tiny()
    t = _task()
    trace = []
    c0 = m.initial_cell(3)
    c_T = m.unroll(c0, t.support_x, t.support_y, 3, trace)
    assert len(trace) == 3
    for c_prev, grad, loss, i_t, f_t, c_t in trace:
        # ∇_t and L_t are the ordinary learner's loss and gradient at parameters c_{t−1}
        net = _module_with(m, c_prev, 3)
        ref_loss = F.cross_entropy(net(t.support_x), t.support_y)
        ref_grad = torch.cat([g.flatten() for g in torch.autograd.grad(ref_loss, list(net.parameters()))])
        assert torch.allclose(loss, ref_loss.detach(), rtol=1e-12)
        assert torch.allclose(grad, ref_grad, rtol=1e-10, atol=1e-14)
        # eq. 2: c_t = f_t ⊙ c_{t−1} + i_t ⊙ (−∇_t), gates in (0, 1)
        assert torch.allclose(c_t, f_t * c_prev - i_t * grad, rtol=1e-12, atol=1e-15)
        assert bool(((i_t > 0) & (i_t < 1) & (f_t > 0) & (f_t < 1)).all())
    assert (c_T - c0).abs().max() > 1e-6  # the learner did move
    # adapt() runs the same T updates, and its classifier is the learner with parameters c_T
    clf = m.adapt(t.support_x, t.support_y)
    assert torch.allclose(clf.cell_state, c_T.detach(), rtol=1e-12, atol=1e-15)
    expected = F.log_softmax(_module_with(m, c_T, 3)(t.query_x), dim=-1)
    assert torch.allclose(clf(t.query_x), expected.detach(), rtol=1e-10, atol=1e-12)


def test_meta_gradient_reaches_the_lstm_weights_and_c0_and_a_step_changes_them():
    m = _tiny()
    t = _task()
    loss, _ = m.task_loss(t)
    named = dict(m.named_parameters())
    grads = dict(zip(named, _grads(m, loss)))
    assert {"c0", "meta.layer1.weight_ih", "meta.layer1.weight_hh", "meta.gate_w", "meta.gate_b"} <= set(grads)
    for name, g in grads.items():
        assert torch.isfinite(g).all(), name
        assert g.abs().sum() > 0, f"no meta-gradient reaches {name}"
    before = {k: v.detach().clone() for k, v in named.items()}
    metrics = m.meta_train_step([t])
    assert metrics.episodes == 1 and 0.0 <= metrics.accuracy <= 1.0
    for name, p in m.named_parameters():
        assert not torch.equal(p.detach(), before[name]), f"{name} did not change"


def test_gradient_inputs_are_constants_no_second_order_term():
    m = _tiny()
    t = _task()
    loss, _ = m.task_loss(t)
    g_model = torch.cat([g.flatten() for g in _grads(m, loss)])

    # Record ∇_t, L_t, then replay them as fixed inputs: the same meta-gradient means the model
    # differentiates nothing through them.
    trace = []
    with torch.no_grad():
        m.unroll(m.initial_cell(3), t.support_x, t.support_y, 3, trace)
    recorded = [(g, l) for _, g, l, *_ in trace]

    def replay(frozen):
        it = iter(frozen)
        m.support_gradient = lambda c, sx, sy: next(it)
        try:
            return m.task_loss(t)[0]
        finally:
            del m.support_gradient

    g_frozen = torch.cat([g.flatten() for g in _grads(m, replay(recorded))])
    assert torch.allclose(g_model, g_frozen, rtol=1e-10, atol=1e-14)

    # ... and that gradient is right: finite differences of the replayed (frozen-input) loss in c_0
    d = torch.randn(m.c0.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    eps = 1e-6
    with torch.no_grad():
        base = m.c0.detach().clone()
        m.c0.copy_(base + eps * d)
        up = float(replay(recorded))
        m.c0.copy_(base - eps * d)
        down = float(replay(recorded))
        m.c0.copy_(base)
    n_c0 = m.c0.numel()
    fd = (up - down) / (2 * eps)
    assert abs(fd - float(g_model[:n_c0] @ d)) <= 1e-5 * abs(fd) + 1e-9

    # The test has power: differentiating through ∇_t (second order) gives a different gradient.
    def second_order(c, sx, sy):
        lo = F.cross_entropy(m.learner_logits(c, sx), sy)
        (g,) = torch.autograd.grad(lo, c, create_graph=True)
        return g, lo

    m.support_gradient = second_order
    try:
        g_second = torch.cat([g.flatten() for g in _grads(m, m.task_loss(t)[0])])
    finally:
        del m.support_gradient
    assert (g_second - g_model).norm() / g_model.norm() > 1e-3


def test_fewer_ways_slice_the_head_and_more_ways_are_refused():
    m = _tiny(n_way=5)
    feats = m.layout[-2][1][1]
    c5, c3 = m.initial_cell(5), m.initial_cell(3)
    assert c5.shape[0] - c3.shape[0] == 2 * (feats + 1)
    p5, p3 = m.unflatten(c5), m.unflatten(c3)
    assert torch.equal(p3["head.weight"], p5["head.weight"][:3]) and torch.equal(p3["head.bias"], p5["head.bias"][:3])
    for name in p3:
        if not name.startswith("head."):
            assert torch.equal(p3[name], p5[name])
    t = _task(n_way=3)
    clf = m.adapt(t.support_x, t.support_y)
    assert clf(t.query_x).shape == (9, 3)
    with pytest.raises(ValueError, match="5-way"):
        m.initial_cell(6)


def test_sgd_baseline_fine_tunes_the_same_c0_and_reads_hparams_at_adapt_time():
    m = _tiny()
    t = _task()
    # replaced after construction, as `fewshot eval --hp` does on a loaded checkpoint
    m.hparams = dataclasses.replace(m.hparams, test_update="sgd", sgd_lr=0.3, sgd_steps=2)
    clf = m.adapt(t.support_x, t.support_y)
    c = m.c0.detach().clone()
    for _ in range(2):
        net = _module_with(m, c, 3)
        lo = F.cross_entropy(net(t.support_x), t.support_y)
        c = c - 0.3 * torch.cat([g.flatten() for g in torch.autograd.grad(lo, list(net.parameters()))])
    assert torch.allclose(clf.cell_state, c, rtol=1e-10, atol=1e-14)
    lstm = dataclasses.replace(m.hparams, test_update="lstm")
    m.hparams = lstm
    assert not torch.allclose(m.adapt(t.support_x, t.support_y).cell_state, c)


def test_support_statistics_mode_classifies_each_query_on_its_own():
    t = _task()
    m = _tiny(bn_mode="support")
    clf = m.adapt(t.support_x, t.support_y)
    together = clf(t.query_x)
    alone = torch.cat([clf(t.query_x[i: i + 1]) for i in range(len(t.query_x))])
    assert torch.allclose(together, alone, rtol=1e-10, atol=1e-12)
    m = _tiny(bn_mode="transductive")  # the batch's own statistics: queries influence each other
    clf = m.adapt(t.support_x, t.support_y)
    assert not torch.allclose(clf(t.query_x)[:2], clf(t.query_x[:2]), rtol=1e-6, atol=1e-8)


def test_lstm_meta_learner_learns_5way_1shot_well_above_chance(small_real_sources):
    # Default hyperparameters, 60 training episodes of 5-way 1-shot 15-query (~14 s of one core;
    # measured 77% on these 40 test episodes, seed 0).
    train, test = small_real_sources
    cfg = core.TrainConfig(algorithm="lstm_meta", n_way=5, k_shot=1, q_query=5, train_query=15, steps=60, val_every=10**6,
                           val_episodes=0, device="cpu", seed=0)
    trainer = core.Trainer(cfg, train)
    for _ in trainer.run():
        pass
    res = core.evaluate(trainer.learner, test, n_way=5, k_shot=1, q_query=5, episodes=40)
    assert res.mean > 0.6, f"lstm_meta: {res} (chance 20%)"
