"""The source catalogue: the one place that knows the source kinds and their train / val / test splits.

The CLI, the app (Studio and Compare) and the tests all open sources here, so a split means the same
classes everywhere and a number measured in one of them can be compared with one from another.

- builtin: the handwriting generator draws any class id on demand; the splits are disjoint ranges
  of class ids, `BUILTIN_SPLITS` (train 0–2999, val 3000–3299, test 3300–3899: the ranges the
  CLI results in docs/results.md were measured on). A caller that wants fewer classes (the app trains on a
  few hundred for speed) passes `n_classes` and gets the first n of the split's range — never a
  class of another split.
- omniglot: Vinyals et al.'s train / val / test (and Lake's background / evaluation, trainval,
  all), see `omniglot.py`.
- folder: an image folder has no splits of its own; every split is the whole folder, unless a
  caller holds classes out with `hold_out_validation`.
"""
from __future__ import annotations

import dataclasses

from ..errors import SourceError
from ..inputspec import InputSpec
from ..tasks import SOURCE_KINDS
from .base import ClassSource
from .builtin import BUILTIN_SPEC, builtin
from .folder import image_folder
from .omniglot import OMNIGLOT_SPEC, omniglot

SPLITS = ("train", "val", "test")
BUILTIN_SPLITS = {"train": range(0, 3000), "val": range(3000, 3300), "test": range(3300, 3900)}


def builtin_split(split: str, n_classes: int | None = None, spec: InputSpec = BUILTIN_SPEC, n_instances: int = 20) -> ClassSource:
    """The built-in generator's `split`: its whole class-id range, or the first `n_classes` of it."""
    if split not in BUILTIN_SPLITS:
        raise SourceError(f"built-in source: unknown split {split!r}; expected {', '.join(BUILTIN_SPLITS)}")
    ids = BUILTIN_SPLITS[split]
    n = len(ids) if n_classes is None else int(n_classes)
    if n > len(ids):  # more would run into the next split's classes
        raise SourceError(f"the built-in {split} split holds {len(ids)} classes; {n} were asked for")
    return builtin(n_classes=n, n_instances=n_instances, first_class=ids.start, spec=spec)


def open_source(kind: str, split: str, data: str | None = None, spec: InputSpec | None = None,
                size: tuple[int, int] | None = None, n_classes: int | None = None) -> ClassSource:
    """A ClassSource by kind (builtin | omniglot | folder) and split (train / val / test, or a
    source-specific split such as Omniglot's background / evaluation). `spec` replaces the source's
    own InputSpec; `size` (height, width) only changes the size of the source's own spec;
    `n_classes` takes fewer built-in classes than the split holds."""
    def spec_for(default: InputSpec) -> InputSpec:
        if spec is not None:
            return spec
        return dataclasses.replace(default, size=tuple(size)) if size else default

    if kind == "builtin":
        return builtin_split(split, n_classes, spec_for(BUILTIN_SPEC))
    if kind == "omniglot":
        if not data:
            raise SourceError("the Omniglot source needs a folder (torchvision's Omniglot layout)")
        return omniglot(data, split, spec=spec_for(OMNIGLOT_SPEC))
    if kind == "folder":
        if not data:
            raise SourceError("the image-folder source needs a folder (one sub-folder of images per class)")
        return image_folder(data, spec=spec_for(InputSpec()))
    raise SourceError(f"unknown source {kind!r}; expected {', '.join(SOURCE_KINDS)}")


def hold_out_validation(full: ClassSource, n_way: int) -> tuple[ClassSource, ClassSource | None]:
    """(train, validation or None) of a source without splits (an image folder): the last fifth of
    its classes for validation when there are enough to spare (at least 3·N), else no validation."""
    n_base = len(full.base_names)
    if n_base < 3 * n_way:
        return full, None
    n_val = max(n_way, n_base // 5)
    return full.subset(range(n_base - n_val)), full.subset(range(n_base - n_val, n_base), f"{full.description} (validation)")
