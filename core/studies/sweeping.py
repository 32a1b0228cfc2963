"""Shot and way curves: trained learners evaluated over a grid of shots × ways.

Every grid point is scored exactly as `evaluation.evaluate` scores one setting — the same fixed,
seeded test episodes (`TEST_SEED` by default) and the same per-episode accuracy
(`evaluation.episode_accuracy`) — so the (5-way, 1-shot) point of a sweep *is* `evaluate()` at
(5, 1), and several models are paired: at each point they see the same episodes.

`Sweep.run()` is a generator, like `Trainer.run()`: it yields a `SweepProgress` after every
episode (plain values, a GUI thread can forward them) and checks a `CancelToken` before every
episode; a cancelled sweep keeps the points it finished (the point it was in is dropped: a part of
a point is not paired with the other models' whole points). The result is a `SweepResult`, plain
data with a JSON round trip, a Markdown table and a CSV file.

What a point can be:
- ways: at most the source's classes; a learner with one classifier output per training way
  (MAML, Reptile, the LSTM meta-learner, Meta Networks, MANN's label slots) at most those ways —
  asked of the learner itself (`refusal`, `way_limit`), so a new algorithm needs no entry here;
- shots: every class needs K support images plus at least one query; the queries per class are
  `q_query`, fewer at a point where the source's smallest class has fewer than K + Q images
  (Omniglot's 20 drawings: a 10-shot point gets 10 queries). Fewer queries widen the CI; they do
  not change what is measured.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import torch

from ..algorithms.base import MetaLearner
from ..episodes import TEST_SEED, EpisodeSampler
from ..errors import ConfigError
from ..evaluation import episode_accuracy
from ..files import atomic_write
from .report import fmt_accuracy, write_rows_csv
from ..sources.base import ClassSource
from ..stats import EpisodeAccuracies
from ..trainer import CancelToken
from ..tasks import DEFAULT_TASK

DEFAULT_SHOTS = (1, 2, 3, 5, 10)
DEFAULT_WAYS = (2, 5, 10, 20, 50)  # kept up to what the source and at least one model support
CSV_COLUMNS = ("model", "title", "n_way", "k_shot", "q_query", "status", "accuracy", "ci95", "episodes", "message")
POINT_STATUSES = ("pending", "done", "stopped", "unsupported")


@dataclass
class SweepConfig:
    shots: list[int] | None = None  # None: DEFAULT_SHOTS, up to what the source's classes hold (K + 1 images)
    ways: list[int] | None = None  # None: DEFAULT_WAYS, up to what the source and the models support
    q_query: int = DEFAULT_TASK.q_query  # queries per class (fewer where the source's classes are too small for K + Q)
    episodes: int = 600  # test episodes per point
    seed: int = TEST_SEED
    each_query: bool = False  # classify every query on its own (the app's way) instead of as one batch
    source: str = ""  # the test source's description, for the report

    def validate(self) -> None:
        if self.shots is not None and (not self.shots or min(self.shots) < 1):
            raise ConfigError(f"shots must be ≥ 1, got {self.shots}")
        if self.ways is not None and (not self.ways or min(self.ways) < 2):
            raise ConfigError(f"ways must be ≥ 2, got {self.ways}")
        if self.q_query < 1:
            raise ConfigError(f"queries per class must be ≥ 1, got {self.q_query}")
        if self.episodes < 1:
            raise ConfigError(f"episodes per point must be ≥ 1, got {self.episodes}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "SweepConfig":
        shots, ways = d.get("shots"), d.get("ways")
        return cls(None if shots is None else [int(k) for k in shots], None if ways is None else [int(n) for n in ways],
                   int(d.get("q_query", DEFAULT_TASK.q_query)), int(d.get("episodes", 600)), int(d.get("seed", TEST_SEED)),
                   bool(d.get("each_query", False)), str(d.get("source", "")))


@dataclass
class SweepPoint(EpisodeAccuracies):
    model: str  # the model's label in the sweep (a checkpoint's name, or the algorithm's)
    n_way: int
    k_shot: int
    q_query: int
    per_episode: list[float] = field(default_factory=list)
    status: str = "pending"  # pending | done | stopped (cancelled inside it) | unsupported (the model cannot)
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "SweepPoint":
        return cls(str(d["model"]), int(d["n_way"]), int(d["k_shot"]), int(d["q_query"]), [float(v) for v in d.get("per_episode", [])],
                   str(d.get("status", "pending")), str(d.get("message", "")))


@dataclass
class SweepProgress:
    point: int  # index into SweepResult.points of the point being run
    points_done: int  # finished points so far (of every model)
    points_total: int  # points to run (unsupported ones not counted)
    model: str
    n_way: int
    k_shot: int
    episode: int  # episodes of this point done (1-based count)
    episodes: int  # episodes per point
    accuracy: float  # running mean accuracy of this point
    status: str = "running"  # running | done | cancelled (the last progress of a run says which)

    @property
    def fraction(self) -> float:
        """Share of the whole sweep's episodes done, in [0, 1]."""
        return min(1.0, (self.points_done * self.episodes + (self.episode if self.status == "running" else 0))
                   / max(1, self.points_total * self.episodes))

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "fraction": self.fraction}


