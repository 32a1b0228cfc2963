"""Random affine distortions of training images: what a draw does, that an episode's draws are a
pure function of (seed, index), and that the trainer applies them to training episodes only."""
import math

import pytest
import torch

import core
from core.augment import Augmentation, augmentation_from
from core.episodes import EpisodeSampler
from core.errors import ConfigError


def _dot_image(size=28, at=(10, 18)):
    x = torch.zeros(1, 1, size, size)
    x[0, 0, at[0], at[1]] = 1.0
    return x


def test_no_strength_is_the_identity():
    x = torch.rand(5, 1, 28, 28)
    aug = Augmentation(rotate_deg=0, shear=0, scale=0, shift=0)
    assert torch.allclose(aug(x, torch.Generator().manual_seed(0)), x, atol=1e-5)  # grid coordinates round at ~1e-6


def test_a_pure_shift_moves_the_ink_by_that_share_of_the_side():
    aug = Augmentation(rotate_deg=0, shear=0, scale=0, shift=4 / 28, p=1.0)
    x = _dot_image()
    g = torch.Generator().manual_seed(3)
    m = aug.matrices(1, torch.Generator().manual_seed(3))
    y = aug(x, g)
    # the map sends output coordinates to input ones: the dot moves by −t (in pixels: t · side / 2)
    (r0, c0), (r1, c1) = (x[0, 0] > 0).nonzero()[0].tolist(), divmod(int(y[0, 0].argmax()), 28)
    assert abs((c1 - c0) + float(m[0, 0, 2]) * 14) <= 1 and abs((r1 - r0) + float(m[0, 1, 2]) * 14) <= 1
    assert 0 < abs(float(m[0, 0, 2])) * 14 <= 4 + 1e-6


def test_draws_stay_within_their_bounds():
    aug = Augmentation(p=1.0)
    m = aug.matrices(2000, torch.Generator().manual_seed(0))
    det = torch.linalg.det(m[:, :, :2])
    # |det| = sx·sy·(1 − ρx·ρy): within the bounds' extremes
    assert det.min() >= 0.8 ** 2 * (1 - 0.3 ** 2) - 1e-6 and det.max() <= 1.2 ** 2 * (1 + 0.3 ** 2) + 1e-6
    assert m[:, :, 2].abs().max() <= 2 * 2 / 105 + 1e-7


def test_each_component_is_left_out_with_probability_one_half():
    m = Augmentation(shear=0, scale=0, shift=0, p=0.5).matrices(4000, torch.Generator().manual_seed(0))
    unrotated = (m[:, 0, 1].abs() < 1e-9).float().mean()
    assert abs(float(unrotated) - 0.5) < 0.03


def test_an_episodes_distortions_depend_on_seed_and_index_alone(small_real_sources):
    train, _ = small_real_sources
    aug = Augmentation()
    a = EpisodeSampler(train, 5, 1, 2, seed=4, augment=aug)
    b = EpisodeSampler(train, 5, 1, 2, seed=4, augment=aug)
    b.episode(0)  # drawing another episode first changes nothing
    assert torch.equal(a.episode(7).query_x, b.episode(7).query_x)
    plain = EpisodeSampler(train, 5, 1, 2, seed=4).episode(7)
    distorted = a.episode(7)
    assert plain.class_names == distorted.class_names and torch.equal(plain.query_y, distorted.query_y)
    assert not torch.equal(plain.query_x, distorted.query_x)
    assert not torch.equal(distorted.query_x, EpisodeSampler(train, 5, 1, 2, seed=5, augment=aug).episode(7).query_x)


@pytest.mark.parametrize("text, expected", [
    ("none", None), ("", None), ("affine", Augmentation()),
    ("affine:rotate_deg=15,p=1", Augmentation(rotate_deg=15, p=1.0)),
])
def test_parse(text, expected):
    assert Augmentation.parse(text) == expected
    if expected is not None:
        assert augmentation_from(expected.to_dict()) == expected


