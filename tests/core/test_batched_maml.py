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

    from core.bench import maml_batched_vs_loop

    speedup = maml_batched_vs_loop("fomaml", queries=1, threads=1, args=Namespace(rounds=1, seconds=0.01), device=torch.device("cpu"))
    out = capsys.readouterr().out
    assert speedup > 0
    assert "15 queries" not in out and " 1 queries/class, 1 thread" in out
    assert "[paths: batched | loop (batching turned off)]" in out
