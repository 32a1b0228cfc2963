"""The statistics of the project's numbers, pure Python (no scipy), tested on hand-made results.

- accuracy: mean ± 95% CI = 1.96·sd/√M over M episodes (`mean_ci95`, everywhere in the project);
- win rate of A over B: the share of paired episodes on which A's accuracy is higher than B's,
  ties counting one half to each (so W[A][B] + W[B][A] = 1);
- significance: the two-sided Wilcoxon signed-rank test on paired per-episode accuracies
  (`wilcoxon_signed_rank`: zero differences dropped, mid-ranks for tied magnitudes; the exact null
  distribution up to 50 non-zero pairs, the normal approximation with tie and continuity
  correction above), Holm-corrected over all pairs (`holm`), α = 0.05;
- `pairwise`: all of that for every pair of algorithms with results on the same episodes;
- `binned`: a long per-step record (a training curve) averaged into a few equal bins.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

ALPHA = 0.05
EXACT_MAX_PAIRS = 50  # up to this many non-zero differences the Wilcoxon p-value is exact
TEST_DESCRIPTION = ("two-sided Wilcoxon signed-rank test on the paired per-episode accuracies (zero differences dropped, "
                    f"mid-ranks for ties; exact up to {EXACT_MAX_PAIRS} non-zero pairs, normal approximation with tie and "
                    f"continuity correction above), Holm-corrected over all pairs, α = {ALPHA}")
TIE_EPS = 1e-9  # per-episode accuracies closer than this are a tie


def mean_ci95(values: list[float]) -> tuple[float, float]:
    m = len(values)
    if m == 0:
        return float("nan"), float("nan")
    mean = sum(values) / m
    if m == 1:
        return mean, 0.0
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (m - 1))
    return mean, 1.96 * sd / math.sqrt(m)


class EpisodeAccuracies:
    """What a result with per-episode accuracies (`per_episode`) and a `status` reads of them: a
    comparison's algorithm, a sweep's point."""

    per_episode: list[float]
    status: str

    @property
    def mean(self) -> float:
        return mean_ci95(self.per_episode)[0]

    @property
    def ci95(self) -> float:
        return mean_ci95(self.per_episode)[1]

    @property
    def finished(self) -> bool:
        return self.status == "done"


def win_rate(a: list[float], b: list[float]) -> float:
    """Share of paired episodes on which a beats b, ties counting one half."""
    if len(a) != len(b):
        raise ValueError(f"paired results must have the same length ({len(a)} vs {len(b)})")
    if not a:
        return float("nan")
    score = sum(1.0 if x > y + TIE_EPS else 0.5 if abs(x - y) <= TIE_EPS else 0.0 for x, y in zip(a, b))
    return score / len(a)


def _midranks(values: list[float]) -> list[float]:
    """1-based ranks of `values`, tied values sharing the mean of their ranks."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and abs(values[order[j + 1]] - values[order[i]]) <= TIE_EPS:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


@dataclass
class WilcoxonResult:
    w_plus: float  # sum of the ranks of the positive differences (a > b)
    w_minus: float
    n: int  # non-zero differences
    p_value: float  # two-sided
    method: str  # "exact" | "normal" | "none" (no non-zero difference: p = 1)


