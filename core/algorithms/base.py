"""The contract every algorithm fills in, and the registry the CLI and the GUI list.

An algorithm is one file: a `MetaLearner` subclass decorated with `@register`, holding a frozen
`HParams` dataclass whose defaults are the paper's. The GUI builds its form from the dataclass
fields (type, range and tooltip come from `hp(...)` metadata), so a new algorithm needs no app code.

- `meta_train_step(tasks)` takes a meta-batch of episodes and owns its optimizer step (ProtoNet
  backpropagates a loss, MAML differentiates through adaptation, Reptile interpolates weights).
- `adapt(support_x, support_y)` returns a `Classifier`; `classifier(query_x)` gives class
  log-probabilities [Q, N].

Learners that adapt in one pass over the support set, with no optimizer steps (the metric
learners and Meta Networks), derive from `SupportSetLearner`, which holds their shared training
loop and `adapt` template; each fills in how an episode is scored.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError, FewShotError, TrainingDiverged
from ..episodes import Episode
from ..inputspec import InputSpec
from ..tasks import DEFAULT_TASK

# Learning-rate schedules of the Adam-trained learners (see MetaLearner.adam_with_halving).
LR_SCHEDULES = ("step", "budget")

FAMILIES = {"metric": "Metric-based", "model": "Model-based", "optimization": "Optimization-based"}


def hp(default: Any, doc: str, *, min: float | None = None, max: float | None = None,
       choices: tuple | None = None, log: bool = False) -> Any:
    """A hyperparameter field: default plus what a form needs (tooltip, range, choices)."""
    meta = {"doc": doc, "min": min, "max": max, "choices": choices, "log": log}
    return field(default=default, metadata=meta)


def hparam_fields(hparams_cls: type) -> list[dict[str, Any]]:
    """Describe an HParams dataclass for a generated form: name, type, default, doc, range, choices."""
    out = []
    for f in dataclasses.fields(hparams_cls):
        out.append({"name": f.name, "type": type(f.default), "default": f.default, **{k: f.metadata.get(k) for k in ("doc", "min", "max", "choices", "log")}})
    return out


def hparams_from_dict(hparams_cls: type, values: dict[str, Any] | None) -> Any:
    """Build HParams from a (possibly partial, possibly string-valued) dict; unknown keys are an error."""
    values = dict(values or {})
    known = {f.name: f for f in dataclasses.fields(hparams_cls)}
    unknown = set(values) - set(known)
    if unknown:
        raise ValueError(f"unknown hyperparameter(s) {', '.join(sorted(unknown))}; known: {', '.join(known)}")
    kwargs = {}
    for name, val in values.items():
        typ = type(known[name].default)
        if typ is bool and isinstance(val, str):
            val = val.strip().lower() in ("1", "true", "yes", "on")
        kwargs[name] = typ(val)
        meta = known[name].metadata
        if meta.get("choices") and kwargs[name] not in meta["choices"]:
            raise ValueError(f"{name}={kwargs[name]!r}: expected one of {meta['choices']}")
        for bound, ok in (("min", lambda v, b: v >= b), ("max", lambda v, b: v <= b)):
            if meta.get(bound) is not None and not ok(kwargs[name], meta[bound]):
                raise ValueError(f"{name}={kwargs[name]!r} is out of range [{meta.get('min')}, {meta.get('max')}]")
    return hparams_cls(**kwargs)


@dataclass
class StepMetrics:
    loss: float
    accuracy: float  # on the queries of the meta-batch
    episodes: int = 1  # episodes consumed by this step


class Classifier:
    """An adapted model: `classifier(query_x)` -> class log-probabilities [Q, N].

    Transductive classifiers (BatchNorm with the batch's own statistics, the papers' test protocol
    for MAML, Reptile and others) predict a query from the whole query batch: `batch_dependent`.
    `classify_each` gives every query a prediction of its own, independent of the other queries —
    what an app showing one drawn query needs. A lone query is never normalised by itself (for
    MAML a batch of one is ~chance): it goes through the network with `query_context` (the support
    set) when the algorithm gives one, or through `fn`, which then includes the support set itself.
    """

    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor], n_way: int, batch_dependent: bool = False,
                 query_context: torch.Tensor | None = None):
        self._fn = fn
        self.n_way = n_way
        self.batch_dependent = batch_dependent or query_context is not None
        self._context = query_context

    def __call__(self, query_x: torch.Tensor) -> torch.Tensor:
        return self._fn(query_x)

    def predict_proba(self, query_x: torch.Tensor) -> torch.Tensor:
        return self(query_x).exp()

    def classify_each(self, query_x: torch.Tensor) -> torch.Tensor:
        """Log-probabilities [Q, N], each query's independent of the others in `query_x`."""
        if not self.batch_dependent or len(query_x) == 0:
            return self(query_x)
        rows = []
        for q in query_x.split(1):
            batch = q if self._context is None else torch.cat([self._context.to(q.device, q.dtype), q])
            rows.append(self._fn(batch)[-1:])  # the query is the batch's last row
        return torch.cat(rows)

    def predict_proba_each(self, query_x: torch.Tensor) -> torch.Tensor:
        return self.classify_each(query_x).exp()


