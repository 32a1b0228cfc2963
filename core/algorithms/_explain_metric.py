"""What the metric learners' explanations share (ProtoNet, Matching, Relation, Siamese).

Each explains one query by recomputing its prediction's numbers the way `SupportSetLearner.adapt`'s
classifier computes them for that query alone: in the same BatchNorm mode and, when BatchNorm is
transductive, with the query passing through the network together with the support set.
"""
from __future__ import annotations

import contextlib
from typing import Callable, Iterator

import torch
from torch import nn

from ..explanation import Points
from ..pca import pca_2d


@contextlib.contextmanager
def classifying_mode(learner: nn.Module) -> Iterator[None]:
    """The mode `adapt(...)`'s classifier predicts in (train mode = batch statistics when BatchNorm
    is transductive, else eval), without gradients; every submodule's own train/eval flag is put
    back afterwards (a model in the middle of training keeps training as it was)."""
    modes = [(m, m.training) for m in learner.modules()]
    learner.train(learner.transductive)
    try:
        with torch.no_grad():
            yield
    finally:
        for module, training in modes:
            module.training = training


def embed_support_and_query(learner: nn.Module, embed: Callable[[torch.Tensor], torch.Tensor],
                            support_x: torch.Tensor, query_x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(embed(support_x), embed(query_x)) as classification computes them: transductive BatchNorm
    normalises the lone query with the support set (one pass over both, as `episode_log_probs`
    does), running statistics embed each on its own (as `process_support_set` / `query_log_probs`)."""
    if learner.transductive:
        both = embed(torch.cat([support_x, query_x]))
        return both[: len(support_x)], both[len(support_x):]
    return embed(support_x), embed(query_x)


def support_names(support_y: torch.Tensor, classes: list[str]) -> list[str]:
    """A name per support image, in the support set's order: its class and its number in the class ("beta #2")."""
    seen: dict[int, int] = {}
    names = []
    for y in support_y.tolist():
        seen[y] = seen.get(y, 0) + 1
        names.append(f"{classes[y]} #{seen[y]}")
    return names


def embedding_map(title: str, caption: str, vectors: torch.Tensor, labels: list[str], kind_of: list[str],
                  group: list[int], links: list[tuple[int, int, float]] = (), link_label: str = "") -> Points:
    """A 2-D map of embedding vectors [n, D]: their first two principal components, computed on all
    of them together (so every point is placed by the same projection)."""

    coords, share = pca_2d(vectors)
    return Points(title, caption, x=coords[:, 0], y=coords[:, 1], labels=labels, kind_of=kind_of, group=group,
                  links=list(links), link_label=link_label,
                  axes=(f"PC 1 ({share[0]:.0%} of variance)", f"PC 2 ({share[1]:.0%} of variance)"))
