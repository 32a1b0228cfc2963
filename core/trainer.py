"""The one training loop for every algorithm.

`Trainer.run()` is a generator that yields a `Progress` after every meta-training step (plain
Python values only: a GUI thread can forward them as they are). It checks a `CancelToken` before
every step, so Stop takes effect within one step; validates every `val_every` steps on a fixed
seeded set of episodes; writes an atomic checkpoint at each validation; resumes from one exactly;
and stops with `TrainingDiverged` (restoring the last good weights) when the loss is NaN or inf.

Given a `DistContext` (a torchrun run, `core.distributed`), it is one rank of a data-parallel run:
it trains on its share of every meta-batch, averages the update across the ranks, agrees with them
on when to stop, splits validation across them, and writes checkpoints only on rank 0.
"""
from __future__ import annotations

import copy
import dataclasses
import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import torch

from .algorithms import create, get_algorithm, parse_hparams
from .algorithms.base import MetaLearner
from .allocator import keep_freed_memory
from .augment import augmentation_from
from .checkpoint import learner_from_checkpoint, read_checkpoint, save_checkpoint
from .distributed import DistContext, RankFailure, evaluate_across_ranks, split_meta_batch
from .episodes import VAL_SEED, EpisodeSampler
from .errors import TrainingDiverged
from .evaluation import evaluate
from .sources.base import ClassSource
from .tasks import DEFAULT_TASK


def auto_device(requested: str | None = "auto") -> torch.device:
    """CUDA when present, else CPU; an explicit request ("cpu", "cuda:1", "mps") wins."""
    if requested in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(requested)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("CUDA was requested but no CUDA device is available; use --device cpu")
    return dev


