"""Inference in core: `core.predict` is what the app's Classify, Compare's "My queries" and `fewshot predict` run."""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

import core


def images(src, class_ids, per_class):
    """Dark-ink-on-white arrays of a built-in source (what a person's PNG holds), with labels."""
    out, labels = [], []
    for label, c in enumerate(class_ids):
        for i in range(per_class):
            out.append(255 - src.gather(torch.tensor([c]), torch.tensor([[i]]))[0, 0, 0].numpy())
            labels.append(label)
    return out, labels


@pytest.fixture(scope="module")
def glyphs():
    return core.builtin_split("test", 4, n_instances=4)


@pytest.fixture(scope="module")
def maml():
    """A MAML learner with transductive BatchNorm: a query's batch mates change its prediction."""
    torch.manual_seed(0)
    return core.create("maml", {"hidden": 8, "inner_steps_test": 1}, n_way=4)


def reference(learner, support, labels, queries):
    """What `Classifier.classify_each` gives, by hand."""
    spec = learner.spec
    clf = learner.adapt(spec.to_model(core.prepare_images(support, spec)), torch.tensor(labels))
    with torch.no_grad():
        return clf.classify_each(spec.to_model(core.prepare_images(queries, spec))).exp().double()


def test_predict_gives_classify_each_probabilities(maml, glyphs):
    support, labels = images(glyphs, [0, 4, 8, 12], 1)  # four base classes (class ids step over the ×4 rotations)
    queries, truth = images(glyphs, [0, 4, 8, 12], 3)
    probs = core.predict(maml, support, labels, queries)
    assert probs.dtype == torch.float64 and probs.shape == (12, 4)
    assert torch.allclose(probs, reference(maml, support, labels, queries), atol=1e-6)
    assert torch.allclose(probs.sum(-1), torch.ones(12, dtype=torch.float64), atol=1e-12)
    # each query on its own: the same query alone gets the same probabilities as in the batch
    assert torch.allclose(core.predict(maml, support, labels, queries[5:6]), probs[5:6], atol=1e-6)
    # the papers' batch protocol is available and, with transductive BatchNorm, differs
    batch = core.predict(maml, support, labels, queries, each_query=False)
    assert not torch.allclose(batch, probs, atol=1e-4)
    assert core.predict(maml, support, labels, []).shape == (0, 4)


def test_the_app_and_compare_classify_through_core_predict(maml, glyphs, tmp_path):
    """The app's worker (from a checkpoint file) and a Comparison's "My queries" give core.predict's numbers."""
    from app import workers

    support, labels = images(glyphs, [0, 4, 8, 12], 1)
    queries, _ = images(glyphs, [0, 4, 8, 12], 2)
    expected = core.predict(maml, support, labels, queries).tolist()
    path = core.save_checkpoint(tmp_path / "maml.pt", maml)
    got = workers.classify(str(path), "cpu", [(y, png(x)) for x, y in zip(support, labels)], [png(q) for q in queries])
    workers.forget_model()
    assert np.allclose(got["probs"], expected, atol=1e-6)
    comp = core.Comparison(core.CompareConfig(algorithms=["maml"], n_way=4, k_shot=1, q_query=1, device="cpu"))
    comp.learners["maml"] = maml
    assert np.allclose(comp.classify_images(support, labels, queries)["maml"], expected, atol=1e-6)


def png(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return buf.getvalue()
