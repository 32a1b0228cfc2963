"""Reptile (Nichol, Achiam & Schulman 2018).

For each task of a meta-batch, run k steps of Adam (β1 = 0) from θ on the task's examples to get
W_i; then move θ toward the average: θ ← θ + ε (mean_i W_i − θ) (Algorithm 2, batched). The meta
step ε is annealed linearly from `meta_step` to `meta_step_final` over the run. Training tasks
carry more shots than tested (10 for Omniglot); test-time adaptation takes many more steps (50).
Like the reference code, the inner Adam's state persists across tasks (only the weights are reset;
`inner_state=fresh` gives every task a new Adam instead, which makes the tasks independent).
Omniglot protocol (transductive): strided Conv-4, inner lr 1e-3, 5 inner steps of batch 10,
meta-batch 5, ε 1 → 0, 50 test steps of batch 5.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..backbones import BN_MODES, ConvClassifier, conv4_strided
from ..episodes import task_generator
from ._explain_optimization import movement_parts, step_curves
from .base import Classifier, MetaLearner, StepMetrics, hp, query_accuracy, register
from ..tasks import DEFAULT_TASK


INNER_STATES = ("carry", "fresh")
_ORDER_SALT = 0x52455054  # "REPT": the inner minibatch order of a training task


@register
class Reptile(MetaLearner):
    name = "reptile"
    title = "Reptile"
    family = "optimization"
    paper = "Nichol, Achiam & Schulman, arXiv 2018"
    how_it_decides = ("Reptile starts from weights meta-learned so that ordinary training on a new task goes far: it trains a "
                      "copy of the network on the support images for a number of Adam steps and classifies the query with that copy.")

    @dataclass(frozen=True)
    class HParams:
        inner_lr: float = hp(1e-3, "Inner Adam learning rate", min=1e-6, max=1.0, log=True)
        inner_steps: int = hp(5, "Inner steps per training task", min=1, max=200)
        inner_batch: int = hp(10, "Examples per inner step", min=1, max=1000)
        inner_steps_test: int = hp(50, "Inner steps when adapting at test time", min=1, max=1000)
        inner_batch_test: int = hp(5, "Examples per inner step at test time", min=1, max=1000)
        adam_beta1: float = hp(0.0, "Inner Adam β1 (0 in the paper: momentum would leak across tasks)", min=0.0, max=0.999)
        inner_state: str = hp("carry", "Inner Adam state across training tasks: carry (the reference code: each task continues "
                              "the moment estimates the previous one left) or fresh (a new Adam per task: tasks independent, so a "
                              "data-parallel run equals one process exactly)", choices=INNER_STATES)
        meta_step: float = hp(1.0, "Meta step size ε at the start", min=0.0, max=1.0)
        meta_step_final: float = hp(0.0, "Meta step size ε at the end (linear annealing)", min=0.0, max=1.0)
        meta_batch_size: int = hp(5, "Tasks per meta-update", min=1, max=256)
        train_shot: int = hp(10, "Shots per class in training tasks (more than tested)", min=1, max=100)
        hidden: int = hp(64, "Filters per conv block", min=2, max=512)
        bn_mode: str = hp("transductive", "BatchNorm statistics at test time (transductive: the batch's own)", choices=BN_MODES)

    def __init__(self, hparams=None, spec=None, n_way: int = DEFAULT_TASK.n_way):
        super().__init__(hparams, spec, n_way)
        h = self.hparams
        self.net = ConvClassifier(conv4_strided(self.spec.channels, h.hidden, h.bn_mode), n_way, self.input_shape)
        # The inner learner (a working copy whose weights are reset to θ for every task) is made
        # lazily on the model's device and kept out of the module tree, so it is neither counted
        # as parameters nor saved as weights.
        object.__setattr__(self, "_inner", None)
        self._pending_inner_state: dict | None = None
        self.step_index = 0  # seeds the inner minibatch order, so a resumed run repeats it

    @classmethod
    def episode_defaults(cls, hparams) -> dict[str, int]:
        return {"train_shot": hparams.train_shot, "train_query": 0, "meta_batch": hparams.meta_batch_size}

    def begin_training(self, total_steps: int, start_step: int = 0) -> None:
        self.step_index = start_step

    def _inner_learner(self) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
        if self._inner is None or next(self._inner[0].parameters()).device != self.device:
            fast = copy.deepcopy(self.net)
            opt = self._inner_adam(fast)
            if self._pending_inner_state is not None:
                opt.load_state_dict(self._pending_inner_state)
                self._pending_inner_state = None
            object.__setattr__(self, "_inner", (fast, opt))
        return self._inner

    def _inner_adam(self, fast: torch.nn.Module) -> torch.optim.Optimizer:
        """The inner loop's Adam (β1 from the settings), fused into one kernel over all the tensors
        where the device has one: the inner loop takes an Adam step per minibatch of ten images; on a
        CPU the plain Adam's per-tensor loop was ~15% of a training step, and fusing saves ~8% of it."""
        fused = next(fast.parameters()).device.type in ("cpu", "cuda") or None
        return torch.optim.Adam(fast.parameters(), lr=self.hparams.inner_lr, betas=(self.hparams.adam_beta1, 0.999), fused=fused)

    def meta_step_size(self) -> float:
        frac = min(1.0, max(0.0, self.progress))
        h = self.hparams
        return h.meta_step + frac * (h.meta_step_final - h.meta_step)

    def _train_on(self, fast: torch.nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
                  steps: int, batch: int, generator: torch.Generator, after_step=None) -> tuple[float, float]:
        """`steps` Adam steps on minibatches cycling through a shuffled copy of (x, y);
        `after_step()`, when given, runs after each (the explanation watches the steps adapt() takes)."""
        order = torch.randperm(len(x), generator=generator).to(x.device)
        pos, loss_v, acc_v = 0, 0.0, 0.0
        for _ in range(steps):
            if pos + batch > len(order):  # reshuffle when an epoch of the task's examples is used up
                order, pos = torch.randperm(len(x), generator=generator).to(x.device), 0
            idx = order[pos:pos + batch]
            pos += batch
            logits = fast(x[idx])
            loss = F.cross_entropy(logits, y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if after_step is not None:
                after_step()
            loss_v, acc_v = float(loss.detach()), query_accuracy(logits.detach(), y[idx])
        return loss_v, acc_v

    def step_path(self, tasks) -> str:
        if self.hparams.inner_state == "fresh":
            return f"loop over the {len(tasks)} tasks (independent: a fresh inner Adam for each)"
        # Not batched over tasks, and it would not be exact: each task's inner Adam starts from the
        # moment estimates the previous task left (as in the reference code), so the tasks are a chain.
        return (f"loop over the {len(tasks)} tasks (sequential: each task's inner Adam continues from the state "
                "the previous task left, as in the reference code)")

    def meta_train_step(self, tasks) -> StepMetrics:
        h = self.hparams
        self.train()
        fast, inner_opt = self._inner_learner()
        fast.train()
        theta = [p.detach().clone() for p in self.net.parameters()]
        mean_w = [torch.zeros_like(p) for p in theta]
        step_order = torch.Generator().manual_seed(self.step_index)  # for episodes made by hand
        losses, accs = [], []
        for t in tasks:
            with torch.no_grad():
                for fp, p in zip(fast.parameters(), theta):
                    fp.copy_(p)
            if h.inner_state == "fresh":
                inner_opt.state.clear()
            g = task_generator(t, _ORDER_SALT, step_order)
            loss, acc = self._train_on(fast, inner_opt, t.support_x, t.support_y, h.inner_steps, h.inner_batch, g)
            losses.append(loss)
            accs.append(acc)
            with torch.no_grad():
                for m, fp in zip(mean_w, fast.parameters()):
                    m.add_(fp, alpha=1.0 / len(tasks))
        mean_loss = sum(losses) / len(losses)
        self.check_finite(torch.tensor(mean_loss))
        # Data-parallel runs: W̄ over every rank's tasks. With the inner state carried, each rank's
        # chain of tasks left its own Adam moments; they are averaged too, so every rank goes on
        # from the same state (one process would have run a single chain: close, not equal).
        self.average_across_ranks(mean_w)
        if h.inner_state == "carry" and self.collective is not None:
            self.average_across_ranks([v for st in inner_opt.state.values() for k, v in sorted(st.items()) if k != "step" and torch.is_tensor(v)])
        eps = self.meta_step_size()
        with torch.no_grad():
            for p, p0, m in zip(self.net.parameters(), theta, mean_w):
                p.copy_(p0 + eps * (m - p0))  # θ ← θ + ε (W̄ − θ)
        self.step_index += 1
        return StepMetrics(mean_loss, sum(accs) / len(accs), len(tasks))

    def adapt(self, support_x, support_y) -> Classifier:
        h = self.hparams
        n_way = int(support_y.max()) + 1
        self.require_ways(n_way)
        fast = copy.deepcopy(self.net)
        fast.train()
        opt = self._inner_adam(fast)
        with torch.enable_grad():
            self._train_on(fast, opt, support_x, support_y, h.inner_steps_test, h.inner_batch_test, torch.Generator().manual_seed(0))
        fast.train(h.bn_mode == "transductive")

        def classify(query_x: torch.Tensor) -> torch.Tensor:
            with torch.no_grad():
                return F.log_softmax(fast(query_x)[:, :n_way], dim=-1)

        # transductive: a lone query goes through with the support set (Classifier.classify_each)
        return Classifier(classify, n_way, query_context=support_x if h.bn_mode == "transductive" else None)

    # -- explanation ----------------------------------------------------------------------------
    def explain_parts(self, support_x, support_y, query_x, classes):
        """adapt()'s test-time training replayed (same copy of θ, same Adam, same minibatch order),
        with the query classified after every step as `adapt(...).classify_each` classifies it."""
        h = self.hparams
        n_way = len(classes)
        self.require_ways(n_way)
        transductive = h.bn_mode == "transductive"
        fast = copy.deepcopy(self.net)
        start = {k: v.detach().clone() for k, v in fast.named_parameters()}
        # a lone query goes through with the support set in transductive mode (Classifier.classify_each)
        batch = torch.cat([support_x, query_x]) if transductive else query_x
        probs, losses = [], []

        def look() -> None:
            # In the mode classify() uses (eval with running statistics: no buffer is updated), then
            # back to training mode for the next step, as adapt() trains.
            fast.train(transductive)
            with torch.no_grad():
                probs.append(F.log_softmax(fast(batch)[-1, :n_way], dim=-1).exp())
                losses.append(float(F.cross_entropy(fast(support_x), support_y)))
            fast.train()

        look()
        opt = self._inner_adam(fast)
        with torch.enable_grad():
            self._train_on(fast, opt, support_x, support_y, h.inner_steps_test, h.inner_batch_test,
                           torch.Generator().manual_seed(0), after_step=look)
        end = {k: v.detach() for k, v in fast.named_parameters()}
        loss_caption = (f"The cross-entropy of the network on all the support images after each Adam step "
                        f"(learning rate {h.inner_lr:g}; each step trains on {min(h.inner_batch_test, len(support_x))} of them). "
                        "A falling line means the network is fitting the support set.")
        return (step_curves(probs, losses, classes, "Adam step", loss_caption)
                + movement_parts(fast, start, end, h.inner_steps_test, "Adam steps"))

    def optim_state(self) -> dict:
        inner = self._inner[1].state_dict() if self._inner is not None else self._pending_inner_state
        return {"optimizer": None, "inner_optimizer": inner, "step_index": self.step_index}

    def load_optim_state(self, state: dict) -> None:
        object.__setattr__(self, "_inner", None)
        self._pending_inner_state = state.get("inner_optimizer")
        self.step_index = int(state.get("step_index", 0))
