"""Episodes as pictures: the images are exactly the sampler's episode i, the training stream is the
one the Trainer used at each step (also after a resume), and the PNG grid draws them."""
import numpy as np
import pytest
import torch
from PIL import Image

import core
from core.episodes import TEST_SEED, VAL_SEED


@pytest.fixture(scope="module")
def glyph_source():
    """10 built-in test characters (× 4 rotations), 6 drawings each."""
    return core.builtin_split("test", 10, n_instances=6)


def assert_same_episode(a, b):
    for name in ("support_x", "support_y", "query_x", "query_y"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name
    assert a.class_names == b.class_names


def test_the_pictures_are_exactly_the_samplers_episode_i(glyph_source):
    sampler = core.EpisodeSampler(glyph_source, 4, 2, 3, seed=TEST_SEED)
    for i in (0, 7, 123):
        pics = core.episode_images(sampler, i)
        assert pics.support.dtype == np.uint8 and pics.support.shape == (8, 1, 28, 28) and pics.query.shape == (12, 1, 28, 28)
        assert (pics.index, pics.seed, pics.n_way, pics.k_shot, pics.q_query) == (i, TEST_SEED, 4, 2, 3)
        assert_same_episode(pics.episode(), sampler.episode(i))  # the same tensors the model is given
        assert pics.support_labels.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    # stepping is deterministic: the same index gives the same pictures, another index others
    a, b, c = (core.episode_images(sampler, i) for i in (5, 5, 6))
    assert np.array_equal(a.support, b.support) and np.array_equal(a.query, b.query) and a.class_ids == b.class_ids
    assert a.class_ids != c.class_ids
    with pytest.raises(core.ConfigError, match="count from 0"):
        core.episode_images(sampler, -1)


def test_each_class_says_where_it_comes_from_and_its_rotation(glyph_source):
    pics = core.episode_images(core.EpisodeSampler(glyph_source, 5, 1, 2, seed=3), 11)
    assert pics.rotations is not None and any(r for r in pics.rotations)
    for n, (cid, rot) in enumerate(zip(pics.class_ids, pics.rotations)):
        base, r = divmod(cid, glyph_source.rotations)
        assert rot == 90 * r and pics.base_names[n] == glyph_source.base_names[base]
        assert pics.class_names[n] == glyph_source.class_name(cid) and f"id {cid}, rotated {rot}°" in pics.class_label(n)
        # the support image is the base class's image turned by that rotation
        row = int(glyph_source.starts[base])
        upright = glyph_source.images[row:row + int(glyph_source.counts[base])]
        turned = torch.rot90(upright, r, dims=(-2, -1)).numpy()
        assert any(np.array_equal(pics.support[n], img) for img in turned)
    # a source without rotations says so
    plain = core.builtin_split("test", 6, n_instances=4)
    plain = core.ClassSource(plain.images, plain.counts, plain.base_names, plain.spec, rotations=1)
    p = core.episode_images(core.EpisodeSampler(plain, 3, 1, 1), 0)
    assert p.rotations is None and "rotated" not in p.class_label(0)


class Recording:
    """Wraps a learner: the episodes it meta-trains on (per step) and adapts to, in order."""

    def __init__(self, learner):
        self.steps, self.adapted = [], []
        train_step, adapt = learner.meta_train_step, learner.adapt

        def meta_train_step(tasks):
            self.steps.append([t.to("cpu") for t in tasks])
            return train_step(tasks)

        def adapt_(sx, sy):
            self.adapted.append((sx.cpu(), sy.cpu()))
            return adapt(sx, sy)

        learner.meta_train_step, learner.adapt = meta_train_step, adapt_


def test_the_training_stream_is_what_the_trainer_used_at_each_step_also_after_a_resume(glyph_source, tmp_path):
    config = core.TrainConfig(algorithm="protonet", hparams={"hidden": 8}, n_way=3, k_shot=1, q_query=2, train_way=4, train_shot=2,
                              train_query=1, meta_batch=2, steps=2, seed=5, val_every=100, val_episodes=3, device="cpu",
                              checkpoint_path=str(tmp_path / "m.pt"))
    trainer = core.Trainer(config, glyph_source, glyph_source)
    rec = Recording(trainer.learner)
    progress = list(trainer.run())
    stream = core.EpisodeStream.of_trainer(trainer)
    assert (stream.kind, stream.seed, stream.n_way, stream.k_shot, stream.q_query, stream.meta_batch) == ("train", 5, 4, 2, 1, 2)
    assert list(stream.step_indices(2)) == [2, 3]
    sampler = stream.sampler(glyph_source)
    for step, tasks in enumerate(rec.steps, start=1):
        for task, i in zip(tasks, stream.step_indices(step), strict=True):
            assert_same_episode(core.episode_images(sampler, i).episode(), task)
    # the validation stream is the one Trainer.validate scored (its last validation: 3 episodes)
    val = core.EpisodeStream.validation(config)
    assert (val.seed, val.n_way, val.k_shot, val.q_query) == (VAL_SEED, 3, 1, 2) and progress[-1].val_accuracy is not None
    val_sampler = val.sampler(glyph_source)
    for i, (sx, sy) in enumerate(rec.adapted[-3:]):
        assert torch.equal(core.episode_images(val_sampler, i).episode().support_x, sx)
    # resumed for two more steps, the stream goes on: steps 3 and 4 are episodes 4..7
    more = core.TrainConfig(**{**config.to_dict(), "steps": 4})
    resumed = core.Trainer(more, glyph_source, None, resume_from=tmp_path / "m.pt")
    rec2 = Recording(resumed.learner)
    list(resumed.run())
    stream2 = core.EpisodeStream.of_trainer(resumed)
    assert stream2 == stream and [list(stream2.step_indices(s)) for s in (3, 4)] == [[4, 5], [6, 7]]
    for step, tasks in zip((3, 4), rec2.steps, strict=True):
        for task, i in zip(tasks, stream2.step_indices(step), strict=True):
            assert_same_episode(core.episode_images(sampler, i).episode(), task)
    # plain data for the app's project and threads
    assert core.EpisodeStream.from_dict(stream.to_dict()) == stream
    assert core.EpisodeStream.test(5, 1, 15) == core.EpisodeStream("test", TEST_SEED, 5, 1, 15)
    with pytest.raises(core.ConfigError, match="count from 1"):
        stream.step_indices(0)


def assert_drawn(sheet, pics, paper: bool = True):
    """Every support and query image of `pics` is on the PNG `sheet` at scale 1 (`paper`: ink dark
    on white, the spec's inversion undone)."""
    sheet = np.asarray(sheet.convert("L"))
    h, w = pics.spec.size
    for img in list(pics.support) + list(pics.query):
        tile = 255 - img[0] if paper else img[0]
        hits = [(y, x) for y, x in zip(*np.nonzero(sheet[:-h + 1, :-w + 1] == tile[0, 0]))
                if np.array_equal(sheet[y:y + h, x:x + w], tile)]
        assert hits, "an episode image is missing from the grid"


def test_the_png_grid_draws_every_image_beside_its_class(glyph_source, tmp_path):
    sampler = core.EpisodeStream.test(3, 2, 2).sampler(glyph_source)
    pics = [core.episode_images(sampler, i) for i in range(3)]
    one = Image.open(core.write_episode_grid(pics[:1], tmp_path / "one.png", scale=1))
    tiled = Image.open(core.write_episode_grid(pics, tmp_path / "three.png", scale=1, columns=2, title="three episodes"))
    stacked = Image.open(core.write_episode_grid(pics, tmp_path / "stacked.png", scale=2))
    assert one.format == "PNG" and tiled.width > one.width and tiled.height > one.height
    assert stacked.height > 3 * one.height and stacked.width > one.width  # twice the scale, three rows
    assert_drawn(one, pics[0])
    with pytest.raises(core.ConfigError, match="no episodes"):
        core.write_episode_grid([], tmp_path / "none.png")
