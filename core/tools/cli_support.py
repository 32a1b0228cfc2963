"""What the command line's commands share: opening a source, reading list and size arguments,
a progress bar, and writing result files with one clear error."""
from __future__ import annotations

import argparse
import sys
import time

from ..errors import FewShotError


def make_source(kind: str, data: str | None, split: str, spec=None, size: tuple[int, int] | None = None):
    """A ClassSource from the source catalogue (`core.sources.catalogue`: the same splits as the app
    and the tests), with the command line's own words for a missing --data."""
    from ..sources import open_source

    if kind in ("omniglot", "folder") and not data:
        what = "a folder in torchvision's Omniglot layout" if kind == "omniglot" else "one sub-folder of images per class"
        raise FewShotError(f"--source {kind} needs --data PATH ({what})")
    return open_source(kind, split, data, spec=spec, size=size)


def image_size(text: str) -> tuple[int, int]:
    """--size 105 or 84x84 → (height, width)."""
    try:
        parts = [int(v) for v in text.lower().replace("×", "x").split("x")]
    except ValueError:
        parts = []
    if len(parts) == 1:
        parts *= 2
    if len(parts) != 2 or min(parts) < 8 or max(parts) > 1024:
        raise argparse.ArgumentTypeError(f"expected a size such as 28, 105 or 84x84 (8 to 1024 pixels), got {text!r}")
    return parts[0], parts[1]


def parse_hp_pairs(pairs: list[str]) -> dict[str, str]:
    out = {}
    for p in pairs or []:
        if "=" not in p:
            raise FewShotError(f"--hp {p!r}: expected NAME=VALUE")
        k, v = p.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def ints(text: str) -> list[int]:
    return [int(t) for t in text.split(",") if t.strip()]


def float_list(text: str) -> list[float]:
    """--at 60,120.5 → [60.0, 120.5] (an argparse type)."""
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = []
    if not values:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, e.g. 60,300, got {text!r}")
    return values


def int_list(text: str) -> list[int]:
    """--shots 1,2,5 → [1, 2, 5] (an argparse type: a bad list is argparse's one-line error)."""
    try:
        values = ints(text)
    except ValueError:
        values = []
    if not values:
        raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers such as 1,2,5, got {text!r}")
    return values


class ProgressBar:
    """A one-line progress bar on stderr, redrawn at most 4 times a second."""

    def __init__(self, stream=None, enabled: bool = True):
        self.stream, self.last = stream or sys.stderr, 0.0  # sys.stderr now, not at import: it may have been replaced
        self.enabled = enabled  # off on the ranks other than 0 of a torchrun run

    def update(self, frac: float, text: str, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if not force and now - self.last < 0.25:
            return
        self.last = now
        width = 28
        filled = int(width * max(0.0, min(1.0, frac)))
        self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {100 * frac:5.1f}% {text}\033[K")
        self.stream.flush()

    def close(self) -> None:
        if not self.enabled:
            return
        self.stream.write("\n")
        self.stream.flush()


def write_files(*writers) -> None:
    """Each (path, write) given a path: write it and say where; an unwritable path is one clear error."""
    for path, write in writers:
        if path:
            try:
                print(f"written: {write(path)}")
            except OSError as exc:
                raise FewShotError(f"{path}: cannot write ({exc.strerror or exc})") from None
