"""Siamese network, Matching Networks (with FCE) and Relation Network: their papers' mechanics."""

import pytest
import torch
import torch.nn.functional as F

import core
from core.algorithms.siamese import sample_pairs


def _episode(n_way=5, k=1, q=3, size=28, seed=0):
    g = torch.Generator().manual_seed(seed)
    return core.Episode(torch.rand(n_way * k, 1, size, size, generator=g), torch.arange(n_way).repeat_interleave(k),
                        torch.rand(n_way * q, 1, size, size, generator=g), torch.arange(n_way).repeat_interleave(q),
                        tuple(str(i) for i in range(n_way)))


# -- learning: well above chance (20%) in seconds on small real data ------------------------------

@pytest.mark.parametrize("name,steps,hparams,threshold", [
    ("siamese", 40, {}, 0.40),
    ("siamese", 40, {"pairs": "all"}, 0.40),
    ("matching", 40, {}, 0.45),
    ("matching", 40, {"fce": True}, 0.40),
    ("relation", 40, {}, 0.50),
])
def test_metric_family_learns_well_above_chance(small_real_sources, name, steps, hparams, threshold):
    train, test = small_real_sources
    cfg = core.TrainConfig(algorithm=name, hparams=hparams, steps=steps, val_every=10**6, val_episodes=0, device="cpu", seed=0)
    trainer = core.Trainer(cfg, train)
    for _ in trainer.run():
        pass
    res = core.evaluate(trainer.learner, test, n_way=5, k_shot=1, q_query=5, episodes=40)
    assert res.mean > threshold, f"{name} {hparams}: {res} (chance 20%)"


def test_paper_defaults_and_training_shapes():
    rel = core.get_algorithm("relation")
    h = rel.HParams()
    assert (h.lr, h.lr_halve_every, h.grad_clip, h.fc_hidden, h.train_query) == (1e-3, 100_000, 0.5, 8, 19)
    assert rel.episode_defaults(h) == {"train_query": 19}
    assert core.get_algorithm("matching").HParams().fce is False
    assert core.get_algorithm("matching").HParams().cosine_scale == 1.0
    assert core.get_algorithm("matching").episode_defaults(core.get_algorithm("matching").HParams()) == {}
    s = core.get_algorithm("siamese").HParams()
    assert (s.backbone, s.score) == ("conv4", "max")


@pytest.mark.parametrize("name,hparams", [
    ("siamese", {"score": "mean"}), ("siamese", {"bn_mode": "transductive"}),
    ("matching", {"fce": True}), ("matching", {"fce": True, "bn_mode": "transductive"}),
    ("relation", {"bn_mode": "transductive"}),
])
def test_variant_probabilities_sum_to_one_for_fewer_ways(name, hparams):
    learner = core.create(name, hparams, core.InputSpec(), n_way=5)
    ep = _episode(n_way=3, k=2, q=4)
    p = learner.adapt(ep.support_x, ep.support_y).predict_proba(ep.query_x)
    assert p.shape == (12, 3) and (p >= 0).all()
    assert torch.allclose(p.sum(-1), torch.ones(12), atol=1e-5)


# -- Siamese ------------------------------------------------------------------------------------