class MetaLearner(nn.Module):
    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    family: ClassVar[str] = "metric"
    paper: ClassVar[str] = ""
    HParams: ClassVar[type]
    # Settings other than the paper's that a run in docs/results.md measured to work better on a CPU budget:
    # {label: {field: value}}, applied on top of the paper defaults. The app offers them beside
    # "Restore paper defaults", `fewshot list` prints them and `fewshot train --preset LABEL` applies one.
    presets: ClassVar[dict[str, dict[str, Any]]] = {}
    # One or two plain sentences on how this algorithm decides (the explanation's summary).
    how_it_decides: ClassVar[str] = ""

    def __init__(self, hparams: Any = None, spec: InputSpec | None = None, n_way: int = DEFAULT_TASK.n_way):
        super().__init__()
        self.hparams = hparams if hparams is not None else self.HParams()
        self.spec = spec or InputSpec()
        self.n_way = n_way  # the ways it meta-trains on (fixes the size of a classifier head, if any)
        self.input_shape = (self.spec.channels, *self.spec.size)
        # Fraction of the run done, in [0, 1]: set by the Trainer before every step (steps done /
        # steps, or wall time / time budget when that runs out sooner). Schedules that anneal over
        # the whole run (Reptile's ε) read it, so they also anneal under a time budget.
        self.progress = 0.0
        # A data-parallel run (`core.distributed`): the Trainer sets this rank's DistContext; None
        # in one process, where every hook below does nothing.
        self.collective = None
        self._grads_averaged = False

    # -- to fill in --------------------------------------------------------------------------
    def meta_train_step(self, tasks: list[Episode]) -> StepMetrics:
        raise NotImplementedError

    def adapt(self, support_x: torch.Tensor, support_y: torch.Tensor) -> Classifier:
        raise NotImplementedError

    # -- optional hooks ----------------------------------------------------------------------
    def explain_parts(self, support_x: torch.Tensor, support_y: torch.Tensor, query_x: torch.Tensor, classes: list[str]) -> list:
        """The parts (`core.explanation`: Points, Matrix, Curves, Bars, Images, SupportWeights,
        Text) that show how this learner classifies the one query in `query_x` [1, C, H, W] from
        the support set (labels 0..N-1, named `classes[label]` in the parts), computed as `adapt(...).classify_each` computes its
        prediction, so every number can be checked against the probabilities it explains.
        `core.explain` calls it and adds the prediction itself. Default: no parts."""
        return []

    @classmethod
    def episode_defaults(cls, hparams: Any) -> dict[str, int]:
        """Training-episode shape the paper uses, as overrides of the test protocol
        (keys among train_way, train_shot, train_query, meta_batch). By default read from the
        hyperparameters `train_way` / `train_query` where an algorithm has them (0 = as tested)."""
        return {key: getattr(hparams, key) for key in ("train_way", "train_query") if getattr(hparams, key, 0)}

    def adam_with_halving(self, lr: float, halve_every: int, schedule: str = "step") -> None:
        """Adam over all parameters. schedule "step": the learning rate halves every `halve_every`
        steps (0 = never), the step decay of ProtoNet, Relation Net and the other metric learners.
        schedule "budget": a cosine from `lr` to 1% of it over the whole run, read from
        `self.progress`, so a run cut short by a time budget still ends with a small learning rate
        (the papers' step schedules assume far more episodes than a CPU does in minutes)."""
        if schedule not in LR_SCHEDULES:
            raise ValueError(f"unknown learning-rate schedule {schedule!r}; expected one of {LR_SCHEDULES}")
        self.optimizer = torch.optim.Adam(self.parameters(), lr=lr)
        self.scheduler = torch.optim.lr_scheduler.StepLR(self.optimizer, step_size=max(1, halve_every), gamma=0.5 if halve_every else 1.0)
        self._base_lr, self._lr_schedule = lr, schedule

    def _apply_budget_lr(self) -> None:
        if getattr(self, "_lr_schedule", "step") != "budget":
            return
        frac = min(1.0, max(0.0, self.progress))
        lr = self._base_lr * (0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * frac)))
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def step_path(self, tasks: list[Episode]) -> str:
        """Which computation a meta-training step on `tasks` runs, in words (`fewshot bench` prints
        it, so a fallback cannot pass for a batched figure). A learner that batches its meta-batch,
        or cannot, says so by overriding this."""
        return "one episode" if len(tasks) == 1 else f"loop over the {len(tasks)} tasks"

    def batched_accuracies(self, episodes: list[Episode]) -> torch.Tensor | None:
        """Each episode's query accuracy after adapting on its support set ([episodes] tensor, on
        the device), as `adapt` + argmax scores it, computed for all of them in one batched
        computation — or None where this learner has no such path for these episodes (`evaluate`
        then adapts episode by episode). Default: None."""
        return None

    def begin_training(self, total_steps: int, start_step: int = 0) -> None:
        """Called once before the loop (schedules such as Reptile's annealing need the length)."""

    def optim_state(self) -> dict:
        opt = getattr(self, "optimizer", None)
        sched = getattr(self, "scheduler", None)
        return {"optimizer": opt.state_dict() if opt else None, "scheduler": sched.state_dict() if sched else None}

    def load_optim_state(self, state: dict) -> None:
        if state.get("optimizer") is not None and getattr(self, "optimizer", None) is not None:
            self.optimizer.load_state_dict(state["optimizer"])
        if state.get("scheduler") is not None and getattr(self, "scheduler", None) is not None:
            self.scheduler.load_state_dict(state["scheduler"])

    # -- data-parallel training (core.distributed) ------------------------------------------------
    # Where a distributed update hooks in. In a torchrun run every rank calls meta_train_step on
    # its own share of the meta-batch, and the update must be averaged across ranks before it is
    # applied. A learner that backpropagates gets this without knowing about ranks: the Trainer
    # hooks every optimizer `meta_optimizers()` names, so its gradients are averaged just before
    # `step()`; `gradient_step` (and any learner that changes gradients between backward and step,
    # e.g. by clipping, which must act on the averaged gradient) calls `average_gradients()` right
    # after backward itself. A learner whose update is not a gradient (Reptile's interpolation)
    # averages what it applies with `average_across_ranks`.
    def meta_optimizers(self) -> list[torch.optim.Optimizer]:
        """The optimizers whose step is the meta-update (not inner-loop optimizers)."""
        opt = getattr(self, "optimizer", None)
        return [opt] if opt is not None else []

    def average_gradients(self) -> None:
        """Average the gradients of every parameter that has one across the ranks (once a step)."""
        if self.collective is not None and not self._grads_averaged:
            self.collective.average_([p.grad for p in self.parameters() if p.grad is not None], "gradient averaging")
        self._grads_averaged = True

    def average_across_ranks(self, tensors: list[torch.Tensor]) -> None:
        """Replace each tensor by its mean over the ranks (in place); nothing in one process."""
        if self.collective is not None:
            self.collective.average_(tensors, f"{self.name} update averaging")

    # -- helpers for subclasses -----------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @staticmethod
    def check_finite(loss: torch.Tensor) -> None:
        """Stop before an optimizer step would write NaN/inf into the weights."""
        value = float(loss.detach())
        if not math.isfinite(value):
            raise TrainingDiverged(f"the training loss became {value}; the step was not applied")

    def gradient_step(self, tasks: list[Episode], task_loss: Callable[[Episode], tuple[torch.Tensor, float]],
                      before_step: Callable[[], Any] | None = None) -> StepMetrics:
        """The `meta_train_step` of a learner that backpropagates: one gradient step on the mean
        of `task_loss(task)`'s losses over the meta-batch (a NaN check first; `before_step` can
        clip), reporting the mean of its query accuracies."""
        self.train()
        self.optimizer.zero_grad(set_to_none=True)
        losses, accuracies = [], []
        for t in tasks:
            loss, accuracy = task_loss(t)
            losses.append(loss)
            accuracies.append(accuracy)
        loss = torch.stack(losses).mean()
        self.check_finite(loss)
        loss.backward()
        self.average_gradients()  # data-parallel: before `before_step` clips, which must see the whole meta-batch's gradient
        if before_step is not None:
            before_step()
        self._apply_budget_lr()
        self.optimizer.step()
        self.scheduler.step()
        return StepMetrics(float(loss.detach()), sum(accuracies) / len(accuracies), len(losses))

    def require_ways(self, n_way: int) -> None:
        """Refuse a task with more ways than meta-trained for: a learner whose classifier head has
        one output per training way (MAML, Reptile, the LSTM meta-learner, Meta Networks) can
        classify fewer classes (with the head's first rows), never more."""
        if n_way > self.n_way:
            raise ValueError(f"this model was meta-trained for {self.n_way}-way tasks; it cannot classify {n_way} classes (meta-train with ≥ {n_way} ways)")

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())


