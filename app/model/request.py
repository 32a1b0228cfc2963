"""A meta-training request: what the Studio hands the training worker, and the one place where
the app's typed settings become the engine's `TrainConfig`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .algorithm import AlgorithmChoice
from .task import TaskSettings

VAL_EPISODES = 40  # per validation: each one is an uninterruptible step, and Stop must answer quickly


@dataclass(frozen=True)
class TrainRequest:
    choice: AlgorithmChoice
    task: TaskSettings
    library_root: str  # where the finished model is written …
    model_id: str  # … under this name
    val_episodes: int = VAL_EPISODES


def train_config(choice: AlgorithmChoice, task: TaskSettings, val_episodes: int = VAL_EPISODES) -> Any:
    """The engine's TrainConfig for a choice and task settings. The engine validates the
    hyperparameters (`core.create`): a bad one fails the run with the engine's message."""
    import core  # here, not at the top: the engine (torch) loads on the job thread

    return core.TrainConfig(
        algorithm=choice.name, hparams=dict(choice.hparams), n_way=task.n_way, k_shot=task.k_shot, q_query=task.q_query,
        steps=task.steps, max_seconds=float(task.max_seconds) or None, seed=task.seed, device=task.device,
        val_every=max(10, task.steps // 10), val_episodes=val_episodes,  # ~10 validations a run, each short (VAL_EPISODES)
    )