class CancelToken:
    """Set from any thread; the trainer checks it before every step."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


@dataclass
class TrainConfig:
    algorithm: str = "protonet"
    hparams: dict[str, Any] = field(default_factory=dict)
    n_way: int = DEFAULT_TASK.n_way  # the test protocol (validation uses it)
    k_shot: int = DEFAULT_TASK.k_shot
    q_query: int = DEFAULT_TASK.q_query
    train_way: int | None = None  # None: the algorithm's paper default, else as tested
    train_shot: int | None = None
    train_query: int | None = None
    meta_batch: int | None = None
    steps: int = 1000  # meta-training steps (each sees `meta_batch` episodes)
    max_seconds: float | None = None  # training-time budget (validations pause its clock); the run stops (and validates) when spent
    seed: int = 0
    augment: dict[str, float] | None = None  # random distortions of the training images (`Augmentation` fields); None: none
    train_within: str | None = None  # "group": each training episode's classes from one group (Omniglot: one alphabet)
    val_every: int = 200
    val_episodes: int = 100
    device: str = "auto"
    checkpoint_path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class Progress:
    step: int
    total_steps: int
    episodes: int  # training episodes seen so far
    loss: float
    accuracy: float
    val_accuracy: float | None = None  # set on steps that validated
    val_ci95: float | None = None
    episodes_per_s: float = 0.0
    elapsed_s: float = 0.0  # wall time, validations included
    train_s: float = 0.0  # training time: wall time less the validations (what a time budget counts)
    eta_s: float | None = None
    status: str = "running"  # running | done | cancelled | time_limit
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def training_episode_shape(config: TrainConfig, algorithm: str, hparams: Any, num_classes: int, world_size: int = 1) -> dict[str, int]:
    """The training episodes' shape a run of `config` uses: explicit settings > the algorithm's
    paper defaults > the test protocol; the ways capped by the `num_classes` of the training
    source. Keys train_way, train_shot, train_query, meta_batch (the whole step's) and
    rank_meta_batch (each rank's share in a data-parallel run; = meta_batch in one process)."""
    d = get_algorithm(algorithm).episode_defaults(hparams)
    c = config
    pick = lambda explicit, key, fallback: explicit if explicit is not None else d.get(key, fallback)  # noqa: E731
    shape = {
        "train_way": pick(c.train_way, "train_way", c.n_way),
        "train_shot": pick(c.train_shot, "train_shot", c.k_shot),
        "train_query": pick(c.train_query, "train_query", c.q_query),
        "meta_batch": pick(c.meta_batch, "meta_batch", 1),
    }
    # A source with few classes (the user's own set) caps the ways rather than failing.
    shape["train_way"] = min(shape["train_way"], num_classes)
    # A data-parallel run: each rank's share of the meta-batch; "meta_batch" is then the whole
    # step's (a paper meta-batch of 1 becomes one episode per rank).
    shape["rank_meta_batch"] = split_meta_batch(shape["meta_batch"], world_size) if world_size > 1 else shape["meta_batch"]
    shape["meta_batch"] = shape["rank_meta_batch"] * world_size
    return shape


class Trainer:
    def __init__(self, config: TrainConfig, train_source: ClassSource, val_source: ClassSource | None = None,
                 learner: MetaLearner | None = None, cancel: CancelToken | None = None, resume_from: str | Path | None = None,
                 dist: DistContext | None = None):
        self.config = config
        self.dist = dist
        keep_freed_memory()  # a third less time per step on Linux (core.allocator)
        self.device = auto_device(config.device)
        self.cancel = cancel or CancelToken()
        self.train_source = train_source
        self.val_source = val_source
        self.step = 0
        self.episodes_seen = 0
        self.elapsed_before = 0.0  # wall time of earlier (resumed) sessions
        self.train_before = 0.0  # their training time (validations excluded)
        self._session_start: float | None = None  # when this session's run() began
        self._val_seconds = 0.0  # this session's time spent validating
        self._ended_train_s: float | None = None  # this session's training time, frozen when its loop ends
        self.history: dict[str, list] = {"step": [], "loss": [], "accuracy": [], "val_step": [], "val_accuracy": [], "val_ci95": [],
                                         "val_train_s": []}  # training seconds at each validation: time-to-accuracy curves
        if resume_from is not None:
            data = read_checkpoint(resume_from)
            self.learner = learner_from_checkpoint(data, self.device)
            state = data.get("trainer") or {}
            self.step = int(state.get("step", 0))
            self.episodes_seen = int(state.get("episodes_seen", 0))
            self.elapsed_before = float(state.get("elapsed_s", 0.0))
            self.train_before = float(state.get("train_s", self.elapsed_before))
            self.history = {**self.history, **state.get("history", {})}
            # a checkpoint from before training times were kept: its validations' times are unknown
            missing = len(self.history["val_step"]) - len(self.history["val_train_s"])
            self.history["val_train_s"] = [float("nan")] * max(0, missing) + list(self.history["val_train_s"])
        elif learner is not None:
            self.learner = learner.to(self.device)
        else:
            torch.manual_seed(config.seed)  # the initial weights depend on the seed alone
            # Parsed once: the episode shape and the new learner read the same HParams.
            hparams = parse_hparams(config.algorithm, config.hparams)
            train_way = self._episode_shape(config.algorithm, hparams)["train_way"]
            self.learner = create(config.algorithm, hparams, train_source.spec, train_way).to(self.device)
        if dist is not None:
            self.learner.collective = dist
            # every rank starts from rank 0's weights (the same seed gives the same ones on a CPU;
            # this also holds where initialisation is not deterministic)
            dist.broadcast_([t for t in self.learner.state_dict().values() if torch.is_tensor(t)], "sharing rank 0's initial weights")
        self._last_good = self._snapshot()

    @property
    def world_size(self) -> int:
        return self.dist.world_size if self.dist is not None else 1

    def episode_shape(self) -> dict[str, int]:
        """Training-episode shape: explicit config > the algorithm's paper defaults > the test protocol."""
        return self._episode_shape(self.learner.name, self.learner.hparams)

    def _episode_shape(self, algorithm: str, hparams: Any) -> dict[str, int]:
        return training_episode_shape(self.config, algorithm, hparams, self.train_source.num_classes, self.world_size)

    def _snapshot(self) -> dict:
        return {k: v.detach().clone() for k, v in self.learner.state_dict().items()}

    def trainer_state(self, elapsed: float) -> dict:
        state = {"config": self.config.to_dict(), "step": self.step, "episodes_seen": self.episodes_seen,
                 "elapsed_s": elapsed, "train_s": self.train_seconds(), "history": copy.deepcopy(self.history), "episode_shape": self.episode_shape(),
                 "source": self.train_source.description}
        if self.dist is not None:
            state["distributed"] = {"world_size": self.dist.world_size, "backend": self.dist.backend}
        return state

    def save(self, path: str | Path, elapsed: float, extra: dict | None = None) -> Path:
        return save_checkpoint(path, self.learner, self.trainer_state(elapsed), extra)

    def validate(self, episodes: int | None = None, cancel: CancelToken | None = None) -> tuple[float, float] | None:
        """(accuracy, 95% CI) on the fixed validation episodes — the first `episodes` of them
        (default: the config's val_episodes) — or None without validation. `cancel` (default: the
        run's token) cuts it short, so Stop never waits for a whole pass."""
        episodes = self.config.val_episodes if episodes is None else min(episodes, self.config.val_episodes)
        if self.val_source is None or episodes <= 0:
            return None
        c, token = self.config, cancel or self.cancel
        stop_early = lambda i, acc: token.cancelled  # noqa: E731
        if self.dist is not None:
            res = evaluate_across_ranks(self.dist, self.learner, self.val_source, c.n_way, c.k_shot, c.q_query, episodes,
                                        VAL_SEED, self.device, on_episode=stop_early)
        else:
            res = evaluate(self.learner, self.val_source, c.n_way, c.k_shot, c.q_query, episodes, seed=VAL_SEED,
                           device=self.device, on_episode=stop_early)
        return res.mean, res.ci95

    def validate_stopped(self, episodes: int, cancel: CancelToken) -> float | None:
        """A short validation of a run stopped by its token (the first `episodes` fixed validation
        episodes), so the kept model has a figure; it joins the training record as a validation
        during training does. `cancel` (a fresh token: the run's is spent) cuts it short, and then
        there is no figure — a few episodes would be too noisy to compare models by."""
        result = self.validate(episodes, cancel)
        if result is None or cancel.cancelled:
            return None
        for key, value in (("val_step", self.step), ("val_accuracy", result[0]), ("val_ci95", result[1]), ("val_train_s", self.train_seconds())):
            self.history[key].append(value)
        return result[0]

    def run(self) -> Iterator[Progress]:
        try:
            yield from self._run()
        except RankFailure as exc:
            where = (f"; the last checkpoint, {self.config.checkpoint_path}, is intact" if self.config.checkpoint_path and Path(self.config.checkpoint_path).exists()
                     else "; no checkpoint was written yet")
            raise RankFailure(f"the distributed run stopped after step {self.step}: {exc}{where}") from exc

    def _run(self) -> Iterator[Progress]:
        c = self.config
        shape = self.episode_shape()
        sampler = EpisodeSampler(self.train_source.to(self.device), shape["train_way"], shape["train_shot"],
                                 shape["train_query"], seed=c.seed, device=self.device, augment=augmentation_from(c.augment),
                                 within=c.train_within)
        sampler.position = self.episodes_seen  # resume: the episode stream continues where it stopped
        self.learner.begin_training(c.steps, self.step)
        rank = self.dist.rank if self.dist is not None else 0
        hooks = [opt.register_step_pre_hook(lambda *_: self.learner.average_gradients())
                 for opt in self.learner.meta_optimizers()] if self.dist is not None else []
        try:
            yield from self._loop(c, shape, sampler, rank)
        finally:
            for h in hooks:
                h.remove()

    def _agree(self, run_s: float, cancelled: bool) -> tuple[float, bool]:
        """The ranks' common view of the clock and of Stop: the longest training time and any
        rank's Stop (one process: its own). Every rank then takes the same decision (stop, or
        another step) and gives the learner the same `progress`, so schedules stay in step."""
        if self.dist is None:
            return run_s, cancelled
        t = torch.tensor([run_s, float(cancelled)], dtype=torch.float64)
        self.dist.all_reduce_(t, "max", "agreeing on the clock")
        return float(t[0]), bool(t[1])

    def _reduce_step(self, m) -> tuple[float, float, int]:
        """(loss, accuracy, episodes) of the whole step; in a data-parallel run also averages the
        floating-point buffers (BatchNorm's running statistics), so every rank holds one model."""
        if self.dist is None:
            return m.loss, m.accuracy, m.episodes
        t = torch.tensor([m.loss * m.episodes, m.accuracy * m.episodes, float(m.episodes)], dtype=torch.float64)
        self.dist.all_reduce_(t, "sum", "reducing the step's loss")
        self.dist.average_([b for b in self.learner.buffers() if b.is_floating_point()], "averaging BatchNorm statistics")
        return float(t[0] / t[2]), float(t[1] / t[2]), int(t[2])

    def _loop(self, c: TrainConfig, shape: dict, sampler: EpisodeSampler, rank: int) -> Iterator[Progress]:
        start = self._session_start = time.perf_counter()
        self._val_seconds, self._ended_train_s = 0.0, None
        start_episodes, start_step = self.episodes_seen, self.step
        loss = acc = float("nan")
        status = "done"

        def elapsed() -> float:
            return self.elapsed_before + time.perf_counter() - start

        while self.step < c.steps:
            run_s, cancelled = self._agree(self.session_train_seconds(), self.cancel.cancelled)
            if cancelled:
                status = "cancelled"
                break
            if c.max_seconds is not None and run_s >= c.max_seconds:
                status = "time_limit"
                break
            self.learner.progress = max(self.step / c.steps, run_s / c.max_seconds if c.max_seconds else 0.0)
            # This rank's share of the step's episodes (all of them in one process): positions
            # base + rank·b … base + (rank+1)·b − 1 of the stream one process would draw.
            base, share = sampler.position, shape["rank_meta_batch"]
            tasks = [sampler.episode(base + rank * share + j) for j in range(share)]
            sampler.position = base + shape["meta_batch"]
            self.learner._grads_averaged = False
            try:
                m = self.learner.meta_train_step(tasks)
                loss, acc, episodes = self._reduce_step(m)
                if not math.isfinite(loss):
                    raise TrainingDiverged(f"the training loss became {loss}")
            except TrainingDiverged as exc:
                self.learner.load_state_dict(self._last_good)
                where = f"; the last good checkpoint is {c.checkpoint_path}" if c.checkpoint_path and Path(c.checkpoint_path).exists() else ""
                raise TrainingDiverged(f"training stopped at step {self.step + 1}: {exc}. The weights were restored to the last good state{where}. Try a lower learning rate.") from exc
            self.step += 1
            self.episodes_seen += episodes
            for k, v in (("step", self.step), ("loss", loss), ("accuracy", acc)):
                self.history[k].append(v)
            run_s = self.session_train_seconds()
            rate = (self.episodes_seen - start_episodes) / run_s if run_s > 0 else 0.0
            steps_left = c.steps - self.step
            eta = steps_left * run_s / max(1, self.step - start_step)
            if c.max_seconds is not None:
                eta = min(eta, max(0.0, c.max_seconds - run_s))
            p = Progress(self.step, c.steps, self.episodes_seen, loss, acc, episodes_per_s=rate, elapsed_s=elapsed(),
                         train_s=self.train_seconds(), eta_s=eta)
            if self.step % c.val_every == 0 and self.step < c.steps:
                self._validate_into(p)
                self._checkpoint(elapsed())
            yield p
        self._ended_train_s = self.session_train_seconds()  # a checkpoint saved later (the app's) reads this, not the clock
        p = Progress(self.step, c.steps, self.episodes_seen, loss, acc, elapsed_s=elapsed(), train_s=self.train_seconds(), eta_s=0.0, status=status,
                     message={"done": "finished", "cancelled": "stopped by the user", "time_limit": "time budget spent"}[status])
        if status != "cancelled":
            self._validate_into(p)
        self._checkpoint(elapsed())
        yield p

    def session_train_seconds(self) -> float:
        """This session's training time: wall time since `run()` began, less its validations."""
        if self._session_start is None:
            return 0.0
        if self._ended_train_s is not None:
            return self._ended_train_s
        return time.perf_counter() - self._session_start - self._val_seconds

    def train_seconds(self) -> float:
        """Training time of the whole run (earlier sessions of a resumed run included)."""
        return self.train_before + self.session_train_seconds()

    def _validate_into(self, p: Progress) -> None:
        t0 = time.perf_counter()
        v = self.validate()
        self._val_seconds += time.perf_counter() - t0  # the clock of a time budget stops while validating
        if self.dist is not None:
            self.dist.check_same_weights(self.learner)  # a desynchronised run stops here, before it is saved
        if v is not None:
            p.val_accuracy, p.val_ci95 = v
            self.history["val_step"].append(self.step)
            self.history["val_accuracy"].append(v[0])
            self.history["val_ci95"].append(v[1])
            self.history["val_train_s"].append(p.train_s)
        self._last_good = self._snapshot()

    def _checkpoint(self, elapsed: float) -> None:
        if self.config.checkpoint_path and (self.dist is None or self.dist.is_main):  # one writer
            self.save(self.config.checkpoint_path, elapsed)
