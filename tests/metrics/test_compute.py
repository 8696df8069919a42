"""Built-in metrics load offline as local evaluate modules and give the textbook values."""

from __future__ import annotations

import pytest

from benchmark.metrics.compute import chance_level, compute_metrics, load_metric


def test_builtin_metrics_values():
    values = compute_metrics(["accuracy", "f1_macro", "matthews_correlation"], [0, 1, 1, 0], [0, 1, 0, 0])
    assert values["accuracy"] == pytest.approx(0.75)
    assert values["f1_macro"] == pytest.approx((0.8 + 2 / 3) / 2)
    assert values["matthews_correlation"] == pytest.approx(0.5773502691896258)


def test_chance_is_the_majority_class_predictor():
    chance = chance_level(["accuracy", "matthews_correlation"], [1, 1, 0], [0, 1, 1, 1])
    assert chance == {"accuracy": 0.75, "matthews_correlation": 0.0}


def test_unknown_metric_name_is_refused():
    with pytest.raises(ValueError, match="unknown metric"):
        load_metric("accuracyy")
