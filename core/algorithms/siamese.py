"""Convolutional Siamese network (Koch, Zemel & Salakhutdinov 2015).

Twin embedding fθ with shared weights; a pair's probability of showing the same class is
p(xi, xj) = σ(W·|fθ(xi) − fθ(xj)| + b) (Koch et al. eq. 1, the weighted L1 distance layer; the
bias is the output unit's); training minimises the binary cross-entropy over same/different pairs
(eq. 2). Pairs are drawn from the training episodes, balanced: every unordered same-class pair
of the episode's images (support and queries together) and as many different-class pairs drawn at
random — never an image paired with itself.

Few-shot classification (Koch §4.4, "one-shot"): score the query against every support image; a
class's score is the max (option: the mean) of its support similarities, normalised over the
classes to give probabilities (the argmax is Koch's nearest-by-similarity rule).

Backbones: "conv4" (Conv-4 64 filters, the standard 28×28 protocol of Vinyals et al.'s re-run:
96.7 / 88.0 for 5w1s / 20w1s) or "koch", the paper's CNN for 105×105 inputs
(64@10×10, 128@7×7, 128@4×4 with ReLU and 2×2 max-pool, 256@4×4 ReLU, FC 4096 sigmoid), which
gets whatever size the InputSpec gives (105×105 for the paper's setup; it refuses inputs too small).
Koch trained with per-layer SGD rates tuned by Bayesian optimisation and ×8 affine distortions;
neither is reproducible from the paper, so this uses Adam (the other algorithms' optimiser).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..backbones import BN_MODES, conv4
from ..episodes import task_generator
from ..explanation import Bars, Images, SupportWeights
from ._explain_metric import classifying_mode, embed_support_and_query, support_names
from .base import LR_SCHEDULES, StepMetrics, SupportSetLearner, hp, register
from ..tasks import DEFAULT_TASK

BACKBONES = ("conv4", "koch")
SCORES = ("max", "mean")
PAIRINGS = ("balanced", "all")


class KochNet(nn.Module):
    """Koch et al.'s Siamese twin (fig. 4) with their initialisation (§3.3)."""

    def __init__(self, in_channels: int, input_shape: tuple[int, int, int]):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 64, 10), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 128, 7), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(128, 128, 4), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(128, 256, 4), nn.ReLU(),
        )
        h, w = input_shape[1:]
        for k, pool in ((10, True), (7, True), (4, True), (4, False)):
            h, w = h - k + 1, w - k + 1
            if h < 1 or w < 1:
                raise ValueError(f"Koch's Siamese CNN needs inputs of about 105×105 (at least 65×65); got {input_shape[1]}×{input_shape[2]}. "
                                 "Use backbone=conv4 for 28×28 inputs, or an InputSpec of size (105, 105).")
            if pool:
                h, w = h // 2, w // 2
        self.fc = nn.Linear(256 * h * w, 4096)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):  # weights N(0, 10⁻²), biases N(0.5, 10⁻²)
                nn.init.normal_(m.weight, 0.0, 1e-2)
                nn.init.normal_(m.bias, 0.5, 1e-2)
        nn.init.normal_(self.fc.weight, 0.0, 0.2)  # fully connected: N(0, 0.2²)
        nn.init.normal_(self.fc.bias, 0.5, 1e-2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.fc(self.features(x).flatten(1)))


def near_square_grid(vector: torch.Tensor) -> torch.Tensor:
    """A 1-D vector laid out row by row on a near-square 2-D grid, padded with zeros at the end."""
    columns = math.ceil(math.sqrt(len(vector)))
    rows = math.ceil(len(vector) / columns)
    return F.pad(vector, (0, rows * columns - len(vector))).view(rows, columns)


_PAIR_SALT = 0x5349414D  # "SIAM": the same/different pairs drawn from a training episode


