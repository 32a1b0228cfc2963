"""The class-source abstraction: classes -> images, decoded once into one uint8 tensor.

Every source (Omniglot, an image folder, the built-in generator, the user's own sets) ends up as a
`ClassSource`: `images` is a single uint8 tensor [M, C, H, W] and class c owns the rows
`starts[c] : starts[c] + counts[c]`. Sampling an episode is indexing into that tensor, never file
I/O. Rotation classes (Omniglot's ×4) are virtual: class id `b * rotations + r` is base class b
turned by r·90°, applied to the gathered batch, so the cache stays 4× smaller.
"""
from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import Iterable, Sequence

import torch

from ..errors import ImageError, SourceError
from ..files import IMAGE_SUFFIXES, atomic_write
from ..inputspec import InputSpec, prepare_image

CACHE_VERSION = 1


class ClassSource:
    def __init__(
        self,
        images: torch.Tensor,
        counts: Sequence[int] | torch.Tensor,
        names: Sequence[str],
        spec: InputSpec,
        rotations: int = 1,
        description: str = "",
    ):
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise SourceError(f"images must be a uint8 tensor [M, C, H, W], got {images.dtype} {tuple(images.shape)}")
        counts = torch.as_tensor(counts, dtype=torch.long).cpu()
        if len(names) != len(counts):
            raise SourceError(f"{len(names)} class names for {len(counts)} classes")
        if int(counts.sum()) != images.shape[0]:
            raise SourceError(f"class counts add up to {int(counts.sum())}, but there are {images.shape[0]} images")
        if rotations not in (1, 2, 4):
            raise SourceError(f"rotations must be 1, 2 or 4, got {rotations}")
        self.images = images
        self.counts = counts
        self.starts = torch.cumsum(counts, 0) - counts
        self.base_names = list(names)
        self.spec = spec
        self.rotations = rotations
        self.description = description or f"{len(names)} classes"

    # -- what the sampler needs -------------------------------------------------------------
    @property
    def num_classes(self) -> int:
        return len(self.base_names) * self.rotations

    @property
    def device(self) -> torch.device:
        return self.images.device

    def class_count(self, class_id: int) -> int:
        return int(self.counts[class_id // self.rotations])

    def class_name(self, class_id: int) -> str:
        base, rot = divmod(int(class_id), self.rotations)
        name = self.base_names[base]
        return name if self.rotations == 1 else f"{name} ↻{rot * 90}°"

    def group_of_classes(self) -> torch.Tensor:
        """[num_classes] long: the group of every class, read from its name's folder part
        ("images_background/Greek/character01" is in "images_background/Greek": Omniglot's alphabet);
        a class's rotations share its group. Names without a folder part are each a group of their own."""
        parents = [n.rsplit("/", 1)[0] if "/" in n else f"\0{i}" for i, n in enumerate(self.base_names)]
        ids = {p: i for i, p in enumerate(dict.fromkeys(parents))}
        return torch.tensor([ids[p] for p in parents], dtype=torch.long).repeat_interleave(self.rotations)

    def require(self, n_way: int, per_class: int) -> None:
        """Raise a clear SourceError if an N-way episode with `per_class` images per class is impossible."""
        if self.num_classes < n_way:
            raise SourceError(f"{self.description}: {n_way}-way episodes need {n_way} classes, the source has {self.num_classes}")
        small = [self.base_names[i] for i in range(len(self.base_names)) if int(self.counts[i]) < per_class]
        if small:
            listed = ", ".join(small[:5]) + (f" and {len(small) - 5} more" if len(small) > 5 else "")
            raise SourceError(
                f"{self.description}: every class needs at least {per_class} images (K shots + Q queries); "
                f"too few in: {listed}"
            )

    def gather(self, class_ids: torch.Tensor, sample_idx: torch.Tensor) -> torch.Tensor:
        """uint8 [n, m, C, H, W]: images sample_idx[i, j] (0-based within the class) of class_ids[i]."""
        class_ids = class_ids.cpu()
        base = class_ids // self.rotations
        rows = self.starts[base].unsqueeze(1) + sample_idx.cpu()
        out = self.images[rows.to(self.images.device)]
        if self.rotations > 1:
            rot = (class_ids % self.rotations).tolist()
            for r in set(rot):
                if r:
                    sel = torch.tensor([i for i, v in enumerate(rot) if v == r], device=out.device)
                    out[sel] = torch.rot90(out[sel], r, dims=(-2, -1))
        return out

    def to(self, device: torch.device | str) -> "ClassSource":
        """The same source with its image cache on `device` (the sampler then gathers there)."""
        device = torch.device(device)
        if device == self.images.device:
            return self
        # Remember the copy: validation asks for the same source on the same device every time.
        memo = self.__dict__.setdefault("_device_copies", {})
        if str(device) not in memo:
            moved = ClassSource.__new__(ClassSource)
            moved.__dict__.update({k: v for k, v in self.__dict__.items() if k != "_device_copies"})
            moved.images = self.images.to(device)
            memo[str(device)] = moved
        return memo[str(device)]

    def subset(self, base_classes: Sequence[int], description: str = "") -> "ClassSource":
        """A source holding only the given base classes (used for train/val/test splits)."""
        idx = torch.as_tensor(list(base_classes), dtype=torch.long)
        rows = torch.cat([torch.arange(int(self.starts[i]), int(self.starts[i] + self.counts[i])) for i in idx.tolist()]) if len(idx) else torch.zeros(0, dtype=torch.long)
        return ClassSource(
            self.images[rows.to(self.images.device)],
            self.counts[idx],
            [self.base_names[i] for i in idx.tolist()],
            self.spec,
            self.rotations,
            description or self.description,
        )

    def __repr__(self) -> str:
        return f"<ClassSource {self.description}: {self.num_classes} classes, {self.images.shape[0]} images>"


# -- shared helpers for sources read from files ---------------------------------------------------

def cache_dir() -> Path:
    """Where decoded sources are kept between runs (override with FEWSHOT_CACHE_DIR)."""
    env = os.environ.get("FEWSHOT_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or (Path.home() / ".cache")
    return Path(base) / "fewshot-studio"


def content_key(kind: str, files: Iterable[Path], root: Path, spec: InputSpec, extra: object = None) -> str:
    """A key that changes whenever a file is added, removed, resized or touched, or the spec changes."""
    h = hashlib.sha256()
    h.update(json.dumps([kind, CACHE_VERSION, spec.to_dict(), extra], sort_keys=True, default=str).encode())
    for f in files:
        st = f.stat()
        h.update(f"{f.relative_to(root).as_posix()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:32]


def load_cached(key: str) -> dict | None:
    path = cache_dir() / f"{key}.pt"
    if not path.is_file():
        return None
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
        if data.get("version") == CACHE_VERSION:
            return data
    except Exception:  # a damaged cache file is rebuilt, never trusted
        pass
    return None


def store_cached(key: str, data: dict) -> None:
    try:
        atomic_write(cache_dir() / f"{key}.pt", lambda fh: torch.save({**data, "version": CACHE_VERSION}, fh))
    except OSError as exc:  # a read-only home must not stop training
        warnings.warn(f"could not write the source cache in {cache_dir()}: {exc}")


def decode_files(files_per_class: Sequence[Sequence[Path]], spec: InputSpec) -> tuple[torch.Tensor, list[int], list[str]]:
    """Decode every file once. Corrupt or non-image files are skipped and returned, not raised."""
    tensors: list[torch.Tensor] = []
    counts: list[int] = []
    skipped: list[str] = []
    for files in files_per_class:
        n = 0
        for f in files:
            try:
                tensors.append(prepare_image(f, spec))
                n += 1
            except ImageError as exc:
                skipped.append(str(exc))
        counts.append(n)
    c, (h, w) = spec.channels, spec.size
    images = torch.stack(tensors) if tensors else torch.zeros(0, c, h, w, dtype=torch.uint8)
    return images, counts, skipped


def warn_skipped(skipped: Sequence[str]) -> None:
    if skipped:
        listed = "\n  ".join(skipped[:20]) + (f"\n  ... and {len(skipped) - 20} more" if len(skipped) > 20 else "")
        warnings.warn(f"skipped {len(skipped)} unreadable file(s):\n  {listed}", stacklevel=3)


def list_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))
