"""What the model in use answered for each query: sample id -> `Prediction` (the class names it
was asked about and one probability per class). Pure Python: no Qt.

The project owns one `Predictions` (`Project.predictions`): the classifier writes a job's answers
into it, the query panel draws its rows from it and redraws on `changed`. The answers belong to
one model and one support set, so the project forgets them all when its classes or samples
change, and the window when another model comes into use. They are not saved with the project.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from .events import Signal


@dataclass(frozen=True)
class Prediction:
    names: tuple[str, ...]  # the support set's class names, in the order of `probs`
    probs: tuple[float, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", tuple(self.names))
        object.__setattr__(self, "probs", tuple(float(p) for p in self.probs))
        if not self.probs or len(self.names) != len(self.probs):
            raise ValueError(f"a prediction needs one probability per class (got {len(self.probs)} for {len(self.names)} classes)")

    @property
    def best(self) -> int:
        """The index of the most likely class."""
        return max(range(len(self.probs)), key=self.probs.__getitem__)


class Predictions:
    def __init__(self) -> None:
        self.changed = Signal()  # answers arrived or were forgotten
        self._by_id: dict[int, Prediction] = {}

    def get(self, sample_id: int) -> Prediction | None:
        return self._by_id.get(sample_id)

    def __contains__(self, sample_id: object) -> bool:
        return sample_id in self._by_id

    def __len__(self) -> int:
        return len(self._by_id)

    def set(self, names: Sequence[str], probs_by_id: Mapping[int, Sequence[float]]) -> None:
        """The answers of one classification: {sample id: probabilities over `names`}."""
        if probs_by_id:
            self._by_id.update({sid: Prediction(tuple(names), tuple(probs)) for sid, probs in probs_by_id.items()})
            self.changed.emit()

    def clear(self) -> None:
        if self._by_id:
            self._by_id.clear()
            self.changed.emit()
