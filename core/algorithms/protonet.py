"""Prototypical Networks (Snell, Swersky & Zemel 2017).

Each class is represented by the mean of its embedded support examples (its prototype, eq. 1);
a query's class distribution is a softmax over negative squared Euclidean distances to the
prototypes (eq. 2); training minimises the negative log-likelihood of the true class.
Omniglot protocol: Conv-4, 60-way training with 5 queries per class and shot matching the test
shot; Adam 1e-3, halved every 2000 episodes.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..augment import test_views
from ..backbones import BN_MODES, Conv4
from ..explanation import Bars
from ._explain_metric import classifying_mode, embed_support_and_query, embedding_map, support_names
from .base import LR_SCHEDULES, SupportSetLearner, hp, register


def prototypes(embeddings: torch.Tensor, labels: torch.Tensor, n_way: int) -> torch.Tensor:
    """Class means [N, D] of the support embeddings (eq. 1)."""
    sums = torch.zeros(n_way, embeddings.shape[1], device=embeddings.device, dtype=embeddings.dtype)
    sums.index_add_(0, labels, embeddings)
    counts = torch.bincount(labels, minlength=n_way).clamp_min(1).to(embeddings.dtype)
    return sums / counts.unsqueeze(1)


DISTANCES = ("squared", "euclidean")


def proto_distances(query_emb: torch.Tensor, protos: torch.Tensor, distance: str = "squared") -> torch.Tensor:
    """[Q, N] distances of the queries to the prototypes: ‖f(x) − c_k‖² (the paper's, eq. 2) or
    ‖f(x) − c_k‖ ("euclidean", as easyfsl's PrototypicalNetworks scores)."""
    d = torch.cdist(query_emb, protos)
    return d.pow(2) if distance == "squared" else d


def proto_log_probs(query_emb: torch.Tensor, protos: torch.Tensor, distance: str = "squared") -> torch.Tensor:
    """log softmax(−d(f(x), c_k)) over classes (eq. 2)."""
    return F.log_softmax(-proto_distances(query_emb, protos, distance), dim=-1)


@register
class PrototypicalNetwork(SupportSetLearner):
    name = "protonet"
    title = "Prototypical Networks"
    family = "metric"
    paper = "Snell, Swersky & Zemel, NeurIPS 2017"
    how_it_decides = ("Each class is summed up by its prototype: the average of its support images' embeddings. "
                      "The query goes to the class whose prototype is nearest; the nearer, the more probable.")

    # docs/results.md: 99.33 / 97.22 at 5 / 20 ways after 10 minutes on two cores (trained on trainval);
    # the squared distance learns less per step (the controlled experiment there).
    presets = {"measured": {"distance": "euclidean", "lr": 2e-3}}

    @dataclass(frozen=True)
    class HParams:
        lr: float = hp(1e-3, "Adam learning rate", min=1e-6, max=1.0, log=True)
        lr_halve_every: int = hp(2000, "Halve the learning rate every this many episodes (0 = never)", min=0, max=10**7)
        lr_schedule: str = hp("step", "step: halve every lr_halve_every episodes (the paper); budget: cosine to 1% over the run or time budget", choices=LR_SCHEDULES)
        hidden: int = hp(64, "Filters per Conv-4 block (64 in the paper)", min=2, max=512)
        pool_blocks: int = hp(4, "Conv-4 blocks that end in a 2×2 max-pool (4 in the paper: a 28×28 image becomes 64 numbers; "
                                 "3 keeps a 3×3 map, 576 numbers, where the strokes are)", min=0, max=4)
        bn_mode: str = hp("running", "BatchNorm statistics at test time: running averages or the batch's own", choices=BN_MODES)
        train_way: int = hp(60, "Ways per training episode (the paper trains with more ways than it tests); 0 = as tested", min=0, max=1000)
        train_query: int = hp(5, "Queries per class in training episodes; 0 = as tested", min=0, max=100)
        test_views: int = hp(1, "Test-time views: embed each image as it is and as test_views − 1 fixed small distortions of it, "
                                "and average the embeddings (1 = off; a test-time setting)", min=1, max=64)
        distance: str = hp("squared", "Distance to the prototypes: squared Euclidean (the paper, eq. 2) or Euclidean (easyfsl's)", choices=DISTANCES)

    def __init__(self, hparams=None, spec=None, n_way: int = 5):
        super().__init__(hparams, spec, n_way)
        h = self.hparams
        self.encoder = Conv4(self.spec.channels, h.hidden, h.bn_mode, pool_blocks=h.pool_blocks)
        self.adam_with_halving(h.lr, h.lr_halve_every, h.lr_schedule)

    def episode_log_probs(self, support_x, support_y, query_x, n_way: int) -> torch.Tensor:
        # One forward pass for support and query together: BatchNorm sees the whole episode.
        emb = self.encoder(torch.cat([support_x, query_x]))
        protos = prototypes(emb[: len(support_x)], support_y, n_way)
        return proto_log_probs(emb[len(support_x):], protos, self.hparams.distance)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """f(x) at test time: with test_views > 1, averaged over fixed distortions of each image
        (a new drawer's character is a little turned, slanted or shifted: every view votes)."""
        views = self.hparams.test_views
        if views <= 1 or self.training:
            return self.encoder(x)
        return self.encoder(test_views(x, views).flatten(0, 1)).unflatten(0, (views, len(x))).mean(0)

    def process_support_set(self, support_x, support_y, n_way: int) -> torch.Tensor:
        return prototypes(self.embed(support_x), support_y, n_way)

    def query_log_probs(self, protos, query_x) -> torch.Tensor:
        return proto_log_probs(self.embed(query_x), protos, self.hparams.distance)

    # -- explanation -------------------------------------------------------------------------------
    def explain_parts(self, support_x, support_y, query_x, classes) -> list:
        n_way = len(classes)
        with classifying_mode(self):
            support_emb, query_emb = embed_support_and_query(self, self.embed, support_x, query_x)
            protos = prototypes(support_emb, support_y, n_way)  # c_k, eq. 1
            dist = proto_distances(query_emb, protos, self.hparams.distance)[0]  # whose softmax(−·) is eq. 2
        kind = "squared distance" if self.hparams.distance == "squared" else "distance"
        nearest = classes[int(dist.argmin())]
        n_s = len(support_x)
        query_index = n_s + n_way
        space = embedding_map(
            "Embedding space", "Each support image, each class's prototype and the query is a point; the lines give the "
            f"query's {kind} to each prototype. It is nearest to {nearest}'s prototype. "
            "The map flattens many dimensions into two, so trust the numbers on the lines over the drawn lengths.",
            torch.cat([support_emb, protos, query_emb]),
            labels=support_names(support_y, classes) + [f"prototype {c}" for c in classes] + ["query"],
            kind_of=["support"] * n_s + ["prototype"] * n_way + ["query"],
            group=support_y.tolist() + list(range(n_way)) + [-1],
            links=[(query_index, n_s + k, float(d)) for k, d in enumerate(dist)], link_label=kind)
        distances = Bars(f"{kind.capitalize()} to each prototype",
                         f"The probabilities are a softmax of minus these distances: the nearest prototype ({nearest}) "
                         "gets the highest probability, and a class one unit farther is e ≈ 2.7 times less likely.",
                         categories=list(classes), series={"distance²" if self.hparams.distance == "squared" else "distance": dist},
                         value_label=kind)
        return [space, distances]
