"""The command line's studies across algorithms, models and episodes: `fewshot compare` (race
algorithms on identical episodes), `fewshot sweep` (accuracy over shots × ways), `fewshot
curves` (time to accuracy of training runs) and `fewshot episodes` (episodes as pictures).
`core.tools.cli` declares their arguments."""
from __future__ import annotations

import sys
import time
from pathlib import Path

from ..algorithms import ALGORITHMS, hparam_fields
from .cli_support import ProgressBar, make_source, parse_hp_pairs, write_files
from ..episodes import TEST_SEED, VAL_SEED
from ..errors import FewShotError
from ..studies.report import fmt_duration

MAX_GRID_EPISODES = 100  # a bigger sheet is no longer a picture


def _parse_algo_hparams(pairs: list[str], names: list[str]) -> dict[str, dict[str, str]]:
    """--hp ALGO.NAME=VALUE for `compare` ("*.NAME=VALUE": every compared algorithm that has NAME)."""
    out: dict[str, dict[str, str]] = {}
    for key, value in parse_hp_pairs(pairs).items():
        algo, dot, field_name = key.partition(".")
        if not dot or not field_name:
            raise FewShotError(f"--hp {key}={value}: expected ALGORITHM.NAME=VALUE (or *.NAME=VALUE), e.g. maml.inner_lr=0.4")
        if algo == "*":
            targets = [n for n in names if field_name in {f["name"] for f in hparam_fields(ALGORITHMS[n].HParams)}]
            if not targets:
                raise FewShotError(f"--hp {key}: no compared algorithm has a hyperparameter {field_name!r}")
        elif algo not in names:
            raise FewShotError(f"--hp {key}: {algo!r} is not among the compared algorithms ({', '.join(names)})")
        else:
            targets = [algo]
        for t in targets:
            out.setdefault(t, {})[field_name] = value
    return out


def _algo_presets(pairs: list[str] | None, names: list[str]) -> dict[str, dict]:
    """--preset ALGO=LABEL for `compare` ("*=LABEL": every compared algorithm that has that preset)."""
    out: dict[str, dict] = {}
    for pair in pairs or []:
        algo, eq, label = pair.partition("=")
        if not eq or not label:
            raise FewShotError(f"--preset {pair!r}: expected ALGORITHM=LABEL (or *=LABEL), e.g. mann=measured")
        if algo == "*":
            targets = [n for n in names if label in ALGORITHMS[n].presets]
            if not targets:
                raise FewShotError(f"--preset {pair}: no compared algorithm has a preset {label!r}")
        elif algo not in names:
            raise FewShotError(f"--preset {pair}: {algo!r} is not among the compared algorithms ({', '.join(names)})")
        elif label not in ALGORITHMS[algo].presets:
            raise FewShotError(f"--preset {pair}: {algo} has no preset {label!r} (its presets: {', '.join(ALGORITHMS[algo].presets) or 'none'})")
        else:
            targets = [algo]
        for t in targets:
            out.setdefault(t, {}).update(ALGORITHMS[t].presets[label])
    return out


def _trained_models(args, names: list[str]) -> dict[str, str]:
    """{algorithm: checkpoint} of the algorithms compared as trained models (--starter, --model)."""
    from .starter import starter_models

    models: dict[str, str] = {}
    if args.starter:
        shipped = starter_models()
        missing = [n for n in names if n not in shipped]
        if missing:
            raise FewShotError(f"no starter model for {', '.join(missing)} (shipped: {', '.join(sorted(shipped)) or 'none'})")
        models.update({n: str(shipped[n]) for n in names})
    for item in args.model or []:
        name, sep, path = item.partition("=")
        if not sep or name.strip() not in names:
            raise FewShotError(f"--model {item}: expected ALGO=CHECKPOINT with ALGO among the compared algorithms ({', '.join(names)})")
        if not Path(path).is_file():
            raise FewShotError(f"--model {item}: no such file")
        models[name.strip()] = path
    return models


