"""Rank agreement: statistics equal scipy, permutation p-values equal brute-force enumeration, ground-truth noise
enters through replicates, and tiny or constant inputs give NaN rather than errors."""

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from benchmark.estimators import rank_agreement as ra
from benchmark.estimators.rank_agreement import (
    against_fixed,
    against_replicates,
    kendall_tau,
    null_distributions,
    percentile_interval,
    permutation_p_value,
    task_agreement,
    weighted_tau,
)

TRUE = np.array([0.91, 0.85, 0.72, 0.64, 0.55, 0.41, 0.33, 0.20])
SCIPY = {"kendall_tau": stats.kendalltau, "weighted_tau": stats.weightedtau}


def _brute_force_p(pred: np.ndarray, true: np.ndarray, name: str) -> float:
    """Share of all n! orderings of pred whose scipy statistic reaches the observed one."""
    observed = SCIPY[name](pred, true).statistic
    values = [SCIPY[name](pred[list(order)], true).statistic for order in itertools.permutations(range(pred.size))]
    return float(np.mean(np.asarray(values) >= observed - 1e-12))


@pytest.mark.parametrize("stat", [kendall_tau, weighted_tau])
def test_identical_order_is_one_and_reversed_is_minus_one(stat):
    assert stat(np.exp(TRUE), TRUE) == pytest.approx(1.0)
    assert stat(-TRUE, TRUE) == pytest.approx(-1.0)


@pytest.mark.parametrize(("stat", "reference"), [(kendall_tau, stats.kendalltau), (weighted_tau, stats.weightedtau)])
def test_statistics_equal_scipy_with_and_without_ties(stat, reference):
    rng = np.random.default_rng(0)
    checked = 0
    for _ in range(300):
        n = int(rng.integers(3, 15))
        pred = rng.integers(0, int(rng.integers(2, 6)), n).astype(float)
        true = rng.standard_normal(n) if rng.random() < 0.5 else rng.integers(0, 3, n).astype(float)
        if rng.random() < 0.3:
            pred, true = true, pred  # ties on the other side, too
        if np.ptp(pred) == 0 or np.ptp(true) == 0:
            continue
        assert stat(pred, true) == pytest.approx(reference(pred, true).statistic, abs=1e-12)
        checked += 1
    assert checked > 200


def test_rows_against_a_fixed_vector_equal_scipy_row_by_row():
    rng = np.random.default_rng(1)
    fixed = np.round(rng.standard_normal(9), 1)
    rows = rng.integers(0, 4, (50, 9)).astype(float)
    values = against_fixed(rows, fixed)
    for row, kendall, weighted in zip(rows, values["kendall_tau"], values["weighted_tau"], strict=True):
        if np.ptp(row) == 0:
            assert math.isnan(kendall) and math.isnan(weighted)
            continue
        assert kendall == pytest.approx(stats.kendalltau(row, fixed).statistic, abs=1e-12)
        assert weighted == pytest.approx(stats.weightedtau(row, fixed).statistic, abs=1e-12)


def test_weighted_tau_penalises_errors_at_the_top_more():
    swap_top = TRUE.copy()
    swap_top[[0, 1]] = swap_top[[1, 0]]
    swap_bottom = TRUE.copy()
    swap_bottom[[-1, -2]] = swap_bottom[[-2, -1]]
    assert kendall_tau(swap_top, TRUE) == pytest.approx(kendall_tau(swap_bottom, TRUE))
    assert weighted_tau(swap_top, TRUE) < weighted_tau(swap_bottom, TRUE)


def test_three_models_in_perfect_order_are_one_chance_in_six():
    agreement = task_agreement({"a": 3.0, "b": 2.0, "c": 1.0}, {"a": 0.9, "b": 0.8, "c": 0.7})
    assert agreement.kendall_tau == pytest.approx(1.0) and agreement.weighted_tau == pytest.approx(1.0)
    assert agreement.kendall_p == pytest.approx(1 / 6) and agreement.weighted_p == pytest.approx(1 / 6)
    assert agreement.exact and agreement.weighted_null.size == 6


@pytest.mark.parametrize("name", ["kendall_tau", "weighted_tau"])
def test_exact_p_values_equal_brute_force_enumeration_with_scipy(name):
    rng = np.random.default_rng(2)
    for n in (3, 4, 5, 6):
        for _ in range(4):
            pred = rng.integers(0, 3, n).astype(float) if rng.random() < 0.5 else rng.standard_normal(n)
            true = rng.standard_normal(n) if rng.random() < 0.5 else rng.integers(0, 3, n).astype(float)
            if np.ptp(pred) == 0 or np.ptp(true) == 0:
                continue
            assert permutation_p_value(pred, true, name) == pytest.approx(_brute_force_p(pred, true, name), abs=1e-12)


