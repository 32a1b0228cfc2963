"""Checkpoints: algorithm + hyperparameters + InputSpec + weights + optimizer + training state.

Written atomically (temp file in the same folder, fsync, rename), so a crash mid-save leaves the
previous checkpoint intact; read with `weights_only=True`, so opening a file runs no code.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from .algorithms import create, get_algorithm
from .algorithms.base import MetaLearner
from .errors import CheckpointError
from .inputspec import InputSpec
from .sources.base import atomic_torch_save

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
    path = Path(path)
    atomic_torch_save(checkpoint_dict(learner, trainer_state, extra), path)
    return path


def read_checkpoint(path: str | Path) -> dict:
    """The raw checkpoint dict, validated. Raises CheckpointError with a clear reason."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: empty file (0 bytes), not a checkpoint")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError, OSError, KeyError, AttributeError) as exc:
        with open(path, "rb") as fh:
            is_zip = fh.read(4) == b"PK\x03\x04"  # torch.save writes a zip archive
        reason = "truncated or damaged checkpoint" if is_zip else "not a Few-Shot Studio checkpoint"
        raise CheckpointError(f"{path}: {reason} ({exc.__class__.__name__}: {str(exc).splitlines()[0][:200]})") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a Few-Shot Studio checkpoint (it holds a {type(data).__name__} without our format marker)")
    if int(data.get("format_version", 0)) > FORMAT_VERSION:
        raise CheckpointError(f"{path}: written by a newer Few-Shot Studio (format {data['format_version']}); update to open it")
    try:
        get_algorithm(data["algorithm"])
    except (KeyError, ValueError) as exc:
        raise CheckpointError(f"{path}: {exc}") from exc
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


def load_checkpoint(path: str | Path, device: torch.device | str = "cpu") -> tuple[MetaLearner, dict]:
    """(learner on `device`, raw checkpoint dict)."""
    data = read_checkpoint(path)
    return learner_from_checkpoint(data, device), data
