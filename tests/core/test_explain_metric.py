"""The metric learners' explanations show the numbers the model itself computes for the query.

Every check compares a picture with what the model computed while classifying: forward hooks
record the embeddings / the relation module's and the Siamese head's outputs during
`core.probabilities` (the same `adapt(...).classify_each` the app uses), and the explanation's
numbers must match them and give the predicted probabilities. Tiny models (hidden=8) on a real
Omniglot episode; the learner is left in training mode, as in the middle of training, so an
explanation computed in the wrong BatchNorm mode disagrees and fails.
"""
import time

import pytest
import torch
import torch.nn.functional as F

import core
from core.algorithms.siamese import near_square_grid
from core.explanation import Bars, Images, Points, SupportWeights

CLASSES = ["alpha", "beta", "gamma"]


@pytest.fixture(scope="module")
def episode(small_real_sources):
    """3-way 2-shot with 2 queries per class, real characters."""
    train, _ = small_real_sources
    return core.EpisodeSampler(train, 3, 2, 2, seed=0).episode(0)


def _learner(name, hparams, ep):
    """A tiny learner whose BatchNorm running statistics are not the initial ones (so running and
    batch statistics really differ), left in training mode."""
    learner = core.create(name, {"hidden": 8, **hparams}, core.InputSpec(), n_way=5)
    learner.train()
    with torch.no_grad():
        for _ in range(3):
            learner.episode_log_probs(ep.support_x, ep.support_y, ep.query_x, 3)
    return learner


def _recorded(module, hook_input=False):
    """Run-and-record: a list that fills with `module`'s outputs (or first inputs) on every call."""
    seen = []
    if hook_input:
        handle = module.register_forward_pre_hook(lambda m, args: seen.append(args[0].detach().clone()))
    else:
        handle = module.register_forward_hook(lambda m, args, out: seen.append(out.detach().clone()))
    return seen, handle


def _explain_and_record(learner, ep, module, *more_modules, hook_input=False):
    """(explanations of every query, probabilities, what `module` (then each of `more_modules`) saw
    while the model classified them)."""
    recorded = [_recorded(m, hook_input) for m in (module, *more_modules)]
    try:
        probs = core.probabilities(learner, ep.support_x, ep.support_y, ep.query_x)
    finally:
        for _, handle in recorded:
            handle.remove()
    learner.train()
    explanations = core.explain(learner, ep.support_x, ep.support_y, ep.query_x, CLASSES)
    assert learner.training, "explaining left the model in another mode"
    for e, p in zip(explanations, probs):
        assert torch.allclose(torch.tensor(e.probabilities, dtype=torch.float64), p, atol=1e-6)
    return (explanations, probs, *[seen for seen, _ in recorded])


def _per_query(learner, seen, n_support):
    """[(support rows, query row)] per query from recorded embeddings: with transductive BatchNorm
    every query went through the network with the support set (one record each), else the support
    set went once and the queries once together."""
    if learner.transductive:
        return [(rec[:n_support], rec[n_support:]) for rec in seen]
    support, queries = seen
    return [(support, q.unsqueeze(0)) for q in queries]


def _part(e, cls, title_word):
    found = [p for p in e.parts if isinstance(p, cls) and title_word in p.title.lower()]
    assert len(found) == 1, f"one {cls.__name__} about {title_word!r} in {[p.title for p in e.parts]}"
    return found[0]


def _t(values):
    return torch.tensor(values, dtype=torch.float64)


# -- Prototypical Networks ---------------------------------------------------------------------------

