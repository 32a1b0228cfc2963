"""The algorithm choice: a registered algorithm's name and the hyperparameters changed from its
paper's defaults. The engine fills in the rest and validates them (`core.create`), so the app
does not parse them a second time."""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping


@dataclass(frozen=True)
class AlgorithmChoice:
    name: str = "protonet"
    hparams: Mapping[str, Any] = field(default_factory=dict)  # overrides of the paper's defaults

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"an algorithm name is a non-empty string (got {self.name!r})")
        # A read-only copy: the choice is a value, nobody edits it behind the project's back.
        object.__setattr__(self, "hparams", MappingProxyType(dict(self.hparams or {})))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AlgorithmChoice) and (self.name, dict(self.hparams)) == (other.name, dict(other.hparams))

    def __hash__(self) -> int:
        return hash(self.name)
