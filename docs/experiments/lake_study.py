"""The Lake one-shot study: score checkpoints the way docs/lake.md's tables do.

For each checkpoint (trained on the 30 background alphabets only), with each number of test-time
views asked for:
- Lake's 20 official runs (400 test images, each classified on its own);
- 20-way 1-shot episodes *within one evaluation alphabet*, upright characters only (no rotation
  classes), 5 queries per class: Lake's task drawn 600 times from the same 20 alphabets — 60,000
  queries, so its 95% CI (±0.2–0.3) is a fifth of the 400 images' (±1–2), which is why screening
  differences are read from it and the official runs are quoted beside it.

    python docs/experiments/lake_study.py runs/lake/b28.pt runs/lake/a28.pt --views 1,8 --json runs/lake/study.json
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import torch

from core.checkpoint import load_checkpoint
from core.episodes import TEST_SEED, EpisodeSampler
from core.evaluation import episode_accuracy
from core.lake_runs import evaluate_lake_runs, read_lake_runs
from core.sources.omniglot import omniglot
from core.stats import mean_ci95

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "omniglot"


def within_alphabet(learner, source, episodes: int, way: int = 20, query: int = 5) -> list[float]:
    """Per-episode accuracies on the same `episodes` episodes for every model (paired)."""
    sampler = EpisodeSampler(source, way, 1, query, seed=TEST_SEED, within="group")
    return [episode_accuracy(learner, sampler.episode(i), each_query=True) for i in range(episodes)]


def paired(a: list[float], b: list[float]) -> tuple[float, float]:
    """Mean and 95% CI of b − a over the same episodes: far tighter than either CI alone."""
    return mean_ci95([y - x for x, y in zip(a, b)])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoints", nargs="+")
    p.add_argument("--data", default=str(DATA))
    p.add_argument("--views", default="1", help="comma-separated test_views to score each checkpoint with")
    p.add_argument("--episodes", type=int, default=600)
    p.add_argument("--json", help="append one JSON line per (checkpoint, views) here")
    args = p.parse_args()
    runs = read_lake_runs(Path(args.data) / "official" / "all_runs.zip")
    first = None  # the first (checkpoint, views)'s per-episode accuracies: the others are paired with it
    for path in args.checkpoints:
        learner, data = load_checkpoint(path, "cpu")
        source = omniglot(args.data, "evaluation", rotations=False, spec=learner.spec)
        trainer = data.get("trainer") or {}
        for views in (int(v) for v in args.views.split(",")):
            if hasattr(learner.hparams, "test_views"):
                learner.hparams = dataclasses.replace(learner.hparams, test_views=views)
            elif views != 1:
                continue
            t0 = time.perf_counter()
            lake = evaluate_lake_runs(learner, runs)
            per_episode = within_alphabet(learner, source, args.episodes)
            mean, ci = mean_ci95(per_episode)
            first = first or (f"{path} views={views}", per_episode)
            diff, diff_ci = paired(first[1], per_episode)
            row = {"checkpoint": path, "views": views, "lake_correct": lake.correct, "lake_total": lake.total,
                   "lake": round(100 * lake.accuracy, 2), "within20": round(100 * mean, 2), "within20_ci95": round(100 * ci, 2),
                   "steps": trainer.get("step"), "train_s": round(float(trainer.get("train_s", 0)), 0),
                   "source": trainer.get("source"), "size": list(learner.spec.size), "eval_s": round(time.perf_counter() - t0, 1),
                   "versus": first[0], "within20_diff": round(100 * diff, 2), "within20_diff_ci95": round(100 * diff_ci, 2),
                   "per_episode": [round(a, 4) for a in per_episode]}
            print(f"{path} views={views}: Lake {row['lake']:.2f}% ({lake.correct} / {lake.total}); within-alphabet 20-way "
                  f"{row['within20']:.2f} ± {row['within20_ci95']:.2f}% ({args.episodes} episodes); {row['steps']} steps, "
                  f"{row['train_s']:.0f} s training; vs {first[0]}: {row['within20_diff']:+.2f} ± {row['within20_diff_ci95']:.2f}", flush=True)
            if args.json:
                with open(args.json, "a") as fh:
                    fh.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    torch.set_num_threads(1)
    sys.exit(main())