@pytest.mark.parametrize("bn_mode,distance", [("running", "squared"), ("transductive", "squared"), ("running", "euclidean")])
def test_protonet_shows_the_prototypes_and_squared_distances_it_classifies_with(episode, bn_mode, distance):
    ep = episode
    learner = _learner("protonet", {"bn_mode": bn_mode, "distance": distance}, ep)
    explanations, probs, seen = _explain_and_record(learner, ep, learner.encoder)
    n_s = len(ep.support_x)
    for e, (support_emb, query_emb) in zip(explanations, _per_query(learner, seen, n_s)):
        protos = torch.stack([support_emb[ep.support_y == c].mean(0) for c in range(3)])
        d2 = ((query_emb - protos) ** 2).sum(-1).double()
        if distance == "euclidean":
            d2 = d2.sqrt()  # easyfsl's scores: ‖f(x) − c_k‖
        bars = _part(e, Bars, "distance")
        assert bars.categories == CLASSES
        distances = _t(bars.series["distance²" if distance == "squared" else "distance"])
        assert torch.allclose(distances, d2, rtol=1e-4, atol=1e-4), "the distances are the model's ‖f(x) − c_k‖²"
        assert torch.allclose(F.softmax(-distances, -1), _t(e.probabilities), atol=1e-4), "softmax(−d²) is the prediction"
        assert int(distances.argmin()) == e.predicted, "the nearest prototype is the predicted class"

        space = _part(e, Points, "embedding")
        assert space.kind_of == ["support"] * n_s + ["prototype"] * 3 + ["query"]
        assert space.group == ep.support_y.tolist() + [0, 1, 2] + [-1]
        xy = _t([space.x, space.y]).T
        # The map is the PCA of exactly the model's embeddings: support, class means, query.
        assert torch.allclose(xy, core.pca_2d(torch.cat([support_emb, protos, query_emb]))[0], atol=1e-4)
        # A projection is affine, so each prototype's point is the mean of its class's support points.
        for c in range(3):
            assert torch.allclose(xy[n_s + c], xy[:n_s][ep.support_y == c].mean(0), atol=1e-6)
        query = n_s + 3
        assert [(i, j) for i, j, _ in space.links] == [(query, n_s + c) for c in range(3)]
        assert torch.allclose(_t([v for _, _, v in space.links]), distances), "the lines carry the same distances"


# -- Matching Networks ------------------------------------------------------------------------------

@pytest.mark.parametrize("hparams", [{}, {"cosine_scale": 10.0, "bn_mode": "transductive"}, {"fce": True},
                                     {"fce": True, "bn_mode": "transductive"}])
def test_matching_attention_sums_to_one_and_its_class_sums_are_the_probabilities(episode, hparams):
    ep = episode
    learner = _learner("matching", hparams, ep)
    explanations, probs, seen = _explain_and_record(learner, ep, learner.encoder)
    n_s = len(ep.support_x)
    for e, (g_plain, f_plain) in zip(explanations, _per_query(learner, seen, n_s)):
        g, f = g_plain, f_plain
        if learner.fce_module is not None:
            with torch.no_grad():
                g = learner.fce_module.embed_support(g_plain)
                f = learner.fce_module.embed_query(f_plain, g)
        cos = F.cosine_similarity(f, g, dim=-1).double()
        attention = _part(e, SupportWeights, "attention")
        a = _t(attention.values)
        assert len(a) == n_s and (a >= 0).all()
        assert a.sum().item() == pytest.approx(1.0, abs=1e-6), "the attention over the support images sums to 1"
        assert torch.allclose(a, F.softmax(learner.hparams.cosine_scale * cos, -1), atol=1e-5), "a(x̂, xᵢ) of eq. 2"
        assert torch.allclose(_t(_part(e, SupportWeights, "cosine").values), cos, atol=1e-5)
        sums = _part(e, Bars, "per class")
        assert sums.categories == CLASSES
        class_sums = _t(sums.series["attention on the class"])
        assert torch.allclose(class_sums, _t([a[ep.support_y == c].sum() for c in range(3)]), atol=1e-6)
        assert torch.allclose(class_sums, _t(e.probabilities), atol=1e-5), "the class sums are the prediction (eq. 1)"

        moved = [p for p in e.parts if isinstance(p, Points)]
        if learner.fce_module is None:
            assert not moved, "without FCE nothing moves"
            continue
        (moved,) = moved
        n = n_s + 1
        before, after = torch.cat([g_plain, f_plain]), torch.cat([g, f])
        # The points after are the FCE outputs the attention used, in one PCA with the plain embeddings.
        assert torch.allclose(_t([moved.x, moved.y]).T, core.pca_2d(torch.cat([before, after]))[0], atol=1e-4)
        assert moved.kind_of[n:] == ["support"] * n_s + ["query"]
        assert [(i, j) for i, j, _ in moved.links] == [(i, n + i) for i in range(n)]
        assert torch.allclose(_t([v for _, _, v in moved.links]), (after - before).norm(dim=-1).double(), atol=1e-4)


