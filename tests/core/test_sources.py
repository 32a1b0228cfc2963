import warnings

import pytest
import torch
from PIL import Image

import core
from core import SourceError
from core.sources.omniglot import find_omniglot_root


def _write_glyph(path, seed):
    g = torch.Generator().manual_seed(seed)
    img = Image.new("L", (40, 40), 255)
    for _ in range(30):
        x, y = torch.randint(0, 40, (2,), generator=g).tolist()
        img.putpixel((x, y), 0)
    img.save(path)


def make_folder(root, classes=3, per_class=4):
    for c in range(classes):
        d = root / f"class{c}"
        d.mkdir(parents=True)
        for i in range(per_class):
            _write_glyph(d / f"{i}.png", c * 100 + i)
    return root


def test_image_folder_reads_classes_and_uses_cache(tmp_path):
    root = make_folder(tmp_path / "data")
    src = core.image_folder(root)
    assert src.num_classes == 3 and src.images.shape == (12, 1, 28, 28) and src.images.dtype == torch.uint8
    assert src.base_names == ["class0", "class1", "class2"]
    # second start: the decoded cache is reused (same bytes); touching a file invalidates it
    again = core.image_folder(root)
    assert torch.equal(again.images, src.images)
    _write_glyph(root / "class0" / "0.png", 999)
    changed = core.image_folder(root)
    assert not torch.equal(changed.images, src.images)


def test_image_folder_bad_inputs_name_the_path(tmp_path):
    with pytest.raises(SourceError, match="no such folder") as e:
        core.image_folder(tmp_path / "nope")
    assert "nope" in str(e.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="is empty"):
        core.image_folder(tmp_path / "empty")
    flat = tmp_path / "flat"
    flat.mkdir()
    _write_glyph(flat / "a.png", 1)
    with pytest.raises(SourceError, match="no class sub-folders"):
        core.image_folder(flat)
    f = tmp_path / "file.png"
    _write_glyph(f, 2)
    with pytest.raises(SourceError, match="is a file"):
        core.image_folder(f)


def test_corrupt_files_are_skipped_with_one_warning(tmp_path):
    root = make_folder(tmp_path / "data", classes=2, per_class=3)
    (root / "class0" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    (root / "class1" / "readme.txt").write_text("hello")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        src = core.image_folder(root)
    msgs = [str(x.message) for x in w]
    assert len(msgs) == 1 and "broken.png" in msgs[0] and "readme.txt" in msgs[0] and "skipped 2" in msgs[0]
    assert src.counts.tolist() == [3, 3]


def test_class_with_too_few_images_for_an_episode(tmp_path):
    root = make_folder(tmp_path / "data", classes=3, per_class=2)
    src = core.image_folder(root)
    with pytest.raises(SourceError, match=r"at least 6 images .*class0"):
        core.EpisodeSampler(src, n_way=3, k_shot=1, q_query=5)
    with pytest.raises(SourceError, match="need 5 classes"):
        core.EpisodeSampler(src, n_way=5, k_shot=1, q_query=1)


def test_in_memory_source_and_empty_class():
    img = Image.new("L", (10, 10), 255)
    src = core.in_memory({"a": [img, img], "b": [img]})
    assert src.counts.tolist() == [2, 1] and src.class_name(1) == "b"
    with pytest.raises(SourceError, match="'b' has no images"):
        core.in_memory({"a": [img], "b": []})
    with pytest.raises(SourceError, match="no classes"):
        core.in_memory({})
    with pytest.raises(core.ImageError, match="class 'a'"):
        core.in_memory({"a": [b"junk"]})


def test_omniglot_layouts_and_splits(omniglot_root):
    assert find_omniglot_root(omniglot_root) == omniglot_root / "omniglot-py"
    assert find_omniglot_root(omniglot_root / "omniglot-py") == omniglot_root / "omniglot-py"
    sizes = {s: len(core.omniglot(omniglot_root, s).base_names) for s in ("train", "val", "trainval", "test", "background", "evaluation")}
    assert sizes == {"train": 1028, "val": 172, "trainval": 1200, "test": 423, "background": 964, "evaluation": 659}
    train, test = core.omniglot(omniglot_root, "trainval"), core.omniglot(omniglot_root, "test")
    assert not set(train.base_names) & set(test.base_names)
    assert train.num_classes == 4800 and train.images.shape[1:] == (1, 28, 28)
    # the Vinyals split mixes both halves
    assert any(n.startswith("images_evaluation") for n in train.base_names)
    # ink is bright after inversion: mostly dark background
    assert train.images.float().mean() < 60


def test_omniglot_rotation_classes(omniglot_root):
    src = core.omniglot(omniglot_root, "test")
    ids = torch.tensor([0, 1, 2, 3])
    picks = torch.zeros(4, 1, dtype=torch.long)
    imgs = src.gather(ids, picks)[:, 0, 0]
    for r in range(4):
        assert torch.equal(imgs[r], torch.rot90(imgs[0], r, dims=(-2, -1)))
    assert src.class_name(1).endswith("↻90°")


def test_omniglot_bad_folder(tmp_path):
    with pytest.raises(SourceError, match="no such folder"):
        core.omniglot(tmp_path / "missing")
    (tmp_path / "x").mkdir()
    with pytest.raises(SourceError, match="not an Omniglot folder"):
        core.omniglot(tmp_path / "x")


def test_builtin_source_is_deterministic_and_disjoint():
    a = core.builtin(n_classes=20, n_instances=5, first_class=0)
    b = core.builtin(n_classes=20, n_instances=5, first_class=0)
    c = core.builtin(n_classes=20, n_instances=5, first_class=20)
    assert torch.equal(a.images, b.images)
    assert a.images.shape == (100, 1, 28, 28) and a.num_classes == 80
    assert not set(a.base_names) & set(c.base_names)
