"""Where the app's episodes come from: a source setting (a dict: {"kind": "builtin" | "omniglot" |
"folder", "folder": …}, `app.model.Source.to_dict()`) opened as the engine's ClassSources, the
same splits as the command line, and the words that name it. The Studio's training
(`build_sources`), the Compare view and its sweeps and test episodes (`compare_sources`) and the
Episodes tab all open their data here.

`core` (and so torch) is imported inside the functions: call those that open data off the GUI thread.
"""
from __future__ import annotations

from pathlib import Path


# How many classes of each of the built-in generator's splits the app uses (fewer than the
# catalogue's full splits, for speed); where each split's class ids start is the catalogue's.
BUILTIN_TRAIN_CLASSES = 300  # ×4 rotations = 1200 classes: plenty for 60-way training, ~2 s to build once
BUILTIN_VAL_CLASSES = 100
BUILTIN_TEST_CLASSES = 100


def describe_source(source: dict) -> str:
    kind = source.get("kind", "builtin")
    if kind == "builtin":
        return "Built-in characters"
    return f"{'Omniglot' if kind == 'omniglot' else 'Image folder'}: {Path(source.get('folder', '')).name or '?'}"


def validation_data(source: dict) -> str:
    """Which data `build_sources` validates on, in a few words (a figure's measure names it)."""
    kind = source.get("kind", "builtin")
    if kind == "builtin":
        return "built-in characters"
    name = Path(source.get("folder", "")).name or "?"
    return f"Omniglot val ({name})" if kind == "omniglot" else f"held-out classes of {name}"


def build_sources(source: dict, n_way: int):
    """(train, validation or None) ClassSources for a source setting, from the core source
    catalogue (the same splits as the CLI). Raises core.SourceError."""
    import core

    kind = source.get("kind", "builtin")
    if kind == "builtin":
        n = int(source.get("classes", BUILTIN_TRAIN_CLASSES))
        return (core.open_source("builtin", "train", n_classes=n),
                core.open_source("builtin", "val", n_classes=max(n_way, min(BUILTIN_VAL_CLASSES, n))))
    folder = source.get("folder") or ""
    if not folder:
        raise core.SourceError("no folder chosen; pick a folder first")
    if kind == "folder":
        return core.hold_out_validation(core.open_source("folder", "train", folder), n_way)
    return core.open_source(kind, "train", folder), core.open_source(kind, "val", folder)


def compare_sources(source: dict, n_way: int, training: bool = True):
    """(train, validation or None, test) ClassSources for the comparison's source setting: the
    Studio's train / validation sources plus the catalogue's test split (the built-in generator's
    test classes; Omniglot's Vinyals test split), or for an image folder its held-out classes when
    it has enough, else its training classes. `training=False` (every model already trained, e.g.
    the starter models): a catalogue's train / validation splits are not opened (None), since
    decoding Omniglot's training split would only delay the test."""
    import core

    kind = source.get("kind", "builtin")
    if not training and kind in ("builtin", "omniglot"):
        train = val = None
    else:
        train, val = build_sources(source, n_way)
    if kind == "builtin":
        test = core.open_source("builtin", "test", n_classes=max(n_way, int(source.get("test_classes", BUILTIN_TEST_CLASSES))))
    elif kind == "omniglot":
        test = core.open_source("omniglot", "test", source["folder"])
    else:
        test = val if val is not None else train
    return train, val, test