# -- Relation Network -------------------------------------------------------------------------------

@pytest.mark.parametrize("bn_mode", ["running", "transductive"])
def test_relation_scores_are_the_ones_the_model_turns_into_probabilities(episode, bn_mode):
    ep = episode
    learner = _learner("relation", {"bn_mode": bn_mode}, ep)
    explanations, probs, logits_seen, feats_seen = _explain_and_record(learner, ep, learner.relation.fc2, learner.encoder.blocks)
    # fc2 gives a logit per (query, class) pair: all queries at once, or one query (with the support set) at a time.
    logits = torch.cat(logits_seen).view(len(ep.query_x), 3)
    n_s = len(ep.support_x)
    for e, row, (support_feats, query_feats) in zip(explanations, logits, _per_query(learner, feats_seen, n_s)):
        bars = _part(e, Bars, "relation")
        assert bars.categories == CLASSES
        r = _t(bars.series["relation"])
        assert torch.allclose(r, torch.sigmoid(row).double(), atol=1e-5), "the scores are the model's σ(relation logits)"
        assert torch.allclose(r / r.sum(), _t(e.probabilities), atol=1e-5), "p_c = r_c / Σ r"
        assert int(r.argmax()) == e.predicted
        class_feats = torch.stack([support_feats[ep.support_y == c].sum(0) for c in range(3)])
        cosine = F.cosine_similarity(class_feats.flatten(1), query_feats.flatten(1), dim=-1).double()
        assert torch.allclose(_t(bars.series["cosine"]), cosine, atol=1e-5), "a plain cosine of the same features"


# -- Siamese network --------------------------------------------------------------------------------

@pytest.mark.parametrize("hparams", [{}, {"score": "mean"}, {"bn_mode": "transductive"}])
def test_siamese_pair_probabilities_and_difference_maps_are_what_its_head_receives(episode, hparams):
    ep = episode
    learner = _learner("siamese", hparams, ep)
    _check_siamese(learner, ep)


def test_siamese_koch_backbone_explains_its_4096_features(episode):
    spec = core.InputSpec(size=(105, 105))
    g = torch.Generator().manual_seed(0)
    ep = core.Episode(torch.rand(6, 1, 105, 105, generator=g), episode.support_y, torch.rand(2, 1, 105, 105, generator=g),
                      torch.tensor([0, 2]), tuple(CLASSES))
    learner = core.create("siamese", {"backbone": "koch"}, spec, n_way=5)
    images = _check_siamese(learner, ep)
    assert all(len(im) == 64 and len(im[0]) == 64 for im in images.images)