@dataclass
class SweepResult:
    config: SweepConfig
    models: list[str]  # labels, in the order they run
    titles: dict[str, str]  # label -> the algorithm's title
    points: list[SweepPoint]
    status: str = "pending"  # pending | running | done | cancelled

    # -- looking points up ---------------------------------------------------------------------
    @property
    def ways(self) -> list[int]:
        return sorted({p.n_way for p in self.points})

    @property
    def shots(self) -> list[int]:
        return sorted({p.k_shot for p in self.points})

    def point(self, model: str, n_way: int, k_shot: int) -> SweepPoint | None:
        return next((p for p in self.points if p.model == model and p.n_way == n_way and p.k_shot == k_shot), None)

    def shot_curve(self, model: str, n_way: int) -> list[SweepPoint]:
        """`model`'s finished points at `n_way`, by shots: accuracy against shots."""
        return sorted((p for p in self.points if p.model == model and p.n_way == n_way and p.finished), key=lambda p: p.k_shot)

    def way_curve(self, model: str, k_shot: int) -> list[SweepPoint]:
        """`model`'s finished points at `k_shot`, by ways: accuracy against ways."""
        return sorted((p for p in self.points if p.model == model and p.k_shot == k_shot and p.finished), key=lambda p: p.n_way)

    # -- plain data ----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"kind": "fewshot-sweep", "version": 1, "config": self.config.to_dict(), "models": list(self.models),
                "titles": dict(self.titles), "points": [p.to_dict() for p in self.points], "status": self.status}

    @classmethod
    def from_dict(cls, d: Any) -> "SweepResult":
        if not isinstance(d, Mapping) or d.get("kind") != "fewshot-sweep":
            raise ConfigError("not a Few-Shot Studio sweep (expected a JSON object of kind 'fewshot-sweep')")
        try:
            return cls(SweepConfig.from_dict(d["config"]), [str(m) for m in d["models"]], {str(k): str(v) for k, v in d.get("titles", {}).items()},
                       [SweepPoint.from_dict(p) for p in d["points"]], str(d.get("status", "done")))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"a damaged sweep: {exc.__class__.__name__}: {exc}") from None

    def save_json(self, path: str | Path) -> Path:
        text = json.dumps(self.to_dict(), indent=1)
        return atomic_write(path, lambda fh: fh.write(text.encode("utf-8")))

    @classmethod
    def load_json(cls, path: str | Path) -> "SweepResult":
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{path}: cannot read a sweep ({exc})") from None
        return cls.from_dict(data)

    # -- reports -------------------------------------------------------------------------------
    def table_rows(self) -> list[dict[str, Any]]:
        """One row per point with the CSV_COLUMNS (accuracy and CI None where not finished)."""
        return [{"model": p.model, "title": self.titles.get(p.model, ""), "n_way": p.n_way, "k_shot": p.k_shot, "q_query": p.q_query,
                 "status": p.status, "accuracy": p.mean if p.finished else None, "ci95": p.ci95 if p.finished else None,
                 "episodes": len(p.per_episode), "message": p.message} for p in self.points]

    def write_csv(self, path: str | Path) -> Path:
        return write_rows_csv(self.table_rows(), CSV_COLUMNS, path)

    def markdown(self) -> str:
        """A README table: one row per model and ways, one column per shots, cells mean ± 95% CI (%)."""
        c = self.config
        shots = self.shots
        fewer = sorted({(p.k_shot, p.q_query) for p in self.points if p.q_query < c.q_query})
        out = [f"Shot/way sweep: {c.episodes} test episodes per point (seed {c.seed}), {c.q_query} queries per class"
               f"{' (' + ', '.join(f'{q} at {k}-shot' for k, q in fewer) + ': the classes hold too few images for more)' if fewer else ''}"
               f"{', each query on its own' if c.each_query else ''}; source: {c.source or '?'}. Accuracy (%): mean ± 95% CI.", "",
               "| model | ways | " + " | ".join(f"{k}-shot" for k in shots) + " |", "|---|---|" + "---|" * len(shots)]
        for m in self.models:
            for n in self.ways:
                cells = []
                for k in shots:
                    p = self.point(m, n, k)
                    cells.append(fmt_accuracy(p.mean, p.ci95) if p is not None and p.finished else f"— ({p.status})" if p is not None else "—")
                label = f"{self.titles[m]} (`{m}`)" if self.titles.get(m) and self.titles[m] != m else f"`{m}`"
                out.append(f"| {label} | {n} | " + " | ".join(cells) + " |")
        skipped = sorted({p.message for p in self.points if p.status == "unsupported" and p.message})
        if skipped:
            out += ["", *(f"— (unsupported): {msg}" for msg in skipped)]
        if self.status == "cancelled":
            out += ["", "The sweep was stopped: the points marked pending or stopped were not measured."]
        return "\n".join(out) + "\n"


