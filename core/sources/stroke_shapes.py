"""The built-in source's class shapes: every class id deterministically becomes a "character" of
1-4 pen strokes (smooth curves, straight bars, corners, hooks, loops, dots), decided once per
(seed, class) from its own random stream. `builtin_strokes` draws the instances of these shapes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# The drawing happens in "frame units": the output image spans [-1, 1] on both
# axes, x to the right and y downwards.

# Tags that keep the class-shape and instance-jitter random streams apart.
CLASS_STREAM = 0
INSTANCE_STREAM = 1
UINT64 = (1 << 64) - 1

# Walks turn back at this distance from the centre (before the character is
# fitted to the frame).
_CHARACTER_BOX = 0.75
_MAX_STROKES = 4
# Drafts per added stroke; the one keeping clearest of existing ink is kept.
_CANDIDATE_STROKES = 3

@dataclass
class Stroke:
    """One pen stroke of a class: control points, with sharp corners marked."""

    points: np.ndarray  # [k, 2] control points in frame units
    sharp: np.ndarray  # [k] bool: the pen changes direction abruptly here


# --------------------------------------------------------------------------
# Class shapes: a few strokes per class, decided once per (seed, class).
# --------------------------------------------------------------------------


def _heading_walk(rng: np.random.Generator, start: np.ndarray, n_points: int, step: float,
                  turn_sd: float, curl: float, snap_prob: float, sharp_prob: float) -> Stroke:
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
    return Stroke(np.array(points), np.array(sharp))


def _ellipse_arc(rng: np.random.Generator, start: np.ndarray) -> Stroke:
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
    return Stroke(points, np.zeros(len(points), dtype=bool))


def _dot(rng: np.random.Generator, start: np.ndarray) -> Stroke:
    """A dot or tiny tick: a very short stroke."""
    angle = rng.uniform(-np.pi, np.pi)
    length = rng.uniform(0.02, 0.08)
    points = np.stack([start, start + length * np.array([np.cos(angle), np.sin(angle)])])
    return Stroke(points, np.zeros(2, dtype=bool))


def _with_end_loop(rng: np.random.Generator, stroke: Stroke) -> Stroke:
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
    return Stroke(np.vstack([stroke.points, loop]), np.concatenate([stroke.sharp, np.zeros(len(loop), bool)]))


def _random_stroke(rng: np.random.Generator, start: np.ndarray) -> Stroke:
    """One stroke of a random kind beginning at ``start``, sometimes ending in a curl."""
    stroke = _random_stroke_shape(rng, start)
    if len(stroke.points) >= 2 and np.linalg.norm(stroke.points[-1] - stroke.points[-2]) > 0.15 \
            and rng.random() < 0.15:
        stroke = _with_end_loop(rng, stroke)
    return stroke


def _random_stroke_shape(rng: np.random.Generator, start: np.ndarray) -> Stroke:
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
        return Stroke(np.array(points), np.zeros(len(points), dtype=bool))
    if kind == "loop":
        return _ellipse_arc(rng, start)
    return _dot(rng, start)


def pen_path(strokes: list[Stroke], spacing: float = 0.05) -> np.ndarray:
    """Points every ``spacing`` along the control polylines of ``strokes``."""
    pieces = [np.zeros((0, 2))]
    for stroke in strokes:
        for a, b in zip(stroke.points[:-1], stroke.points[1:]):
            n = max(1, int(np.ceil(np.linalg.norm(b - a) / spacing)))
            pieces.append(a + (b - a) * np.linspace(0, 1, n + 1)[:, None])
    return np.vstack(pieces)


def _clearance(stroke: Stroke, ink: np.ndarray) -> float:
    """How well a new stroke keeps off existing ink: mean distance of its path
    to the nearest ink, each distance capped so one crossing costs little."""
    if len(ink) == 0:
        return 0.0
    path = pen_path([stroke])
    distance = np.sqrt(((path[:, None] - ink[None]) ** 2).sum(-1)).min(axis=1)
    return float(np.minimum(distance, 0.25).mean())


def _ink_density(strokes: list[Stroke]) -> float:
    """Polyline length of the control points over the bounding box's larger side."""
    all_points = np.vstack([s.points for s in strokes])
    extent = max(float((all_points.max(axis=0) - all_points.min(axis=0)).max()), 0.3)
    length = sum(float(np.linalg.norm(np.diff(s.points, axis=0), axis=1).sum()) for s in strokes)
    return length / extent


def class_strokes(seed: int, class_id: int) -> list[Stroke]:
    """The strokes of one class, normalised to sit in the frame."""
    rng = np.random.default_rng([seed & UINT64, class_id & UINT64, CLASS_STREAM])
    # How much ink the character holds, as stroke length over the larger side
    # of its bounding box.  Real Omniglot characters hold about 3.5 box-widths
    # of pen path; this bounds both lone dots / bars and dense scribbles.
    target_density = rng.uniform(2.0, 4.5)
    strokes: list[Stroke] = []
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
            strokes.append(Stroke(points + shift, original.sharp.copy()))
            continue
        # Real characters are legible: their strokes mostly keep apart instead
        # of piling up.  Draft a few candidate strokes and keep the one that
        # stays clearest of the ink already there.
        ink = pen_path(strokes)
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
