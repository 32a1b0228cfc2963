"""Headless command line: `fewshot train | eval | predict | explain | compare | sweep | curves | episodes | bench | demo | list`. Never imports Qt.

Examples
  fewshot demo                                           # meta-train ProtoNet on the built-in source, evaluate
  fewshot train -a protonet --source omniglot --data ../shared/data/omniglot --minutes 10 \
                --eval-ways 5,20 --out runs/protonet.pt
  fewshot eval runs/protonet.pt --source omniglot --data ../shared/data/omniglot --way 20
  fewshot eval runs/protonet.pt --lake-runs ../shared/data/omniglot/official/all_runs.zip
  fewshot predict runs/protonet.pt --support my_support/ --query new.png more_queries/ --csv predictions.csv
  fewshot compare -a protonet,maml --source omniglot --data ../shared/data/omniglot --minutes-each 5 \
                  --eval-episodes 600 --json runs/compare.json
  fewshot sweep runs/protonet.pt runs/maml.pt --source omniglot --data ../shared/data/omniglot --shots 1,2,5,10 \
                --ways 5,20 --episodes 600 --csv runs/sweep.csv --json runs/sweep.json
  fewshot curves runs/protonet.pt runs/matching.pt --reach 95,96.5 --csv runs/curves.csv
  fewshot episodes --source omniglot --data ../shared/data/omniglot --split test --index 0 --count 3 --out episodes.png
  fewshot bench
"""
from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
import time

from ..algorithms import ALGORITHMS, FAMILIES, hparam_fields, hparams_from_dict
from .cli_study import cmd_compare, cmd_curves, cmd_episodes, cmd_sweep
from .cli_models import cmd_ensemble, cmd_starter
from .cli_support import ProgressBar, float_list, image_size, int_list, ints, make_source, parse_hp_pairs, write_files
from ..distributed import DEFAULT_TIMEOUT_S, RankFailure
from ..episodes import TEST_SEED
from ..errors import FewShotError
from ..studies.report import fmt_duration
from ..tasks import DEFAULT_TASK, SOURCE_KINDS



# -- train / eval ------------------------------------------------------------------------------

def _preset_and_hparams(args) -> dict:
    """--preset (a named set of measured settings, `fewshot list`) under the --hp overrides."""
    preset = getattr(args, "preset", None)
    if not preset:
        return parse_hp_pairs(args.hp)
    presets = ALGORITHMS[args.algorithm].presets
    if preset not in presets:
        known = ", ".join(presets) or "none"
        raise FewShotError(f"--preset: {args.algorithm} has no preset {preset!r} (its presets: {known})")
    return {**presets[preset], **parse_hp_pairs(args.hp)}


def cmd_train(args) -> int:
    from ..distributed import init_from_environment, launched_by_torchrun

    hparams = _preset_and_hparams(args)  # a bad --preset fails before any source is built
    if not launched_by_torchrun():
        return _train(args, hparams, None)
    # One rank of `torchrun --nproc-per-node P -m core train ...` (core.distributed).
    ctx, args.device = init_from_environment(args.device, args.dist_timeout)
    previous = signal.getsignal(signal.SIGTERM)

    def stopped_by_launcher(signum, frame):
        # torchrun stops the other ranks with SIGTERM when one fails: say so instead of vanishing
        raise RankFailure(f"rank {ctx.rank} of {ctx.world_size} was stopped by the launcher (SIGTERM), which does this when another rank fails; "
                          "see the launcher's report for which rank and why")

    signal.signal(signal.SIGTERM, stopped_by_launcher)
    try:
        return _train(args, hparams, ctx)
    finally:
        signal.signal(signal.SIGTERM, previous)
        ctx.close()


def _follow(trainer, bar: ProgressBar, config) -> object:
    """Run the trainer to its end, drawing its progress; returns the last Progress."""
    last = None
    for p in trainer.run():
        last = p
        frac = p.step / p.total_steps if not config.max_seconds else max(p.step / p.total_steps, min(1.0, p.train_s / config.max_seconds))
        val = f" val {100 * p.val_accuracy:.2f}%" if p.val_accuracy is not None else ""
        bar.update(frac, f"step {p.step} loss {p.loss:.3f} acc {100 * p.accuracy:.1f}%{val} {p.episodes_per_s:.1f} ep/s ETA {fmt_duration(p.eta_s)}", force=p.val_accuracy is not None)
        if p.val_accuracy is not None:
            bar.close()
    bar.close()
    return last


