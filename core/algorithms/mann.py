"""Memory-Augmented Neural Network (Santoro, Bartunov, Botvinick, Wierstra & Lillicrap, ICML 2016).

An LSTM controller with an external memory (`memory.py`: cosine-similarity content reads, Least
Recently Used Access writes). Meta-learning happens *in the activations*: within an episode the
network stores (image, label) bindings in memory and retrieves them; only across episodes do the
weights learn.

Episode protocol (§4.1): a sequence of `classes` × `instances` images (5 × 10 = 50 steps for the
paper's 5-class runs), shuffled; the class→label assignment is drawn afresh for every episode, so
no label means anything across episodes. At step t the input is the image x_t together with the
one-hot label of step t−1 (zeros at t = 0): the network must hold x_t until its label arrives
one step later, bind the two in memory, and recall the binding when the class shows up again.
Cross-entropy on every step. Accuracy is reported per presentation of a class (1st, 2nd, …,
10th instance): `instance_accuracy`. Paper, 5 classes: 36.4 / 82.8 / 91.0 / 92.6 / 94.9 / 98.1
(1st / 2nd / 3rd / 4th / 5th / 10th).

Controller (paper's appendix, NTM-style): an LSTM whose input at step t is [x_t, y_{t−1}, r_{t−1}]
(the read vectors of the previous step fed back). From h_t each head emits a key
k_t = tanh(W_k h_t) and a write gate α_t; the memory step writes k_t and then reads with it.
Output: o_t = softmax(W_o [h_t; r_t] + b) over the `classes` label slots.

Choices the paper leaves open or we made differently (documented, all hyperparameters):
- Input: the paper feeds raw pixels of 20×20 downscaled Omniglot. Our InputSpec is 28×28; by
  default the image is area-downscaled to 20×20 and flattened (`image_size=20`; 0 keeps 28×28).
  The paper also augmented with random translations and rotations; we use the rotation classes
  of our Omniglot source but no per-image augmentation.
- Optimiser: the paper used RMSProp with learning rate 1e-4 (`optimizer=rmsprop`, `lr=1e-4`;
  decay 0.95 and momentum 0.9 here). The default is Adam 1e-3 (as common re-implementations),
  since a CPU hour sees far fewer updates than the paper's runs. Gradient norm clipped at 10.
- γ (usage decay) is 0.95, the value commonly used with the paper's setup (the paper does not
  print it); memory 128 × 40, controller 200 units, 4 read heads, batch 16 sequences.
- Measured (docs/results.md): with the defaults below (the paper's) training stays on the plateau for the
  minutes a CPU gives it; `cosine_scale=10`, lr 3e-3 with the `budget` schedule (`presets`) reach
  41.6 / 91.9 / 95.7 / 97.3 / 97.9 / 98.2 (1st–5th, 10th presentation) in 50 minutes on one core.
  A plain-cosine read over 128 rows cannot peak (≤ e/(e+127) of the weight on a perfect match), so
  reads blur as the memory fills and later presentations stall.
- Several heads: w^lu marks the n = heads least-used slots and every head writes σ/1−σ-weighted
  to them (the paper's equations, read literally); all of those slots are cleared first
  (`memory.py`). Reads: plain softmax over cosines (`cosine_scale=1`); a larger scale sharpens
  reads (NTM's key strength; not in the paper). What is written: the key k_t (the paper);
  `write_content=add` writes a separate add vector a_t instead (NTM-style, as some
  re-implementations do).
- Initialisation (not given in the paper): PyTorch's defaults, except the LSTM's forget-gate
  bias 1 and the label-input weights scaled by their own fan-in (5), not the whole input's
  (405), so the label of step t−1 does not start ~9× weaker than the image.
- Training sequences are built inside `meta_train_step` from episodes the trainer samples with
  `train_shot = instances` and `train_query = 0`; the order and label permutation come from a
  generator seeded by the step index, so a run (and a resumed run) is reproducible.

Known difficulty (ALGORITHMS.md): training sits on a plateau near chance for a long time before
the memory is used. The label-exclusion habit comes first (1st-presentation accuracy rises above
20% by guessing a label not yet seen, up to 45.7% for 5 classes); binding images to labels later.

Standard N-way K-shot numbers (`adapt` / `Classifier`): the support set is fed through the
sequence in a fixed shuffled order with labels offset by one step (label slot c for class c);
each query is then one more step from the state left after the support set — every query from
that same state, independently — and its input label is the last support example's label (what
a step after the support set would see in training). Probabilities are over the first n_way
label slots, renormalised.

Explanation (`explain_parts`): the same support sequence and query step, traced (`run(trace=...)`):
the write weights (all heads together), read weights (the heads' mean, a distribution) and usage
over the memory rows at every step, and the query's read weights added up by class (each row
counted for the support image that wrote it most; the rows the query's own step wrote, which its
read always matches best, are left out and counted in the caption). The heads write every
least-used row alike, so those rows are copies; the pictures show each set of copies as one column,
and the rows they leave out added up in a last column, so every step's read weights still add up to 1.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from ..episodes import TEST_SEED, Episode, EpisodeSampler, mix_seed, task_generator
from .base import LR_SCHEDULES, Classifier, MetaLearner, StepMetrics, hp, register
from .memory import MemoryState, initial_state as empty_memory, lrua_step
from ..tasks import DEFAULT_TASK

OPTIMIZERS = ("adam", "rmsprop")
WRITE_CONTENTS = ("key", "add")
_SEQUENCE_SALT = 0x4D414E4E  # "MANN": separates the sequence-order stream from other seeds
_ADAPT_ORDER_SEED = 0  # the fixed order in which adapt() feeds a support set


def build_sequences(tasks: list[Episode], slots: int, generator: torch.Generator | list[torch.Generator]) -> tuple[torch.Tensor, torch.Tensor]:
    """Episodes → (images [B, T, C, H, W], labels [B, T]) in a random order, each episode with its own
    random class→label-slot assignment (drawn from `slots` label slots). All examples of an episode
    (support and query) enter its sequence; the episodes of a batch must have the same size.
    `generator`: one stream for all, or one per episode (training: `task_generator`)."""
    xs, ys = [], []
    gens = generator if isinstance(generator, list) else [generator] * len(tasks)
    for t, g in zip(tasks, gens):
        x = torch.cat([t.support_x, t.query_x])
        y = torch.cat([t.support_y, t.query_y])
        n_way = int(y.max()) + 1
        if n_way > slots:
            raise ValueError(f"an episode with {n_way} classes does not fit {slots} label slots (raise `classes`)")
        order = torch.randperm(len(y), generator=g).to(y.device)
        assignment = torch.randperm(slots, generator=g)[:n_way].to(y.device)
        xs.append(x[order])
        ys.append(assignment[y[order]])
    if len({len(y) for y in ys}) != 1:
        raise ValueError("the episodes of a MANN batch must have the same number of examples")
    return torch.stack(xs), torch.stack(ys)


def previous_labels(labels: torch.Tensor, slots: int) -> torch.Tensor:
    """The label input of every step: one-hot y_{t−1}, zeros at t = 0. [B, T] → [B, T, slots]."""
    onehot = F.one_hot(labels, slots).float()
    return torch.cat([torch.zeros_like(onehot[:, :1]), onehot[:, :-1]], dim=1)


def presentation_index(labels: torch.Tensor) -> torch.Tensor:
    """For every step, which presentation of its class it is (1 = first time seen). [B, T] → [B, T]."""
    onehot = F.one_hot(labels)
    return onehot.cumsum(1).gather(-1, labels.unsqueeze(-1)).squeeze(-1)


class ControllerState(NamedTuple):
    h: torch.Tensor  # [B, hidden]
    c: torch.Tensor  # [B, hidden]
    reads: torch.Tensor  # r_{t−1}, all heads [B, heads·width]
    memory: MemoryState

    def expand(self, batch: int) -> "ControllerState":
        return ControllerState(self.h.expand(batch, -1), self.c.expand(batch, -1), self.reads.expand(batch, -1), self.memory.expand(batch))


@register
class MANN(MetaLearner):
    name = "mann"
    title = "Memory-Augmented Neural Network"
    family = "model"
    paper = "Santoro, Bartunov, Botvinick, Wierstra & Lillicrap, ICML 2016"
    # docs/results.md: 2nd presentation 91.9, 10th 98.2 after 50 min on one core (the paper's settings stay on the plateau for minutes)
    presets = {"measured": {"cosine_scale": 10.0, "lr": 3e-3, "lr_schedule": "budget"}}

    @dataclass(frozen=True)
    class HParams:
        classes: int = hp(5, "Classes per training sequence = label slots of the output (5 or 15 in the paper)", min=2, max=100)
        instances: int = hp(10, "Instances of each class per training sequence (sequence length = classes × instances)", min=1, max=20)
        meta_batch_size: int = hp(16, "Sequences per gradient step (16 in the paper)", min=1, max=256)
        controller: int = hp(200, "LSTM controller units (200 in the paper)", min=8, max=2048)
        memory_slots: int = hp(128, "Memory rows (128 in the paper)", min=4, max=4096)
        memory_width: int = hp(40, "Memory row width (40 in the paper)", min=4, max=1024)
        read_heads: int = hp(4, "Read heads (= n, the least-used slots per step; 4 in the paper)", min=1, max=16)
        cosine_scale: float = hp(1.0, "Multiplies the cosine similarities before the read softmax (1 = the paper's plain softmax; larger sharpens reads, like the NTM's key strength; the measured runs: 10)", min=0.01, max=1000.0, log=True)
        write_content: str = hp("key", "What a head writes: key (the paper: M_t = M_{t−1} + w^w_t k_t) or add (a separate add vector a_t = tanh(W_a h_t), NTM-style; the best measured run: key)", choices=WRITE_CONTENTS)
        gamma: float = hp(0.95, "Usage decay γ of LRUA: w^u_t = γ·w^u_{t−1} + w^r_t + w^w_t", min=0.0, max=1.0)
        image_size: int = hp(20, "Images are downscaled to this size and flattened (20 in the paper; 0 = as the input spec)", min=0, max=512)
        optimizer: str = hp("adam", "adam, or rmsprop as the paper (with lr 1e-4)", choices=OPTIMIZERS)
        lr: float = hp(1e-3, "Learning rate (the paper: RMSProp 1e-4; the measured runs: Adam 3e-3 with the budget schedule)", min=1e-6, max=1.0, log=True)
        lr_schedule: str = hp("step", "step: halve every lr_halve_every steps (0 = constant, the paper); budget: cosine to 1% over the run or time budget", choices=LR_SCHEDULES)
        lr_halve_every: int = hp(0, "Halve the learning rate every this many steps (0 = never)", min=0, max=10**7)
        grad_clip: float = hp(10.0, "Clip the gradient norm at this value (0 = off)", min=0.0, max=1e6)

    def __init__(self, hparams=None, spec=None, n_way: int = DEFAULT_TASK.n_way):
        super().__init__(hparams, spec, n_way)
        h = self.hparams
        if h.image_size:
            self.image_hw = (h.image_size, h.image_size)
        else:
            self.image_hw = tuple(self.spec.size)
        in_features = self.spec.channels * self.image_hw[0] * self.image_hw[1]
        read_features = h.read_heads * h.memory_width
        # LSTM gates = W_x [x_t; y_{t−1}] + W_h [h_{t−1}; r_{t−1}] + b. The input part is computed for
        # the whole sequence in one matrix product; only the recurrent part runs step by step.
        self.input_gates = nn.Linear(in_features + h.classes, 4 * h.controller)
        self.recurrent_gates = nn.Linear(h.controller + read_features, 4 * h.controller, bias=False)
        per_head = (2 if h.write_content == "add" else 1) * h.memory_width + 1  # key [, add vector], gate α
        self.heads = nn.Linear(h.controller, h.read_heads * per_head)
        self.output = nn.Linear(h.controller + read_features, h.classes)  # o_t from [h_t; r_t]
        with torch.no_grad():
            # Gate order [input, forget, output, cell]; forget-gate bias 1, the usual LSTM start.
            self.input_gates.bias[h.controller:2 * h.controller].fill_(1.0)
            # The default init scales every input weight by the fan-in of the whole input, which the
            # pixels dominate (400 vs 5): the label columns would start ~9× weaker than a layer of
            # their own, and Adam (steps ≈ lr) needs thousands of steps to grow them. Initialise each
            # input block by its own fan-in, so the label of t−1 enters the controller as strongly as the image.
            bound = 1.0 / h.classes ** 0.5
            self.input_gates.weight[:, in_features:].uniform_(-bound, bound)
        self.step_index = 0  # seeds the sequence order and label permutations of each step
        self._make_optimizer()

    def _make_optimizer(self) -> None:
        h = self.hparams
        if h.optimizer == "rmsprop":  # the paper's optimiser (decay 0.95, momentum 0.9)
            self.optimizer = torch.optim.RMSprop(self.parameters(), lr=h.lr, alpha=0.95, momentum=0.9)
        else:
            self.optimizer = torch.optim.Adam(self.parameters(), lr=h.lr)
        self.scheduler = torch.optim.lr_scheduler.StepLR(self.optimizer, step_size=max(1, h.lr_halve_every), gamma=0.5 if h.lr_halve_every else 1.0)
        self._base_lr, self._lr_schedule = h.lr, h.lr_schedule  # read by MetaLearner._apply_budget_lr

    @classmethod
    def episode_defaults(cls, hparams) -> dict[str, int]:
        return {"train_way": hparams.classes, "train_shot": hparams.instances, "train_query": 0, "meta_batch": hparams.meta_batch_size}

    def begin_training(self, total_steps: int, start_step: int = 0) -> None:
        self.step_index = start_step

    # -- the recurrent network ---------------------------------------------------------------
    def features(self, images: torch.Tensor) -> torch.Tensor:
        """[..., C, H, W] → flattened (downscaled) pixels [..., C·h·w]."""
        lead = images.shape[:-3]
        x = images.reshape(-1, *images.shape[-3:])
        if tuple(x.shape[-2:]) != self.image_hw:
            x = F.interpolate(x, size=self.image_hw, mode="area")
        return x.reshape(*lead, -1)

    def initial_state(self, batch: int) -> ControllerState:
        h = self.hparams
        dev, dt = self.device, self.input_gates.weight.dtype
        zeros = torch.zeros(batch, h.controller, device=dev, dtype=dt)
        return ControllerState(zeros, zeros, torch.zeros(batch, h.read_heads * h.memory_width, device=dev, dtype=dt),
                               empty_memory(batch, h.memory_slots, h.memory_width, h.read_heads, dev, dt))

    def run(self, images: torch.Tensor, prev_labels: torch.Tensor, state: ControllerState | None = None,
            trace: list | None = None) -> tuple[torch.Tensor, ControllerState]:
        """Logits [B, T, classes] of a batch of sequences (images [B, T, C, H, W], one-hot previous
        labels [B, T, classes]), and the state after the last step. `trace`, when a list, gets one
        (write weights w^w_t [B, heads, slots], memory state after the step) per step."""
        hp_ = self.hparams
        B, T = prev_labels.shape[:2]
        heads, width = hp_.read_heads, hp_.memory_width
        add = hp_.write_content == "add"
        dt = self.input_gates.weight.dtype
        pre = self.input_gates(torch.cat([self.features(images.to(dt)), prev_labels.to(dt)], dim=-1))  # [B, T, 4·hidden]
        st = state if state is not None else self.initial_state(B)
        h, c, reads, mem = st
        w_rec = self.recurrent_gates.weight.t()
        outs = []
        hidden = hp_.controller
        # unbind, not pre[:, t]: indexing would backpropagate a full-size zero tensor per step (T² work)
        for pre_t in pre.unbind(1):
            gates = torch.addmm(pre_t, torch.cat([h, reads], dim=-1), w_rec)
            ifo = torch.sigmoid(gates[:, : 3 * hidden])  # input, forget, output gates; then the cell input
            c = ifo[:, hidden:2 * hidden] * c + ifo[:, :hidden] * torch.tanh(gates[:, 3 * hidden:])
            h = ifo[:, 2 * hidden:] * torch.tanh(c)
            head = self.heads(h)
            keys = torch.tanh(head[:, : heads * width]).view(B, heads, width)
            values = torch.tanh(head[:, heads * width: 2 * heads * width]).view(B, heads, width) if add else None
            r, mem, ww = lrua_step(mem, keys, head[:, -heads:], hp_.gamma, hp_.cosine_scale, values)
            if trace is not None:
                trace.append((ww, mem))
            reads = r.reshape(B, heads * width)
            outs.append(torch.cat([h, reads], dim=-1))
        logits = self.output(torch.stack(outs, dim=1))
        return logits, ControllerState(h, c, reads, mem)

    def sequence_logits(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Logits of every step of labelled sequences (the labels enter one step late)."""
        return self.run(images, previous_labels(labels, self.hparams.classes))[0]

    # -- meta-training -----------------------------------------------------------------------
    def step_path(self, tasks) -> str:
        return f"batched: the {len(tasks)} episodes' sequences run as one batch through the controller and memory"

    def meta_train_step(self, tasks) -> StepMetrics:
        self.train()
        self.optimizer.zero_grad(set_to_none=True)
        g = torch.Generator().manual_seed(mix_seed(_SEQUENCE_SALT, self.step_index))  # for episodes made by hand
        # each sampled episode's order drawn from its own stream: a data-parallel run draws what one process would
        images, labels = build_sequences(tasks, self.hparams.classes, [task_generator(t, _SEQUENCE_SALT, g) for t in tasks])
        logits = self.sequence_logits(images, labels)
        loss = F.cross_entropy(logits.flatten(0, 1), labels.flatten())  # every step counts
        self.check_finite(loss)
        loss.backward()
        self.average_gradients()  # data-parallel runs: clip the whole meta-batch's gradient
        if self.hparams.grad_clip > 0:
            nn.utils.clip_grad_norm_(self.parameters(), self.hparams.grad_clip)
        self._apply_budget_lr()
        self.optimizer.step()
        self.scheduler.step()
        self.step_index += 1
        acc = float((logits.detach().argmax(-1) == labels).float().mean())
        return StepMetrics(float(loss.detach()), acc, len(tasks))

    def optim_state(self) -> dict:
        return {**super().optim_state(), "step_index": self.step_index}

    def load_optim_state(self, state: dict) -> None:
        super().load_optim_state(state)
        self.step_index = int(state.get("step_index", 0))

    # -- standard N-way K-shot use -----------------------------------------------------------
    def adapt(self, support_x, support_y) -> Classifier:
        n_way = int(support_y.max()) + 1
        if n_way > self.hparams.classes:
            raise ValueError(f"this model has {self.hparams.classes} label slots; it cannot classify {n_way} classes (meta-train with classes ≥ {n_way})")
        self.eval()
        with torch.no_grad():
            _, state, last_label = self.read_support(support_x, support_y)

        def classify(query_x: torch.Tensor) -> torch.Tensor:
            with torch.no_grad():
                return self.query_step(query_x, state, last_label, n_way)

        return Classifier(classify, n_way)

    def read_support(self, support_x, support_y, trace: list | None = None) -> tuple[torch.Tensor, ControllerState, torch.Tensor]:
        """Feed the support set as one sequence in adapt()'s fixed order: (that order, the state
        after it, the label input of the step after it = the last support example's one-hot label [1, classes])."""
        order = torch.randperm(len(support_y), generator=torch.Generator().manual_seed(_ADAPT_ORDER_SEED)).to(support_y.device)
        xs, ys = support_x[order].unsqueeze(0), support_y[order].unsqueeze(0)
        _, state = self.run(xs, previous_labels(ys, self.hparams.classes), trace=trace)
        return order, state, F.one_hot(ys[:, -1], self.hparams.classes).float()

    def query_step(self, query_x, state: ControllerState, last_label: torch.Tensor, n_way: int, trace: list | None = None) -> torch.Tensor:
        """Log-probabilities [Q, n_way]: each query one more step from the same state (independently)."""
        q = len(query_x)
        logits, _ = self.run(query_x.unsqueeze(1), last_label.expand(q, -1).unsqueeze(1), state.expand(q), trace)
        return F.log_softmax(logits[:, 0, :n_way], dim=-1)


    # -- explanation -------------------------------------------------------------------------
    how_it_decides = ("MANN reads the support images one after another, each with the previous image's label, and "
                      "writes what it sees into rows of an external memory. For the query it reads back the rows "
                      "that match it best and answers from what it read.")
    explained_columns: ClassVar[int] = 16  # groups of memory rows a picture shows (the paper's memory has 128 rows)

    def explain_parts(self, support_x, support_y, query_x, classes):
        n_way = int(support_y.max()) + 1
        was_training = self.training
        self.eval()  # as adapt()
        trace: list = []  # one (w^w_t, memory state after step t) per step: the support steps, then the query's
        try:
            with torch.no_grad():
                order, state, last_label = self.read_support(support_x, support_y, trace)
                # the query's step as query_step() takes it, kept whole: its h_t and r_t split each score
                logits, after = self.run(query_x.unsqueeze(1), last_label.unsqueeze(1), state, trace)
                predicted = int(logits[0, 0, :n_way].argmax())
        finally:
            self.train(was_training)
        # Summed over the heads, the write weights are what each row gains: M_t(i) += Σ_h w^w_t,h(i) k_t,h.
        written = torch.stack([ww[0].sum(0) for ww, _ in trace]).double().cpu()  # [T, slots]
        # Each head's read weights w^r_t sum to 1 (eqs. 2–3); so does their mean over the heads.
        read = torch.stack([mem.read_weights[0].mean(0) for _, mem in trace]).double().cpu()
        usage = torch.stack([mem.usage[0] for _, mem in trace]).double().cpu()  # w^u_t = γ w^u_{t−1} + Σ_h w^r_t + Σ_h w^w_t
        step_labels = [int(support_y[i]) for i in order.tolist()]
        steps = [f"{t + 1}. support {i} ({classes[y]})" for t, (i, y) in enumerate(zip(order.tolist(), step_labels))]
        steps.append(f"{len(steps) + 1}. query")

        shown = self._row_groups(written, read, usage)
        hidden = [i for i in range(written.shape[1]) if not any(i in g for g in shown)]
        columns = [_rows_name(g) for g in shown] + ([f"other {len(hidden)} rows"] if hidden else [])

        def added_up(values: torch.Tensor) -> torch.Tensor:  # [T, slots] -> one column per group, then the hidden rows
            return torch.stack([values[:, g].sum(1) for g in shown + ([hidden] if hidden else [])], dim=1)

        # Whose a row is: the step that wrote it most (None: hardly written). The query's own step
        # writes too, and MANN reads after it writes, so the query's read always lands most on its
        # own fresh rows: they hold its own key, no class, and explain nothing of its answer.
        query_step = len(step_labels)
        owner = [None if float(written[:, r].max()) < 0.05 else int(written[:, r].argmax()) for r in range(written.shape[1])]
        lands = read[-1]
        by_class = [sum(float(lands[r]) for r, t in enumerate(owner) if t is not None and t < query_step and step_labels[t] == c)
                    for c in range(n_way)]
        own = sum(float(lands[r]) for r, t in enumerate(owner) if t == query_step)
        unwritten = sum(float(lands[r]) for r, t in enumerate(owner) if t is None)
        top = max(range(n_way), key=lambda c: by_class[c])
        answer = (f"and answers {classes[predicted]}" if top == predicted else
                  f"yet answers {classes[predicted]}: the read is not all of its answer (the next picture splits each score)")

        from ..explanation import Bars, Matrix

        # o_t = W_o [h_t; r_t] + b is linear, so each class's score is exactly the controller's part
        # W_o,h h_t, the read's part W_o,r r_t and the bias: the split says which of the two decided.
        n_h = self.hparams.controller
        w, b = (p[:n_way].detach().double().cpu() for p in (self.output.weight, self.output.bias))
        parts = {"from the controller": w[:, :n_h] @ after.h[0].double().cpu(),
                 "from what it read": w[:, n_h:] @ after.reads[0].double().cpu(), "bias": b}
        totals = [float(sum(v[c] for v in parts.values())) for c in range(n_way)]
        runner_up = max((c for c in range(n_way) if c != predicted), key=lambda c: totals[c], default=None)
        if runner_up is None:
            why = f"With one class, {classes[predicted]} is the answer."
        else:
            lead = {k: float(v[predicted] - v[runner_up]) for k, v in parts.items()}
            decided = max(lead, key=lambda k: lead[k])
            why = (f"{classes[predicted]}'s score beats {classes[runner_up]}'s by {totals[predicted] - totals[runner_up]:.2f}: "
                   + ", ".join(f"{v:+.2f} {k}" for k, v in lead.items())
                   + (f"; most of the lead comes {decided}." if decided != "bias" else "; the bias, not this support set, gives most of it."))
        scores = Bars(f"Why {classes[predicted]}: each class's score, split", "A class's score (before the softmax) is the "
                      "sum of three parts: what the controller's state gives it, what the memory read gives it, and a fixed bias. "
                      + why, list(classes), {k: v.tolist() for k, v in parts.items()}, "score")
        rest = f" The other {len(hidden)} rows are added up in the last column." if hidden else ""
        copies = " Rows written together are copies, shown as one column." if any(len(g) > 1 for g in shown) else ""
        return [
            Matrix("Write weights over memory rows", "How much was written into the memory's rows at each step (all heads together): "
                   f"a new image goes to the least-used rows or to rows just read.{copies}{rest}",
                   added_up(written), steps, columns, "write weight", vmin=0.0),
            Matrix("Read weights over memory rows", "Where the network read at each step (mean of its heads; each step's weights "
                   f"add up to 1): it reads the rows whose content best matches what it sees.{rest}",
                   added_up(read), steps, columns, "read weight", vmin=0.0, vmax=1.0),
            Matrix("Memory usage", f"How much each row (one row of a column) has been used: reading or writing raises it, and it fades "
                   f"by {self.hparams.gamma:g} a step; the least-used rows are cleared and written next.",
                   torch.stack([usage[:, g].mean(1) for g in shown], dim=1), steps, columns[: len(shown)], "usage", vmin=0.0),
            Bars("Where the query's read lands, by class", "The query's read weights on the rows each class's support images wrote "
                 f"(a row counts for the image that wrote it most). Of these it read most from {classes[top]}'s rows "
                 f"({by_class[top]:.2f}) {answer}. Left out: {own:.2f} on the rows the query wrote itself just before reading "
                 f"(its own key matches them best; they hold no class) and {unwritten:.2f} on rows hardly written.",
                 list(classes), {"read weight": by_class}, "read weight"),
            scores,
        ]

    def _row_groups(self, written: torch.Tensor, read: torch.Tensor, usage: torch.Tensor) -> list[list[int]]:
        """The memory rows to show, in groups of copies: the heads write the same amounts into all
        the least-used rows at once, so those rows hold the same content from then on. Up to
        `explained_columns` groups: those holding the query's most-read rows and the most written,
        in the order they were first written (a diagonal in the pictures)."""
        history = torch.cat([written, read, usage]).T  # [slots, 3T]: what a picture shows of a row
        groups: list[list[int]] = []
        firsts: list[int] = []  # each group's first row, to compare a row with every group at once
        for i in range(len(history)):
            match = ((history[firsts] - history[i]).abs() <= 1e-9 + 1e-6 * history[firsts].abs()).all(1).nonzero()
            if len(match):
                groups[int(match[0])].append(i)
            else:
                groups.append([i])
                firsts.append(i)
        query_read = read[-1]
        must = {tuple(g) for g in sorted(groups, key=lambda g: -float(query_read[g].sum()))[:3]}
        by_writes = sorted(groups, key=lambda g: -float(written[:, g].sum()))
        picked = [g for g in by_writes if tuple(g) in must]
        picked += [g for g in by_writes if tuple(g) not in must][: self.explained_columns - len(picked)]
        first = lambda g: next((t for t, w in enumerate(written[:, g[0]].tolist()) if w >= 0.05), len(written))  # noqa: E731
        return sorted(picked, key=lambda g: (first(g), g[0]))


