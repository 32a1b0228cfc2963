"""Lake, Salakhutdinov & Tenenbaum's one-shot classification test (Science 2015): the 20 official runs.

Each run is a 20-way 1-shot task within one of Omniglot's 20 evaluation alphabets: 20 training
images (one per character, one drawer) and 20 test images (the same characters, other drawers).
`runNN/class_labels.txt` pairs every test image with its training image, one pair a line:

    run01/test/item01.png run01/training/class08.png

The published error rates on these 400 test images: people 4.5%, Bayesian Program Learning 3.3%,
Koch et al.'s Siamese ConvNet 8.0%. A model may learn from the 30 background alphabets only.

Every test image is classified on its own against its run's 20 training images (`probabilities`
with `each_query`, the app's path): nothing is learned from the other test images, so the figure
is what a person drawing one query in the app gets.
"""
from __future__ import annotations

import math
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import torch

from .algorithms.base import MetaLearner
from .errors import ImageError, SourceError
from .inference import probabilities
from .sources.memory import prepare_images

LABELS_FILE = "class_labels.txt"
_RUN_LABELS = re.compile(r"(?:^|/)(run\d+)/" + re.escape(LABELS_FILE) + r"$")
# What the paper reports on these 400 test images (accuracy in percent), for the comparison line.
PUBLISHED = {"people": 95.5, "Bayesian Program Learning": 96.7, "Koch et al.'s Siamese ConvNet": 92.0}


@dataclass(frozen=True)
class LakeRun:
    name: str  # "run01"
    training: tuple[bytes, ...]  # the encoded training images; class i is training[i]
    test: tuple[bytes, ...]  # the encoded test images
    answers: tuple[int, ...]  # answers[j]: the class (index into training) of test[j]
    training_names: tuple[str, ...] = ()
    test_names: tuple[str, ...] = ()


@dataclass
class RunScore:
    name: str
    correct: int
    total: int
    wrong: list[tuple[str, str, str]] = field(default_factory=list)  # (test image, answered, right)

    @property
    def error(self) -> float:
        return 1.0 - self.correct / self.total if self.total else float("nan")

    def line(self) -> str:
        return f"{self.name}  {self.correct:>3} / {self.total:<3} error {100 * self.error:5.1f}%"


@dataclass
class LakeResult:
    runs: list[RunScore]

    @property
    def correct(self) -> int:
        return sum(r.correct for r in self.runs)

    @property
    def total(self) -> int:
        return sum(r.total for r in self.runs)

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else float("nan")

    @property
    def ci95(self) -> tuple[float, float]:
        return wilson_interval(self.correct, self.total)

    def headline(self) -> str:
        lo, hi = self.ci95
        return (f"Lake's {len(self.runs)} runs: {100 * self.accuracy:.2f}% ({self.correct} / {self.total}), "
                f"error {100 * (1 - self.accuracy):.2f}%; 95% CI {100 * lo:.1f}–{100 * hi:.1f}% (Wilson, over the test images)")



