"""Task metrics through `evaluate` modules.

The common classification metrics ship inside the package as local evaluate modules
(`benchmark/metrics/modules/<name>/<name>.py`), because `evaluate.load("accuracy")` fetches its script from the
hub. A task may name any other module as `evaluate:<name>`, which goes to `evaluate.load(<name>)` unchanged, but
only once the user has trusted task code on the command line (`--trust-task-code`, `trust_task_code(True)`): an
evaluate module is Python that `evaluate.load` imports and runs, and a task file must not be able to run code.
The entry point refuses such tasks before any work (`benchmark.specs.trust`); the check here keeps any other caller
of `load_metric` (a library user, a future code path) from running a module the user never allowed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path

import evaluate

from benchmark.specs.schema import BUILTIN_METRICS, EXTERNAL_METRIC_PREFIX

METRIC_MODULES_DIR = Path(__file__).parent / "modules"
_POLICY = {"trust_task_code": False}


class MetricCodeRefused(ValueError):
    """A task names an `evaluate:` module (code) and the user has not trusted task code."""


def trust_task_code(enabled: bool) -> None:
    """Allow (or refuse again) `evaluate:` metric modules for this process; the entry point sets it from
    `--trust-task-code`, the only place a user can say so."""
    _POLICY["trust_task_code"] = bool(enabled)


def load_metric(name: str) -> evaluate.EvaluationModule:
    """The evaluate module for a metric name of a task spec (built-in, or `evaluate:<name>` when task code is
    trusted; `MetricCodeRefused` otherwise, before anything is imported)."""
    if name.startswith(EXTERNAL_METRIC_PREFIX) and not _POLICY["trust_task_code"]:
        raise MetricCodeRefused(
            f"metric {name!r} is an evaluate module (Python code) named by a task file; pass --trust-task-code to "
            "run it"
        )
    return _load_module(name)


@cache
def _load_module(name: str) -> evaluate.EvaluationModule:
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
