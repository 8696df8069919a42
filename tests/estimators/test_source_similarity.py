"""Source similarity against gain: Spearman equals scipy, permutation p-values equal brute-force enumeration (pooled
and stratified within targets), gain noise enters through replicates, and the four-part Welch interval reduces to
`welch_difference` when the scratch sides do not vary."""

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from benchmark.estimators import source_similarity as ss
from benchmark.estimators.resampling import welch_difference
from benchmark.estimators.source_similarity import (
    pooled_correlation,
    spearman,
    spearman_rows,
    welch_gain_difference,
    within_target_correlation,
)

DISTANCE = np.array([0.1, 0.4, 0.2, 0.9, 0.6, 0.3])
MIXED_GAIN = np.array([0.05, 0.20, 0.10, 0.01, 0.15, 0.12])


def _brute_force(similarity, gain):
    """Spearman of every ordering of the gains against the similarity (scipy)."""
    return np.array(
        [stats.spearmanr(similarity, gain[list(o)]).statistic for o in itertools.permutations(range(len(gain)))]
    )


def test_spearman_equals_scipy_with_ties():
    x, y = np.array([1.0, 2.0, 2.0, 3.0, 5.0, 4.0]), np.array([0.3, 0.1, 0.4, 0.4, 0.9, 0.2])
    assert spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic)
    rows = np.stack([y, y[::-1], np.exp(y)])
    assert spearman_rows(x, rows) == pytest.approx([stats.spearmanr(x, r).statistic for r in rows])
    assert math.isnan(spearman([1.0, 1.0, 1.0], [1.0, 2.0, 3.0])) and math.isnan(spearman([1.0], [2.0]))


def test_monotone_gain_is_rho_one_with_the_smallest_exact_p():
    gain = 0.5 - 0.3 * DISTANCE  # strictly decreasing in distance: increasing in similarity
    result = pooled_correlation(-DISTANCE, gain)
    assert result.rho == pytest.approx(1.0) and result.exact and result.orderings == math.factorial(6)
    assert result.p_greater == pytest.approx(1 / 720) == pytest.approx(result.smallest_p)
    assert result.p_two_sided == pytest.approx(2 / 720)
    assert pooled_correlation(DISTANCE, gain).rho == pytest.approx(-1.0)  # against distance: -1


def test_pooled_p_values_equal_brute_force():
    result = pooled_correlation(-DISTANCE, MIXED_GAIN)
    null = _brute_force(-DISTANCE, MIXED_GAIN)
    assert result.rho == pytest.approx(stats.spearmanr(-DISTANCE, MIXED_GAIN).statistic)
    assert result.p_greater == pytest.approx(np.mean(null >= result.rho - 1e-12))
    assert result.p_two_sided == pytest.approx(np.mean(np.abs(null) >= abs(result.rho) - 1e-12))


def test_three_pairs_can_never_reach_five_percent():
    result = pooled_correlation([3.0, 2.0, 1.0], [0.3, 0.2, 0.1])
    assert result.rho == pytest.approx(1.0) and result.smallest_p == pytest.approx(1 / 6)
    assert not pooled_correlation([1.0, 2.0], [1.0, 2.0]).defined  # fewer than MIN_PAIRS


def test_many_pairs_use_seeded_monte_carlo():
    rng = np.random.default_rng(0)
    similarity, gain = rng.normal(size=12), rng.normal(size=12)
    first, again = pooled_correlation(similarity, gain, seed=3), pooled_correlation(similarity, gain, seed=3)
    assert not first.exact and first.orderings == ss.MONTE_CARLO_PERMUTATIONS
    assert first.p_greater == again.p_greater and 0.0 < first.p_greater < 1.0
    perfect = pooled_correlation(similarity, similarity)
    assert perfect.p_greater == pytest.approx(1 / (1 + ss.MONTE_CARLO_PERMUTATIONS))


def test_within_target_exact_p_equals_brute_force_over_both_targets():
    targets = ["a"] * 3 + ["b"] * 4 + ["c"] * 2  # c has too few pairs: left out
    similarity = np.array([1.0, 2.0, 3.0, 0.5, 0.1, 0.9, 0.3, 1.0, 2.0])
    gain = np.array([0.1, 0.3, 0.2, 0.4, 0.1, 0.3, 0.35, 0.9, 0.1])
    result = within_target_correlation(similarity, gain, targets)
    rho_a, rho_b = spearman(similarity[:3], gain[:3]), spearman(similarity[3:7], gain[3:7])
    assert result.used == ("a", "b") and result.sizes == {"a": 3, "b": 4, "c": 2}
    assert math.isnan(result.per_target["c"])
    c = result.correlation
    assert c.rho == pytest.approx((rho_a + rho_b) / 2) and c.n == 7 and c.exact and c.orderings == 6 * 24
    null = np.add.outer(_brute_force(similarity[:3], gain[:3]), _brute_force(similarity[3:7], gain[3:7])).ravel() / 2
    assert c.p_greater == pytest.approx(np.mean(null >= c.rho - 1e-12))
    assert c.p_two_sided == pytest.approx(np.mean(np.abs(null) >= abs(c.rho) - 1e-12))


