"""`fewshot bench`: speed of every registered algorithm's training step against hand-written floors.

This machine's speed drifts by 30–50% between runs, so absolute timings of two separate runs
compare nothing. Instead each measurement alternates, inside one process, the algorithm's step
(A) with a bare hand-written PyTorch step (B) — A B A B … — and reports the median of the
per-round ratios. Setting: 5-way 1-shot, 15 queries per class, Conv-4, random 28×28 inputs
(timing does not depend on pixel values).
- B for every algorithm: a bare ProtoNet step (nn.Sequential Conv-4, cdist, NLL, Adam).
- Also for MAML / FOMAML: their batched step (all tasks of the meta-batch in one vmapped
  computation) against their own per-task loop (`batch_tasks` off), same learner, same tasks:
  meta-batch 32, 1 inner step, 1 and 15 queries per class, 1 and 2 threads. Each line names the
  path that ran (`step_path`), so a fallback to the loop cannot pass for a batched figure. And
  their test-time adaptation (`evaluate`): 32 test episodes adapted at once against one by one.
- Also for every algorithm: one step at its own *training* episode shape (ProtoNet 60-way
  5-query, Relation 19 queries, Reptile 10 shots and meta-batch 5, …), since that is what a
  budgeted run spends its time on — in steps/s, images/s and bare 5-way steps per step.
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

from ..algorithms import ALGORITHMS, create
from ..episodes import Episode
from ..inputspec import InputSpec
from ..peakmem import peak_mb, reset_peak
from ..tasks import DEFAULT_TASK
from ..trainer import auto_device

N_WAY, K_SHOT, Q_QUERY = DEFAULT_TASK.n_way, DEFAULT_TASK.k_shot, DEFAULT_TASK.q_query  # the bench times the default task
MAML_QUERIES, MAML_THREADS, MAML_META_BATCH = (1, 15), (1, 2), 32


def _episode(device, n_way=N_WAY, k_shot=K_SHOT, q_query=Q_QUERY, g=None) -> Episode:
    shape = (1, *InputSpec().size)  # the default input
    sx = torch.rand(n_way * k_shot, *shape, generator=g).to(device)
    qx = torch.rand(n_way * q_query, *shape, generator=g).to(device)
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
        path = f", path: {learner.step_path(tasks)}"
        print(f"  {name:10s} meta-batch {meta_batch:3d}: {a:8.1f} episodes/s, {ratio:5.2f}× the bare ProtoNet step's cost "
              f"(bare {b:.1f} ep/s), peak memory {peak:.0f} MB{path}", flush=True)
        at_training_shape(learner, run_bare, args, device)
        if name in ("maml", "fomaml"):
            for queries in MAML_QUERIES:
                for threads in MAML_THREADS:
                    maml_batched_vs_loop(name, queries, threads, args, device)
            maml_adaptation_batched_vs_loop(name, args, device)
    return 0


def training_shape(learner) -> dict[str, int]:
    """The episode shape a meta-training run of `learner` uses by default (its paper's: ProtoNet
    60-way 5-query, Relation 19 queries, …), the bench's 5-way 1-shot 15-query where it sets none."""
    d = type(learner).episode_defaults(learner.hparams)
    return {"train_way": d.get("train_way", N_WAY), "train_shot": d.get("train_shot", K_SHOT),
            "train_query": d.get("train_query", Q_QUERY), "meta_batch": d.get("meta_batch", 1)}


def at_training_shape(learner, run_bare: Callable[[], int], args, device) -> float:
    """Time one meta-training step at the learner's own training shape — what a budgeted run spends
    its time on — alternating with the bare 5-way 15-query ProtoNet step as the common yardstick.
    Prints steps/s, images/s and the cost of one step in bare steps; returns that cost."""
    shape = training_shape(learner)
    g = torch.Generator().manual_seed(2)
    episode = _episode(device, shape["train_way"], shape["train_shot"], shape["train_query"], g=g)
    tasks = [episode] * shape["meta_batch"]
    images = shape["meta_batch"] * shape["train_way"] * (shape["train_shot"] + shape["train_query"])

    def run_step() -> int:
        learner.meta_train_step(tasks)
        return 1

    steps, _, cost = ab(run_step, run_bare, args.rounds, args.seconds, device)
    print(f"  {'':10s} at its training shape ({shape['train_way']}-way {shape['train_shot']}-shot {shape['train_query']}-query, "
          f"meta-batch {shape['meta_batch']}): {steps:6.2f} steps/s, {steps * images:7.0f} images/s, "
          f"one step = {cost:5.2f} bare 5-way steps", flush=True)
    return cost


def maml_batched_vs_loop(name: str, queries: int, threads: int, args, device) -> float:
    """Tasks/s of MAML's batched step against its per-task loop, A B A B in one process; prints and
    returns the median per-round speed-up (loop's time per task ÷ batched's)."""
    g = torch.Generator().manual_seed(1)
    tasks = [_episode(device, q_query=queries, g=g) for _ in range(MAML_META_BATCH)]
    hparams = {"meta_batch_size": MAML_META_BATCH, "inner_steps": 1, "train_query": queries}
    batched, loop = (create(name, hparams, InputSpec(), N_WAY).to(device) for _ in range(2))
    batched.batch_tasks, loop.batch_tasks = True, False  # forced: the automatic choice would pick one path for both

    def step(learner):
        def run() -> int:
            learner.meta_train_step(tasks)
            return len(tasks)
        return run

    threads_before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        a, b, cost = ab(step(batched), step(loop), args.rounds, args.seconds, device)
    finally:
        torch.set_num_threads(threads_before)
    print(f"  {'':10s} batched vs per-task loop ({MAML_META_BATCH} tasks, 1 inner step, {queries:2d} queries/class, "
          f"{threads} thread{'s' if threads > 1 else ' '}): {a:6.1f} vs {b:6.1f} tasks/s, speed-up {1 / cost:.2f}× "
          f"[paths: {batched.step_path(tasks)} | {loop.step_path(tasks)}]", flush=True)
    return 1 / cost


def maml_adaptation_batched_vs_loop(name: str, args, device, hparams: dict | None = None) -> float:
    """Test episodes/s of MAML's batched test-time adaptation (`batched_accuracies`, what `evaluate`
    runs for a chunk of episodes) against adapting them one by one, A B A B; returns the speed-up."""
    from ..evaluation import EVAL_BATCH, episode_accuracy

    g = torch.Generator().manual_seed(3)
    episodes = [_episode(device, g=g) for _ in range(EVAL_BATCH)]
    learner = create(name, hparams, InputSpec(), N_WAY).to(device)

    def batched() -> int:
        learner.batch_tasks = True
        learner.batched_accuracies(episodes).tolist()
        return len(episodes)

    def loop() -> int:
        learner.batch_tasks = False
        for ep in episodes:
            episode_accuracy(learner, ep)
        return len(episodes)

    a, b, cost = ab(batched, loop, args.rounds, args.seconds, device)
    learner.batch_tasks = True
    print(f"  {'':10s} test-time adaptation, {EVAL_BATCH} episodes at once vs one by one ({learner.hparams.inner_steps_test} steps, "
          f"{Q_QUERY} queries/class): {a:6.1f} vs {b:6.1f} episodes/s, speed-up {1 / cost:.2f}× "
          f"[paths: {learner.step_path(episodes)} | loop]", flush=True)
    return 1 / cost