def test_monte_carlo_p_value_beyond_the_exact_limit_is_close_to_enumeration(monkeypatch):
    rng = np.random.default_rng(3)
    true = rng.standard_normal(7)
    pred = true + rng.standard_normal(7)
    exact = permutation_p_value(pred, true, "weighted_tau")
    monkeypatch.setattr(ra, "MAX_EXACT_ITEMS", 6)
    null = null_distributions(pred, true, seed=5)["weighted_tau"]
    assert not null.exact and null.values.size == ra.MONTE_CARLO_PERMUTATIONS
    monte_carlo = null.p_value(weighted_tau(pred, true))
    assert monte_carlo == pytest.approx(exact, abs=4 * math.sqrt(exact * (1 - exact) / null.values.size) + 1e-3)
    assert monte_carlo >= 1 / (1 + null.values.size)  # never zero


def test_ground_truth_noise_widens_the_interval_and_the_truth_agrees_with_itself_less_than_perfectly():
    models = ["a", "b", "c", "d", "e"]
    true = dict(zip(models, [0.90, 0.88, 0.70, 0.69, 0.50], strict=True))
    pred = dict(zip(models, [5.0, 4.0, 3.0, 2.0, 1.0], strict=True))
    rng = np.random.default_rng(4)
    quiet = {m: true[m] + rng.normal(0, 1e-4, 400) for m in models}
    noisy = {m: true[m] + rng.normal(0, 0.03, 400) for m in models}
    precise, uncertain = task_agreement(pred, true, quiet), task_agreement(pred, true, noisy)
    assert precise.weighted_noise == pytest.approx((1.0, 1.0))
    low, high = uncertain.weighted_noise
    assert low < 0.9 and high == pytest.approx(1.0)
    assert uncertain.weighted_tau == precise.weighted_tau == pytest.approx(1.0)
    replicates = np.stack([noisy[m] for m in models], axis=1)
    self_agreement = against_replicates(np.array([true[m] for m in models]), replicates)["weighted_tau"]
    assert np.median(self_agreement) < 1.0


@pytest.mark.parametrize("n", [0, 1, 2])
def test_too_few_items_give_nan_not_an_error(n):
    pred, true = dict(zip("abc", TRUE[:n], strict=False)), dict(zip("abc", TRUE[:n], strict=False))
    agreement = task_agreement(pred, true)
    assert agreement.n == n and not agreement.defined
    if n < 2:
        assert math.isnan(agreement.kendall_tau) and math.isnan(agreement.weighted_p)
        assert math.isnan(kendall_tau(TRUE[:n], TRUE[:n])) and math.isnan(weighted_tau(TRUE[:n], TRUE[:n]))


def test_constant_scores_give_nan_tau_and_p():
    assert math.isnan(kendall_tau(np.ones(5), TRUE[:5]))
    assert math.isnan(weighted_tau(TRUE[:5], np.ones(5)))
    assert math.isnan(permutation_p_value(np.ones(5), TRUE[:5], "kendall_tau"))
    agreement = task_agreement(dict(zip("abcde", np.ones(5), strict=True)), dict(zip("abcde", TRUE, strict=False)))
    assert agreement.n == 5 and not agreement.defined


def test_agreement_uses_models_scored_finitely_on_both_sides():
    pred = {"m1": 3.0, "m2": 2.0, "m3": 1.0, "m4": 0.5, "only_pred": 9.0, "nan_true": 1.0}
    true = {"m1": 0.9, "m2": 0.8, "m3": 0.7, "m4": 0.6, "only_true": 0.1, "nan_true": float("nan")}
    agreement = task_agreement(pred, true)
    assert agreement.models == ("m1", "m2", "m3", "m4")
    assert agreement.kendall_p == pytest.approx(1 / 24)


def test_infinite_scores_rank_like_any_other():
    pred, true = np.array([np.inf, 1.0, -np.inf, 0.5]), np.array([0.9, 0.2, 0.1, 0.4])
    assert kendall_tau(pred, true) == pytest.approx(stats.kendalltau(pred, true).statistic)
    assert weighted_tau(pred, true) == pytest.approx(stats.weightedtau(pred, true).statistic)


def test_percentile_interval_ignores_nan_and_is_nan_when_empty():
    assert percentile_interval(np.array([np.nan, 1.0, 1.0])) == (1.0, 1.0)
    assert all(math.isnan(v) for v in percentile_interval(np.array([np.nan])))