def cmd_compare(args) -> int:
    from ..studies.compare import Comparison, CompareConfig

    names = sorted(ALGORITHMS) if args.algorithms.strip() == "all" else [n.strip() for n in args.algorithms.split(",") if n.strip()]
    unknown = [n for n in names if n not in ALGORITHMS]
    if unknown:
        raise FewShotError(f"unknown algorithm(s) {', '.join(unknown)}; registered: {', '.join(sorted(ALGORITHMS))}")
    hparams = _algo_presets(args.preset, names)  # bad settings fail before any source is built
    for algo, values in _parse_algo_hparams(args.hp, names).items():
        hparams.setdefault(algo, {}).update(values)  # --hp over a preset
    models = _trained_models(args, names)
    if any(n in models for n in hparams):
        raise FewShotError(f"{', '.join(n for n in hparams if n in models)}: a trained model is compared as it was trained (no --hp or --preset)")
    train_src = make_source(args.source, args.data, args.train_split, size=args.size)
    trains = any(n not in models for n in names)
    val_src = make_source(args.source, args.data, args.val_split, spec=train_src.spec) if args.val_episodes > 0 and trains else None
    test_src = make_source(args.source, args.data, args.test_split, spec=train_src.spec)
    steps = args.steps_each if args.steps_each else (10**9 if args.minutes_each else 1000)
    config = CompareConfig(
        algorithms=names, hparams=hparams, n_way=args.way, k_shot=args.shot, q_query=args.query,
        protocol=args.protocol, steps_each=steps, seconds_each=args.minutes_each * 60 if args.minutes_each else None, seed=args.seed,
        eval_episodes=args.eval_episodes, val_every=args.val_every, val_episodes=args.val_episodes, device=args.device, models=models,
        source=(f"{train_src.description}: trained and tested on the same classes (an image folder has no splits)" if args.source == "folder"
                else f"{train_src.description} (split {args.train_split}) → test on {test_src.description} (split {args.test_split})"),
    )
    comp = Comparison(config, train_src, val_src, test_src)
    print(f"comparing {', '.join(names)} on {config.source}; {args.way}-way {args.shot}-shot {args.query}-query, "
          f"protocol {args.protocol}, {args.eval_episodes} shared test episodes", flush=True)
    bar = ProgressBar()
    try:
        for ev in comp.run():
            kind = ev["kind"]
            if kind == "start":
                sh = ev["shape"]
                shape = (f"{sh['train_way']}-way {sh['train_shot']}-shot {sh['train_query']}-query, meta-batch {sh['meta_batch']}"
                         if sh else "an unrecorded shape")
                if ev.get("trained"):
                    print(f"[{ev['index'] + 1}/{ev['total']}] {ev['title']}: {ev['parameters']:,} parameters on {ev['device']}; "
                          f"the trained model {ev['trained']} (meta-trained {shape}), tested only", flush=True)
                else:
                    print(f"[{ev['index'] + 1}/{ev['total']}] {ev['title']}: {ev['parameters']:,} parameters on {ev['device']}; training "
                          f"{shape}", flush=True)
            elif kind == "progress":
                frac = ev["step"] / ev["total_steps"]
                if config.seconds_each:
                    frac = max(frac, min(1.0, ev["train_s"] / config.seconds_each))
                val = f" val {100 * ev['val_accuracy']:.2f}%" if ev["val_accuracy"] is not None else ""
                bar.update(frac, f"step {ev['step']} loss {ev['loss']:.3f} acc {100 * ev['accuracy']:.1f}%{val} {ev['episodes_per_s']:.1f} ep/s")
            elif kind == "testing":
                bar.update(ev["done"] / ev["total"], f"testing: episode {ev['done']}/{ev['total']}, {100 * ev['accuracy']:.2f}% so far", force=ev["done"] == ev["total"])
            elif kind == "result":
                bar.close()
                r = comp.results[ev["algorithm"]]
                print(f"    {r.title}: {100 * r.mean:.2f} ± {100 * r.ci95:.2f}% after {r.steps:,} steps ({r.episodes:,} episodes) "
                      f"in {r.train_seconds:.0f} s; test {r.test_seconds:.0f} s", flush=True)
            elif kind in ("stopped", "failed"):
                bar.close()
                print(f"    {ev['algorithm']} {kind}: {ev['message']}", flush=True)
        rc = 0 if comp.finished() else 1
    except KeyboardInterrupt:
        bar.close()
        # Keep what finished: the interrupted algorithm is marked stopped, the rest skipped.
        comp.cancel.cancel()
        for r in comp.results.values():
            if r.status in ("training", "testing"):
                r.status, r.message = "stopped", "interrupted"
            elif r.status == "pending":
                r.status, r.message = "skipped", "not run: interrupted"
        comp.status = "cancelled"
        print("interrupted: reporting the algorithms that finished", file=sys.stderr)
        rc = 130
    if args.json:
        print(f"comparison JSON: {comp.save_json(args.json)}")
    if args.table_csv:
        print(f"table CSV: {comp.write_table_csv(args.table_csv)}")
    if args.matrix_csv:
        print(f"matrix CSV: {comp.write_matrix_csv(args.matrix_csv)}")
    print()
    print(comp.markdown(), end="")
    return rc


