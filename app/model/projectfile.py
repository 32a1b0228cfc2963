"""The .fsproj project file: a zip holding manifest.json, the images as PNG, and the checkpoint.

A comparison from the Compare view travels too: `comparison.json` (its config, curves and
results, as `compare.ComparisonRecord.to_dict()` writes them) and its trained models as checkpoints
under `comparison/<algorithm>.pt`, so a reopened project shows the comparison and can still
classify with every compared model.

Saving writes a temporary file next to the target, fsyncs it and renames it over the target, so a
crash mid-save never leaves a half-written project. Opening validates everything before anything
is handed back: a corrupt or foreign file raises ProjectFileError and the caller changes nothing.

Projects are shared between people, so opening one must be safe whatever it holds:
- every member is read through a bounded reader: a member whose recorded size is beyond what a
  project image, model or JSON file can be is refused before a byte of it is read, and no read
  goes past that bound even if the zip header lies about the size;
- every model (the project's and the comparison's) must match the SHA-256 recorded with it and
  pass the engine's checkpoint check; a bad one is left out and reported, the rest still opens.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from PIL import Image

import core

from .algorithm import AlgorithmChoice
from .compare import ComparisonRecord
from .library import ModelFileError, verify_model_bytes
from .project import ImageClass, Project, Sample
from .task import TaskSettings

FORMAT = "fewshot-studio-project"
VERSION = 1
SUFFIX = ".fsproj"
MODEL_NAME = "model.pt"
COMPARISON_NAME = "comparison.json"
SWEEP_NAME = "sweep.json"  # the Compare view's shot/way sweep (core.SweepResult.to_dict())
SWEEP_KIND = "fewshot-sweep"  # its marker (core.studies.sweeping; not imported: the engine loads on the job thread)


# What a member of a project can be, at most. Reading stops at these bounds, whatever the zip says.
# Images: the app stores every sample as a PNG of at most 512 pixels a side (`images.MAX_SIDE`):
# about 1 MiB even uncompressed RGBA, so 16 MiB is far beyond any image a project holds.
MAX_IMAGE_BYTES = 16 * 2**20
MAX_IMAGE_SIDE = 4096  # pixels: a small PNG can still declare a huge canvas (a decompression bomb)
# Models: the checkpoints written here are 0.1-3 MB (MANN's, the largest at default settings, is
# 2.6 MB; with its optimizer state about 8 MB). 512 MiB leaves room for networks widened many times
# over, and is still an amount any machine that runs torch can hold while it checks the model.
MAX_MODEL_BYTES = 512 * 2**20
MAX_JSON_BYTES = 64 * 2**20  # manifest.json and comparison.json (curves of long comparisons: a few MB)
MAX_PROJECT_BYTES = 2 * 2**30  # everything read from one project, a member listed twice counting twice
_CHUNK = 1 << 20


class ProjectFileError(ValueError):
    """The file is not a readable Few-Shot Studio project; the message says which file and why."""


class MemberTooLarge(ProjectFileError):
    """A member is (or claims to be) larger than anything of its kind in a project can be; the
    message says which and how large, the caller adds which file."""

    def __init__(self, what: str, name: str, reason: str):
        super().__init__(f"{what} {name} is {reason}")
        self.reason = reason


@dataclass
class LoadedProject:
    """What `load_project` hands back: the project, its model (verified) and what was left out."""

    project: Project
    model: bytes | None
    meta: dict[str, Any]
    refused: list[tuple[str, str]] = field(default_factory=list)  # (member, reason) for each model left out

    def refused_text(self, path: str | Path) -> str:
        """One short message for every model that was left out (empty when none was)."""
        if not self.refused:
            return ""
        if len(self.refused) == 1:
            member, reason = self.refused[0]
            return f"{Path(path).name}: {member} was not loaded: {reason}. The rest of the project opened."
        listed = "\n".join(f"• {member}: {reason}" for member, reason in self.refused)
        return f"{Path(path).name}: {len(self.refused)} models were not loaded:\n{listed}\nThe rest of the project opened."


def _mb(n: int) -> str:
    return f"{n / 2**20:,.0f} MB" if n >= 2**20 else f"{n / 1024:,.0f} KB"


class _BoundedReader:
    """Reads members of one open project zip, each at most `limit` bytes and all together at most
    MAX_PROJECT_BYTES, in chunks, so a crafted file never makes the app hold more than that."""

    def __init__(self, zf: zipfile.ZipFile, path: Path):
        self.zf, self.path, self.total = zf, path, 0

    def read(self, name: str, limit: int, what: str) -> bytes:
        info = self.zf.getinfo(name)  # KeyError: listed in the manifest but not in the zip
        if info.file_size > limit:
            raise MemberTooLarge(what, name, f"{_mb(info.file_size)} unpacked, more than a project's {what} can be ({_mb(limit)} at most)")
        if self.total + info.file_size > MAX_PROJECT_BYTES:
            raise ProjectFileError(f"{self.path}: more than {_mb(MAX_PROJECT_BYTES)} unpacked; a project is at most that")
        chunks, n = [], 0
        with self.zf.open(info) as fh:
            while chunk := fh.read(min(_CHUNK, limit + 1 - n)):
                n += len(chunk)
                if n > limit:  # the header understated the size: stop at the bound
                    raise MemberTooLarge(what, name, f"more than {_mb(limit)} unpacked, although its header records {_mb(info.file_size)}")
                chunks.append(chunk)
        self.total += n
        return b"".join(chunks)


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
        files[COMPARISON_NAME] = json.dumps(project.comparison.to_dict(), ensure_ascii=False).encode("utf-8")
        models, digests = {}, {}
        for name, data in project.comparison.models.items():
            models[name] = f"comparison/{_safe_name(name)}.pt"
            files[models[name]] = data
            digests[name] = hashlib.sha256(data).hexdigest()
        comparison = {"file": COMPARISON_NAME, "models": models, "sha256": digests}
    if project.sweep:
        files[SWEEP_NAME] = json.dumps(project.sweep, ensure_ascii=False).encode("utf-8")
    manifest = {
        "format": FORMAT, "version": VERSION,
        "classes": classes, "queries": queries, "query_sources": [s.name for s in project.queries],
        "algorithm": project.algorithm, "hparams": project.hparams, "settings": project.task.to_dict(),
        "model": MODEL_NAME if model_bytes else None,
        # The digest of the bytes written (opening checks it), whatever the library recorded.
        "model_meta": {**(model_meta or {}), "sha256": hashlib.sha256(model_bytes).hexdigest()} if model_bytes else {},
        "comparison": comparison,
        "sweep": SWEEP_NAME if project.sweep else None,
    }

    def write_zip(fh) -> None:
        # PNGs and checkpoints are already compressed: store them, deflate only the manifest.
        with zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED) as zf:
            zf.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False), zipfile.ZIP_DEFLATED)
            for name, data in files.items():
                # JSON compresses well; PNGs and checkpoints are stored as they are.
                zf.writestr(name, data, zipfile.ZIP_DEFLATED if name.endswith(".json") else zipfile.ZIP_STORED)
            if model_bytes:
                zf.writestr(MODEL_NAME, model_bytes)

    return core.atomic_write(path, write_zip)


def _safe_name(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name) or "model"


def _check_png(data: bytes, name: str, where: Path) -> bytes:
    try:
        with Image.open(io.BytesIO(data)) as img:
            size = img.size
            img.verify()
    except Exception as exc:  # any decoder complaint means the file is damaged
        raise ProjectFileError(f"{where}: image {name} inside the project is damaged ({exc.__class__.__name__})") from exc
    if max(size) > MAX_IMAGE_SIDE:
        raise ProjectFileError(f"{where}: image {name} inside the project is {size[0]}×{size[1]} pixels; "
                               f"a project image is at most {MAX_IMAGE_SIDE} pixels a side")
    return data


def _with_sources(members: list[str], sources: list | None) -> list[tuple[str, str]]:
    """Each image member with the name of what it was made from ("" in projects saved before
    samples had names, or for a list that does not match)."""
    if not isinstance(sources, list) or len(sources) != len(members):
        sources = [""] * len(members)
    return [(m, str(s or "")) for m, s in zip(members, sources)]


def _model(reader: _BoundedReader, member: str, sha256: str | None, check: Callable[[bytes, str, str | None], Any],
           refused: list[tuple[str, str]]) -> bytes | None:
    """A model member's bytes if it is whole and usable, else None with the reason in `refused`."""
    try:
        data = reader.read(member, MAX_MODEL_BYTES, "model")
        check(data, member, sha256)
    except KeyError:
        refused.append((member, "missing from the file"))
    except MemberTooLarge as exc:
        refused.append((member, exc.reason))
    except ModelFileError as exc:
        refused.append((member, str(exc).removeprefix(f"{member}: ")))
    else:
        return data
    return None


