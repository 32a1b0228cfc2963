"""The built-in source: procedurally drawn handwriting-like characters, no download.

A wrapper that turns `builtin_strokes.generate_characters` into a ClassSource and caches the
rendered pool on disk (keyed by seed, size and pool size), so a second start is instant.
"""
from __future__ import annotations

import torch

from ..errors import SourceError
from ..inputspec import InputSpec
from .base import ClassSource, load_cached, store_cached

BUILTIN_SPEC = InputSpec()  # 28×28 grayscale, ink bright on dark: the default input
GENERATOR_VERSION = 1  # bump when builtin_strokes changes what it draws (invalidates caches)


def builtin(n_classes: int = 2000, n_instances: int = 20, seed: int = 0, first_class: int = 0,
            rotations: bool = True, spec: InputSpec = BUILTIN_SPEC) -> ClassSource:
    """`n_classes` generated characters starting at class id `first_class` (disjoint ranges of
    class ids give disjoint train / validation sets), each drawn `n_instances` times."""
    from .builtin_strokes import generate_characters

    if n_classes < 2 or n_instances < 2:
        raise SourceError(f"the built-in source needs at least 2 classes × 2 instances, got {n_classes} × {n_instances}")
    if spec.channels != 1:
        raise SourceError("the built-in source draws grayscale characters; use an InputSpec with channels=1")
    h, w = spec.size
    key = f"builtin-v{GENERATOR_VERSION}-s{seed}-c{first_class}+{n_classes}-n{n_instances}-{h}x{w}"
    cached = load_cached(key)
    if cached is None:
        chars = generate_characters(seed, range(first_class, first_class + n_classes), n_instances, size=h)
        if (h, w) != tuple(chars.shape[-2:]):
            chars = torch.nn.functional.interpolate(chars.flatten(0, 1)[:, None].float(), size=(h, w), mode="area").round().to(torch.uint8)
        images = chars.reshape(n_classes * n_instances, 1, h, w)
        cached = {"images": images, "counts": torch.full((n_classes,), n_instances)}
        store_cached(key, cached)
    images = cached["images"]
    if not spec.invert:  # the generator draws bright ink; a spec that keeps dark ink gets it dark
        images = 255 - images
    names = [f"glyph {first_class + i}" for i in range(n_classes)]
    return ClassSource(images, cached["counts"], names, spec, 4 if rotations else 1, f"built-in characters (seed {seed})")