def cmd_curves(args) -> int:
    """Training runs' validation curves against training time: a Markdown table (and CSV)."""
    from ..studies.learning_curves import LearningCurve, curves_markdown, write_curves_csv

    curves = [LearningCurve.from_checkpoint(path) for path in args.checkpoints]
    longest = max(c.train_s[-1] for c in curves)
    at = args.at or [t for t in (60, 120, 300, 600, 1200, 1800) if t <= longest]
    reach = [a / 100 for a in (args.reach or [])]
    print(curves_markdown(curves, at, reach))
    if args.csv:
        print(f"points: {write_curves_csv(curves, args.csv)}")
    return 0


def cmd_sweep(args) -> int:
    """Checkpoints over a grid of shots × ways on the same fixed test episodes: a Markdown table."""
    from pathlib import Path

    from ..checkpoint import load_checkpoint
    from ..studies.sweeping import Sweep, SweepConfig
    from ..trainer import auto_device

    device = auto_device(args.device)
    models = {}
    for path in args.checkpoints:
        learner, _ = load_checkpoint(path, device)
        label = Path(path).stem if Path(path).stem not in models else str(path)
        models[label] = learner
    specs = {learner.spec for learner in models.values()}
    if len(specs) > 1:
        sizes = ", ".join(f"{label}: {'×'.join(map(str, m.spec.size))}" for label, m in models.items())
        raise FewShotError(f"these checkpoints prepare their images differently ({sizes}); sweep them separately")
    src = make_source(args.source, args.data, args.split, spec=specs.pop())  # prepared as the models were trained
    config = SweepConfig(shots=args.shots, ways=args.ways, q_query=args.query, episodes=args.episodes,
                         seed=args.seed, each_query=args.each, source=f"{src.description} (split {args.split})")
    s = Sweep(models, src, config)
    r = s.result
    runnable = [p for p in r.points if p.status == "pending"]
    print(f"sweeping {', '.join(f'{m.title} ({label})' for label, m in models.items())} on {config.source}: "
          f"shots {', '.join(map(str, r.shots))} × ways {', '.join(map(str, r.ways))}, {args.episodes} test episodes per point, "
          f"{len(runnable)} points on {device}", flush=True)
    bar = ProgressBar()
    t0 = time.perf_counter()
    rc = 0
    try:
        for p in s.run():
            if p.status == "running":
                bar.update(p.fraction, f"{p.model} {p.n_way}-way {p.k_shot}-shot: episode {p.episode}/{p.episodes}, "
                                       f"{100 * p.accuracy:.2f}% so far", force=p.episode == p.episodes)
        bar.close()
    except KeyboardInterrupt:
        bar.close()
        # Keep what finished: the point that was running is dropped (a part of a point is not paired).
        s.cancel.cancel()
        r.status = "cancelled"
        print("interrupted: reporting the points that finished", file=sys.stderr)
        rc = 130
    print(f"{sum(p.finished for p in r.points)} points in {fmt_duration(time.perf_counter() - t0)}")
    write_files((args.json, r.save_json), (args.csv, r.write_csv))
    print()
    print(r.markdown(), end="")
    return rc


def cmd_episodes(args) -> int:
    """A PNG of episodes I … I+C−1 of a stream: each class's support and query images in a row."""
    from ..studies.episode_grid import episode_images, write_episode_grid
    from ..episodes import EpisodeSampler

    if args.way < 2 or args.shot < 1 or args.query < 0:
        raise FewShotError(f"need --way ≥ 2, --shot ≥ 1 and --query ≥ 0; got {args.way}, {args.shot}, {args.query}")
    if not 1 <= args.count <= MAX_GRID_EPISODES:
        raise FewShotError(f"--count must be 1 to {MAX_GRID_EPISODES}, got {args.count}")
    if args.index < 0:
        raise FewShotError(f"--index counts from 0, got {args.index}")
    # The stream's seed: the fixed validation or test episodes for those splits, the training seed 0 otherwise.
    seed = args.seed if args.seed is not None else {"test": TEST_SEED, "val": VAL_SEED}.get(args.split, 0)
    src = make_source(args.source, args.data, args.split, size=args.size)
    sampler = EpisodeSampler(src, args.way, args.shot, args.query, seed=seed)
    pictures = [episode_images(sampler, i) for i in range(args.index, args.index + args.count)]
    title = f"{src.description} (split {args.split}), episode stream seed {seed}"
    try:
        out = write_episode_grid(pictures, args.out, scale=args.scale, columns=args.columns, paper=not args.model_view, title=title)
    except OSError as exc:
        raise FewShotError(f"{args.out}: cannot write ({exc.strerror or exc})") from None
    print(f"episodes {args.index}–{args.index + args.count - 1} of seed {seed} ({args.way}-way {args.shot}-shot, {args.query} queries "
          f"per class) from {src.description}: {out}")
    return 0