def load_project(path: str | Path, check_model: Callable[[bytes, str, str | None], Any] = verify_model_bytes) -> LoadedProject:
    """The project in `path`, its model and what was left out. Raises ProjectFileError.

    `check_model(bytes, member name, recorded sha256 or None)` raises ModelFileError for a model
    that must not be used (the default: the recorded checksum and the engine's checkpoint check;
    this imports the engine, so call it where torch may load: the app's job thread)."""
    path = Path(path)
    if not path.is_file():
        raise ProjectFileError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise ProjectFileError(f"{path}: empty file (0 bytes), not a Few-Shot Studio project")
    refused: list[tuple[str, str]] = []
    try:
        with zipfile.ZipFile(path) as zf:
            reader = _BoundedReader(zf, path)
            try:
                manifest = json.loads(reader.read("manifest.json", MAX_JSON_BYTES, "manifest").decode("utf-8"))
            except KeyError:
                raise ProjectFileError(f"{path}: a zip file, but not a Few-Shot Studio project (no manifest.json)") from None
            if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
                raise ProjectFileError(f"{path}: manifest.json is not a Few-Shot Studio project manifest")
            if int(manifest.get("version", 0)) > VERSION:
                raise ProjectFileError(f"{path}: made by a newer Few-Shot Studio (format {manifest['version']}); update to open it")

            def image(name: str, source: str) -> Sample:
                return Sample(_check_png(reader.read(name, MAX_IMAGE_BYTES, "image"), name, path), name=source)

            project = Project(n_classes=0)
            for entry in manifest["classes"]:
                project.classes.append(ImageClass(str(entry["name"]), [image(n, source) for n, source in _with_sources(entry["images"], entry.get("sources"))]))
            project.queries = [image(n, source) for n, source in _with_sources(manifest["queries"], manifest.get("query_sources"))]
            project.choice = AlgorithmChoice(str(manifest["algorithm"]), dict(manifest.get("hparams") or {}))
            try:  # older files hold fewer settings: the rest take their defaults
                project.task = TaskSettings.from_dict(manifest.get("settings"))
            except ValueError as exc:
                raise ProjectFileError(f"{path}: the task settings in manifest.json are damaged ({exc})") from exc
            meta = dict(manifest.get("model_meta") or {})
            model = None
            if manifest.get("model"):
                model = _model(reader, str(manifest["model"]), meta.get("sha256"), check_model, refused)
            comparison = manifest.get("comparison")
            if comparison:
                data = json.loads(reader.read(comparison["file"], MAX_JSON_BYTES, "comparison").decode("utf-8"))
                try:
                    record = ComparisonRecord.from_dict(data)
                except ValueError as exc:
                    raise ProjectFileError(f"{path}: the saved comparison inside the project is damaged ({exc})") from exc
                digests, models = dict(comparison.get("sha256") or {}), {}
                for name, member in dict(comparison.get("models") or {}).items():
                    got = _model(reader, str(member), digests.get(name), check_model, refused)
                    if got is not None:
                        models[str(name)] = got
                project.comparison = dataclasses.replace(record, models=models)
            if manifest.get("sweep"):
                data = json.loads(reader.read(str(manifest["sweep"]), MAX_JSON_BYTES, "sweep").decode("utf-8"))
                if not isinstance(data, dict) or data.get("kind") != SWEEP_KIND:
                    raise ProjectFileError(f"{path}: the saved sweep inside the project is damaged (no sweep marker)")
                project.sweep = data
    except MemberTooLarge as exc:
        raise ProjectFileError(f"{path}: {exc}") from exc
    except ProjectFileError:
        raise
    except zipfile.BadZipFile as exc:
        if "CRC" in str(exc):
            raise ProjectFileError(f"{path}: damaged project file (a member does not match its checksum)") from exc
        raise ProjectFileError(f"{path}: not a Few-Shot Studio project (not a zip archive, or truncated)") from exc
    except (KeyError, TypeError, ValueError, json.JSONDecodeError, UnicodeDecodeError, zipfile.LargeZipFile, OSError, EOFError) as exc:
        raise ProjectFileError(f"{path}: damaged project file ({exc.__class__.__name__}: {exc})") from exc
    if len(set(project.class_names())) != len(project.classes):
        raise ProjectFileError(f"{path}: damaged project file (duplicate class names)")
    project.path = str(path)
    return LoadedProject(project, model, meta, refused)
