"""LSTM Meta-Learner (Ravi & Larochelle, "Optimization as a Model for Few-Shot Learning", ICLR 2017).

The learner's training on a task's support set is itself an LSTM. Its cell state is the learner's
flat parameter vector: the gradient-descent update θ_t = θ_{t−1} − α_t ∇_t is the cell update

    c_t = f_t ⊙ c_{t−1} + i_t ⊙ (−∇_t)                                            (eq. 2)

with c_t = θ_t, a learned input gate i_t in place of the learning rate and a learned forget gate
f_t in place of 1 (shrinking the parameters when the learner is stuck):

    i_t = σ(W_I · [∇_t, L_t, θ_{t−1}, i_{t−1}] + b_I)                              (§3.2)
    f_t = σ(W_F · [∇_t, L_t, θ_{t−1}, f_{t−1}] + b_F)

and the initial cell state c_0 — the learner's starting point — is meta-learned too.

- Coordinate-wise (§3.2, parameter sharing): every learner coordinate has its own hidden and cell
  state but all share the meta-learner's weights, so the meta-learner is tiny and any learner size
  (or a head with fewer ways) works. The paper's two layers: a plain LSTM (hidden 20) over the
  preprocessed [∇, L] of each coordinate, then the custom cell-state layer above, whose gates read
  the first layer's hidden state (standing for ∇_t, L_t), θ_{t−1} and the previous gate value.
- Preprocessing (Andrychowicz et al. 2016, appendix A), p = 10: x ↦ (log|x|/p, sgn x) when
  |x| ≥ e^−p, else (−1, e^p·x) — gradients and loss span orders of magnitude.
- Initialisation (§3.2): forget-gate bias large (f ≈ 1: do not shrink the parameters) and
  input-gate bias small (a small initial learning rate), so the meta-learner starts as gradient
  descent. How small the paper leaves open (the authors' code draws b_I from [−5, −4], i ≈ 0.01);
  here `input_gate_init` = σ(b_I) defaults to 0.1 — a departure: in a CPU budget of ~10k episodes
  (the paper: 50k) b_I, moved by Adam at ~1e-3 a step, barely leaves its start (measured: −4.5 →
  −4.45 in 200 episodes), so i ≈ 0.01 leaves T updates almost idle and only c_0 learns; 0.1 is
  the learning rate at which plain SGD from c_0 does well on Omniglot. `--hp input_gate_init=0.011`
  gives the authors' start.
- Per episode (Algorithm 1): T updates, each on the whole support set (a batch of 5 or 25
  examples); then the query loss at θ_T = c_T trains the meta-learner and c_0 by backpropagation
  through the unrolled updates. As the paper does (§3.2, Figure 2's dashed arrows), the gradient
  and loss inputs are treated as constants: ∇_t and L_t are computed at a *detached* copy of
  θ_{t−1}, so no second derivatives of the learner's loss are needed — yet the meta-gradient still
  reaches c_0 through f_t ⊙ c_{t−1} and through θ_{t−1} as a gate input.
- Learner: Conv-4 with 32 filters (3×3 conv, BatchNorm, ReLU, 2×2 max-pool) + linear head,
  run with `torch.func.functional_call` from views into the flat vector c_t.
- BatchNorm (§3.3): batch statistics, never population statistics gathered across episodes (the
  learner is a different network in every episode); the paper meta-trains with batch statistics
  for both the training (support) and the test (query) set. During the support updates the batch
  is the support set. For the queries `bn_mode` decides, by the same rule in meta-training and at
  test, so the meta-learner is trained for the normalisation it is tested with:
  "transductive" (default): the query batch's own statistics (as MAML and Reptile here);
  "support": the queries are normalised with the support set's statistics at θ_T, so a query's
  prediction depends on no other query (inductive). The app classifies each query on its own either
  way (`Classifier.classify_each`: in transductive mode a lone query goes through with the support set).
- Adam 1e-3, gradient-norm clipping at 0.25, one episode per meta-update (the paper's settings).
  The paper keeps the learning rate constant (the authors' configs: 50k–75k episodes); a
  30-minute CPU run sees ~10k, so by default the rate follows the run's budget (cosine to 1%, `lr_schedule="budget"`);
  `--hp lr_schedule=step` gives the paper's constant rate.
- T = `update_steps` = 5 updates per episode by default, training and test alike: the coordinate-
  wise LSTM over all ~28.5k learner parameters costs more than the learner itself, so each
  update is paid for in episodes (the authors' code used 12–15 for 1-shot; `--hp update_steps=12`).
- Baseline (the issue's, not the paper's pre-trained "Baseline-finetune"): `test_update="sgd"` adapts the same learned c_0 with
  plain gradient descent on the support set (`sgd_lr`, `sgd_steps`) instead of the learned LSTM
  update, so one checkpoint gives both numbers (`fewshot eval ... --hp test_update=sgd`).

Fewer ways than meta-trained: the head's first n rows (weight and bias) are taken from c_0 and
the coordinate-wise meta-learner updates that shorter vector; more ways than trained are refused.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from ..explanation import Curves
from ._explain_optimization import movement_parts, step_curves
from .base import LR_SCHEDULES, Classifier, MetaLearner, StepMetrics, hp, query_accuracy, register
from ..tasks import DEFAULT_TASK

BN_CHOICES = ("transductive", "support")
TEST_UPDATES = ("lstm", "sgd")

# Initial forget-gate bias (§3.2: large, so f ≈ 1 and the learner starts by not forgetting), drawn
# uniformly from this range; the input-gate bias is drawn from logit(input_gate_init) ± 0.5.
FORGET_BIAS_INIT = (4.0, 6.0)  # σ(5) ≈ 0.993


def preprocess(x: torch.Tensor, p: float) -> torch.Tensor:
    """Andrychowicz et al.'s log/sign preprocessing: [...] -> [..., 2]."""
    small = math.exp(-p)
    big = x.abs() >= small
    magnitude = torch.where(big, x.abs().clamp_min(small).log() / p, torch.full_like(x, -1.0))
    direction = torch.where(big, torch.sign(x), x * math.exp(p))
    return torch.stack([magnitude, direction], dim=-1)


