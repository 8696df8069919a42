"""Rank agreement: exact values on orderings, bootstrap intervals, NaN instead of errors on tiny inputs."""

import math

import numpy as np
import pytest
from scipy import stats

from benchmark.estimators import rank_agreement as rank_agreement_module
from benchmark.estimators.rank_agreement import (
    STATISTICS,
    PairTables,
    bootstrap_ci,
    kendall_tau,
    rank_agreement,
    resample_counts,
    weighted_tau,
)

TRUE = np.array([0.91, 0.85, 0.72, 0.64, 0.55, 0.41, 0.33, 0.20])


@pytest.mark.parametrize("stat", [kendall_tau, weighted_tau])
def test_identical_order_is_one_and_reversed_is_minus_one(stat):
    assert stat(np.exp(TRUE), TRUE) == pytest.approx(1.0)
    assert stat(-TRUE, TRUE) == pytest.approx(-1.0)


@pytest.mark.parametrize(("stat", "reference"), [(kendall_tau, stats.kendalltau), (weighted_tau, stats.weightedtau)])
def test_statistics_equal_scipy_with_and_without_ties(stat, reference):
    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(3, 15))
        pred = rng.integers(0, int(rng.integers(2, 6)), n).astype(float)
        true = rng.standard_normal(n) if rng.random() < 0.5 else rng.integers(0, 3, n).astype(float)
        if np.ptp(pred) == 0 or np.ptp(true) == 0:
            continue
        assert stat(pred, true) == pytest.approx(reference(pred, true).statistic, abs=1e-12)


@pytest.mark.parametrize("name", sorted(STATISTICS))
def test_each_resample_from_draw_counts_equals_scipy_on_the_repeated_items(name):
    from_counts, reference = STATISTICS[name]
    rng = np.random.default_rng(1)
    for n in (3, 5, 9, 30):
        pred = rng.integers(0, 4, n).astype(float)  # ties between different items, too
        true = np.round(rng.standard_normal(n), 1)
        counts = resample_counts(n, 60, seed=n)
        values = from_counts(PairTables.of(pred, true), counts)
        for row, value in zip(counts.astype(int), values, strict=True):
            p, t = np.repeat(pred, row), np.repeat(true, row)
            if np.ptp(p) == 0 or np.ptp(t) == 0:
                assert math.isnan(value)
            else:
                assert value == pytest.approx(reference(p, t).statistic, abs=1e-12)


def test_weighted_tau_penalises_errors_at_the_top_more():
    swap_top = TRUE.copy()
    swap_top[[0, 1]] = swap_top[[1, 0]]
    swap_bottom = TRUE.copy()
    swap_bottom[[-1, -2]] = swap_bottom[[-2, -1]]
    assert kendall_tau(swap_top, TRUE) == pytest.approx(kendall_tau(swap_bottom, TRUE))
    assert weighted_tau(swap_top, TRUE) < weighted_tau(swap_bottom, TRUE)


@pytest.mark.parametrize(("name", "stat"), [("kendall_tau", kendall_tau), ("weighted_tau", weighted_tau)])
def test_bootstrap_interval_brackets_the_point_estimate(name, stat):
    rng = np.random.default_rng(0)
    true = rng.standard_normal(30)
    pred = true + rng.standard_normal(30)
    low, high = bootstrap_ci(pred, true, name, n_boot=500)
    assert -1.0 <= low < stat(pred, true) < high <= 1.0


def test_bootstrap_interval_of_perfect_agreement_is_degenerate():
    assert bootstrap_ci(TRUE, TRUE, "kendall_tau", n_boot=200) == pytest.approx((1.0, 1.0))


def test_bootstrap_is_reproducible_by_seed():
    rng = np.random.default_rng(1)
    pred, true = rng.standard_normal(12), rng.standard_normal(12)
    first = bootstrap_ci(pred, true, "kendall_tau", n_boot=200, seed=3)
    assert first == bootstrap_ci(pred, true, "kendall_tau", n_boot=200, seed=3)
    assert first != bootstrap_ci(pred, true, "kendall_tau", n_boot=200, seed=4)


@pytest.mark.parametrize("n", [0, 1, 2])
def test_too_few_items_give_nan_not_an_error(n):
    pred, true = TRUE[:n], TRUE[:n]
    assert all(math.isnan(v) for v in bootstrap_ci(pred, true, "kendall_tau"))
    result = rank_agreement(dict(zip("abc", pred, strict=False)), dict(zip("abc", true, strict=False)))
    assert result["n"] == n
    assert all(math.isnan(result[k]) for k in ("kendall_tau_low", "kendall_tau_high", "weighted_tau_low"))
    if n < 2:
        assert math.isnan(kendall_tau(pred, true)) and math.isnan(weighted_tau(pred, true))


def test_constant_scores_give_nan():
    assert math.isnan(kendall_tau(np.ones(5), TRUE[:5]))
    assert math.isnan(weighted_tau(TRUE[:5], np.ones(5)))


def test_rank_agreement_uses_models_scored_on_both_sides():
    pred = {"m1": 3.0, "m2": 2.0, "m3": 1.0, "m4": 0.5, "only_pred": 9.0, "nan_true": 1.0}
    true = {"m1": 0.9, "m2": 0.8, "m3": 0.7, "m4": 0.6, "only_true": 0.1, "nan_true": float("nan")}
    result = rank_agreement(pred, true, n_boot=200)
    assert result["n"] == 4
    assert result["kendall_tau"] == pytest.approx(1.0) and result["weighted_tau"] == pytest.approx(1.0)
    assert result["kendall_tau_low"] <= result["kendall_tau"] <= result["kendall_tau_high"]


def test_many_items_go_to_scipy_resample_by_resample_with_the_same_intervals(monkeypatch):
    rng = np.random.default_rng(5)
    true = rng.standard_normal(12)
    pred = np.round(true + rng.standard_normal(12), 1)
    from_tables = rank_agreement(dict(enumerate(pred)), dict(enumerate(true)), n_boot=100)
    monkeypatch.setattr(rank_agreement_module, "MAX_TABLE_ITEMS", 5)
    from_scipy = rank_agreement(dict(enumerate(pred)), dict(enumerate(true)), n_boot=100)
    assert from_scipy == pytest.approx(from_tables, abs=1e-12)


def test_infinite_scores_rank_like_any_other_and_no_resamples_give_no_interval():
    pred, true = np.array([np.inf, 1.0, -np.inf, 0.5]), np.array([0.9, 0.2, 0.1, 0.4])
    assert kendall_tau(pred, true) == pytest.approx(stats.kendalltau(pred, true).statistic)
    assert weighted_tau(pred, true) == pytest.approx(stats.weightedtau(pred, true).statistic)
    assert all(math.isnan(v) for v in bootstrap_ci(pred, true, "weighted_tau", n_boot=0))