def _train(args, hparams: dict, ctx) -> int:
    from ..distributed import evaluate_across_ranks
    from ..evaluation import evaluate
    from ..augment import Augmentation
    from ..trainer import TrainConfig, Trainer

    say = print if ctx is None or ctx.is_main else (lambda *a, **k: None)  # only rank 0 prints
    augment = Augmentation.parse(args.augment)
    augment = augment.to_dict() if augment is not None else None
    train_src = make_source(args.source, args.data, args.train_split, size=args.size)
    val_src = make_source(args.source, args.data, args.val_split, spec=train_src.spec) if args.val_episodes > 0 else None
    steps = args.steps if args.steps else (10**9 if args.minutes else 1000)
    config = TrainConfig(
        algorithm=args.algorithm, hparams=hparams, n_way=args.way, k_shot=args.shot, q_query=args.query,
        train_way=args.train_way, train_shot=args.train_shot, train_query=args.train_query, meta_batch=args.meta_batch,
        steps=steps, max_seconds=args.minutes * 60 if args.minutes else None, seed=args.seed, augment=augment,
        train_within="group" if args.train_within == "alphabet" else None,
        val_every=args.val_every, val_episodes=args.val_episodes, device=args.device, checkpoint_path=args.out,
    )
    trainer = Trainer(config, train_src, val_src, resume_from=args.resume, dist=ctx)
    shape = trainer.episode_shape()
    ranks = (f" ({shape['rank_meta_batch']} per rank × {ctx.describe()}{'; the paper meta-batch of 1 became one episode per rank' if shape['rank_meta_batch'] == 1 and (args.meta_batch or 1) == 1 else ''})"
             if ctx is not None else "")
    say(f"{trainer.learner.title}: {trainer.learner.parameter_count():,} parameters on {trainer.device}; "
        f"training {shape['train_way']}-way {shape['train_shot']}-shot {shape['train_query']}-query, meta-batch {shape['meta_batch']}{ranks}, "
        f"on {train_src.description}{' (each episode within one alphabet)' if config.train_within else ''}"
        f"{' with distorted drawings (' + args.augment + ')' if augment else ''}; "
        f"validating {args.way}-way {args.shot}-shot on {val_src.description if val_src else 'nothing'}", flush=True)
    bar = ProgressBar() if ctx is None or ctx.is_main else ProgressBar(enabled=False)
    try:
        last = _follow(trainer, bar, config)
    except FewShotError:
        bar.close()  # the error goes on a line of its own
        raise
    say(f"{last.message}: {last.step} steps, {last.episodes} episodes in {fmt_duration(last.elapsed_s)} ({last.elapsed_s:.0f} s"
          + (f"; {last.train_s:.0f} s of it training, the rest validating)" if last.elapsed_s - last.train_s >= 1 else ")")
          + (f"; final validation {100 * last.val_accuracy:.2f} ± {100 * last.val_ci95:.2f}%" if last.val_accuracy is not None else ""))
    if args.out:
        say(f"checkpoint: {args.out}")
    if args.eval_episodes > 0:
        test_src = make_source(args.eval_source or args.source, args.eval_data or args.data, args.eval_split, size=args.size)
        for n_way in ints(args.eval_ways):
            for k_shot in ints(args.eval_shots):
                if ctx is not None:  # the test episodes dealt to the ranks, the same result
                    res = evaluate_across_ranks(ctx, trainer.learner, test_src, n_way, k_shot, args.query, args.eval_episodes, TEST_SEED, trainer.device)
                else:
                    res = evaluate(trainer.learner, test_src, n_way, k_shot, args.query, args.eval_episodes, device=trainer.device)
                say(f"test {test_src.description}: {res}", flush=True)
    return 0