class ConvLearner(nn.Module):
    """Ravi & Larochelle's learner: 4 × [conv 3×3, BatchNorm, ReLU, max-pool 2] + linear head.

    BatchNorm uses batch statistics only (no running buffers). `forward(x, stats_from=n)`
    normalises every row of x with the statistics of its first n rows (the support set), so
    queries can be classified without their own batch statistics. The head comes last in
    `named_parameters()`, so the flat vector ends with it and fewer ways slice its tail.
    """

    def __init__(self, in_channels: int, filters: int, n_way: int, input_shape: tuple[int, int, int]):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(in_channels if i == 0 else filters, filters, 3, padding=1) for i in range(4))
        self.norms = nn.ModuleList(nn.BatchNorm2d(filters, track_running_stats=False) for _ in range(4))
        with torch.no_grad():
            features = self.features(torch.zeros(2, *input_shape)).shape[1]
        self.head = nn.Linear(features, n_way)

    def _norm(self, bn: nn.BatchNorm2d, h: torch.Tensor, stats_from: int | None) -> torch.Tensor:
        if stats_from is None:
            return bn(h)
        ref = h[:stats_from]
        mean, var = ref.mean(dim=(0, 2, 3)), ref.var(dim=(0, 2, 3), unbiased=False)
        return F.batch_norm(h, mean, var, bn.weight, bn.bias, training=False, eps=bn.eps)

    def features(self, x: torch.Tensor, stats_from: int | None = None) -> torch.Tensor:
        h = x
        for conv, bn in zip(self.convs, self.norms):
            h = F.max_pool2d(F.relu(self._norm(bn, conv(h), stats_from)), 2)
        return h.flatten(1)

    def forward(self, x: torch.Tensor, stats_from: int | None = None) -> torch.Tensor:
        return self.head(self.features(x, stats_from))


