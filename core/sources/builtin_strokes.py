"""Procedural handwriting-like characters: the built-in meta-training source.

Few-shot meta-learning needs many *classes* far more than many images per class,
and the app must be able to train without downloading a data set.  This module
invents an unlimited alphabet: every class id deterministically becomes a
"character" made of 1-4 pen strokes (smooth curves, straight bars, corners,
hooks, loops, dots), and every instance of that class redraws the same strokes
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

# Tags that keep the class-shape and instance-jitter random streams apart.
_CLASS_STREAM = 0
_INSTANCE_STREAM = 1
_UINT64 = (1 << 64) - 1


# Walks turn back at this distance from the centre (before the character is
# fitted to the frame).
_CHARACTER_BOX = 0.75
_MAX_STROKES = 4
# Drafts per added stroke; the one keeping clearest of existing ink is kept.
_CANDIDATE_STROKES = 3
# How far (frame units) instance jitter may stretch a spline segment beyond
# its class-level chord; used to sample pen positions densely enough.
_JITTER_MARGIN = 0.3


@dataclass
class _Stroke:
    """One pen stroke of a class: control points, with sharp corners marked."""

    points: np.ndarray  # [k, 2] control points in frame units
    sharp: np.ndarray  # [k] bool: the pen changes direction abruptly here


# --------------------------------------------------------------------------
# Class shapes: a few strokes per class, decided once per (seed, class).
# --------------------------------------------------------------------------


def _heading_walk(rng: np.random.Generator, start: np.ndarray, n_points: int, step: float,
                  turn_sd: float, curl: float, snap_prob: float, sharp_prob: float) -> _Stroke:
    """A pen trajectory as a random walk of headings.

    ``curl`` is a constant turn added at each point, which makes arcs, hooks
    and spirals instead of wiggles; ``snap_prob`` pulls headings onto multiples
    of 45 degrees because scripts are full of horizontal/vertical bars and
    diagonals; ``sharp_prob`` makes a point a corner instead of a smooth bend.
    """
    heading = rng.uniform(-np.pi, np.pi)
    points = [start]
    sharp = [False]
    for _ in range(n_points - 1):
        if rng.random() < snap_prob:
            heading = np.round(heading / (np.pi / 4)) * (np.pi / 4) + rng.normal(0, 0.05)
        length = step * rng.uniform(0.6, 1.4)
        step_vector = length * np.array([np.cos(heading), np.sin(heading)])
        # The pen stays inside the character's box: bounce off its walls.
        # Real characters fold back on themselves (about 3.5 box-widths of
        # ink per character) instead of wandering off in one direction.
        outside = np.abs(points[-1] + step_vector) > _CHARACTER_BOX
        if outside.any():
            step_vector[outside] *= -1
            heading = np.arctan2(step_vector[1], step_vector[0])
        points.append(points[-1] + step_vector)
        is_corner = rng.random() < sharp_prob
        sharp.append(is_corner)
        # A corner turns hard (90 degrees give or take); a smooth bend turns by
        # the running curl plus noise.
        if is_corner:
            right_angle = rng.random() < 0.6
            turn = np.pi / 2 + rng.normal(0, 0.2) if right_angle else rng.uniform(0.5, 2.6)
            heading += rng.choice([-1.0, 1.0]) * turn
        else:
            heading += curl + rng.normal(0, turn_sd)
    sharp[-1] = False
    return _Stroke(np.array(points), np.array(sharp))


def _ellipse_arc(rng: np.random.Generator, start: np.ndarray) -> _Stroke:
    """An arc, circle or loop (the closed 'o'/'e' shapes of many scripts)."""
    radius_x = rng.uniform(0.2, 0.55)
    radius_y = radius_x * np.exp(rng.normal(0, 0.35))
    span = rng.choice([rng.uniform(0.6, 1.2), rng.uniform(1.7, 2.15)]) * np.pi
    begin = rng.uniform(-np.pi, np.pi)
    direction = rng.choice([-1.0, 1.0])
    n_points = max(3, int(np.ceil(span / (np.pi / 4))) + 1)
    angles = begin + direction * np.linspace(0, span, n_points)
    tilt = rng.uniform(-np.pi, np.pi)
    local = np.stack([radius_x * np.cos(angles), radius_y * np.sin(angles)], axis=1)
    rotation = np.array([[np.cos(tilt), -np.sin(tilt)], [np.sin(tilt), np.cos(tilt)]])
    points = local @ rotation.T
    points = points - points[0] + start
    # Sometimes the pen carries on out of the loop in a short tail.
    if rng.random() < 0.35:
        tangent = points[-1] - points[-2]
        tangent = tangent / (np.linalg.norm(tangent) + 1e-9)
        points = np.vstack([points, points[-1] + tangent * rng.uniform(0.2, 0.5)])
    return _Stroke(points, np.zeros(len(points), dtype=bool))


def _dot(rng: np.random.Generator, start: np.ndarray) -> _Stroke:
    """A dot or tiny tick: a very short stroke."""
    angle = rng.uniform(-np.pi, np.pi)
    length = rng.uniform(0.02, 0.08)
    points = np.stack([start, start + length * np.array([np.cos(angle), np.sin(angle)])])
    return _Stroke(points, np.zeros(2, dtype=bool))


def _with_end_loop(rng: np.random.Generator, stroke: _Stroke) -> _Stroke:
    """Finish a stroke with a small closed curl, the little circles that end
    strokes in many scripts (Malayalam, Kannada, Tibetan, ...)."""
    direction = stroke.points[-1] - stroke.points[-2]
    heading = np.arctan2(direction[1], direction[0])
    side = rng.choice([-1.0, 1.0])
    radius = rng.uniform(0.07, 0.14)
    # Circle tangent to the stroke's last direction, entered at the end point.
    centre = stroke.points[-1] + radius * np.array([np.cos(heading + side * np.pi / 2),
                                                    np.sin(heading + side * np.pi / 2)])
    entry = heading - side * np.pi / 2  # angle of the end point seen from the centre
    angles = entry + side * np.linspace(0, 2 * np.pi * rng.uniform(0.9, 1.1), 8)[1:]
    loop = centre + radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return _Stroke(np.vstack([stroke.points, loop]), np.concatenate([stroke.sharp, np.zeros(len(loop), bool)]))


def _random_stroke(rng: np.random.Generator, start: np.ndarray) -> _Stroke:
    """One stroke of a random kind beginning at ``start``, sometimes ending in a curl."""
    stroke = _random_stroke_shape(rng, start)
    if len(stroke.points) >= 2 and np.linalg.norm(stroke.points[-1] - stroke.points[-2]) > 0.15 \
            and rng.random() < 0.15:
        stroke = _with_end_loop(rng, stroke)
    return stroke


def _random_stroke_shape(rng: np.random.Generator, start: np.ndarray) -> _Stroke:
    kind = rng.choice(["curve", "bars", "hook", "loop", "dot"], p=[0.38, 0.24, 0.12, 0.21, 0.05])
    if kind == "curve":
        return _heading_walk(rng, start, n_points=int(rng.integers(3, 8)), step=rng.uniform(0.35, 0.65),
                             turn_sd=0.45, curl=rng.normal(0, 0.5), snap_prob=0.15, sharp_prob=0.15)
    if kind == "bars":
        return _heading_walk(rng, start, n_points=int(rng.integers(2, 6)), step=rng.uniform(0.4, 0.9),
                             turn_sd=0.3, curl=0.0, snap_prob=0.7, sharp_prob=0.85)
    if kind == "hook":
        # A straight run that curls at the end.
        stroke = _heading_walk(rng, start, n_points=2, step=rng.uniform(0.5, 0.9),
                               turn_sd=0.1, curl=0.0, snap_prob=0.6, sharp_prob=0.0)
        direction = stroke.points[1] - stroke.points[0]
        heading = np.arctan2(direction[1], direction[0])
        turn = rng.choice([-1.0, 1.0]) * rng.uniform(0.7, 1.3)
        points = list(stroke.points)
        for _ in range(int(rng.integers(1, 3))):
            heading += turn
            points.append(points[-1] + rng.uniform(0.12, 0.25) * np.array([np.cos(heading), np.sin(heading)]))
        return _Stroke(np.array(points), np.zeros(len(points), dtype=bool))
    if kind == "loop":
        return _ellipse_arc(rng, start)
    return _dot(rng, start)


def _pen_path(strokes: list[_Stroke], spacing: float = 0.05) -> np.ndarray:
    """Points every ``spacing`` along the control polylines of ``strokes``."""
    pieces = [np.zeros((0, 2))]
    for stroke in strokes:
        for a, b in zip(stroke.points[:-1], stroke.points[1:]):
            n = max(1, int(np.ceil(np.linalg.norm(b - a) / spacing)))
            pieces.append(a + (b - a) * np.linspace(0, 1, n + 1)[:, None])
    return np.vstack(pieces)


def _clearance(stroke: _Stroke, ink: np.ndarray) -> float:
    """How well a new stroke keeps off existing ink: mean distance of its path
    to the nearest ink, each distance capped so one crossing costs little."""
    if len(ink) == 0:
        return 0.0
    path = _pen_path([stroke])
    distance = np.sqrt(((path[:, None] - ink[None]) ** 2).sum(-1)).min(axis=1)
    return float(np.minimum(distance, 0.25).mean())


def _ink_density(strokes: list[_Stroke]) -> float:
    """Polyline length of the control points over the bounding box's larger side."""
    all_points = np.vstack([s.points for s in strokes])
    extent = max(float((all_points.max(axis=0) - all_points.min(axis=0)).max()), 0.3)
    length = sum(float(np.linalg.norm(np.diff(s.points, axis=0), axis=1).sum()) for s in strokes)
    return length / extent


