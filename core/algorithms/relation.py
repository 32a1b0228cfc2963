"""Relation Network (Sung, Yang, Zhang, Xiang, Torr & Hospedales 2018).

Embedding fφ: Conv-4 where only the first two blocks max-pool, so feature maps stay spatial
(64×7×7 on 28×28). Relation module gϕ: two conv blocks (3×3 conv 64, BatchNorm, ReLU, 2×2
max-pool) on the channel-concatenated pair [fφ(x_c), fφ(x̂)], then FC 8 (ReLU) and FC 1 with a
sigmoid: r_{c,j} = gϕ([fφ(x_c), fφ(x̂_j)]) ∈ [0, 1] (eq. 1). For K > 1 the class feature is the
SUM of its K support feature maps (§3.3). Loss: mean squared error of r against the one-hot
label 1[y_j = c] (eq. 2). Adam 1e-3 halved every 100,000 episodes, gradient norm clipped at 0.5
(embedding and relation module each, as the reference code does). Queries per class in
training on Omniglot: 19 (5w1s), 15 (5w5s), 10 (20w1s), 5 (20w5s).

The first relation convolution is linear in its input, so conv([s; q]) = conv_s(s) + conv_q(q):
it is applied once per class feature and once per query and the results are summed for every
(query, class) pair — exactly the concatenation's output at N + Q instead of N·Q convolutions.
For display and evaluation the relation scores are normalised over the classes: p_c = r_c / Σ r.
BatchNorm: the reference code uses batch statistics at test time too (bn_mode=transductive);
the default here uses running statistics (inductive). Initialisation: PyTorch's defaults (the
paper gives none; the reference code's N(0, 0.01) linear weights with bias 1 start every score
near σ(1)).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..backbones import BN_MODES, Conv4, batch_norm
from ..explanation import Bars
from ._explain_metric import classifying_mode, embed_support_and_query
from .base import LR_SCHEDULES, SupportSetLearner, hp, register
from ..tasks import DEFAULT_TASK


class RelationModule(nn.Module):
    """gϕ: 2 conv blocks + FC `fc_hidden` + FC 1 over a pair of [C, H, W] feature maps."""

    def __init__(self, channels: int, feat_hw: tuple[int, int], hidden: int = 64, fc_hidden: int = 8, bn_mode: str = "running"):
        super().__init__()
        self.channels = channels
        self.conv1 = nn.Conv2d(2 * channels, hidden, 3, padding=1)
        self.block1 = nn.Sequential(batch_norm(hidden, bn_mode), nn.ReLU(), nn.MaxPool2d(2))
        self.block2 = nn.Sequential(nn.Conv2d(hidden, hidden, 3, padding=1), batch_norm(hidden, bn_mode), nn.ReLU(), nn.MaxPool2d(2))
        h, w = feat_hw
        h, w = h // 2 // 2, w // 2 // 2
        if h < 1 or w < 1:
            raise ValueError(f"the relation module needs feature maps of at least 4×4; got {feat_hw[0]}×{feat_hw[1]} (use larger inputs)")
        self.fc1 = nn.Linear(hidden * h * w, fc_hidden)
        self.fc2 = nn.Linear(fc_hidden, 1)

    def _rest(self, h: torch.Tensor) -> torch.Tensor:
        h = self.block2(self.block1(h)).flatten(1)
        return self.fc2(F.relu(self.fc1(h))).squeeze(-1)

    def forward(self, pairs: torch.Tensor) -> torch.Tensor:
        """Relation logits (pre-sigmoid) [P] of concatenated pairs [P, 2C, H, W]."""
        return self._rest(self.conv1(pairs))

    def pair_logits(self, class_feats: torch.Tensor, query_feats: torch.Tensor) -> torch.Tensor:
        """Relation logits [Q, N] of every (query, class) pair, as forward([class; query]) would give."""
        c = self.channels
        w = self.conv1.weight
        s = F.conv2d(class_feats, w[:, :c], self.conv1.bias, padding=1)  # [N, hidden, H, W]
        q = F.conv2d(query_feats, w[:, c:], None, padding=1)  # [Q, hidden, H, W]
        h = (q.unsqueeze(1) + s.unsqueeze(0)).flatten(0, 1)
        return self._rest(h).view(len(query_feats), len(class_feats))


RELATION_LOSSES = ("mse", "bce", "ce")


def class_features(support_feats: torch.Tensor, support_y: torch.Tensor, n_way: int) -> torch.Tensor:
    """Each class's feature map [N, C, H, W]: the SUM of its K support feature maps (§3.3)."""
    zeros = torch.zeros(n_way, *support_feats.shape[1:], device=support_feats.device, dtype=support_feats.dtype)
    return zeros.index_add_(0, support_y, support_feats)


def normalized_relations(logits: torch.Tensor) -> torch.Tensor:
    """log(r_c / Σ r) with r = σ(logit), stable even when every r underflows."""
    return F.log_softmax(F.logsigmoid(logits), dim=-1)


