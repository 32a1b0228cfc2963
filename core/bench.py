"""`fewshot bench`: speed of every registered algorithm's training step against hand-written floors.

This machine's speed drifts by 30–50% between runs, so absolute timings of two separate runs
compare nothing. Instead each measurement alternates, inside one process, the algorithm's step
(A) with a bare hand-written PyTorch step (B) — A B A B … — and reports the median of the
per-round ratios. Setting: 5-way 1-shot, 15 queries per class, Conv-4, random 28×28 inputs
(timing does not depend on pixel values).
- B for every algorithm: a bare ProtoNet step (nn.Sequential Conv-4, cdist, NLL, Adam).
- Also for MAML / FOMAML: a plain per-task `torch.func` loop (functional_call + autograd.grad,
  meta-batch 32, 1 inner step), the floor the issue asks MAML to match.
Peak memory: CUDA peak allocation on a GPU; on CPU the process's peak RSS (VmHWM, reset between
measurements through /proc/self/clear_refs where the kernel allows it).
"""
from __future__ import annotations

import statistics
import time
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from .algorithms import ALGORITHMS, create
from .episodes import Episode
from .inputspec import InputSpec
from .peakmem import peak_mb, reset_peak
from .trainer import auto_device

N_WAY, K_SHOT, Q_QUERY = 5, 1, 15


def _episode(device, n_way=N_WAY, k_shot=K_SHOT, q_query=Q_QUERY, g=None) -> Episode:
    sx = torch.rand(n_way * k_shot, 1, 28, 28, generator=g).to(device)
    qx = torch.rand(n_way * q_query, 1, 28, 28, generator=g).to(device)
    sy = torch.arange(n_way).repeat_interleave(k_shot).to(device)
    qy = torch.arange(n_way).repeat_interleave(q_query).to(device)
    return Episode(sx, sy, qx, qy, tuple(str(i) for i in range(n_way)))


def _conv4_bare(strided: bool = False) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(4):
        layers += [nn.Conv2d(1 if i == 0 else 64, 64, 3, stride=2 if strided else 1, padding=1), nn.BatchNorm2d(64), nn.ReLU()]
        if not strided:
            layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers, nn.Flatten())


def bare_protonet_step(device) -> Callable[[Episode], None]:
    """The floor: the least code that does one ProtoNet training step."""
    net = _conv4_bare().to(device)
    opt = torch.optim.Adam(net.parameters(), 1e-3)

    def step(ep: Episode) -> None:
        emb = net(torch.cat([ep.support_x, ep.query_x]))
        s, q = emb[: len(ep.support_x)], emb[len(ep.support_x):]
        protos = s.view(N_WAY, K_SHOT, -1).mean(1)
        loss = F.cross_entropy(-torch.cdist(q, protos).pow(2), ep.query_y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def bare_maml_step(device, meta_batch: int = 32, inner_lr: float = 0.4, first_order: bool = False) -> Callable[[list[Episode]], None]:
    """The floor for MAML: a plain per-task torch.func loop, second order, 1 inner step."""
    net = nn.Sequential(*list(_conv4_bare(strided=True).children())[:-1], nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, N_WAY)).to(device)
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.track_running_stats = False
            m.running_mean = m.running_var = None
    opt = torch.optim.Adam(net.parameters(), 1e-3)

    def step(tasks: list[Episode]) -> None:
        params = dict(net.named_parameters())
        opt.zero_grad()
        for ep in tasks:
            loss = F.cross_entropy(functional_call(net, params, (ep.support_x,)), ep.support_y)
            grads = torch.autograd.grad(loss, list(params.values()), create_graph=not first_order)
            fast = {k: p - inner_lr * g for (k, p), g in zip(params.items(), grads)}
            (F.cross_entropy(functional_call(net, fast, (ep.query_x,)), ep.query_y) / len(tasks)).backward()
        opt.step()

    return step


def _rate(fn: Callable[[], int], seconds: float, device) -> float:
    """Episodes per second of `fn` (which returns the episodes it consumed) over ~`seconds`."""
    fn()  # warm-up outside the clock
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    n, t0 = 0, time.perf_counter()
    while True:
        n += fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        dt = time.perf_counter() - t0
        if dt >= seconds:
            return n / dt


def ab(a: Callable[[], int], b: Callable[[], int], rounds: int, seconds: float, device) -> tuple[float, float, float]:
    """Alternate A and B; return (median A episodes/s, median B episodes/s, median of B/A time ratios... as A/B cost)."""
    ra, rb, ratios = [], [], []
    for _ in range(rounds):
        x, y = _rate(a, seconds, device), _rate(b, seconds, device)
        ra.append(x), rb.append(y), ratios.append(y / x)  # cost of A relative to B: >1 means A is slower
    return statistics.median(ra), statistics.median(rb), statistics.median(ratios)


def run_bench(args) -> int:
    device = auto_device(args.device)
    names = sorted(ALGORITHMS) if args.algorithms == "all" else [n.strip() for n in args.algorithms.split(",")]
    g = torch.Generator().manual_seed(0)
    pool = [_episode(device, g=g) for _ in range(32)]
    print(f"bench on {device} ({torch.get_num_threads()} threads), {N_WAY}-way {K_SHOT}-shot {Q_QUERY}-query, Conv-4, "
          f"{args.rounds} alternating rounds of {args.seconds:.1f} s; ratio = median per-round (time per episode ÷ bare ProtoNet's)")
    rows = []
    bare = bare_protonet_step(device)

    def run_bare() -> int:
        bare(pool[0])
        return 1

    for name in names:
        learner = create(name, None, InputSpec(), N_WAY).to(device)
        meta_batch = type(learner).episode_defaults(learner.hparams).get("meta_batch", 1)
        tasks = (pool * ((meta_batch // len(pool)) + 1))[:meta_batch]

        def run_algo() -> int:
            learner.meta_train_step(tasks)
            return len(tasks)

        reset_peak(device)
        run_algo()
        peak = peak_mb(device) or float("nan")
        a, b, ratio = ab(run_algo, run_bare, args.rounds, args.seconds, device)
        rows.append((name, meta_batch, a, ratio, peak))
        print(f"  {name:10s} meta-batch {meta_batch:3d}: {a:8.1f} episodes/s, {ratio:5.2f}× the bare ProtoNet step's cost "
              f"(bare {b:.1f} ep/s), peak memory {peak:.0f} MB", flush=True)
        if name in ("maml", "fomaml"):
            floor = bare_maml_step(device, meta_batch=32, first_order=learner.hparams.first_order)
            tasks32 = (pool * 2)[:32]
            learner32 = create(name, {"meta_batch_size": 32, "inner_steps": 1}, InputSpec(), N_WAY).to(device)

            def run_ours() -> int:
                learner32.meta_train_step(tasks32)
                return 32

            def run_floor() -> int:
                floor(tasks32)
                return 32

            a2, b2, ratio2 = ab(run_ours, run_floor, args.rounds, args.seconds, device)
            print(f"  {'':10s} vs a plain per-task torch.func loop (meta-batch 32, 1 inner step, 15 queries): "
                  f"{a2:.1f} vs {b2:.1f} tasks/s, cost ratio {ratio2:.2f}×", flush=True)
    return 0
