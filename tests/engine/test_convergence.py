"""A validation curve has flattened when its last quarter improved on the best before it by at most the larger of
0.01 and one validation example."""

from __future__ import annotations

from benchmark.engine.records import convergence


def _curve(scores: list[float]) -> list[dict]:
    return [{"step": 8 * (i + 1), "score": score} for i, score in enumerate(scores)]


def test_a_gain_of_exactly_one_validation_example_is_within_the_tolerance():
    # 75 validation examples: 34/75 before, 35/75 in the last quarter; 35/75 - 34/75 exceeds 1/75 in floats
    early, late = 34 / 75, 35 / 75
    assert late - early > 1 / 75
    assert convergence(_curve([0.2, 0.3, 0.4, early, early, early, late]), 75).flattened


def test_a_gain_of_two_examples_is_not():
    assert not convergence(_curve([0.2, 0.3, 0.4, 34 / 75, 34 / 75, 34 / 75, 36 / 75]), 75).flattened


def test_a_curve_whose_late_points_are_below_its_best_has_flattened():
    result = convergence(_curve([0.2, 0.5, 0.6, 0.6, 0.55, 0.58, 0.57]), 100)
    assert result.flattened and result.late_gain < 0
