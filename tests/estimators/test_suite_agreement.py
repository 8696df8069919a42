"""Suite-level agreement: the mean of per-task weighted tau, tasks left out and counted, and a best signal only
when it is separated from the others."""

import itertools

import numpy as np
import pytest

from benchmark.estimators.rank_agreement import task_agreement
from benchmark.estimators.suite_agreement import best_signal, sign_flip_p_value, suite_agreement

MODELS = ["a", "b", "c", "d", "e"]


def _truth(task: int) -> dict[str, float]:
    return {m: 0.9 - 0.1 * i + 0.01 * task for i, m in enumerate(MODELS)}


def _perfect(task: int) -> dict[str, float]:
    return {m: float(-i) for i, m in enumerate(MODELS)}


def _shuffled(task: int) -> dict[str, float]:
    order = np.random.default_rng(task).permutation(len(MODELS))
    return {m: float(order[i]) for i, m in enumerate(MODELS)}


def _agreements(signal, tasks: int) -> dict:
    return {f"t{t}": task_agreement(signal(t), _truth(t)) for t in range(tasks)}


def test_mean_over_tasks_with_small_tasks_left_out_and_counted():
    per_task = _agreements(_perfect, 3)
    per_task["tiny"] = task_agreement({"a": 1.0, "b": 0.0}, {"a": 0.9, "b": 0.8})
    per_task["tied"] = task_agreement(dict.fromkeys(MODELS, 1.0), _truth(0))
    row = suite_agreement("perfect", per_task)
    assert row.mean_weighted_tau == pytest.approx(1.0) and row.n_tasks == 3
    assert (row.too_few_models, row.undefined) == (1, 1)
    assert row.models_per_task == {"t0": 5, "t1": 5, "t2": 5}
    assert row.p_value < 0.01  # three tasks ordered perfectly by chance: (1/120)^3


def test_p_value_of_one_three_model_task_cannot_go_below_one_in_six():
    per_task = {"t": task_agreement({"a": 3.0, "b": 2.0, "c": 1.0}, {"a": 0.9, "b": 0.8, "c": 0.7})}
    assert suite_agreement("s", per_task).p_value == pytest.approx(1 / 6, abs=0.02)


def test_sign_flip_p_value_equals_enumeration():
    differences = np.array([0.3, -0.1, 0.2, 0.05, 0.4])
    flips = [np.dot(signs, differences) for signs in itertools.product((1, -1), repeat=5)]
    expected = np.mean(np.array(flips) >= differences.sum() - 1e-12)
    assert sign_flip_p_value(differences) == pytest.approx(expected)
    assert sign_flip_p_value([0.5, 0.5]) == pytest.approx(0.25)  # two tasks can never separate at 5 %


def test_best_signal_only_when_separated_otherwise_a_tie():
    many = {
        name: suite_agreement(name, _agreements(signal, 8)) for name, signal in (("good", _perfect), ("bad", _shuffled))
    }
    verdict = best_signal([many["bad"], many["good"]])
    assert verdict.leader.signal == "good" and verdict.best == "good" and verdict.tied_with == []
    few = [suite_agreement(name, _agreements(signal, 2)) for name, signal in (("good", _perfect), ("bad", _shuffled))]
    verdict = best_signal(few)
    assert verdict.leader.signal == "good" and verdict.best is None and verdict.tied_with == ["bad"]
    assert verdict.comparisons[0].common_tasks == 2 and verdict.comparisons[0].p_value >= 0.25


def test_equal_means_are_a_tie_not_decided_by_list_order():
    first, second = (suite_agreement(name, _agreements(_perfect, 8)) for name in ("first", "second"))
    verdict = best_signal([first, second])
    assert verdict.best is None and verdict.tied_with == ["second"]


def test_no_defined_signal_gives_no_verdict():
    assert best_signal([suite_agreement("s", {})]) is None
