"""Inference: a trained learner + a labelled support set + query images -> per-query class probabilities.

One path for every caller: the app's Classify and the Compare view's "My queries".
Images are prepared with the learner's own InputSpec (as it was meta-trained); the learner adapts on
the support set; each query is classified on its own by default (`Classifier.classify_each`), so a
query's probabilities never depend on which other queries came with it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import torch

from .algorithms.base import MetaLearner
from .sources.memory import prepare_images


def probabilities(learner: MetaLearner, support_x: torch.Tensor, support_y: torch.Tensor, query_x: torch.Tensor,
                  each_query: bool = True) -> torch.Tensor:
    """float64 [Q, N] class probabilities on the CPU for prepared (model-input) tensors; N is the
    number of support classes, labelled 0..N-1 in `support_y`. `each_query=False` classifies the
    queries as one batch (the papers' protocol; differs only for transductive BatchNorm)."""
    dev = learner.device
    clf = learner.adapt(support_x.to(dev), support_y.to(dev))
    if len(query_x) == 0:
        return torch.zeros(0, clf.n_way, dtype=torch.float64)
    with torch.no_grad():
        query_x = query_x.to(dev)
        log_p = clf.classify_each(query_x) if each_query else clf(query_x)
    probs = log_p.double().exp()
    return (probs / probs.sum(-1, keepdim=True)).cpu()  # float32 log-probabilities can be off by ~1e-7 from summing to 1


def predict(model: MetaLearner | str | Path, support: Sequence[Any], labels: Sequence[int], queries: Sequence[Any],
            device: str = "auto", each_query: bool = True) -> torch.Tensor:
    """Class probabilities [Q, N] (float64, CPU) of raw query images (paths, PNG bytes, PIL images,
    arrays: anything `prepare_images` reads), adapted on the labelled support images. `model` is a
    learner, or a checkpoint path loaded onto `device`."""
    if isinstance(model, MetaLearner):
        learner = model
    else:
        from .checkpoint import load_checkpoint
        from .trainer import auto_device

        learner = load_checkpoint(model, auto_device(device))[0]
    spec, dev = learner.spec, learner.device
    support_x = spec.to_model(prepare_images(list(support), spec), dev)
    support_y = torch.tensor(list(labels), dtype=torch.long, device=dev)
    return probabilities(learner, support_x, support_y, spec.to_model(prepare_images(list(queries), spec), dev), each_query)
