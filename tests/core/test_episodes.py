import pytest
import torch

import core


def test_same_seed_same_episodes_and_random_access(small_real_sources):
    train, _ = small_real_sources
    a = core.EpisodeSampler(train, 5, 2, 3, seed=11)
    b = core.EpisodeSampler(train, 5, 2, 3, seed=11)
    for _ in range(3):
        ea, eb = a.next(), b.next()
        assert torch.equal(ea.support_x, eb.support_x) and torch.equal(ea.query_x, eb.query_x)
        assert ea.class_names == eb.class_names
    assert torch.equal(core.EpisodeSampler(train, 5, 2, 3, seed=11).episode(2).query_x, ea.query_x)
    other = core.EpisodeSampler(train, 5, 2, 3, seed=12).episode(0)
    assert not torch.equal(other.support_x, a.episode(0).support_x)


def test_labels_shapes_and_no_support_query_overlap(small_real_sources):
    train, _ = small_real_sources
    s = core.EpisodeSampler(train, n_way=7, k_shot=3, q_query=4, seed=0)
    for i in range(20):
        ep = s.episode(i)
        assert ep.support_x.shape == (21, 1, 28, 28) and ep.query_x.shape == (28, 1, 28, 28)
        assert ep.support_y.tolist() == [c for c in range(7) for _ in range(3)]
        assert ep.query_y.tolist() == [c for c in range(7) for _ in range(4)]
        assert len(set(ep.class_names)) == 7
        for c in range(7):
            sup = ep.support_x[ep.support_y == c].flatten(1)
            qry = ep.query_x[ep.query_y == c].flatten(1)
            # no image appears twice within an episode (support vs query, or inside either)
            allx = torch.cat([sup, qry])
            assert torch.cdist(allx, allx).add(torch.eye(len(allx)) * 1e9).min() > 0


def test_resume_continues_the_same_stream(small_real_sources):
    train, _ = small_real_sources
    full = core.EpisodeSampler(train, 5, 1, 2, seed=3)
    straight = [full.next().query_x for _ in range(6)]
    first = core.EpisodeSampler(train, 5, 1, 2, seed=3)
    first.take(4)
    resumed = core.EpisodeSampler(train, 5, 1, 2, seed=3)
    resumed.load_state_dict(first.state_dict())
    assert torch.equal(resumed.next().query_x, straight[4]) and torch.equal(resumed.next().query_x, straight[5])


def test_variable_class_sizes_only_pick_own_images():
    imgs = torch.arange(6, dtype=torch.uint8).view(6, 1, 1, 1).expand(6, 1, 2, 2).contiguous()
    src = core.ClassSource(imgs, [2, 4], ["a", "b"], core.InputSpec(size=(2, 2), invert=False))
    s = core.EpisodeSampler(src, 2, 1, 1, seed=0)
    for i in range(30):
        ep = s.episode(i)
        vals = (torch.cat([ep.support_x, ep.query_x]) * 255).round().view(-1, 4)[:, 0]
        names = ep.class_names
        a_rows = [v for v, y in zip(vals.tolist(), ep.support_y.tolist() + ep.query_y.tolist()) if names[y] == "a"]
        assert set(a_rows) <= {0, 1}


def _grouped_source(sizes):
    """A source with groups ("alphabet") of the given numbers of classes, two images a class."""
    names = [f"alpha{g}/char{c}" for g, n in enumerate(sizes) for c in range(n)]
    images = torch.arange(2 * len(names), dtype=torch.uint8).view(-1, 1, 1, 1).expand(-1, 1, 4, 4).contiguous()
    return core.ClassSource(images, [2] * len(names), names, core.InputSpec(size=(4, 4)))


def test_within_group_episodes_take_all_their_classes_from_one_group_big_enough():
    src = _grouped_source([3, 6, 10])  # group 0 is too small for 5 ways
    s = core.EpisodeSampler(src, 5, 1, 1, seed=0, within="group")
    seen = []
    for i in range(400):
        groups = {name.split("/")[0] for name in s.episode(i).class_names}
        assert len(groups) == 1
        seen.append(groups.pop())
    # drawn in proportion to their classes: 6 : 10
    assert "alpha0" not in seen and abs(seen.count("alpha2") / len(seen) - 10 / 16) < 0.07
    assert core.EpisodeSampler(src, 5, 1, 1, seed=0, within="group").episode(3).class_names == s.episode(3).class_names


def test_within_group_counts_a_classs_rotations_in_its_group_and_says_when_none_is_big_enough(small_real_sources):
    src = _grouped_source([3, 4])
    src.rotations = 4  # 12 and 16 classes
    ep = core.EpisodeSampler(src, 14, 1, 1, seed=0, within="group").episode(0)
    assert {n.split("/")[0] for n in ep.class_names} == {"alpha1"}
    with pytest.raises(core.SourceError, match="no group \\(alphabet\\) holds 17 classes; the largest holds 16"):
        core.EpisodeSampler(src, 17, 1, 1, within="group")
