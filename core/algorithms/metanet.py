"""Meta Networks (Munkhdalai & Yu, ICML 2017).

Two learners, each with slow weights trained across tasks by backpropagation and *fast weights*
generated per task by the meta learner from loss gradients on the support set (meta information):

- base learner b (slow weights W): Conv-4, then two fully connected layers over the N ways;
- dynamic representation learning function u (slow weights Q, task-level fast weights Q*):
  Conv-4, then two fully connected layers giving the representation r;
- fast-weight generators: m (slow weights Z) maps the gradient of one support example's loss in b
  to example-level fast weights W*_i = m(∇_i); d (slow weights G) maps the gradients of u's
  representation loss on T support pairs to the task-level fast weights Q* = d({∇_t}).

Layer augmentation (§3.3): an augmented layer applies its slow and its fast weights to the same
input, passes each through the layer's nonlinearity and sums them: y = σ(W x) + σ(W* x).

One episode (Algorithm 1 of the paper, the contrastive-loss variant of its appendix):
  support phase (a) for T pairs (x'_a, x'_b) of support examples, l = 1[y'_a = y'_b]:
        L_t = loss_emb(u(Q; x'_a), u(Q; x'_b), l),  ∇_t = ∇_Q L_t;   Q* = d(G, {∇_t}_{t=1..T})
  support phase (b) for every support example i:
        L_i = CE(b(W; x'_i), y'_i),  ∇_i = ∇_W L_i,  W*_i = m(Z, ∇_i)   → memory M = {W*_i},
        r'_i = u(Q, Q*; x'_i)                                             → keys R = {r'_i}
  query phase, for every query x_j:
        r_j = u(Q, Q*; x_j),  a_j = softmax(cos(R, r_j)),  W*_j = a_jᵀ M,
        loss = CE(b(W, W*_j; x_j), y_j), which trains all slow weights W, Q, Z, G end to end.

Choices the paper leaves open (or where this file departs from it), and why:
- Which layers are fast: the last two layers of b and of u (the two fully connected layers on
  top of Conv-4: 64 → fc_hidden → N for b, 64 → fc_hidden → rep_dim for u), weights *and*
  biases. The convolutional trunks have slow weights only (the paper augments "the last layers";
  gradients of the conv trunk would also be hundreds of times larger to process).
  Nonlinearity of an augmented layer: ReLU for the hidden layer, identity for the output layers
  (b's logits and u's representation are each the sum of a slow and a fast linear map).
- Meta information: the per-example gradients are inputs to m and d, not part of the graph —
  they are computed from detached features and weights (no second derivatives), as in
  Andrychowicz et al.'s learned optimiser whose preprocessing the paper uses. All per-example
  gradients of an episode come from one batched pass (`torch.func.vmap(grad(...))`).
- Gradient preprocessing (Andrychowicz et al. 2016, appendix): each coordinate g becomes
  (log|g|/p, sign g) if |g| ≥ e^(−p), else (−1, e^p·g); p = `grad_p`.
- m and d are coordinate-wise networks shared across all coordinates (one input = one
  preprocessed gradient coordinate, one output = that coordinate's fast weight), so they do not
  depend on the layer sizes. m: an MLP 2 → meta_hidden → meta_hidden → 1 (ReLU). d: the paper
  uses an LSTM (it reports that an MLP converged worse); here an LSTM with meta_hidden units
  reads the T gradients of a coordinate in sequence and a linear readout of its last hidden
  state gives the coordinate of Q* (`task_generator="mlp"`: an MLP like m averaged over T).
- Representation loss (the paper's appendix uses a contrastive loss on T sampled pairs with an
  auxiliary same-class label l): Hadsell et al.'s contrastive loss on the L2-normalised slow
  representations, L = l·δ² + (1 − l)·max(0, 2 − δ)², δ = ‖r̂_a − r̂_b‖. The margin 2 is the
  diameter of the unit sphere, so no pair's gradient vanishes (a 1-shot support has negative
  pairs only; a smaller margin would zero their gradients once they are apart, and with them Q*).
  The T pairs are a deterministic ring (support example i with example i+1), so adapting twice
  to the same support gives the same classifier: T = the support size (`rep_pairs` = 0) or the
  first pairs of T evenly spaced examples. With more shots the ring mixes positive pairs in.
- Attention: softmax over cosine similarities as in the paper, multiplied by `attention_scale`.
  Departure: the default is 10, not the paper's plain cosine (1), whose softmax over values in
  [−1, 1] can hardly peak. Measured on Omniglot 5-way 1-shot (300 steps, 5 queries per class,
  100 validation episodes): 73.6% with 10 against 63.9% with 1.
- The base learner's output layer has one unit per training way. For fewer ways (a 3-way task
  for a model trained 5-way) b's output layer is sliced to its first n units, in both phases: the
  support gradients, the fast weights and the query softmax are all over those n classes.
- BatchNorm in the trunks: "running" statistics at test time (support and queries go through
  the trunks separately); "transductive" runs support and queries through together at test time
  too. In training, support and queries go through each trunk in one batch.
- Optimiser: Adam 1e-3 (the paper trains with Adam); `lr_schedule="budget"` (a cosine to 1% over
  the run or the time budget) because the paper gives no schedule and a CPU run is short.
- Initialisation: b's slow output layer starts at zero (see __init__); the rest is PyTorch's.
- Training episodes: the test task's ways and shots with 5 queries per class (`train_query`):
  the trunks' cost grows with the queries, and on one CPU core more, smaller episodes learn
  faster per second (5-way: 0.09 s of CPU per step; 20-way: 0.33 s).
Omniglot protocol of the paper: 1-shot, trained on the test task's shape (5-way or 20-way). A
model trained 20-way also classifies 5-way tasks (through the sliced output layer).

Explanation (`explain_parts`), in adapt()'s BatchNorm mode: the query's class probabilities with
the fast weights (the prediction) and with the slow weights alone (W* = 0), the attention a_j over
the support memory (per support image and per class), and u's representations of the support
images and the query in 2-D with the cosines the attention is the softmax of.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import grad, vmap

from ..backbones import BN_MODES, conv4
from ..pca import pca_2d
from .base import LR_SCHEDULES, Classifier, SupportSetLearner, hp, register
from ..tasks import DEFAULT_TASK

HEAD_NAMES = ("w1", "b1", "w2", "b2")  # the fast-augmented parameters of a head, in this order


def preprocess_gradient(g: torch.Tensor, p: float) -> torch.Tensor:
    """Andrychowicz et al. (2016, App. A): coordinate g -> (log|g|/p, sign g) when |g| ≥ e^(−p),
    else (−1, e^p·g). Keeps sign and order of magnitude of gradients of any scale. [..., 2]"""
    mag = g.abs()
    big = mag >= math.exp(-p)
    log_part = torch.where(big, mag.clamp_min(math.exp(-p)).log() / p, torch.full_like(g, -1.0))
    sign_part = torch.where(big, g.sign(), g * math.exp(p))
    return torch.stack([log_part, sign_part], dim=-1)


def augmented_linear(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, fast: tuple | None, act) -> torch.Tensor:
    """Layer augmentation (§3.3): act(W x + b) + act(W* x + b*). Fast weights are either shared by
    all rows (task level: W* [out, in]) or one set per row (example level: W* [rows, out, in])."""
    out = act(F.linear(x, w, b))
    if fast is None:
        return out
    fw, fb = fast
    if fw.dim() == w.dim():
        return out + act(F.linear(x, fw, fb))
    return out + act(torch.einsum("roi,ri->ro", fw, x) + fb)


def head_forward(params: dict, x: torch.Tensor, fast: dict | None = None) -> torch.Tensor:
    """Two augmented fully connected layers: ReLU on the hidden one, identity on the output."""
    f1 = None if fast is None else (fast["w1"], fast["b1"])
    f2 = None if fast is None else (fast["w2"], fast["b2"])
    h = augmented_linear(x, params["w1"], params["b1"], f1, F.relu)
    return augmented_linear(h, params["w2"], params["b2"], f2, lambda t: t)


class AugmentedHead(nn.Module):
    """The fast-augmented top of b or u: in → hidden (ReLU) → out."""

    def __init__(self, in_features: int, hidden: int, out_features: int):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden)
        self.fc2 = nn.Linear(hidden, out_features)

    def slow(self, n_out: int | None = None) -> dict[str, torch.Tensor]:
        """The slow weights as a dict; `n_out` keeps only the first output units (fewer ways)."""
        p = {"w1": self.fc1.weight, "b1": self.fc1.bias, "w2": self.fc2.weight, "b2": self.fc2.bias}
        if n_out is not None:
            p["w2"], p["b2"] = p["w2"][:n_out], p["b2"][:n_out]
        return p


def flatten_params(tensors: dict[str, torch.Tensor], lead: int) -> torch.Tensor:
    """name -> [*lead dims, *shape] as one [*lead dims, coordinates] tensor (HEAD_NAMES order)."""
    return torch.cat([tensors[k].flatten(lead) for k in HEAD_NAMES], dim=-1)


def unflatten_params(flat: torch.Tensor, shapes: dict[str, torch.Size]) -> dict[str, torch.Tensor]:
    sizes = [math.prod(shapes[k]) for k in HEAD_NAMES]
    lead = flat.shape[:-1]
    return {k: part.reshape(*lead, *shapes[k]) for k, part in zip(HEAD_NAMES, flat.split(sizes, dim=-1))}


def coordinate_mlp(hidden: int) -> nn.Sequential:
    """A network applied to every gradient coordinate on its own: (log|g|/p, sign g) -> 1 value."""
    return nn.Sequential(nn.Linear(2, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))


class CoordinateLSTM(nn.Module):
    """d as an LSTM over the T gradients of each coordinate (coordinates are the batch)."""

    def __init__(self, hidden: int):
        super().__init__()
        self.cell = nn.LSTMCell(2, hidden)
        self.readout = nn.Linear(hidden, 1)

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        """[T, C, 2] -> [C]"""
        h = seq.new_zeros(seq.shape[1], self.cell.hidden_size)
        c = torch.zeros_like(h)
        for x in seq:
            h, c = self.cell(x, (h, c))
        return self.readout(h).squeeze(-1)


class CoordinateMeanMLP(nn.Module):
    """d as an MLP per coordinate and gradient, averaged over the T gradients (order-free)."""

    def __init__(self, hidden: int):
        super().__init__()
        self.net = coordinate_mlp(hidden)

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        return self.net(seq).squeeze(-1).mean(0)


@dataclass
class TaskMemory:
    """What the support phase leaves for the query phase."""

    task_fast: dict[str, torch.Tensor]  # Q*: u's task-level fast weights
    keys: torch.Tensor  # R [S, rep_dim]: r'_i = u(Q, Q*; x'_i)
    values: torch.Tensor  # M [S, coordinates]: W*_i = m(∇_i), flattened (HEAD_NAMES order)
    shapes: dict[str, torch.Size]  # of b's (possibly sliced) head, to unflatten a read
    n_way: int


@register
class MetaNetwork(SupportSetLearner):
    name = "metanet"
    title = "Meta Networks"
    family = "model"
    paper = "Munkhdalai & Yu, ICML 2017"

    @dataclass(frozen=True)
    class HParams:
        lr: float = hp(1e-3, "Adam learning rate of all slow weights (b, u, m, d)", min=1e-6, max=1.0, log=True)
        lr_halve_every: int = hp(0, "Halve the learning rate every this many steps (0 = never; schedule 'step')", min=0, max=10**7)
        lr_schedule: str = hp("budget", "budget: cosine to 1% over the run or time budget (the paper gives no schedule); step: halve every lr_halve_every steps", choices=LR_SCHEDULES)
        hidden: int = hp(64, "Filters per Conv-4 block of the base learner b and of u", min=2, max=512)
        fc_hidden: int = hp(64, "Units of the first of the two fast-augmented fully connected layers of b and u", min=2, max=1024)
        rep_dim: int = hp(64, "Size of u's representation r (the keys and queries of the attention)", min=2, max=1024)
        meta_hidden: int = hp(20, "Hidden units of the fast-weight generators m (MLP) and d (LSTM)", min=2, max=256)
        grad_p: float = hp(10.0, "p of the gradient preprocessing (log|∇|/p, sign ∇) (Andrychowicz et al.)", min=1.0, max=30.0)
        rep_pairs: int = hp(0, "T: support pairs for the representation loss that gives the task-level fast weights (0 = one per support example)", min=0, max=1000)
        task_generator: str = hp("lstm", "d, the task-level fast-weight generator: an LSTM over the T gradients (the paper) or an MLP averaged over them", choices=("lstm", "mlp"))
        attention_scale: float = hp(10.0, "Multiplier of the cosine similarities in the memory attention (1 = the paper's plain cosine; 10 learns faster)", min=0.01, max=100.0, log=True)
        bn_mode: str = hp("running", "BatchNorm statistics of the conv trunks at test time: running averages or the batch's own", choices=BN_MODES)
        train_way: int = hp(0, "Ways per training episode; 0 = as tested (the paper trains on the test task's shape)", min=0, max=1000)
        train_query: int = hp(5, "Queries per class in training episodes; 0 = as tested", min=0, max=100)

    def __init__(self, hparams=None, spec=None, n_way: int = DEFAULT_TASK.n_way):
        super().__init__(hparams, spec, n_way)
        h = self.hparams
        self.b_trunk = conv4(self.spec.channels, h.hidden, h.bn_mode)
        self.u_trunk = conv4(self.spec.channels, h.hidden, h.bn_mode)
        features = self.b_trunk.out_features(self.input_shape)
        self.b_head = AugmentedHead(features, h.fc_hidden, n_way)  # slow weights W (with the trunk)
        # b's slow output layer starts at zero: a class index means nothing across episodes, so
        # random slow logits are only noise to unlearn, and with uniform slow predictions the
        # first support gradients are the clean label code (1/N − 1 for the label, 1/N elsewhere).
        nn.init.zeros_(self.b_head.fc2.weight)
        nn.init.zeros_(self.b_head.fc2.bias)
        self.u_head = AugmentedHead(features, h.fc_hidden, h.rep_dim)  # slow weights Q (with the trunk)
        self.m = coordinate_mlp(h.meta_hidden)  # slow weights Z
        self.d = CoordinateLSTM(h.meta_hidden) if h.task_generator == "lstm" else CoordinateMeanMLP(h.meta_hidden)  # G
        self.adam_with_halving(h.lr, h.lr_halve_every, h.lr_schedule)

    # -- meta information -----------------------------------------------------------------------
    def example_gradients(self, b_features: torch.Tensor, support_y: torch.Tensor, n_way: int) -> dict[str, torch.Tensor]:
        """∇_W CE(b(W; x'_i), y'_i) for every support example at once: name -> [S, *shape].
        Constants: computed from detached features and weights (no second derivatives)."""
        slow = {k: v.detach() for k, v in self.b_head.slow(n_way).items()}
        targets = F.one_hot(support_y, n_way).to(b_features.dtype)

        def loss(params, x, t):
            return -(F.log_softmax(head_forward(params, x.unsqueeze(0)), dim=-1)[0] * t).sum()

        return vmap(grad(loss), in_dims=(None, 0, 0))(slow, b_features.detach(), targets)

    def representation_pairs(self, support_y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The T pairs (a, b) of the representation loss: a ring over the support, i with i + 1."""
        s = len(support_y)
        t = s if self.hparams.rep_pairs == 0 else min(self.hparams.rep_pairs, s)
        a = torch.linspace(0, s - 1, t, device=support_y.device).round().long()
        return a, (a + 1) % s

    def pair_gradients(self, u_features: torch.Tensor, support_y: torch.Tensor) -> dict[str, torch.Tensor]:
        """∇_Q loss_emb(u(Q; x'_a), u(Q; x'_b), l) for each of the T pairs: name -> [T, *shape].
        Hadsell et al.'s contrastive loss on L2-normalised representations, margin 2."""
        slow = {k: v.detach() for k, v in self.u_head.slow().items()}
        a, b = self.representation_pairs(support_y)
        feats = u_features.detach()
        same = (support_y[a] == support_y[b]).to(feats.dtype)

        def loss(params, xa, xb, label):
            ra = F.normalize(head_forward(params, xa.unsqueeze(0)), dim=-1)
            rb = F.normalize(head_forward(params, xb.unsqueeze(0)), dim=-1)
            dist2 = (ra - rb).pow(2).sum()
            dist = (dist2 + 1e-12).sqrt()
            return label * dist2 + (1 - label) * (2.0 - dist).clamp_min(0).pow(2)

        return vmap(grad(loss), in_dims=(None, 0, 0, 0))(slow, feats[a], feats[b], same)

    # -- the two phases -------------------------------------------------------------------------
    def support_phase(self, b_features: torch.Tensor, u_features: torch.Tensor, support_y: torch.Tensor, n_way: int) -> TaskMemory:
        """Task-level fast weights Q* = d({∇_t}); memory M = {m(∇_i)} with keys R = {u(Q, Q*; x'_i)}."""
        p = self.hparams.grad_p
        u_slow = self.u_head.slow()
        pair_grads = flatten_params(self.pair_gradients(u_features, support_y), 1)  # [T, C_u]
        q_star = unflatten_params(self.d(preprocess_gradient(pair_grads, p)), {k: v.shape for k, v in u_slow.items()})
        example_grads = flatten_params(self.example_gradients(b_features, support_y, n_way), 1)  # [S, C_b]
        values = self.m(preprocess_gradient(example_grads, p)).squeeze(-1)  # [S, C_b]
        keys = head_forward(u_slow, u_features, q_star)
        shapes = {k: v.shape for k, v in self.b_head.slow(n_way).items()}
        return TaskMemory(q_star, keys, values, shapes, n_way)

    def representation(self, memory: TaskMemory, u_features: torch.Tensor) -> torch.Tensor:
        """r_j = u(Q, Q*; x_j) [Q, rep_dim]: the queries as the memory's keys R were made."""
        return head_forward(self.u_head.slow(), u_features, memory.task_fast)

    def similarities(self, memory: TaskMemory, u_features: torch.Tensor) -> torch.Tensor:
        """cos(R, r_j) [Q, S]: each query's cosine similarity with each support example's key."""
        return F.normalize(self.representation(memory, u_features), dim=-1) @ F.normalize(memory.keys, dim=-1).T

    def attention(self, memory: TaskMemory, u_features: torch.Tensor) -> torch.Tensor:
        """a_j = softmax(cos(R, r_j)) [Q, S]: how much each query reads of each support example."""
        return F.softmax(self.hparams.attention_scale * self.similarities(memory, u_features), dim=-1)

    def read(self, memory: TaskMemory, u_features: torch.Tensor) -> dict[str, torch.Tensor]:
        """Each query's example-level fast weights W*_j = a_jᵀ M."""
        return unflatten_params(self.attention(memory, u_features) @ memory.values, memory.shapes)  # name -> [Q, *shape]

    def query_phase(self, memory: TaskMemory, b_features: torch.Tensor, u_features: torch.Tensor) -> torch.Tensor:
        """Logits [Q, n_way] of b with slow W plus each query's fast W*_j (layer augmentation)."""
        return head_forward(self.b_head.slow(memory.n_way), b_features, self.read(memory, u_features))

    def episode_phases(self, support_x, support_y, query_x, n_way: int) -> tuple[TaskMemory, torch.Tensor, torch.Tensor]:
        """The support phase's memory and the queries' features of b and u, from one pass over the episode."""
        # Support and queries go through each trunk in one batch (BatchNorm sees the episode);
        # the trunks have no fast weights, so their features serve both phases.
        s = len(support_x)
        x = torch.cat([support_x, query_x])
        fb, fu = self.b_trunk(x), self.u_trunk(x)
        return self.support_phase(fb[:s], fu[:s], support_y, n_way), fb[s:], fu[s:]

    def episode_logits(self, support_x, support_y, query_x, n_way: int) -> torch.Tensor:
        return self.query_phase(*self.episode_phases(support_x, support_y, query_x, n_way))

    # -- SupportSetLearner ------------------------------------------------------------------------
    def step_path(self, tasks) -> str:
        return super().step_path(tasks) + "; each support example's gradient from one vmapped pass"

    def episode_loss(self, task) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.episode_logits(task.support_x, task.support_y, task.query_x, task.n_way)
        return F.cross_entropy(logits, task.query_y), logits

    def episode_log_probs(self, support_x, support_y, query_x, n_way: int) -> torch.Tensor:
        return F.log_softmax(self.episode_logits(support_x, support_y, query_x, n_way), dim=-1)

    def process_support_set(self, support_x, support_y, n_way: int) -> TaskMemory:
        # under no_grad: the meta-information gradients come from torch.func.grad, which ignores it
        return self.support_phase(self.b_trunk(support_x), self.u_trunk(support_x), support_y, n_way)

    def query_log_probs(self, memory: TaskMemory, query_x) -> torch.Tensor:
        return F.log_softmax(self.query_phase(memory, self.b_trunk(query_x), self.u_trunk(query_x)), dim=-1)

    def adapt(self, support_x, support_y) -> Classifier:
        self.require_ways(int(support_y.max()) + 1)  # b's output layer has one unit per training way
        return super().adapt(support_x, support_y)

    # -- explanation -------------------------------------------------------------------------------
    how_it_decides = ("Meta Networks turns its mistakes on the support images into extra, fast weights. For the query it "
                      "borrows the fast weights of the support images it resembles most and adds them to the weights it learned in training.")

    def explain_parts(self, support_x, support_y, query_x, classes):
        n_way = int(support_y.max()) + 1
        self.require_ways(n_way)
        was_training = self.training
        transductive = self.transductive
        self.train(transductive)  # as adapt(): the episode's own BatchNorm statistics only when transductive
        try:
            with torch.no_grad():
                if transductive:  # the query goes through the trunks with the support set, as classify_each sends it
                    memory, fb, fu = self.episode_phases(support_x, support_y, query_x, n_way)
                else:
                    memory = self.process_support_set(support_x, support_y, n_way)
                    fb, fu = self.b_trunk(query_x), self.u_trunk(query_x)
                attention = self.attention(memory, fu)[0]  # a_j over the support memory
                cosines = self.similarities(memory, fu)[0]
                # the map shows directions (what the cosine compares): keys and query on the unit sphere
                space = F.normalize(torch.cat([memory.keys, self.representation(memory, fu)]), dim=-1)
                slow = self.b_head.slow(n_way)
                # The prediction: b with slow W and the query's fast W*_j = a_jᵀ M (layer augmentation, §3.3).
                with_fast = F.softmax(head_forward(slow, fb, self.read(memory, fu)), dim=-1)[0]
                # Without fast weights, an augmented layer is its slow part alone (W* = 0 adds σ(0) = 0).
                slow_only = F.softmax(head_forward(slow, fb), dim=-1)[0]
        finally:
            self.train(was_training)
        from ..explanation import Bars, Points, SupportWeights

        coords, share = pca_2d(space)
        s = len(support_y)

        by_class = torch.zeros(n_way, dtype=attention.dtype, device=attention.device).index_add_(0, support_y, attention)
        picked, slow_pick, main = (classes[int(v.argmax())] for v in (with_fast, slow_only, by_class))
        if float(slow_only.max() - slow_only.min()) < 1e-3:  # a class index means nothing across tasks: slow b often has no preference
            change = f"without them it has no preference, with them it picks {picked}"
        elif slow_pick != picked:
            change = f"without them it would pick {slow_pick}, with them it picks {picked}"
        else:
            change = f"both pick {picked}; the fast weights change how sure it is"
        return [
            Bars("With and without the fast weights", "The class probabilities with the fast weights built from this support "
                 f"set (the prediction) and with only the weights learned in training: {change}.",
                 list(classes), {"with fast": with_fast, "slow only": slow_only}, "probability"),
            Points("What the query resembles", "The support images and the query where the network compares them (its "
                   "representation u, flattened to 2-D); each line's number is a cosine similarity, which the attention turns into weights.",
                   coords[:, 0], coords[:, 1],
                   [f"support {i} ({classes[y]})" for i, y in enumerate(support_y.tolist())] + ["query"],
                   ["support"] * s + ["query"], support_y.tolist() + [-1], [(s, i, c) for i, c in enumerate(cosines.tolist())],
                   "cosine", tuple(f"PC {k + 1} ({v:.0%} of variance)" for k, v in enumerate(share))),
            SupportWeights("Attention over the support memory", "How much of each support image's fast weights the query "
                           "borrows; the more alike the two look to the network, the more it borrows (the weights sum to 1).",
                           attention, "attention"),
            Bars("Attention by class", f"The attention added up over each class's support images: the query's fast weights "
                 f"come mostly from {main}.", list(classes), {"attention": by_class}, "attention"),
        ]
