"""Inference in core: `core.predict` is what the app's Classify, Compare's "My queries" and `fewshot predict` run."""
from __future__ import annotations

import torch

import core


def images(src, class_ids, per_class):
    """Dark-ink-on-white arrays of a built-in source (what a person's PNG holds), with labels."""
    out, labels = [], []
    for label, c in enumerate(class_ids):
        for i in range(per_class):
            out.append(255 - src.gather(torch.tensor([c]), torch.tensor([[i]]))[0, 0, 0].numpy())
            labels.append(label)
    return out, labels


def reference(learner, support, labels, queries):
    """What `Classifier.classify_each` gives, by hand."""
    spec = learner.spec
    clf = learner.adapt(spec.to_model(core.prepare_images(support, spec)), torch.tensor(labels))
    with torch.no_grad():
        return clf.classify_each(spec.to_model(core.prepare_images(queries, spec))).exp().double()


def test_predict_gives_classify_each_probabilities(transductive_maml, glyphs, tmp_path):
    support, labels = images(glyphs, [0, 4, 8, 12], 1)  # four base classes (class ids step over the ×4 rotations)
    queries, _ = images(glyphs, [0, 4, 8, 12], 3)
    probs = core.predict(transductive_maml, support, labels, queries)
    assert probs.dtype == torch.float64 and probs.shape == (12, 4)
    assert torch.allclose(probs, reference(transductive_maml, support, labels, queries), atol=1e-6)
    assert torch.allclose(probs.sum(-1), torch.ones(12, dtype=torch.float64), atol=1e-12)
    # each query on its own: the same query alone gets the same probabilities as in the batch
    assert torch.allclose(core.predict(transductive_maml, support, labels, queries[5:6]), probs[5:6], atol=1e-6)
    # the papers' batch protocol is available and, with transductive BatchNorm, differs
    batch = core.predict(transductive_maml, support, labels, queries, each_query=False)
    assert not torch.allclose(batch, probs, atol=1e-4)
    assert core.predict(transductive_maml, support, labels, []).shape == (0, 4)
    # a checkpoint path is loaded and predicts the same
    path = core.save_checkpoint(tmp_path / "maml.pt", transductive_maml)
    assert torch.allclose(core.predict(path, support, labels, queries, device="cpu"), probs, atol=1e-6)
