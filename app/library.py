"""The model library: meta-trained checkpoints kept in the user's data folder between launches.

One folder of `<id>.pt` checkpoints plus `index.json` describing them (name, algorithm, source,
N/K, validation accuracy, date), so the list shows without importing torch or reading weights.
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
    n_way: int = 5
    k_shot: int = 1
    val_accuracy: float | None = None
    steps: int = 0
    date: str = ""
    hparams: dict[str, Any] = field(default_factory=dict)
    sha256: str = ""
    stopped: bool = False  # the run was stopped (Stop, or kept when closing) before its steps or time ran out


def stopped_label(steps: int) -> str:
    return f"stopped at step {steps}"


def scores_at_least(a: ModelEntry, b: ModelEntry) -> bool:
    """Whether `a` validated at least as well as `b`; False when either has no figure (unknown)."""
    return a.val_accuracy is not None and b.val_accuracy is not None and a.val_accuracy >= b.val_accuracy


def replaces(new: ModelEntry, in_use: ModelEntry | None) -> bool:
    """Whether a run that just ended becomes the model in use: a finished run always (the person
    asked for it), a stopped one only when there is none yet or it validated at least as well — a
    run cut short never displaces a better model unasked."""
    return in_use is None or not new.stopped or scores_at_least(new, in_use)


class ModelLibrary:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._entries: dict[str, ModelEntry] = {}
        self._load()

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
        return self.root / f"{model_id}.pt"

    # -- queries ----------------------------------------------------------------------------
    def entries(self) -> list[ModelEntry]:
        return sorted(self._entries.values(), key=lambda e: e.date, reverse=True)

    def get(self, model_id: str) -> ModelEntry | None:
        return self._entries.get(model_id)

    def latest_for(self, algorithm: str) -> ModelEntry | None:
        """The model of an algorithm that Classify uses when the project names none (a new project,
        the next launch, switching algorithm): the one its runs left in use, by the rule applied as
        each run ended (`replaces`) — the newest finished run, unless a later stopped run validated
        at least as well. The person can still pick any model in the Models tab."""
        in_use = None
        for e in sorted(self._entries.values(), key=lambda e: e.date):  # oldest first; ties in the order added
            if e.algorithm == algorithm and replaces(e, in_use):
                in_use = e
        return in_use

    def find_by_path(self, path: str | Path | None) -> ModelEntry | None:
        if not path:
            return None
        p = Path(path)
        return self._entries.get(p.stem) if p.parent == self.root else None

    # -- changes ----------------------------------------------------------------------------
    def new_id(self, algorithm: str) -> str:
        return f"{algorithm}-{_dt.datetime.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"

    def add(self, model_id: str, **meta: Any) -> ModelEntry:
        """Register a checkpoint already written at `self.path(model_id)`."""
        meta.setdefault("date", _dt.datetime.now().isoformat(timespec="seconds"))
        name = f"{meta.get('title') or meta.get('algorithm')} {meta['date'][:16].replace('T', ' ')}"
        meta.setdefault("name", f"{name} ({stopped_label(meta.get('steps', 0))})" if meta.get("stopped") else name)
        path = self.path(model_id)
        meta["sha256"] = verify_model_bytes(path.read_bytes(), path.name)  # nothing unusable enters the list
        entry = ModelEntry(id=model_id, **meta)
        self._entries[model_id] = entry
        self._save()
        return entry

    def import_bytes(self, data: bytes, **meta: Any) -> ModelEntry:
        """Store a checkpoint that came from elsewhere (a project file); the same bytes twice give one entry.
        Damaged or foreign bytes (or bytes that do not match a `sha256` recorded with them) raise
        ModelFileError and leave the library as it was."""
        label = f"model “{meta.get('name') or meta.get('title') or meta.get('algorithm') or 'model'}”"
        digest = verify_model_bytes(data, label, meta.pop("sha256", None))
        for e in self._entries.values():
            if e.sha256 == digest:
                return e
        model_id = self.new_id(meta.get("algorithm", "model"))
        core.atomic_write(self.path(model_id), data)
        meta.pop("id", None)
        return self.add(model_id, **meta)

    def rename(self, model_id: str, name: str) -> None:
        self._entries[model_id].name = name.strip() or self._entries[model_id].name
        self._save()

    def delete(self, model_id: str) -> None:
        self._entries.pop(model_id, None)
        self.path(model_id).unlink(missing_ok=True)
        self._save()