class SupportSetLearner(MetaLearner):
    """A learner that adapts in one forward pass over the support set, with no optimizer steps
    (in the spirit of easyfsl's `process_support_set` / `forward`). A subclass fills in

    - `episode_log_probs(support_x, support_y, query_x, n_way)`: class log-probabilities [Q, N]
      from one pass over the whole episode, so BatchNorm sees support and queries together (how
      it trains, and how it tests with `transductive` BatchNorm);
    - `process_support_set(support_x, support_y, n_way)`: what classifying queries on their own
      needs (prototypes, embeddings, fast weights...), and `query_log_probs(support, query_x)`
      that does it (how it tests with running BatchNorm statistics);

    and may replace `episode_loss` (default: the negative log-likelihood of the queries' classes)
    and `before_optimizer_step` (gradient clipping). Its optimizer comes from `adam_with_halving`.
    """

    @property
    def transductive(self) -> bool:
        """Whether test-time BatchNorm uses the episode's own statistics (support and queries together)."""
        return self.hparams.bn_mode == "transductive"

    # -- to fill in --------------------------------------------------------------------------
    def episode_log_probs(self, support_x: torch.Tensor, support_y: torch.Tensor, query_x: torch.Tensor, n_way: int) -> torch.Tensor:
        raise NotImplementedError

    def process_support_set(self, support_x: torch.Tensor, support_y: torch.Tensor, n_way: int) -> Any:
        raise NotImplementedError

    def query_log_probs(self, support: Any, query_x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    # -- optional hooks ----------------------------------------------------------------------
    def episode_loss(self, task: Episode) -> tuple[torch.Tensor, torch.Tensor]:
        """(the episode's training loss, query scores [Q, N] whose argmax is the prediction)."""
        lp = self.episode_log_probs(task.support_x, task.support_y, task.query_x, task.n_way)
        return F.nll_loss(lp, task.query_y), lp

    def before_optimizer_step(self) -> None:
        """Runs after backpropagation, before the weights change."""

    # -- the shared loop and template ------------------------------------------------------------
    def meta_train_step(self, tasks: list[Episode]) -> StepMetrics:
        return self.gradient_step(tasks, self._scored_episode_loss, self.before_optimizer_step)

    def _scored_episode_loss(self, task: Episode) -> tuple[torch.Tensor, float]:
        loss, scores = self.episode_loss(task)
        return loss, query_accuracy(scores.detach(), task.query_y)

    def adapt(self, support_x: torch.Tensor, support_y: torch.Tensor) -> Classifier:
        n_way = int(support_y.max()) + 1
        transductive = self.transductive
        self.train(transductive)
        with torch.no_grad():
            support = None if transductive else self.process_support_set(support_x, support_y, n_way)

        def classify(query_x: torch.Tensor) -> torch.Tensor:
            self.train(transductive)  # the mode may have changed since adapt() (training goes on)
            with torch.no_grad():
                if transductive:
                    return self.episode_log_probs(support_x, support_y, query_x, n_way)
                return self.query_log_probs(support, query_x)

        return Classifier(classify, n_way, batch_dependent=transductive)  # transductive: support and queries share BatchNorm statistics


ALGORITHMS: dict[str, type[MetaLearner]] = {}


def register(cls: type[MetaLearner]) -> type[MetaLearner]:
    if not cls.name or cls.name in ALGORITHMS:
        raise ValueError(f"algorithm name {cls.name!r} is empty or already registered")
    if not dataclasses.is_dataclass(cls.HParams) or not cls.HParams.__dataclass_params__.frozen:
        raise TypeError(f"{cls.__name__}.HParams must be a frozen dataclass")
    ALGORITHMS[cls.name] = cls
    return cls


def get_algorithm(name: str) -> type[MetaLearner]:
    try:
        return ALGORITHMS[name]
    except KeyError:
        raise ValueError(f"unknown algorithm {name!r}; registered: {', '.join(ALGORITHMS)}") from None


def parse_hparams(name: str, hparams: Any = None) -> Any:
    """Algorithm `name`'s HParams from a (possibly partial, possibly string-valued) dict, None for
    the paper's defaults, or `hparams` itself when it is already parsed. A bad value is a
    ConfigError that names the algorithm (a bad setting, not a bug: the CLI and the app show it)."""
    cls = get_algorithm(name)
    if hparams is not None and not isinstance(hparams, dict):
        return hparams
    try:
        return hparams_from_dict(cls.HParams, hparams)
    except ValueError as exc:
        raise ConfigError(f"{cls.title}: {exc}") from exc


def create(name: str, hparams: Any = None, spec: InputSpec = InputSpec(), n_way: int = DEFAULT_TASK.n_way) -> MetaLearner:
    """A new learner; `hparams` as `parse_hparams` takes it (a dict, None, or an HParams already parsed)."""
    cls = get_algorithm(name)
    hparams = parse_hparams(name, hparams)
    try:
        return cls(hparams, spec, n_way)
    except ValueError as exc:
        if isinstance(exc, FewShotError):
            raise
        # a bad setting, not a bug: a clear message for the CLI and the app, with the algorithm's name
        raise ConfigError(f"{cls.title}: {exc}") from exc


def query_accuracy(log_probs: torch.Tensor, query_y: torch.Tensor) -> float:
    return float((log_probs.argmax(-1) == query_y).float().mean())