def cmd_eval(args) -> int:
    from ..checkpoint import load_checkpoint
    from ..trainer import auto_device

    device = auto_device(args.device)
    learner, data = load_checkpoint(args.checkpoint, device)
    overrides = parse_hp_pairs(args.hp)
    if overrides:
        # Test-time settings only (e.g. inner_steps_test): the network is already built from the
        # checkpoint, so an architectural hyperparameter changed here would not change the model.
        try:
            learner.hparams = hparams_from_dict(type(learner.hparams), {**dataclasses.asdict(learner.hparams), **overrides})
        except ValueError as exc:
            raise FewShotError(f"--hp: {exc}") from None
        print(f"test-time hyperparameters overridden: {', '.join(f'{k}={v}' for k, v in overrides.items())}")
    versus = parse_hp_pairs(args.vs)
    try:  # checked before the first evaluation, not after it
        versus_hparams = hparams_from_dict(type(learner.hparams), {**dataclasses.asdict(learner.hparams), **versus}) if versus else None
    except ValueError as exc:
        raise FewShotError(f"--vs: {exc}") from None
    t0 = time.perf_counter()
    if args.lake_runs:
        return _eval_lake_runs(learner, args, t0)
    src = make_source(args.source, args.data, args.split, spec=learner.spec)  # prepared as the model was trained
    if args.per_instance:
        return _eval_per_instance(learner, src, args, device, t0)
    res = _evaluate_with_bar(learner, src, args, device)
    each = ", each query on its own" if args.each else ""
    print(f"{learner.title} ({args.checkpoint}) on {src.description}: {res}{each} in {time.perf_counter() - t0:.0f} s")
    if versus_hparams is not None:
        _eval_versus(learner, src, args, device, res, versus_hparams, ", ".join(f"{k}={v}" for k, v in versus.items()))
    return 0


def cmd_predict(args) -> int:
    """Each query image's class, from a support folder (one sub-folder per class)."""
    from ..inference import predict_files

    preds = predict_files(args.checkpoint, args.support, args.query, device=args.device, each_query=not args.batch)
    print(preds.table(), end="")
    write_files((args.csv, preds.write_csv), (args.json, preds.write_json))
    return 0


def cmd_explain(args) -> int:
    """How the model reached each query's prediction: every part's numbers printed, JSON on request."""
    from ..explaining import explain_files
    from ..explanation import write_json

    explanations = explain_files(args.checkpoint, args.support, args.query, device=args.device)
    print("\n".join(e.text() for e in explanations), end="")
    write_files((args.json, lambda path: write_json(explanations, path)))
    return 0


def _eval_lake_runs(learner, args, t0: float) -> int:
    from ..checkpoint import read_checkpoint
    from ..lake_runs import PUBLISHED, evaluate_lake_runs, read_lake_runs

    runs = read_lake_runs(args.lake_runs)
    print(f"{learner.title} ({args.checkpoint}) on Lake et al.'s one-shot runs ({args.lake_runs}): "
          f"{len(runs)} runs, every test image classified on its own against its run's training images")
    trained_on = (read_checkpoint(args.checkpoint).get("trainer") or {}).get("source", "")
    if trained_on and not trained_on.startswith("Omniglot background"):
        print(f"note: trained on {trained_on}, not on the background alphabets alone; Lake's protocol allows only those, "
              "so this figure does not compare with the published ones")
    result = evaluate_lake_runs(learner, runs, on_run=lambda i, r: print(f"  {r.line()}", flush=True))
    print(f"{result.headline()} in {time.perf_counter() - t0:.0f} s")
    if len(runs) == 20:
        print("published on these 400 test images: " + ", ".join(f"{who} {acc:.1f}%" for who, acc in PUBLISHED.items()))
    return 0


def _evaluate_with_bar(learner, src, args, device, label: str = ""):
    """`evaluate` over --episodes fixed test episodes, with a progress bar."""
    from ..evaluation import evaluate

    bar = ProgressBar()
    try:
        return evaluate(learner, src, args.way, args.shot, args.query, args.episodes, device=device,
                        each_query=getattr(args, "each", False), on_episode=lambda i, a: bar.update((i + 1) / args.episodes, f"{label}episode {i + 1}/{args.episodes}"))
    finally:
        bar.close()


def _eval_versus(learner, src, args, device, res, versus_hparams, label: str) -> None:
    """The same checkpoint again with other test-time settings, on the same test episodes (the
    evaluation stream is seeded), and a paired comparison of the two per-episode accuracies: e.g.
    the LSTM meta-learner's update against plain SGD fine-tuning of the same initialisation."""
    from ..stats import wilcoxon_signed_rank, win_rate

    own = learner.hparams
    learner.hparams = versus_hparams
    t0 = time.perf_counter()
    try:
        other = _evaluate_with_bar(learner, src, args, device, "versus: ")
    finally:
        learner.hparams = own
    test = wilcoxon_signed_rank(res.per_episode, other.per_episode)
    verdict = "significant" if test.p_value < 0.05 else "not significant"
    print(f"versus {label}: {other} in {time.perf_counter() - t0:.0f} s")
    print(f"paired over the same {len(res.per_episode)} episodes: difference {100 * (res.mean - other.mean):+.2f} points; "
          f"ahead on {100 * win_rate(res.per_episode, other.per_episode):.1f}% of episodes (ties ½); two-sided Wilcoxon "
          f"signed-rank p = {test.p_value:.3g} ({test.method}, {test.n} non-zero differences) — {verdict} at α = 0.05")


