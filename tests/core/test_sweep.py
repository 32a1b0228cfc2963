"""The shot/way sweep: its points are `evaluate()`'s numbers on the same episodes, models are
paired, a cancelled sweep keeps what finished, a model's and a source's limits are respected, and
the result survives JSON and CSV."""
import csv
import math

import pytest
import torch

import core
from core.sources.catalogue import BUILTIN_SPEC
from core.studies.sweeping import DEFAULT_WAYS


@pytest.fixture(scope="module")
def glyph_source():
    """12 built-in test characters (× 4 rotations = 48 classes), 8 drawings each."""
    return core.builtin_split("test", 12, n_instances=8)


def tiny(name: str, n_way: int = 5, seed: int = 0, **hp):
    torch.manual_seed(seed)
    return core.create(name, {"hidden": 8, **hp}, BUILTIN_SPEC, n_way)


class Restless(core.ALGORITHMS["protonet"]):
    """A ProtoNet whose adapt() moves a buffer and draws from the global random stream."""

    def __init__(self):
        super().__init__(core.ALGORITHMS["protonet"].HParams(hidden=8), BUILTIN_SPEC, 5)
        self.register_buffer("counter", torch.zeros(()))
        self.calls = 0

    def adapt(self, support_x, support_y):
        self.calls += 1
        self.counter += torch.rand(())
        return super().adapt(support_x, support_y)


def test_the_5_way_1_shot_point_equals_evaluate_on_the_same_episodes(glyph_source):
    learner = tiny("protonet")
    result = core.sweep(learner, glyph_source, core.SweepConfig(shots=[1, 2], ways=[3, 5], q_query=4, episodes=6))
    assert result.status == "done" and len(result.points) == 4
    p = result.point("protonet", 5, 1)
    ev = core.evaluate(learner, glyph_source, n_way=5, k_shot=1, q_query=4, episodes=6)  # seed: TEST_SEED, as the sweep's default
    assert p.per_episode == ev.per_episode and (p.mean, p.ci95) == (ev.mean, ev.ci95)
    # every other point too: the sweep is evaluate() at each (ways, shots)
    for q in result.points:
        assert q.per_episode == core.evaluate(learner, glyph_source, q.n_way, q.k_shot, q.q_query, 6).per_episode
    # and `each_query` scores as evaluate(each_query=True) does (the transductive case is where it differs)
    maml = tiny("maml", bn_mode="transductive", inner_steps_test=1)
    each = core.sweep(maml, glyph_source, core.SweepConfig(shots=[1], ways=[5], q_query=3, episodes=3, each_query=True))
    assert each.points[0].per_episode == core.evaluate(maml, glyph_source, 5, 1, 3, 3, each_query=True).per_episode


def test_several_models_see_the_same_episodes_paired(glyph_source):
    a, b = tiny("protonet", seed=1), tiny("matching", seed=2)
    config = core.SweepConfig(shots=[1, 3], ways=[2, 4], q_query=2, episodes=4)
    both = core.sweep({"A": a, "B": b}, glyph_source, config)
    alone = core.sweep({"B": b}, glyph_source, config)
    assert both.models == ["A", "B"] and both.titles == {"A": a.title, "B": b.title}
    for p in alone.points:  # B's numbers do not depend on running after A: the same episodes, scored alike
        assert both.point("B", p.n_way, p.k_shot).per_episode == p.per_episode
    # unlabelled learners are named by their algorithm
    assert core.sweep([a, tiny("protonet", seed=3)], glyph_source, config).models == ["protonet", "protonet#2"]


def test_progress_counts_every_episode_and_ends_done(glyph_source):
    s = core.Sweep(tiny("protonet"), glyph_source, core.SweepConfig(shots=[1, 2], ways=[2], q_query=2, episodes=3))
    progress = list(s.run())
    assert len(progress) == 2 * 3 + 1 and progress[-1].status == "done" and progress[-1].fraction == 1.0
    fractions = [p.fraction for p in progress]
    assert fractions == sorted(fractions) and fractions[0] == pytest.approx(1 / 6)
    assert [p.episode for p in progress[:3]] == [1, 2, 3] and progress[2].accuracy == pytest.approx(s.result.points[0].mean)
    assert progress[0].to_dict()["fraction"] == pytest.approx(1 / 6)


def test_cancel_mid_sweep_keeps_the_finished_points(glyph_source):
    learner = tiny("protonet")
    config = core.SweepConfig(shots=[1, 2, 3], ways=[2], q_query=2, episodes=4)
    full = core.sweep(learner, glyph_source, config)
    cancel = core.CancelToken()
    s = core.Sweep(learner, glyph_source, config, cancel=cancel)
    seen = []
    for p in s.run():
        seen.append(p)
        if p.point == 1 and p.episode == 2:  # half-way through the second point
            cancel.cancel()
    r = s.result
    assert seen[-1].status == "cancelled" and r.status == "cancelled"
    assert [p.status for p in r.points] == ["done", "stopped", "pending"]
    assert r.points[0].per_episode == full.points[0].per_episode  # kept, and the same numbers
    assert r.points[1].per_episode == [] and "stopped after 2 of 4 episodes" in r.points[1].message
    md = r.markdown()
    assert "— (stopped)" in md and "— (pending)" in md and "was stopped" in md
    assert r.shot_curve("protonet", 2) == [r.points[0]]  # curves hold finished points only