def test_within_target_ignores_scales_that_pooling_turns_into_a_correlation():
    # Target "far" is far from every source and gains little; "near" the opposite. Within each target the most
    # similar source gains *least*, yet pooling over both reads as "similar sources gain more".
    distance = np.array([1.0, 1.1, 1.2, 1.3, 0.1, 0.2, 0.3, 0.4])
    gain = np.array([0.04, 0.05, 0.06, 0.07, 0.30, 0.31, 0.32, 0.33])
    targets = ["far"] * 4 + ["near"] * 4
    assert pooled_correlation(-distance, gain).rho > 0.5
    within = within_target_correlation(-distance, gain, targets).correlation
    assert within.rho == pytest.approx(-1.0) and within.p_greater == pytest.approx(1.0)
    assert within.p_two_sided == pytest.approx(2 / 24**2)


def test_within_target_beyond_the_exact_limit_is_monte_carlo():
    targets = ["a"] * 5 + ["b"] * 5  # 120 * 120 = 14,400 orderings: exact; add a third target to exceed
    targets += ["c"] * 5
    rng = np.random.default_rng(1)
    similarity, gain = rng.normal(size=15), rng.normal(size=15)
    c = within_target_correlation(similarity, gain, targets, seed=2).correlation
    assert not c.exact and c.orderings == ss.MONTE_CARLO_PERMUTATIONS and 0 < c.p_greater < 1


def test_noise_interval_comes_from_the_gain_replicates():
    gain = 0.5 - 0.3 * DISTANCE
    still = pooled_correlation(-DISTANCE, gain, np.tile(gain, (50, 1)))
    assert still.noise == pytest.approx((1.0, 1.0))
    rng = np.random.default_rng(0)
    noisy = gain + rng.normal(scale=0.2, size=(400, DISTANCE.size))
    low, high = pooled_correlation(-DISTANCE, gain, noisy).noise
    assert -1.0 <= low < 0.9 and low < high <= 1.0
    targets = ["a"] * 3 + ["b"] * 3
    within = within_target_correlation(-DISTANCE, gain, targets, noisy).correlation
    assert within.noise[0] < within.noise[1] <= 1.0


def test_welch_gain_difference_reduces_to_welch_when_scratch_does_not_vary():
    a, b = [0.80, 0.82, 0.85], [0.70, 0.74, 0.71]
    four = welch_gain_difference(a, [0.5, 0.5, 0.5], b, [0.4, 0.4, 0.4])
    two = welch_difference(a, b)
    assert four.estimate == pytest.approx(two.estimate - 0.1)
    assert (four.low, four.high) == pytest.approx((two.low - 0.1, two.high - 0.1))
    assert welch_gain_difference(a, [0.5], b, [0.4, 0.4]).separable is None
    noisy = welch_gain_difference(a, [0.3, 0.6, 0.45], b, [0.4, 0.41, 0.39])
    assert noisy.high - noisy.low > two.high - two.low


def test_controls_are_sources_named_with_the_control_prefix():
    assert ss.is_control("ctl_printed_digits_shuffled") and not ss.is_control("src_printed_digits")
    assert not ss.is_control(None)


def test_leaving_one_target_out_recomputes_the_mean_of_the_others():
    similarity = np.tile([1.0, 2.0, 3.0, 4.0], 3)
    gain = np.concatenate([[1.0, 2.0, 3.0, 4.0], [4.0, 3.0, 2.0, 1.0], [1.0, 2.0, 3.0, 4.0]])
    targets = ["a"] * 4 + ["b"] * 4 + ["c"] * 4
    found = ss.leave_one_target_out(similarity, gain, targets)
    assert {t: round(c.rho, 6) for t, c in found.items()} == {"a": 0.0, "b": 1.0, "c": 0.0}
    assert found["b"].n == 8 and found["b"].exact and found["b"].p_greater == pytest.approx(1 / 24**2)
    assert ss.leave_one_target_out(similarity[:4], gain[:4], targets[:4]) == {}
