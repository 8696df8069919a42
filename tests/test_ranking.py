"""Rank agreement: exact values on orderings, bootstrap intervals, NaN instead of errors on tiny inputs."""

import math

import numpy as np
import pytest
from scipy import stats

from benchmark.ranking import PAIRWISE_MAX_ITEMS, bootstrap_ci, kendall_tau, rank_agreement, weighted_tau

TRUE = np.array([0.91, 0.85, 0.72, 0.64, 0.55, 0.41, 0.33, 0.20])


@pytest.mark.parametrize("stat", [kendall_tau, weighted_tau])
def test_identical_order_is_one_and_reversed_is_minus_one(stat):
    assert stat(np.exp(TRUE), TRUE) == pytest.approx(1.0)
    assert stat(-TRUE, TRUE) == pytest.approx(-1.0)


@pytest.mark.parametrize(("stat", "reference"), [(kendall_tau, stats.kendalltau), (weighted_tau, stats.weightedtau)])
@pytest.mark.parametrize("sizes", [(3, 12), (PAIRWISE_MAX_ITEMS - 2, PAIRWISE_MAX_ITEMS + 3)])
def test_statistics_equal_scipy_with_and_without_ties(stat, reference, sizes):
    rng = np.random.default_rng(0)
    for _ in range(100):
        n = int(rng.integers(*sizes))
        pred = rng.integers(0, int(rng.integers(2, 5)), n).astype(float)  # bootstrap resamples repeat items
        true = rng.standard_normal(n) if rng.random() < 0.5 else rng.integers(0, 3, n).astype(float)
        if np.ptp(pred) == 0 or np.ptp(true) == 0:
            continue
        assert stat(pred, true) == pytest.approx(reference(pred, true).statistic, abs=1e-12)


@pytest.mark.parametrize("stat", [kendall_tau, weighted_tau])
@pytest.mark.parametrize("n", [7, PAIRWISE_MAX_ITEMS + 1])
def test_a_batch_of_rows_gives_each_row_its_own_value(stat, n):
    rng = np.random.default_rng(2)
    pred, true = rng.integers(0, 4, (40, n)).astype(float), rng.integers(0, 4, (40, n)).astype(float)
    one_by_one = np.array([stat(p, t) for p, t in zip(pred, true, strict=True)])
    np.testing.assert_array_equal(stat(pred, true), one_by_one)


def test_weighted_tau_penalises_errors_at_the_top_more():
    swap_top = TRUE.copy()
    swap_top[[0, 1]] = swap_top[[1, 0]]
    swap_bottom = TRUE.copy()
    swap_bottom[[-1, -2]] = swap_bottom[[-2, -1]]
    assert kendall_tau(swap_top, TRUE) == pytest.approx(kendall_tau(swap_bottom, TRUE))
    assert weighted_tau(swap_top, TRUE) < weighted_tau(swap_bottom, TRUE)


@pytest.mark.parametrize("stat", [kendall_tau, weighted_tau])
def test_bootstrap_interval_brackets_the_point_estimate(stat):
    rng = np.random.default_rng(0)
    true = rng.standard_normal(30)
    pred = true + rng.standard_normal(30)
    low, high = bootstrap_ci(pred, true, stat, n_boot=500)
    assert -1.0 <= low < stat(pred, true) < high <= 1.0


def test_bootstrap_interval_of_perfect_agreement_is_degenerate():
    assert bootstrap_ci(TRUE, TRUE, kendall_tau, n_boot=200) == pytest.approx((1.0, 1.0))


def test_bootstrap_is_reproducible_by_seed():
    rng = np.random.default_rng(1)
    pred, true = rng.standard_normal(12), rng.standard_normal(12)
    first = bootstrap_ci(pred, true, kendall_tau, n_boot=200, seed=3)
    assert first == bootstrap_ci(pred, true, kendall_tau, n_boot=200, seed=3)
    assert first != bootstrap_ci(pred, true, kendall_tau, n_boot=200, seed=4)


@pytest.mark.parametrize("n", [0, 1, 2])
def test_too_few_items_give_nan_not_an_error(n):
    pred, true = TRUE[:n], TRUE[:n]
    assert all(math.isnan(v) for v in bootstrap_ci(pred, true, kendall_tau))
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
