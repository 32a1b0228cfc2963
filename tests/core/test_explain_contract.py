"""Every algorithm explains its classifications through the one protocol (`core.explain`), and
the explanation explains the prediction the model actually makes. Each family's own pictures are
checked against the model's numbers in its own test file; this is the contract all ten share."""
import json

import pytest
import torch

import core
from core.algorithms import ALGORITHMS
from core.explanation import Explanation, Text


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_every_algorithm_explains_the_prediction_it_makes(name, small_real_sources):
    train, _ = small_real_sources
    learner = core.create(name, None, train.spec, n_way=5)
    ep = core.EpisodeSampler(train, 3, 2, 2, seed=0).episode(0)
    learner.train()  # a model in the middle of training: explaining must not change its mode
    before = {k: v.clone() for k, v in learner.state_dict().items()}
    explanations = core.explain(learner, ep.support_x, ep.support_y, ep.query_x[:2], ["a", "b", "c"], ["q0", "q1"])
    assert learner.training
    assert all(torch.equal(before[k], v) for k, v in learner.state_dict().items()), "explaining changed the model"
    expected = core.probabilities(learner, ep.support_x, ep.support_y, ep.query_x[:2])
    assert len(explanations) == 2
    for e, probs in zip(explanations, expected):
        assert e.algorithm == name and e.classes == ["a", "b", "c"] and e.support_labels == ep.support_y.tolist()
        assert torch.allclose(torch.tensor(e.probabilities, dtype=torch.float64), probs, atol=1e-6)
        assert e.summary, f"{name}: say in plain words how it decides"
        pictures = [p for p in e.parts if not isinstance(p, Text)]
        assert pictures, f"{name}: an explanation shows at least one picture"
        assert all(p.title and p.caption for p in e.parts), f"{name}: every part has a title and a caption in plain words"
        assert Explanation.from_dict(json.loads(json.dumps(e.to_dict()))) == e