@register
class RelationNetwork(SupportSetLearner):
    name = "relation"
    title = "Relation Network"
    family = "metric"
    paper = "Sung et al., CVPR 2018"
    how_it_decides = ("A small network, trained for it, looks at the query's features next to each class's features "
                      "and scores how related they are (0 to 1); the probabilities are the scores divided by their sum.")

    @dataclass(frozen=True)
    class HParams:
        lr: float = hp(1e-3, "Adam learning rate", min=1e-6, max=1.0, log=True)
        lr_halve_every: int = hp(100_000, "Halve the learning rate every this many episodes (100,000 in the paper; 0 = never)", min=0, max=10**8)
        lr_schedule: str = hp("step", "step: halve every lr_halve_every episodes (the paper); budget: cosine to 1% over the run or time budget", choices=LR_SCHEDULES)
        grad_clip: float = hp(0.5, "Clip the gradient norm of the embedding and of the relation module at this value (0 = off)", min=0.0, max=100.0)
        hidden: int = hp(64, "Filters per conv block, embedding and relation module (64 in the paper)", min=2, max=512)
        fc_hidden: int = hp(8, "Units of the relation module's hidden fully connected layer (8 in the paper)", min=1, max=1024)
        bn_mode: str = hp("running", "BatchNorm statistics at test time: running averages, or the batch's own (the reference code)", choices=BN_MODES)
        train_way: int = hp(0, "Ways per training episode; 0 = as tested (the paper trains on the test task's ways)", min=0, max=1000)
        train_query: int = hp(19, "Queries per class in training episodes: 19 for 5w1s, 15 for 5w5s, 10 for 20w1s, 5 for 20w5s; 0 = as tested", min=0, max=100)
        loss: str = hp("mse", "Training loss: mse (eq. 2, the paper: squared error of each score against 1[same class]), "
                        "bce (binary cross-entropy of each score), or ce (cross-entropy of the normalised scores r_c / Σ r)",
                       choices=RELATION_LOSSES)

    def __init__(self, hparams=None, spec=None, n_way: int = DEFAULT_TASK.n_way):
        super().__init__(hparams, spec, n_way)
        h = self.hparams
        self.encoder = Conv4(self.spec.channels, h.hidden, h.bn_mode, pool_blocks=2)
        with torch.no_grad():
            self.encoder.eval()
            feat = self.encoder.blocks(torch.zeros(2, *self.input_shape))
            self.encoder.train()
        self.relation = RelationModule(h.hidden, tuple(feat.shape[-2:]), h.hidden, h.fc_hidden, h.bn_mode)
        self.adam_with_halving(h.lr, h.lr_halve_every, h.lr_schedule)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """fφ(x): spatial feature maps [B, C, H, W]."""
        return self.encoder.blocks(x)

    def relation_logits(self, support_x, support_y, query_x, n_way: int) -> torch.Tensor:
        """Pre-sigmoid relation scores [Q, N]; support and queries share one encoder pass."""
        feats = self.features(torch.cat([support_x, query_x]))
        s, q = feats[: len(support_x)], feats[len(support_x):]
        return self.relation.pair_logits(class_features(s, support_y, n_way), q)

    def episode_loss(self, task) -> tuple[torch.Tensor, torch.Tensor]:
        """(the loss of the relation scores against the labels, the scores r [Q, N] in [0, 1]).
        mse is eq. 2. The alternatives keep the model and change only what is minimised: MSE's
        gradient through the sigmoid vanishes where a score is confidently wrong (r(1−r) → 0), which
        binary cross-entropy does not; ce trains the very probabilities the classifier reports."""
        logits = self.relation_logits(task.support_x, task.support_y, task.query_x, task.n_way)
        r = torch.sigmoid(logits)
        one_hot = F.one_hot(task.query_y, task.n_way).to(r.dtype)
        if self.hparams.loss == "bce":
            return F.binary_cross_entropy_with_logits(logits, one_hot), r
        if self.hparams.loss == "ce":
            return F.nll_loss(normalized_relations(logits), task.query_y), r
        return F.mse_loss(r, one_hot), r

    def before_optimizer_step(self) -> None:
        if self.hparams.grad_clip > 0:  # clipped per module, as the reference code does
            nn.utils.clip_grad_norm_(self.encoder.parameters(), self.hparams.grad_clip)
            nn.utils.clip_grad_norm_(self.relation.parameters(), self.hparams.grad_clip)

    def episode_log_probs(self, support_x, support_y, query_x, n_way: int) -> torch.Tensor:
        return normalized_relations(self.relation_logits(support_x, support_y, query_x, n_way))

    def process_support_set(self, support_x, support_y, n_way: int) -> torch.Tensor:
        return class_features(self.features(support_x), support_y, n_way)

    def query_log_probs(self, class_feats, query_x) -> torch.Tensor:
        return normalized_relations(self.relation.pair_logits(class_feats, self.features(query_x)))

    # -- explanation -------------------------------------------------------------------------------
    def explain_parts(self, support_x, support_y, query_x, classes) -> list:
        n_way = len(classes)
        with classifying_mode(self):
            support_feats, query_feats = embed_support_and_query(self, self.features, support_x, query_x)
            class_feats = class_features(support_feats, support_y, n_way)  # §3.3: the sum of a class's K feature maps
            relation = torch.sigmoid(self.relation.pair_logits(class_feats, query_feats))[0]  # r_c, eq. 1
            # The fixed metric a learned one replaces: the cosine of the very feature maps the module compares.
            cosine = F.cosine_similarity(class_feats.flatten(1), query_feats.flatten(1), dim=-1)
        learned, fixed = classes[int(relation.argmax())], classes[int(cosine.argmax())]
        verdict = (f"Both rank {learned} first." if learned == fixed else
                   f"The learned score picks {learned}; the plain cosine would pick {fixed}.")
        return [Bars("Learned relation score vs plain cosine",
                     "The relation score the network learned for each class (the probabilities are these scores divided by "
                     f"their sum), beside a plain cosine similarity of the same features; 1 = most related. {verdict}",
                     categories=list(classes), series={"relation": relation, "cosine": cosine}, value_label="score")]
