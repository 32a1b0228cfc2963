"""Data-parallel meta-training across processes, GPUs and machines, on torchrun and torch.distributed.

`torchrun --nproc-per-node P -m core train ...` starts P copies of `fewshot train`; each finds the
launcher's environment (RANK, WORLD_SIZE, MASTER_ADDR...) and joins one process group (NCCL on
GPUs, Gloo on CPUs). The Trainer then splits every meta-batch across the ranks:

- the global meta-batch is B episodes, positions p … p+B−1 of the seeded stream one process would
  have drawn; rank r takes its own share, p + r·B/P … p + (r+1)·B/P − 1, so together they meet
  exactly the episodes of a one-process run;
- each rank computes its share's update; the update is averaged across ranks before it is applied
  (`MetaLearner.average_gradients` for learners that backpropagate; a learner with another kind of
  update — Reptile's weight interpolation — averages what it applies with `average_across_ranks`);
- floating-point buffers (BatchNorm running statistics) are averaged after every step, so every
  rank holds the same model; validation is split across the ranks and gathered; only rank 0 writes
  checkpoints and prints.

Every collective runs under the process group's timeout and turns a failure (a rank killed, a
machine gone) into `RankFailure`, a clear error instead of a hang.
"""
from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from typing import Sequence

import torch
import torch.distributed as dist

from .errors import FewShotError

DEFAULT_TIMEOUT_S = 300.0


class RankFailure(FewShotError, RuntimeError):
    """A collective failed or timed out: another rank stopped, crashed or cannot be reached."""


def _gist(exc: BaseException) -> str:
    """The backend's reason, without its source location and advice: "[.../pair.cc:545] Read error
    [127.0.0.1]:7084: Connection reset by peer. This is typically…" → "Read error …: Connection reset by peer"."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if text.startswith("[") and "] " in text:
        text = text.split("] ", 1)[1]
    return text.split(". ", 1)[0].rstrip(".")


def launched_by_torchrun() -> bool:
    """Whether this process is one of several started by torchrun (or any launcher that sets the
    torch.distributed environment: RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ


@dataclass
class DistContext:
    """This process's place in a data-parallel run."""

    rank: int
    world_size: int
    local_rank: int
    backend: str

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def describe(self) -> str:
        return f"{self.world_size} ranks ({self.backend})"

    # -- collectives: each turns a failure into RankFailure ------------------------------------------
    def _run(self, what: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except FewShotError:
            raise
        except (RuntimeError, ValueError, ConnectionError) as exc:  # DistBackendError, gloo's "Connection closed by peer", timeouts
            raise RankFailure(f"rank {self.rank} of {self.world_size}: {what} failed — another rank stopped, crashed or "
                              f"cannot be reached ({_gist(exc)})") from exc

    def _comm_device(self, t: torch.Tensor) -> torch.Tensor:
        # Gloo reduces CPU tensors only; NCCL needs them on this rank's GPU (set by init_from_environment).
        if self.backend == "gloo":
            return t.cpu()
        return t if t.is_cuda else t.cuda()

    def all_reduce_(self, t: torch.Tensor, op: str = "sum", what: str = "all-reduce") -> torch.Tensor:
        """Reduce `t` in place across the ranks (op: sum | max | min) and return it."""
        red = {"sum": dist.ReduceOp.SUM, "max": dist.ReduceOp.MAX, "min": dist.ReduceOp.MIN}[op]
        buf = self._comm_device(t)
        self._run(what, dist.all_reduce, buf, op=red)
        if buf is not t:
            t.copy_(buf)
        return t

    def average_(self, tensors: Sequence[torch.Tensor], what: str = "averaging") -> None:
        """Replace every tensor by its mean across the ranks, with one collective for all of them.
        Float tensors only; the ranks must pass the same shapes in the same order."""
        tensors = [t for t in tensors if t is not None]
        if not tensors:
            return
        flat = torch.cat([t.detach().reshape(-1).to(torch.float64 if t.dtype == torch.float64 else torch.float32) for t in tensors])
        self.all_reduce_(flat, "sum", what)
        flat /= self.world_size
        offset = 0
        for t in tensors:
            n = t.numel()
            t.detach().copy_(flat[offset:offset + n].view_as(t))
            offset += n

    def broadcast_(self, tensors: Sequence[torch.Tensor], what: str = "broadcast from rank 0") -> None:
        for t in tensors:
            buf = self._comm_device(t.detach())
            self._run(what, dist.broadcast, buf, src=0)
            if buf is not t:
                t.detach().copy_(buf)

    def all_gather_floats(self, values: Sequence[float], what: str = "gather") -> list[list[float]]:
        """Every rank's list of floats (the lists may differ in length), in rank order."""
        n = torch.tensor([float(len(values))], dtype=torch.float64)
        self.all_reduce_(n, "max", what)
        width = int(n.item())
        mine = torch.full((width + 1,), float("nan"), dtype=torch.float64)
        mine[0] = len(values)
        if values:
            mine[1:1 + len(values)] = torch.tensor(list(values), dtype=torch.float64)
        mine = self._comm_device(mine)
        bufs = [torch.empty_like(mine) for _ in range(self.world_size)]
        self._run(what, dist.all_gather, bufs, mine)
        return [b[1:1 + int(b[0])].cpu().tolist() for b in bufs]

    def check_same_weights(self, module: torch.nn.Module) -> None:
        """Raise if the ranks' copies of `module` differ (a desynchronised run must not go on
        silently): compares a fingerprint of every parameter and buffer across the ranks."""
        parts = []
        for i, t in enumerate(module.state_dict().values()):
            if t.is_floating_point() and t.numel():
                t64 = t.detach().double().reshape(-1)
                parts.append(torch.stack([t64.sum(), (t64 * torch.linspace(1.0, 2.0, t64.numel(), dtype=torch.float64, device=t64.device)).sum()]) * (i + 1))
        if not parts:
            return
        fp = torch.cat(parts).cpu()
        hi, lo = fp.clone(), fp.clone()
        self.all_reduce_(hi, "max", "weight check")
        self.all_reduce_(lo, "min", "weight check")
        if not torch.equal(hi, lo):
            raise RankFailure(f"rank {self.rank}: the ranks' weights differ (largest fingerprint gap {float((hi - lo).abs().max()):.3g}); "
                              "a learner applied an update that was not averaged across ranks")

    def barrier(self) -> None:
        self._run("barrier", dist.barrier)

    def close(self) -> None:
        if dist.is_initialized():
            dist.destroy_process_group()


def init_from_environment(device: str = "auto", timeout_s: float = DEFAULT_TIMEOUT_S) -> tuple[DistContext, str]:
    """Join the process group torchrun set up: NCCL when this rank uses a GPU, else Gloo. Returns
    the context and the device this rank trains on (its own GPU, `cuda:LOCAL_RANK`, under "auto")."""
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    if device in (None, "", "auto"):
        device = f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu"
    elif device == "cuda":
        device = f"cuda:{local_rank}"
    backend = "nccl" if torch.device(device).type == "cuda" else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(torch.device(device))
    try:
        dist.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout_s))
    except (RuntimeError, ValueError, ConnectionError) as exc:
        raise RankFailure(f"rank {rank} of {world} could not join the process group ({_gist(exc)}); "
                          "are all ranks started, and MASTER_ADDR/MASTER_PORT reachable?") from exc
    return DistContext(rank, world, local_rank, backend), device


