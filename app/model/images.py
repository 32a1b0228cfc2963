"""Turning whatever a person drops, pastes or draws into PNG bytes (the app's one image currency).

The project stores every sample as PNG bytes: they go into the project file unchanged (so a
save/open round-trip is byte-identical), thumbnails are decoded from them, and workers hand them
to `core.prepare_image`, which does the model-side preparation exactly as for training data.
PIL is used here (not torch) so that loading images never needs the engine to be imported.
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

# Keep a big scan, refuse nothing that PIL can decode, and shrink it right away.
Image.MAX_IMAGE_PIXELS = 40_000 * 40_000
ImageFile.LOAD_TRUNCATED_IMAGES = False
MAX_SIDE = 512  # stored samples are downscaled to this; the model sees 28×28 anyway


class NamedPng(bytes):
    """PNG bytes that remember where they came from (a file's path, "drawing 3", "pasted"), so
    that a sample made from them can show it; everywhere else they are plain bytes."""

    def __new__(cls, data: bytes, name: str = ""):
        obj = super().__new__(cls, data)
        obj.name = name
        return obj


def next_drawing_name(samples) -> str:
    """"drawing N" with N one past the highest drawing number among `samples` (never reused)."""
    numbers = [int(s.name[8:]) for s in samples if s.name.startswith("drawing ") and s.name[8:].isdigit()]
    return f"drawing {max(numbers, default=0) + 1}"


class ImageLoadError(ValueError):
    """A file or buffer is not a usable image; the message names it and says why."""


def to_png(image: Image.Image) -> bytes:
    """Any PIL image -> PNG bytes in L, RGB or RGBA, at most MAX_SIDE pixels on a side."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        # 16-bit and float scans: scale by their own range into 8 bits (PIL's convert would clip).
        a = np.asarray(image, dtype=np.float64)
        hi = float(a.max()) if a.size else 1.0
        scale = 255.0 if hi <= 1.0 else 255.0 / (65535.0 if hi > 255 else 255.0)
        image = Image.fromarray(np.clip(a * scale, 0, 255).astype(np.uint8))
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode not in ("L", "RGB", "RGBA", "LA"):
        image = image.convert("RGBA" if "A" in image.mode or "transparency" in image.info else "RGB")
    if max(image.size) > MAX_SIDE:
        image = image.copy()
        image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()


def load_bytes(data: bytes, name: str = "image data") -> bytes:
    if not data:
        raise ImageLoadError(f"{name}: empty (0 bytes)")
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.draft("RGB", (MAX_SIDE * 2, MAX_SIDE * 2))  # JPEG: decode big photos at reduced scale
            img.load()
            return to_png(img)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageLoadError(f"{name}: not a readable image ({exc.__class__.__name__})") from exc


def load_file(path: str | Path) -> bytes:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImageLoadError(f"{path.name}: cannot be read ({exc.strerror or exc})") from exc
    return NamedPng(load_bytes(data, path.name), str(path.absolute()))


@dataclass
class Collected:
    """The result of reading a drop: groups of images (a class name or None) plus what was skipped."""
    groups: list[tuple[str | None, list[bytes]]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(len(g[1]) for g in self.groups)


def name_order(path: Path) -> tuple:
    """Sort key: by name as a person reads a listing, case aside and numbers by value, so "b"
    comes before "C" and "character2" before "character10" (as file managers list them)."""
    pieces = re.split(r"(\d+)", path.name.casefold())  # text, number, text, …: the same kind at each place
    return tuple(int(p) if k % 2 else p for k, p in enumerate(pieces)), path.name


def _images_in(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")), key=name_order)


def _load_many(files: list[Path], out: Collected) -> list[bytes]:
    pngs = []
    for f in files:
        try:
            pngs.append(load_file(f))
        except ImageLoadError as exc:
            out.skipped.append(str(exc))
    return pngs


def collect(paths: list[Path], folders_as_classes: bool) -> Collected:
    """Read dropped files and folders.

    With `folders_as_classes` (a drop on the support panel), a folder with sub-folders gives one
    class per sub-folder, a folder of images gives one class named after it, and loose files form
    one group (None: "the class it was dropped on"). Without it (a drop on one class or on the
    query panel) every image found is simply collected into one group.
    """
    out = Collected()
    loose: list[Path] = []
    paths = [Path(p) for p in paths]
    # A file manager hands over several dropped folders in the order they were clicked; they
    # become classes in name order, as a dropped folder's sub-folders do.
    folders = sorted((p for p in paths if p.is_dir()), key=name_order)
    for p in folders + [p for p in paths if not p.is_dir()]:
        if p.is_dir():
            subdirs = sorted((d for d in p.iterdir() if d.is_dir() and not d.name.startswith(".")), key=name_order)
            if folders_as_classes and subdirs:
                for d in subdirs:
                    pngs = _load_many(_images_in(d), out)
                    if pngs:
                        out.groups.append((d.name, pngs))
                    else:
                        out.skipped.append(f"{d.name}/: no readable images")
            else:
                files = _images_in(p) + [f for d in subdirs for f in _images_in(d)]
                pngs = _load_many(files, out)
                if pngs:
                    out.groups.append((p.name if folders_as_classes else None, pngs))
                else:
                    out.skipped.append(f"{p.name}/: no readable images")
        elif p.is_file():
            loose.append(p)
        else:
            out.skipped.append(f"{p.name}: not found")
    if loose:
        pngs = _load_many(loose, out)
        if pngs:
            out.groups.append((None, pngs))
    return out


def skipped_message(skipped: list[str], limit: int = 15) -> str:
    lines = skipped[:limit] + ([f"… and {len(skipped) - limit} more"] if len(skipped) > limit else [])
    return f"Skipped {len(skipped)} {'item' if len(skipped) == 1 else 'items'}:\n" + "\n".join(f"• {s}" for s in lines)
