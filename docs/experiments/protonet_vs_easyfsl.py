"""Issue 17's controlled experiment: Few-Shot Studio's ProtoNet against easyfsl's
`PrototypicalNetworks` on identical episodes, from identical initial weights, for an equal number
of steps — then the same 600 fixed test episodes for both.

Run with easyfsl importable from a scratch place, never installed into the project:

    pip download --no-deps easyfsl==1.5.0 -d /tmp/efsl && (cd /tmp/efsl && python -m zipfile -e easyfsl-1.5.0-py3-none-any.whl x)
    OMP_NUM_THREADS=1 PYTHONPATH=/tmp/efsl/x python docs/experiments/protonet_vs_easyfsl.py --arm easyfsl --data D --steps 500 --seed 0
    OMP_NUM_THREADS=1 python docs/experiments/protonet_vs_easyfsl.py --arm studio --hp distance=euclidean --data D --steps 500 --seed 0

Arms:
- `studio`: `core`'s ProtoNet learner and its own training step (`meta_train_step`), with any
  `--hp` (e.g. `lr_schedule=budget`, `distance=euclidean`);
- `easyfsl`: easyfsl's training loop as its README writes it (`process_support_set(support)`,
  `model(query)`, cross-entropy on the scores, Adam) around the *same* Conv-4 module with the same
  initial weights. Its trained backbone is then put back into a Studio ProtoNet with
  `distance=euclidean`, so both arms are tested by the same code (at test time easyfsl's model
  does exactly what that learner does: BatchNorm in eval mode, support and query embedded
  separately, nearest prototype).
Prints one JSON line: the arm, its settings, steps, training seconds and the test accuracies.
`--algorithm matching` (etc.) runs the same equal-steps protocol for another learner's studio arm
(`--train-way`, `--train-shot`, `--train-query` set its episodes).
"""
from __future__ import annotations

import argparse
import copy
import json
import time

import torch
import torch.nn.functional as F

import core
from core.algorithms.base import parse_hparams
from core.episodes import EpisodeSampler


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--arm", choices=("studio", "easyfsl"), required=True)
    ap.add_argument("--data", required=True, help="the Omniglot folder (torchvision layout)")
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--hp", action="append", default=[], help="NAME=VALUE for the studio arm")
    ap.add_argument("--algorithm", default="protonet", help="the studio arm's algorithm (the easyfsl arm is ProtoNet's)")
    ap.add_argument("--train-shot", type=int, default=1)
    ap.add_argument("--train-way", type=int, default=60)
    ap.add_argument("--train-query", type=int, default=5)
    ap.add_argument("--eval-ways", default="5,20")
    ap.add_argument("--eval-episodes", type=int, default=600)
    a = ap.parse_args()
    torch.use_deterministic_algorithms(True)

    overrides = dict(kv.split("=", 1) for kv in a.hp)
    if a.arm == "easyfsl":
        overrides = {**overrides, "distance": "euclidean", "lr_halve_every": 0}
    if a.arm == "easyfsl" and a.algorithm != "protonet":
        ap.error("the easyfsl arm is easyfsl's PrototypicalNetworks: --algorithm protonet")
    hparams = parse_hparams(a.algorithm, overrides)
    train = core.open_source("omniglot", "trainval", data=a.data)
    test = core.open_source("omniglot", "test", data=a.data)
    torch.manual_seed(a.seed)  # as the Trainer does: the initial weights depend on the seed alone
    learner = core.create(a.algorithm, hparams, train.spec, n_way=a.train_way)
    sampler = EpisodeSampler(train, a.train_way, a.train_shot, a.train_query, seed=a.seed)

    if a.arm == "studio":
        learner.begin_training(a.steps, 0)
        step = lambda i, ep: learner.meta_train_step([ep]).loss  # noqa: E731
        def set_progress(i: int) -> None:
            learner.progress = i / a.steps
    else:
        from easyfsl.methods import PrototypicalNetworks

        model = PrototypicalNetworks(copy.deepcopy(learner.encoder))
        optimizer = torch.optim.Adam(model.parameters(), lr=hparams.lr)

        def step(i, ep):
            model.train()
            optimizer.zero_grad()
            model.process_support_set(ep.support_x, ep.support_y)
            loss = F.cross_entropy(model(ep.query_x), ep.query_y)
            loss.backward()
            optimizer.step()
            return float(loss.detach())

        def set_progress(i: int) -> None:
            pass

    t0 = time.perf_counter()
    losses = []
    for i in range(a.steps):
        set_progress(i)
        losses.append(step(i, sampler.episode(i)))
    train_s = time.perf_counter() - t0
    if a.arm == "easyfsl":
        learner.encoder.load_state_dict(model.backbone.state_dict())

    result = {"arm": a.arm, "algorithm": a.algorithm, "hp": overrides, "seed": a.seed, "steps": a.steps, "train_way": a.train_way,
              "train_s": round(train_s, 1), "last_100_loss": round(sum(losses[-100:]) / len(losses[-100:]), 4)}
    for n_way in (int(w) for w in a.eval_ways.split(",")):
        r = core.evaluate(learner, test, n_way, 1, 15, episodes=a.eval_episodes)
        result[f"{n_way}-way"] = [round(100 * r.mean, 2), round(100 * r.ci95, 2)]
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
