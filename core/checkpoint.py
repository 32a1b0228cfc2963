"""Checkpoints: algorithm + hyperparameters + InputSpec + weights + optimizer + training state.

Written atomically (temp file in the same folder, fsync, rename), so a crash mid-save leaves the
previous checkpoint intact; read with `weights_only=True`, so opening a file runs no code.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import io
import pickle
from pathlib import Path
from typing import Any

import torch

from .algorithms import create, get_algorithm
from .algorithms.base import MetaLearner
from .errors import CheckpointError
from .files import atomic_write
from .inputspec import InputSpec
from .stats import binned

FORMAT = "fewshot-studio-checkpoint"
FORMAT_VERSION = 1


def checkpoint_dict(learner: MetaLearner, trainer_state: dict | None = None, extra: dict | None = None) -> dict:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "algorithm": learner.name,
        "hparams": dataclasses.asdict(learner.hparams),
        "input_spec": learner.spec.to_dict(),
        "n_way": learner.n_way,
        "model": {k: v.detach().cpu() for k, v in learner.state_dict().items()},
        "optim": _to_cpu(learner.optim_state()),
        "trainer": trainer_state or {},
        "extra": extra or {},
        "saved_at": _dt.datetime.now().isoformat(timespec="seconds"),
    }


def _to_cpu(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj


def save_checkpoint(path: str | Path, learner: MetaLearner, trainer_state: dict | None = None, extra: dict | None = None) -> Path:
    ckpt = checkpoint_dict(learner, trainer_state, extra)
    return atomic_write(path, lambda fh: torch.save(ckpt, fh))


def read_checkpoint(path: str | Path) -> dict:
    """The raw checkpoint dict, validated. Raises CheckpointError with a clear reason."""
    path = Path(path)
    _check_file(path)
    with open(path, "rb") as fh:
        head = fh.read(4)
    return _load_checked(path, head, f"{path}: ", details=True)


def verify_checkpoint(source: bytes | str | Path) -> dict[str, Any]:
    """Check that `source` (checkpoint bytes, or a path) is a Few-Shot Studio checkpoint this
    version can use, before anything keeps or uses it: a torch zip archive that unpickles with
    `weights_only=True`, our format marker, a format version we know, a known algorithm, and
    weights, hyperparameters, input spec and N as they must be. No network is built, so it costs
    one read of the file (milliseconds for the few-MB models here).

    Returns {"algorithm", "n_way", "format_version"}; raises CheckpointError with a short reason
    (prefixed by the path for a path; the underlying error is the exception's __cause__)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        ckpt = _load_bytes(bytes(source), "")
    else:
        path = Path(source)
        _check_file(path)
        with open(path, "rb") as fh:
            head = fh.read(4)
        ckpt = _load_checked(path, head, f"{path}: ", details=False)
    return {"algorithm": ckpt["algorithm"], "n_way": int(ckpt["n_way"]), "format_version": int(ckpt.get("format_version", 0))}


def _load_bytes(data: bytes, prefix: str) -> dict:
    if not data:
        raise CheckpointError(f"{prefix}empty (0 bytes), not a checkpoint")
    return _load_checked(io.BytesIO(data), data[:4], prefix, details=False)


def _check_file(path: Path) -> None:
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: empty file (0 bytes), not a checkpoint")


def _load_checked(source: Path | io.BytesIO, head: bytes, prefix: str, details: bool) -> dict:
    """torch.load `source` safely and check what it holds; `details`: append the loader's own
    complaint to the reason (a log or a tooltip wants it; a one-line message does not)."""
    is_zip = head[:4] == b"PK\x03\x04"  # torch.save writes a zip archive
    try:
        if not is_zip:
            # Not even a zip: never hand random bytes to the legacy (non-zip) unpickler.
            raise pickle.UnpicklingError("not a zip archive")
        data = torch.load(source, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any complaint of the unpickler means a damaged or foreign file
        reason = "truncated or damaged checkpoint" if is_zip else "not a Few-Shot Studio checkpoint"
        if details:
            reason += f" ({exc.__class__.__name__}: {(str(exc).splitlines() or [''])[0][:200]})"
        raise CheckpointError(f"{prefix}{reason}") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{prefix}not a Few-Shot Studio checkpoint (it holds a {type(data).__name__} without our format marker)")
    try:
        version = int(data.get("format_version", 0))
    except (TypeError, ValueError):
        raise CheckpointError(f"{prefix}damaged checkpoint (format version {data.get('format_version')!r})") from None
    if version > FORMAT_VERSION:
        raise CheckpointError(f"{prefix}written by a newer Few-Shot Studio (format {version}); update to open it")
    try:
        get_algorithm(data["algorithm"])
    except (KeyError, ValueError, TypeError) as exc:
        reason = str(exc) if details else f"unknown algorithm {str(data.get('algorithm'))[:40]!r}"
        raise CheckpointError(f"{prefix}{reason}") from exc
    weights = data.get("model")
    if not isinstance(weights, dict) or not weights or not all(isinstance(v, torch.Tensor) for v in weights.values()):
        raise CheckpointError(f"{prefix}damaged checkpoint (no weights)")
    if not isinstance(data.get("hparams"), dict) or not isinstance(data.get("input_spec"), dict):
        raise CheckpointError(f"{prefix}damaged checkpoint (no hyperparameters or input spec)")
    try:
        n_way = int(data.get("n_way"))
    except (TypeError, ValueError):
        n_way = 0
    if n_way < 2:
        raise CheckpointError(f"{prefix}damaged checkpoint (N = {data.get('n_way')!r})")
    return data


def learner_from_checkpoint(data: dict, device: torch.device | str = "cpu", with_optimizer: bool = True) -> MetaLearner:
    cls = get_algorithm(data["algorithm"])
    known = {f.name for f in dataclasses.fields(cls.HParams)}
    hparams = {k: v for k, v in data["hparams"].items() if k in known}
    learner = create(data["algorithm"], hparams, InputSpec.from_dict(data["input_spec"]), int(data["n_way"]))
    try:
        learner.load_state_dict(data["model"])
    except RuntimeError as exc:
        raise CheckpointError(f"checkpoint weights do not fit {cls.title}: {str(exc).splitlines()[0]}") from exc
    learner.to(device)
    if with_optimizer and data.get("optim"):
        learner.load_optim_state(data["optim"])
    return learner


def save_ensemble(paths: list[str | Path], out: str | Path, settings: dict[str, Any] | None = None) -> MetaLearner:
    """Assemble the Prototypical Networks in checkpoints `paths` (trained apart) into one ensemble
    checkpoint `out`, with test-time `settings` (e.g. {"test_views": "4"}). Its training record
    is theirs added up (steps, time), the curves the first's, every member's record under
    "members". Raises CheckpointError with a reason; nothing is written then."""
    from .algorithms.protonet import ensemble_of

    raws = [read_checkpoint(path) for path in paths]
    for path, raw in zip(paths, raws):
        if raw["algorithm"] != "protonet":
            raise CheckpointError(f"{path}: holds {raw['algorithm']}; only Prototypical Networks are assembled into an ensemble")
    networks = [learner_from_checkpoint(raw, "cpu", with_optimizer=False) for raw in raws]
    try:
        ensemble = ensemble_of(networks, **_hparams(type(networks[0].hparams), settings or {}))
    except ValueError as exc:
        raise CheckpointError(f"cannot assemble {', '.join(map(str, paths))}: {exc}") from None
    records = [raw.get("trainer") or {} for raw in raws]

    def total(key: str) -> float:
        return sum(float(r.get(key, 0) or 0) for r in records)

    trainer = {**records[0], "step": int(total("step")), "episodes_seen": int(total("episodes_seen")),
               "train_s": total("train_s"), "elapsed_s": total("elapsed_s"), "history": _histories_in_turn(records),
               "members": [{"file": Path(p).name, **{k: r.get(k) for k in ("step", "train_s", "source", "config")}}
                           for p, r in zip(paths, records)]}
    save_checkpoint(out, ensemble, trainer)
    return ensemble


ENSEMBLE_CURVE_POINTS = 2000  # per member: a long record averaged into this many bins (the file loads in a third of the time)


def _histories_in_turn(records: list[dict]) -> dict[str, list]:
    """The members' training records one after the other, as if trained in turn (each one's steps
    and training seconds after the previous ones'), so an ensemble's curves span all its steps;
    each member's per-step loss and accuracy averaged into at most ENSEMBLE_CURVE_POINTS bins."""
    out: dict[str, list] = {}
    steps_before, seconds_before = 0, 0.0
    for record in records:
        history = binned(record.get("history") or {}, ENSEMBLE_CURVE_POINTS, means=("loss", "accuracy"), lasts=("step",))
        for key, values in history.items():
            shift = steps_before if key in ("step", "val_step") else seconds_before if key == "val_train_s" else None
            out.setdefault(key, []).extend(v + shift if shift is not None else v for v in values)
        steps_before += int(record.get("step", 0) or 0)
        seconds_before += float(record.get("train_s", 0) or 0)
    return out


def _hparams(cls: type, settings: dict[str, Any]) -> dict[str, Any]:
    """`settings` (text from a command line, or values) checked against `cls`'s fields."""
    from .algorithms import hparams_from_dict

    defaults = dataclasses.asdict(cls())
    merged = hparams_from_dict(cls, {**defaults, **settings})
    return {k: getattr(merged, k) for k in settings}


# -- models as bytes (a project file keeps its compared models this way) --------------------------

def learner_to_bytes(learner: MetaLearner, extra: dict | None = None) -> bytes:
    """A checkpoint of `learner` (the same format as `save_checkpoint`) as bytes."""
    buf = io.BytesIO()
    torch.save(checkpoint_dict(learner, extra=extra), buf)
    return buf.getvalue()


def learner_from_bytes(data: bytes, device: torch.device | str = "cpu", prefix: str = "") -> MetaLearner:
    """The learner in checkpoint bytes, after the same checks as `verify_checkpoint` (no optimizer
    state: it is for predicting). Raises CheckpointError, its reason after `prefix`."""
    return learner_from_checkpoint(_load_bytes(bytes(data), prefix), device, with_optimizer=False)


def load_checkpoint(path: str | Path, device: torch.device | str = "cpu") -> tuple[MetaLearner, dict]:
    """(learner on `device`, raw checkpoint dict)."""
    data = read_checkpoint(path)
    return learner_from_checkpoint(data, device), data


def checkpoint_summary(data: dict) -> dict[str, Any]:
    """What a model list shows of a checkpoint (`read_checkpoint`'s dict), from the record it
    keeps: algorithm, title, source, the N/K it was validated on, the last validation accuracy,
    steps, hyperparameters, and the ranks of a data-parallel (torchrun) run. A checkpoint the app
    wrote holds this as its `extra`; one from `fewshot train` (one process or torchrun) is read
    from its trainer state."""
    from .algorithms import get_algorithm

    trainer = data.get("trainer") or {}
    config = trainer.get("config") or {}
    history = trainer.get("history") or {}
    vals = history.get("val_accuracy") or []
    summary = {"algorithm": data["algorithm"], "title": get_algorithm(data["algorithm"]).title,
               "source": str(trainer.get("source") or ""), "n_way": int(config.get("n_way", data.get("n_way", 5))),
               "k_shot": int(config.get("k_shot", 1)), "val_accuracy": float(vals[-1]) if vals else None,
               "steps": int(trainer.get("step", 0)), "hparams": dict(data.get("hparams") or {})}
    dist = trainer.get("distributed")
    if dist:
        summary["ranks"] = int(dist.get("world_size", 1))
    extra = {k: v for k, v in (data.get("extra") or {}).items() if k in summary or k == "stopped"}
    return {**summary, **extra}
