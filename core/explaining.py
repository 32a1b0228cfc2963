"""Explaining a classification: a trained learner + a labelled support set + a query -> an
`Explanation` (the prediction, and the parts that show how the learner reached it).

The prediction is the one `inference.probabilities` gives (each query classified on its own, as
in the app); the parts come from the algorithm's own `explain_parts`, computed with the same
adapted model, so a picture can be checked against the probabilities it explains (the tests do).
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch

from .algorithms.base import MetaLearner
from .errors import ConfigError, FewShotError
from .explanation import Explanation
from .inference import as_learner, probabilities, query_files, support_folder
from .sources.memory import prepare_images


def explain(learner: MetaLearner, support_x: torch.Tensor, support_y: torch.Tensor, query_x: torch.Tensor,
            classes: Sequence[str] | None = None, query_names: Sequence[str] | None = None) -> list[Explanation]:
    """One Explanation per query of prepared (model-input) tensors; support labelled 0..N-1."""
    dev = learner.device
    support_x, support_y, query_x = support_x.to(dev), support_y.to(dev), query_x.to(dev)
    was_training = learner.training  # before probabilities(): adapt() switches the mode it classifies in
    try:
        probs = probabilities(learner, support_x, support_y, query_x, each_query=True)
        n_way = probs.shape[1] if len(query_x) else int(support_y.max()) + 1
        classes = list(classes) if classes is not None else [f"class {c}" for c in range(n_way)]
        if len(classes) != n_way:
            raise ValueError(f"{len(classes)} class names for {n_way} support classes")
        out = []
        for i in range(len(query_x)):
            parts = learner.explain_parts(support_x, support_y, query_x[i:i + 1], classes)
            out.append(Explanation(learner.name, f"How {learner.title} classified this query", learner.how_it_decides,
                                   classes, probs[i].tolist(), support_y.tolist(),
                                   query_names[i] if query_names is not None else f"query {i}", parts))
    finally:
        learner.train(was_training)
    return out


def explain_images(learner: MetaLearner, support: Sequence, labels: Sequence[int], queries: Sequence,
                   classes: Sequence[str] | None = None, query_names: Sequence[str] | None = None) -> list[Explanation]:
    """`explain` on raw images (paths, PNG bytes, PIL images, arrays: anything `prepare_images`
    reads), seen through the learner's own InputSpec — as `predict` classifies them."""
    spec, dev = learner.spec, learner.device
    support_x = spec.to_model(prepare_images(list(support), spec), dev)
    support_y = torch.tensor(list(labels), dtype=torch.long, device=dev)
    return explain(learner, support_x, support_y, spec.to_model(prepare_images(list(queries), spec), dev), classes, query_names)


def explain_files(model: MetaLearner | str | Path, support_root: str | Path, queries: Sequence[str | Path],
                  device: str = "auto") -> list[Explanation]:
    """Explain query files with a support folder (`root/<class>/<images>`), as `fewshot explain` does."""
    learner = as_learner(model, device)
    classes, files = support_folder(support_root)
    query_paths = query_files(queries)
    try:
        return explain_images(learner, [f for fs in files for f in fs], [c for c, fs in enumerate(files) for _ in fs], query_paths,
                              classes, [str(q) for q in query_paths])
    except FewShotError:
        raise
    except ValueError as exc:  # e.g. more ways than the model was meta-trained for
        raise ConfigError(str(exc)) from exc
