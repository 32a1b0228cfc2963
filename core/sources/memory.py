"""In-memory sets built from the user's own images (what the GUI hands over)."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch

from ..errors import ImageError, SourceError
from ..inputspec import InputSpec, prepare_image
from .base import ClassSource


def prepare_images(images: Sequence[Any], spec: InputSpec) -> torch.Tensor:
    """A list of images (paths, PIL, arrays, bytes) -> uint8 [n, C, H, W]. Raises ImageError naming the bad one."""
    if not images:
        c, (h, w) = spec.channels, spec.size
        return torch.zeros(0, c, h, w, dtype=torch.uint8)
    return torch.stack([prepare_image(im, spec) for im in images])


def in_memory(classes: Mapping[str, Sequence[Any]], spec: InputSpec = InputSpec(), description: str = "your images") -> ClassSource:
    """{class name: [images...]} -> ClassSource. An empty class is an error that names it."""
    if not classes:
        raise SourceError(f"{description}: no classes; add at least two classes with one image each")
    empty = [name for name, ims in classes.items() if len(ims) == 0]
    if empty:
        raise SourceError(f"{description}: class {', '.join(repr(e) for e in empty)} has no images; each class needs at least one")
    tensors, counts = [], []
    for name, ims in classes.items():
        try:
            tensors.append(prepare_images(ims, spec))
        except ImageError as exc:
            raise ImageError(f"class {name!r}: {exc}") from exc
        counts.append(len(ims))
    return ClassSource(torch.cat(tensors), counts, list(classes), spec, 1, description)
