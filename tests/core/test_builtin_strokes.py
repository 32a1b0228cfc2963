"""Tests for the procedural handwriting source (core/sources/builtin_strokes.py)."""

import pytest
import torch

from core.sources.builtin_strokes import generate_characters


@pytest.fixture(autouse=True)
def single_torch_thread():
    # These calls are small; on a busy 2-core machine torch's intra-op thread
    # pool costs more in synchronisation than it gains (measured ~15x slower).
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def test_shape_dtype_and_range():
    images = generate_characters(seed=0, class_ids=[0, 1, 2], n_instances=5)
    assert images.shape == (3, 5, 28, 28)
    assert images.dtype == torch.uint8
    assert images.min() == 0
    # Stroke cores are bright, like inverted real scans.
    assert images.amax(dim=(2, 3)).min() >= 200


def test_other_sizes_and_tensor_class_ids():
    images = generate_characters(seed=3, class_ids=torch.tensor([4, 9]), n_instances=2, size=32)
    assert images.shape == (2, 2, 32, 32)
    assert generate_characters(seed=3, class_ids=[], n_instances=2).shape == (0, 2, 28, 28)


def test_same_call_twice_gives_identical_bytes():
    first = generate_characters(seed=7, class_ids=range(6), n_instances=4)
    second = generate_characters(seed=7, class_ids=range(6), n_instances=4)
    assert torch.equal(first, second)


def test_class_does_not_depend_on_its_companions():
    among_others = generate_characters(seed=1, class_ids=[5, 17, 10**6, 3], n_instances=4)
    alone = generate_characters(seed=1, class_ids=[10**6], n_instances=4)
    assert torch.equal(among_others[2], alone[0])
    reordered = generate_characters(seed=1, class_ids=[3, 5], n_instances=4)
    assert torch.equal(reordered[1], among_others[0])
    assert torch.equal(reordered[0], among_others[3])


def test_instance_does_not_depend_on_instance_count():
    few = generate_characters(seed=2, class_ids=[11], n_instances=3)
    many = generate_characters(seed=2, class_ids=[11], n_instances=8)
    assert torch.equal(few[0], many[0, :3])


def test_instances_of_a_class_vary():
    images = generate_characters(seed=0, class_ids=[0, 1], n_instances=4)
    for instances in images:
        assert not torch.equal(instances[0], instances[1])


def test_classes_differ_more_than_instances_of_a_class():
    n_classes, n_instances = 30, 6
    images = generate_characters(seed=0, class_ids=range(n_classes), n_instances=n_instances).float()
    # Blur slightly so the comparison is about shape, not exact pixel overlap
    # of thin strokes.
    blurred = torch.nn.functional.avg_pool2d(images.view(-1, 1, 28, 28), 3, stride=1, padding=1).flatten(1)
    distance = torch.cdist(blurred, blurred)
    label = torch.arange(n_classes).repeat_interleave(n_instances)
    same_class = label[:, None] == label[None, :]
    not_self = ~torch.eye(len(label), dtype=torch.bool)
    within = distance[same_class & not_self].mean()
    between = distance[~same_class].mean()
    # Real Omniglot (28 px, same blur) gives a ratio of about 0.8-0.85.
    assert within < 0.9 * between


def test_ink_present_but_not_filling_the_frame():
    images = generate_characters(seed=0, class_ids=range(40), n_instances=5)
    inked = (images > 64).float().mean(dim=(2, 3))
    assert inked.min() > 0.01
    assert inked.max() < 0.4
    # On average about a tenth of the pixels carry ink, as in real Omniglot.
    assert 0.05 < inked.mean() < 0.2
    # Characters sit inside the frame rather than being cropped everywhere.
    border = torch.cat([images[..., 0, :], images[..., -1, :], images[..., :, 0], images[..., :, -1]], dim=-1)
    assert (border > 64).float().mean() < 0.05


def test_different_seeds_give_different_classes():
    a = generate_characters(seed=0, class_ids=range(5), n_instances=2)
    b = generate_characters(seed=1, class_ids=range(5), n_instances=2)
    for c in range(5):
        assert not torch.equal(a[c], b[c])