@pytest.mark.parametrize("counts", [(4, 4, 4, 4, 4), (2,) * 20, (10, 2), (3, 1, 1)])
def test_siamese_pairs_are_balanced_distinct_and_never_self_pairs(counts):
    labels = torch.cat([torch.full((c,), i) for i, c in enumerate(counts)])
    i, j, target = sample_pairs(labels, torch.Generator().manual_seed(0))
    assert (i < j).all()  # never (x, x); each unordered pair once
    assert len(set(zip(i.tolist(), j.tolist()))) == len(i)
    assert torch.equal(target, (labels[i] == labels[j]).float())
    n_same = int(target.sum())
    assert n_same > 0 and n_same == len(target) - n_same  # balanced
    all_same = sum(c * (c - 1) // 2 for c in counts)
    all_diff = len(labels) * (len(labels) - 1) // 2 - all_same
    assert n_same == min(all_same, all_diff)


def test_siamese_pairs_need_two_images_of_a_class():
    with pytest.raises(ValueError, match="at least two images"):
        sample_pairs(torch.arange(5))


def test_siamese_scores_are_max_or_mean_of_support_similarities():
    torch.manual_seed(0)
    ep = _episode(n_way=3, k=3, q=2)
    for score in ("max", "mean"):
        m = core.create("siamese", {"score": score}, core.InputSpec(), n_way=3).eval()
        with torch.no_grad():
            qe, se = m.encoder(ep.query_x), m.encoder(ep.support_x)
            p = torch.sigmoid(m.head((qe[:, None] - se[None]).abs()).squeeze(-1))  # p(x̂, x_i) [Q, S]
            per_class = p.view(len(qe), 3, 3)
            s = per_class.amax(-1) if score == "max" else per_class.mean(-1)
            expected = s / s.sum(-1, keepdim=True)
            got = m.adapt(ep.support_x, ep.support_y).predict_proba(ep.query_x)
        assert torch.allclose(got, expected, atol=1e-5), score


def test_siamese_resume_draws_the_same_pairs(small_real_sources, tmp_path):
    train, _ = small_real_sources
    cfg = dict(algorithm="siamese", hparams={"hidden": 16, "train_way": 10, "train_query": 2}, steps=6, val_every=3, val_episodes=0, device="cpu", seed=5)
    straight = core.Trainer(core.TrainConfig(**cfg), train)
    list(straight.run())
    path = tmp_path / "half.pt"
    first = core.Trainer(core.TrainConfig(**cfg, checkpoint_path=str(path)), train)
    for p in first.run():
        if p.step == 3 and p.status == "running":
            first.cancel.cancel()
    resumed = core.Trainer(core.TrainConfig(**cfg), train, resume_from=path)
    list(resumed.run())
    for (k, a), b in zip(straight.learner.state_dict().items(), resumed.learner.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6), k
    assert resumed.history["loss"] == pytest.approx(straight.history["loss"], rel=1e-5)


def test_koch_backbone_takes_105px_inputs_and_refuses_small_ones():
    with pytest.raises(ValueError, match="105×105"):
        core.create("siamese", {"backbone": "koch"}, core.InputSpec(size=(28, 28)))
    torch.manual_seed(0)
    m = core.create("siamese", {"backbone": "koch"}, core.InputSpec(size=(105, 105)), n_way=2)
    ep = _episode(n_way=2, k=1, q=1, size=105)
    emb = m.encoder(ep.support_x)
    assert emb.shape == (2, 4096) and ((emb >= 0) & (emb <= 1)).all()  # FC 4096, sigmoid
    convs = [mod for mod in m.encoder.features if isinstance(mod, torch.nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size[0]) for c in convs] == [(64, 10), (128, 7), (128, 4), (256, 4)]
    metrics = m.meta_train_step([ep])
    assert metrics.loss == metrics.loss  # finite step on 105×105 pairs
    p = m.adapt(ep.support_x, ep.support_y).predict_proba(ep.query_x)
    assert torch.allclose(p.sum(-1), torch.ones(2), atol=1e-5)


# -- Matching Networks and FCE --------------------------------------------------------------------

def _query_embedding(m, support_x, query_x):
    return m.embed(support_x, query_x, together=False)[1]


@pytest.mark.parametrize("fce", [True, False])
def test_fce_query_embedding_depends_on_the_whole_support_set(fce):
    torch.manual_seed(0)
    m = core.create("matching", {"fce": fce}, core.InputSpec(), n_way=5).eval()  # running BN: no batch coupling
    ep = _episode(n_way=5, k=2, q=2)
    support_x = ep.support_x.clone().requires_grad_()
    f = _query_embedding(m, support_x, ep.query_x)
    (grad,) = torch.autograd.grad(f[0].sum(), support_x, allow_unused=True)
    if fce:
        # every support image (not just some) moves the query's embedding
        assert grad is not None and (grad.flatten(1).norm(dim=1) > 0).all()
    else:
        assert grad is None or (grad == 0).all()
    with torch.no_grad():
        base = _query_embedding(m, ep.support_x, ep.query_x)
        for i in range(len(ep.support_x)):
            changed = ep.support_x.clone()
            changed[i] = torch.rand_like(changed[i])
            moved = not torch.allclose(_query_embedding(m, changed, ep.query_x), base)
            assert moved == fce, f"support image {i}"


def test_fce_runs_a_fixed_number_of_steps_and_keeps_its_skip_connections():
    torch.manual_seed(0)
    m = core.create("matching", {"fce": True, "fce_steps": 4}, core.InputSpec(), n_way=5).eval()
    calls = []
    m.fce_module.f_cell.register_forward_hook(lambda *a: calls.append(1))
    with torch.no_grad():
        for n_way in (2, 7):  # K steps whatever the support size
            calls.clear()
            ep = _episode(n_way=n_way, k=1, q=1)
            m.embed(ep.support_x, ep.query_x, together=False)
            assert len(calls) == 4
        # With the LSTMs silenced (all weights 0: output gate 0.5, cell 0, so h = 0), g and f
        # reduce to their skip connections: g(x_i, S) = g'(x_i) and f(x̂, S) = f'(x̂).
        for p in m.fce_module.parameters():
            p.zero_()
        ep = _episode(n_way=3, k=2, q=2)
        g, f = m.embed(ep.support_x, ep.query_x, together=False)
        assert torch.allclose(g, m.encoder(ep.support_x), atol=1e-6)
        assert torch.allclose(f, m.encoder(ep.query_x), atol=1e-6)


def test_matching_probability_is_attention_over_cosines():
    torch.manual_seed(0)
    m = core.create("matching", {}, core.InputSpec(), n_way=3).eval()
    ep = _episode(n_way=3, k=2, q=2)
    with torch.no_grad():
        g, f = m.encoder(ep.support_x), m.encoder(ep.query_x)
        a = F.softmax(F.cosine_similarity(f[:, None], g[None], dim=-1), dim=-1)  # [Q, S]
        expected = a @ F.one_hot(ep.support_y, 3).float()  # Σ_i a(x̂, x_i) y_i
        got = m.adapt(ep.support_x, ep.support_y).predict_proba(ep.query_x)
    assert torch.allclose(got, expected, atol=1e-5)


def test_siamese_all_pairs_weighs_same_and_different_pairs_half_each():
    torch.manual_seed(0)
    m = core.create("siamese", {"pairs": "all"}, core.InputSpec(), n_way=5)
    ep = _episode(n_way=5, k=1, q=3)
    m.train()
    got, _ = m.episode_loss(ep)
    emb = m.encoder(torch.cat([ep.support_x, ep.query_x]))
    labels = torch.cat([ep.support_y, ep.query_y])
    same_terms, diff_terms = [], []
    for a in range(len(labels)):
        for b in range(a + 1, len(labels)):  # every unordered pair once, never an image with itself
            logit = m.pair_logits(emb[a], emb[b])
            if labels[a] == labels[b]:
                same_terms.append(-torch.nn.functional.logsigmoid(logit))
            else:
                diff_terms.append(-torch.nn.functional.logsigmoid(-logit))
    assert (len(same_terms), len(diff_terms)) == (5 * 6, 190 - 30)
    want = 0.5 * torch.stack(same_terms).mean() + 0.5 * torch.stack(diff_terms).mean()
    assert torch.allclose(got, want, rtol=1e-4), (float(got), float(want))
    with pytest.raises(ValueError, match="two images of a class"):
        core.create("siamese", {"pairs": "all"}, core.InputSpec(), n_way=5).episode_loss(_episode(n_way=5, k=1, q=0))


# -- Relation Network -----------------------------------------------------------------------------

def test_relation_scores_lie_in_unit_interval_and_loss_is_mse_against_one_hot():
    torch.manual_seed(0)
    m = core.create("relation", {}, core.InputSpec(), n_way=5)
    ep = _episode(n_way=5, k=1, q=4)
    m.train()
    loss, r = m.episode_loss(ep)
    assert r.shape == (20, 5) and (r >= 0).all() and (r <= 1).all()
    one_hot = torch.zeros(20, 5)
    one_hot[torch.arange(20), ep.query_y] = 1.0
    assert torch.allclose(loss, ((r - one_hot) ** 2).mean())
    # the training step optimises exactly that loss
    m2 = core.create("relation", {}, core.InputSpec(), n_way=5)
    m2.load_state_dict(m.state_dict())
    assert m2.meta_train_step([ep]).loss == pytest.approx(float(loss.detach()), rel=1e-5)


@pytest.mark.parametrize("loss", ["bce", "ce"])
def test_relation_alternative_losses_are_what_they_say_and_the_step_optimises_them(loss):
    torch.manual_seed(0)
    m = core.create("relation", {"loss": loss}, core.InputSpec(), n_way=5)
    ep = _episode(n_way=5, k=1, q=4)
    m.train()
    got, r = m.episode_loss(ep)
    one_hot = torch.zeros(20, 5)
    one_hot[torch.arange(20), ep.query_y] = 1.0
    if loss == "bce":
        want = -(one_hot * r.log() + (1 - one_hot) * (1 - r).log()).mean()
    else:  # cross-entropy of the reported probabilities r_c / Σ r
        want = -(r / r.sum(-1, keepdim=True))[torch.arange(20), ep.query_y].log().mean()
    assert torch.allclose(got, want, rtol=1e-4), (float(got), float(want))
    m2 = core.create("relation", {"loss": loss}, core.InputSpec(), n_way=5)
    m2.load_state_dict(m.state_dict())
    assert m2.meta_train_step([ep]).loss == pytest.approx(float(got.detach()), rel=1e-5)
    with pytest.raises(ValueError, match="loss"):
        core.create("relation", {"loss": "hinge"}, core.InputSpec(), n_way=5)


def test_relation_architecture_pairs_and_sum_of_shots():
    torch.manual_seed(0)
    m = core.create("relation", {}, core.InputSpec(), n_way=3).eval()
    # embedding: only the first two blocks pool, so 28×28 gives 64×7×7 feature maps
    assert m.features(torch.zeros(1, 1, 28, 28)).shape == (1, 64, 7, 7)
    assert (m.relation.fc1.out_features, m.relation.fc2.out_features) == (8, 1)
    ep = _episode(n_way=3, k=3, q=2)
    with torch.no_grad():
        feats = m.features(ep.support_x)
        class_feats = feats.view(3, 3, *feats.shape[1:]).sum(1)  # K > 1: the SUM of the K support features
        q = m.features(ep.query_x)
        pairs = torch.cat([class_feats.repeat(len(q), 1, 1, 1), q.repeat_interleave(3, 0)], dim=1)  # [f(x_c), f(x̂)]
        naive = torch.sigmoid(m.relation(pairs)).view(len(q), 3)
        got = torch.sigmoid(m.relation_logits(ep.support_x, ep.support_y, ep.query_x, 3))
        assert torch.allclose(got, naive, atol=1e-5)
        # the displayed probabilities are the relation scores normalised over the classes
        p = m.adapt(ep.support_x, ep.support_y).predict_proba(ep.query_x)
        assert torch.allclose(p, naive / naive.sum(-1, keepdim=True), atol=1e-5)


def test_relation_clips_gradients_at_half():
    torch.manual_seed(0)
    m = core.create("relation", {"lr": 1e-6}, core.InputSpec(), n_way=5)
    ep = _episode(n_way=5, k=1, q=4)
    m.meta_train_step([ep])
    for part in (m.encoder, m.relation):
        norm = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in part.parameters() if p.grad is not None]))
        assert norm <= 0.5 + 1e-5


