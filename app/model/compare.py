"""The Compare view's model: what to compare (`CompareSetup`) and the comparison a project keeps
(`ComparisonRecord`). Pure Python: no Qt, and of the engine only its torch-free corner.

The setup panel shows one `CompareSetup` and replaces it on every edit; Run turns it into the
engine's `core.CompareConfig` arguments (`config_args`), and a comparison on screen shows its own
config in the panel again (`with_config`). A finished or stopped comparison goes into the project
as a `ComparisonRecord`; the project file stores its `to_dict()` as comparison.json (the engine's
record, with the source setting it ran on under "app") and its models beside it, and
`ComparisonRecord.from_dict` reads that back, from files of every version of the app.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping

from core.tasks import COMPARE_PROTOCOLS, COMPARISON_FORMAT, DEFAULT_TASK, SOURCE_KINDS  # torch-free: the setup exists before the engine loads

from .task import DEVICES
from .task import LIMITS as TASK_LIMITS

MODES = ("train", "starter")  # meta-train each algorithm here, or test the starter models shipped with the app as they are
PROTOCOLS = tuple(COMPARE_PROTOCOLS)  # the form's order: the first is the default
# The accepted range of each number of the setup form (its spin boxes use the same bounds): the
# episode shape, the seed and the budgets as the Studio's task settings bound them.
LIMITS: dict[str, tuple[int, int]] = {
    "n_way": TASK_LIMITS["n_way"], "k_shot": TASK_LIMITS["k_shot"], "q_query": TASK_LIMITS["q_query"],
    "steps_each": TASK_LIMITS["steps"], "seconds_each": TASK_LIMITS["max_seconds"], "eval_episodes": (1, 100_000),
    "seed": TASK_LIMITS["seed"],
}
VAL_EPISODES = 40  # validation episodes of each check while an algorithm meta-trains (the form does not show it)


def builtin_source() -> dict[str, Any]:
    return {"kind": "builtin", "folder": ""}


@dataclass(frozen=True)
class CompareSetup:
    """The setup form's values. `hparams`: per algorithm, the values changed from its paper's (each
    algorithm keeps its own, ticked or not); `source`: the source setting ({"kind", "folder"}, and
    for tests' quick runs "classes" / "test_classes"); `seconds_each` 0: no time budget."""
    mode: str = "train"
    algorithms: tuple[str, ...] = ()
    hparams: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    source: Mapping[str, Any] = field(default_factory=builtin_source)
    n_way: int = DEFAULT_TASK.n_way
    k_shot: int = DEFAULT_TASK.k_shot
    q_query: int = DEFAULT_TASK.q_query
    protocol: str = "same"
    steps_each: int = 500
    seconds_each: int = 60
    eval_episodes: int = 600
    seed: int = 0
    device: str = "auto"
    val_episodes: int = VAL_EPISODES

    def __post_init__(self) -> None:
        # Copies of its own, so no caller's dict changes a setup after the fact.
        object.__setattr__(self, "algorithms", tuple(str(n) for n in self.algorithms))
        object.__setattr__(self, "hparams", {str(n): dict(v) for n, v in dict(self.hparams).items() if v})
        object.__setattr__(self, "source", dict(self.source))
        if self.mode not in MODES:
            raise ValueError(f"unknown mode {self.mode!r}; expected one of {', '.join(MODES)}")
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"unknown protocol {self.protocol!r}; expected one of {', '.join(PROTOCOLS)}")
        if self.device not in DEVICES:
            raise ValueError(f"unknown device {self.device!r}; expected one of {', '.join(DEVICES)}")
        if self.source.get("kind", "builtin") not in SOURCE_KINDS:
            raise ValueError(f"unknown source kind {self.source.get('kind')!r}; expected one of {', '.join(SOURCE_KINDS)}")
        for name, (lo, hi) in {**LIMITS, "val_episodes": (0, LIMITS["eval_episodes"][1])}.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{name} must be a whole number (got {value!r})")
            if not lo <= value <= hi:
                raise ValueError(f"{name}={value} is out of range [{lo}, {hi}]")

    def replace(self, **changes: Any) -> "CompareSetup":
        """A copy with some fields changed (validated like any other)."""
        return dataclasses.replace(self, **changes)

    @property
    def starter(self) -> bool:
        """Testing the starter models as they are: nothing trains, so the budget, the seed, the
        protocol and the hyperparameters do not apply."""
        return self.mode == "starter"

    def val_every(self) -> int:
        """Steps between validations: about ten per run; under a time budget (the steps a run
        will take are unknown) every 50 steps."""
        return max(5, min(self.steps_each // 10, 50 if self.seconds_each else 10**9))

    def config_args(self, starters: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The `core.CompareConfig` arguments of this setup. `starters`: {algorithm: checkpoint}
        of the starter models (starter mode tests those of the ticked algorithms that have one)."""
        if self.starter:
            starters = starters or {}
            names = [n for n in self.algorithms if n in starters]
            return {"algorithms": names, "hparams": {}, "models": {n: starters[n] for n in names},
                    "n_way": self.n_way, "k_shot": self.k_shot, "q_query": self.q_query, "eval_episodes": self.eval_episodes,
                    "device": self.device, "val_episodes": 0}
        return {"algorithms": list(self.algorithms), "hparams": {n: dict(self.hparams[n]) for n in self.algorithms if n in self.hparams},
                "n_way": self.n_way, "k_shot": self.k_shot, "q_query": self.q_query, "protocol": self.protocol,
                "steps_each": self.steps_each, "seconds_each": float(self.seconds_each) or None, "seed": self.seed,
                "eval_episodes": self.eval_episodes, "device": self.device, "val_every": self.val_every(),
                "val_episodes": self.val_episodes}

    def with_config(self, config: Any, source: Mapping[str, Any] | None = None) -> "CompareSetup":
        """This setup showing a comparison's config (a `core.CompareConfig`, read by attribute) and
        the source it ran on: its mode, algorithms, hyperparameters, numbers (clamped into the
        form's limits), protocol and device. What a config does not hold (the validation episodes;
        the source when none is given) stays; a protocol or device the form does not offer
        (a command-line comparison's "cuda:1") shows as the form's first."""
        def number(name: str, value: Any) -> int:
            lo, hi = LIMITS[name]
            return min(max(int(value or 0), lo), hi)

        numbers = {name: number(name, getattr(config, name)) for name in LIMITS if name != "seconds_each"}
        return self.replace(mode="starter" if getattr(config, "models", None) else "train", algorithms=tuple(config.algorithms),
                            hparams=dict(config.hparams or {}), source=dict(source) if source else self.source, **numbers,
                            seconds_each=number("seconds_each", config.seconds_each),
                            protocol=config.protocol if config.protocol in PROTOCOLS else PROTOCOLS[0],
                            device=config.device if config.device in DEVICES else DEVICES[0])


@dataclass(frozen=True)
class ComparisonRecord:
    """A finished or stopped comparison as the project keeps it: the engine's record of it
    (`core.Comparison.to_dict()`: config, curves, results), the source setting it ran on (None
    when not recorded) and its trained models as checkpoint bytes ({algorithm: bytes}; none for
    one opened from a JSON export)."""
    data: Mapping[str, Any]
    source: Mapping[str, Any] | None = None
    models: Mapping[str, bytes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.data, Mapping) or self.data.get("format") != COMPARISON_FORMAT:
            raise ValueError("not a comparison (no comparison format marker)")
        object.__setattr__(self, "data", {k: v for k, v in self.data.items() if k != "app"})
        object.__setattr__(self, "source", None if self.source is None else dict(self.source))
        object.__setattr__(self, "models", {str(n): bytes(b) for n, b in dict(self.models).items()})

    def to_dict(self) -> dict[str, Any]:
        """What comparison.json holds: the engine's record, and the app's source setting under "app"."""
        d = dict(self.data)
        if self.source is not None:
            d["app"] = {"source": dict(self.source)}
        return d

    @classmethod
    def from_dict(cls, d: Any, models: Mapping[str, bytes] | None = None) -> "ComparisonRecord":
        """Read comparison.json (`to_dict()`, or a file of an older version) with the models that
        came with it; raises ValueError for anything that is not a comparison."""
        if not isinstance(d, Mapping):
            raise ValueError("not a comparison (no comparison format marker)")
        app = d.get("app")
        source = app.get("source") if isinstance(app, Mapping) else None
        return cls(d, dict(source) if isinstance(source, Mapping) else None, models or {})
