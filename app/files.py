"""The app's one way to write a file that must never be seen half-written (the library's models and
index, project files).

It is the app's own twin of `core.files.atomic_write` on purpose: the app's modules stay free of
torch at import (the engine loads on a worker thread so the window opens at once), and importing
anything from `core` imports torch."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable


def atomic_write(path: str | Path, content: bytes | Callable[[BinaryIO], object]) -> Path:
    """Write `content` (bytes, or a function that writes into the open binary file) to `path`
    through a temp file in the same folder, fsync, then `os.replace`: an error midway leaves the
    previous file whole (or no file), and the temp file is removed."""
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
