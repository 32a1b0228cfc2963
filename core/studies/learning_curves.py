"""Time to accuracy: the validation curve a training run kept in its checkpoint, against training time.

The Trainer records, at every validation, the step, the accuracy with its 95% CI and the
training seconds it was taken at (`history["val_train_s"]`: wall time less the validations, the
clock a time budget counts). `LearningCurve` reads that back; `accuracy_at(t)` is the last
validation taken by training time t, `time_to(a)` the training time of the first validation at
or above accuracy a. `fewshot curves` prints them as a Markdown table and writes the points as CSV,
so "when does each algorithm reach 95%?" is one command over the results' checkpoints.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ..checkpoint import read_checkpoint
from ..errors import CheckpointError
from .report import fmt_duration, write_rows_csv

CSV_COLUMNS = ("model", "step", "train_s", "accuracy", "ci95")


@dataclass
class LearningCurve:
    label: str
    steps: list[int]
    train_s: list[float]
    accuracy: list[float]  # fractions
    ci95: list[float]

    @classmethod
    def from_checkpoint(cls, path: str | Path, label: str | None = None) -> "LearningCurve":
        state = read_checkpoint(path).get("trainer") or {}
        history = state.get("history") or {}
        steps, times = list(history.get("val_step", [])), list(history.get("val_train_s", []))
        if not steps:
            raise CheckpointError(f"{path}: the run kept no validations (train with --val-episodes > 0 and a --val-every "
                                  "smaller than its steps)")
        if len(times) != len(steps) or any(math.isnan(t) for t in times):
            raise CheckpointError(f"{path}: the run's validations have no training times (it was trained before they were kept)")
        return cls(label or Path(path).stem, steps, [float(t) for t in times], [float(a) for a in history["val_accuracy"]],
                   [float(c) for c in history["val_ci95"]])

    def accuracy_at(self, seconds: float) -> float | None:
        """The last validation accuracy taken by `seconds` of training (None: none yet)."""
        seen = [a for t, a in zip(self.train_s, self.accuracy) if t <= seconds]
        return seen[-1] if seen else None

    def time_to(self, accuracy: float) -> float | None:
        """Training seconds at the first validation at or above `accuracy` (a fraction); None: never."""
        return next((t for t, a in zip(self.train_s, self.accuracy) if a >= accuracy), None)

    def rows(self) -> list[dict]:
        return [{"model": self.label, "step": s, "train_s": t, "accuracy": a, "ci95": c}
                for s, t, a, c in zip(self.steps, self.train_s, self.accuracy, self.ci95)]


def curves_markdown(curves: Sequence[LearningCurve], at_seconds: Sequence[float], reach: Sequence[float]) -> str:
    """One row per run: validation accuracy at each training time, then the time to each accuracy."""
    head = (["run"] + [f"at {fmt_duration(t)}" for t in at_seconds] + [f"to {100 * a:g}%" for a in reach]
            + ["last (steps, training time)"])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for c in curves:
        at = [c.accuracy_at(t) for t in at_seconds]
        to = [c.time_to(a) for a in reach]
        cells = ([f"`{c.label}`"] + ["–" if a is None else f"{100 * a:.2f}" for a in at]
                 + ["not reached" if t is None else fmt_duration(t) for t in to]
                 + [f"{100 * c.accuracy[-1]:.2f} ± {100 * c.ci95[-1]:.2f} ({c.steps[-1]:,}, {fmt_duration(c.train_s[-1])})"])
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_curves_csv(curves: Sequence[LearningCurve], path: str | Path) -> Path:
    return write_rows_csv([row for c in curves for row in c.rows()], CSV_COLUMNS, path)