def _unordered_pairs(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Indices (i, j), i < j, of every unordered pair of a batch of labelled images (never an image
    with itself) and whether each pair shows one class; at least one same and one different pair."""
    n = len(labels)
    i, j = torch.triu_indices(n, n, offset=1, device=labels.device)
    same = labels[i] == labels[j]
    if bool(same.all()) or not bool(same.any()):
        raise ValueError("Siamese training needs at least two images of a class and two classes per episode "
                         "(shots + queries ≥ 2); use more training queries")
    return i, j, same


def sample_pairs(labels: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Balanced same/different pairs over a batch of labelled images: indices (i, j) with i < j
    (so never an image with itself, and each unordered pair at most once) and targets 1/0.
    All same-class pairs are kept and as many different-class pairs are drawn (when there are
    fewer different pairs, the same pairs are subsampled instead)."""
    i, j, same = _unordered_pairs(labels)
    pos, neg = same.nonzero().squeeze(1), (~same).nonzero().squeeze(1)
    m = min(len(pos), len(neg))
    pos = pos[torch.randperm(len(pos), generator=generator)[:m].to(labels.device)]
    neg = neg[torch.randperm(len(neg), generator=generator)[:m].to(labels.device)]
    idx = torch.cat([pos, neg])
    return i[idx], j[idx], same[idx].float()


def all_pairs(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Every unordered pair (i < j) of a batch of labelled images, targets 1/0, and weights that give
    the same pairs and the different pairs half of the (summed) loss each: the expectation of the
    balanced draw, without its sampling noise, and every different pair's signal used — the
    embeddings are computed once per image, so the extra pairs cost only the cheap L1 head."""
    i, j, same = _unordered_pairs(labels)
    n_same, n_diff = int(same.sum()), int((~same).sum())
    target = same.float()
    weight = torch.where(same, 0.5 / n_same, 0.5 / n_diff)
    return i, j, target, weight


@register
class SiameseNetwork(SupportSetLearner):
    name = "siamese"
    title = "Siamese Network"
    family = "metric"
    paper = "Koch, Zemel & Salakhutdinov, ICML Deep Learning Workshop 2015"
    how_it_decides = ("The network compares the query with each support image in turn and gives the probability that the "
                      "two show the same class; each class is scored by its best match (or the average), "
                      "and the scores are shared out as probabilities.")

    @dataclass(frozen=True)
    class HParams:
        backbone: str = hp("conv4", "Twin embedding: conv4 (Conv-4, the standard 28×28 protocol) or koch (the paper's CNN for 105×105 inputs)", choices=BACKBONES)
        score: str = hp("max", "Class score from its support similarities: max (Koch's nearest match) or mean", choices=SCORES)
        lr: float = hp(1e-3, "Adam learning rate (Koch tuned per-layer SGD rates, not given)", min=1e-6, max=1.0, log=True)
        lr_halve_every: int = hp(0, "Halve the learning rate every this many episodes (0 = never; Koch decayed 1% per epoch)", min=0, max=10**7)
        lr_schedule: str = hp("step", "step: halve every lr_halve_every episodes (the paper); budget: cosine to 1% over the run or time budget", choices=LR_SCHEDULES)
        hidden: int = hp(64, "Filters per Conv-4 block (conv4 backbone)", min=2, max=512)
        bn_mode: str = hp("running", "BatchNorm statistics at test time (conv4 backbone): running averages or the batch's own", choices=BN_MODES)
        train_way: int = hp(20, "Ways per training episode the pairs are drawn from (not in the paper: more ways give more varied different-pairs); 0 = as tested", min=0, max=1000)
        train_query: int = hp(4, "Queries per class in training episodes (same-pairs need ≥ 2 images per class); 0 = as tested", min=0, max=100)
        pairs: str = hp("balanced", "Training pairs per episode: balanced (every same-class pair and as many different-class pairs "
                        "drawn at random, as Koch) or all (every pair, same and different weighted to half the loss each)",
                        choices=PAIRINGS)

    # docs/results.md: at equal steps on identical episodes, every pair lifted 20-way 1-shot from
    # 79.1 to 82.5 after 1,200 steps, and Adam 2e-3 on top to 84.1.
    presets = {"measured": {"pairs": "all", "lr": 2e-3}}

    def __init__(self, hparams=None, spec=None, n_way: int = DEFAULT_TASK.n_way):
        super().__init__(hparams, spec, n_way)
        h = self.hparams
        if h.backbone == "koch":
            self.encoder: nn.Module = KochNet(self.spec.channels, self.input_shape)
            dim = 4096
        else:
            self.encoder = conv4(self.spec.channels, h.hidden, h.bn_mode)
            dim = self.encoder.out_features(self.input_shape)
        self.head = nn.Linear(dim, 1)  # W·|f(xi) − f(xj)| + b
        # Counts training steps; seeds the pair draw, so a resumed run draws the same pairs.
        self.register_buffer("pair_draws", torch.zeros((), dtype=torch.long))
        self._pair_generator: torch.Generator | None = None  # set for the length of a training step
        self.adam_with_halving(h.lr, h.lr_halve_every, h.lr_schedule)

    @property
    def transductive(self) -> bool:
        return self.hparams.backbone == "conv4" and self.hparams.bn_mode == "transductive"

    def pair_logits(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Logit of p(same) for embedding pairs, broadcasting over leading dimensions."""
        return self.head((a - b).abs()).squeeze(-1)

    def class_log_probs(self, query_emb: torch.Tensor, support_emb: torch.Tensor, support_y: torch.Tensor, n_way: int) -> torch.Tensor:
        """log of (class score / Σ class scores) [Q, N]; a class score is the max (or mean) of the
        query's similarities p to that class's support images, computed in log space."""
        log_p = F.logsigmoid(self.pair_logits(query_emb.unsqueeze(1), support_emb.unsqueeze(0)))  # [Q, S]
        member = F.one_hot(support_y, n_way).T.bool()  # [N, S]
        masked = log_p.unsqueeze(1).masked_fill(~member, float("-inf"))  # [Q, N, S]
        if self.hparams.score == "max":
            scores = masked.amax(-1)
        else:
            scores = masked.logsumexp(-1) - member.sum(-1).clamp_min(1).log()
        return F.log_softmax(scores, dim=-1)

    def meta_train_step(self, tasks) -> StepMetrics:
        # This step's pair draw, seeded by the step count (a resumed run draws the same pairs).
        self._pair_generator = torch.Generator().manual_seed(int(self.pair_draws) * 7919 + 17)
        try:
            metrics = super().meta_train_step(tasks)
        finally:
            self._pair_generator = None
        self.pair_draws += 1
        return metrics

    def episode_loss(self, task) -> tuple[torch.Tensor, torch.Tensor]:
        """(binary cross-entropy over the episode's balanced same/different pairs, the queries'
        class log-probabilities against the support set)."""
        emb = self.encoder(torch.cat([task.support_x, task.query_x]))
        labels = torch.cat([task.support_y, task.query_y])
        if self.hparams.pairs == "all":
            i, j, target, weight = all_pairs(labels)
            loss = F.binary_cross_entropy_with_logits(self.pair_logits(emb[i], emb[j]), target, weight=weight, reduction="sum")
        else:
            # a sampled episode's pairs come from its own stream (a data-parallel run draws what one process would)
            g = task_generator(task, _PAIR_SALT, self._pair_generator)
            i, j, target = sample_pairs(labels, g)
            loss = F.binary_cross_entropy_with_logits(self.pair_logits(emb[i], emb[j]), target)
        with torch.no_grad():
            n_s = len(task.support_x)
            lp = self.class_log_probs(emb[n_s:], emb[:n_s], task.support_y, task.n_way)
        return loss, lp

    def episode_log_probs(self, support_x, support_y, query_x, n_way: int) -> torch.Tensor:
        emb = self.encoder(torch.cat([support_x, query_x]))
        return self.class_log_probs(emb[len(support_x):], emb[: len(support_x)], support_y, n_way)

    def process_support_set(self, support_x, support_y, n_way: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        return self.encoder(support_x), support_y, n_way

    def query_log_probs(self, support, query_x) -> torch.Tensor:
        support_emb, support_y, n_way = support
        return self.class_log_probs(self.encoder(query_x), support_emb, support_y, n_way)

    # -- explanation -------------------------------------------------------------------------------
    def explain_parts(self, support_x, support_y, query_x, classes) -> list:
        n_way = len(classes)
        with classifying_mode(self):
            support_emb, query_emb = embed_support_and_query(self, self.encoder, support_x, query_x)
            difference = (query_emb - support_emb).abs()  # |f(x1) − f(x2)| [S, D]: eq. 1's input to the weighted L1 layer
            p_same = torch.sigmoid(self.head(difference).squeeze(-1))  # p(x1, x2), eq. 1
        member = F.one_hot(support_y, n_way).T.bool()  # [N, S]
        if self.hparams.score == "max":
            class_scores = p_same.unsqueeze(0).masked_fill(~member, 0.0).amax(-1)
        else:
            class_scores = (p_same.unsqueeze(0) * member).sum(-1) / member.sum(-1).clamp_min(1)
        best = classes[int(class_scores.argmax())]
        rows, columns = near_square_grid(difference[0]).shape
        padding = rows * columns - difference.shape[1]
        how = "best" if self.hparams.score == "max" else "average"
        return [
            SupportWeights("Probability of the same class, per support image",
                           "The network's probability that the query and each support image show the same class.",
                           values=p_same, value_label="p(same)"),
            Bars(f"Class score: its {how} match",
                 f"Each class is scored by its {how} p(same); the probabilities are these scores divided by their sum, "
                 f"so {best} comes first.",
                 categories=list(classes), series={f"{self.hparams.score} p(same)": class_scores}, value_label="p(same)"),
            Images("Feature differences the comparison weighs",
                   f"For each support image, how much each of the {difference.shape[1]} features differs from the query's "
                   f"(dark = alike, bright = different), laid out row by row in a grid of {rows}×{columns}"
                   + (f" (the last {padding} cells are padding, always 0)" if padding else "") + "; "
                   "the network weighs these differences into p(same).",
                   images=[near_square_grid(d) for d in difference], labels=support_names(support_y, classes),
                   vmin=0.0, vmax=float(difference.max()) or None),  # one scale for all: brighter is more different
        ]