@pytest.mark.parametrize("name,hparams", [("siamese", {}), ("matching", {"fce": True}), ("relation", {})])
def test_checkpoint_round_trip_gives_the_same_predictions(tmp_path, name, hparams):
    torch.manual_seed(0)
    m = core.create(name, hparams, core.InputSpec(), n_way=5)
    m.meta_train_step([_episode(n_way=5, k=1, q=3)])
    core.save_checkpoint(tmp_path / "m.pt", m)
    loaded, _ = core.load_checkpoint(tmp_path / "m.pt")
    ep = _episode(n_way=4, k=2, q=2, seed=1)
    a = m.adapt(ep.support_x, ep.support_y)(ep.query_x)
    b = loaded.adapt(ep.support_x, ep.support_y)(ep.query_x)
    assert torch.allclose(a, b, atol=1e-6)


@pytest.mark.parametrize("distance,power", [("squared", 2), ("euclidean", 1)])
def test_protonet_trains_on_the_distance_it_is_set_to(distance, power):
    """The training scores are −‖f(x) − c_k‖^p: p = 2 in the paper (eq. 2), p = 1 as easyfsl scores."""
    torch.manual_seed(0)
    learner = core.create("protonet", {"hidden": 8, "distance": distance}, n_way=3)
    sx, qx = torch.rand(3, 1, 28, 28), torch.rand(6, 1, 28, 28)
    sy, qy = torch.arange(3), torch.arange(3).repeat(2)
    learner.train()
    got = learner.episode_log_probs(sx, sy, qx, 3)
    learner.train()
    emb = learner.encoder(torch.cat([sx, qx]))
    expected = torch.log_softmax(-torch.cdist(emb[3:], emb[:3]).pow(power), -1)
    assert torch.allclose(got, expected, atol=1e-5)


def test_protonet_pool_blocks_keeps_a_map_of_the_strokes():
    """pool_blocks=3 ends Conv-4 without its last max-pool: 28×28 input gives a 3×3×64 embedding
    (576 numbers) instead of 64, from the same initial weights."""


    torch.manual_seed(0)
    four = core.create("protonet", {})
    torch.manual_seed(0)
    three = core.create("protonet", {"pool_blocks": 3})
    x = torch.rand(2, 1, 28, 28)
    assert four.encoder(x).shape == (2, 64) and three.encoder(x).shape == (2, 576)
    for a, b in zip(four.parameters(), three.parameters()):
        assert torch.equal(a, b)
