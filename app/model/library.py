"""The model library: meta-trained checkpoints kept in the user's data folder between launches.

One folder of `<id>.pt` checkpoints plus `index.json` describing them (name, algorithm, source,
N/K, validation accuracy, date), so the list shows without importing torch or reading weights.
Beside them, the starter models the app ships (`core.tools.starter`, `resources/starter/`): listed and
used like the others (an algorithm with no model of the person's own classifies with its starter
model), checked against their manifest's SHA-256, never deleted — hidden instead, and shown again
on request.
No widgets: the main window's list and the tests both use this class.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import core
from core.tasks import DEFAULT_TASK


class ModelFileError(ValueError):
    """A checkpoint is damaged or not one this version can use; the message names it and says why."""


_verified: set[str] = set()  # SHA-256 of checkpoint bytes the engine has checked in this process


def verify_model_bytes(data: bytes, where: str, sha256: str | None = None) -> str:
    """Check checkpoint bytes before anything keeps or uses them: against the SHA-256 recorded
    for them (when there is one), then with the engine's own check (`core.verify_checkpoint`).
    Returns their SHA-256; raises ModelFileError("<where>: <short reason>").

    The engine's verdict is remembered by digest, so bytes checked once (e.g. on the job thread
    while a project loads) cost only a hash when they reach the library on the GUI thread."""
    digest = hashlib.sha256(data).hexdigest()
    if sha256 and digest != sha256.lower():
        raise ModelFileError(f"{where}: damaged or altered (its contents do not match the checksum recorded with it)")
    if digest not in _verified:
        import core

        try:
            core.verify_checkpoint(data)
        except core.CheckpointError as exc:
            raise ModelFileError(f"{where}: {exc}") from exc
        _verified.add(digest)
    return digest


@dataclass
class ModelEntry:
    id: str
    name: str
    algorithm: str
    title: str = ""
    source: str = ""
    n_way: int = DEFAULT_TASK.n_way
    k_shot: int = DEFAULT_TASK.k_shot
    val_accuracy: float | None = None
    steps: int = 0
    date: str = ""
    hparams: dict[str, Any] = field(default_factory=dict)
    sha256: str = ""
    stopped: bool = False  # the run was stopped (Stop, or kept when closing) before its steps or time ran out
    starter: bool = False  # shipped with the app (its val_accuracy is its test accuracy on the 600 fixed episodes)
    measure: str = ""  # what val_accuracy measured, in a few words ("Lake's 20 runs (383 / 400)", "5-way 1-shot · built-in characters · 40 episodes"); "" = validation at n_way/k_shot
    role: str = ""  # a starter's role: "handwriting" = the model for drawn characters when its algorithm is picked


def measure_words(n_way: int, k_shot: int, data: str = "", episodes: int = 0) -> str:
    """What a figure measured, in a few words: "5-way 1-shot · built-in characters · 40 episodes"
    (the data and the episodes only where known)."""
    parts = [f"{n_way}-way {k_shot}-shot", data, f"{episodes} episode{'s' if episodes != 1 else ''}" if episodes else ""]
    return " · ".join(p for p in parts if p)


def validation_figure(accuracy: float) -> str:
    """A validation figure as every place shows it ("val. 87.3%"), its measure after it."""
    return f"val. {accuracy:.1%}"


def accuracy_figure(e: ModelEntry) -> str:
    """The model's figure alone, as every place shows it ("–" when it has none). A person's own
    model's figure is its validation ("val."); a starter's is its test, whose measure says so."""
    if e.val_accuracy is None:
        return "–"
    if e.measure.startswith("Lake's"):
        return f"{e.val_accuracy:.2%}"  # 387 / 400: two decimals say it exactly
    return f"{e.val_accuracy:.1%}" if e.starter else validation_figure(e.val_accuracy)


def accuracy_text(e: ModelEntry) -> str:
    """The model's figure with what it measured, as the status bar, the training panel and the
    Models tab's tooltip say it. A model recorded without a measure (imported, or kept before
    figures named theirs) says the ways and shots it was validated at: all its record holds."""
    if e.val_accuracy is None:
        return "no accuracy figure"
    if e.measure.startswith("Lake's"):
        runs, _, rest = e.measure.partition(" (")
        return f"{runs}: {accuracy_figure(e)} ({rest.split(')')[0]})"
    return f"{accuracy_figure(e)} · {measure_of(e)}"


def stopped_label(steps: int) -> str:
    return f"stopped at step {steps}"


def measure_of(e: ModelEntry) -> str:
    """What the entry's figure measured, in the words every place shows."""
    return e.measure or measure_words(e.n_way, e.k_shot)