def instance_accuracy(learner: MANN, source, n_classes: int = 5, instances: int = 10, episodes: int = 1000,
                      seed: int = TEST_SEED, device: torch.device | str | None = None, batch: int = 100) -> dict[int, float]:
    """Accuracy at the 1st, 2nd, … presentation of a class within a sequence (Santoro et al.'s
    Table 1), over `episodes` fixed seeded sequences of `n_classes` × `instances` images (the test
    stream `TEST_SEED` by default). → {presentation: accuracy in [0, 1]}."""
    device = torch.device(device) if device is not None else learner.device
    sampler = EpisodeSampler(source.to(device), n_classes, instances, 0, seed=seed, device=device)
    g = torch.Generator().manual_seed(mix_seed(_SEQUENCE_SALT, seed))
    hits = torch.zeros(instances, dtype=torch.float64)
    counts = torch.zeros(instances, dtype=torch.float64)
    was_training = learner.training
    learner.eval()
    with torch.no_grad():
        for start in range(0, episodes, batch):
            tasks = [sampler.episode(i) for i in range(start, min(episodes, start + batch))]
            images, labels = build_sequences(tasks, learner.hparams.classes, g)
            correct = (learner.sequence_logits(images, labels).argmax(-1) == labels).flatten().double().cpu()
            idx = (presentation_index(labels) - 1).flatten().cpu()
            hits.index_add_(0, idx, correct)
            counts.index_add_(0, idx, torch.ones_like(correct))
    learner.train(was_training)
    return {k + 1: float(hits[k] / counts[k]) for k in range(instances)}


def _rows_name(rows: list[int]) -> str:
    """Memory rows as a column name: "row 7", "rows 4–7", "rows 0–3, 9"."""
    runs: list[list[int]] = []
    for i in sorted(rows):
        if runs and i == runs[-1][-1] + 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    text = ", ".join(f"{r[0]}–{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)
    return f"row {text}" if len(rows) == 1 else f"rows {text}"