# -- what a model and a source support --------------------------------------------------------------

def refusal(learner: MetaLearner, n_way: int) -> str | None:
    """Why `learner` cannot classify `n_way` classes, in its own words (None: it can).

    Asked of the learner: it adapts to a tiny blank task of that many classes, one image each, and
    a learner with one output per training way refuses a larger one with a ValueError
    (`MetaLearner.require_ways`, MANN's label slots), so a new algorithm needs no entry here. Its
    weights, buffers, train/eval mode and the global random state are restored afterwards:
    asking changes nothing a sweep measures."""
    state = {k: v.detach().clone() for k, v in learner.state_dict().items()}
    was_training = learner.training
    try:
        with torch.random.fork_rng(devices=[]):
            learner.adapt(torch.zeros(n_way, *learner.input_shape, device=learner.device), torch.arange(n_way, device=learner.device))
        return None
    except ValueError as exc:
        return str(exc)
    finally:
        learner.load_state_dict(state)
        learner.train(was_training)


def way_limit(learner: MetaLearner, candidates: Sequence[int]) -> int | None:
    """The largest of `candidates` that `learner` can classify (None: not even the smallest)."""
    return next((n for n in sorted(set(candidates), reverse=True) if refusal(learner, n) is None), None)


def _labelled(models: Mapping[str, MetaLearner] | Sequence[MetaLearner] | MetaLearner) -> dict[str, MetaLearner]:
    """{label: learner}; learners given without labels are named by their algorithm (name, name#2, ...)."""
    if isinstance(models, MetaLearner):
        models = [models]
    if isinstance(models, Mapping):
        out = dict(models)
    else:
        out = {}
        for learner in models:
            label, n = learner.name, 1
            while label in out:
                n += 1
                label = f"{learner.name}#{n}"
            out[label] = learner
    if not out:
        raise ConfigError("a sweep needs at least one model")
    return out


