"""MAML's learner as a pure function of (parameters, images), so a meta-batch can run under `vmap`.

`nn.BatchNorm2d` under `vmap` is the trouble (pytorch/functorch#534): its running-statistics
buffers are written in place, which a vmapped function may not do. MAML's "transductive"
BatchNorm never uses those buffers — it normalises with the batch's own mean and variance — so
here it is written out as arithmetic on the batch: nothing is stored, and `vmap` over tasks gives
each task its own statistics, exactly as a per-task loop does. (Measured: `F.batch_norm` without
running buffers in its place still gives second-order meta-gradients ~1e-3 off the loop's in
float64 — first order agrees — which tests/core/test_batched_maml.py catches.)

The parameter dict is the one `ConvClassifier.named_parameters()` gives (`backbone.blocks.{i}.0`
conv, `.1` BatchNorm affine, `head`), so the same weights, checkpoints and adapted dicts serve the
module and this function alike.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import grad, vmap

from ..backbones import ConvClassifier


def batch_stat_norm(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float) -> torch.Tensor:
    """BatchNorm with the batch's own statistics (biased variance, as nn.BatchNorm2d normalises)."""
    # scale and shift are per-channel, so the image-sized tensor is passed over only by var_mean
    # and one fused multiply-add: this function's cost is memory traffic, not arithmetic.
    var, mean = torch.var_mean(x, dim=(0, 2, 3), correction=0, keepdim=True)
    scale = torch.rsqrt(var + eps) * weight[:, None, None]
    return torch.addcmul(bias[:, None, None] - mean * scale, x, scale)


class FunctionalConv4:
    """The forward pass of a strided Conv-4 `ConvClassifier` with batch-statistics BatchNorm.

    Reads the architecture (strides, padding, eps) off the module once; `supports(net)` says
    whether a network is one this function reproduces exactly."""

    def __init__(self, net: ConvClassifier):
        if not self.supports(net):
            raise ValueError("FunctionalConv4 reproduces only a strided Conv-4 with transductive BatchNorm")
        self.blocks = []
        for i, block in enumerate(net.backbone.blocks):
            conv, bn = block[0], block[1]
            self.blocks.append((f"backbone.blocks.{i}", conv.stride, conv.padding, bn.eps))

    @staticmethod
    def supports(net: nn.Module) -> bool:
        backbone = getattr(net, "backbone", None)
        if not isinstance(net, ConvClassifier) or not getattr(backbone, "strided", False):
            return False
        for block in backbone.blocks:
            kinds = [type(m) for m in block]
            bn = block[1] if len(block) > 1 else None
            if kinds != [nn.Conv2d, nn.BatchNorm2d, nn.ReLU] or bn.track_running_stats or not bn.affine:
                return False
        return True

    def __call__(self, params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        for prefix, stride, padding, eps in self.blocks:
            x = F.conv2d(x, params[f"{prefix}.0.weight"], params[f"{prefix}.0.bias"], stride=stride, padding=padding)
            x = F.relu(batch_stat_norm(x, params[f"{prefix}.1.weight"], params[f"{prefix}.1.bias"], eps))
        return F.linear(x.mean(dim=(-2, -1)), params["head.weight"], params["head.bias"])


def inner_step_size(alpha: float | dict[str, torch.Tensor], name: str, step: int) -> float | torch.Tensor:
    """α for parameter `name` at inner step `step`: the one inner_lr, or the learned one (MAML++'s
    LSLR; a step past the learned ones, as at test time with more steps, takes the last one's)."""
    if isinstance(alpha, dict):
        a = alpha[name]
        return a[min(step, len(a) - 1)]
    return alpha


def batched_maml_losses(forward: FunctionalConv4, theta: dict[str, torch.Tensor], support_x, support_y, query_x, query_y,
                        inner_lr: float | dict[str, torch.Tensor], inner_steps: int, first_order: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Every task's query loss at its adapted weights, and its query accuracy, as two [tasks] tensors.

    Inputs are stacked over tasks ([tasks, N, C, H, W] images, [tasks, N] labels). One task's inner
    loop (eq. 1) is written with `torch.func.grad`; `vmap` runs it over all tasks at once. θ is
    shared (not vmapped), so ordinary autograd through the result gives the exact meta-gradient:
    second order when `first_order` is off; with it on, each inner gradient is taken at detached
    weights and so enters as a constant, as `create_graph=False` makes it in the loop. `inner_lr`
    is one α or, learned per layer and step (MAML++'s LSLR), {parameter name: α per step}, shared
    by the tasks like θ, so its meta-gradient comes through the same way."""


    def support_loss(params, x, y):
        return F.cross_entropy(forward(params, x), y)

    def one_task(sx, sy, qx, qy):
        params = theta
        for step in range(inner_steps):
            at = {k: v.detach() for k, v in params.items()} if first_order else params
            grads = grad(support_loss)(at, sx, sy)
            params = {k: p - inner_step_size(inner_lr, k, step) * grads[k] for k, p in params.items()}
        logits = forward(params, qx)
        return F.cross_entropy(logits, qy), (logits.argmax(-1) == qy).to(logits.dtype).mean()

    return vmap(one_task)(support_x, support_y, query_x, query_y)
