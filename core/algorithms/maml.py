"""Model-Agnostic Meta-Learning (Finn, Abbeel & Levine 2017) and its first-order variant.

Inner loop (eq. 1): θ'_i = θ − α ∇θ L_Ti(f_θ) on the support set, for `inner_steps` steps.
Meta-update (eq. 2): θ ← θ − β ∇θ Σ_i L_Ti(f_θ'_i) on the queries, differentiating through the
inner steps (second order). First-order MAML drops the second derivatives: the inner gradient is a
constant, so the meta-gradient is the query-loss gradient at the adapted weights (Finn et al. §5.2)
— yet it still flows to θ through θ' = θ − α·const, so θ does learn.

The learner runs through `torch.func.functional_call` with a dict of adapted weights, not module
clones. Meta-training runs the whole meta-batch as one batched computation: one task's inner loop
written with `torch.func.grad`, `vmap`ped over the tasks (`functional.py`), with BatchNorm written
as a pure function of each task's own images — `nn.BatchNorm2d` itself under `vmap` gives wrong
second-order gradients (pytorch/functorch#534). The same meta-gradient as a per-task loop (tested
to 1e-5), so checkpoints and `adapt()` are those of the loop. Running-statistics BatchNorm cannot
be batched exactly and falls back to the per-task loop; `step_path(tasks)` says which runs.
Omniglot protocol: strided Conv-4 (no pooling), batch-statistics BatchNorm, 5-way: 1 inner step,
α = 0.4, meta-batch 32; 20-way: 5 steps, α = 0.1, meta-batch 16; Adam β = 1e-3.

Three of MAML++'s training changes (Antoniou, Edwards & Storkey, ICLR 2019), off by default:
`meta_lr_schedule="budget"` anneals β by a cosine over the run; `learn_inner_lr` meta-learns a step
size α per layer and inner step (LSLR), starting at `inner_lr`; `first_order_until` trains first
order for that fraction of the run, then second order (derivative-order annealing: the cheap
steps early, the exact meta-gradient at the end, so MAML stays second-order MAML).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from ..backbones import BN_MODES, ConvClassifier, conv4_strided
from ._explain_optimization import movement_parts, step_curves
from .functional import FunctionalConv4, batched_maml_losses, inner_step_size
from .base import Classifier, MetaLearner, StepMetrics, hp, register
from ..tasks import DEFAULT_TASK


# On a CPU, vmapping the tasks turns every convolution into a grouped one, which pays only for small
# tasks. Measured with `fewshot bench` (5-way 1-shot, meta-batch 32, a loaded 2-core machine):
# batched / loop = 1.30× (MAML) and 1.07× (FOMAML) on one thread, 2.29× / 1.87× on two, at 10
# images a task (1 query per class); 0.49× / 0.41× on one thread, 0.88× / 0.65× on two, at 80
# (15 queries per class). The automatic choice batches on a CPU up to this many images a task;
# on a GPU, always (a loop of tiny tasks is bound by kernel launches there).
BATCHED_CPU_MAX_IMAGES = 16


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
        meta_lr_schedule: str = hp("constant", "constant: Adam at meta_lr throughout (the paper); budget: a cosine from meta_lr to 1% "
                                               "of it over the run or time budget (MAML++)", choices=("constant", "budget"))
        learn_inner_lr: bool = hp(False, "Meta-learn a step size α per layer and inner step, starting at inner_lr (MAML++'s LSLR)")
        first_order_until: float = hp(0.0, "Share of the run meta-trained first order before the second-order steps (MAML++'s "
                                           "derivative-order annealing; 0 = first_order throughout)", min=0.0, max=1.0)

    def __init__(self, hparams=None, spec=None, n_way: int = DEFAULT_TASK.n_way):
        super().__init__(hparams, spec, n_way)
        h = self.hparams
        self.net = ConvClassifier(conv4_strided(self.spec.channels, h.hidden, h.bn_mode), n_way, self.input_shape)
        # LSLR: one α per parameter tensor and inner step ("." is not allowed in a ParameterDict's keys)
        self.inner_lrs = nn.ParameterDict({name.replace(".", "/"): nn.Parameter(torch.full((h.inner_steps,), float(h.inner_lr)))
                                           for name, _ in self.net.named_parameters()}) if h.learn_inner_lr else None
        self.optimizer = torch.optim.Adam(self.parameters(), lr=h.meta_lr)
        self._base_lr, self._lr_schedule = h.meta_lr, "budget" if h.meta_lr_schedule == "budget" else "step"
        # None where the learner is not one FunctionalConv4 reproduces exactly (running statistics)
        self.functional_net = FunctionalConv4(self.net) if FunctionalConv4.supports(self.net) else None
        # True: batch the meta-batch wherever exact; False: the per-task loop (`fewshot bench` times
        # one against the other); None: automatic — batched, except small-batch-hostile CPU cases
        # (see BATCHED_CPU_MAX_IMAGES).
        self.batch_tasks: bool | None = None

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

    def step_sizes(self, detach: bool = False) -> dict[str, torch.Tensor] | float:
        """α: the one inner_lr, or with learn_inner_lr {parameter name: α per inner step [steps]}
        (a step past the learned ones, as at test time with more steps, takes the last one's)."""
        if self.inner_lrs is None:
            return self.hparams.inner_lr
        return {key.replace("/", "."): (a.detach() if detach else a) for key, a in self.inner_lrs.items()}

    def first_order_now(self) -> bool:
        """Whether this meta-training step drops second derivatives: always for first-order MAML,
        and for the first `first_order_until` of the run under derivative-order annealing."""
        return self.hparams.first_order or self.progress < self.hparams.first_order_until

    def inner_loop(self, params: dict, support_x: torch.Tensor, support_y: torch.Tensor, steps: int,
                   create_graph: bool, step_sizes: dict[str, torch.Tensor] | float | None = None) -> dict[str, torch.Tensor]:
        """θ' after `steps` SGD steps on the support loss (eq. 1). With create_graph the steps stay
        differentiable (second order); without, each gradient is a constant (first order)."""
        alpha = self.step_sizes(detach=not create_graph) if step_sizes is None else step_sizes
        for k in range(steps):
            loss = F.cross_entropy(functional_call(self.net, params, (support_x,)), support_y)
            grads = torch.autograd.grad(loss, list(params.values()), create_graph=create_graph)
            params = {name: p - inner_step_size(alpha, name, k) * g for (name, p), g in zip(params.items(), grads)}
        return params

    def step_path(self, tasks) -> str:
        """Which computation a meta-training step on `tasks` runs: "batched" (all tasks at once
        under vmap) or "loop (why)" (task by task)."""
        if self.batch_tasks is False:
            return "loop (batching turned off)"
        if self.functional_net is None:
            return (f"loop (bn_mode={self.hparams.bn_mode}: running statistics are updated in place, "
                    "task after task, which a batched step cannot reproduce)")
        shapes = {(t.support_x.shape, t.support_y.shape, t.query_x.shape, t.query_y.shape) for t in tasks}
        if len(shapes) > 1:
            return "loop (the tasks differ in size, so they cannot be stacked)"
        images = len(tasks[0].support_x) + len(tasks[0].query_x)
        if self.batch_tasks is None and tasks[0].support_x.device.type == "cpu" and images > BATCHED_CPU_MAX_IMAGES:
            return (f"loop (on a CPU, tasks of {images} images run faster one by one; "
                    f"batching pays up to {BATCHED_CPU_MAX_IMAGES} images a task)")
        return "batched"

    def task_loss(self, task, theta: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """One task's query loss at its adapted weights θ'_i, and its query accuracy (a tensor, so
        that reading it does not wait for the device)."""
        h = self.hparams
        first_order = self.first_order_now()
        # α is a meta-parameter under LSLR: it keeps its graph even in a first-order step
        adapted = self.inner_loop(theta, task.support_x, task.support_y, h.inner_steps, create_graph=not first_order,
                                  step_sizes=self.step_sizes())
        logits = functional_call(self.net, adapted, (task.query_x,))
        return F.cross_entropy(logits, task.query_y), (logits.detach().argmax(-1) == task.query_y).to(logits.dtype).mean()

    def batched_task_losses(self, tasks, theta: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """Every task's query loss and accuracy ([tasks] tensors), all tasks in one vmapped computation."""
        h = self.hparams

        def stacked(field):
            return torch.stack([getattr(t, field) for t in tasks])

        return batched_maml_losses(self.functional_net, theta, stacked("support_x"), stacked("support_y"), stacked("query_x"),
                                   stacked("query_y"), self.step_sizes(), h.inner_steps, self.first_order_now())

    def meta_loss(self, tasks) -> tuple[torch.Tensor, float]:
        """Mean query loss over the meta-batch at the adapted weights (eq. 2's objective), by the
        path `step_path` names."""
        theta = self.params()
        if self.step_path(tasks) == "batched":
            losses, accs = self.batched_task_losses(tasks, theta)
        else:
            results = [self.task_loss(t, theta) for t in tasks]
            losses, accs = torch.stack([r[0] for r in results]), torch.stack([r[1] for r in results])
        return losses.mean(), float(accs.mean())

    def meta_train_step(self, tasks) -> StepMetrics:
        self.train()
        self.optimizer.zero_grad(set_to_none=True)
        theta = self.params()
        if self.step_path(tasks) == "batched":
            losses, accs = self.batched_task_losses(tasks, theta)
            loss = losses.mean()
            loss.backward()
            loss, accs = loss.detach(), accs.mean()
        else:
            # Backward task by task: the same gradient as the mean loss, but only one task's
            # second-order graph is alive at a time.
            loss, accs = 0.0, 0.0
            for t in tasks:
                task_loss, task_acc = self.task_loss(t, theta)
                (task_loss / len(tasks)).backward()
                loss, accs = loss + task_loss.detach() / len(tasks), accs + task_acc / len(tasks)
        self.average_gradients()  # data-parallel runs: the mean over every rank's tasks
        # the step's one read from the device: loss and accuracy together
        loss_value, acc_value = torch.stack([loss, accs]).tolist()
        self.check_finite(torch.tensor(loss_value))
        self._apply_budget_lr()
        self.optimizer.step()
        return StepMetrics(loss_value, acc_value, len(tasks))

    def batched_accuracies(self, episodes) -> torch.Tensor | None:
        """Test-time adaptation (`inner_steps_test` steps, no meta-gradient) of many episodes at
        once, under `vmap`; by `step_path`'s rule, so on a CPU only for small episodes (a 5-way
        1-shot 15-query episode runs faster in the loop there) and on a GPU always."""
        if self.step_path(episodes) != "batched" or len({e.n_way for e in episodes}) != 1:
            return None
        self.train()  # batch statistics: the functional net's BatchNorm is transductive
        theta = {k: v.detach() for k, v in self.params(episodes[0].n_way).items()}

        def stacked(field):
            return torch.stack([getattr(e, field) for e in episodes])

        with torch.no_grad():  # torch.func.grad still differentiates the inner loop inside
            _, accs = batched_maml_losses(self.functional_net, theta, stacked("support_x"), stacked("support_y"), stacked("query_x"),
                                          stacked("query_y"), self.step_sizes(detach=True), self.hparams.inner_steps_test, first_order=True)
        return accs

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
