"""The model-based learners explain what they compute: every number of a MANN or Meta Networks
explanation is checked against the model's own computation of the same prediction (replayed here
from the model's parts), so a picture that could disagree with the prediction fails a test."""
import dataclasses
import time

import pytest
import torch
import torch.nn.functional as F

import core
from core.episodes import Episode
from core.algorithms.mann import _ADAPT_ORDER_SEED, previous_labels
from core.algorithms.memory import write_weights
from core.algorithms.metanet import head_forward, unflatten_params
from core.explanation import Bars, Matrix, Points, SupportWeights

CLASSES = ["alpha", "beta", "gamma"]


def _episode(n_way=3, k=2, q=2, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = lambda n: torch.rand(n, 1, size, size, generator=g, dtype=torch.float64)  # noqa: E731
    return x(n_way * k), torch.arange(n_way).repeat_interleave(k), x(n_way * q)


def _parts(explanation, kind, title_start=""):
    return [p for p in explanation.parts if isinstance(p, kind) and p.title.startswith(title_start)]


def _mid_training(learner, episode, training):
    """One real training step first (it leaves gradients and optimizer moments behind, as in the
    middle of a run), then what explaining must leave alone: (gradients, weights, optimizer state)."""
    learner.meta_train_step([episode])
    learner.train(training)
    optim = learner.optimizer.state_dict()
    return ({n: p.grad.clone() for n, p in learner.named_parameters() if p.grad is not None},
            {k: v.clone() for k, v in learner.state_dict().items()},
            ({i: {k: v.clone() if torch.is_tensor(v) else v for k, v in st.items()} for i, st in optim["state"].items()}, str(optim["param_groups"])))


def _assert_untouched(learner, before, training):
    grads, state, (moments, groups) = before
    assert learner.training == training
    assert grads and all(torch.equal(grads[n], p.grad) for n, p in learner.named_parameters() if n in grads), "explaining changed a gradient"
    assert all((p.grad is None) == (n not in grads) for n, p in learner.named_parameters()), "explaining left a gradient"
    assert all(torch.equal(state[k], v) for k, v in learner.state_dict().items()), "explaining changed the model"
    optim = learner.optimizer.state_dict()
    assert moments and str(optim["param_groups"]) == groups and optim["state"].keys() == moments.keys()
    assert all(torch.equal(torch.as_tensor(v), torch.as_tensor(moments[i][k])) for i, st in optim["state"].items() for k, v in st.items()), "explaining touched the optimizer"


# -- Meta Networks -------------------------------------------------------------------------------

def _metanet(bn_mode, n_way=5):
    torch.manual_seed(0)
    m = core.create("metanet", {"hidden": 6, "fc_hidden": 7, "rep_dim": 5, "meta_hidden": 4, "bn_mode": bn_mode},
                    core.InputSpec(size=(16, 16)), n_way=n_way).double()
    # b's slow output layer starts at zero (uniform slow predictions); give it weights, so the
    # "slow weights only" bars are a prediction of their own that a mix-up would show
    torch.nn.init.normal_(m.b_head.fc2.weight, std=0.5)
    torch.nn.init.normal_(m.b_head.fc2.bias, std=0.5)
    return m


def _metanet_phases(m, support_x, support_y, query, n_way):
    """The support memory and the query's features, as adapt(...).classify_each computes them."""
    if m.hparams.bn_mode == "transductive":  # one pass over support + query, batch statistics
        m.train()
        x = torch.cat([support_x, query])
        fb, fu = m.b_trunk(x), m.u_trunk(x)
        s = len(support_x)
        return m.support_phase(fb[:s], fu[:s], support_y, n_way), fb[s:], fu[s:]
    m.eval()
    memory = m.support_phase(m.b_trunk(support_x), m.u_trunk(support_x), support_y, n_way)
    return memory, m.b_trunk(query), m.u_trunk(query)


@pytest.mark.parametrize("bn_mode", ["running", "transductive"])
@pytest.mark.parametrize("training", [True, False])
def test_metanet_explains_its_prediction_with_and_without_fast_weights_and_its_attention(bn_mode, training):
    m = _metanet(bn_mode)  # trained 5-way, explaining a 3-way task: b's output layer is sliced
    support_x, support_y, query_x = _episode()
    before = _mid_training(m, Episode(support_x, support_y, query_x, torch.arange(3).repeat_interleave(2), tuple(CLASSES)), training)
    explanations = core.explain(m, support_x, support_y, query_x, CLASSES)
    _assert_untouched(m, before, training)
    expected = core.probabilities(m, support_x, support_y, query_x)
    for e, query, probs in zip(explanations, query_x.split(1), expected):
        (bars,) = _parts(e, Bars, "With and without")
        (attention,) = _parts(e, SupportWeights)
        (by_class,) = _parts(e, Bars, "Attention by class")
        with_fast = torch.tensor(bars.series["with fast"], dtype=torch.float64)
        slow_only = torch.tensor(bars.series["slow only"], dtype=torch.float64)
        a = torch.tensor(attention.values, dtype=torch.float64)
        assert bars.categories == CLASSES == by_class.categories
        # with fast weights: the model's own prediction
        assert torch.allclose(with_fast, probs, rtol=0, atol=1e-9)
        with torch.no_grad():
            memory, fb, fu = _metanet_phases(m, support_x, support_y, query, 3)
            slow = m.b_head.slow(3)
            # without: the same network with the fast weights zeroed (the memory's values W*_i = 0)
            zeroed = m.query_phase(dataclasses.replace(memory, values=torch.zeros_like(memory.values)), fb, fu)
            assert torch.allclose(slow_only, F.softmax(zeroed, -1)[0], rtol=0, atol=1e-9)
            assert (slow_only - with_fast).abs().max() > 1e-3, "the fast weights make a visible difference here"
            # the attention is a distribution over the support set, and the one the model's read uses:
            # W*_j = aᵀ M with the explained a gives back the model's fast weights and so its prediction
            assert (a >= 0).all() and abs(float(a.sum()) - 1) < 1e-9
            assert torch.allclose(a, m.attention(memory, fu)[0], rtol=0, atol=1e-9)
            fast = unflatten_params(a.unsqueeze(0) @ memory.values, memory.shapes)
            assert all(torch.allclose(fast[k], v, rtol=0, atol=1e-9) for k, v in m.read(memory, fu).items())
            assert torch.allclose(F.softmax(head_forward(slow, fb, fast), -1)[0], probs, rtol=0, atol=1e-9)
            # the map: u's representations of the support images (the keys R) and of the query, with the
            # cosines the attention is the softmax of (times attention_scale)
            r = head_forward(m.u_head.slow(), fu, memory.task_fast)
            cos = F.cosine_similarity(r, memory.keys, dim=-1)
        (space,) = _parts(e, Points)
        assert [(i, j) for i, j, _ in space.links] == [(len(support_y), j) for j in range(len(support_y))]
        links = torch.tensor([v for _, _, v in space.links], dtype=torch.float64)
        assert torch.allclose(links, cos, rtol=0, atol=1e-9)
        assert torch.allclose(F.softmax(m.hparams.attention_scale * links, -1), a, rtol=0, atol=1e-9)
        coords, _ = core.pca_2d(F.normalize(torch.cat([memory.keys, r]), dim=-1))
        assert torch.allclose(torch.tensor([space.x, space.y], dtype=torch.float64).T, coords, rtol=0, atol=1e-9)
        assert space.group == support_y.tolist() + [-1] and space.kind_of[-1] == "query"
        # by class: the attention on each class's support images, added up
        assert torch.allclose(torch.tensor(by_class.series["attention"], dtype=torch.float64),
                              torch.zeros(3, dtype=torch.float64).index_add_(0, support_y, a), rtol=0, atol=1e-12)
        assert CLASSES[int(with_fast.argmax())] in bars.caption and CLASSES[int(by_class.series["attention"].index(max(by_class.series["attention"])))] in by_class.caption


# -- MANN ----------------------------------------------------------------------------------------

def _mann(**hp):
    torch.manual_seed(0)
    tiny = {"controller": 16, "memory_slots": 32, "memory_width": 8, "read_heads": 2, "image_size": 8, "cosine_scale": 5.0}
    return core.create("mann", {**tiny, **hp}, core.InputSpec(size=(16, 16)), n_way=5).double()


def _mann_replay(m, support_x, support_y, query):
    """The model's sequence for one query, one step at a time from the model's own parts: adapt()'s
    support order with labels one step late, then the query with the last support label. Per step:
    (write weights w^w_t [heads, slots] from the heads' gates, the controller state after the step)."""
    order = torch.randperm(len(support_y), generator=torch.Generator().manual_seed(_ADAPT_ORDER_SEED))
    ys = support_y[order]
    label_inputs = torch.cat([previous_labels(ys[None], m.hparams.classes)[0], F.one_hot(ys[-1:], m.hparams.classes).double()])
    state, steps = m.initial_state(1), []
    with torch.no_grad():
        for x, y in zip(torch.cat([support_x[order], query]), label_inputs):
            _, new = m.run(x[None, None], y[None, None], state)
            gates = m.heads(new.h)[:, -m.hparams.read_heads:]
            steps.append((write_weights(gates, state.memory.read_weights, state.memory.least_used)[0], torch.sigmoid(gates[0]), new))
            state = new
    return order, steps


def _rows(name):
    """The memory rows a column names: "row 7", "rows 4–7, 9"."""
    rows = []
    for part in name.split(" ", 1)[1].split(", "):
        a, _, b = part.partition("–")
        rows += list(range(int(a), int(b or a) + 1))
    return rows


@pytest.mark.parametrize("columns, heads", [(16, 2), (3, 2), (16, 1)])  # 3 columns: most rows are hidden, added up in the last one
def test_mann_explains_its_memory_reads_and_writes_as_the_model_computes_them(columns, heads):
    m = _mann(read_heads=heads)
    m.explained_columns = columns
    support_x, support_y, query_x = _episode(k=2)
    before = _mid_training(m, Episode(support_x, support_y, support_x[:0], support_y[:0], tuple(CLASSES)), True)  # a sequence: no queries
    explanations = core.explain(m, support_x, support_y, query_x, CLASSES)
    _assert_untouched(m, before, True)
    gamma, slots = m.hparams.gamma, m.hparams.memory_slots
    for e, query in zip(explanations, query_x.split(1)):
        m.eval()
        order, steps = _mann_replay(m, support_x, support_y, query)
        h, last = steps[-1][2].h, steps[-1][2].memory
        # the query's read-out, o = softmax(W_o [h; r]) with r = Σ_i w^r(i) M(i), is the model's prediction
        reads = (last.read_weights @ last.memory).flatten(1)
        probs = F.softmax(m.output(torch.cat([h, reads], -1))[0, :3], -1)
        assert torch.allclose(torch.tensor(e.probabilities, dtype=torch.float64), probs, rtol=0, atol=1e-9)

        write, read, usage = (_parts(e, Matrix, t)[0] for t in ("Write weights", "Read weights", "Memory usage"))
        (lands,) = _parts(e, Bars, "Where the query")
        assert write.rows == read.rows == usage.rows and len(read.rows) == len(steps) == len(support_y) + 1
        for t, i in enumerate(order.tolist()):  # the sequence as the model saw it
            assert read.rows[t].endswith(f"support {i} ({CLASSES[support_y[i]]})")
        assert read.rows[-1].endswith("query")
        groups = [_rows(c) for c in usage.columns]
        hidden = sorted(set(range(slots)) - {i for g in groups for i in g})
        everything = groups + ([hidden] if hidden else [])
        assert sorted(i for g in everything for i in g) == list(range(slots)), "every memory row in exactly one column"
        assert len(groups) <= columns and bool(hidden) == (columns == 3)
        assert read.columns == write.columns == usage.columns + ([f"other {len(hidden)} rows"] if hidden else [])
        for t, (ww, gate, after) in enumerate(steps):
            wr = after.memory.read_weights[0]  # [heads, slots]
            # read weights: the heads' mean, a distribution over all rows (the hidden ones in the last column)
            assert torch.allclose(torch.tensor(read.values[t], dtype=torch.float64), torch.stack([wr.mean(0)[g].sum() for g in everything]), rtol=0, atol=1e-9)
            assert min(read.values[t]) >= 0 and abs(sum(read.values[t]) - 1) < 1e-9
            # write weights, all heads together; head h writes σ(α_h) of its last read (which sums to 1,
            # 0 before the first read) and 1 − σ(α_h) to each of the `heads` least-used rows
            assert torch.allclose(torch.tensor(write.values[t], dtype=torch.float64), torch.stack([ww.sum(0)[g].sum() for g in everything]), rtol=0, atol=1e-9)
            last_read = 0.0 if t == 0 else 1.0
            assert min(write.values[t]) >= 0 and abs(sum(write.values[t]) - float((gate * last_read + (1 - gate) * heads).sum())) < 1e-9
            # usage: the model's own (rows of a column are copies: the same usage)
            u = after.memory.usage[0]
            assert torch.allclose(torch.tensor(usage.values[t], dtype=torch.float64), torch.stack([u[g].mean() for g in groups]), rtol=0, atol=1e-9)
            for c, g in enumerate(groups):  # and LRUA's update, from the explanation's own numbers
                before = usage.values[t - 1][c] if t else 0.0
                assert abs(usage.values[t][c] - (gamma * before + (heads * read.values[t][c] + write.values[t][c]) / len(g))) < 1e-9
        # a column's rows are copies: the same writes, reads and usage at every step
        history = torch.stack([torch.stack([ww.sum(0), after.memory.read_weights[0].mean(0), after.memory.usage[0]]) for ww, _, after in steps])
        assert heads == 1 or any(len(g) > 1 for g in groups), "the heads write their least-used rows together"
        for g in groups:  # [T, 3, rows]
            assert torch.allclose(history[..., g], history[..., g[:1]].expand(-1, -1, len(g)), rtol=1e-6, atol=1e-9)
        # the query's read, added up by class: each row counted for the support image that wrote it
        # most; the rows the query's own step wrote most, and rows hardly written, are left out (the
        # caption counts them), so the bars are the classes' alone and all of it adds up to 1
        q = steps[-1][2].memory.read_weights[0].mean(0)
        written = torch.stack([ww.sum(0) for ww, _, _ in steps])
        whose = [CLASSES[support_y[i]] for i in order.tolist()] + ["the query"]
        shares = {name: 0.0 for name in CLASSES + ["the query", "nobody"]}
        for r in range(slots):
            shares[whose[int(written[:, r].argmax())] if written[:, r].max() >= 0.05 else "nobody"] += float(q[r])
        assert lands.categories == CLASSES
        assert lands.series["read weight"] == pytest.approx([shares[c] for c in CLASSES], abs=1e-9)
        assert f"Left out: {shares['the query']:.2f} on the rows the query wrote itself" in lands.caption
        assert f"and {shares['nobody']:.2f} on rows hardly written" in lands.caption
        assert sum(shares.values()) == pytest.approx(1.0, abs=1e-9)
        top = max(CLASSES, key=lambda c: shares[c])
        predicted = CLASSES[max(range(3), key=lambda c: e.probabilities[c])]
        assert f"it read most from {top}'s rows ({shares[top]:.2f}) {'and' if top == predicted else 'yet'} answers {predicted}" in lands.caption
        # each class's score split into the controller's part W_o,h h, the read's part W_o,r r and the
        # bias: exactly the output layer's terms, adding up to the score the softmax turns into e's probabilities
        (split,) = _parts(e, Bars, "Why ")
        n_h = m.hparams.controller
        expected = {"from the controller": m.output.weight[:3, :n_h] @ h[0], "from what it read": m.output.weight[:3, n_h:] @ reads[0],
                    "bias": m.output.bias[:3]}
        assert split.categories == CLASSES and list(split.series) == list(expected)
        for name, values in expected.items():
            assert split.series[name] == pytest.approx(values.tolist(), abs=1e-12)
        scores = torch.tensor([sum(v[c] for v in split.series.values()) for c in range(3)], dtype=torch.float64)
        assert torch.allclose(F.softmax(scores, -1), torch.tensor(e.probabilities, dtype=torch.float64), rtol=0, atol=1e-9)
        ranked = sorted(range(3), key=lambda c: -float(scores[c]))
        assert split.title == f"Why {CLASSES[ranked[0]]}: each class's score, split"
        leads = {k: v[ranked[0]] - v[ranked[1]] for k, v in split.series.items()}
        assert f"beats {CLASSES[ranked[1]]}'s by {float(scores[ranked[0]] - scores[ranked[1]]):.2f}" in split.caption
        assert ", ".join(f"{v:+.2f} {k}" for k, v in leads.items()) in split.caption
        most = max(leads, key=lambda k: leads[k])
        assert (f"most of the lead comes {most}." if most != "bias" else "the bias, not this support set") in split.caption


def test_the_shipped_mann_shows_where_the_querys_read_lands_by_class_without_its_own_rows():
    """A trained MANN's query reads most from the rows it has just written itself (it writes, then
    reads with the same key): shown, they were the largest bar and explained nothing of its answer.
    Left out, the bars are the classes', and the class it read most from is mostly its answer."""
    models = core.starter_models()
    if "mann" not in models:
        pytest.skip("no MANN starter model is shipped")
    learner, _ = core.load_checkpoint(models["mann"], "cpu")
    sampler = core.EpisodeSampler(core.open_source("builtin", "test", n_classes=40), 5, 1, 1, seed=3)
    agree = total = 0
    for i in range(20):
        ep = sampler.episode(i)
        for e in core.explain(learner, ep.support_x, ep.support_y, ep.query_x, list("abcde")):
            (lands,) = _parts(e, Bars, "Where the query")
            assert lands.categories == list("abcde")  # no bar for the query's own rows
            bars = lands.series["read weight"]
            agree += max(range(5), key=lambda c: bars[c]) == max(range(5), key=lambda c: e.probabilities[c])
            total += 1
    print(f"the class read most from is the answer for {agree} of {total} queries")
    assert agree >= 0.75 * total


@pytest.mark.parametrize("name", ["mann", "metanet"])
def test_explaining_a_default_size_model_takes_a_moment(name, small_real_sources):
    train, _ = small_real_sources
    learner = core.create(name, None, train.spec, n_way=5)
    ep = core.EpisodeSampler(train, 5, 1, 1, seed=0).episode(0)
    start = time.perf_counter()
    (e,) = core.explain(learner, ep.support_x, ep.support_y, ep.query_x[:1], list("abcde"))
    print(f"{name}: one query explained in {time.perf_counter() - start:.3f} s")  # information, not a verdict
    assert e.parts
