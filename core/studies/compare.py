"""Compare algorithms side by side, fairly: same training episodes, same test episodes, paired tests.

`Comparison(config, train, val, test).run()` is a generator, like `Trainer.run()`: it meta-trains
the chosen algorithms one after another with the existing `Trainer`, tests each on the same fixed
test episodes as soon as it is trained, and yields plain-Python event dicts as it goes (the CLI
prints them, the app forwards them from a worker thread). A `CancelToken` is checked before every
training step and every test episode; algorithms that finished keep their results.

Fairness
- Training episodes: every algorithm's Trainer samples with the same seed, so episode i of the
  stream is the same task for all of them (`EpisodeSampler.episode(i)` is a pure function of the
  seed and i). With protocol "same" (the default) every algorithm trains on the test shape
  (N-way K-shot Q-query): the tensors are identical, in the same order; an algorithm with a
  meta-batch (MAML, Reptile) takes several consecutive episodes of that stream per step. With
  protocol "paper" each algorithm keeps its paper's training shape (ProtoNet's 60 ways, Reptile's
  10 shots, ...): same seed, but episodes of different shapes are different tasks.
- Initial weights depend on the seed alone (the Trainer seeds torch before building a learner).
- Test episodes: stream `test_seed` (default `episodes.TEST_SEED`, the published results') of the test
  source, identical for every algorithm; a digest of their tensors is kept with each result.

Statistics, over the M shared test episodes (`core.stats`): accuracy mean ± 95% CI, the win
rate of every algorithm over every other, and the two-sided Wilcoxon signed-rank test on the
paired per-episode accuracies, Holm-corrected over all pairs of the comparison.

Records: `to_dict()` / `save_json()` / `load_json()` (config, curves, per-episode accuracies,
results; the trained models stay in memory only, in `learners`), `write_table_csv()` /
`write_matrix_csv()` (readers for round trips in `report`), `markdown()` for a README table.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import torch

from ..algorithms import get_algorithm, parse_hparams
from ..algorithms.base import MetaLearner
from ..checkpoint import learner_from_bytes, learner_from_checkpoint, learner_to_bytes
from . import report
from ..episodes import TEST_SEED, EpisodeSampler
from ..errors import CompareError, FewShotError
from ..files import atomic_write
from ..inference import probabilities
from ..peakmem import peak_mb, reset_peak
from ..sources.base import ClassSource
from ..stats import EpisodeAccuracies, Pairwise, pairwise
from ..trainer import CancelToken, TrainConfig, Trainer
from .result_curves import new_curves, recorded_curves, thin_curves
from ..tasks import COMPARE_PROTOCOLS, COMPARISON_FORMAT, DEFAULT_TASK

FORMAT = COMPARISON_FORMAT
FORMAT_VERSION = 1
PROTOCOLS = COMPARE_PROTOCOLS
CURVE_POINTS = 2000  # per curve in a saved comparison (longer runs are averaged into this many bins)


# -- configuration and results -------------------------------------------------------------------

@dataclass
class CompareConfig:
    algorithms: list[str]
    hparams: dict[str, dict[str, Any]] = field(default_factory=dict)  # per algorithm: overrides of the paper's
    n_way: int = DEFAULT_TASK.n_way  # the test protocol (and, with protocol "same", the training episodes)
    k_shot: int = DEFAULT_TASK.k_shot
    q_query: int = DEFAULT_TASK.q_query
    protocol: str = "same"
    steps_each: int = 1000  # meta-training steps per algorithm
    seconds_each: float | None = None  # training-time budget per algorithm, validations excluded (the run stops at whichever comes first)
    seed: int = 0  # training episodes and initial weights
    eval_episodes: int = 600
    test_seed: int = TEST_SEED
    val_every: int = 500
    val_episodes: int = 100
    device: str = "auto"
    source: str = ""  # what the training / test sources were (a description, for the record)
    # Algorithms compared as already-trained models instead of racing from scratch: algorithm ->
    # checkpoint path (e.g. the starter models). Those are only tested, on the same episodes.
    models: dict[str, str] = field(default_factory=dict)

    @property
    def trains(self) -> bool:
        """Whether any algorithm meta-trains here (not every one is given as a trained model):
        only then does the comparison need a training source."""
        return any(name not in self.models for name in self.algorithms)

    def validate(self) -> None:
        if not self.algorithms:
            raise CompareError("choose at least one algorithm to compare")
        if len(set(self.algorithms)) != len(self.algorithms):
            raise CompareError(f"an algorithm is listed twice: {', '.join(self.algorithms)}")
        if self.protocol not in PROTOCOLS:
            raise CompareError(f"unknown protocol {self.protocol!r}; expected one of {', '.join(PROTOCOLS)}")
        if self.eval_episodes < 1:
            raise CompareError("a comparison needs at least one test episode")
        for name in self.hparams:
            if name not in self.algorithms:
                raise CompareError(f"hyperparameters given for {name!r}, which is not among the compared algorithms ({', '.join(self.algorithms)})")
        for name in self.models:
            if name not in self.algorithms:
                raise CompareError(f"a model given for {name!r}, which is not among the compared algorithms ({', '.join(self.algorithms)})")
            if name in self.hparams:
                raise CompareError(f"{name}: a trained model is compared as it was trained; hyperparameters cannot be changed")
        for name in self.algorithms:
            try:  # the one parser of hyperparameters (also what training will use)
                parse_hparams(name, self.hparams.get(name))
            except ValueError as exc:  # an unknown algorithm or a bad value (ConfigError is a ValueError)
                raise CompareError(f"{name}: {exc.__cause__ or exc}") from None  # the cause's message does not repeat the title

    def train_config(self, name: str) -> TrainConfig:
        same = self.protocol == "same"
        return TrainConfig(
            algorithm=name, hparams=dict(self.hparams.get(name) or {}), n_way=self.n_way, k_shot=self.k_shot, q_query=self.q_query,
            train_way=self.n_way if same else None, train_shot=self.k_shot if same else None, train_query=self.q_query if same else None,
            steps=self.steps_each, max_seconds=self.seconds_each, seed=self.seed, val_every=self.val_every,
            val_episodes=self.val_episodes, device=self.device,
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "CompareConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


@dataclass
class AlgoResult(EpisodeAccuracies):
    algorithm: str
    title: str = ""
    family: str = ""
    status: str = "pending"  # pending | training | testing | done | stopped | failed | skipped
    message: str = ""
    hparams: dict[str, Any] = field(default_factory=dict)  # all of them, as trained
    episode_shape: dict[str, int] = field(default_factory=dict)
    steps: int = 0
    episodes: int = 0  # training episodes seen
    train_seconds: float = 0.0  # wall time of meta-training, periodic validation included
    episodes_per_s: float = 0.0
    parameters: int = 0
    peak_memory_mb: float | None = None
    memory_kind: str = ""  # what peak_memory_mb measures
    device: str = ""
    per_episode: list[float] = field(default_factory=list)  # test accuracy per shared test episode
    test_seconds: float = 0.0
    test_digest: str = ""  # of the test episodes' tensors: equal digests = the same test episodes
    curves: dict[str, list] = field(default_factory=new_curves)
    validation: dict[str, int] = field(default_factory=dict)  # what its validation curve measured: n_way, k_shot, episodes

    def to_dict(self, curve_points: int | None = CURVE_POINTS) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["mean"], d["ci95"] = (self.mean, self.ci95) if self.per_episode else (None, None)
        if curve_points:
            d["curves"] = thin_curves(self.curves, curve_points)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "AlgoResult":
        known = {f.name for f in dataclasses.fields(cls)}
        r = cls(**{k: v for k, v in d.items() if k in known})
        r.curves = {**new_curves(), **(r.curves or {})}
        r.per_episode = [float(v) for v in r.per_episode]
        return r


def _probabilities(learner: MetaLearner, support_x: torch.Tensor, support_y: torch.Tensor, query_x: torch.Tensor) -> list | str:
    try:
        return probabilities(learner, support_x, support_y, query_x).tolist()
    except (ValueError, RuntimeError) as exc:
        return str(exc)


# -- the comparison ------------------------------------------------------------------------------

class Comparison:
    """Several algorithms on identical seeded episodes. `run()` yields event dicts:

    begin {algorithms, total} · start {algorithm, index, total, title, parameters, device, shape}
    · progress {algorithm, **Progress.to_dict()} · testing {algorithm, done, total, accuracy}
    · result {algorithm, result} · stopped {algorithm, message} · failed {algorithm, message}
    · end {status: done | cancelled, finished: [names]}
    """

    def __init__(self, config: CompareConfig, train_source: ClassSource | None = None, val_source: ClassSource | None = None,
                 test_source: ClassSource | None = None, cancel: CancelToken | None = None):
        config.validate()
        self.config = config = dataclasses.replace(config, hparams={k: dict(v) for k, v in config.hparams.items()})
        self.train_source, self.val_source, self.test_source = train_source, val_source, test_source
        self.cancel = cancel or CancelToken()
        self.results: dict[str, AlgoResult] = {}
        for name in config.algorithms:
            cls = get_algorithm(name)
            self.results[name] = AlgoResult(name, cls.title, cls.family)
        self.learners: dict[str, MetaLearner] = {}  # the trained models, in memory only
        self.status = "pending"  # pending | running | done | cancelled
        self.created = _dt.datetime.now().isoformat(timespec="seconds")
        if not config.source and train_source is not None:
            config.source = train_source.description if test_source is None or test_source is train_source else \
                f"{train_source.description} → test {test_source.description}"

    # -- running ---------------------------------------------------------------------------------
    def run(self) -> Iterator[dict[str, Any]]:
        if (self.config.trains and self.train_source is None) or self.test_source is None:
            raise CompareError("a comparison needs a training source and a test source to run")
        c = self.config
        self.status = "running"
        yield {"kind": "begin", "algorithms": list(c.algorithms), "total": len(c.algorithms)}
        for index, name in enumerate(c.algorithms):
            r = self.results[name]
            if self.cancel.cancelled:
                r.status, r.message = "skipped", "not run: the comparison was stopped"
                continue
            try:
                yield from self._one(index, name, r)
            except Exception as exc:  # noqa: BLE001 - one failing algorithm must not lose the others' results
                r.status = "failed"
                r.message = f"{exc}" if isinstance(exc, FewShotError) else f"{exc.__class__.__name__}: {exc}"
                self.learners.pop(name, None)
                yield {"kind": "failed", "algorithm": name, "message": r.message}
        self.status = "cancelled" if self.cancel.cancelled else "done"
        yield {"kind": "end", "status": self.status, "finished": [n for n, r in self.results.items() if r.finished]}

    def _one(self, index: int, name: str, r: AlgoResult) -> Iterator[dict[str, Any]]:
        c = self.config
        if name in c.models:
            yield from self._one_trained(index, name, r, c.models[name])
            return
        trainer = Trainer(c.train_config(name), self.train_source, self.val_source, cancel=self.cancel)
        learner, device = trainer.learner, trainer.device
        r.hparams = dataclasses.asdict(learner.hparams)
        r.episode_shape = trainer.episode_shape()
        r.parameters = learner.parameter_count()
        r.device = str(device)
        r.memory_kind = reset_peak(device)
        r.status, r.curves = "training", new_curves()
        r.validation = {"n_way": c.n_way, "k_shot": c.k_shot, "episodes": c.val_episodes}
        yield {"kind": "start", "algorithm": name, "index": index, "total": len(c.algorithms), "title": r.title,
               "parameters": r.parameters, "device": r.device, "shape": dict(r.episode_shape)}
        last = None
        for p in trainer.run():
            last = p
            cv = r.curves
            if p.status == "running":
                cv["episodes"].append(p.episodes)
                cv["seconds"].append(p.train_s)
                cv["loss"].append(p.loss)
                cv["accuracy"].append(p.accuracy)
            if p.val_accuracy is not None:
                cv["val_episodes"].append(p.episodes)
                cv["val_seconds"].append(p.train_s)
                cv["val_accuracy"].append(p.val_accuracy)
            yield {"kind": "progress", "algorithm": name, **p.to_dict()}
        r.steps, r.episodes, r.train_seconds = trainer.step, trainer.episodes_seen, last.train_s
        r.episodes_per_s = r.episodes / r.train_seconds if r.train_seconds > 0 else 0.0
        if last.status == "cancelled":
            r.status, r.message = "stopped", f"stopped after {r.steps} training steps; not tested"
            r.peak_memory_mb = peak_mb(device)
            yield {"kind": "stopped", "algorithm": name, "message": r.message}
            return
        yield from self._test_and_keep(name, learner, r, device, last.message)

    def _test_and_keep(self, name: str, learner: MetaLearner, r: AlgoResult, device: torch.device, message: str) -> Iterator[dict[str, Any]]:
        """Test a trained learner on the shared episodes; keep it and its result unless stopped."""
        r.status = "testing"
        yield from self._test(name, learner, r, device)
        r.peak_memory_mb = peak_mb(device)
        if r.status == "stopped":
            yield {"kind": "stopped", "algorithm": name, "message": r.message}
            return
        r.status, r.message = "done", message
        self.learners[name] = learner
        yield {"kind": "result", "algorithm": name, "result": r.to_dict(curve_points=None)}

    def _one_trained(self, index: int, name: str, r: AlgoResult, path: str) -> Iterator[dict[str, Any]]:
        """An algorithm compared as a model already trained (a checkpoint): no training, the same
        test episodes as the others; its record (steps, training time) is the checkpoint's."""
        from ..checkpoint import read_checkpoint
        from ..trainer import auto_device

        c = self.config
        raw = read_checkpoint(path)
        if raw["algorithm"] != name:
            raise CompareError(f"{path} holds a {raw['algorithm']} model, not {name}")
        device = auto_device(c.device)
        learner = learner_from_checkpoint(raw, device, with_optimizer=False)
        test_spec = self.test_source.spec
        if learner.spec != test_spec:
            raise CompareError(f"the model sees {learner.spec.size[1]}×{learner.spec.size[0]} images ({learner.spec.channels} channel(s)), "
                               f"the test episodes are {test_spec.size[1]}×{test_spec.size[0]} ({test_spec.channels}): not comparable")
        trainer = raw.get("trainer") or {}
        r.hparams = dataclasses.asdict(learner.hparams)
        r.episode_shape = dict(trainer.get("episode_shape") or {})
        r.parameters = learner.parameter_count()
        r.device = str(device)
        r.memory_kind = reset_peak(device)
        r.steps, r.episodes = int(trainer.get("step", 0)), int(trainer.get("episodes_seen", 0))
        r.train_seconds = float(trainer.get("train_s", trainer.get("elapsed_s", 0.0)) or 0.0)
        r.curves = recorded_curves(trainer.get("history") or {}, int(r.episode_shape.get("meta_batch", 1) or 1), r.steps, r.train_seconds)
        trained = trainer.get("config") or {}
        r.validation = {"n_way": int(trained.get("n_way", 0)), "k_shot": int(trained.get("k_shot", 0)),
                        "episodes": int(trained.get("val_episodes", 0))}
        r.episodes_per_s = r.episodes / r.train_seconds if r.train_seconds > 0 else 0.0
        yield {"kind": "start", "algorithm": name, "index": index, "total": len(c.algorithms), "title": r.title,
               "parameters": r.parameters, "device": r.device, "shape": dict(r.episode_shape), "trained": str(path)}
        yield from self._test_and_keep(name, learner, r, device, f"trained model {Path(path).name}: not trained here")

    def _test(self, name: str, learner: MetaLearner, r: AlgoResult, device: torch.device) -> Iterator[dict[str, Any]]:
        """The shared test episodes, scored exactly as `evaluation.evaluate` scores them (adapt on
        the support set, argmax over the queries), one at a time so Stop and progress get through."""
        c = self.config
        sampler = EpisodeSampler(self.test_source.to(device), c.n_way, c.k_shot, c.q_query, seed=c.test_seed, device=device)
        digest = hashlib.blake2b(digest_size=12)
        accs: list[float] = []
        every = max(1, c.eval_episodes // 100)
        t0 = time.perf_counter()
        for i in range(c.eval_episodes):
            if self.cancel.cancelled:
                r.status, r.message = "stopped", f"stopped while testing (episode {i} of {c.eval_episodes}); partial results are not paired, so none are kept"
                return
            ep = sampler.episode(i)
            for t in (ep.support_x, ep.support_y, ep.query_x, ep.query_y):
                digest.update(t.detach().cpu().contiguous().numpy().tobytes())
            classifier = learner.adapt(ep.support_x, ep.support_y)
            with torch.no_grad():
                pred = classifier(ep.query_x).argmax(-1)
            accs.append(float((pred == ep.query_y).float().mean()))
            if (i + 1) % every == 0 or i + 1 == c.eval_episodes:
                yield {"kind": "testing", "algorithm": name, "done": i + 1, "total": c.eval_episodes, "accuracy": sum(accs) / len(accs)}
        r.per_episode = accs
        r.test_seconds = time.perf_counter() - t0
        r.test_digest = digest.hexdigest()

    # -- results -----------------------------------------------------------------------------------
    def finished(self) -> list[AlgoResult]:
        return [r for r in self.results.values() if r.finished]

    def pairwise(self, by_accuracy: bool = False) -> Pairwise:
        """The pairwise matrix of the finished algorithms, in the config's order (or best first)."""
        done = self.finished()
        if by_accuracy:
            done = sorted(done, key=lambda r: -r.mean)
        return pairwise({r.algorithm: r.per_episode for r in done})

    def model_bytes(self) -> dict[str, bytes]:
        """The trained models as checkpoint bytes (what a project file keeps)."""
        return {name: learner_to_bytes(learner, extra={"comparison": self.created}) for name, learner in self.learners.items()}

    def load_models(self, models: dict[str, bytes], device: torch.device | str = "cpu") -> None:
        for name, data in models.items():
            if name in self.results and self.results[name].finished:
                self.learners[name] = learner_from_bytes(data, device, prefix=f"compared model {name}: ")

    def classify(self, support_x: torch.Tensor, support_y: torch.Tensor, query_x: torch.Tensor) -> dict[str, Any]:
        """Every trained model's class probabilities for `query_x` ([Q, N] lists), adapted on the
        given support set; an algorithm that cannot (e.g. MAML asked for more ways than it
        trained on) gets its error message (a str) instead."""
        return {name: _probabilities(learner, support_x, support_y, query_x) for name, learner in self.learners.items()}

    def classify_images(self, support: list[Any], labels: list[int], queries: list[Any]) -> dict[str, Any]:
        """`classify` on raw images (paths, PNG bytes, PIL images, arrays: anything
        `prepare_images` reads), each model seeing them through its own InputSpec."""
        from ..sources import prepare_images

        out: dict[str, Any] = {}
        prepared: dict[tuple[str, str], tuple] = {}
        for name, learner in self.learners.items():
            spec, dev = learner.spec, learner.device
            key = (repr(spec.to_dict()), str(dev))
            if key not in prepared:
                prepared[key] = (spec.to_model(prepare_images(support, spec), dev), torch.tensor(labels, dtype=torch.long, device=dev),
                                 spec.to_model(prepare_images(queries, spec), dev))
            out[name] = _probabilities(learner, *prepared[key])
        return out

    def explain_images(self, support: list[Any], labels: list[int], queries: list[Any], classes: list[str] | None = None,
                       query_names: list[str] | None = None) -> dict[str, Any]:
        """Every trained model's explanations of raw query images (`core.explain`: one per query),
        adapted on the given support set; a model that cannot classify it gets its message (a str)."""
        from ..explaining import explain_images

        out: dict[str, Any] = {}
        for name, learner in self.learners.items():
            try:
                out[name] = explain_images(learner, support, labels, queries, classes, query_names)
            except (ValueError, RuntimeError) as exc:
                out[name] = str(exc)
        return out

    # -- records -----------------------------------------------------------------------------------
    def to_dict(self, curve_points: int | None = CURVE_POINTS) -> dict[str, Any]:
        pw = self.pairwise()
        return {
            "format": FORMAT, "format_version": FORMAT_VERSION, "created": self.created, "status": self.status,
            "config": self.config.to_dict(),
            "results": [r.to_dict(curve_points) for r in self.results.values()],
            "pairwise": dataclasses.asdict(pw),
        }

    @classmethod
    def from_dict(cls, d: Any) -> "Comparison":
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise CompareError("not a Few-Shot Studio comparison (no format marker)")
        if int(d.get("format_version", 0)) > FORMAT_VERSION:
            raise CompareError(f"written by a newer Few-Shot Studio (comparison format {d['format_version']}); update to open it")
        try:
            config = CompareConfig.from_dict(d["config"])
            results = [AlgoResult.from_dict(r) for r in d["results"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise CompareError(f"damaged comparison ({exc.__class__.__name__}: {exc})") from exc
        # Algorithms this version does not have are still shown (their numbers are plain data).
        comp = cls.__new__(cls)
        comp.config, comp.cancel = config, CancelToken()
        comp.train_source = comp.val_source = comp.test_source = None
        comp.results = {r.algorithm: r for r in results}
        comp.learners = {}
        comp.status = str(d.get("status", "done"))
        comp.created = str(d.get("created", ""))
        return comp

    def save_json(self, path: str | Path) -> Path:
        """Write the comparison as JSON, atomically (temp file + rename)."""
        text = json.dumps(self.to_dict(), indent=1, ensure_ascii=False, allow_nan=True)
        return atomic_write(path, text.encode("utf-8"))

    @classmethod
    def load_json(cls, path: str | Path) -> "Comparison":
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CompareError(f"{path}: no such file") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CompareError(f"{path}: not a comparison JSON file ({exc.__class__.__name__}: {exc})") from exc
        try:
            return cls.from_dict(data)
        except CompareError as exc:
            raise CompareError(f"{path}: {exc}") from None

    # -- tables and Markdown (written by core.report) ------------------------------------------------
    TABLE_COLUMNS = report.TABLE_COLUMNS
    MATRIX_BLOCKS = report.MATRIX_BLOCKS

    def table_rows(self) -> list[dict[str, Any]]:
        return report.table_rows(self.results.values())

    def write_table_csv(self, path: str | Path, by_accuracy: bool = False) -> Path:
        """The results table; in the config's order, or best first (`by_accuracy`, the app's order)."""
        rows = self.table_rows()
        if by_accuracy:
            rows.sort(key=lambda r: -1.0 if r["accuracy"] is None else -r["accuracy"])
        return report.write_table_csv(rows, path)

    def write_matrix_csv(self, path: str | Path, by_accuracy: bool = False) -> Path:
        """The pairwise matrix as CSV blocks (win rates, Holm-adjusted p-values, raw p-values); in
        the config's order, or best first (`by_accuracy`, the app's order)."""
        return report.write_matrix_csv(self.pairwise(by_accuracy), path)

    def markdown(self) -> str:
        return report.markdown(self.config, self.results.values(), self.pairwise(by_accuracy=True), PROTOCOLS[self.config.protocol])
