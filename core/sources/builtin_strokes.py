"""Procedural handwriting-like characters: the built-in meta-training source.

Few-shot meta-learning needs many *classes* far more than many images per class,
and the app must be able to train without downloading a data set.  This module
and `stroke_shapes` invent an unlimited alphabet: every class id deterministically
becomes a "character" made of 1-4 pen strokes (smooth curves, straight bars, corners,
hooks, loops, dots: `stroke_shapes`), and every instance of that class redraws the same strokes
the way another person would: shaky control points, a slightly different
position / size / slant / rotation, another pen width, a stroke sometimes cut
short.

The look is tuned to real Omniglot as the engine prepares it (105 px scans
downscaled to 28 px with Lanczos, inverted so ink is bright): thin, bright,
antialiased strokes about one output pixel wide, the character filling roughly
half of the frame, about 10 % of the pixels inked.

How it is made fast: the shape of each class is decided in numpy (a handful of
control points per stroke), every stroke becomes a fixed linear combination of
its control points (Catmull-Rom spline weights), so all instances of a class are
sampled with one matrix product.  The resulting dense pen positions are stamped
into a binary canvas 4x finer than the output (at 28 px) for a whole batch of
images with one torch scatter, thickened by dilation (the pen nib) and
area-averaged down to the output size (antialiasing), much as the real
characters were drawn on a 105 px canvas and downscaled.

Determinism: class ``c`` draws its shape from a generator seeded by
``(seed, c)`` only, and instance ``i`` draws its jitter from ``(seed, c, i)``
only, so a class looks the same whatever else is generated in the same call
and however many instances are asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from .stroke_shapes import INSTANCE_STREAM, UINT64, Stroke, class_strokes

__all__ = ["generate_characters"]

# The drawing happens in "frame units": the output image spans [-1, 1] on both
# axes, x to the right and y downwards.

# The pen is drawn on a binary canvas at least this many pixels wide (and at
# least twice the output size), like the 105 px Omniglot scans, then
# area-averaged down: 4x super-sampling at the usual 28 px.
MIN_CANVAS_PX = 112
# Dense pen positions may be at most this far apart (in canvas pixels), so
# that neighbouring stamped pixels touch and the stroke has no holes.
MAX_SAMPLE_SPACING_PX = 0.6
# Pen diameter as a fraction of the frame width.  Omniglot strokes are about
# 4.4 px wide on the 105 px scans (ink area * 2 / perimeter), i.e. ~4.2 %;
# the upper end is exactly 5 canvas pixels at 28 px, which keeps the nib to
# two dilations there.
PEN_WIDTH_RANGE = (0.033, 0.0446)
# Area-averaging the canvas and multiplying by this gain reproduces the grey
# levels that Lanczos downscaling gives the binary Omniglot scans (measured:
# correlation 0.993 with Lanczos on real scans at gain ~1.1).
INK_GAIN = 1.1
# Canvas pixels rasterised at once; bounds memory (a float copy of 2**24
# pixels is 64 MB, i.e. about 1300 images at 28 px).
CANVAS_PIXELS_PER_BATCH = 2**24

# How far (frame units) instance jitter may stretch a spline segment beyond
# its class-level chord; used to sample pen positions densely enough.
_JITTER_MARGIN = 0.3


# --------------------------------------------------------------------------
# Splines: every stroke is a fixed linear map from control points to samples.
# --------------------------------------------------------------------------


def _catmull_rom_weights(n_controls: int, samples_per_segment: Sequence[int]) -> np.ndarray:
    """Weights W [n_samples, n_controls] so that ``W @ controls`` samples a
    Catmull-Rom spline through all control points.

    The missing neighbours beyond the ends are reflections (2*P0 - P1), which
    are themselves linear in the controls, so ends run straight out.
    """
    identity = np.eye(n_controls)

    def control(j: int) -> np.ndarray:
        if j < 0:
            return 2 * identity[0] - identity[min(1, n_controls - 1)]
        if j >= n_controls:
            return 2 * identity[-1] - identity[max(n_controls - 2, 0)]
        return identity[j]

    rows = []
    for segment, n_samples in enumerate(samples_per_segment):
        last = segment == n_controls - 2
        t = np.linspace(0, 1, n_samples, endpoint=last)[:, None]
        p0, p1, p2, p3 = (control(segment + k) for k in (-1, 0, 1, 2))
        rows.append(0.5 * (2 * p1 + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
                           + (-p0 + 3 * p1 - 3 * p2 + p3) * t**3))
    return np.vstack(rows)


@dataclass
class _StrokePlan:
    """How to turn one stroke's jittered controls into dense pen positions."""

    control_index: np.ndarray  # which class-level control points this piece uses
    weights: np.ndarray  # [n_samples, len(control_index)]
    stroke_id: int  # pieces of the same stroke are shortened together
    start_fraction: np.ndarray  # [n_samples] position along the whole stroke, 0..1


