"""Several checkpoints (of one algorithm or not) on the same fixed test episodes, each paired with
the first: the screening runs of docs/paper_figures.md differ in one setting, and a paired test
sees differences that two overlapping confidence intervals hide.

    python docs/experiments/paired_models.py runs/p29/m_base.pt runs/p29/m_cos.pt --ways 5 [--each]

Prints, per way: each model's accuracy (mean ± 95% CI), and for every model after the first the
paired difference (mean ± 95% CI of the per-episode differences), the share of episodes it is
ahead (ties ½) and the two-sided Wilcoxon signed-rank p-value (core.stats).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import core  # noqa: E402
from core import stats  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoints", nargs="+")
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[3] / "shared" / "data" / "omniglot"))
    ap.add_argument("--split", default="test")
    ap.add_argument("--ways", default="5", help="comma-separated, e.g. 5,20")
    ap.add_argument("--episodes", type=int, default=600)
    ap.add_argument("--each", action="store_true", help="every query on its own (the app's protocol)")
    ap.add_argument("--json", help="append one line per model and way here")
    args = ap.parse_args()
    learners = [(path, core.load_checkpoint(path, "cpu")[0]) for path in args.checkpoints]
    for way in (int(w) for w in args.ways.split(",")):
        first = None
        for path, learner in learners:
            source = core.omniglot(args.data, args.split, spec=learner.spec)
            res = core.evaluate(learner, source, way, core.DEFAULT_TASK.k_shot, core.DEFAULT_TASK.q_query, args.episodes,
                                each_query=args.each)
            line = f"{way}-way {Path(path).stem:18s} {100 * res.mean:6.2f} ± {100 * res.ci95:.2f}"
            row = {"model": path, "way": way, "each": args.each, "mean": res.mean, "ci95": res.ci95}
            if first is None:
                first = res.per_episode
            else:
                diffs = [b - a for a, b in zip(first, res.per_episode)]
                mean, ci = stats.mean_ci95(diffs)
                p = stats.wilcoxon_signed_rank(res.per_episode, first).p_value
                ahead = stats.win_rate(res.per_episode, first)
                line += f"   vs first: {100 * mean:+.2f} ± {100 * ci:.2f} points, ahead on {100 * ahead:.1f}% of episodes, Wilcoxon p = {p:.3g}"
                row.update(diff=mean, diff_ci95=ci, p=p, ahead=ahead)
            print(line, flush=True)
            if args.json:
                with open(args.json, "a") as fh:
                    fh.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