def split_meta_batch(global_meta_batch: int, world_size: int) -> int:
    """Episodes each rank takes per step. A meta-batch smaller than the ranks (ProtoNet's and the
    other metric learners' 1) becomes one episode per rank, so the run trains on P episodes a
    step; a larger one must split evenly, so that the average of the ranks' updates is the
    update of the whole meta-batch."""
    if global_meta_batch <= world_size:
        return 1
    if global_meta_batch % world_size:
        raise FewShotError(f"a meta-batch of {global_meta_batch} episodes does not split evenly over {world_size} ranks; "
                           f"use --meta-batch {global_meta_batch + world_size - global_meta_batch % world_size} or a number of ranks that divides it")
    return global_meta_batch // world_size


def evaluate_across_ranks(ctx: DistContext, learner, source, n_way: int, k_shot: int, q_query: int, episodes: int, seed: int,
                          device=None, on_episode=None, each_query: bool = False):
    """`evaluation.evaluate` with the episodes dealt round-robin to the ranks (episode i to rank
    i mod P) and the results gathered back into the stream's order: the same EvalResult one
    process gives (the ranks hold the same weights), in about 1/P of the time."""
    from .evaluation import EvalResult, evaluate
    from .stats import mean_ci95

    mine = range(ctx.rank, episodes, ctx.world_size)
    part = evaluate(learner, source, n_way, k_shot, q_query, episodes, seed=seed, device=device,
                    on_episode=on_episode, each_query=each_query, indices=mine)
    shares = ctx.all_gather_floats(part.per_episode, "gathering the evaluation")
    accs = [shares[i % ctx.world_size][i // ctx.world_size] for i in range(episodes) if i // ctx.world_size < len(shares[i % ctx.world_size])]
    mean, ci = mean_ci95(accs)
    return EvalResult(mean, ci, accs, n_way, k_shot, q_query)