def _plan_strokes(strokes: list[Stroke], canvas_px: int) -> list[_StrokePlan]:
    """Split strokes at their sharp corners into smooth pieces, and choose how
    densely to sample each piece so that even an enlarged instance has no gaps."""
    plans = []
    px_per_unit = canvas_px / 2
    offset = 0
    for stroke_id, stroke in enumerate(strokes):
        corners = [0] + [i for i in range(1, len(stroke.points) - 1) if stroke.sharp[i]] + [len(stroke.points) - 1]
        chord = np.linalg.norm(np.diff(stroke.points, axis=0), axis=1)
        total = chord.sum() + 1e-9
        travelled = np.concatenate([[0.0], np.cumsum(chord)]) / total
        for begin, end in zip(corners[:-1], corners[1:]):
            # Curves are longer than their chords and instances may be scaled
            # up and their control points moved, hence the generous allowance.
            samples = [int(np.ceil((2.0 * length + _JITTER_MARGIN) * px_per_unit / MAX_SAMPLE_SPACING_PX)) + 2
                       for length in chord[begin:end]]
            weights = _catmull_rom_weights(end - begin + 1, samples)
            fraction = np.concatenate([
                np.linspace(travelled[begin + k], travelled[begin + k + 1], n, endpoint=(begin + k == end - 1))
                for k, n in enumerate(samples)])
            plans.append(_StrokePlan(np.arange(offset + begin, offset + end + 1), weights, stroke_id, fraction))
        offset += len(stroke.points)
    return plans


# --------------------------------------------------------------------------
# Instances: the same strokes, drawn by a different hand each time.
# --------------------------------------------------------------------------


@dataclass
class _InstanceJitter:
    control_noise: np.ndarray  # [n_controls, 2] shape wobble, frame units
    stroke_offset: np.ndarray  # [n_strokes, 2] where each stroke lands, frame units
    affine: np.ndarray  # [2, 2] rotation / scale / shear
    shift: np.ndarray  # [2]
    pen_width: float  # nib diameter as a fraction of the frame width
    keep_from: np.ndarray  # [n_strokes] shortened strokes start later...
    keep_to: np.ndarray  # [n_strokes] ...or end earlier


def _instance_jitter(seed: int, class_id: int, instance: int, n_controls: int, n_strokes: int) -> _InstanceJitter:
    rng = np.random.default_rng([seed & UINT64, class_id & UINT64, INSTANCE_STREAM, instance])
    # Shape: each control point moves independently (a wobblier hand) plus a
    # shared per-instance "sloppiness" so some drawers are neater than others.
    sloppiness = rng.uniform(0.03, 0.09)
    control_noise = rng.normal(0, sloppiness, (n_controls, 2))
    # Each stroke as a whole lands a little off where it "should" (people
    # place the parts of a character relative to each other inexactly).
    stroke_offset = rng.normal(0, 0.05, (n_strokes, 2))
    # Global affine: size, aspect, slant (shear), rotation, position.
    scale = np.exp(rng.normal(0, 0.18))
    aspect = np.exp(rng.normal(0, 0.1))
    angle = rng.normal(0, 0.08)
    shear = rng.normal(0, 0.12)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    stretch = np.array([[scale * aspect, 0.0], [0.0, scale / aspect]])
    slant = np.array([[1.0, shear], [0.0, 1.0]])
    affine = rotation @ slant @ stretch
    shift = rng.normal(0, 0.09, 2)
    pen_width = rng.uniform(*PEN_WIDTH_RANGE)
    # Now and then a stroke is drawn a little short at one end.
    keep_from = np.zeros(n_strokes)
    keep_to = np.ones(n_strokes)
    shortened = rng.random(n_strokes) < 0.15
    cut = rng.uniform(0.05, 0.2, n_strokes)
    at_start = rng.random(n_strokes) < 0.5
    keep_from = np.where(shortened & at_start, cut, keep_from)
    keep_to = np.where(shortened & ~at_start, 1 - cut, keep_to)
    return _InstanceJitter(control_noise, stroke_offset, affine, shift, pen_width, keep_from, keep_to)


