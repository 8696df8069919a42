"""Checks of a result record beyond its schema: numbers a real run cannot produce are refused before they are
published.

The schema accepts any float as a metric; a hand-edited or corrupted file with `accuracy: 7.5` would otherwise be
shown as 7.5000 with a gain of +7.19. Every reader of result files (`benchmark.results.store.read_result`) runs
`result_problems`, so the leaderboard refuses such a file by name, like a corrupt one, and a rerun treats the cell
as unfinished and repairs it; the suite runs the same check before it writes a file.

What is checked: the built-in metrics lie in their ranges (accuracy and macro F1 in [0, 1], Matthews correlation
in [-1, 1]) and are finite (a diverged cell's curve may end in NaN), wherever they are recorded (test and
validation metrics, both chance levels, every curve point); a finished cell has its main metric; its counts agree
with each other (the scored test examples are no fewer than the predictions and no more than the test split,
every label id within the classes, at least two classes). Metrics from other evaluate modules have no known
range and are only required to be finite.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping

from benchmark.results.schema import CellResult

METRIC_RANGES: dict[str, tuple[float, float]] = {
    "accuracy": (0.0, 1.0),
    "f1_macro": (0.0, 1.0),
    "matthews_correlation": (-1.0, 1.0),
}


def result_problems(result: CellResult) -> list[str]:
    """One `field 'x': why` line per impossible value of a result record; empty when it is plausible."""
    return [*_metric_problems(result), *_count_problems(result)]


def _metric_problems(result: CellResult) -> Iterator[str]:
    blocks: list[tuple[str, Mapping[str, float]]] = [
        ("metrics", result.metrics),
        ("validation_metrics", result.validation_metrics),
        ("chance", result.chance),
        ("validation_chance", result.validation_chance),
    ]
    for index, point in enumerate(result.curve):
        blocks.append((f"curve.{index}.metrics", point.metrics))
        blocks.append((f"curve.{index}", {"score": point.score}))
    for where, values in blocks:
        for name, value in values.items():
            metric = result.main_metric if name == "score" else name
            if _diverged_point(result, where, value):
                continue
            if problem := _value_problem(metric, value):
                yield f"field '{where}.{name}': {problem}"
    if result.status == "ok" and result.main_metric not in result.metrics:
        yield f"field 'metrics': a finished cell has no value for its main_metric {result.main_metric!r}"


def _diverged_point(result: CellResult, where: str, value: float) -> bool:
    """A non-finite curve value of a diverged cell is its finding (the evaluation where the loss blew up)."""
    return result.status == "diverged" and where.startswith("curve.") and not math.isfinite(value)


def _value_problem(metric: str, value: float) -> str | None:
    if value is None or not math.isfinite(value):
        return f"{value!r} is not a finite number"
    low, high = METRIC_RANGES.get(metric, (-math.inf, math.inf))
    if not low <= value <= high:
        return f"{value!r} is outside the range of {metric} [{low:g}, {high:g}]"
    return None


def _count_problems(result: CellResult) -> Iterator[str]:
    setup, predictions = result.setup, result.predictions
    if predictions is not None and len(predictions.predicted) != len(predictions.references):
        yield (
            f"field 'predictions': {len(predictions.predicted)} predictions for {len(predictions.references)} "
            "references"
        )
    if setup is None:
        return
    if setup.num_labels < 2:
        yield f"field 'setup.num_labels': {setup.num_labels} class(es); a classification task has at least two"
    if setup.num_test_scored > setup.num_test:
        yield f"field 'setup.num_test_scored': {setup.num_test_scored} scored of a test split of {setup.num_test}"
    for name in ("num_train", "num_validation", "num_test", "num_test_scored"):
        if getattr(setup, name) < 0:
            yield f"field 'setup.{name}': {getattr(setup, name)} is negative"
    if predictions is None:
        return
    if len(predictions.references) > setup.num_test_scored:
        yield (
            f"field 'predictions': {len(predictions.references)} test examples, more than setup.num_test_scored "
            f"({setup.num_test_scored})"
        )
    ids = [*predictions.predicted, *predictions.references]
    if ids and not 0 <= min(ids) <= max(ids) < setup.num_labels:
        yield f"field 'predictions': label ids outside 0..{setup.num_labels - 1} (setup.num_labels)"
