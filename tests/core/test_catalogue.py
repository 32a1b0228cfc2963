"""The source catalogue: the source kinds and their splits (that the CLI, the app and the tests all
use it is checked in tests/test_one_owner.py)."""
from __future__ import annotations

import pytest

import core
from tests.core.test_sources import make_folder


def class_ids(src) -> list[int]:
    """The generator class ids a built-in source drew (its classes are named "glyph <id>")."""
    return [int(name.split()[-1]) for name in src.base_names]


def test_a_split_cannot_be_asked_for_more_classes_than_it_holds(blank_generator):
    n_val = len(core.BUILTIN_SPLITS["val"])
    assert len(core.builtin_split("val", n_val).base_names) == n_val
    with pytest.raises(core.SourceError, match=f"holds {n_val} classes"):
        core.builtin_split("val", n_val + 1)  # would draw the test split's first class
    with pytest.raises(core.SourceError, match="unknown split 'evaluation'"):
        core.open_source("builtin", "evaluation")
    with pytest.raises(core.SourceError, match="unknown source 'mnist'"):
        core.open_source("mnist", "train")


def test_an_image_folder_holds_out_a_fifth_of_its_classes_when_it_can_spare_them(tmp_path, monkeypatch):
    monkeypatch.setenv("FEWSHOT_CACHE_DIR", str(tmp_path / "cache"))
    full = core.open_source("folder", "train", str(make_folder(tmp_path / "data", classes=10, per_class=2)))
    assert core.open_source("folder", "test", str(tmp_path / "data")).base_names == full.base_names  # no splits of its own
    train, val = core.hold_out_validation(full, n_way=3)
    assert train.base_names == full.base_names[:7] and val.base_names == full.base_names[7:]  # max(N, 10 // 5) = 3 held out
    assert core.hold_out_validation(full, n_way=4) == (full, None)  # fewer than 3·N classes: nothing to spare
