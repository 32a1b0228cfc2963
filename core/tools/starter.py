"""Starter models: one meta-trained model per algorithm, shipped in `resources/starter/`, so the app
classifies at first launch without training.

Each is made by a recipe — the protocol of that algorithm's row in docs/results.md, as `fewshot train` arguments —
on real Omniglot (MIT licence, Lake et al.; see the manifest's `attribution`). `build` runs the
recipe, tests the model on the 600 fixed test episodes (`TEST_SEED`) at the ways its results row
reports, keeps a short 50-episode check figure that a test can re-measure in seconds, drops the
optimizer state (a starter model classifies; meta-training a new one starts from scratch) and
records everything in `manifest.json`: settings, data, steps, training and wall time, accuracy,
size and SHA-256. `fewshot starter build --data DIR` re-creates them all.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import io
import json
import os
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import FewShotError  # torch is imported where a model is built: the app reads the manifest before the engine loads
from ..stats import binned
from ..tasks import DEFAULT_TASK

MANIFEST = "manifest.json"
CHECK_EPISODES = 50  # the short re-measurement a test repeats (the first 50 of the fixed test episodes)
TEST_EPISODES = 600
STARTER_CURVE_POINTS = 10_000  # the most training-curve points a shipped model keeps (a plot is narrower)
ATTRIBUTION = ("Trained on Omniglot (Lake, Salakhutdinov & Tenenbaum 2015, https://github.com/brendenlake/omniglot), "
               "MIT licence; the Vinyals et al. 2016 character split, rotations ×4, 28×28.")


@dataclass(frozen=True)
class Recipe:
    """How a starter model is meta-trained: the `fewshot train` arguments after `-a ALGO --source
    omniglot --data DIR` (the algorithm's row in docs/results.md), the threads it runs on, the ways it
    is tested at, and that row's targets in percent.

    Most recipes are one algorithm's Vinyals-split model, named after the algorithm and tested on
    the split's test characters. A recipe with `name` and `lake_target` is Lake et al.'s protocol:
    trained on the background alphabets only, tested on the evaluation alphabets (`test_split`)
    and on the 20 official one-shot runs; `role` "handwriting" makes it the app's model for drawn
    characters when its algorithm is picked.

    A recipe with `members` is an ensemble (Prototypical Networks only): each member is meta-trained
    by its own `fewshot train` arguments (after the same `-a ALGO --source omniglot --data DIR`),
    then `fewshot ensemble` assembles them with the test-time `ensemble_settings`; `train_args`
    are then the first member's."""

    algorithm: str
    train_args: tuple[str, ...]
    targets: dict[int, float]  # way -> the results row's target accuracy (%), 1-shot
    threads: int = 1
    readme_row: str = ""
    eval_ways: tuple[int, ...] = field(default=())
    name: str = ""  # the manifest's key and file name (default: the algorithm)
    test_split: str = "test"
    lake_target: float | None = None  # Lake's 20 official runs, percent of the 400 test images
    role: str = ""
    members: tuple[tuple[str, ...], ...] = ()
    ensemble_settings: tuple[str, ...] = ()  # NAME=VALUE test-time settings of the assembled ensemble

    @property
    def runs(self) -> tuple[tuple[str, ...], ...]:
        """The `fewshot train` arguments of each network the recipe trains (one, or its members)."""
        return self.members or (self.train_args,)

    def member_file(self, i: int) -> str:
        return f"{self.key}.pt" if not self.members else f"{self.key}.m{i + 1}.pt"

    @property
    def key(self) -> str:
        return self.name or self.algorithm

    @property
    def ways(self) -> tuple[int, ...]:
        return self.eval_ways or tuple(sorted(self.targets))

    def command(self, data: str = "$D") -> str:
        """The shell commands that make the model (one line per network, then the assembly)."""
        env = f"OMP_NUM_THREADS={self.threads} " if self.threads == 1 else ""
        lines = [f"{env}fewshot train -a {self.algorithm} --source omniglot --data {data} {shlex.join(args)} --out {self.member_file(i)}"
                 for i, args in enumerate(self.runs)]
        if self.members:
            settings = "".join(f" --hp {s}" for s in self.ensemble_settings)
            lines.append(f"fewshot ensemble {' '.join(self.member_file(i) for i in range(len(self.members)))} --out {self.key}.pt{settings}")
        return "\n".join(lines)


def _r(algorithm: str, args: str, targets: dict[int, float], threads: int = 1, row: str = "") -> Recipe:
    return Recipe(algorithm, tuple(shlex.split(args)), targets, threads, row)


# The rows of docs/results.md, one per algorithm: the same protocol, and the number of steps that
# row's time budget held. A step count, not a time budget, so that a build is the same model on any
# machine, however fast or busy (a time budget gives a slower machine a weaker model).
# Lake et al.'s protocol: the 30 background alphabets ×4 rotations at 28×28, the measured setting.
LAKE = "--train-split background --size 28 --val-every 500 --val-episodes 0 --preset measured"

RECIPES: dict[str, Recipe] = {r.key: r for r in (
    _r("protonet", "--train-split trainval --val-split test --way 20 --steps 1148 --val-every 200 --val-episodes 100 --preset measured",
       {5: 99.0, 20: 96.5}, threads=2, row="Prototypical Networks, measured setting (its 10-minute command: 1,148 steps here)"),
    _r("matching", "--train-split trainval --steps 4101 --val-episodes 0 --preset measured",
       {5: 97.5, 20: 93.0}, row="Matching Networks, measured setting (10 min, 1 core: 4,101 steps)"),
    _r("relation", "--steps 12834 --val-every 2000 --val-episodes 100", {5: 97.0, 20: 90.0}, row="Relation Network (30 min, 1 core: 12,834 steps)"),
    _r("siamese", "--steps 20088 --val-every 2000 --val-episodes 100", {5: 95.0, 20: 85.0}, row="Siamese network (30 min, 1 core: 20,088 steps)"),
    _r("maml", "--steps 60000 --val-every 2000 --val-episodes 200 --hp learn_inner_lr=true --hp meta_lr_schedule=budget --hp meta_batch_size=16",
       {5: 98.5}, row="MAML, second order, learned step sizes and a cosine meta learning rate (60,000 steps of 16 tasks: 3 h 10 min, 1 core)"),
    _r("fomaml", "--steps 10770 --val-every 1000 --val-episodes 100", {5: 95.0}, row="First-order MAML (30 min, 1 core: 10,770 steps)"),
    _r("reptile", "--steps 19513 --val-every 2000 --val-episodes 100", {5: 95.0}, row="Reptile (30 min, 1 core: 19,513 steps)"),
    _r("lstm_meta", "--steps 9962 --val-episodes 0", {5: 90.0}, row="LSTM Meta-Learner (30 min, 1 core: 9,962 steps)"),
    _r("metanet", "--train-split trainval --way 20 --shot 1 --steps 10244 --val-episodes 0", {5: 97.0, 20: 93.0},
       row="Meta Networks (60 min, 1 core: 10,244 steps)"),
    _r("mann", "--steps 35039 --val-episodes 0 --preset measured", {5: 90.0}, row="MANN, measured setting (50 min, 1 core: 35,039 steps)"),
    # Lake et al.'s protocol: the background alphabets only. An ensemble of four Prototypical
    # Networks (docs/lake.md): the 8,000-step baseline, the same with distorted drawings for 6,000
    # steps, and two 14,000-step runs of within-alphabet episodes with a slower learning-rate
    # decay, with and without distortions. Its target on the 20 runs: BPL's 96.7%.
    Recipe("protonet", tuple(shlex.split(LAKE + " --steps 8000")), {5: 98.5, 20: 96.0}, threads=1,
           readme_row="Prototypical Networks by Lake's protocol: an ensemble of four (background alphabets)",
           name="handwriting", test_split="evaluation", lake_target=96.7, role="handwriting",
           members=tuple(tuple(shlex.split(LAKE + extra)) for extra in (
               " --steps 8000", " --steps 6000 --augment affine",
               " --steps 14000 --augment affine --train-within alphabet --hp lr_halve_every=5000",
               " --steps 14000 --train-within alphabet --hp lr_halve_every=5000")),
           ensemble_settings=()),
)}


@contextlib.contextmanager
def _manifest_lock(folder: Path):
    """Hold `folder`'s manifest for one read-modify-write, so two builds running side by side (say
    one per core) cannot drop each other's entry. Advisory (flock) where the platform has it."""
    try:
        import fcntl
    except ImportError:  # Windows: builds there run one at a time
        yield
        return
    fd = os.open(folder, os.O_RDONLY)  # the folder itself is the lock: no lock file to ship or forget
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def starter_dir() -> Path:
    """Where the shipped starter models are (a source checkout or an installed wheel)."""
    from resources import resource_path

    return resource_path("starter")


def read_manifest(folder: str | Path | None = None) -> dict[str, Any]:
    """The manifest of a starter folder ({"attribution", "models": {algorithm: entry}}); empty when none."""
    path = Path(folder or starter_dir()) / MANIFEST
    if not path.is_file():
        return {"attribution": ATTRIBUTION, "models": {}}
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise FewShotError(f"{path}: unreadable starter manifest ({exc})") from exc


def starter_models(folder: str | Path | None = None) -> dict[str, Path]:
    """{algorithm: checkpoint path} of the starter models present and listed in the manifest."""
    folder = Path(folder or starter_dir())
    out = {}
    for name, entry in read_manifest(folder).get("models", {}).items():
        path = folder / entry["file"]
        if path.is_file():
            out[name] = path
    return out


def sha256_of(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def check_accuracy(learner, data: str | Path, split: str = "test") -> float:
    """5-way 1-shot accuracy on the first CHECK_EPISODES fixed test episodes of `split` (what a test repeats)."""
    from ..episodes import TEST_SEED
    from ..evaluation import evaluate
    from ..sources import open_source

    test = open_source("omniglot", split, str(data), spec=learner.spec)
    return evaluate(learner, test, DEFAULT_TASK.n_way, DEFAULT_TASK.k_shot, DEFAULT_TASK.q_query, CHECK_EPISODES, seed=TEST_SEED).mean


def build_checkpoint(algorithm: str, work: str | Path | None = None) -> Path:
    """Where a build of `algorithm` keeps its training checkpoint until the model is written:
    `work` (default: the cache folder's starter-build/)."""
    from ..sources.base import cache_dir

    folder = Path(work) if work else cache_dir() / "starter-build"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{algorithm}.pt"


def lake_runs_file(data: str | Path) -> Path:
    """Lake et al.'s official runs beside an Omniglot folder: <data>/official/all_runs.zip."""
    return Path(data) / "official" / "all_runs.zip"


def build(name: str, data: str | Path, folder: str | Path | None = None, from_checkpoint: str | Path | None = None,
          say: Callable[[str], Any] = print, work: str | Path | None = None, resume: bool = False,
          train: Callable[[list[str]], int] | None = None) -> dict[str, Any]:
    """Meta-train the starter model `name` by its recipe (or take `from_checkpoint`, a model
    trained by exactly the recipe's command), test it, and write it with its manifest entry.
    `train(argv)` runs `fewshot` with the recipe's arguments and returns its exit code (the CLI's
    `main`, passed in by the CLI so that this module does not import the CLI that imports it).
    The training checkpoint lives in `work` (`build_checkpoint`) until then: a build cut short
    continues from its last checkpoint with `resume`, to the same model as an uninterrupted one.
    Returns the entry."""
    import torch

    from ..checkpoint import learner_from_checkpoint, read_checkpoint
    from ..files import atomic_write

    if name not in RECIPES:
        raise FewShotError(f"no starter recipe {name!r}; recipes: {', '.join(RECIPES)}")
    recipe = RECIPES[name]
    algorithm = recipe.algorithm
    folder = Path(folder or starter_dir())
    folder.mkdir(parents=True, exist_ok=True)
    if recipe.lake_target is not None and not lake_runs_file(data).is_file():
        raise FewShotError(f"starter {name} is tested on Lake et al.'s runs, expected at {lake_runs_file(data)}")
    t0 = time.perf_counter()
    earlier_s = 0.0  # wall time of the build's earlier sessions (a resumed build)
    made: list[Path] = []  # the build's own files, deleted once the model is written
    if from_checkpoint is None:
        if train is None:
            raise FewShotError(f"starter {name}: building needs train=, the `fewshot` entry point (core.tools.cli.main)")
        say(f"starter {name}: {recipe.command(str(data))}")
        for i, args in enumerate(recipe.runs):
            # Each network's own checkpoint, outside the package folder and kept until the model
            # is written, so a build cut short (a session that ends) continues with `resume`.
            path = build_checkpoint(recipe.member_file(i).removesuffix(".pt"), work)
            earlier_s += _train_network(recipe, args, path, data, train, resume, say)
            made.append(path)
        trained = made[0]
        if recipe.members:
            from ..checkpoint import save_ensemble

            trained = build_checkpoint(name, work)
            save_ensemble(made, trained, dict(s.split("=", 1) for s in recipe.ensemble_settings))
            made.append(trained)
    else:
        trained = Path(from_checkpoint)
    raw = read_checkpoint(trained)
    if raw["algorithm"] != algorithm:
        raise FewShotError(f"{trained}: holds {raw['algorithm']}, not {algorithm}")
    learner = learner_from_checkpoint(raw, "cpu", with_optimizer=False)
    accuracy, lake = measure_model(learner, recipe, data, say)
    check = check_accuracy(learner, data, recipe.test_split)
    # Ship the weights and the training record (the app draws its curves), not the optimizer state.
    # A long run's per-step record is averaged into STARTER_CURVE_POINTS bins: 60,000 steps of
    # loss and accuracy as Python floats would be three times the weights, and a plot shows no more.
    trainer = dict(raw.get("trainer") or {})
    if trainer.get("history"):
        trainer["history"] = binned(trainer["history"], STARTER_CURVE_POINTS, means=("loss", "accuracy"), lasts=("step",))
    raw = {**raw, "optim": {}, "trainer": trainer}
    buf = io.BytesIO()
    torch.save(raw, buf)
    out = folder / f"{name}.pt"
    atomic_write(out, buf.getvalue())
    for path in made:
        path.unlink(missing_ok=True)
    trainer = raw.get("trainer") or {}
    tested_on = ("its 423 test characters ×4 rotations" if recipe.test_split == "test"
                 else f"the {recipe.test_split} alphabets' characters ×4 rotations, which it never saw")
    entry = {
        "file": out.name, "algorithm": algorithm, "title": learner.title, "bytes": out.stat().st_size, "sha256": sha256_of(out),
        "command": recipe.command(), "settings": raw["hparams"], "readme_row": recipe.readme_row,
        "data": f"Omniglot (torchvision layout), meta-trained on {trainer.get('source', '?')}; tested on {tested_on}",
        "test_split": recipe.test_split, "input_size": list(learner.spec.size),
        "steps": int(trainer.get("step", 0)), "episodes": int(trainer.get("episodes_seen", 0)),
        "train_s": round(float(trainer.get("train_s", 0.0)), 1),
        "wall_s": round(earlier_s + time.perf_counter() - t0, 1) if from_checkpoint is None else round(float(trainer.get("elapsed_s", 0.0)), 1),
        "accuracy": accuracy, "targets": {str(k): v for k, v in recipe.targets.items()},
        "check": {"episodes": CHECK_EPISODES, "way": DEFAULT_TASK.n_way, "shot": DEFAULT_TASK.k_shot, "query": DEFAULT_TASK.q_query, "split": recipe.test_split, "accuracy": round(100 * check, 2)},
        "torch": torch.__version__, "built": _dt.datetime.now().isoformat(timespec="seconds"),
    }
    if lake is not None:
        entry["lake"] = lake
    if recipe.role:
        entry["role"] = recipe.role
    with _manifest_lock(folder):  # builds of other algorithms may run beside this one (one per core)
        manifest = read_manifest(folder)
        manifest["attribution"] = ATTRIBUTION
        manifest.setdefault("models", {})[name] = entry
        manifest["models"] = dict(sorted(manifest["models"].items()))
        atomic_write(folder / MANIFEST, (json.dumps(manifest, indent=1, ensure_ascii=False) + "\n").encode())
    say(f"starter {name}: {out} ({entry['bytes'] / 1e6:.2f} MB), check {entry['check']['accuracy']:.2f}% on {CHECK_EPISODES} episodes")
    return entry


def _train_network(recipe: Recipe, args: tuple[str, ...], path: Path, data: str | Path, train: Callable[[list[str]], int],
                   resume: bool, say: Callable[[str], Any]) -> float:
    """Meta-train one network of `recipe` into `path` (continuing it there with `resume`); returns
    the wall time its earlier sessions spent (0 for a fresh start)."""
    import torch

    from ..checkpoint import read_checkpoint

    argv = ["train", "-a", recipe.algorithm, "--source", "omniglot", "--data", str(data), *args, "--eval-episodes", "0", "--out", str(path)]
    earlier_s = 0.0
    if path.exists():
        state = read_checkpoint(path).get("trainer") or {}
        if not resume:
            raise FewShotError(f"{path} holds a build of {recipe.key} in progress (step {state.get('step', '?')}); "
                               "continue it with --resume, or delete that file to start again")
        earlier_s = float(state.get("elapsed_s", 0.0))
        argv += ["--resume", str(path)]
        say(f"starter {recipe.key}: resuming {path} at step {state.get('step', '?')}")
    threads = torch.get_num_threads()
    torch.set_num_threads(recipe.threads)
    try:
        rc = train(argv)
    finally:
        torch.set_num_threads(threads)
    if rc != 0:
        raise FewShotError(f"starter {recipe.key}: meta-training failed (exit code {rc}); {path} keeps its last checkpoint")
    return earlier_s


def measure_model(learner, recipe: Recipe, data: str | Path, say: Callable[[str], Any] = print) -> tuple[dict, dict | None]:
    """({way: accuracy entry} on the recipe's test split, Lake's runs entry or None): what a
    starter model's manifest records of it."""
    from ..episodes import TEST_SEED
    from ..evaluation import evaluate
    from ..sources import open_source

    test = open_source("omniglot", recipe.test_split, str(data), spec=learner.spec)
    accuracy = {}
    for way in recipe.ways:
        res = evaluate(learner, test, way, DEFAULT_TASK.k_shot, DEFAULT_TASK.q_query, TEST_EPISODES, seed=TEST_SEED)
        accuracy[str(way)] = {"mean": round(100 * res.mean, 2), "ci95": round(100 * res.ci95, 2), "episodes": TEST_EPISODES}
        say(f"starter {recipe.key}: {way}-way 1-shot {100 * res.mean:.2f} ± {100 * res.ci95:.2f}% on {test.description} "
            f"(target ≥ {recipe.targets.get(way, '–')})")
        if getattr(learner.hparams, "bn_mode", None) == "transductive":
            # The papers score an episode's queries as one batch, whose BatchNorm statistics then
            # mix the queries; the app classifies each query on its own. Both go in the manifest.
            each = evaluate(learner, test, way, DEFAULT_TASK.k_shot, DEFAULT_TASK.q_query, TEST_EPISODES, seed=TEST_SEED, each_query=True)
            accuracy[str(way)]["each_query"] = {"mean": round(100 * each.mean, 2), "ci95": round(100 * each.ci95, 2)}
            say(f"starter {recipe.key}: {way}-way 1-shot, each query on its own (as the app does): "
                f"{100 * each.mean:.2f} ± {100 * each.ci95:.2f}%")
    if recipe.lake_target is None:
        return accuracy, None
    from ..lake_runs import evaluate_lake_runs, read_lake_runs

    result = evaluate_lake_runs(learner, read_lake_runs(lake_runs_file(data)))
    say(f"starter {recipe.key}: {result.headline()} (target ≥ {recipe.lake_target})")
    lo, hi = result.ci95
    return accuracy, {"correct": result.correct, "total": result.total, "accuracy": round(100 * result.accuracy, 2),
                      "ci95": [round(100 * lo, 1), round(100 * hi, 1)], "runs": len(result.runs),
                      "protocol": "Lake et al.'s official one-shot runs, every test image classified on its own"}


def lake_label(lake: dict) -> str:
    """How the app and the CLI name a model's figure on Lake's runs: "Lake's 20 runs: 95.75% (383 / 400)"."""
    return f"Lake's {lake['runs']} runs: {lake['accuracy']:.2f}% ({lake['correct']} / {lake['total']})"


def problems(folder: str | Path | None = None) -> list[str]:
    """What is wrong with a starter folder: listed files missing or not matching their size and
    SHA-256, shipped files the manifest does not list, accuracy below the recipe's target."""
    folder = Path(folder or starter_dir())
    manifest = read_manifest(folder)
    found = []
    listed = set()
    for name, e in manifest.get("models", {}).items():
        path = folder / e["file"]
        listed.add(e["file"])
        if not path.is_file():
            found.append(f"{name}: {e['file']} is missing")
            continue
        if path.stat().st_size != e["bytes"] or sha256_of(path) != e["sha256"]:
            found.append(f"{name}: {e['file']} does not match its manifest entry (size or SHA-256)")
        recipe = RECIPES.get(name)
        for way, target in (recipe.targets if recipe else {}).items():
            got = (e.get("accuracy") or {}).get(str(way), {}).get("mean")
            if got is None or got < target:
                found.append(f"{name}: {way}-way accuracy {got} is below the target {target}")
        if recipe is not None and recipe.lake_target is not None:
            got = (e.get("lake") or {}).get("accuracy")
            if got is None or got < recipe.lake_target:
                found.append(f"{name}: Lake's runs {got} is below the target {recipe.lake_target}")
    for path in folder.glob("*.pt"):
        if path.name not in listed:
            found.append(f"{path.name} is not in the manifest")
    return found