def _class_pen_pixels(seed: int, class_id: int, n_instances: int, canvas_px: int):
    """Dense pen positions of every instance of one class on the canvas.

    Returns (instance index per pixel, flat pixel index y*W+x, pen widths in
    canvas pixels).
    """
    strokes = class_strokes(seed, class_id)
    controls = np.vstack([s.points for s in strokes])  # [K, 2]
    plans = _plan_strokes(strokes, canvas_px)
    jitters = [_instance_jitter(seed, class_id, i, len(controls), len(strokes)) for i in range(n_instances)]

    stroke_of_control = np.repeat(np.arange(len(strokes)), [len(s.points) for s in strokes])
    noisy = (controls[None] + np.stack([j.control_noise for j in jitters])
             + np.stack([j.stroke_offset for j in jitters])[:, stroke_of_control])  # [n, K, 2]
    affine = np.stack([j.affine for j in jitters])  # [n, 2, 2]
    shift = np.stack([j.shift for j in jitters])  # [n, 2]
    noisy = np.einsum("nij,nkj->nki", affine, noisy) + shift[:, None]
    keep_from = np.stack([j.keep_from for j in jitters])  # [n, S]
    keep_to = np.stack([j.keep_to for j in jitters])

    instance_ids, pixel_ids = [], []
    for plan in plans:
        points = np.einsum("sk,nkd->nsd", plan.weights, noisy[:, plan.control_index])  # [n, s, 2]
        keep = ((plan.start_fraction[None] >= keep_from[:, plan.stroke_id, None])
                & (plan.start_fraction[None] <= keep_to[:, plan.stroke_id, None]))
        pixel = np.rint((points + 1) * (canvas_px / 2) - 0.5).astype(np.int64)
        inside = keep & (pixel >= 0).all(-1) & (pixel < canvas_px).all(-1)
        instance_ids.append(np.broadcast_to(np.arange(n_instances)[:, None], inside.shape)[inside])
        pixel_ids.append(pixel[..., 1][inside] * canvas_px + pixel[..., 0][inside])
    widths = np.array([j.pen_width * canvas_px for j in jitters])
    return np.concatenate(instance_ids), np.concatenate(pixel_ids), widths


# --------------------------------------------------------------------------
# Rasterisation: stamp, thicken, downsample, for a batch of images at once.
# --------------------------------------------------------------------------


def _dilate(mask: torch.Tensor, square: bool) -> torch.Tensor:
    """Boolean dilation of [..., H, W] masks by a 3x3 square or a 3x3 cross,
    done as shifted ORs (several times faster on CPU than a stride-1 max-pool).

    Squares alone would make a square nib, which draws diagonals 40 % thicker
    than horizontals; alternating square and cross grows rounder octagons.
    """
    rows = mask.clone()
    rows[..., 1:, :] |= mask[..., :-1, :]
    rows[..., :-1, :] |= mask[..., 1:, :]
    source = rows if square else mask
    both = rows.clone()
    both[..., :, 1:] |= source[..., :, :-1]
    both[..., :, :-1] |= source[..., :, 1:]
    return both


