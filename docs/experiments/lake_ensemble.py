"""Does averaging several handwriting models beat the best of them? Lake's runs and the paired
600 within-alphabet episodes of lake_study.py, for each member alone and for their ensemble: each
query's class log-probabilities averaged over the members (each member with its own test views).

    python docs/experiments/lake_ensemble.py runs/lake/b28_8k.pt:1 runs/lake/a28_6k.pt:4
"""
from __future__ import annotations

import argparse
import dataclasses
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


def member(arg: str):
    path, _, views = arg.partition(":")
    learner, _ = load_checkpoint(path, "cpu")
    if views:
        learner.hparams = dataclasses.replace(learner.hparams, test_views=int(views))
    return arg, learner


def log_probs(learner, support_x, support_y, query_x) -> torch.Tensor:
    return probabilities(learner, support_x, support_y, query_x, each_query=True).clamp_min(1e-12).log()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("members", nargs="+", help="CHECKPOINT[:TEST_VIEWS]")
    p.add_argument("--data", default=str(DATA))
    p.add_argument("--episodes", type=int, default=600)
    args = p.parse_args()
    models = [member(m) for m in args.members]
    spec = models[0][1].spec
    if any(m.spec != spec for _, m in models):
        sys.exit("the members must share one InputSpec (the episodes are prepared once)")
    runs = read_lake_runs(Path(args.data) / "official" / "all_runs.zip")
    names = [n for n, _ in models] + ["ensemble"]
    lake = {n: 0 for n in names}
    for run in runs:
        support = spec.to_model(_prepare(run.training, run.training_names, spec))
        queries = spec.to_model(_prepare(run.test, run.test_names, spec))
        labels = torch.arange(len(run.training))
        answers = torch.tensor(run.answers)
        per_member = [log_probs(m, support, labels, queries) for _, m in models]
        for n, lp in zip(names, per_member + [torch.stack(per_member).mean(0)]):
            lake[n] += int((lp.argmax(-1) == answers).sum())
    source = omniglot(args.data, "evaluation", rotations=False, spec=spec)
    sampler = EpisodeSampler(source, 20, 1, 5, seed=TEST_SEED, within="group")
    within = {n: [] for n in names}
    for i in range(args.episodes):
        ep = sampler.episode(i)
        per_member = [log_probs(m, ep.support_x, ep.support_y, ep.query_x) for _, m in models]
        for n, lp in zip(names, per_member + [torch.stack(per_member).mean(0)]):
            within[n].append(float((lp.argmax(-1) == ep.query_y).float().mean()))
    for n in names:
        mean, ci = mean_ci95(within[n])
        d, dci = paired(within[names[0]], within[n])
        print(f"{n}: Lake {100 * lake[n] / 400:.2f}% ({lake[n]} / 400); within-alphabet 20-way {100 * mean:.2f} ± {100 * ci:.2f}"
              f" ({args.episodes} episodes); vs {names[0]}: {100 * d:+.2f} ± {100 * dci:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    torch.set_num_threads(1)
    sys.exit(main())