def _check_siamese(learner, ep):
    explanations, probs, head_inputs = _explain_and_record(learner, ep, learner.head, hook_input=True)
    # The head's input is |f(x̂) − f(xᵢ)| [Q, S, D]: all queries at once, or one query at a time.
    differences = torch.cat(head_inputs)
    with torch.no_grad():
        p_same = torch.sigmoid(learner.head(differences).squeeze(-1)).double()
    n_s, dim = len(ep.support_x), differences.shape[-1]
    for e, diff, p in zip(explanations, differences, p_same):
        pairs = _t(_part(e, SupportWeights, "same").values)
        assert torch.allclose(pairs, p, atol=1e-5), "p(same) per support image is the head's σ(W·|Δ| + b)"
        member = [ep.support_y == c for c in range(3)]
        expected = _t([pairs[m].max() if learner.hparams.score == "max" else pairs[m].mean() for m in member])
        bars = _part(e, Bars, "class score")
        scores = _t(next(iter(bars.series.values())))
        assert torch.allclose(scores, expected, atol=1e-6)
        assert torch.allclose(scores / scores.sum(), _t(e.probabilities), atol=1e-5), "aggregated as siamese.py does"
        images = _part(e, Images, "difference")
        assert len(images.images) == n_s
        # float32 features computed in another batch (the whole query set, or one query) round
        # differently: on some CPUs the 4,096 Koch features differ by ~1e-4 of their scale
        # (measured 2.8e-6 at a scale of 0.024), so the tolerance is relative to that scale.
        tol = 1e-3 * float(diff.abs().max())
        for im, d in zip(images.images, diff):
            flat = _t(im).flatten()
            assert torch.allclose(flat[:dim], d.double(), rtol=0, atol=tol), "each map is the difference the head receives"
            assert (flat[dim:] == 0).all(), "the grid's padding is zeros"
    return images


def test_near_square_grid_keeps_every_value_in_order_and_pads_with_zeros():
    assert near_square_grid(torch.arange(1.0, 65.0)).shape == (8, 8)
    grid = near_square_grid(torch.arange(1.0, 11.0))
    assert grid.shape == (3, 4)
    assert grid.flatten().tolist() == list(range(1, 11)) + [0, 0]


# -- all four ----------------------------------------------------------------------------------------

METRIC = [("protonet", {}), ("matching", {"fce": True}), ("relation", {}), ("siamese", {})]


@pytest.mark.parametrize("name,hparams", METRIC)
def test_explaining_leaves_gradients_optimizer_and_every_module_mode_as_they_were(episode, name, hparams):
    ep = episode
    learner = _learner(name, hparams, ep)
    learner.meta_train_step([ep])  # an optimizer with state
    loss, _ = learner.episode_loss(ep)
    loss.backward()  # gradients waiting for the next step
    grads = {n: p.grad.clone() for n, p in learner.named_parameters() if p.grad is not None}
    optim = repr(learner.optimizer.state_dict())
    learner.train()
    next(learner.children()).eval()  # a mixed mode: every module's own flag must come back
    modes = {n: m.training for n, m in learner.named_modules()}
    learner.explain_parts(ep.support_x, ep.support_y, ep.query_x[:1], CLASSES)
    assert {n: m.training for n, m in learner.named_modules()} == modes
    assert {n: p.grad for n, p in learner.named_parameters() if p.grad is not None}.keys() == grads.keys()
    assert all(torch.equal(p.grad, grads[n]) for n, p in learner.named_parameters() if p.grad is not None)
    assert repr(learner.optimizer.state_dict()) == optim


@pytest.mark.parametrize("name,hparams", METRIC)
def test_default_size_explanation_prints_readable_numbers(small_real_sources, name, hparams):
    """A default-size Conv-4 model, 5-way 5-shot: print the text and how long one query took (no bound)."""
    train, _ = small_real_sources
    ep = core.EpisodeSampler(train, 5, 5, 1, seed=1).episode(0)
    learner = core.create(name, hparams, train.spec, n_way=5)
    learner.eval()
    classes = [f"class {c}" for c in range(5)]
    core.explain(learner, ep.support_x, ep.support_y, ep.query_x[:1], classes)  # warm up
    start = time.perf_counter()
    (e,) = core.explain(learner, ep.support_x, ep.support_y, ep.query_x[:1], classes)
    print(f"\n{name}: one query explained in {time.perf_counter() - start:.3f} s\n{e.text()}")
    assert e.classes[e.predicted] in e.text()
