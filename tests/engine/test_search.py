"""The search: grids resolved per library and init, the successive-halving schedule, resumable state."""

from __future__ import annotations

import math

import pytest

from benchmark.engine.search import (
    DEFAULT_GRIDS,
    DEFAULT_PROBE_GRID,
    SearchState,
    best_indices,
    expand_grid,
    halving_budgets,
    resolve_grid,
)
from benchmark.specs.schema import GridSpec, SearchSpec


@pytest.mark.parametrize(
    ("total", "configs", "rate", "expected"),
    [
        (80, 8, 2, [10, 20, 40, 80]),
        (90, 3, 2, [22, 45, 90]),
        (30, 1, 2, [30]),
        (27, 9, 3, [3, 9, 27]),
        (810, 8, 3, [90, 270, 810]),  # the default rate: 8 x 90 + 3 x 180 + 540 = 2.22 full runs
        (40, 3, 3, [13, 40]),
        (40, 2, 3, [13, 40]),
        (3, 8, 2, [1, 2, 3, 4]),
    ],
)
def test_halving_budgets_end_at_the_whole_budget_and_shrink_by_the_rate(total, configs, rate, expected):
    budgets = halving_budgets(total, configs, rate)
    assert budgets == expected
    assert budgets == sorted(set(budgets))


def test_successive_halving_costs_two_and_a_half_full_runs_for_eight_configurations():
    budgets, alive, cost = halving_budgets(800, 8, 2), 8, 0
    previous = 0
    for budget in budgets:  # survivors continue from their checkpoint: each rung only adds its new steps
        cost += alive * (budget - previous)
        previous, alive = budget, math.ceil(alive / 2)
    assert cost / 800 == 2.5


def test_survivors_are_chosen_on_the_mean_over_seeds_and_ties_go_to_the_earlier_configuration():
    configs = expand_grid(GridSpec(learning_rate=[1e-3, 1e-2], weight_decay=[0.0, 0.1]))
    assert [c["learning_rate"] for c in configs] == [1e-3, 1e-3, 1e-2, 1e-2]
    state = SearchState(configs=configs, seeds=[0, 1], budgets=[5, 10, 20])
    for index, (a, b) in enumerate([(0.5, 0.7), (0.9, 0.1), (0.6, 0.6), (0.2, 0.2)]):
        state.record(index, 0, 0, a)
        state.record(index, 0, 1, b)
    assert state.alive(0, 2) == [0, 1, 2, 3]
    assert state.alive(1, 2) == [0, 2]  # means 0.6, 0.5, 0.6, 0.2: the tie 0 vs 2 keeps both, 1 drops
    assert best_indices({0: 0.6, 2: 0.6}, 1) == [0]
    state.record(0, 1, 0, 0.1)
    state.record(0, 1, 1, 0.1)
    state.record(2, 1, 0, 0.8)
    state.record(2, 1, 1, -math.inf)  # a diverged run ranks lowest
    assert state.alive(2, 2) == [0]


def test_ties_on_the_mean_score_go_to_the_lower_mean_validation_loss_then_to_the_earlier_configuration():
    configs = expand_grid(GridSpec(learning_rate=[1e-4, 3e-4, 1e-3]))
    state = SearchState(configs=configs, seeds=[0, 1], budgets=[4, 12])
    for index, losses in enumerate([(2.30, 2.31), (2.20, 2.26), (2.20, 2.26)]):  # every run still at chance
        for seed, loss in enumerate(losses):
            state.record(index, 0, seed, 0.1, loss)
    assert state.alive(1, 3) == [1]  # mean losses 2.305, 2.23, 2.23: 1 and 2 tie on both, 1 is earlier
    assert best_indices({0: 0.5, 1: 0.5}, 1, {0: math.inf, 1: 2.0}) == [1]  # a diverged seed's loss ranks last
    assert best_indices({0: 0.5, 1: 0.6}, 1, {0: 0.1, 1: 9.0}) == [1]  # the score decides first
    assert state.candidates()[1].losses == [[2.20, 2.26]]


def test_state_round_trips_and_a_different_search_starts_fresh(tmp_path):
    configs = expand_grid(GridSpec(learning_rate=[1e-3, 3e-3]))
    state = SearchState(configs=configs, seeds=[0, 1], budgets=[4, 8])
    state.record(1, 0, 1, 0.75, 0.6)
    state.record(0, 0, 0, -math.inf)
    state.finals[1] = '{"x": 1}'
    state.batch_sizes["1/1"] = [16, 8]
    state.save(tmp_path / "search.json")
    loaded = SearchState.load_or_new(tmp_path / "search.json", configs, [0, 1], [4, 8])
    assert loaded.scores == state.scores and loaded.finals == state.finals and loaded.batch_sizes == state.batch_sizes
    assert loaded.losses == {1: {0: {1: 0.6}}, 0: {0: {0: math.inf}}}
    assert SearchState.load_or_new(tmp_path / "search.json", configs, [0, 1, 2], [4, 8]).scores == {}
    (tmp_path / "broken.json").write_text("{not json")
    assert SearchState.load_or_new(tmp_path / "broken.json", configs, [0, 1], [4, 8]).scores == {}


def test_candidates_list_complete_rungs_with_diverged_runs_as_none():
    state = SearchState(configs=expand_grid(GridSpec(learning_rate=[1e-3, 3e-3])), seeds=[0, 1], budgets=[4, 8])
    state.record(0, 0, 0, 0.5)
    state.record(0, 0, 1, -math.inf)
    state.record(1, 0, 0, 0.25)  # seed 1 not yet run: the rung is incomplete and left out
    candidates = state.candidates()
    assert candidates[0].scores == [[0.5, None]] and candidates[0].mean_scores == [None]
    assert candidates[1].scores == []


def test_grids_resolve_task_then_suite_then_library_default():
    suite = SearchSpec(finetune=GridSpec(learning_rate=[0.1]))
    task = SearchSpec(linear_probe=GridSpec(learning_rate=[0.2]))
    assert resolve_grid(suite, task, "timm", "pretrained", "finetune").learning_rate == [0.1]
    assert resolve_grid(suite, task, "timm", "pretrained", "linear_probe").learning_rate == [0.2]
    assert resolve_grid(suite, None, "timm", "scratch", "finetune") == DEFAULT_GRIDS["timm", "scratch"]
    assert resolve_grid(SearchSpec(), None, "transformers", "pretrained", "linear_probe") == DEFAULT_PROBE_GRID