class CoordinateLSTM(nn.Module):
    """The meta-learner: two coordinate-wise layers shared across all learner parameters.

    Layer 1: an ordinary LSTM cell over the preprocessed [∇, L] of each coordinate (4 inputs).
    Layer 2: the cell-state-is-the-parameters layer of eq. 2, gates from [h1_t, θ_{t−1}, gate_{t−1}].
    """

    def __init__(self, hidden: int = 20, p: float = 10.0, input_gate_init: float = 0.1):
        super().__init__()
        self.p = p
        self.hidden = hidden
        self.layer1 = nn.LSTMCell(4, hidden)
        # Row 0: input gate (W_I, b_I); row 1: forget gate (W_F, b_F). Columns: h1 (hidden), θ, previous gate.
        self.gate_w = nn.Parameter(torch.empty(2, hidden + 2).uniform_(-0.01, 0.01))
        b_i = math.log(input_gate_init / (1.0 - input_gate_init))
        self.gate_b = nn.Parameter(torch.stack([torch.empty(()).uniform_(b_i - 0.5, b_i + 0.5), torch.empty(()).uniform_(*FORGET_BIAS_INIT)]))

    def initial_state(self, c0: torch.Tensor) -> tuple:
        n = c0.shape[0]
        zeros = c0.new_zeros(n, self.hidden)
        # (layer-1 hidden, layer-1 cell, previous [i, f] gates); gates start at 0 as nothing came before.
        return zeros, zeros.clone(), c0.new_zeros(n, 2)

    def step(self, c_prev: torch.Tensor, grad: torch.Tensor, loss: torch.Tensor, state: tuple) -> tuple[torch.Tensor, tuple, torch.Tensor]:
        """One update: (c_t, next state, gates [P, 2] = (i_t, f_t)). `grad` and `loss` are constants."""
        h1, cell1, prev_gates = state
        x = torch.cat([preprocess(grad, self.p), preprocess(loss.reshape(1), self.p).expand(grad.shape[0], 2)], dim=1)
        h1, cell1 = self.layer1(x, (h1, cell1))
        w_h, w_theta, w_prev = self.gate_w[:, : self.hidden], self.gate_w[:, self.hidden], self.gate_w[:, self.hidden + 1]
        gates = torch.sigmoid(h1 @ w_h.t() + c_prev.unsqueeze(1) * w_theta + prev_gates * w_prev + self.gate_b)
        i_t, f_t = gates[:, 0], gates[:, 1]
        c_t = f_t * c_prev - i_t * grad  # eq. 2: the cell state is the learner's new parameter vector
        return c_t, (h1, cell1, gates), gates


