"""Matching Networks (Vinyals, Blundell, Lillicrap, Kavukcuoglu & Wierstra 2016).

P(y | x̂, S) = Σ_i a(x̂, x_i) y_i (eq. 1) with a = softmax over the cosine similarities
c(f(x̂), g(x_i)) (eq. 2); training minimises the negative log-likelihood of the queries' labels on
episodes shaped like the test tasks. Embedding f' = g' = Conv-4 (64 filters), 64-d on 28×28.

Full Context Embeddings (option, Appendix A, as defined there):
- g(x_i, S) = h→_i + h←_i + g'(x_i): a bidirectional LSTM over the support embeddings (in the
  support set's order) plus the skip connection g'(x_i).
- f(x̂, S) = attLSTM(f'(x̂), g(S), K): for k = 1..K fixed processing steps,
  r_{k−1} = Σ_i softmax_i(h_{k−1}ᵀ g(x_i)) g(x_i);  ĥ_k, c_k = LSTM(f'(x̂), [h_{k−1}, r_{k−1}], c_{k−1});
  h_k = ĥ_k + f'(x̂);  f = h_K. Starting from ĥ_0 = 0, c_0 = 0 (so h_0 = f'(x̂)), which the paper
  leaves open. An LSTM whose hidden state is [h, r] has gates linear in [f'(x̂), h, r]: the same
  as an LSTM cell with input [f'(x̂), r] and hidden state h, which is how it is computed here.
The paper's Omniglot table (98.1 / 98.9 / 93.8 / 98.5) lists no FCE variant (FCE appears in its
mini-ImageNet results), hence FCE is off by default. Optimiser: Adam 1e-3 (the paper gives no
schedule). The paper's plain cosine (cosine_scale = 1) on ReLU embeddings bounds how peaked the
attention can get; a larger scale trains faster early on (measured: 87% vs 77% 5w1s after 200
steps) but is not the paper's.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..backbones import BN_MODES, conv4
from ..explanation import Bars, Points, SupportWeights
from ._explain_metric import classifying_mode, embed_support_and_query, embedding_map, support_names
from .base import LR_SCHEDULES, SupportSetLearner, hp, register
from ..tasks import DEFAULT_TASK


class FullContextEmbedding(nn.Module):
    """g: bidirectional LSTM with skip over the support set; f: attention LSTM, K steps."""

    def __init__(self, dim: int, steps: int):
        super().__init__()
        self.dim, self.steps = dim, steps
        self.g_lstm = nn.LSTM(dim, dim, batch_first=True, bidirectional=True)
        self.f_cell = nn.LSTMCell(2 * dim, dim)

    def embed_support(self, g_prime: torch.Tensor) -> torch.Tensor:
        """[S, D] -> g(x_i, S) = h→_i + h←_i + g'(x_i)."""
        out, _ = self.g_lstm(g_prime.unsqueeze(0))
        forward, backward = out[0].split(self.dim, dim=-1)
        return forward + backward + g_prime

    def embed_query(self, f_prime: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """[Q, D], [S, D] -> f(x̂, S) after K attention steps over g(S)."""
        h, c = f_prime, torch.zeros_like(f_prime)
        for _ in range(self.steps):
            read = F.softmax(h @ g.T, dim=-1) @ g  # r_{k−1}
            h_hat, c = self.f_cell(torch.cat([f_prime, read], dim=-1), (h, c))
            h = h_hat + f_prime
        return h


def cosines(query_emb: torch.Tensor, support_emb: torch.Tensor) -> torch.Tensor:
    """c(f(x̂), g(x_i)) [Q, S]: the cosine similarity of every query with every support (eq. 2)."""
    return F.normalize(query_emb, dim=-1) @ F.normalize(support_emb, dim=-1).T


def attention_log_probs(query_emb: torch.Tensor, support_emb: torch.Tensor, support_y: torch.Tensor, n_way: int, scale: float = 1.0) -> torch.Tensor:
    """log Σ_i a(x̂, x_i) y_i [Q, N], a = softmax over the supports of scale · cosine (eq. 1-2)."""
    log_a = F.log_softmax(scale * cosines(query_emb, support_emb), dim=-1)
    log_member = F.one_hot(support_y, n_way).T.to(log_a.dtype).log()  # [N, S]: 0 or −inf
    return (log_a.unsqueeze(1) + log_member.unsqueeze(0)).logsumexp(-1)


@register
class MatchingNetwork(SupportSetLearner):
    name = "matching"
    title = "Matching Networks"
    family = "metric"
    paper = "Vinyals et al., NeurIPS 2016"
    how_it_decides = ("The query spreads its attention over the support images, most on those it looks most like "
                      "(cosine similarity of their embeddings); a class's probability is the attention its images receive.")
    presets = {"measured": {"cosine_scale": 10.0, "train_way": 20, "train_query": 5, "lr_schedule": "budget"}}  # docs/results.md: 98.01 / 93.67 in 10 min (trained on trainval)

    @dataclass(frozen=True)
    class HParams:
        fce: bool = hp(False, "Full Context Embeddings: bidirectional-LSTM support embedding g and attention-LSTM query embedding f (the paper's Omniglot numbers are without)")
        fce_steps: int = hp(5, "Processing steps K of the attention LSTM f (FCE; the paper leaves K open)", min=1, max=100)
        cosine_scale: float = hp(1.0, "Multiplier of the cosine similarities inside the attention softmax (1 = the paper's plain cosine)", min=0.01, max=100.0, log=True)
        lr: float = hp(1e-3, "Adam learning rate", min=1e-6, max=1.0, log=True)
        lr_halve_every: int = hp(0, "Halve the learning rate every this many episodes (0 = never; the paper gives no schedule)", min=0, max=10**7)
        lr_schedule: str = hp("step", "step: halve every lr_halve_every episodes (the paper); budget: cosine to 1% over the run or time budget", choices=LR_SCHEDULES)
        hidden: int = hp(64, "Filters per Conv-4 block (64 in the paper)", min=2, max=512)
        bn_mode: str = hp("running", "BatchNorm statistics at test time: running averages or the batch's own", choices=BN_MODES)
        train_way: int = hp(0, "Ways per training episode; 0 = as tested (the paper trains on the test task's shape)", min=0, max=1000)
        train_query: int = hp(0, "Queries per class in training episodes; 0 = as tested", min=0, max=100)

    def __init__(self, hparams=None, spec=None, n_way: int = DEFAULT_TASK.n_way):
        super().__init__(hparams, spec, n_way)
        h = self.hparams
        self.encoder = conv4(self.spec.channels, h.hidden, h.bn_mode)
        self.fce_module = FullContextEmbedding(self.encoder.out_features(self.input_shape), h.fce_steps) if h.fce else None
        self.adam_with_halving(h.lr, h.lr_halve_every, h.lr_schedule)

    def embed(self, support_x: torch.Tensor, query_x: torch.Tensor, together: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """(g(x_i, S) [S, D], f(x̂, S) [Q, D]). `together`: one encoder pass over the whole
        episode (BatchNorm sees all of it); else support and queries go through separately."""
        if together:
            emb = self.encoder(torch.cat([support_x, query_x]))
            g, f = emb[: len(support_x)], emb[len(support_x):]
        else:
            g, f = self.encoder(support_x), self.encoder(query_x)
        if self.fce_module is not None:
            g = self.fce_module.embed_support(g)
            f = self.fce_module.embed_query(f, g)
        return g, f

    def log_probs(self, support_emb, support_y, query_emb, n_way: int) -> torch.Tensor:
        return attention_log_probs(query_emb, support_emb, support_y, n_way, self.hparams.cosine_scale)

    def episode_log_probs(self, support_x, support_y, query_x, n_way: int) -> torch.Tensor:
        g, f = self.embed(support_x, query_x)
        return self.log_probs(g, support_y, f, n_way)

    def process_support_set(self, support_x, support_y, n_way: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        g = self.encoder(support_x)
        if self.fce_module is not None:
            g = self.fce_module.embed_support(g)
        return g, support_y, n_way

    def query_log_probs(self, support, query_x) -> torch.Tensor:
        g, support_y, n_way = support
        f = self.encoder(query_x)
        if self.fce_module is not None:
            f = self.fce_module.embed_query(f, g)
        return self.log_probs(g, support_y, f, n_way)

    # -- explanation -------------------------------------------------------------------------------
    def explain_parts(self, support_x, support_y, query_x, classes) -> list:
        n_way = len(classes)
        with classifying_mode(self):
            g_prime, f_prime = embed_support_and_query(self, self.encoder, support_x, query_x)  # g'(x_i), f'(x̂)
            g, f = g_prime, f_prime
            if self.fce_module is not None:  # Appendix A: g(x_i, S), then f(x̂, S) attending over g(S)
                g = self.fce_module.embed_support(g_prime)
                f = self.fce_module.embed_query(f_prime, g)
            cos = cosines(f, g)[0]  # c(f(x̂), g(x_i)), eq. 2
            attention = F.softmax(self.hparams.cosine_scale * cos, dim=-1)  # a(x̂, x_i), eq. 2
            class_sums = attention.new_zeros(n_way).index_add_(0, support_y, attention)  # Σ_i a(x̂, x_i) y_i, eq. 1
        best = classes[int(class_sums.argmax())]
        scale = self.hparams.cosine_scale
        parts = [
            SupportWeights("Attention on each support image",
                           "How much of its attention the query gives each support image; the weights add up to 1 "
                           "and the images most like the query get the most.",
                           values=attention, value_label="attention"),
            Bars("Attention summed per class",
                 f"A class's probability is the attention its support images receive in total: {best} gets the most.",
                 categories=list(classes), series={"attention on the class": class_sums}, value_label="share of the attention"),
            SupportWeights("Cosine similarity with each support image",
                           "How alike the query and each support image are (1 = same direction of their embeddings, "
                           "0 = unrelated); the attention is a softmax of these"
                           + (f" times {scale:g}." if scale != 1 else "."),
                           values=cos, value_label="cosine", vmin=-1.0, vmax=1.0),
        ]
        if self.fce_module is not None:
            parts.append(self._fce_map(g_prime, f_prime, g, f, support_names(support_y, classes), support_y.tolist()))
        return parts

    @staticmethod
    def _fce_map(g_prime, f_prime, g, f, names: list[str], support_labels: list[int]) -> Points:
        """Each embedding before and after Full Context Embeddings, joined by how far it moved."""
        n = len(g_prime) + 1  # the support images, then the query
        before, after = torch.cat([g_prime, f_prime]), torch.cat([g, f])
        moved = (after - before).norm(dim=-1)
        labels = names + ["query"]
        return embedding_map(
            "How full context embeddings moved the points",
            "Full context embeddings adjust each embedding to the whole support set: each line joins an image's "
            "plain embedding (labelled \"plain\") to the one the attention uses, labelled with how far it moved.",
            torch.cat([before, after]),
            labels=[f"{lab} (plain)" for lab in labels] + labels,
            kind_of=["support (plain)"] * (n - 1) + ["query (plain)"] + ["support"] * (n - 1) + ["query"],
            group=(support_labels + [-1]) * 2,
            links=[(i, n + i, float(d)) for i, d in enumerate(moved)], link_label="moved by")
