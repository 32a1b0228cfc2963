"""An image folder: one sub-folder per class, any common image format, grayscale or RGB."""
from __future__ import annotations

from pathlib import Path

import torch

from ..errors import SourceError
from ..inputspec import InputSpec
from .base import ClassSource, content_key, decode_files, load_cached, store_cached, warn_skipped


def image_folder(root: str | Path, spec: InputSpec = InputSpec(), min_per_class: int = 1) -> ClassSource:
    """Read `root/<class>/<image files>`; corrupt or non-image files are skipped with one warning.

    Raises SourceError (naming the path) for a missing or empty folder, a folder without class
    sub-folders, or a class left with fewer than `min_per_class` readable images.
    """
    root = Path(root).expanduser()
    if not root.exists():
        raise SourceError(f"{root}: no such folder; expected a folder with one sub-folder of images per class")
    if not root.is_dir():
        raise SourceError(f"{root}: is a file; expected a folder with one sub-folder of images per class")
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_dirs:
        what = "is empty" if not any(root.iterdir()) else "has no class sub-folders"
        raise SourceError(f"{root}: {what}; expected one sub-folder of images per class (e.g. {root}/cat/1.png)")
    files = [sorted(p for p in d.iterdir() if p.is_file() and not p.name.startswith(".")) for d in class_dirs]
    key = content_key("folder", (f for fs in files for f in fs), root, spec)
    cached = load_cached(key)
    if cached is None:
        images, counts, skipped = decode_files(files, spec)
        cached = {"images": images, "counts": torch.tensor(counts), "skipped": skipped}
        store_cached(key, cached)
    warn_skipped(cached.get("skipped", []))
    counts = cached["counts"].tolist()
    short = [f"{d} ({n})" for d, n in zip(class_dirs, counts) if n < min_per_class]
    if short:
        raise SourceError(f"every class needs at least {min_per_class} readable images; too few in: " + ", ".join(short[:5]))
    return ClassSource(cached["images"], counts, [d.name for d in class_dirs], spec, 1, f"image folder {root}")