@register
class LSTMMetaLearner(MetaLearner):
    name = "lstm_meta"
    title = "LSTM Meta-Learner"
    family = "optimization"
    paper = "Ravi & Larochelle, ICLR 2017"
    how_it_decides = ("An LSTM trained to be the optimiser updates the classifier's weights a few times on the support images, "
                      "choosing for every weight its own step size (input gate) and how much of it to keep (forget gate); "
                      "the query is classified with the final weights.")

    @dataclass(frozen=True)
    class HParams:
        update_steps: int = hp(5, "Learner updates T on the support set per episode, training and test alike (the authors' code: 12–15 for 1-shot)", min=1, max=100)
        hidden: int = hp(20, "Hidden units of the meta-learner's first (ordinary) LSTM layer", min=1, max=256)
        input_gate_init: float = hp(0.1, "Initial input-gate value σ(b_I), the learner's initial learning rate (the paper: small; the authors' code ≈ 0.011)", min=1e-4, max=0.9, log=True)
        grad_p: float = hp(10.0, "p of the gradient and loss preprocessing (Andrychowicz et al.)", min=1.0, max=50.0)
        meta_lr: float = hp(1e-3, "Adam learning rate of the meta-learner and the initial learner parameters c_0", min=1e-6, max=1.0, log=True)
        lr_halve_every: int = hp(0, "Halve the learning rate every this many steps (0 = never, the paper)", min=0, max=10**7)
        lr_schedule: str = hp("budget", "budget: cosine to 1% over the run or time budget; step: halving every lr_halve_every steps (with 0: constant, the paper)", choices=LR_SCHEDULES)
        grad_clip: float = hp(0.25, "Clip the meta-gradient's norm to this (0.25 in the paper; 0 = off)", min=0.0, max=100.0)
        meta_batch_size: int = hp(1, "Episodes per meta-update (1 in the paper)", min=1, max=256)
        filters: int = hp(32, "Filters per conv block of the learner (32 in the paper)", min=2, max=256)
        bn_mode: str = hp("transductive", "Queries' BatchNorm statistics, training and test alike: their own batch's, or the support set's", choices=BN_CHOICES)
        test_update: str = hp("lstm", "How adapt() trains the learner: the learned LSTM update, or plain SGD from the same c_0 (the baseline)", choices=TEST_UPDATES)
        sgd_lr: float = hp(0.1, "Learning rate of the SGD baseline (test_update=sgd)", min=1e-5, max=10.0, log=True)
        sgd_steps: int = hp(10, "Steps of the SGD baseline (test_update=sgd), each on the whole support set", min=1, max=1000)

    def __init__(self, hparams=None, spec=None, n_way: int = DEFAULT_TASK.n_way):
        super().__init__(hparams, spec, n_way)
        h = self.hparams
        template = ConvLearner(self.spec.channels, h.filters, n_way, self.input_shape)
        # The learner module only gives functional_call its structure: its own weights are never
        # used (every call passes views into c_t), so it stays out of the module tree (no duplicate
        # parameters in the optimizer or the checkpoint).
        object.__setattr__(self, "learner", template)
        self.layout = [(name, tuple(p.shape)) for name, p in template.named_parameters()]
        self.c0 = nn.Parameter(torch.cat([p.detach().flatten() for _, p in template.named_parameters()]))
        self.meta = CoordinateLSTM(h.hidden, h.grad_p, h.input_gate_init)
        self.adam_with_halving(h.meta_lr, h.lr_halve_every, h.lr_schedule)

    @classmethod
    def episode_defaults(cls, hparams) -> dict[str, int]:
        return {"meta_batch": hparams.meta_batch_size}

    # -- the flat parameter vector ------------------------------------------------------------
    def _head_sizes(self) -> tuple[int, int]:
        (_, w_shape), (_, b_shape) = self.layout[-2:]
        return w_shape[0] * w_shape[1], b_shape[0]

    def initial_cell(self, n_way: int | None = None) -> torch.Tensor:
        """c_0 for an n-way task: the learned vector, its head cut to the first n classes."""
        if n_way is None or n_way == self.n_way:
            return self.c0
        self.require_ways(n_way)
        w_size, b_size = self._head_sizes()
        body = self.c0[: -(w_size + b_size)]
        features = w_size // b_size
        w = self.c0[-(w_size + b_size): -b_size].view(b_size, features)[:n_way]
        b = self.c0[-b_size:][:n_way]
        return torch.cat([body, w.flatten(), b])

    def unflatten(self, c: torch.Tensor) -> dict[str, torch.Tensor]:
        """Views into the flat vector c as the learner's named parameters (the head sized by c's length)."""
        body = self.layout[:-2]
        body_size = sum(math.prod(s) for _, s in body)
        features = self.layout[-2][1][1]
        n_way = (c.shape[0] - body_size) // (features + 1)
        shapes = [s for _, s in body] + [(n_way, features), (n_way,)]
        names = [n for n, _ in self.layout]
        chunks = torch.split(c, [math.prod(s) for s in shapes])
        return {name: chunk.view(shape) for name, chunk, shape in zip(names, chunks, shapes)}

    def learner_logits(self, c: torch.Tensor, x: torch.Tensor, support_x: torch.Tensor | None = None) -> torch.Tensor:
        """The learner with parameters c on x. With `support_x` (bn_mode "support") x is normalised
        with the support set's BatchNorm statistics; without, with x's own batch statistics."""
        params = self.unflatten(c)
        if support_x is None:
            return functional_call(self.learner, params, (x,))
        n = len(support_x)
        return functional_call(self.learner, params, (torch.cat([support_x, x]),), {"stats_from": n})[n:]

    def support_gradient(self, c: torch.Tensor, support_x: torch.Tensor, support_y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(∇_t, L_t): the support loss and its gradient at a detached copy of c — constants for
        the meta-learner, as in the paper (no second derivatives)."""
        with torch.enable_grad():
            theta = c.detach().requires_grad_()
            loss = F.cross_entropy(self.learner_logits(theta, support_x), support_y)
            (grad,) = torch.autograd.grad(loss, theta)
        return grad, loss.detach()

    # -- the unrolled learning process --------------------------------------------------------
    def unroll(self, c0: torch.Tensor, support_x: torch.Tensor, support_y: torch.Tensor, steps: int,
               trace: list | None = None) -> torch.Tensor:
        """c_T after T meta-learner updates on the support set (Algorithm 1, lines 5–9).
        Differentiable w.r.t. the meta-learner and c_0 unless run under no_grad. `trace`, when
        given, receives (c_{t−1}, ∇_t, L_t, i_t, f_t, c_t) for every step."""
        c = c0
        state = self.meta.initial_state(c0)
        for _ in range(steps):
            grad, loss = self.support_gradient(c, support_x, support_y)
            c_next, state, gates = self.meta.step(c, grad, loss, state)
            if trace is not None:
                trace.append((c, grad, loss, gates[:, 0], gates[:, 1], c_next))
            c = c_next
        return c

    def sgd_unroll(self, c0: torch.Tensor, support_x: torch.Tensor, support_y: torch.Tensor) -> torch.Tensor:
        """The baseline: plain gradient descent on the support set from the same c_0."""
        c = c0.detach()
        for _ in range(self.hparams.sgd_steps):
            grad, _ = self.support_gradient(c, support_x, support_y)
            c = c - self.hparams.sgd_lr * grad
        return c

    def query_logits(self, c: torch.Tensor, support_x: torch.Tensor, query_x: torch.Tensor) -> torch.Tensor:
        return self.learner_logits(c, query_x, support_x if self.hparams.bn_mode == "support" else None)

    def task_loss(self, task) -> tuple[torch.Tensor, float]:
        c_T = self.unroll(self.initial_cell(task.n_way), task.support_x, task.support_y, self.hparams.update_steps)
        logits = self.query_logits(c_T, task.support_x, task.query_x)
        return F.cross_entropy(logits, task.query_y), query_accuracy(logits.detach(), task.query_y)

    def step_path(self, tasks) -> str:
        # Its cost is the T updates of one episode, each waiting for the previous one's learner:
        # a chain, with no per-example gradients to batch (∇_t is the whole support set's).
        return super().step_path(tasks) + f"; its {self.hparams.update_steps} learner updates run in sequence"

    def meta_train_step(self, tasks) -> StepMetrics:
        clip = self.hparams.grad_clip
        return self.gradient_step(tasks, self.task_loss, before_step=(lambda: nn.utils.clip_grad_norm_(self.parameters(), clip)) if clip > 0 else None)

    def adapt(self, support_x, support_y) -> Classifier:
        n_way = int(support_y.max()) + 1
        h = self.hparams  # read now: `fewshot eval --hp` may have replaced them after loading
        with torch.no_grad():
            c0 = self.initial_cell(n_way)
            if h.test_update == "sgd":
                c_T = self.sgd_unroll(c0, support_x, support_y)
            else:
                c_T = self.unroll(c0, support_x, support_y, h.update_steps)
        c_T = c_T.detach()
        support_stats = h.bn_mode == "support"

        def classify(query_x: torch.Tensor) -> torch.Tensor:
            with torch.no_grad():
                return F.log_softmax(self.learner_logits(c_T, query_x, support_x if support_stats else None), dim=-1)

        # transductive: a lone query goes through with the support set (Classifier.classify_each)
        clf = Classifier(classify, n_way, query_context=None if support_stats else support_x)
        clf.cell_state = c_T  # the adapted learner's parameters: the meta-learner's final cell state
        return clf

    # -- explanation ----------------------------------------------------------------------------
    def sgd_path(self, c0: torch.Tensor, support_x: torch.Tensor, support_y: torch.Tensor, lr: float,
                 steps: int) -> tuple[list[torch.Tensor], list[float]]:
        """`sgd_unroll`'s steps with every c_t kept: ([c_0, …, c_steps], the support loss at each)."""
        cells, losses = [c0.detach()], []
        for _ in range(steps):
            grad, loss = self.support_gradient(cells[-1], support_x, support_y)
            cells.append(cells[-1] - lr * grad)
            losses.append(float(loss))
        return cells, losses + [self._support_loss(cells[-1], support_x, support_y)]

    def _support_loss(self, c: torch.Tensor, support_x: torch.Tensor, support_y: torch.Tensor) -> float:
        return float(F.cross_entropy(self.learner_logits(c, support_x), support_y))

    def explain_parts(self, support_x, support_y, query_x, classes):
        """adapt()'s unrolled updates (Algorithm 1) with the gates i_t, f_t of eq. 2 recorded, the
        query classified after every update as `adapt(...).classify_each` classifies it, and plain
        SGD from the same c_0 for comparison."""
        h = self.hparams
        n_way = len(classes)
        with torch.no_grad():
            c0 = self.initial_cell(n_way).detach()
            trace: list = []
            self.unroll(c0, support_x, support_y, h.update_steps, trace)
            learned_cells = [c0] + [t[5] for t in trace]
            learned_losses = [float(t[2]) for t in trace] + [self._support_loss(learned_cells[-1], support_x, support_y)]
            input_gates = torch.stack([t[3] for t in trace]).cpu().double()  # [T, P] on the CPU (MPS has no float64): i_t, the learned learning rate per weight
            forget_gates = torch.stack([t[4] for t in trace]).cpu().double()  # [T, P]: f_t, 1 − the learned weight decay
            # Plain SGD at the mean input gate of the first update: the step size the learned rule
            # itself starts with, so the two loss curves differ only by what the LSTM learned beyond
            # one fixed learning rate (per-weight, per-step rates and the forget gate). A model set to
            # adapt with SGD (test_update="sgd") is compared at its own SGD learning rate instead.
            sgd_lr = h.sgd_lr if h.test_update == "sgd" else float(input_gates[0].mean())
            _, sgd_losses = self.sgd_path(c0, support_x, support_y, sgd_lr, h.update_steps)
            if h.test_update == "sgd":
                cells, path_losses = self.sgd_path(c0, support_x, support_y, h.sgd_lr, h.sgd_steps)
            else:
                cells, path_losses = learned_cells, learned_losses
            # the query as classify_each sees it: with the support set (transductive) or normalised by it
            if h.bn_mode == "support":
                probs = [F.log_softmax(self.learner_logits(c, query_x, support_x)[-1], dim=-1).exp() for c in cells]
            else:
                probs = [F.log_softmax(self.learner_logits(c, torch.cat([support_x, query_x]))[-1], dim=-1).exp() for c in cells]

        steps = list(range(1, h.update_steps + 1))

        def gate_series(gates: torch.Tensor, name: str) -> dict[str, torch.Tensor]:
            spread = torch.quantile(gates, torch.tensor([0.1, 0.9], dtype=gates.dtype), dim=1)
            return {f"{name} mean": gates.mean(1), f"{name} 10th pct": spread[0], f"{name} 90th pct": spread[1]}

        own = "the learned update" if h.test_update == "lstm" else f"plain SGD (this model is set to adapt with SGD, {h.sgd_steps} steps)"
        update = "learned update" if h.test_update == "lstm" else "SGD step"
        parts = [
            Curves("Learned learning rate (input gate)",
                   "The input gate i_t is the step size the LSTM picks for each weight at each update (eq. 2: "
                   "new weight = f·old − i·gradient). The line is its average over all weights; the other two lines "
                   "show the spread (10% of weights are below the lower one, 10% above the upper one).",
                   steps, gate_series(input_gates, "i"), "learned update", "input gate i_t"),
            Curves("Learned weight decay (forget gate)",
                   "The forget gate f_t is the share of each weight the LSTM keeps before stepping: 1 keeps it all, "
                   "lower values shrink the weight (a learned weight decay). Average and spread over all weights.",
                   steps, gate_series(forget_gates, "f"), "learned update", "forget gate f_t"),
            Curves("Support loss: learned update vs plain SGD",
                   f"The loss on the support images after each update, for the learned LSTM update and for plain SGD "
                   f"from the same starting weights with learning rate {sgd_lr:.3g}"
                   + (" (the mean step size the LSTM chose at its first update)." if h.test_update == "lstm"
                      else " (this model's SGD learning rate)."),
                   [0] + steps, {"LSTM update": learned_losses, "plain SGD": sgd_losses}, "update", "support loss"),
        ]
        # With the learned update the path's loss is already the comparison's "learned update" line.
        loss_caption = None if h.test_update == "lstm" else f"The loss on the support images after each step of {own}, the path to the prediction."
        start, end = self.unflatten(cells[0]), self.unflatten(cells[-1])
        return (parts + step_curves(probs, path_losses, classes, update, loss_caption)
                + movement_parts(self.learner, start, end, len(cells) - 1, f"{update}s"))
