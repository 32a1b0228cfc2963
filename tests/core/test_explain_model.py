"""The model-based learners explain what they compute: every number of a MANN or Meta Networks
explanation is checked against the model's own computation of the same prediction (replayed here
from the model's parts), so a picture that could disagree with the prediction fails a test."""
import dataclasses
import time

import pytest
import torch
import torch.nn.functional as F

import core
from core.algorithms.metanet import head_forward, unflatten_params
from core.explanation import Bars, Matrix, SupportWeights

CLASSES = ["alpha", "beta", "gamma"]


def _episode(n_way=3, k=2, q=2, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = lambda n: torch.rand(n, 1, size, size, generator=g, dtype=torch.float64)  # noqa: E731
    return x(n_way * k), torch.arange(n_way).repeat_interleave(k), x(n_way * q)


def _parts(explanation, kind, title_start=""):
    return [p for p in explanation.parts if isinstance(p, kind) and p.title.startswith(title_start)]


def _with_gradients(learner, support_x):
    """Fill every parameter's .grad (as in the middle of a training step), to see explaining leaves them alone."""
    learner.zero_grad()
    sum(p.sum() for p in learner.parameters()).backward()
    return {n: p.grad.clone() for n, p in learner.named_parameters()}


def _assert_untouched(learner, grads, state, optim_state, training):
    assert learner.training == training
    assert all(torch.equal(grads[n], p.grad) for n, p in learner.named_parameters()), "explaining changed a gradient"
    assert all(torch.equal(state[k], v) for k, v in learner.state_dict().items()), "explaining changed the model"
    assert str(learner.optimizer.state_dict()) == optim_state, "explaining touched the optimizer"


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
    grads = _with_gradients(m, support_x)
    m.train(training)
    state = {k: v.clone() for k, v in m.state_dict().items()}
    optim_state = str(m.optimizer.state_dict())
    explanations = core.explain(m, support_x, support_y, query_x, CLASSES)
    _assert_untouched(m, grads, state, optim_state, training)
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
        # by class: the attention on each class's support images, added up
        assert torch.allclose(torch.tensor(by_class.series["attention"], dtype=torch.float64),
                              torch.zeros(3, dtype=torch.float64).index_add_(0, support_y, a), rtol=0, atol=1e-12)
        assert CLASSES[int(with_fast.argmax())] in bars.caption and CLASSES[int(by_class.series["attention"].index(max(by_class.series["attention"])))] in by_class.caption