def _area_downsample(mask: torch.Tensor, factor: int) -> torch.Tensor:
    """Fraction of inked canvas pixels in each factor x factor block of
    [n, H, W] masks.  Summing small integers is several times faster than
    converting the whole canvas to float for an average pool."""
    n, height, width = mask.shape
    counts = mask.view(torch.uint8).view(n, height // factor, factor, width)
    count_dtype = torch.uint8 if factor * factor <= 255 else torch.int32
    counts = counts.sum(2, dtype=count_dtype).view(n, height // factor, width // factor, factor)
    return counts.sum(3, dtype=count_dtype).float() / (factor * factor)


def _render(image_ids: torch.Tensor, pixel_ids: torch.Tensor, pen_widths: torch.Tensor,
            n_images: int, canvas_px: int, size: int) -> torch.Tensor:
    """Float images [n_images, size, size] in 0..1 from stamped pen positions."""
    canvas = torch.zeros(n_images * canvas_px * canvas_px, dtype=torch.bool)
    canvas[image_ids * (canvas_px * canvas_px) + pixel_ids] = True
    canvas = canvas.view(n_images, canvas_px, canvas_px)
    # The nib: dilating the 1-px trace alternately with a 3x3 square and a
    # 3x3 cross gives round-ish pens of width 1, 3, 5, 7, ...  Area averaging
    # down to the output size antialiases each of them; a pen width in between
    # blends the two nearest, which reads as a stroke of intermediate
    # thickness.  Averaging is linear, so blending after the downsample is
    # exact and much cheaper than blending on the big canvas.
    factor = canvas_px // size
    level = (pen_widths.clamp(min=1.0) - 1) / 2  # index into the widths 1, 3, 5, ...
    top = max(1, int(level.max().ceil()))
    traces = [_area_downsample(canvas, factor)]
    dilated = canvas
    for step in range(1, top + 1):
        dilated = _dilate(dilated, square=step % 2 == 1)
        traces.append(_area_downsample(dilated, factor))
    traces = torch.stack(traces)  # [levels + 1, n_images, size, size]
    lower = level.floor().clamp(max=top - 1).long()
    blend = (level - lower).view(-1, 1, 1)
    images = torch.arange(n_images)
    image = traces[lower, images] + (traces[lower + 1, images] - traces[lower, images]) * blend
    return (image * INK_GAIN).clamp(0.0, 1.0)


def generate_characters(seed: int, class_ids: Sequence[int] | torch.Tensor, n_instances: int = 20,
                        size: int = 28) -> torch.Tensor:
    """Draw ``n_instances`` handwritten-looking instances of each class.

    Returns a uint8 tensor [len(class_ids), n_instances, size, size]; ink is
    bright (255), background 0.  Class ``c`` and instance ``i`` depend only on
    (seed, c, i, size), so any class id (e.g. 10**6) can be drawn on its own
    and repeated calls give identical bytes.

    Cost is mostly per image (~5 ms per class of 20 on one core at 28 px).
    The rasterising uses torch's current intra-op thread count; on a machine
    whose cores are busy with other work, torch.set_num_threads(1) around the
    call is faster than several threads fighting for them.
    """
    if isinstance(class_ids, torch.Tensor):
        class_ids = class_ids.reshape(-1).tolist()
    class_ids = [int(c) for c in class_ids]
    if n_instances < 0 or size <= 0:
        raise ValueError("n_instances must be >= 0 and size > 0")
    out = torch.zeros(len(class_ids), n_instances, size, size, dtype=torch.uint8)
    if not class_ids or n_instances == 0:
        return out
    canvas_px = size * max(2, -(-MIN_CANVAS_PX // size))  # a multiple of size
    classes_per_batch = max(1, CANVAS_PIXELS_PER_BATCH // (canvas_px * canvas_px * n_instances))
    for first in range(0, len(class_ids), classes_per_batch):
        batch = class_ids[first:first + classes_per_batch]
        image_ids, pixel_ids, widths = [], [], []
        for k, class_id in enumerate(batch):
            instance_ids, pixels, pen_widths = _class_pen_pixels(seed, class_id, n_instances, canvas_px)
            image_ids.append(instance_ids + k * n_instances)
            pixel_ids.append(pixels)
            widths.append(pen_widths)
        images = _render(torch.from_numpy(np.concatenate(image_ids)), torch.from_numpy(np.concatenate(pixel_ids)),
                         torch.from_numpy(np.concatenate(widths)).float(), len(batch) * n_instances, canvas_px, size)
        out[first:first + len(batch)] = (images * 255).round().to(torch.uint8).view(len(batch), n_instances, size, size)
    return out