class Sweep:
    """Evaluate one or more trained learners over shots × ways on the same fixed test episodes.

    `Sweep(models, source, config).run()` yields progress; `self.result` holds the points (filled
    as they finish) at any moment, and `self.config` the grid as settled (shots and ways filled in).
    `models`: a learner, a list of them, or {label: learner}. Shots or ways asked for that the
    source cannot serve (more ways than classes, a class with fewer than K + 1 images) are a
    ConfigError here, before any work; default ones are dropped. Points a model cannot classify are
    marked `unsupported` with the model's reason; ways no model supports are dropped from a default grid."""

    def __init__(self, models: Mapping[str, MetaLearner] | Sequence[MetaLearner] | MetaLearner, source: ClassSource,
                 config: SweepConfig | None = None, cancel: CancelToken | None = None):
        self.models = _labelled(models)
        self.source = source
        self.config = config = dataclasses.replace(config) if config is not None else SweepConfig()
        config.validate()
        self.cancel = cancel or CancelToken()
        if not config.source:
            config.source = source.description
        smallest = int(source.counts.min()) if len(source.counts) else 0
        if config.shots is None:
            config.shots = [k for k in DEFAULT_SHOTS if k + 1 <= smallest] or [1]
        config.shots = sorted(set(config.shots))
        explicit_ways = config.ways is not None
        ways = sorted(set(config.ways)) if explicit_ways else [n for n in DEFAULT_WAYS if n <= source.num_classes]
        too_many = [n for n in ways if n > source.num_classes]
        if too_many:
            raise ConfigError(f"{source.description}: {max(too_many)}-way episodes need {max(too_many)} classes, the source has {source.num_classes}")
        too_few = [k for k in config.shots if k + 1 > smallest]
        if too_few:
            raise ConfigError(f"{source.description}: {max(too_few)}-shot episodes need {max(too_few) + 1} images per class "
                              f"(K shots + at least 1 query); its smallest class has {smallest}")
        limits = {label: way_limit(learner, ways) for label, learner in self.models.items()}
        supported = [n for n in ways if any(lim is not None and n <= lim for lim in limits.values())]
        if not supported:
            label, learner = next(iter(self.models.items()))
            raise ConfigError(f"{label}: {refusal(learner, min(ways))}")
        if not explicit_ways:
            ways = supported
        config.ways = ways
        points = []
        for label, learner in self.models.items():
            lim = limits[label]
            for n in ways:
                reason = "" if lim is not None and n <= lim else (refusal(learner, n) or f"cannot classify {n} classes")
                for k in config.shots:
                    points.append(SweepPoint(label, n, k, min(config.q_query, smallest - k),
                                             status="unsupported" if reason else "pending", message=reason))
        self.result = SweepResult(config, list(self.models), {label: learner.title for label, learner in self.models.items()}, points)

    def run(self) -> Iterator[SweepProgress]:
        c, r = self.config, self.result
        todo = [i for i, p in enumerate(r.points) if p.status == "pending"]
        r.status = "running"
        done = 0
        last = SweepProgress(-1, 0, len(todo), "", 0, 0, 0, c.episodes, float("nan"))
        for i in todo:
            p = r.points[i]
            learner = self.models[p.model]
            device = learner.device
            sampler = EpisodeSampler(self.source.to(device), p.n_way, p.k_shot, p.q_query, seed=c.seed, device=device)
            accs: list[float] = []
            for e in range(c.episodes):
                if self.cancel.cancelled:
                    p.status, p.message = "stopped", f"stopped after {e} of {c.episodes} episodes; a part of a point is not kept"
                    r.status = "cancelled"
                    yield dataclasses.replace(last, status="cancelled", points_done=done)
                    return
                accs.append(episode_accuracy(learner, sampler.episode(e), c.each_query))
                last = SweepProgress(i, done, len(todo), p.model, p.n_way, p.k_shot, e + 1, c.episodes, sum(accs) / len(accs))
                yield last
            p.per_episode, p.status = accs, "done"
            done += 1
        r.status = "done"
        yield dataclasses.replace(last, status="done", points_done=done)


def sweep(models: Mapping[str, MetaLearner] | Sequence[MetaLearner] | MetaLearner, source: ClassSource,
          config: SweepConfig | None = None, cancel: CancelToken | None = None,
          on_progress: Callable[[SweepProgress], None] | None = None) -> SweepResult:
    """Run a whole sweep (see `Sweep`) and return its result; `on_progress` sees every progress."""
    s = Sweep(models, source, config, cancel)
    for progress in s.run():
        if on_progress is not None:
            on_progress(progress)
    return s.result
