"""Prototypical Networks (Snell, Swersky & Zemel 2017).

Each class is represented by the mean of its embedded support examples (its prototype, eq. 1);
a query's class distribution is a softmax over negative squared Euclidean distances to the
prototypes (eq. 2); training minimises the negative log-likelihood of the true class.
Omniglot protocol: Conv-4, 60-way training with 5 queries per class and shot matching the test
shot; Adam 1e-3, halved every 2000 episodes.

With `members` > 1 the learner is an ensemble of that many Conv-4 embedding networks: each learns
from its own loss (eq. 2 with its own distances) on the same episodes, and a query's distance to
a class is the members' mean distance. Averaging the members' log-probabilities gives the same
prediction, softmax(−mean_m d_m), since each member's normaliser is the same for every class.
`fewshot ensemble` assembles one from networks trained apart.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from ..augment import test_views
from ..backbones import BN_MODES, Conv4
from ..explanation import Bars
from ._explain_metric import classifying_mode, embed_support_and_query, embedding_map, support_names
from .base import LR_SCHEDULES, SupportSetLearner, hp, register
from ..tasks import DEFAULT_TASK


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
        members: int = hp(1, "Embedding networks in an ensemble: each learns from its own loss on the same episodes, and a query's "
                             "distance to a class is their mean distance (1 = the paper's one network)", min=1, max=16)

    def __init__(self, hparams=None, spec=None, n_way: int = DEFAULT_TASK.n_way):
        super().__init__(hparams, spec, n_way)
        h = self.hparams
        self.encoder = Conv4(self.spec.channels, h.hidden, h.bn_mode, pool_blocks=h.pool_blocks)
        # An ensemble's other members; the first stays `encoder`, so a one-network model keeps its weights' names.
        self.more_encoders = nn.ModuleList(Conv4(self.spec.channels, h.hidden, h.bn_mode, pool_blocks=h.pool_blocks)
                                           for _ in range(h.members - 1))
        self.adam_with_halving(h.lr, h.lr_halve_every, h.lr_schedule)

    @property
    def encoders(self) -> list[nn.Module]:
        return [self.encoder, *self.more_encoders]

    def _episode_distances(self, support_x, support_y, query_x, n_way: int) -> torch.Tensor:
        """[M, Q, N]: each member's distances from the queries to its prototypes, from one forward
        pass over support and queries together (BatchNorm sees the whole episode)."""
        x, n_s = torch.cat([support_x, query_x]), len(support_x)
        dists = []
        for encoder in self.encoders:
            emb = encoder(x)
            dists.append(proto_distances(emb[n_s:], prototypes(emb[:n_s], support_y, n_way), self.hparams.distance))
        return torch.stack(dists)

    def episode_log_probs(self, support_x, support_y, query_x, n_way: int) -> torch.Tensor:
        return F.log_softmax(-self._episode_distances(support_x, support_y, query_x, n_way).mean(0), dim=-1)

    def episode_loss(self, task) -> tuple[torch.Tensor, torch.Tensor]:
        d = self._episode_distances(task.support_x, task.support_y, task.query_x, task.n_way)
        # Each member's own negative log-likelihood (eq. 2 with its distances): the members learn
        # apart, as networks trained one by one would, on the same episodes.
        loss = sum(F.nll_loss(F.log_softmax(-d_m, dim=-1), task.query_y) for d_m in d)
        return loss, F.log_softmax(-d.mean(0), dim=-1)

    def member_embeddings(self, x: torch.Tensor) -> torch.Tensor:
        """[M, B, D]: each member's f(x). At test time with test_views > 1, averaged over fixed
        distortions of each image (a new drawer's character is a little turned, slanted or
        shifted: every view votes)."""
        views = self.hparams.test_views
        if views <= 1 or self.training:
            return torch.stack([encoder(x) for encoder in self.encoders])
        seen = test_views(x, views).flatten(0, 1)
        return torch.stack([encoder(seen).unflatten(0, (views, len(x))).mean(0) for encoder in self.encoders])

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """f(x) [B, M·D]: the members' embeddings side by side (one network: its embedding)."""
        return self.member_embeddings(x).transpose(0, 1).flatten(1)

    def mean_distances(self, query_emb: torch.Tensor, protos: torch.Tensor) -> torch.Tensor:
        """[Q, N]: the members' mean distance from side-by-side query embeddings [Q, M·D] to
        side-by-side prototypes [N, M·D] (a prototype of side-by-side embeddings is the members'
        prototypes side by side: a mean is taken per coordinate)."""
        m = self.hparams.members
        q, p = query_emb.unflatten(1, (m, -1)).transpose(0, 1), protos.unflatten(1, (m, -1)).transpose(0, 1)
        return torch.stack([proto_distances(q_m, p_m, self.hparams.distance) for q_m, p_m in zip(q, p)]).mean(0)

    def process_support_set(self, support_x, support_y, n_way: int) -> torch.Tensor:
        return prototypes(self.embed(support_x), support_y, n_way)

    def query_log_probs(self, protos, query_x) -> torch.Tensor:
        return F.log_softmax(-self.mean_distances(self.embed(query_x), protos), dim=-1)

    # -- explanation -------------------------------------------------------------------------------
    def explain_parts(self, support_x, support_y, query_x, classes) -> list:
        n_way = len(classes)
        with classifying_mode(self):
            support_emb, query_emb = embed_support_and_query(self, self.embed, support_x, query_x)
            protos = prototypes(support_emb, support_y, n_way)  # c_k, eq. 1
            dist = self.mean_distances(query_emb, protos)[0]  # whose softmax(−·) is eq. 2
        kind = "squared distance" if self.hparams.distance == "squared" else "distance"
        if self.hparams.members > 1:
            kind = f"mean {kind} over the {self.hparams.members} networks"
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


ARCHITECTURE = ("hidden", "pool_blocks", "bn_mode", "distance")  # what members of one ensemble must share


def ensemble_of(networks: list[PrototypicalNetwork], **test_settings) -> PrototypicalNetwork:
    """One Prototypical Network whose members are every embedding network of `networks` (trained
    apart, or ensembles themselves), in order, with the first's settings and `test_settings`
    (e.g. test_views=4). They must share the input (InputSpec) and the architecture."""
    if len(networks) < 2:
        raise ValueError("an ensemble needs at least two networks")
    first = networks[0]
    for other in networks[1:]:
        if other.spec != first.spec:
            raise ValueError(f"the networks take different inputs ({first.spec.to_dict()} and {other.spec.to_dict()})")
        differ = [f"{k}: {getattr(first.hparams, k)} vs {getattr(other.hparams, k)}" for k in ARCHITECTURE
                  if getattr(first.hparams, k) != getattr(other.hparams, k)]
        if differ:
            raise ValueError(f"the networks differ in {'; '.join(differ)}")
    encoders = [e for net in networks for e in net.encoders]
    hparams = replace(first.hparams, members=len(encoders), **test_settings)
    ensemble = PrototypicalNetwork(hparams, first.spec, first.n_way).to(first.device)
    for mine, theirs in zip(ensemble.encoders, encoders):
        mine.load_state_dict(theirs.state_dict())
    return ensemble