def test_ways_are_capped_by_what_the_model_and_the_source_support(glyph_source):
    maml = tiny("maml", n_way=5, bn_mode="transductive")  # one head output per training way: 5 at most; BatchNorm in train mode at test
    proto = tiny("protonet")
    maml.eval()
    assert core.way_limit(maml, [2, 5, 10, 20]) == 5 and core.way_limit(proto, [2, 5, 10, 20]) == 20
    assert not maml.training  # its adapt() switched BatchNorm to train mode; asking restored the mode
    # asking changes neither the model's weights and buffers nor the random stream, even for a
    # learner whose adapt() does (none of the ten does today: a guard for the next one)
    restless = Restless()
    before = {k: v.clone() for k, v in restless.state_dict().items()}
    rng = torch.random.get_rng_state()
    assert core.way_limit(restless, [2, 5]) == 5 and restless.calls == 1
    assert all(torch.equal(v, restless.state_dict()[k]) for k, v in before.items())
    assert torch.equal(rng, torch.random.get_rng_state())
    # default ways: DEFAULT_WAYS up to the source's 48 classes and what some model supports
    config = core.SweepConfig(shots=[1], q_query=2, episodes=1)
    assert core.Sweep(maml, glyph_source, config).result.ways == [2, 5]
    assert core.Sweep([maml, proto], glyph_source, config).result.ways == [n for n in DEFAULT_WAYS if n <= 48]
    # asked for explicitly: a model's impossible points are marked with its reason, the others run
    r = core.sweep({"maml": maml, "proto": proto}, glyph_source, core.SweepConfig(shots=[1], ways=[5, 10], q_query=2, episodes=2))
    assert r.point("maml", 5, 1).finished and r.point("proto", 10, 1).finished
    bad = r.point("maml", 10, 1)
    assert bad.status == "unsupported" and "meta-trained for 5-way" in bad.message and "meta-trained for 5-way" in r.markdown()
    # no model can: one clear error before any work
    with pytest.raises(core.ConfigError, match="meta-trained for 5-way"):
        core.Sweep(maml, glyph_source, core.SweepConfig(shots=[1], ways=[10], episodes=1))


def test_a_source_too_small_is_a_clear_error_and_queries_shrink_to_fit(glyph_source):
    proto = tiny("protonet")
    with pytest.raises(core.ConfigError, match="49-way episodes need 49 classes, the source has 48"):
        core.Sweep(proto, glyph_source, core.SweepConfig(ways=[5, 49], episodes=1))
    with pytest.raises(core.ConfigError, match="8-shot episodes need 9 images per class.*smallest class has 8"):
        core.Sweep(proto, glyph_source, core.SweepConfig(shots=[1, 8], ways=[5], episodes=1))
    for bad in (dict(shots=[0]), dict(ways=[1]), dict(q_query=0), dict(episodes=0)):
        with pytest.raises(core.ConfigError):
            core.Sweep(proto, glyph_source, core.SweepConfig(**bad))
    # default shots: those the 8 drawings a class can hold with a query (not 10)
    assert core.Sweep(proto, glyph_source, core.SweepConfig(ways=[5], episodes=1)).result.shots == [1, 2, 3, 5]
    # 8 drawings a class: 15 queries asked, 7 at 1-shot and 3 at 5-shot (K + Q fits the class)
    r = core.sweep(proto, glyph_source, core.SweepConfig(shots=[1, 5], ways=[2], q_query=15, episodes=2))
    assert [p.q_query for p in r.points] == [7, 3]
    assert "15 queries per class (7 at 1-shot, 3 at 5-shot: the classes hold too few images for more)" in r.markdown()


def test_result_round_trips_json_and_csv_and_reads_as_a_markdown_table(glyph_source, tmp_path):
    r = core.sweep({"A": tiny("protonet", seed=1), "B": tiny("maml", n_way=2)}, glyph_source,
                   core.SweepConfig(shots=[1, 2], ways=[2, 3], q_query=2, episodes=3))
    back = core.SweepResult.load_json(r.save_json(tmp_path / "s.json"))
    assert back.to_dict() == r.to_dict() and back.point("A", 3, 2).mean == r.point("A", 3, 2).mean
    assert core.SweepResult.from_dict(r.to_dict()).point("B", 3, 1).status == "unsupported"
    with pytest.raises(core.ConfigError, match="not a Few-Shot Studio sweep"):
        core.SweepResult.from_dict({"kind": "comparison"})
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(core.ConfigError, match="bad.json: cannot read a sweep"):
        core.SweepResult.load_json(tmp_path / "bad.json")
    with open(r.write_csv(tmp_path / "s.csv"), newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 8 and rows[0]["model"] == "A" and float(rows[0]["accuracy"]) == r.points[0].mean
    assert [row["accuracy"] for row in rows if row["status"] == "unsupported"] == ["", ""]
    md = r.markdown().splitlines()
    assert md[2] == "| model | ways | 1-shot | 2-shot |"
    a31 = r.point("A", 3, 1)
    assert f"| Prototypical Networks (`A`) | 3 | {100 * a31.mean:.2f} ± {100 * a31.ci95:.2f} |" in "\n".join(md)
    assert not math.isnan(a31.mean)