def wilson_interval(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion k / n: unlike the normal one it stays inside [0, 1]
    and is not empty at 400 / 400, which matters for accuracies near 100%."""
    if n == 0:
        return float("nan"), float("nan")
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


class _Files:
    """The runs' files, from the official zip or its unpacked folder, by their path in the archive."""

    def __init__(self, path: Path):
        self.path = path
        if path.is_dir():
            self.names = sorted(p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file())
            self._read = lambda name: (path / name).read_bytes()
        elif zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                self.names = sorted(i.filename for i in z.infolist() if not i.is_dir())
                blobs = {n: z.read(n) for n in self.names}
            self._read = blobs.__getitem__
        else:
            raise SourceError(f"{path}: not a zip file or a folder; expected Lake et al.'s all_runs.zip or its unpacked folder")
        self._known = set(self.names)

    def read(self, name: str, run: str) -> bytes:
        if name not in self._known:
            raise SourceError(f"{self.path}: {run}/{LABELS_FILE} names {name}, which is not in the runs")
        return self._read(name)


def read_lake_runs(path: str | Path) -> list[LakeRun]:
    """The runs in `path` (all_runs.zip or its unpacked folder), in name order. Raises SourceError
    naming the file and what is wrong when it is missing or malformed."""
    path = Path(path).expanduser()
    if not path.exists():
        raise SourceError(f"{path}: no such file or folder; expected Lake et al.'s all_runs.zip (omniglot/official/all_runs.zip) or its unpacked folder")
    files = _Files(path)
    label_files = [(m.group(1), n) for n in files.names if (m := _RUN_LABELS.search(n))]
    if not label_files:
        raise SourceError(f"{path}: no runNN/{LABELS_FILE} in it; expected the official one-shot runs (run01 … run20)")
    return [_read_run(files, run, labels_name) for run, labels_name in sorted(label_files)]


def _read_run(files: _Files, run: str, labels_name: str) -> LakeRun:
    # Paths in class_labels.txt are relative to the folder that holds runNN/.
    parent = str(PurePosixPath(labels_name).parent.parent)
    prefix = "" if parent == "." else parent + "/"
    try:
        text = files.read(labels_name, run).decode("utf-8")
    except UnicodeDecodeError:
        raise SourceError(f"{files.path}: {labels_name} is not text") from None
    pairs = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2:
            raise SourceError(f"{files.path}: {labels_name} line {number}: expected 'test image' 'training image', got {line.strip()!r}")
        pairs.append(parts)
    if not pairs:
        raise SourceError(f"{files.path}: {labels_name} pairs no test image with a training image")
    # The classes are the run's training images (runNN/training/*), whichever test images it pairs.
    training_dir = f"{prefix}{run}/training/"
    training_names = [n[len(prefix):] for n in files.names if n.startswith(training_dir)]
    if len(training_names) < 2:
        raise SourceError(f"{files.path}: {training_dir} holds {len(training_names)} image(s); a run needs at least two classes")
    index = {name: i for i, name in enumerate(training_names)}
    unknown = sorted({t for _, t in pairs} - set(index))
    if unknown:
        raise SourceError(f"{files.path}: {labels_name} names {unknown[0]}, which is not in the runs")
    return LakeRun(
        name=run,
        training=tuple(files.read(prefix + n, run) for n in training_names),
        test=tuple(files.read(prefix + q, run) for q, _ in pairs),
        answers=tuple(index[t] for _, t in pairs),
        training_names=tuple(training_names),
        test_names=tuple(q for q, _ in pairs),
    )


def _prepare(images: tuple[bytes, ...], names: tuple[str, ...], spec) -> torch.Tensor:
    prepared = []
    for blob, name in zip(images, names):
        try:
            prepared.append(prepare_images([blob], spec))
        except ImageError as exc:
            raise SourceError(f"{name}: {exc}") from None
    return torch.cat(prepared)


def evaluate_lake_runs(learner: MetaLearner, runs: list[LakeRun], on_run=None) -> LakeResult:
    """Score `learner` on the runs, every test image classified on its own against its run's
    training images, prepared with the learner's own InputSpec. `on_run(i, score)` after each run."""
    spec, scores = learner.spec, []
    for i, run in enumerate(runs):
        support = spec.to_model(_prepare(run.training, run.training_names, spec))
        queries = spec.to_model(_prepare(run.test, run.test_names, spec))
        labels = torch.arange(len(run.training))
        predicted = probabilities(learner, support, labels, queries, each_query=True).argmax(-1).tolist()
        wrong = [(run.test_names[j], run.training_names[p], run.training_names[a])
                 for j, (p, a) in enumerate(zip(predicted, run.answers)) if p != a]
        scores.append(RunScore(run.name, len(run.answers) - len(wrong), len(run.answers), wrong))
        if on_run is not None:
            on_run(i, scores[-1])
    return LakeResult(scores)
