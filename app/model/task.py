"""The task settings: what to meta-train on and how long. One frozen, validated value.

The Task tab shows a `TaskSettings` and edits it by replacing it (`Project.set_task`); the
training request carries it to the worker, where `request.train_config` turns it into the
engine's `TrainConfig`. The project file stores `to_dict()`; `from_dict` reads that and the
settings dict of older project files (missing keys take the defaults, unknown keys are ignored).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from core.tasks import DEFAULT_TASK, SOURCE_KINDS  # torch-free: the window reads them before the engine loads

DEVICES = ("auto", "cpu", "cuda")
# The accepted range of each number: the Task tab's spin boxes use the same bounds.
LIMITS: dict[str, tuple[int, int]] = {
    "n_way": (2, 100), "k_shot": (1, 50), "q_query": (1, 100),
    "steps": (1, 10_000_000), "max_seconds": (0, 10_000_000), "seed": (0, 2**31 - 1),
}


@dataclass(frozen=True)
class Source:
    """Where meta-training episodes come from. `classes`: how many built-in training classes
    (None: the app's default; a small number makes the quick runs of tests and screenshots)."""
    kind: str = "builtin"
    folder: str = ""
    classes: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in SOURCE_KINDS:
            raise ValueError(f"unknown source kind {self.kind!r}; expected one of {', '.join(SOURCE_KINDS)}")
        if self.classes is not None and (not isinstance(self.classes, int) or self.classes < 2):
            raise ValueError(f"a source needs at least 2 classes (got {self.classes!r})")

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind, "folder": self.folder}
        if self.classes is not None:
            d["classes"] = self.classes
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> "Source":
        d = dict(d or {})
        classes = d.get("classes")
        return cls(kind=str(d.get("kind", "builtin")), folder=str(d.get("folder") or ""),
                   classes=None if classes is None else _int("source classes", classes))


def _int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{name} must be a whole number (got {value!r})")
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{name} must be a whole number (got {value!r})") from None
    if number != int(number):
        raise ValueError(f"{name} must be a whole number (got {value!r})")
    return int(number)


@dataclass(frozen=True)
class TaskSettings:
    source: Source = field(default_factory=Source)
    n_way: int = DEFAULT_TASK.n_way  # classes per validation episode (the sampler's N)
    k_shot: int = DEFAULT_TASK.k_shot
    q_query: int = DEFAULT_TASK.q_query
    steps: int = 1000
    max_seconds: int = 120  # 0: no time limit
    seed: int = 0
    device: str = "auto"

    def __post_init__(self) -> None:
        if not isinstance(self.source, Source):
            raise ValueError(f"source must be a Source (got {self.source!r})")
        for name, (lo, hi) in LIMITS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{name} must be a whole number (got {value!r})")
            if not lo <= value <= hi:
                raise ValueError(f"{name}={value} is out of range [{lo}, {hi}]")
        if self.device not in DEVICES:
            raise ValueError(f"unknown device {self.device!r}; expected one of {', '.join(DEVICES)}")

    def replace(self, **changes: Any) -> "TaskSettings":
        """A copy with some fields changed (validated like any other)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["source"] = self.source.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> "TaskSettings":
        """Read a stored settings dict; raises ValueError naming the bad field."""
        d = dict(d or {})
        values: dict[str, Any] = {"source": Source.from_dict(d.get("source"))}
        for name in LIMITS:
            if name in d:
                values[name] = _int(name, d[name])
        if "device" in d:
            values["device"] = str(d["device"])
        return cls(**values)