def _eval_per_instance(learner, src, args, device, t0: float) -> int:
    """Santoro et al.'s Table 1 protocol: accuracy at the 1st, 2nd, … presentation of a class."""
    from ..algorithms.mann import MANN, instance_accuracy

    if not isinstance(learner, MANN):
        raise FewShotError(f"--per-instance is the MANN sequence protocol; {args.checkpoint} holds {learner.title}")
    acc = instance_accuracy(learner, src, learner.hparams.classes, learner.hparams.instances, args.episodes, device=device)
    shown = ", ".join(f"{k}: {100 * v:.1f}" for k, v in acc.items())
    print(f"{learner.title} ({args.checkpoint}) on {src.description}, {learner.hparams.classes} classes × "
          f"{learner.hparams.instances} instances, {args.episodes} sequences — accuracy (%) by presentation: {shown} "
          f"in {time.perf_counter() - t0:.0f} s")
    return 0


def cmd_list(args) -> int:
    for fam, title in FAMILIES.items():
        algos = [a for a in ALGORITHMS.values() if a.family == fam]
        if not algos:
            continue
        print(f"{title}:")
        for a in algos:
            print(f"  {a.name:10s} {a.title} ({a.paper})")
            for f in hparam_fields(a.HParams):
                print(f"      {f['name']} = {f['default']!r}  — {f['doc']}")
            for label, values in a.presets.items():
                print(f"      --preset {label}: " + ", ".join(f"{k}={v!r}" for k, v in values.items()))
    return 0


