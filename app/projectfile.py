"""The .fsproj project file: a zip holding manifest.json, the images as PNG, and the checkpoint.

A comparison from the Compare view travels too: `comparison.json` (its config, curves and
results, as `core.Comparison.to_dict()` writes them) and its trained models as checkpoints
under `comparison/<algorithm>.pt`, so a reopened project shows the comparison and can still
classify with every compared model.

Saving writes a temporary file next to the target, fsyncs it and renames it over the target, so a
crash mid-save never leaves a half-written project. Opening validates everything before anything
is handed back: a corrupt or foreign file raises ProjectFileError and the caller changes nothing.
"""
from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from PIL import Image

from .project import DEFAULT_SETTINGS, ImageClass, Project, Sample

FORMAT = "fewshot-studio-project"
VERSION = 1
SUFFIX = ".fsproj"
MODEL_NAME = "model.pt"
COMPARISON_NAME = "comparison.json"
COMPARISON_FORMAT = "fewshot-studio-comparison"  # core.compare.FORMAT (not imported: opening a project needs no torch)


class ProjectFileError(ValueError):
    """The file is not a readable Few-Shot Studio project; the message says which file and why."""


def save_project(project: Project, path: str | Path, model_bytes: bytes | None = None,
                 model_meta: dict[str, Any] | None = None) -> Path:
    path = Path(path)
    classes, queries = [], []
    files: dict[str, bytes] = {}
    for ci, c in enumerate(project.classes):
        names = []
        for si, s in enumerate(c.samples):
            name = f"support/{ci:03d}/{si:04d}.png"
            files[name] = s.png
            names.append(name)
        classes.append({"name": c.name, "images": names, "sources": [s.name for s in c.samples]})
    for qi, s in enumerate(project.queries):
        name = f"query/{qi:04d}.png"
        files[name] = s.png
        queries.append(name)
    comparison = None
    if project.comparison:
        files[COMPARISON_NAME] = json.dumps(project.comparison, ensure_ascii=False).encode("utf-8")
        models = {}
        for name, data in project.comparison_models.items():
            models[name] = f"comparison/{_safe_name(name)}.pt"
            files[models[name]] = data
        comparison = {"file": COMPARISON_NAME, "models": models}
    manifest = {
        "format": FORMAT, "version": VERSION,
        "classes": classes, "queries": queries, "query_sources": [s.name for s in project.queries],
        "algorithm": project.algorithm, "hparams": project.hparams, "settings": project.settings,
        "model": MODEL_NAME if model_bytes else None, "model_meta": model_meta or {},
        "comparison": comparison,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            # PNGs and checkpoints are already compressed: store them, deflate only the manifest.
            with zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED) as zf:
                zf.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False), zipfile.ZIP_DEFLATED)
                for name, data in files.items():
                    # JSON compresses well; PNGs and checkpoints are stored as they are.
                    zf.writestr(name, data, zipfile.ZIP_DEFLATED if name.endswith(".json") else zipfile.ZIP_STORED)
                if model_bytes:
                    zf.writestr(MODEL_NAME, model_bytes)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _safe_name(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name) or "model"


def _check_png(data: bytes, name: str, where: Path) -> bytes:
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.verify()
    except Exception as exc:  # any decoder complaint means the file is damaged
        raise ProjectFileError(f"{where}: image {name} inside the project is damaged ({exc.__class__.__name__})") from exc
    return data


def _with_sources(members: list[str], sources: list | None) -> list[tuple[str, str]]:
    """Each image member with the name of what it was made from ("" in projects saved before
    samples had names, or for a list that does not match)."""
    if not isinstance(sources, list) or len(sources) != len(members):
        sources = [""] * len(members)
    return [(m, str(s or "")) for m, s in zip(members, sources)]


def load_project(path: str | Path) -> tuple[Project, bytes | None, dict[str, Any]]:
    """(a new Project, checkpoint bytes or None, model metadata). Raises ProjectFileError."""
    path = Path(path)
    if not path.is_file():
        raise ProjectFileError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise ProjectFileError(f"{path}: empty file (0 bytes), not a Few-Shot Studio project")
    try:
        with zipfile.ZipFile(path) as zf:
            try:
                manifest = json.loads(zf.read("manifest.json").decode("utf-8"))
            except KeyError:
                raise ProjectFileError(f"{path}: a zip file, but not a Few-Shot Studio project (no manifest.json)") from None
            if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
                raise ProjectFileError(f"{path}: manifest.json is not a Few-Shot Studio project manifest")
            if int(manifest.get("version", 0)) > VERSION:
                raise ProjectFileError(f"{path}: made by a newer Few-Shot Studio (format {manifest['version']}); update to open it")
            project = Project(n_classes=0)
            for entry in manifest["classes"]:
                name = str(entry["name"])
                project.classes.append(ImageClass(name, [Sample(_check_png(zf.read(n), n, path), name=source)
                                                         for n, source in _with_sources(entry["images"], entry.get("sources"))]))
            project.queries = [Sample(_check_png(zf.read(n), n, path), name=source)
                               for n, source in _with_sources(manifest["queries"], manifest.get("query_sources"))]
            project.algorithm = str(manifest["algorithm"])
            project.hparams = dict(manifest.get("hparams") or {})
            project.settings = {**DEFAULT_SETTINGS, **dict(manifest.get("settings") or {})}
            model = zf.read(manifest["model"]) if manifest.get("model") else None
            meta = dict(manifest.get("model_meta") or {})
            comparison = manifest.get("comparison")
            if comparison:
                data = json.loads(zf.read(comparison["file"]).decode("utf-8"))
                if not isinstance(data, dict) or data.get("format") != COMPARISON_FORMAT:
                    raise ProjectFileError(f"{path}: the saved comparison inside the project is damaged (no comparison format marker)")
                project.comparison = data
                project.comparison_models = {str(name): zf.read(member) for name, member in dict(comparison.get("models") or {}).items()}
    except ProjectFileError:
        raise
    except zipfile.BadZipFile as exc:
        raise ProjectFileError(f"{path}: not a Few-Shot Studio project (not a zip archive, or truncated)") from exc
    except (KeyError, TypeError, ValueError, json.JSONDecodeError, UnicodeDecodeError, zipfile.LargeZipFile, OSError, EOFError) as exc:
        raise ProjectFileError(f"{path}: damaged project file ({exc.__class__.__name__}: {exc})") from exc
    if len(set(project.class_names())) != len(project.classes):
        raise ProjectFileError(f"{path}: damaged project file (duplicate class names)")
    project.path = str(path)
    return project, model, meta