def wilcoxon_signed_rank(a: list[float], b: list[float], exact_max: int = EXACT_MAX_PAIRS) -> WilcoxonResult:
    """Two-sided Wilcoxon signed-rank test of paired samples a, b (H0: the differences are
    symmetric about 0). Zero differences are dropped (Wilcoxon's convention); tied magnitudes get
    mid-ranks. Exact: under H0 each rank's sign is + or − with probability ½, so the distribution
    of W+ is that of a sum of a random subset of the ranks — counted by dynamic programming over
    doubled (integral) ranks, which stays exact with ties. Normal: mean n(n+1)/4, variance
    n(n+1)(2n+1)/24 − Σ(t³ − t)/48 over tie groups of size t, continuity correction ½."""
    if len(a) != len(b):
        raise ValueError(f"paired results must have the same length ({len(a)} vs {len(b)})")
    d = [x - y for x, y in zip(a, b) if abs(x - y) > TIE_EPS]
    n = len(d)
    if n == 0:
        return WilcoxonResult(0.0, 0.0, 0, 1.0, "none")
    ranks = _midranks([abs(v) for v in d])
    w_plus = sum(r for r, v in zip(ranks, d) if v > 0)
    w_minus = n * (n + 1) / 2 - w_plus
    if n <= exact_max:
        doubled = [int(round(2 * r)) for r in ranks]
        total = sum(doubled)
        counts = np.zeros(total + 1, dtype=np.float64)  # counts ≤ 2^50 < 2^53: exact in float64
        counts[0] = 1.0
        for r in doubled:
            counts[r:] = counts[r:] + counts[: total + 1 - r].copy()
        w2 = int(round(2 * w_plus))
        all_ = float(2 ** n)
        lower = counts[: w2 + 1].sum() / all_
        upper = counts[w2:].sum() / all_
        return WilcoxonResult(w_plus, w_minus, n, min(1.0, float(2 * min(lower, upper))), "exact")  # a float, not np.float64: it is written with repr()
    mean = n * (n + 1) / 4
    groups: dict[float, int] = {}
    for r in ranks:
        groups[r] = groups.get(r, 0) + 1
    var = n * (n + 1) * (2 * n + 1) / 24 - sum(t ** 3 - t for t in groups.values()) / 48
    if var <= 0:
        return WilcoxonResult(w_plus, w_minus, n, 1.0, "normal")
    dev = max(0.0, abs(w_plus - mean) - 0.5)
    z = dev / math.sqrt(var)
    return WilcoxonResult(w_plus, w_minus, n, min(1.0, math.erfc(z / math.sqrt(2))), "normal")


def holm(p_values: list[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values (step-down; monotone; capped at 1), in the input order."""
    m = len(p_values)
    order = sorted(range(m), key=p_values.__getitem__)
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


@dataclass
class Pairwise:
    """Every ordered pair (A, B) of algorithms with results on the same test episodes."""
    names: list[str]
    win: list[list[float | None]]  # win[i][j]: share of episodes names[i] beats names[j] (ties ½)
    p_value: list[list[float | None]]  # two-sided Wilcoxon, symmetric
    p_holm: list[list[float | None]]  # Holm-adjusted over the unordered pairs
    method: list[list[str | None]]
    episodes: int = 0
    test: str = TEST_DESCRIPTION

    def significant(self, i: int, j: int, alpha: float = ALPHA) -> bool:
        p = self.p_holm[i][j]
        return p is not None and p < alpha


def pairwise(per_episode: dict[str, list[float]]) -> Pairwise:
    """Win rates and Holm-corrected paired tests for every pair of `per_episode` results."""
    names = list(per_episode)
    n = len(names)
    lengths = {len(v) for v in per_episode.values()}
    if len(lengths) > 1:
        raise ValueError(f"results cover different numbers of test episodes ({sorted(lengths)}): not paired")
    win = [[None] * n for _ in range(n)]
    pv = [[None] * n for _ in range(n)]
    meth = [[None] * n for _ in range(n)]
    pairs = []
    for i in range(n):
        for j in range(i + 1, n):
            a, b = per_episode[names[i]], per_episode[names[j]]
            win[i][j] = win_rate(a, b)
            win[j][i] = win_rate(b, a)
            w = wilcoxon_signed_rank(a, b)
            pv[i][j] = pv[j][i] = w.p_value
            meth[i][j] = meth[j][i] = w.method
            pairs.append((i, j))
    adj = holm([pv[i][j] for i, j in pairs])
    ph = [[None] * n for _ in range(n)]
    for (i, j), p in zip(pairs, adj):
        ph[i][j] = ph[j][i] = p
    return Pairwise(names, win, pv, ph, meth, lengths.pop() if lengths else 0)


def binned(series: dict[str, list], points: int, means: tuple[str, ...], lasts: tuple[str, ...]) -> dict[str, list]:
    """`series` with its lists named in `means` and `lasts` (all of one length n) cut into
    `points` equal bins of consecutive entries: a `means` list keeps each bin's mean, a `lasts`
    list its last entry (a bin's step, episode count or time is where it ends). Other lists are
    kept as they are; so is everything when n <= points or the named lists differ in length (a
    record that is not one series is not averaged)."""
    out = {k: list(v) for k, v in series.items()}
    lengths = {len(series.get(k) or []) for k in (*means, *lasts)}
    n = lengths.pop() if len(lengths) == 1 else 0
    if n <= points:
        return out
    edges = [round(i * n / points) for i in range(points + 1)]
    for key in lasts:
        out[key] = [series[key][e - 1] for e in edges[1:]]
    for key in means:
        values = series[key]
        out[key] = [sum(values[s:e]) / (e - s) for s, e in zip(edges[:-1], edges[1:])]
    return out