def comparable(a: ModelEntry, b: ModelEntry) -> bool:
    """Whether two models' figures measure the same thing: the same ways, shots and data (a
    starter's test on Omniglot and a run's validation on the built-in characters do not). The
    number of episodes only sets a figure's precision (a stopped run's quick validation has
    fewer), so it does not count."""
    def what(e: ModelEntry) -> list[str]:
        return [part for part in measure_of(e).split(" · ") if not part.endswith(("episode", "episodes"))]

    return a.val_accuracy is not None and b.val_accuracy is not None and what(a) == what(b)


def scores_at_least(a: ModelEntry, b: ModelEntry) -> bool:
    """Whether `a` validated at least as well as `b`; False when either has no figure or the two
    figures measured different things (unknown, either way)."""
    return comparable(a, b) and a.val_accuracy >= b.val_accuracy


def replaces(new: ModelEntry, in_use: ModelEntry | None) -> bool:
    """Whether a run that just ended becomes the model in use: a finished run always (the person
    asked for it), a stopped one only when there is none yet or it validated at least as well — a
    run cut short never displaces a better model unasked."""
    return in_use is None or not new.stopped or scores_at_least(new, in_use)


def starter_figure(e: dict[str, Any]) -> tuple[float, str]:
    """(accuracy in [0, 1], what it measured) of a starter manifest entry: Lake's 20 runs for a
    model trained by Lake's protocol (the test it was made for), else 5-way 1-shot on the test split."""
    if e.get("lake"):
        lake = e["lake"]
        return float(lake["accuracy"]) / 100.0, (f"Lake's {lake['runs']} runs ({lake['correct']} / {lake['total']}): "
                                                 "20-way 1-shot within an alphabet, drawers it never saw")
    test = e["accuracy"]["5"]
    split = "Omniglot test" if e.get("test_split", "test") == "test" else f"Omniglot {e['test_split']} alphabets"
    return float(test["mean"]) / 100.0, f"5-way 1-shot · {split} · {test.get('episodes', 600)} episodes"


STARTER_PREFIX = "starter-"
DEFAULT_STARTERS = "package"  # ModelLibrary(starter_folder=...): the starter models shipped in the package


