"""Resampling measured scores: metrics from weighted counts equal scikit-learn on the resampled lists, seed
bootstrap spread, paired differences, Welch's interval, and tiers."""

import math
import warnings

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

from benchmark.estimators import resampling
from benchmark.estimators.resampling import (
    Difference,
    bootstrap_difference,
    example_weights,
    mean_score_replicates,
    metric_replicates,
    metric_value,
    tiers,
    welch_difference,
)

SKLEARN = {
    "accuracy": accuracy_score,
    "f1_macro": lambda truth, guess: f1_score(truth, guess, average="macro", zero_division=0),
    "matthews_correlation": matthews_corrcoef,
}


@pytest.mark.parametrize("metric", sorted(SKLEARN))
def test_metric_on_each_example_resample_equals_sklearn_on_the_repeated_examples(metric):
    rng = np.random.default_rng(0)
    for _ in range(8):
        n, classes = int(rng.integers(5, 50)), int(rng.integers(2, 6))
        references = rng.integers(0, classes, n)
        predicted = np.where(rng.random(n) < 0.6, references, rng.integers(0, classes, n))
        weights = example_weights(n, 12, seed=int(rng.integers(1 << 30)))
        values = metric_replicates(metric, predicted, references, weights)
        assert values.shape == (12,)
        for row, value in zip(weights.astype(int), values, strict=True):
            drawn = np.repeat(np.arange(n), row)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # sklearn warns on a single-class resample
                expected = SKLEARN[metric](references[drawn], predicted[drawn])
            assert value == pytest.approx(expected, abs=1e-12)
        assert metric_value(metric, predicted, references) == pytest.approx(SKLEARN[metric](references, predicted))


@pytest.mark.parametrize("metric", sorted(SKLEARN))
def test_many_seeds_at_once_in_small_chunks_equal_one_seed_at_a_time(metric, monkeypatch):
    rng = np.random.default_rng(5)
    references = rng.integers(0, 5, 60)
    predicted = np.where(rng.random((7, 60)) < 0.5, references, rng.integers(0, 5, (7, 60)))
    weights = example_weights(60, 9, seed=6)
    monkeypatch.setattr(resampling, "ONE_HOT_ELEMENTS", 2 * 5 * 60)  # two seeds per product
    together = resampling.seed_metric_replicates(metric, predicted, references, weights)
    assert together.shape == (7, 9)
    for row, seed_predictions in zip(together, predicted, strict=True):
        assert np.array_equal(row, metric_replicates(metric, seed_predictions, references, weights))


def test_unknown_metric_has_no_replicates():
    assert metric_replicates("evaluate:bleu", [0, 1], [0, 1], np.ones((2, 2))) is None
    assert metric_value("evaluate:bleu", [0, 1], [0, 1]) is None


def test_example_weights_are_resamples_of_the_whole_test_set():
    weights = example_weights(40, 300, seed=1)
    assert weights.shape == (300, 40) and np.all(weights.sum(axis=1) == 40)
    assert np.array_equal(weights, example_weights(40, 300, seed=1))
    assert weights.mean() == pytest.approx(1.0, abs=0.02)


def test_seed_bootstrap_spread_matches_the_standard_error_of_the_mean():
    scores = np.array([0.70, 0.74, 0.78])
    replicates = mean_score_replicates(scores[:, None], 20000, seed=2)
    assert replicates.mean() == pytest.approx(scores.mean(), abs=1e-3)
    assert replicates.std() == pytest.approx(scores.std(ddof=1) / math.sqrt(3), rel=0.03)
    assert np.all(mean_score_replicates(np.array([[0.5]]), 10, seed=0) == 0.5)  # one seed, no predictions: no spread


def test_paired_bootstrap_difference_separates_only_what_exceeds_the_spread():
    rng = np.random.default_rng(3)
    shared = rng.normal(0, 0.02, 2000)  # example resampling moves both models alike
    clear = bootstrap_difference(0.05, 0.80 + shared, 0.75 + shared + rng.normal(0, 0.005, 2000), "paired")
    unclear = bootstrap_difference(0.005, 0.80 + rng.normal(0, 0.02, 2000), 0.795 + rng.normal(0, 0.02, 2000), "x")
    assert clear.separable is True and clear.low > 0 and clear.method == "paired"
    assert unclear.separable is False and unclear.low < 0 < unclear.high


def test_welch_difference_equals_scipy_and_needs_two_seeds_a_side():
    a, b = [0.80, 0.82, 0.81], [0.70, 0.75, 0.72, 0.71]
    difference = welch_difference(a, b)
    t, p = stats.ttest_ind(a, b, equal_var=False)
    assert difference.estimate == pytest.approx(np.mean(a) - np.mean(b))
    assert difference.separable is True and (p < 0.05)
    result = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert (difference.low, difference.high) == pytest.approx((result.low, result.high))
    assert welch_difference([0.8], [0.7, 0.72]).separable is None
    assert welch_difference([0.7, 0.7], [0.7, 0.7]) == Difference(0.0, 0.0, 0.0, "Welch over seeds", False)


def test_tiers_start_at_the_first_item_separable_from_the_tier_leader():
    separable = {("a", "b"): False, ("a", "c"): True, ("c", "d"): False, ("c", "e"): None}
    assert tiers(list("abcde"), lambda x, y: separable.get((x, y))) == {"a": 1, "b": 1, "c": 2, "d": 2, "e": 2}
    assert tiers(["only"], lambda x, y: True) == {"only": 1}