def cmd_demo(args) -> int:
    """The headless demo: meta-train ProtoNet on the built-in source and evaluate on unseen glyphs."""
    ns = argparse.Namespace(
        algorithm="protonet", source="builtin", data=None, train_split="train", val_split="val", way=DEFAULT_TASK.n_way, shot=DEFAULT_TASK.k_shot, query=DEFAULT_TASK.q_query,
        train_way=20, train_shot=None, train_query=None, meta_batch=None, steps=args.steps, minutes=None, seed=0,
        val_every=max(1, args.steps // 4), val_episodes=50, device=args.device, out=args.out, resume=None, hp=[], augment="none", train_within="any",
        eval_episodes=200, eval_ways=str(DEFAULT_TASK.n_way), eval_shots=str(DEFAULT_TASK.k_shot), eval_source=None, eval_data=None, eval_split="test", size=None,
    )
    print("Few-Shot Studio demo: Prototypical Networks meta-trained on the built-in handwriting generator,\n"
          "then tested 5-way 1-shot on generated characters it has never seen.")
    return cmd_train(ns)


def cmd_bench(args) -> int:
    from .bench import run_bench

    return run_bench(args)


def own_images_args(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """A checkpoint, a support folder and query images: what `predict` and `explain` read."""
    p.add_argument("checkpoint")
    p.add_argument("--support", required=True, metavar="DIR", help="one sub-folder of images per class (its name is the class)")
    p.add_argument("--query", required=True, nargs="+", metavar="FILE|DIR", help="query images, or folders of them")
    p.add_argument("--device", default="auto", help="auto (CUDA when present, else CPU), cpu, cuda, ...")
    return p


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="fewshot", description="Few-Shot Studio engine (headless)")
    sub = ap.add_subparsers(dest="command", required=True)

    def where_from(p, device: bool = True):
        p.add_argument("--source", default="builtin", choices=SOURCE_KINDS, help="class source (default: built-in generator)")
        p.add_argument("--data", help="folder for --source omniglot / folder")
        if device:
            p.add_argument("--device", default="auto", help="auto (CUDA when present, else CPU), cpu, cuda, cuda:1 ...")
        return p

    def source_args(p, split_default: str):
        where_from(p)
        p.add_argument("--way", type=int, default=DEFAULT_TASK.n_way, help="N classes per test episode")
        p.add_argument("--shot", type=int, default=DEFAULT_TASK.k_shot, help="K support examples per class")
        p.add_argument("--query", type=int, default=DEFAULT_TASK.q_query, help="Q queries per class")
        if split_default != "test":  # eval prepares images as the checkpoint's own input spec says
            p.add_argument("--size", type=image_size, metavar="H[xW]", help="image size the model sees (default 28; e.g. 105 for Koch's Siamese protocol)")
        return p

    t = source_args(sub.add_parser("train", help="meta-train an algorithm and write a checkpoint"), "train")
    t.add_argument("-a", "--algorithm", default="protonet", choices=sorted(ALGORITHMS))
    t.add_argument("--hp", action="append", metavar="NAME=VALUE", help="override a hyperparameter (repeatable); see `fewshot list`")
    t.add_argument("--preset", metavar="LABEL", help="start from one of the algorithm's measured settings instead of the paper's (see `fewshot list`); --hp still overrides")
    t.add_argument("--train-split", default="train")
    t.add_argument("--val-split", default="val")
    t.add_argument("--train-way", type=int), t.add_argument("--train-shot", type=int), t.add_argument("--train-query", type=int)
    t.add_argument("--meta-batch", type=int)
    t.add_argument("--steps", type=int, default=0, help="meta-training steps (default 1000, or unlimited with --minutes)")
    t.add_argument("--minutes", type=float, default=0, help="training-time budget in minutes (validations pause its clock)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--train-within", default="any", choices=["any", "alphabet"],
                   help="alphabet: each training episode's classes all from one alphabet (one folder of the source), as in Lake et al.'s one-shot runs; any: from the whole split (default)")
    t.add_argument("--augment", default="none", metavar="none|affine[:NAME=VALUE,…]",
                   help="randomly distort every training image: affine = Koch et al.'s draw (rotate ±10°, shear ±0.3, scale ±20%%, shift ±2/105 of the side, "
                        "each with probability ½); fields: rotate_deg, shear, scale, shift, p (e.g. affine:rotate_deg=15,p=1)")
    t.add_argument("--val-every", type=int, default=500)
    t.add_argument("--val-episodes", type=int, default=100)
    t.add_argument("--out", help="checkpoint path (written at each validation and at the end)")
    t.add_argument("--resume", help="continue from this checkpoint")
    t.add_argument("--dist-timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="SECONDS",
                   help="under torchrun: how long a rank waits for the others in a collective before the run stops with an error")
    t.add_argument("--eval-episodes", type=int, default=0, help="after training, test on this many episodes (e.g. 600)")
    t.add_argument("--eval-ways", default=str(DEFAULT_TASK.n_way), help="comma-separated ways to test, e.g. 5,20")
    t.add_argument("--eval-shots", default=str(DEFAULT_TASK.k_shot), help="comma-separated shots to test, e.g. 1,5")
    t.add_argument("--eval-source", choices=SOURCE_KINDS, help="test on another source (default: the training source)")
    t.add_argument("--eval-data", help="folder of --eval-source")
    t.add_argument("--eval-split", default="test")
    t.set_defaults(func=cmd_train)

    e = source_args(sub.add_parser("eval", help="evaluate a checkpoint on test episodes"), "test")
    e.add_argument("checkpoint")
    e.add_argument("--split", default="test")
    e.add_argument("--episodes", type=int, default=600)
    e.add_argument("--hp", action="append", metavar="NAME=VALUE", help="override a test-time hyperparameter of the checkpoint (repeatable)")
    e.add_argument("--vs", action="append", metavar="NAME=VALUE", help="evaluate the checkpoint again with these test-time overrides (repeatable, applied together) on the same episodes and print a paired comparison (Wilcoxon signed-rank), e.g. --vs test_update=sgd")
    e.add_argument("--each", action="store_true", help="classify every query on its own, as the app does (default: the queries of an episode as one batch, the papers' protocol; differs only for transductive BatchNorm)")
    e.add_argument("--lake-runs", metavar="PATH", help="Lake et al.'s 20 official one-shot runs (all_runs.zip or its folder) instead of episodes: "
                   "20-way 1-shot within an evaluation alphabet, every test image on its own; prints each run's errors and the total")
    e.add_argument("--per-instance", action="store_true", help="MANN: accuracy by presentation number within sequences (Santoro et al.'s protocol); --episodes sequences")
    e.set_defaults(func=cmd_eval)

    en = sub.add_parser("ensemble", help="assemble Prototypical Networks trained apart into one ensemble model")
    en.add_argument("checkpoints", nargs="+", help="two or more Prototypical Networks checkpoints with the same input and architecture")
    en.add_argument("--out", required=True, help="the ensemble checkpoint to write")
    en.add_argument("--hp", action="append", metavar="NAME=VALUE", help="a test-time setting of the ensemble, e.g. test_views=4 (repeatable)")
    en.set_defaults(func=cmd_ensemble)

    pr = own_images_args(sub.add_parser("predict", help="classify your own images with a checkpoint and a support folder"))
    pr.add_argument("--csv", metavar="PATH", help="also write the predictions as CSV here")
    pr.add_argument("--json", metavar="PATH", help="also write the predictions as JSON here")
    pr.add_argument("--batch", action="store_true", help="classify the queries as one batch (the papers' protocol) instead of each on its own as the app does; differs only for transductive BatchNorm")
    pr.set_defaults(func=cmd_predict)

    ex = own_images_args(sub.add_parser("explain", help="show how a checkpoint's algorithm reaches its prediction for your own query images"))
    ex.add_argument("--json", metavar="PATH", help="also write the explanations as JSON here (the parts the app draws)")
    ex.set_defaults(func=cmd_explain)

    c = source_args(sub.add_parser("compare", help="meta-train several algorithms on identical episodes and compare them on the same test episodes"), "train")
    c.add_argument("-a", "--algorithms", default="all", help="comma-separated names, or all (default)")
    c.add_argument("--hp", action="append", metavar="ALGO.NAME=VALUE", help="override one algorithm's hyperparameter (repeatable); *.NAME=VALUE: every compared algorithm that has it")
    c.add_argument("--preset", action="append", metavar="ALGO=LABEL", help="start an algorithm from its measured settings (`fewshot list`; repeatable; *=measured: every compared algorithm that has them); --hp still overrides")
    c.add_argument("--protocol", default="same", choices=["same", "paper"],
                   help="same: every algorithm trains on identical N-way K-shot Q-query episodes (default); paper: each on its paper's episode shape, same seed")
    c.add_argument("--steps-each", type=int, default=0, help="meta-training steps per algorithm (default 1000, or unlimited with --minutes-each)")
    c.add_argument("--minutes-each", type=float, default=0, help="training-time budget per algorithm, in minutes (validations pause its clock)")
    c.add_argument("--seed", type=int, default=0, help="training episodes and initial weights (the same for every algorithm)")
    c.add_argument("--eval-episodes", type=int, default=600, help="shared test episodes")
    c.add_argument("--val-every", type=int, default=500)
    c.add_argument("--val-episodes", type=int, default=100)
    c.add_argument("--train-split", default="train")
    c.add_argument("--val-split", default="val")
    c.add_argument("--test-split", default="test")
    c.add_argument("--model", action="append", metavar="ALGO=CHECKPOINT",
                   help="compare this algorithm as a model already trained instead of training it (repeatable): only tested, on the same episodes")
    c.add_argument("--starter", action="store_true",
                   help="compare every chosen algorithm as its starter model (shipped with the app; `fewshot starter list`) instead of training it")
    c.add_argument("--json", help="write the whole comparison (config, curves, per-episode results) here")
    c.add_argument("--table-csv", help="write the results table as CSV here")
    c.add_argument("--matrix-csv", help="write the pairwise matrix as CSV here")
    c.set_defaults(func=cmd_compare)

    sw = sub.add_parser("sweep", help="accuracy of checkpoints over a grid of shots × ways, on the same fixed test episodes")
    sw.add_argument("checkpoints", nargs="+", metavar="CHECKPOINT", help="one or more checkpoints (each a row group of the table)")
    where_from(sw)
    sw.add_argument("--split", default="test")
    sw.add_argument("--shots", type=int_list, metavar="K,K,...", help="shots per class (default 1,2,3,5,10 up to what the source's classes hold)")
    sw.add_argument("--ways", type=int_list, metavar="N,N,...", help="ways (default 2,5,10,20,50 up to what the source and the models support)")
    sw.add_argument("--query", type=int, default=DEFAULT_TASK.q_query, help="queries per class (fewer at a point where a class has too few images)")
    sw.add_argument("--episodes", type=int, default=600, help="test episodes per point")
    sw.add_argument("--seed", type=int, default=TEST_SEED, help="test episode stream (default: the one eval and compare use)")
    sw.add_argument("--each", action="store_true", help="classify every query on its own, as the app does")
    sw.add_argument("--csv", metavar="PATH", help="also write one row per point as CSV here")
    sw.add_argument("--json", metavar="PATH", help="also write the whole sweep (per-episode accuracies too) as JSON here")
    sw.set_defaults(func=cmd_sweep)

    cu = sub.add_parser("curves", help="time to accuracy: the validation curves training runs kept, against training time")
    cu.add_argument("checkpoints", nargs="+", metavar="CHECKPOINT", help="checkpoints of runs trained with validation (one row each)")
    cu.add_argument("--at", type=float_list, metavar="S,S,...", help="training seconds to read the accuracy at (default 60,120,300,600,… up to the longest run)")
    cu.add_argument("--reach", type=float_list, metavar="A,A,...", help="accuracies in percent to give the training time to, e.g. 95,96.5")
    cu.add_argument("--csv", metavar="PATH", help="also write every validation point (model, step, train_s, accuracy, ci95) here")
    cu.set_defaults(func=cmd_curves)

    ep = where_from(sub.add_parser("episodes", help="draw episodes of a stream as a PNG grid (support and query images per class)"), device=False)
    ep.add_argument("--split", default="test", help="train, val or test (default test)")
    ep.add_argument("--seed", type=int, help="episode stream: a run's --seed for its training episodes (default: the fixed test or validation episodes for those splits, 0 for train)")
    ep.add_argument("--index", type=int, default=0, help="the first episode (0-based); training step s with meta-batch B used episodes (s−1)·B … s·B−1")
    ep.add_argument("--count", type=int, default=1, help="how many consecutive episodes")
    ep.add_argument("--way", type=int, default=DEFAULT_TASK.n_way), ep.add_argument("--shot", type=int, default=DEFAULT_TASK.k_shot), ep.add_argument("--query", type=int, default=DEFAULT_TASK.q_query)
    ep.add_argument("--size", type=image_size, metavar="H[xW]", help="image size the model sees (as in train)")
    ep.add_argument("--columns", type=int, default=1, help="episodes side by side")
    ep.add_argument("--scale", type=int, default=2, help="pixels per image pixel")
    ep.add_argument("--model-view", action="store_true", help="draw the images as the model sees them (ink bright on dark) instead of as drawn")
    ep.add_argument("--out", required=True, help="PNG to write")
    ep.set_defaults(func=cmd_episodes)

    b = sub.add_parser("bench", help="episodes/s and peak memory of each algorithm vs a bare PyTorch loop")
    b.add_argument("--algorithms", default="all", help="comma-separated names (default: all registered)")
    b.add_argument("--rounds", type=int, default=7, help="A/B rounds (median ratio reported)")
    b.add_argument("--seconds", type=float, default=2.0, help="time per measurement in a round")
    b.add_argument("--device", default="auto")
    b.set_defaults(func=cmd_bench)

    d = sub.add_parser("demo", help="quick headless demo on the built-in source")
    d.add_argument("--steps", type=int, default=300)
    d.add_argument("--device", default="auto")
    d.add_argument("--out", default=None)
    d.set_defaults(func=cmd_demo)

    st = sub.add_parser("starter", help="the starter models shipped with the app: list them, check them, or re-create them from the data")
    st.add_argument("action", choices=["list", "build", "check"], help="list: recipes and shipped models; build: meta-train and test by the recipes; check: files against the manifest")
    st.add_argument("--data", help="build: the Omniglot folder (torchvision layout)")
    st.add_argument("--only", help="build: comma-separated algorithms (default: all)")
    st.add_argument("--from-checkpoint", metavar="PATH", help="build one algorithm (--only) from a checkpoint already trained by exactly its recipe's command")
    st.add_argument("--dir", help="starter folder (default: the package's resources/starter)")
    st.add_argument("--work", metavar="DIR", help="build: where a build keeps its training checkpoint until the model is written (default: the cache folder's starter-build/)")
    st.add_argument("--resume", action="store_true", help="build: continue a build cut short from its last checkpoint in --work (to the same model as an uninterrupted build)")
    st.set_defaults(func=lambda args: cmd_starter(args, train=main))  # a build runs `fewshot train` by this entry point

    sub.add_parser("list", help="list the registered algorithms and their hyperparameters").set_defaults(func=cmd_list)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except FewShotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
