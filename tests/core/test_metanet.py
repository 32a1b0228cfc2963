"""Meta Networks: fast weights, meta information, gradient flow, and a learning test on real data."""
import dataclasses

import pytest
import torch
import torch.nn.functional as F

import core
from core.algorithms.metanet import head_forward, preprocess_gradient
from core.episodes import Episode

SPEC = core.InputSpec(size=(16, 16))
TINY = {"hidden": 6, "fc_hidden": 7, "rep_dim": 5, "meta_hidden": 4}


def _tiny(n_way=3, **hp):
    torch.manual_seed(0)
    return core.create("metanet", {**TINY, **hp}, SPEC, n_way=n_way).double()


def _task(n_way=3, k=1, q=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = lambda n: torch.rand(n, 1, 16, 16, generator=g, dtype=torch.float64)  # noqa: E731
    return Episode(x(n_way * k), torch.arange(n_way).repeat_interleave(k), x(n_way * q), torch.arange(n_way).repeat_interleave(q), tuple("abcdefgh"[:n_way]))


def _phases(m, t):
    s = len(t.support_x)
    x = torch.cat([t.support_x, t.query_x])
    fb, fu = m.b_trunk(x), m.u_trunk(x)
    memory = m.support_phase(fb[:s], fu[:s], t.support_y, t.n_way)
    return memory, fb[s:], fu[s:]


def test_fast_weights_change_the_base_learners_output_and_zeroed_ones_leave_the_slow_learner():
    m = _tiny()
    m.train()
    t = _task()
    memory, fb, fu = _phases(m, t)
    with_fast = m.query_phase(memory, fb, fu)
    zeroed = m.query_phase(dataclasses.replace(memory, values=torch.zeros_like(memory.values)), fb, fu)
    slow_only = head_forward(m.b_head.slow(t.n_way), fb)
    # Layer augmentation with W* = 0 adds relu(0) = 0 and 0: exactly the slow base learner.
    assert torch.allclose(zeroed, slow_only, rtol=0, atol=1e-12)
    assert (with_fast - zeroed).abs().max() > 1e-3
    # The example-level fast weights differ per support example, so the attention read matters:
    # the same input with another query's fast weights gives another output.
    fast = m.read(memory, fu)
    swapped = {k: v.flip(0) for k, v in fast.items()}
    assert not torch.allclose(head_forward(m.b_head.slow(t.n_way), fb, fast), head_forward(m.b_head.slow(t.n_way), fb, swapped))
    # Task-level fast weights change u's representation of the same input.
    q_zero = {k: torch.zeros_like(v) for k, v in memory.task_fast.items()}
    assert (head_forward(m.u_head.slow(), fu, memory.task_fast) - head_forward(m.u_head.slow(), fu, q_zero)).abs().max() > 1e-3


def test_meta_information_is_each_support_examples_own_gradient():
    m = _tiny(n_way=4)
    m.train()
    t = _task(n_way=3, k=2)  # fewer ways than trained: b's output layer is sliced to 3 units
    fb = m.b_trunk(t.support_x).detach()
    fu = m.u_trunk(t.support_x).detach()
    batched = m.example_gradients(fb, t.support_y, 3)
    slow = {k: v.detach().requires_grad_() for k, v in m.b_head.slow(3).items()}
    for i in range(len(fb)):
        loss = F.cross_entropy(head_forward(slow, fb[i:i + 1]), t.support_y[i:i + 1])
        for name, g in zip(slow, torch.autograd.grad(loss, list(slow.values()))):
            assert torch.allclose(batched[name][i], g, atol=1e-10), name
    assert batched["w2"].shape == (6, 3, 7)
    # The representation loss: contrastive on the ring pairs (i, i+1); with 2 shots some are positive.
    a, b = m.representation_pairs(t.support_y)
    assert a.tolist() == [0, 1, 2, 3, 4, 5] and b.tolist() == [1, 2, 3, 4, 5, 0]
    pair_grads = m.pair_gradients(fu, t.support_y)
    u_slow = {k: v.detach().requires_grad_() for k, v in m.u_head.slow().items()}
    for i, (ia, ib) in enumerate(zip(a.tolist(), b.tolist())):
        ra = F.normalize(head_forward(u_slow, fu[ia:ia + 1]), dim=-1)
        rb = F.normalize(head_forward(u_slow, fu[ib:ib + 1]), dim=-1)
        dist = (ra - rb).norm()
        loss = dist ** 2 if t.support_y[ia] == t.support_y[ib] else (2 - dist).clamp_min(0) ** 2
        for name, g in zip(u_slow, torch.autograd.grad(loss, list(u_slow.values()))):
            assert torch.allclose(pair_grads[name][i], g, atol=1e-8), name


def test_gradient_preprocessing_keeps_sign_and_magnitude():
    g = torch.tensor([0.5, -0.5, 1e-6, -1e-6, 0.0], dtype=torch.float64)
    x = preprocess_gradient(g, 10.0)
    assert torch.allclose(x[:2, 0], torch.log(torch.tensor(0.5, dtype=torch.float64)) / 10)
    assert x[0, 1] == 1 and x[1, 1] == -1
    assert (x[2:, 0] == -1).all()  # below e^-10: (−1, e^p·g)
    assert torch.allclose(x[2:, 1], g[2:] * torch.exp(torch.tensor(10.0, dtype=torch.float64)))


@pytest.mark.parametrize("task_generator", ["lstm", "mlp"])
def test_query_loss_reaches_the_slow_weights_of_b_u_m_and_d(task_generator):
    m = _tiny(task_generator=task_generator)
    m.train()
    t = _task(k=2)
    logits = m.episode_logits(t.support_x, t.support_y, t.query_x, t.n_way)
    F.cross_entropy(logits, t.query_y).backward()
    for part in ("b_trunk", "b_head", "u_trunk", "u_head", "m", "d"):
        for name, p in getattr(m, part).named_parameters():
            assert p.grad is not None and p.grad.abs().sum() > 0, f"no gradient reaches {part}.{name}"


def test_adapt_is_deterministic_handles_fewer_ways_and_refuses_more():
    for bn_mode in ("running", "transductive"):
        m = _tiny(n_way=5, bn_mode=bn_mode)
        t = _task(n_way=3, k=1, q=3, seed=1)
        p1 = m.adapt(t.support_x, t.support_y).predict_proba(t.query_x)
        p2 = m.adapt(t.support_x, t.support_y).predict_proba(t.query_x)
        assert p1.shape == (9, 3) and torch.allclose(p1.sum(-1), torch.ones(9, dtype=torch.float64))
        assert torch.equal(p1, p2)
    big = _task(n_way=6)
    with pytest.raises(ValueError, match="5-way"):
        m.adapt(big.support_x, big.support_y)


def test_meta_train_step_lowers_the_loss_on_a_fixed_task():
    m = _tiny()
    t = _task(q=3)
    first = m.meta_train_step([t]).loss
    for _ in range(15):
        last = m.meta_train_step([t]).loss
    assert last < first


def test_metanet_learns_omniglot_5way_1shot_well_above_chance(small_real_sources):
    train, test = small_real_sources
    cfg = core.TrainConfig(algorithm="metanet", n_way=5, k_shot=1, steps=100, val_every=10**6, val_episodes=0, device="cpu", seed=0)
    trainer = core.Trainer(cfg, train)
    for _ in trainer.run():
        pass
    res = core.evaluate(trainer.learner, test, n_way=5, k_shot=1, q_query=5, episodes=40)
    print(f"metanet after 100 steps: {res}")
    assert res.mean > 0.45, f"metanet: {res} (chance 20%)"
