"""Task metrics through `evaluate` modules.

The common classification metrics ship inside the package as local evaluate modules
(`benchmark/metrics/modules/<name>/<name>.py`), because `evaluate.load("accuracy")` fetches its script from the
hub. A task may name any other module as `evaluate:<name>`, which goes to `evaluate.load(<name>)` unchanged.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path

import evaluate

from benchmark.specs.schema import BUILTIN_METRICS, EXTERNAL_METRIC_PREFIX

METRIC_MODULES_DIR = Path(__file__).parent / "modules"


@cache
def load_metric(name: str) -> evaluate.EvaluationModule:
    """The evaluate module for a metric name of a task spec (built-in, or `evaluate:<name>`)."""
    if name in BUILTIN_METRICS:
        return evaluate.load(str(METRIC_MODULES_DIR / name))
    if name.startswith(EXTERNAL_METRIC_PREFIX):
        return evaluate.load(name.removeprefix(EXTERNAL_METRIC_PREFIX))
    raise ValueError(f"unknown metric {name!r}; expected one of {list(BUILTIN_METRICS)} or 'evaluate:<name>'")


def compute_metrics(names: Sequence[str], predictions: Sequence[int], references: Sequence[int]) -> dict:
    """Every named metric on one set of predictions, keyed by the name used in the task spec.

    The built-in modules are called through their `_compute`: `compute` first writes every prediction through
    an Arrow cache (about 30 ms a call), which would dominate the evaluations of a search; what is computed is
    the module's own code either way. Other modules go through `compute` unchanged.
    """
    results = {}
    for name in names:
        module = load_metric(name)
        compute = module._compute if name in BUILTIN_METRICS else module.compute
        output = compute(predictions=list(predictions), references=list(references))
        key = name.removeprefix(EXTERNAL_METRIC_PREFIX)
        results[name] = float(output[key] if key in output else next(iter(output.values())))
    return results


def metric_fn(names: Sequence[str]) -> Callable[[Sequence[int], Sequence[int]], dict]:
    """`compute_metrics` for a fixed list of metric names, as the training loops take it."""
    return lambda predictions, references: compute_metrics(names, predictions, references)


def chance_level(names: Sequence[str], train_labels: Sequence[int], eval_labels: Sequence[int]) -> dict[str, float]:
    """Metrics of the majority-class predictor: the train set's most frequent class predicted everywhere."""
    majority = Counter(train_labels).most_common(1)[0][0]
    return compute_metrics(names, [majority] * len(eval_labels), eval_labels)
