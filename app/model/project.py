"""The project model: classes of support images, query images, the algorithm choice, the task
settings, the model in use, the last comparison and sweep, and what the model in use answered for
each query (`predictions`). Pure Python: no Qt (an import-linter contract).

Views call the mutators (through the undo `Editor`) and redraw on the signals; the file format
(`projectfile`) and the autosave read the same object. Samples are PNG bytes with a stable id, so
a view can cache thumbnails per sample and the predictions are kept by it. Signals are `events.Signal`:
emitted and delivered on the GUI thread only (see events.py).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from core.tasks import DEFAULT_TASK  # torch-free

from .algorithm import AlgorithmChoice
from .compare import ComparisonRecord
from .events import Signal
from .predictions import Predictions
from .task import TaskSettings

_ids = itertools.count(1)


@dataclass
class Sample:
    png: bytes
    id: int = field(default_factory=lambda: next(_ids))
    name: str = ""  # where it came from: a file's path, "drawing 3", "pasted" ("" in older projects)

    def __post_init__(self) -> None:
        # images.NamedPng carries its name from the file, the clipboard or the canvas to here.
        if type(self.png) is not bytes:
            self.name = self.name or getattr(self.png, "name", "")
            self.png = bytes(self.png)


@dataclass
class ImageClass:
    name: str
    samples: list[Sample] = field(default_factory=list)


# Where a sample sits: (class index, or None for the queries; position in that list; the sample).
Placement = tuple[int | None, int, Sample]


class Project:
    def __init__(self, n_classes: int = DEFAULT_TASK.n_way):  # a new project: one class per way of the default task
        self.classesChanged = Signal()  # a class was added, removed or renamed, or samples changed
        self.queriesChanged = Signal()
        self.configChanged = Signal()  # algorithm choice, task settings, model or comparison
        self.changed = Signal()  # any of the above: drives autosave and the title's "modified" mark
        self.classes: list[ImageClass] = [ImageClass(self._letter(i)) for i in range(n_classes)]
        self.queries: list[Sample] = []
        self.choice = AlgorithmChoice()
        self.task = TaskSettings()  # the one copy of N, K, Q, steps, …: the Task tab shows this
        self.model_file: str | None = None  # the checkpoint this project classifies with
        self.comparison: ComparisonRecord | None = None  # the Compare view's last comparison, with its trained models
        self.sweep: dict[str, Any] | None = None  # the Compare view's last shot/way sweep (core.SweepResult.to_dict())
        self.predictions = Predictions()  # the model in use's answers for the queries (not saved)
        self.path: str | None = None  # where it was last saved/opened
        self.dirty = False
        for sig in (self.classesChanged, self.queriesChanged, self.configChanged):
            sig.connect(self._touch)
        self.classesChanged.connect(self.predictions.clear)  # answers about another support set are stale

    def _touch(self) -> None:
        self.dirty = True
        self.changed.emit()

    @staticmethod
    def _letter(i: int) -> str:
        return chr(ord("A") + i) if i < 26 else f"Class {i + 1}"

    # -- classes ----------------------------------------------------------------------------
    def class_names(self) -> list[str]:
        return [c.name for c in self.classes]

    def unique_name(self, base: str) -> str:
        names = set(self.class_names())
        if base not in names:
            return base
        for n in itertools.count(2):
            if f"{base} {n}" not in names:
                return f"{base} {n}"
        raise AssertionError

    def add_class(self, name: str | None = None, pngs: list[bytes] = ()) -> int:
        if name is None:
            i = len(self.classes)
            while self._letter(i) in self.class_names():
                i += 1
            name = self._letter(i)
        self.classes.append(ImageClass(self.unique_name(name.strip() or "Class"), [Sample(p) for p in pngs]))
        self.classesChanged.emit()
        return len(self.classes) - 1

    def remove_class(self, index: int) -> None:
        del self.classes[index]
        self.classesChanged.emit()

    def insert_class(self, index: int, cls: ImageClass) -> None:
        """Put back a class object as it was (its samples keep their ids): undo of a removal."""
        self.classes.insert(index, cls)
        self.classesChanged.emit()

    def name_problem(self, index: int, name: str) -> str | None:
        """Why `name` cannot be class `index`'s name (empty or taken), or None."""
        name = name.strip()
        if not name:
            return "A class name cannot be empty."
        if name != self.classes[index].name and name in self.class_names():
            return f"There is already a class named “{name}”."
        return None

    def rename_class(self, index: int, name: str) -> str | None:
        """Rename; returns an error message (and changes nothing) for an empty or duplicate name."""
        error = self.name_problem(index, name)
        if error:
            return error
        name = name.strip()
        if name != self.classes[index].name:
            self.classes[index].name = name
            self.classesChanged.emit()
        return None

    def add_samples(self, index: int, pngs: list[bytes]) -> list[Sample]:
        new = [Sample(p) for p in pngs]
        self.classes[index].samples.extend(new)
        if new:
            self.classesChanged.emit()
        return new

    def remove_sample(self, sample_id: int) -> bool:
        return bool(self.remove_samples([sample_id]))

    def remove_samples(self, sample_ids: list[int]) -> list[Placement]:
        """Remove support samples and queries by id; returns where each was, for `restore_samples`."""
        wanted = set(sample_ids)
        removed: list[Placement] = []
        for where, items in self._sample_lists():
            removed += [(where, i, s) for i, s in enumerate(items) if s.id in wanted]
            items[:] = [s for s in items if s.id not in wanted]
        self._emit_for(removed)
        return removed

    def restore_samples(self, placements: list[Placement]) -> None:
        """Put samples back where `remove_samples` found them (same objects, so the same ids)."""
        for where, i, s in sorted(placements, key=lambda p: p[1]):
            (self.queries if where is None else self.classes[where].samples).insert(i, s)
        self._emit_for(placements)

    def _sample_lists(self):
        return [(ci, c.samples) for ci, c in enumerate(self.classes)] + [(None, self.queries)]

    def _emit_for(self, placements: list[Placement]) -> None:
        if any(where is not None for where, _, _ in placements):
            self.classesChanged.emit()
        if any(where is None for where, _, _ in placements):
            self.queriesChanged.emit()

    # -- queries ----------------------------------------------------------------------------
    def add_queries(self, pngs: list[bytes]) -> list[Sample]:
        new = [Sample(p) for p in pngs]
        self.queries.extend(new)
        if new:
            self.queriesChanged.emit()
        return new

    def clear_queries(self) -> None:
        if self.queries:
            self.queries.clear()
            self.queriesChanged.emit()

    # -- configuration ----------------------------------------------------------------------
    @property
    def algorithm(self) -> str:
        return self.choice.name

    @property
    def hparams(self) -> dict[str, Any]:
        """A copy of the hyperparameters changed from the paper's defaults."""
        return dict(self.choice.hparams)

    def set_algorithm(self, name: str, hparams: dict[str, Any]) -> None:
        self.set_choice(AlgorithmChoice(name, hparams))

    def set_choice(self, choice: AlgorithmChoice) -> None:
        if choice != self.choice:
            self.choice = choice
            self.configChanged.emit()

    def set_task(self, task: TaskSettings) -> None:
        if task != self.task:
            self.task = task
            self.configChanged.emit()

    def update_task(self, **changes: Any) -> None:
        """Change some task settings (`n_way=3`); raises ValueError for a bad value, changing nothing."""
        self.set_task(self.task.replace(**changes))

    def set_model_file(self, path: str | None) -> None:
        if path != self.model_file:
            self.model_file = path
            self.configChanged.emit()

    # -- the Compare view's records --------------------------------------------------------------
    # A comparison or a sweep that finished (or was stopped) is what a run produced, not an edit
    # the person made: it replaces the last one directly, with no undo step (undoing it would throw
    # away minutes of computing, and its trained models, for good). A comparison opened from a JSON
    # export takes its place the same way, as opening a project does. Either still marks the project
    # modified, so it is saved and autosaved like an edit.
    def set_comparison(self, record: ComparisonRecord | None) -> None:
        self.comparison = record
        self.configChanged.emit()

    def set_sweep(self, data: dict[str, Any] | None) -> None:
        """The last shot/way sweep (`core.SweepResult.to_dict()`), or None."""
        self.sweep = data
        self.configChanged.emit()

    # -- task validity ----------------------------------------------------------------------
    def validity(self) -> tuple[bool, str]:
        """(is a valid N-way K-shot task, a short human explanation)."""
        n = len(self.classes)
        if n < 2:
            return False, f"needs at least 2 classes (has {n})"
        empty = [c.name for c in self.classes if not c.samples]
        if empty:
            listed = ", ".join(f"“{e}”" for e in empty[:3]) + (" …" if len(empty) > 3 else "")
            return False, f"{len(empty)} class{'es' if len(empty) > 1 else ''} without samples: {listed}"
        shots = [len(c.samples) for c in self.classes]
        k, most = min(shots), max(shots)
        if k == most:
            return True, f"Ready: {n}-way {k}-shot task"
        # Classification adapts on every support image (jobs.classify), so an uneven set is
        # not cut down to k per class: say so rather than call it a k-shot task.
        return True, f"Ready: {n}-way task, {k}–{most} examples per class (all are used)"

    def replace_with(self, other: "Project") -> None:
        """Take over another project's content (used by Open and Restore): one signal burst."""
        self.classes, self.queries = other.classes, other.queries
        self.choice, self.task = other.choice, other.task
        self.model_file, self.path = other.model_file, other.path
        self.comparison = other.comparison
        self.sweep = other.sweep
        self.classesChanged.emit()
        self.queriesChanged.emit()
        self.configChanged.emit()
        self.dirty = False
