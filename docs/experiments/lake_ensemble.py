"""Does averaging several handwriting models beat the best of them? Lake's runs and the paired
600 within-alphabet episodes of lake_study.py, for each model alone and for every ensemble of two
or more of them, as the engine builds one (`fewshot ensemble`: every member with the same test
views; a query's distance to a class the members' mean distance, which predicts the renormalised
geometric mean of their probabilities). Each member's probabilities are computed once per views
setting; the ensembles combine them.

    python docs/experiments/lake_ensemble.py runs/lake/b28_8k.pt runs/lake/a28_6k.pt --views 1,4 --json runs/lake/ensembles.jsonl
"""
from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lake_study import DATA, paired  # noqa: E402

from core.checkpoint import load_checkpoint  # noqa: E402
from core.episodes import TEST_SEED, EpisodeSampler  # noqa: E402
from core.inference import probabilities  # noqa: E402
from core.lake_runs import _prepare, read_lake_runs  # noqa: E402
from core.sources.omniglot import omniglot  # noqa: E402
from core.stats import mean_ci95  # noqa: E402


def log_probs(learner, support_x, support_y, query_x) -> torch.Tensor:
    return probabilities(learner, support_x, support_y, query_x, each_query=True).clamp_min(1e-300).log()


def member_scores(learner, runs, sampler, episodes: int) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """The member's log-probabilities on every Lake run and every within-alphabet episode."""
    spec = learner.spec
    lake = []
    for run in runs:
        support = spec.to_model(_prepare(run.training, run.training_names, spec))
        queries = spec.to_model(_prepare(run.test, run.test_names, spec))
        lake.append(log_probs(learner, support, torch.arange(len(run.training)), queries))
    within = [log_probs(learner, ep.support_x, ep.support_y, ep.query_x) for ep in map(sampler.episode, range(episodes))]
    return lake, within


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("members", nargs="+", help="checkpoints of Prototypical Networks with one input size")
    p.add_argument("--data", default=str(DATA))
    p.add_argument("--views", default="1", help="comma-separated test_views, the same for every member")
    p.add_argument("--episodes", type=int, default=600)
    p.add_argument("--json", help="append one JSON line per (model or ensemble, views) here")
    args = p.parse_args()
    runs = read_lake_runs(Path(args.data) / "official" / "all_runs.zip")
    learners = [load_checkpoint(path, "cpu")[0] for path in args.members]
    spec = learners[0].spec
    if any(m.spec != spec for m in learners):
        sys.exit("the members must share one input size (the episodes are prepared once)")
    sampler = EpisodeSampler(omniglot(args.data, "evaluation", rotations=False, spec=spec), 20, 1, 5, seed=TEST_SEED, within="group")
    answers = [torch.tensor(run.answers) for run in runs]
    labels = [sampler.episode(i).query_y for i in range(args.episodes)]
    baseline = None
    for views in (int(v) for v in args.views.split(",")):
        scores = []
        for learner in learners:
            learner.hparams = dataclasses.replace(learner.hparams, test_views=views)
            scores.append(member_scores(learner, runs, sampler, args.episodes))
        for size in range(1, len(learners) + 1):
            for group in itertools.combinations(range(len(learners)), size):
                lake = sum(int((torch.stack([scores[m][0][r] for m in group]).mean(0).argmax(-1) == answers[r]).sum()) for r in range(len(runs)))
                within = [float((torch.stack([scores[m][1][e] for m in group]).mean(0).argmax(-1) == labels[e]).float().mean())
                          for e in range(args.episodes)]
                name = " + ".join(Path(args.members[m]).stem for m in group) + f" (views {views})"
                baseline = baseline or (name, within)
                mean, ci = mean_ci95(within)
                d, dci = paired(baseline[1], within)
                print(f"{name}: Lake {100 * lake / 400:.2f}% ({lake} / 400); within-alphabet 20-way {100 * mean:.2f} ± {100 * ci:.2f}"
                      f" ({args.episodes} episodes); vs {baseline[0]}: {100 * d:+.2f} ± {100 * dci:.2f}", flush=True)
                if args.json:
                    with open(args.json, "a") as fh:
                        fh.write(json.dumps({"members": [args.members[m] for m in group], "views": views, "lake_correct": lake,
                                             "within20": round(100 * mean, 2), "within20_ci95": round(100 * ci, 2),
                                             "versus": baseline[0], "within20_diff": round(100 * d, 2),
                                             "within20_diff_ci95": round(100 * dci, 2)}) + "\n")
    return 0


if __name__ == "__main__":
    torch.set_num_threads(1)
    sys.exit(main())
