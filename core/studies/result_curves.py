"""A comparison result's training curves: their empty form, a checkpoint's own training record
read as curves (a model trained elsewhere shows how it learned), and thinning to a few thousand
points for a saved file."""
from __future__ import annotations

import math

import numpy as np

from ..stats import binned


def new_curves() -> dict[str, list]:
    """Empty curves: training loss and accuracy by episodes and seconds, and the validations."""
    return {"episodes": [], "seconds": [], "loss": [], "accuracy": [], "val_episodes": [], "val_seconds": [], "val_accuracy": []}


def thin_curves(curves: dict[str, list], points: int) -> dict[str, list]:
    """At most `points` per training curve: consecutive steps averaged into equal bins (the x of
    a bin is its last step's). Validation points are few and kept as they are."""
    return binned(curves, points, means=("loss", "accuracy"), lasts=("episodes", "seconds"))


def recorded_curves(history: dict[str, list], per_step: int, steps: int, train_seconds: float) -> dict[str, list]:
    """A checkpoint's own training record (`Trainer.history`) as a result's curves, so a model
    trained elsewhere shows how it learned: loss and accuracy at every step, and its validations
    where it kept them with their times. The history has no time per step: a step's training
    second is read off the line through the times it does have (0 at the start, each validation,
    `train_seconds` at `steps`)."""
    curves = new_curves()
    val_steps, val_accs, val_secs = (list(history.get(k) or []) for k in ("val_step", "val_accuracy", "val_train_s"))
    if len(val_steps) == len(val_accs) == len(val_secs):
        curves.update(val_episodes=[s * per_step for s in val_steps], val_seconds=val_secs, val_accuracy=val_accs)
    step, loss, acc = (list(history.get(k) or []) for k in ("step", "loss", "accuracy"))
    if step and len(step) == len(loss) == len(acc):
        known = sorted({(0.0, 0.0), *((float(s), float(t)) for s, t in zip(val_steps, val_secs) if math.isfinite(t)),
                        *([(float(steps), train_seconds)] if steps and train_seconds > 0 else [])})
        seconds = np.interp(step, [x for x, _ in known], [t for _, t in known]).tolist()
        curves.update(episodes=[s * per_step for s in step], seconds=seconds, loss=loss, accuracy=acc)
    return curves