class ModelLibrary:
    def __init__(self, root: str | Path, starter_folder: str | Path | None = DEFAULT_STARTERS):
        """`starter_folder`: where the starter models are (default: the package's own; None: none)."""
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._entries: dict[str, ModelEntry] = {}
        self._starters: dict[str, ModelEntry] = {}
        self._starter_paths: dict[str, Path] = {}
        self._hidden: set[str] = set()
        self._load()
        self._load_starters(core.starter_dir() if starter_folder == DEFAULT_STARTERS else starter_folder)

    def _load_starters(self, folder: str | Path | None) -> None:
        if folder is None:
            return
        folder = Path(folder)
        try:
            manifest = core.read_manifest(folder)
        except core.FewShotError:
            return  # an unreadable manifest: no starter models, the app works as before
        for algorithm, e in manifest.get("models", {}).items():
            path = folder / str(e.get("file", ""))
            try:  # a starter file that does not match its manifest is left out, like any damaged model
                if path.stat().st_size != e["bytes"] or hashlib.sha256(path.read_bytes()).hexdigest() != e["sha256"]:
                    continue
                acc, measure = starter_figure(e)
            except (OSError, KeyError, TypeError, ValueError):
                continue
            model_id = f"{STARTER_PREFIX}{algorithm}"  # the manifest's key: the algorithm, or a named recipe's name
            role = str(e.get("role", ""))
            kind = f"{role} model" if role else "starter model"
            self._starters[model_id] = ModelEntry(
                id=model_id, name=f"{e.get('title') or algorithm} — {kind}", algorithm=str(e.get("algorithm") or algorithm),
                title=e.get("title", ""), source="Omniglot (shipped with the app)", n_way=DEFAULT_TASK.n_way if not e.get("lake") else 20, k_shot=DEFAULT_TASK.k_shot,  # Lake's runs are 20-way 1-shot
               
                val_accuracy=acc, steps=int(e.get("steps", 0)), date=str(e.get("built", "")), hparams=dict(e.get("settings") or {}),
                sha256=e["sha256"], starter=True, measure=measure, role=role)
            self._starter_paths[model_id] = path
        try:
            hidden = json.loads(self._hidden_path().read_text("utf-8"))
            self._hidden = {h for h in hidden if isinstance(h, str)} if isinstance(hidden, list) else set()
        except (OSError, ValueError):
            self._hidden = set()

    def _hidden_path(self) -> Path:
        return self.root / "hidden_starters.json"

    def _save_hidden(self) -> None:
        core.atomic_write(self._hidden_path(), json.dumps(sorted(self._hidden)).encode())

    # -- storage ----------------------------------------------------------------------------
    def _index_path(self) -> Path:
        return self.root / "index.json"

    def _load(self) -> None:
        try:
            raw = json.loads(self._index_path().read_text("utf-8"))
        except (OSError, ValueError):
            raw = {}  # no index yet, or a damaged one: start over (the checkpoints stay on disk)
        known = set(ModelEntry.__dataclass_fields__)
        for key, value in raw.items() if isinstance(raw, dict) else ():
            try:
                entry = ModelEntry(**{k: v for k, v in value.items() if k in known})
            except TypeError:
                continue
            if self.path(entry.id).is_file():  # a checkpoint deleted by hand drops out of the list
                self._entries[key] = entry

    def _save(self) -> None:
        data = {k: asdict(v) for k, v in self._entries.items()}
        core.atomic_write(self._index_path(), json.dumps(data, indent=2).encode())

    def path(self, model_id: str) -> Path:
        return self._starter_paths.get(model_id) or self.root / f"{model_id}.pt"

    # -- queries ----------------------------------------------------------------------------
    def entries(self) -> list[ModelEntry]:
        """The person's models, newest first, then the starter models not hidden."""
        own = sorted(self._entries.values(), key=lambda e: e.date, reverse=True)
        return own + [e for k, e in self._starters.items() if k not in self._hidden]

    def get(self, model_id: str) -> ModelEntry | None:
        return self._entries.get(model_id) or self._starters.get(model_id)

    def starter_files(self) -> dict[str, str]:
        """{algorithm: checkpoint} of every algorithm's own starter model that matches its manifest,
        hidden or not (what Compare can test without training: all of them trained on the same
        split). A model with a role (the handwriting model, trained on Lake's background alphabets)
        is not among them: Compare's test characters include some it learned from."""
        return {e.algorithm: str(self._starter_paths[k]) for k, e in self._starters.items() if not e.role}

    def hidden_starters(self) -> list[ModelEntry]:
        return [e for k, e in self._starters.items() if k in self._hidden]

    def latest_for(self, algorithm: str) -> ModelEntry | None:
        """The model of an algorithm that Classify uses when the project names none (a new project,
        the next launch, switching algorithm): the one its runs left in use, by the rule applied as
        each run ended (`replaces`) — the newest finished run, unless a later stopped run validated
        at least as well. The person can still pick any model in the Models tab."""
        in_use = None
        for e in sorted(self._entries.values(), key=lambda e: e.date):  # oldest first; ties in the order added
            if e.algorithm == algorithm and replaces(e, in_use):
                in_use = e
        if in_use is None:  # none of the person's own: the handwriting model, else the starter model, unless hidden
            shown = [e for k, e in self._starters.items() if k not in self._hidden and e.algorithm == algorithm]
            in_use = next((e for e in shown if e.role == "handwriting"), None) or next((e for e in shown if not e.role), None)
        return in_use

    def find_by_path(self, path: str | Path | None) -> ModelEntry | None:
        if not path:
            return None
        p = Path(path)
        if p.parent == self.root:
            return self._entries.get(p.stem)
        return next((self._starters[k] for k, sp in self._starter_paths.items() if sp == p), None)

    # -- changes ----------------------------------------------------------------------------
    def new_id(self, algorithm: str) -> str:
        return f"{algorithm}-{_dt.datetime.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"

    def add(self, model_id: str, **meta: Any) -> ModelEntry:
        """Register a checkpoint already written at `self.path(model_id)`."""
        meta.setdefault("date", _dt.datetime.now().isoformat(timespec="seconds"))
        if "name" not in meta:
            meta["name"] = self._unused_name(f"{meta.get('title') or meta.get('algorithm')} {meta['date'][:16].replace('T', ' ')}",
                                             f" ({stopped_label(meta.get('steps', 0))})" if meta.get("stopped") else "")
        path = self.path(model_id)
        meta["sha256"] = verify_model_bytes(path.read_bytes(), path.name)  # nothing unusable enters the list
        entry = ModelEntry(id=model_id, **meta)
        self._entries[model_id] = entry
        self._save()
        return entry

    def _unused_name(self, stem: str, suffix: str) -> str:
        """`stem + suffix`, with a counter after the stem when a model already has that name: two
        runs ended in the same minute are told apart ("… 15:08 (2) (stopped at step 43)")."""
        taken = {e.name for e in self._entries.values()}
        name, n = f"{stem}{suffix}", 1
        while name in taken:
            n += 1
            name = f"{stem} ({n}){suffix}"
        return name

    def import_bytes(self, data: bytes, **meta: Any) -> ModelEntry:
        """Store a checkpoint that came from elsewhere (a project file); the same bytes twice give one entry.
        Damaged or foreign bytes (or bytes that do not match a `sha256` recorded with them) raise
        ModelFileError and leave the library as it was."""
        label = f"model “{meta.get('name') or meta.get('title') or meta.get('algorithm') or 'model'}”"
        digest = verify_model_bytes(data, label, meta.pop("sha256", None))
        for e in [*self._entries.values(), *self._starters.values()]:
            if e.sha256 == digest:
                return e
        model_id = self.new_id(meta.get("algorithm", "model"))
        core.atomic_write(self.path(model_id), data)
        meta.pop("id", None)
        return self.add(model_id, **meta)

    def rename(self, model_id: str, name: str) -> None:
        if model_id not in self._entries:
            return  # a starter model keeps its name
        self._entries[model_id].name = name.strip() or self._entries[model_id].name
        self._save()

    def hide(self, model_id: str) -> None:
        """Take a starter model out of the list and out of use (its file ships with the app)."""
        if model_id in self._starters:
            self._hidden.add(model_id)
            self._save_hidden()

    def show_starters(self) -> None:
        self._hidden.clear()
        self._save_hidden()

    def delete(self, model_id: str) -> None:
        if model_id in self._starters:
            raise ValueError("a starter model ships with the app: hide it instead")
        self._entries.pop(model_id, None)
        self.path(model_id).unlink(missing_ok=True)
        self._save()
