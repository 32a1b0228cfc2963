"""MAML / First-Order MAML: the batched meta-batch (vmap over tasks) against the per-task loop.

Compared in float64, so that a difference measures the two computations, not float32 rounding
(float32 alone moves a Conv-4 meta-gradient by ~1e-6 relative on either path)."""
import pytest
import torch

import core
from core.episodes import Episode


def _tasks(n_tasks, n_way, k=1, q=1, size=28, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [Episode(torch.rand(n_way * k, 1, size, size, generator=g, dtype=torch.float64), torch.arange(n_way).repeat_interleave(k),
                    torch.rand(n_way * q, 1, size, size, generator=g, dtype=torch.float64), torch.arange(n_way).repeat_interleave(q),
                    tuple(str(i) for i in range(n_way)))
            for _ in range(n_tasks)]


def _learner(name, n_way, inner_steps, **extra):
    torch.manual_seed(0)
    inner_lr = 0.4 if n_way == 5 else 0.1
    hp = {"inner_steps": inner_steps, "inner_lr": inner_lr, "hidden": 16, **extra}
    return core.create(name, hp, core.InputSpec(), n_way=n_way).double()


def _meta_gradient(m, tasks, batched):
    m.batch_tasks = batched
    assert m.step_path(tasks).startswith("batched" if batched else "loop")
    m.train()
    theta = m.params()
    loss, acc = m.meta_loss(tasks)
    return loss, acc, torch.autograd.grad(loss, list(theta.values()))


@pytest.mark.parametrize("name", ["maml", "fomaml"])
@pytest.mark.parametrize("n_way,inner_steps", [(5, 1), (5, 5), (20, 1), (20, 5)])
def test_batched_meta_gradient_equals_the_per_task_loop(name, n_way, inner_steps):
    m = _learner(name, n_way, inner_steps)
    tasks = _tasks(4, n_way)
    loss_b, acc_b, grads_b = _meta_gradient(m, tasks, batched=True)
    loss_l, acc_l, grads_l = _meta_gradient(m, tasks, batched=False)
    assert abs(loss_b.item() - loss_l.item()) <= 1e-5 * abs(loss_l.item())
    assert acc_b == acc_l
    flat_b, flat_l = torch.cat([g.flatten() for g in grads_b]), torch.cat([g.flatten() for g in grads_l])
    assert flat_l.norm() > 0
    assert (flat_b - flat_l).norm() <= 1e-5 * flat_l.norm()
    for (key, p), gb, gl in zip(m.params().items(), grads_b, grads_l):
        # a conv bias right before BatchNorm has a true gradient of zero (the mean subtraction
        # removes it), so what is left there is rounding: compared against the whole gradient
        scale = flat_l.norm() if key.startswith("backbone") and key.endswith(".0.bias") else gl.norm()
        assert (gb - gl).norm() <= 1e-5 * scale, key


def test_first_and_second_order_batched_gradients_differ():
    tasks = _tasks(2, 5)
    _, _, so = _meta_gradient(_learner("maml", 5, 1), tasks, batched=True)
    _, _, fo = _meta_gradient(_learner("fomaml", 5, 1), tasks, batched=True)
    so, fo = torch.cat([g.flatten() for g in so]), torch.cat([g.flatten() for g in fo])
    assert (so - fo).norm() > 1e-3 * so.norm()


def test_a_training_step_is_the_same_on_both_paths():
    tasks = _tasks(3, 5)
    batched, loop = _learner("maml", 5, 1), _learner("maml", 5, 1)
    loop.batch_tasks = False
    assert batched.step_path(tasks) == "batched" and loop.step_path(tasks) == "loop (batching turned off)"
    mb, ml = batched.meta_train_step(tasks), loop.meta_train_step(tasks)
    assert mb.loss == pytest.approx(ml.loss, rel=1e-10) and mb.accuracy == ml.accuracy and mb.episodes == ml.episodes == 3
    for (key, pb), pl in zip(batched.net.state_dict().items(), loop.net.state_dict().values()):
        assert torch.allclose(pb, pl, rtol=1e-7, atol=1e-9), key
    assert set(batched.net.state_dict()) == set(loop.net.state_dict())  # same checkpoint keys


def test_running_statistics_fall_back_to_the_loop_and_say_so():
    m = _learner("maml", 5, 1, bn_mode="running")
    tasks = _tasks(2, 5)
    assert m.step_path(tasks).startswith("loop (bn_mode=running")
    before = m.net.backbone.blocks[0][1].running_mean.clone()
    m.meta_train_step(tasks)
    assert not torch.equal(before, m.net.backbone.blocks[0][1].running_mean)  # the loop updated them


def test_the_automatic_choice_batches_small_tasks_on_a_cpu_and_loops_over_big_ones():
    m = _learner("maml", 5, 1)
    assert m.batch_tasks is None  # automatic by default
    small, big = _tasks(2, 5, q=1), _tasks(2, 5, q=15)  # 10 and 80 images a task
    assert m.step_path(small) == "batched"
    assert m.step_path(big).startswith("loop (on a CPU, tasks of 80 images run faster one by one")
    m.batch_tasks = True
    assert m.step_path(big) == "batched"
    assert m.meta_train_step(big).episodes == 2


def test_tasks_of_different_sizes_fall_back_to_the_loop():
    m = _learner("maml", 5, 1)
    tasks = _tasks(1, 5, q=1) + _tasks(1, 5, q=2)
    assert m.step_path(tasks) == "loop (the tasks differ in size, so they cannot be stacked)"
    assert m.step_path(tasks[:1]) == "batched"
    metrics = m.meta_train_step(tasks)
    assert metrics.episodes == 2


def test_bench_times_batched_against_the_loop_and_names_both_paths(capsys):
    from argparse import Namespace

    from core.tools.bench import maml_batched_vs_loop

    speedup = maml_batched_vs_loop("fomaml", queries=1, threads=1, args=Namespace(rounds=1, seconds=0.01), device=torch.device("cpu"))
    out = capsys.readouterr().out
    assert speedup > 0
    assert "15 queries" not in out and " 1 queries/class, 1 thread" in out
    assert "[paths: batched | loop (batching turned off)]" in out
    from core.tools.bench import maml_adaptation_batched_vs_loop

    assert maml_adaptation_batched_vs_loop("fomaml", args=Namespace(rounds=1, seconds=0.01), device=torch.device("cpu"),
                                           hparams={"hidden": 8}) > 0
    out = capsys.readouterr().out
    assert "test-time adaptation, 32 episodes at once vs one by one (3 steps, 15 queries/class)" in out and "[paths: batched | loop]" in out


@pytest.mark.parametrize("name", ["maml", "fomaml"])
def test_test_time_adaptation_of_many_episodes_at_once_scores_what_the_loop_scores(name):
    """`evaluate` adapts a chunk of episodes as one vmapped computation where MAML batches (on a
    GPU always; on a CPU for small episodes, or when asked) — the same accuracies as adapting
    them one by one, over real built-in characters after a few meta-training steps."""
    torch.manual_seed(0)
    src = core.builtin(n_classes=20, first_class=3300, n_instances=6)
    trainer = core.Trainer(core.TrainConfig(algorithm=name, hparams={"hidden": 16, "meta_batch_size": 4}, n_way=5, k_shot=1, q_query=2,
                                            steps=15, val_episodes=0, device="cpu", seed=0), src)
    for _ in trainer.run():
        pass
    m = trainer.learner
    m.batch_tasks = True
    calls = []
    real = m.batched_accuracies
    m.batched_accuracies = lambda eps: calls.append(len(eps)) or real(eps)
    batched = core.evaluate(m, src, 5, 1, 3, episodes=40, seed=7)
    assert calls == [32, 8]  # two batched chunks, no episode adapted alone
    m.batch_tasks = False
    loop = core.evaluate(m, src, 5, 1, 3, episodes=40, seed=7)
    assert calls == [32, 8, 32, 8] and loop.mean > 0.3  # it learned something: the comparison shows something
    assert batched.per_episode == pytest.approx(loop.per_episode, abs=1e-6)
    # the per-query path (the app's) and an early stop go episode by episode
    m.batch_tasks = True
    stopped = core.evaluate(m, src, 5, 1, 3, episodes=40, seed=7, on_episode=lambda i, acc: i == 2)
    assert stopped.per_episode == pytest.approx(loop.per_episode[:3], abs=1e-6)
    each = core.evaluate(m, src, 5, 1, 3, episodes=4, seed=7, each_query=True)
    assert len(each.per_episode) == 4


def test_test_time_adaptation_stays_a_loop_where_batching_does_not_pay_or_is_not_exact():
    m = _learner("maml", 5, 1)
    m.float()
    big = [Episode(e.support_x.float(), e.support_y, e.query_x.float(), e.query_y, e.class_names) for e in _tasks(3, 5, q=15)]
    assert m.batched_accuracies(big) is None  # 80 images an episode on a CPU: the loop is faster
    m.batch_tasks = True
    assert m.batched_accuracies(big) is not None
    running = _learner("maml", 5, 1, bn_mode="running")
    running.batch_tasks = True
    assert running.batched_accuracies(_tasks(2, 5)) is None


# -- MAML++'s training changes (off by default) ----------------------------------------------------

def test_the_paper_maml_has_no_learned_step_sizes_and_a_constant_meta_lr():
    m = _learner("maml", 5, 1)
    assert m.inner_lrs is None and len(list(m.parameters())) == len(list(m.net.parameters()))
    assert m.step_sizes() == 0.4 and m._lr_schedule == "step"


@pytest.mark.parametrize("name", ["maml", "fomaml"])
def test_learned_step_sizes_get_the_same_meta_gradient_batched_and_looped(name):
    """LSLR: α per layer and inner step is a meta-parameter; both paths give θ and α one gradient."""
    m = _learner(name, 5, 2, learn_inner_lr=True)
    with torch.no_grad():  # step sizes that differ by layer and step, so a mix-up would show
        for i, a in enumerate(m.inner_lrs.values()):
            a.copy_(torch.tensor([0.4 + 0.01 * i, 0.3 - 0.01 * i], dtype=a.dtype))
    tasks = _tasks(3, 5)
    grads = {}
    for batched in (True, False):
        m.batch_tasks = batched
        m.train()
        loss, _ = m.meta_loss(tasks)
        grads[batched] = torch.autograd.grad(loss, list(m.params().values()) + list(m.inner_lrs.values()))
    flat_b, flat_l = (torch.cat([g.flatten() for g in grads[b]]) for b in (True, False))
    alpha_l = torch.cat([g.flatten() for g in grads[False][-len(m.inner_lrs):]])
    assert alpha_l.norm() > 0, "the step sizes learn"
    assert (flat_b - flat_l).norm() <= 1e-5 * flat_l.norm()


def test_learned_step_sizes_start_at_inner_lr_and_change_with_training():
    m = _learner("maml", 5, 1, learn_inner_lr=True)
    before = {k: a.detach().clone() for k, a in m.inner_lrs.items()}
    assert all(torch.allclose(a, torch.full((1,), 0.4, dtype=a.dtype)) for a in before.values())
    m.meta_train_step(_tasks(2, 5))
    assert any(not torch.equal(before[k], a.detach()) for k, a in m.inner_lrs.items())
    # more inner steps at test than in training take the last learned step size
    support = _tasks(1, 5)[0]
    assert m.adapt(support.support_x, support.support_y)(support.query_x).shape == (5, 5)


def test_derivative_order_annealing_is_first_order_then_second():
    tasks = _tasks(2, 5)
    annealed = _learner("maml", 5, 1, first_order_until=0.5)
    _, _, fo = _meta_gradient(_learner("fomaml", 5, 1), tasks, batched=True)
    _, _, so = _meta_gradient(_learner("maml", 5, 1), tasks, batched=True)
    annealed.progress = 0.2
    _, _, early = _meta_gradient(annealed, tasks, batched=True)
    annealed.progress = 0.5
    _, _, late = _meta_gradient(annealed, tasks, batched=True)
    flat = lambda grads: torch.cat([g.flatten() for g in grads])  # noqa: E731
    assert torch.allclose(flat(early), flat(fo)) and torch.allclose(flat(late), flat(so))


def test_the_budget_meta_lr_falls_by_a_cosine_to_one_percent():
    m = _learner("maml", 5, 1, meta_lr_schedule="budget", meta_lr=1e-3)
    lrs = []
    for progress in (0.0, 0.5, 1.0):
        m.progress = progress
        m.meta_train_step(_tasks(2, 5))
        lrs.append(m.optimizer.param_groups[0]["lr"])
    assert lrs == pytest.approx([1e-3, 1e-3 * (0.01 + 0.99 * 0.5), 1e-5])
