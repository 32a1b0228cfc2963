"""The runs the data-parallel equality test compares: each algorithm's settings, small enough to
take seconds, with a global meta-batch that splits over 2 ranks."""
from __future__ import annotations

from core.trainer import TrainConfig

STEPS = 3
CASES = {
    # second-order MAML, 4 tasks a step (2 per rank)
    "maml": dict(hparams={"first_order": False}, meta_batch=4),
    # Reptile with independent tasks (a fresh inner Adam each): exact across ranks
    "reptile": dict(hparams={"inner_state": "fresh", "inner_steps": 2}, meta_batch=4, train_shot=2),
    # ProtoNet: a paper meta-batch of 1 becomes one episode per rank, 2 a step
    "protonet": dict(hparams={}, meta_batch=2, train_way=10, train_query=3),
    # a model-based learner
    "metanet": dict(hparams={}, meta_batch=2),
}


def config_for(name: str) -> TrainConfig:
    case = dict(CASES[name])
    return TrainConfig(algorithm=name, steps=STEPS, seed=3, val_episodes=0, device="cpu", **case)
