"""Model-Agnostic Meta-Learning (Finn, Abbeel & Levine 2017) and its first-order variant.

Inner loop (eq. 1): θ'_i = θ − α ∇θ L_Ti(f_θ) on the support set, for `inner_steps` steps.
Meta-update (eq. 2): θ ← θ − β ∇θ Σ_i L_Ti(f_θ'_i) on the queries, differentiating through the
inner steps (second order). First-order MAML drops the second derivatives: the inner gradient is a
constant, so the meta-gradient is the query-loss gradient at the adapted weights (Finn et al. §5.2)
— yet it still flows to θ through θ' = θ − α·const, so θ does learn.

The learner runs through `torch.func.functional_call` with a dict of adapted weights, not module
clones. Tasks run in a plain loop: `vmap` over tasks measured slower on CPU and, with BatchNorm,
gives wrong second-order gradients (pytorch/functorch#534).
Omniglot protocol: strided Conv-4 (no pooling), batch-statistics BatchNorm, 5-way: 1 inner step,
α = 0.4, meta-batch 32; 20-way: 5 steps, α = 0.1, meta-batch 16; Adam β = 1e-3.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.func import functional_call

from ..backbones import BN_MODES, ConvClassifier, conv4_strided
from ._explain_optimization import movement_parts, step_curves
from .base import Classifier, MetaLearner, StepMetrics, hp, query_accuracy, register


@register
class MAML(MetaLearner):
    name = "maml"
    title = "MAML"
    family = "optimization"
    paper = "Finn, Abbeel & Levine, ICML 2017"
    first_order_default = False
    how_it_decides = ("MAML starts from weights meta-learned so that a few gradient steps on a new task go far: it takes "
                      "those steps on the support images (the inner loop) and classifies the query with the adapted network.")

    @dataclass(frozen=True)
    class HParams:
        inner_lr: float = hp(0.4, "Inner-loop step size α (0.4 for 5-way, 0.1 for 20-way Omniglot)", min=1e-5, max=10.0, log=True)
        inner_steps: int = hp(1, "Inner gradient steps during meta-training (1 for 5-way, 5 for 20-way)", min=1, max=50)
        inner_steps_test: int = hp(3, "Inner gradient steps when adapting at test time (more than in training)", min=1, max=200)
        meta_lr: float = hp(1e-3, "Adam learning rate β of the meta-update", min=1e-6, max=1.0, log=True)
        meta_batch_size: int = hp(32, "Tasks per meta-update (32 for 5-way, 16 for 20-way)", min=1, max=256)
        first_order: bool = hp(False, "Drop second derivatives (first-order MAML)")
        train_query: int = hp(1, "Queries per class in training tasks (Finn et al.: as many as the shots)", min=1, max=100)
        hidden: int = hp(64, "Filters per conv block", min=2, max=512)
        bn_mode: str = hp("transductive", "BatchNorm statistics at test time (the reference code uses the batch's own)", choices=BN_MODES)

    def __init__(self, hparams=None, spec=None, n_way: int = 5):
        super().__init__(hparams, spec, n_way)
        h = self.hparams
        self.net = ConvClassifier(conv4_strided(self.spec.channels, h.hidden, h.bn_mode), n_way, self.input_shape)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=h.meta_lr)

    @classmethod
    def episode_defaults(cls, hparams) -> dict[str, int]:
        return {"train_query": hparams.train_query, "meta_batch": hparams.meta_batch_size}

    def params(self, n_way: int | None = None) -> dict[str, torch.Tensor]:
        """The meta-parameters θ as a dict; for fewer ways than trained, the head's first rows."""
        params = dict(self.net.named_parameters())
        if n_way is not None and n_way != self.n_way:
            self.require_ways(n_way)
            params["head.weight"] = params["head.weight"][:n_way]
            params["head.bias"] = params["head.bias"][:n_way]
        return params

    def inner_loop(self, params: dict, support_x: torch.Tensor, support_y: torch.Tensor, steps: int,
                   create_graph: bool) -> dict[str, torch.Tensor]:
        """θ' after `steps` SGD steps on the support loss (eq. 1). With create_graph the steps stay
        differentiable (second order); without, each gradient is a constant (first order)."""
        for _ in range(steps):
            loss = F.cross_entropy(functional_call(self.net, params, (support_x,)), support_y)
            grads = torch.autograd.grad(loss, list(params.values()), create_graph=create_graph)
            params = {name: p - self.hparams.inner_lr * g for (name, p), g in zip(params.items(), grads)}
        return params

    def task_loss(self, task, theta: dict) -> tuple[torch.Tensor, float]:
        """One task's query loss at its adapted weights θ'_i, and its query accuracy."""
        h = self.hparams
        adapted = self.inner_loop(theta, task.support_x, task.support_y, h.inner_steps, create_graph=not h.first_order)
        logits = functional_call(self.net, adapted, (task.query_x,))
        return F.cross_entropy(logits, task.query_y), query_accuracy(logits.detach(), task.query_y)

    def meta_loss(self, tasks) -> tuple[torch.Tensor, float]:
        """Mean query loss over the meta-batch at the adapted weights (eq. 2's objective)."""
        theta = self.params()
        results = [self.task_loss(t, theta) for t in tasks]
        return torch.stack([r[0] for r in results]).mean(), sum(r[1] for r in results) / len(results)

    def meta_train_step(self, tasks) -> StepMetrics:
        self.train()
        self.optimizer.zero_grad(set_to_none=True)
        theta = self.params()
        total, accs = 0.0, []
        # Backward task by task: the same gradient as the mean loss, but only one task's
        # second-order graph is alive at a time.
        for t in tasks:
            loss, acc = self.task_loss(t, theta)
            (loss / len(tasks)).backward()
            total += float(loss.detach())
            accs.append(acc)
        self.check_finite(torch.tensor(total))
        self.optimizer.step()
        return StepMetrics(total / len(tasks), sum(accs) / len(accs), len(tasks))

    def adapt(self, support_x, support_y) -> Classifier:
        n_way = int(support_y.max()) + 1
        self.train(self.hparams.bn_mode == "transductive")
        with torch.enable_grad():
            theta = {k: v.detach().requires_grad_() for k, v in self.params(n_way).items()}
            adapted = self.inner_loop(theta, support_x, support_y, self.hparams.inner_steps_test, create_graph=False)
        adapted = {k: v.detach() for k, v in adapted.items()}

        def classify(query_x: torch.Tensor) -> torch.Tensor:
            self.train(self.hparams.bn_mode == "transductive")
            with torch.no_grad():
                return F.log_softmax(functional_call(self.net, adapted, (query_x,)), dim=-1)

        # transductive: a lone query goes through with the support set (Classifier.classify_each)
        return Classifier(classify, n_way, query_context=support_x if self.hparams.bn_mode == "transductive" else None)

    # -- explanation ----------------------------------------------------------------------------
    def explain_parts(self, support_x, support_y, query_x, classes):
        """adapt()'s inner loop replayed step by step (eq. 1, θ_k = θ_{k−1} − α ∇L_support(θ_{k−1})),
        with the query classified after every step as `adapt(...).classify_each` classifies it."""
        h = self.hparams
        n_way = len(classes)
        transductive = h.bn_mode == "transductive"
        was_training = self.training
        try:
            self.train(transductive)  # adapt()'s BatchNorm treatment, for the inner loop and the query alike
            with torch.enable_grad():
                path = [{k: v.detach().requires_grad_() for k, v in self.params(n_way).items()}]
                for _ in range(h.inner_steps_test):
                    # one step at a time from the previous step's output: the very steps adapt() takes
                    path.append(self.inner_loop(path[-1], support_x, support_y, 1, create_graph=False))
            path = [{k: v.detach() for k, v in p.items()} for p in path]
            # a lone query goes through with the support set in transductive mode (Classifier.classify_each)
            batch = torch.cat([support_x, query_x]) if transductive else query_x
            with torch.no_grad():
                probs = [F.log_softmax(functional_call(self.net, p, (batch,))[-1], dim=-1).exp() for p in path]
                losses = [float(F.cross_entropy(functional_call(self.net, p, (support_x,)), support_y)) for p in path]
        finally:
            self.train(was_training)
        k = h.inner_steps_test
        loss_caption = (f"The cross-entropy of the network on the support images after each inner step (α = {h.inner_lr:g}). "
                        "The inner loop lowers it; a falling line means the network is fitting the support set.")
        return (step_curves(probs, losses, classes, "inner step", loss_caption)
                + movement_parts(self.net, path[0], path[-1], k, "inner steps"))


@register
class FOMAML(MAML):
    """First-order MAML: the same learner with `first_order` on by default."""

    name = "fomaml"
    title = "First-Order MAML"
    paper = "Finn, Abbeel & Levine, ICML 2017 (§5.2); Nichol et al. 2018"
    how_it_decides = ("Like MAML, it takes a few gradient steps on the support images from meta-learned starting weights "
                      "and classifies the query with the adapted network; only its meta-training was simplified (first order).")

    @dataclass(frozen=True)
    class HParams(MAML.HParams):
        first_order: bool = hp(True, "Drop second derivatives (first-order MAML)")
