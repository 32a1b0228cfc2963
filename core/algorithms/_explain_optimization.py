"""Pictures shared by the optimisation-based learners' explanations (MAML, FOMAML, Reptile, the
LSTM meta-learner): each adapts by changing the network's weights step by step on the support set,
so each shows the same three things — the query's class probabilities and the support loss after
0, 1, …, k steps, and how far each layer's weights moved. The numbers come from the algorithm's own
adaptation (its file computes them); these helpers only put them into explanation parts.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from ..explanation import Bars, Curves

# How a layer is named in the pictures, by the kind of module that holds its weights.
_LAYER_KINDS = ((nn.Conv2d, "conv"), (nn.BatchNorm2d, "norm"), (nn.Linear, "linear"))


def layer_names(module: nn.Module) -> dict[str, str]:
    """{module path: plain name} for every module holding weights, in order: "conv 1", "norm 1", …;
    the last linear layer (the classifier head) is "head"."""
    names, counts = {}, {}
    for path, sub in module.named_modules():
        if not any(True for _ in sub.parameters(recurse=False)):
            continue
        kind = next((label for cls, label in _LAYER_KINDS if isinstance(sub, cls)), type(sub).__name__)
        counts[kind] = counts.get(kind, 0) + 1
        names[path] = f"{kind} {counts[kind]}"
    linears = [path for path, name in names.items() if name.startswith("linear ")]
    if linears:
        names[linears[-1]] = "head"
    return names


def layer_movement(module: nn.Module, start: dict[str, torch.Tensor], end: dict[str, torch.Tensor]) -> dict[str, tuple[float, float]]:
    """{layer name: (‖θ_k − θ_0‖, ‖θ_0‖)} over each layer's parameters (weights and bias together);
    `start` and `end` map parameter names (as `module.named_parameters()` gives them) to values."""
    names = layer_names(module)
    moved: dict[str, list[float]] = {}
    for key, theta0 in start.items():
        # float64 on the CPU: exact enough for small changes, and MPS has no float64
        theta0, theta_k = theta0.detach().cpu().double(), end[key].detach().cpu().double()
        layer = names[key.rsplit(".", 1)[0] if "." in key else ""]
        acc = moved.setdefault(layer, [0.0, 0.0])
        acc[0] += float((theta_k - theta0).pow(2).sum())
        acc[1] += float(theta0.pow(2).sum())
    return {layer: (d ** 0.5, s ** 0.5) for layer, (d, s) in moved.items()}


def movement_parts(module: nn.Module, start: dict[str, torch.Tensor], end: dict[str, torch.Tensor], steps: int,
                   how: str) -> list[Bars]:
    """Two bar charts: how far each layer's weights moved in the `steps` adaptation steps, in
    absolute terms and as a share of the layer's starting size."""
    moved = layer_movement(module, start, end)
    layers = list(moved)
    return [
        Bars("How far each layer's weights moved",
             f"The length of the change ‖θ_{steps} − θ_0‖ of each layer's weights over the {steps} {how}. "
             "Layers with tall bars are the ones adaptation relied on.",
             layers, {"‖θk − θ0‖": [moved[l][0] for l in layers]}, "length of the change"),
        Bars("How far each layer moved, relative to its size",
             "The same change as a percentage of the layer's starting weights ‖θ_0‖: a small percentage "
             "means the layer was barely touched.",
             layers, {"% of ‖θ0‖": [100.0 * d / s if s > 0 else 0.0 for d, s in (moved[l] for l in layers)]},
             "% of the starting weights"),
    ]


def step_curves(probs: Sequence[torch.Tensor], losses: Sequence[float], classes: Sequence[str], step_name: str,
                loss_caption: str | None) -> list:
    """The query's class probabilities after 0, 1, …, k steps (one line per class), the same
    before (step 0) and after (step k) as bars, and the support loss per step (left out when
    `loss_caption` is None: the caller shows it elsewhere)."""
    steps = list(range(len(probs)))
    k = steps[-1]
    table = torch.stack([p.detach().cpu().double() for p in probs])  # [k + 1, N]
    parts = [
        Curves("The query's class probabilities, step by step",
               f"Each line is one class's probability for the query after each {step_name}. Step 0 is the "
               f"network before it adapted; step {k} is the adapted network that made the prediction.",
               steps, {c: table[:, i] for i, c in enumerate(classes)}, step_name, "probability"),
        Bars("Before and after adaptation",
             f"The query's class probabilities before adapting (step 0) and after the {k} {step_name}s (the prediction).",
             list(classes), {"before": table[0], "after": table[-1]}, "probability"),
    ]
    if loss_caption is not None:
        parts.append(Curves("Support loss during adaptation", loss_caption, steps, {"support loss": list(losses)}, step_name, "loss"))
    return parts