@pytest.mark.parametrize("text, message", [
    ("elastic", "unknown augmentation"), ("affine:spin=3", "NAME one of"), ("affine:scale=big", "not a number"),
    ("affine:scale=1.5", "scale and shear must be < 1"), ("affine:rotate_deg=-2", "≥ 0"), ("affine:shift=nan", "≥ 0"),
])
def test_bad_text_is_a_clear_error(text, message):
    with pytest.raises(ConfigError, match=message):
        Augmentation.parse(text)


def test_the_trainer_distorts_training_episodes_and_resumes_to_the_same_weights(small_real_sources, tmp_path):
    train, _ = small_real_sources
    config = dict(algorithm="protonet", hparams={"hidden": 8, "train_way": 5, "train_query": 2}, n_way=5, steps=6,
                  val_every=3, val_episodes=0, device="cpu")
    plain = core.Trainer(core.TrainConfig(**config), train)
    for _ in plain.run():
        pass
    whole = core.Trainer(core.TrainConfig(**config, augment=Augmentation().to_dict()), train)
    for _ in whole.run():
        pass
    assert whole.history["loss"] != plain.history["loss"]  # the distortions reached training
    ckpt = tmp_path / "half.pt"
    first = core.Trainer(core.TrainConfig(**{**config, "steps": 3}, augment=Augmentation().to_dict(), checkpoint_path=str(ckpt)), train)
    for _ in first.run():
        pass
    rest = core.Trainer(core.TrainConfig(**config, augment=Augmentation().to_dict()), train, resume_from=ckpt)
    for _ in rest.run():
        pass
    for k, v in whole.learner.state_dict().items():
        assert torch.allclose(v.float(), rest.learner.state_dict()[k].float(), atol=1e-6), k
    assert math.isclose(whole.history["loss"][-1], rest.history["loss"][-1], rel_tol=1e-5)


def test_test_views_are_the_image_and_fixed_distortions_alike_for_every_image():
    from core.augment import test_views

    x = torch.rand(3, 1, 28, 28)
    assert torch.equal(test_views(x, 1), x.unsqueeze(0))
    v = test_views(x, 5)
    assert v.shape == (5, 3, 1, 28, 28) and torch.equal(v[0], x)
    assert torch.equal(v, test_views(x, 5))  # the same views on every call
    # image 1 alone gets the views it gets beside others: the distortions do not depend on the batch
    assert torch.allclose(test_views(x[1:2], 5)[:, 0], v[:, 1])
    assert not torch.allclose(v[1], x)


def test_protonet_test_views_average_the_embedding_at_test_time_only():
    torch.manual_seed(0)
    learner = core.create("protonet", {"hidden": 8, "test_views": 4}, core.InputSpec(size=(28, 28)))
    x = torch.rand(6, 1, 28, 28)
    learner.eval()
    with torch.no_grad():
        averaged = learner.embed(x)
        by_hand = learner.encoder(core.augment.test_views(x, 4).flatten(0, 1)).view(4, 6, -1).mean(0)
        assert torch.allclose(averaged, by_hand, atol=1e-6)
        assert not torch.allclose(averaged, learner.encoder(x), atol=1e-4)
    learner.train()
    assert torch.equal(learner.embed(x), learner.encoder(x))  # training sees each image once


def test_the_training_header_says_the_drawings_are_distorted(tmp_path, capsys, blank_generator):
    from core.tools.cli import main

    args = ["train", "-a", "protonet", "--source", "builtin", "--steps", "1", "--val-episodes", "0", "--train-way", "5", "--hp", "hidden=8"]
    assert main([*args, "--augment", "affine", "--out", str(tmp_path / "a.pt")]) == 0
    assert "with distorted drawings (affine)" in capsys.readouterr().out.splitlines()[0]
    assert main([*args, "--out", str(tmp_path / "b.pt")]) == 0
    assert "distorted" not in capsys.readouterr().out.splitlines()[0]