def _class_strokes(seed: int, class_id: int) -> list[_Stroke]:
    """The strokes of one class, normalised to sit in the frame."""
    rng = np.random.default_rng([seed & _UINT64, class_id & _UINT64, _CLASS_STREAM])
    # How much ink the character holds, as stroke length over the larger side
    # of its bounding box.  Real Omniglot characters hold about 3.5 box-widths
    # of pen path; this bounds both lone dots / bars and dense scribbles.
    target_density = rng.uniform(2.0, 4.5)
    strokes: list[_Stroke] = []
    while len(strokes) < _MAX_STROKES and (not strokes or _ink_density(strokes) < target_density):
        if strokes and rng.random() < 0.15:
            # Scripts repeat themselves: parallel bars, twin loops, mirrored
            # hooks.  Copy an earlier stroke, maybe mirrored, and move it along
            # a mostly horizontal or vertical direction.
            original = strokes[int(rng.integers(len(strokes)))]
            points = original.points.copy()
            if rng.random() < 0.4:
                points[:, 0] = 2 * points[:, 0].mean() - points[:, 0]
            direction = rng.choice([0.0, 0.5, 1.0, 1.5]) * np.pi + rng.normal(0, 0.15)
            shift = rng.uniform(0.25, 0.6) * np.array([np.cos(direction), np.sin(direction)])
            strokes.append(_Stroke(points + shift, original.sharp.copy()))
            continue
        # Real characters are legible: their strokes mostly keep apart instead
        # of piling up.  Draft a few candidate strokes and keep the one that
        # stays clearest of the ink already there.
        ink = _pen_path(strokes)
        candidates = []
        for _ in range(_CANDIDATE_STROKES if strokes else 1):
            if strokes and rng.random() < 0.55:
                # Scripts are mostly connected: begin on (or at the end of) an
                # earlier stroke so pieces touch instead of floating.
                anchor = strokes[int(rng.integers(len(strokes)))].points
                start = anchor[int(rng.integers(len(anchor)))] + rng.normal(0, 0.03, 2)
            else:
                start = rng.uniform(-_CHARACTER_BOX, _CHARACTER_BOX, 2)
            candidates.append(_random_stroke(rng, start))
        strokes.append(max(candidates, key=lambda stroke: _clearance(stroke, ink)))

    # Fit the character into the frame: its larger side covers a class-specific
    # share of the frame (real characters range from small marks to ones that
    # touch the border), centred with a small offset.
    all_points = np.vstack([s.points for s in strokes])
    low, high = all_points.min(axis=0), all_points.max(axis=0)
    extent = max(float((high - low).max()), 0.15)
    # Busy characters are drawn larger (a small one with four strokes would be
    # an illegible blot); on average the larger side is ~55 % of the frame.
    target_extent = rng.uniform(0.7, 1.15) + 0.08 * (len(strokes) - 1)  # of the frame's 2.0
    scale = target_extent / extent
    # Don't blow a lone dot up into a blob: tiny shapes stay smallish.
    scale = min(scale, 6.0)
    centre = (low + high) / 2
    offset = rng.normal(0, 0.05, 2)
    for stroke in strokes:
        stroke.points = (stroke.points - centre) * scale + offset
    return strokes


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


def _plan_strokes(strokes: list[_Stroke], canvas_px: int) -> list[_StrokePlan]:
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
    rng = np.random.default_rng([seed & _UINT64, class_id & _UINT64, _INSTANCE_STREAM, instance])
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
    strokes = _class_strokes(seed, class_id)
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
