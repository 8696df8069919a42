"""Leave-one-target-out evaluation of cheap signals: hand-made shelves, ties, intervals, and no leak of the
held-out target's fine-tuned results into its own recommendation."""

from __future__ import annotations

import math

import pytest

from benchmark.recommend.command import calibrate
from benchmark.recommend.evaluation import (
    LEARNED,
    Target,
    evaluate_shelf,
    judge,
    leave_one_target_out,
    preferred_method,
    shelf_targets,
    wilson,
)
from benchmark.report.recommend_section import recommend_section
from testkit.markdown import table_rows
from tests.report.suite_records import SUITE, suite_results


def _target(task: str, truth: dict[str, float], probe: dict[str, float], knn: dict[str, float]) -> Target:
    signals = {
        m: {"linear_probe_score": probe[m], "knn_loo_acc": knn[m], "params_total": 1e6, "logme": probe[m] - knn[m]}
        for m in truth
    }
    return Target("vision", task, signals, truth)


TARGETS = [
    _target("t1", {"a": 0.9, "b": 0.8, "c": 0.7, "d": 0.6}, {"a": 0.8, "b": 0.7, "c": 0.6, "d": 0.5},
            {"a": 0.1, "b": 0.4, "c": 0.3, "d": 0.2}),
    _target("t2", {"a": 0.5, "b": 0.9, "c": 0.6, "d": 0.7}, {"a": 0.4, "b": 0.8, "c": 0.5, "d": 0.6},
            {"a": 0.2, "b": 0.1, "c": 0.4, "d": 0.3}),
    _target("t3", {"a": 0.6, "b": 0.7, "c": 0.95, "d": 0.5}, {"a": 0.5, "b": 0.6, "c": 0.9, "d": 0.4},
            {"a": 0.3, "b": 0.2, "c": 0.1, "d": 0.4}),
]  # fmt: skip


def test_the_probe_score_that_orders_the_truth_picks_the_best_and_the_noise_signal_does_not():
    results = {s.method: s for s, _ in evaluate_shelf(TARGETS)["vision"]}
    assert results["linear probe score"].top1 == 3 and results["linear probe score"].mean_regret == 0
    assert results["best single signal"].top1 == 3  # learns on two targets that the probe score orders the truth
    assert results["largest model"].top1 == pytest.approx(3 * 0.25)  # all tied: a quarter chance each time
    assert results["largest model"].top3 == pytest.approx(3 * 0.75)
    # the best single signal learns the probe score and ties it: the simpler method is preferred
    assert preferred_method(evaluate_shelf(TARGETS)["vision"]).method == "linear probe score"


def test_a_learned_combination_is_preferred_only_where_it_beats_the_probe_score():
    def swap(signals: dict[str, float]) -> dict[str, float]:
        return {**signals, "linear_probe_score": signals["knn_loo_acc"], "knn_loo_acc": signals["linear_probe_score"]}

    # kNN now orders the truth on every target and the probe score does not
    swapped = [Target(t.modality, t.task, {m: swap(s) for m, s in t.signals.items()}, t.truth) for t in TARGETS]
    results = {s.method: s for s, _ in evaluate_shelf(swapped)["vision"]}
    assert results["best single signal"].mean_regret == 0 < results["linear probe score"].mean_regret
    assert preferred_method(evaluate_shelf(swapped)["vision"]).method in LEARNED
    calibration, scorer = calibrate(TARGETS, "vision", {"linear_probe_score", "knn_loo_acc", "logme"})
    assert calibration.method == "linear probe score" and "no learned combination beat" in calibration.note
    assert scorer(TARGETS[0].signals) == {m: s["linear_probe_score"] for m, s in TARGETS[0].signals.items()}
    assert calibrate(swapped, "vision", {"linear_probe_score", "knn_loo_acc", "logme"})[0].method in LEARNED


def test_ties_are_averaged_over_random_orders():
    target = TARGETS[0]
    outcome = judge(target, {"a": 1.0, "b": 1.0, "c": 0.0, "d": 0.0})
    assert (outcome.top1, outcome.top3, outcome.regret) == (0.5, 1.0, pytest.approx(0.05))
    below = judge(target, {"a": 0.0, "b": 1.0, "c": 1.0, "d": 1.0})  # best alone in fourth place
    assert (below.top1, below.top3, below.regret) == (0.0, 0.0, pytest.approx(0.2))


@pytest.mark.parametrize("method", LEARNED)
def test_a_held_out_targets_own_truth_never_enters_its_recommendation(method):
    """Changing the held-out target's fine-tuned scores leaves its ranking as it was (only the judging moves);
    changing another target's can change it: the fit reads the others."""
    base = {o.task: o.ranked for o in leave_one_target_out(TARGETS, method)}
    for i, held in enumerate(TARGETS):
        scrambled = Target(held.modality, held.task, held.signals, {m: -v for m, v in held.truth.items()})
        changed = [*TARGETS[:i], scrambled, *TARGETS[i + 1 :]]
        ranked = {o.task: o.ranked for o in leave_one_target_out(changed, method)}
        assert ranked[held.task] == base[held.task], (method, held.task)


def test_a_changed_training_target_moves_the_ridge_fit():
    flipped = Target("vision", "t1", TARGETS[0].signals, {m: -v for m, v in TARGETS[0].truth.items()})
    before = {o.task: o.fitted for o in leave_one_target_out(TARGETS, "ridge")}
    after = {o.task: o.fitted for o in leave_one_target_out([flipped, *TARGETS[1:]], "ridge")}
    assert before["t2"] != after["t2"] and before["t1"] == after["t1"]


def test_wilson_interval():
    assert wilson(0, 5)[0] == 0.0 and wilson(5, 5)[1] == 1.0
    low, high = wilson(3, 10)
    assert low == pytest.approx(0.1078, abs=1e-3) and high == pytest.approx(0.6032, abs=1e-3)
    assert all(math.isnan(v) for v in wilson(0, 0))


def test_shelf_from_result_files_and_the_leaderboard_section():
    targets = shelf_targets(suite_results())
    assert [(t.task, t.checkpoints) for t in targets] == [("t1", ["A", "B", "C"]), ("t2", ["A", "B", "C"])]
    assert targets[0].signals["A"]["linear_probe_score"] == pytest.approx(0.8)
    assert targets[0].truth["B"] == pytest.approx(0.7)
    lines = recommend_section(suite_results(), SUITE)
    rows = {row[0]: row for row in table_rows(lines, "Method")}
    # the probe's validation score orders t1 right (A best) but not t2 (B best, probe prefers C)
    assert rows["linear probe score (baseline)"][2].startswith("1 of 2")
    assert "### Recommending before training" in lines and any(line.startswith("- t1: picks") for line in lines)
    assert recommend_section(suite_results()[:4], SUITE) == []  # too few checkpoints: no section
