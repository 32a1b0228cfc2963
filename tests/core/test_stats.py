"""The statistics (core.stats) on hand-made per-episode results and textbook values."""
import math

import pytest
import torch

import core
from core import stats


def test_ci_and_win_rates_on_hand_made_per_episode_results():
    a = [0.8, 0.9, 1.0, 0.7]
    mean, ci = stats.mean_ci95(a)
    assert mean == pytest.approx(0.85)
    assert ci == pytest.approx(1.96 * math.sqrt(0.05 / 3) / 2)  # sd = √(Σ(x−x̄)²/(M−1)) = √(0.05/3)
    b = [0.8, 1.0, 0.9, 0.7]  # a: tie, loss, win, tie
    assert stats.win_rate(a, b) == pytest.approx((0.5 + 0 + 1 + 0.5) / 4)
    assert stats.win_rate(b, a) == pytest.approx(0.5)
    c = [0.5, 0.5, 0.5, 0.5]
    pw = stats.pairwise({"a": a, "b": b, "c": c})
    assert pw.names == ["a", "b", "c"] and pw.episodes == 4
    assert pw.win[0][2] == 1.0 and pw.win[2][0] == 0.0 and pw.win[0][0] is None
    for i in range(3):
        for j in range(3):
            if i != j:
                assert pw.win[i][j] + pw.win[j][i] == pytest.approx(1.0)
                assert pw.p_value[i][j] == pw.p_value[j][i]
    # a vs c: 4 positive differences (ranks 1.5, 1.5, 3, 4 by mid-rank): exact two-sided p = 2/16
    assert pw.p_value[0][2] == pytest.approx(2 / 16) and pw.method[0][2] == "exact"
    with pytest.raises(ValueError, match="different numbers"):
        stats.pairwise({"a": a, "b": b[:3]})


def test_wilcoxon_signed_rank_matches_known_values():
    # Darwin's Zea mays differences (Fisher 1935), the textbook example: W− = 24, exact p = 0.041259765625
    d = [6, 8, 14, 16, 23, 24, 28, 29, 41, -48, 49, 56, 60, -67, 75]
    w = stats.wilcoxon_signed_rank(d, [0] * len(d))
    assert (w.w_plus, w.w_minus, w.n, w.method) == (96, 24, 15, "exact")
    assert w.p_value == pytest.approx(0.041259765625, abs=1e-12)
    assert type(w.p_value) is float  # a plain float: the matrix CSV writes repr(p), and repr(np.float64(p)) is not a number
    assert stats.wilcoxon_signed_rank([0] * len(d), d).p_value == pytest.approx(w.p_value)  # two-sided: symmetric
    assert stats.wilcoxon_signed_rank([1, 2, 3, 4, 5], [0] * 5).p_value == pytest.approx(2 / 32)
    same = stats.wilcoxon_signed_rank([0.5, 1.0], [0.5, 1.0])
    assert same.p_value == 1.0 and same.n == 0
    # Zero differences are dropped: adding ties changes nothing.
    assert stats.wilcoxon_signed_rank([1, 2, 3, 4, 5, 7, 7], [0, 0, 0, 0, 0, 7, 7]).p_value == pytest.approx(2 / 32)
    # With many tied magnitudes (accuracies move in steps of 1/Q) the normal approximation agrees with the exact law.
    g = torch.Generator().manual_seed(0)
    a = (torch.randint(10, 16, (60,), generator=g) / 15).tolist()
    b = (torch.randint(9, 16, (60,), generator=g) / 15).tolist()
    exact = stats.wilcoxon_signed_rank(a, b, exact_max=1000)
    normal = stats.wilcoxon_signed_rank(a, b, exact_max=0)
    assert exact.method == "exact" and normal.method == "normal"
    assert 0.0 < exact.p_value < 1.0 and abs(exact.p_value - normal.p_value) < 0.01


def test_holm_adjustment():
    assert stats.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert stats.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert stats.holm([]) == []


def test_mean_ci95_of_no_and_one_episode_and_the_public_names():
    mean, ci = stats.mean_ci95([])
    assert math.isnan(mean) and math.isnan(ci)
    assert stats.mean_ci95([0.25]) == (0.25, 0.0)
    # core's public API and the modules that used to hold them give the same functions
    assert core.mean_ci95 is stats.mean_ci95 and core.pairwise is stats.pairwise and core.Pairwise is stats.Pairwise


def test_binned_averages_a_long_record_into_equal_bins_and_keeps_short_or_ragged_ones():
    record = {"step": list(range(1, 11)), "loss": [float(i) for i in range(10)], "val_step": [5, 10]}
    thin = stats.binned(record, 4, means=("loss",), lasts=("step",))
    assert thin["step"] == [2, 5, 8, 10]  # bins of 2, 3, 3, 2 consecutive steps, each named by its last
    assert thin["loss"] == [0.5, 3.0, 6.0, 8.5]
    assert thin["val_step"] == [5, 10]  # not named: kept
    assert stats.binned(record, 10, means=("loss",), lasts=("step",)) == record  # already short enough
    ragged = {**record, "loss": record["loss"][:-1]}
    assert stats.binned(ragged, 4, means=("loss",), lasts=("step",)) == ragged  # not one series: kept whole
