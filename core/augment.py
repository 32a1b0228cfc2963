"""Random affine distortions of training images (Koch, Zemel & Salakhutdinov 2015, §4.2).

A new person draws a character a little turned, slanted, larger or off-centre; distorting every
training image by a small random affine map shows the network such drawings without new data.
Koch et al. drew, per image, a rotation θ ∈ [−10°, 10°], a shear ρ ∈ [−0.3, 0.3] per axis, a
scale s ∈ [0.8, 1.2] per axis and a shift t ∈ [−2, 2] px per axis (of 105 px), each component
present with probability ½ — `Augmentation()` is that draw (the shift as a share of the side).

The draws of an episode are a pure function of (the stream's seed, the episode's index), like the
episode itself, so a resumed run distorts exactly as an uninterrupted one. Applied to model input
(floats, ink bright on a dark background), so the padding a map brings in is empty paper.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F

from .errors import ConfigError


@dataclass(frozen=True)
class Augmentation:
    rotate_deg: float = 10.0  # |θ| ≤ this
    shear: float = 0.3  # |ρx|, |ρy| ≤ this
    scale: float = 0.2  # sx, sy ∈ [1 − scale, 1 + scale]
    shift: float = 2 / 105  # |tx|, |ty| ≤ this share of the image side (Koch's ±2 px of 105)
    p: float = 0.5  # each component is drawn with this probability (else it is the identity)

    def __post_init__(self):
        for name, value in asdict(self).items():
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ConfigError(f"augmentation {name}={value!r}: expected a number ≥ 0")
        if self.scale >= 1 or self.p > 1 or self.shear >= 1:
            raise ConfigError(f"augmentation: scale and shear must be < 1 and p ≤ 1, got scale={self.scale}, shear={self.shear}, p={self.p}")

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def parse(cls, text: str) -> "Augmentation | None":
        """"none", "affine" (Koch et al.'s draw) or "affine:rotate_deg=15,scale=0.1,…" (any fields)."""
        text = text.strip()
        if text in ("", "none"):
            return None
        kind, _, rest = text.partition(":")
        if kind != "affine":
            raise ConfigError(f"unknown augmentation {text!r}; expected none, affine or affine:NAME=VALUE,…")
        values: dict[str, Any] = {}
        names = set(cls.__dataclass_fields__)
        for pair in filter(None, (p.strip() for p in rest.split(","))):
            name, eq, value = pair.partition("=")
            if not eq or name not in names:
                raise ConfigError(f"augmentation {pair!r}: expected NAME=VALUE with NAME one of {', '.join(sorted(names))}")
            try:
                values[name] = float(value)
            except ValueError:
                raise ConfigError(f"augmentation {pair!r}: {value!r} is not a number") from None
        return cls(**values)

    def matrices(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """[n, 2, 3] affine maps (output → input coordinates, as `affine_grid` takes them)."""
        u = lambda *shape: torch.rand(*shape, generator=generator) * 2 - 1  # noqa: E731  uniform in [−1, 1]
        on = lambda: (torch.rand(n, generator=generator) < self.p).float()  # noqa: E731
        theta = u(n) * math.radians(self.rotate_deg) * on()
        shear = u(n, 2) * self.shear * on().unsqueeze(1)
        scale = 1 + u(n, 2) * self.scale * on().unsqueeze(1)
        shift = u(n, 2) * (2 * self.shift) * on().unsqueeze(1)  # affine_grid's coordinates span 2 per side
        cos, sin = theta.cos(), theta.sin()
        rot = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)
        sh = torch.stack([torch.stack([torch.ones(n), shear[:, 0]], -1), torch.stack([shear[:, 1], torch.ones(n)], -1)], -2)
        linear = rot @ sh @ torch.diag_embed(scale)
        return torch.cat([linear, shift.unsqueeze(-1)], -1)

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """A random distortion of each image of `x` [n, C, H, W] (float model input)."""
        if len(x) == 0:
            return x
        m = self.matrices(len(x), generator).to(device=x.device, dtype=x.dtype)
        grid = F.affine_grid(m, list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


VIEWS_SEED = 105  # the fixed distortions of test-time views: the same for every image and every run


def test_views(x: torch.Tensor, count: int, augmentation: Augmentation = Augmentation()) -> torch.Tensor:
    """[count, n, C, H, W]: every image of `x` [n, C, H, W] as it is (view 0) and under count − 1
    fixed random distortions, the same ones for every image (so a support image and a query are
    seen alike) and on every call (so a prediction never changes between two calls)."""
    if count <= 1:
        return x.unsqueeze(0)
    m = augmentation.matrices(count - 1, torch.Generator().manual_seed(VIEWS_SEED)).to(device=x.device, dtype=x.dtype)
    n = len(x)
    grid = F.affine_grid(m.repeat_interleave(n, 0), [(count - 1) * n, *x.shape[1:]], align_corners=False)
    moved = F.grid_sample(x.repeat(count - 1, 1, 1, 1), grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return torch.cat([x, moved]).view(count, n, *x.shape[1:])


def augmentation_from(value: "Augmentation | dict | str | None") -> Augmentation | None:
    """An Augmentation from what a config holds: None, one, its dict, or its text form."""
    if value is None or isinstance(value, Augmentation):
        return value
    if isinstance(value, str):
        return Augmentation.parse(value)
    return Augmentation(**value)
