"""Files: one way to write a file that must never be seen half-written (checkpoints, caches, comparisons,
the app's projects and model library), and which suffixes are images. No torch here: the app's GUI
thread uses it."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable

# The image files a source folder, a support folder or a drop is read from (by suffix).
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm"}


def atomic_write(path: str | Path, content: bytes | Callable[[BinaryIO], object]) -> Path:
    """Write `content` (bytes, or a function that writes into the open binary file) to `path`
    through a temp file in the same folder, fsync, then `os.replace`: a crash or an error midway
    leaves the previous file whole (or no file), and the temp file is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            if callable(content):
                content(fh)
            else:
                fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
