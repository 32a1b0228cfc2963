"""`fewshot` commands about whole models: the starter models shipped with the app (list, check,
build) and ensembles assembled from networks trained apart. `core.tools.cli` declares their arguments."""
from __future__ import annotations

from typing import Callable

from ..errors import FewShotError
from ..studies.report import fmt_duration
from .cli_support import parse_hp_pairs


def cmd_ensemble(args) -> int:
    """Assemble Prototypical Networks trained apart into one ensemble checkpoint."""
    from ..checkpoint import save_ensemble

    ensemble = save_ensemble(args.checkpoints, args.out, parse_hp_pairs(args.hp))
    print(f"{args.out}: an ensemble of {ensemble.hparams.members} Prototypical Networks from {', '.join(args.checkpoints)}")
    return 0


def cmd_starter(args, train: Callable[[list[str]], int]) -> int:
    """`fewshot starter list | check | build`; `train` is the `fewshot` entry point a build runs its recipes with."""
    from .starter import RECIPES, build, problems, read_manifest, starter_dir

    folder = args.dir or starter_dir()
    if args.action == "list":
        models = read_manifest(folder).get("models", {})
        print("| algorithm | recipe (results row) | shipped | 5-way 1-shot | 20-way 1-shot | steps | training | size |")
        print("|---|---|---|---|---|---|---|---|")
        for name, r in RECIPES.items():
            e = models.get(name)
            acc = lambda w: (f"{e['accuracy'][str(w)]['mean']:.2f} ± {e['accuracy'][str(w)]['ci95']:.2f} (≥ {r.targets[w]})"  # noqa: E731
                             if e and str(w) in e.get("accuracy", {}) else ("–" if w not in r.targets else f"(≥ {r.targets[w]})"))
            size = f"{e['bytes'] / 1e6:.2f} MB" if e else "–"
            print(f"| `{name}` | {r.readme_row} | {'yes' if e else 'no'} | {acc(5)} | {acc(20)} | {format(e['steps'], ',') if e else '–'} | "
                  f"{fmt_duration(e['train_s']) if e else '–'} | {size} |")
        return 0
    if args.action == "check":
        found = problems(folder)
        for p in found:
            print(p)
        print(f"{len(read_manifest(folder).get('models', {}))} starter models listed; " + (f"{len(found)} problem(s)" if found else "all match their manifest"))
        return 1 if found else 0
    if not args.data:
        raise FewShotError("starter build needs --data PATH (the Omniglot folder)")
    names = [n.strip() for n in args.only.split(",")] if args.only else list(RECIPES)
    if args.from_checkpoint and len(names) != 1:
        raise FewShotError("--from-checkpoint takes one algorithm: give it with --only")
    for name in names:
        build(name, args.data, folder, from_checkpoint=args.from_checkpoint, work=args.work, resume=args.resume, train=train)
    return 0
