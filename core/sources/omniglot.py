"""Omniglot (Lake et al. 2015) read from an extracted folder in torchvision's layout.

Accepts `<root>/omniglot-py/images_background/...` or `<root>` pointing straight at the folder that
holds `images_background` / `images_evaluation`. No zip or MD5 check: we read the tree.

Splits
- Vinyals et al. (2016): the 1623 characters of both halves, in a fixed seeded permutation; the
  first 1200 train (of which the last 172 are the validation slice, as Ravi & Larochelle / Snell et
  al. use: 1028 train + 172 val), the remaining 423 test.
- Lake: images_background (964 characters, 30 alphabets) vs images_evaluation (659, 20 alphabets).
Rotation classes (0/90/180/270°, each its own class) are on by default, as in the papers.
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..errors import SourceError
from ..inputspec import InputSpec
from .base import ClassSource, content_key, decode_files, load_cached, store_cached, warn_skipped

HALVES = ("images_background", "images_evaluation")
SPLIT_SEED = 1623  # fixed: every run of every algorithm sees the same Vinyals split
VINYALS_TRAIN, VINYALS_VAL = 1028, 172  # 1028 + 172 = 1200 train characters; 423 test
SPLITS = ("train", "val", "trainval", "test", "background", "evaluation", "all")
OMNIGLOT_SPEC = InputSpec()  # 28×28 (the papers'), grayscale, ink bright on dark: the default input


def find_omniglot_root(root: str | Path) -> Path:
    root = Path(root).expanduser()
    if not root.exists():
        raise SourceError(f"{root}: no such folder; expected an Omniglot folder holding images_background/ and images_evaluation/")
    for cand in (root, root / "omniglot-py"):
        if any((cand / h).is_dir() for h in HALVES):
            return cand
    raise SourceError(
        f"{root}: not an Omniglot folder; expected images_background/ and images_evaluation/ "
        f"(torchvision layout: <root>/omniglot-py/images_background/<Alphabet>/<character>/*.png)"
    )


def _characters(root: Path) -> list[tuple[str, Path]]:
    chars = []
    for half in HALVES:
        half_dir = root / half
        if not half_dir.is_dir():
            continue
        for alphabet in sorted(p for p in half_dir.iterdir() if p.is_dir()):
            for char in sorted(p for p in alphabet.iterdir() if p.is_dir()):
                chars.append((f"{half}/{alphabet.name}/{char.name}", char))
    if not chars:
        raise SourceError(f"{root}: the Omniglot halves hold no <Alphabet>/<character>/ folders")
    return chars


def load_omniglot_all(root: str | Path, spec: InputSpec = OMNIGLOT_SPEC) -> ClassSource:
    """Every character of both halves (no rotations), decoded once and cached on disk."""
    root = find_omniglot_root(root)
    chars = _characters(root)
    files = [sorted(c.glob("*.png")) for _, c in chars]
    key = content_key("omniglot", (f for fs in files for f in fs), root, spec)
    cached = load_cached(key)
    if cached is None:
        images, counts, skipped = decode_files(files, spec)
        warn_skipped(skipped)
        cached = {"images": images, "counts": torch.tensor(counts)}
        store_cached(key, cached)
    return ClassSource(cached["images"], cached["counts"], [n for n, _ in chars], spec, 1, f"Omniglot ({root})")


def omniglot(root: str | Path, split: str = "train", rotations: bool = True, spec: InputSpec = OMNIGLOT_SPEC) -> ClassSource:
    """One split of Omniglot as a ClassSource (see the module docstring for the splits)."""
    if split not in SPLITS:
        raise SourceError(f"unknown Omniglot split {split!r}; expected one of {', '.join(SPLITS)}")
    full = load_omniglot_all(root, spec)
    names = full.base_names
    if split in ("background", "evaluation"):
        chosen = [i for i, n in enumerate(names) if n.startswith(f"images_{split}/")]
    elif split == "all":
        chosen = list(range(len(names)))
    else:
        perm = torch.randperm(len(names), generator=torch.Generator().manual_seed(SPLIT_SEED)).tolist()
        bounds = {"train": (0, VINYALS_TRAIN), "val": (VINYALS_TRAIN, VINYALS_TRAIN + VINYALS_VAL),
                  "trainval": (0, VINYALS_TRAIN + VINYALS_VAL), "test": (VINYALS_TRAIN + VINYALS_VAL, len(names))}[split]
        chosen = sorted(perm[bounds[0]:bounds[1]])
    if not chosen:
        raise SourceError(f"{full.description}: split {split!r} is empty (is a half missing?)")
    src = full.subset(chosen, f"Omniglot {split}{' ×4 rotations' if rotations else ''}")
    src.rotations = 4 if rotations else 1
    return src
