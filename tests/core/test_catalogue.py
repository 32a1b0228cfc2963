"""The source catalogue: one set of built-in split ranges for the CLI, the app and the tests."""
from __future__ import annotations

import pytest
import torch

import core
from core.cli import make_source
from core.sources import builtin_strokes
from tests.conftest import builtin_train_test
from tests.core.test_sources import make_folder


def class_ids(src) -> list[int]:
    """The generator class ids a built-in source drew (its classes are named "glyph <id>")."""
    return [int(name.split()[-1]) for name in src.base_names]


@pytest.fixture
def blank_generator(monkeypatch, tmp_path):
    """The built-in source with blank drawings and a private cache: what it draws does not matter
    here, which class ids it is asked for does (drawing the CLI's 3,000 training classes takes ~30 s)."""
    monkeypatch.setenv("FEWSHOT_CACHE_DIR", str(tmp_path / "cache"))

    def blank(seed, class_ids, n_instances=20, size=28):
        return torch.zeros(len(class_ids), n_instances, size, size, dtype=torch.uint8)

    monkeypatch.setattr(builtin_strokes, "generate_characters", blank)


def test_cli_app_and_test_fixtures_use_the_catalogues_builtin_splits(blank_generator):
    from app.workers import build_sources, compare_sources

    cli = {split: class_ids(make_source("builtin", None, split)) for split in ("train", "val", "test")}
    studio_train, studio_val = build_sources({"kind": "builtin"}, 5)
    _, compare_val, compare_test = compare_sources({"kind": "builtin"}, 5)
    fixture_train, fixture_test = builtin_train_test(24, 12, n_instances=2)  # what tests/conftest and test_compare use
    used = {
        "train": [cli["train"], class_ids(studio_train), class_ids(fixture_train)],
        "val": [cli["val"], class_ids(studio_val), class_ids(compare_val)],
        "test": [cli["test"], class_ids(compare_test), class_ids(fixture_test)],
    }
    for split, id_lists in used.items():
        ids = core.BUILTIN_SPLITS[split]
        assert cli[split] == list(ids), f"the CLI takes the whole {split} split"
        for got in id_lists:
            # the same split starts at the same class everywhere; a smaller one is a prefix of it
            assert got == list(ids)[:len(got)] and got, (split, got[:3], got[-1:], ids)
    ranges = sorted(core.BUILTIN_SPLITS.values(), key=lambda r: r.start)
    assert all(a.stop <= b.start for a, b in zip(ranges, ranges[1:])), "the splits never share a class"


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
