"""The search: grids resolved per library and init, the successive-halving schedule, resumable state."""

from __future__ import annotations

import math

import pytest

from benchmark.engine.search import (
    DEFAULT_GRIDS,
    DEFAULT_PROBE_GRID,
    NoiseRule,
    SearchState,
    best_indices,
    chosen_edges,
    default_grid,
    expand_grid,
    grid_extension,
    halving_budgets,
    paired_standard_error,
    step_past,
    still_at_edge,
)
from benchmark.results.schema import GridExtension
from benchmark.specs.schema import GridSpec


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
    state.record(1, 0, 1, 0.75, 0.6, "0111")
    state.record(0, 0, 0, -math.inf)
    state.finals[1, 1] = '{"x": 1}'
    state.batch_sizes["1/1"] = [16, 8]
    extension = GridExtension(dimension="learning_rate", edge="upper", value=9e-3)
    state.extend([extension], [{"learning_rate": 9e-3, "weight_decay": 0.01}], incumbent=1)
    state.save(tmp_path / "search.json")
    loaded = SearchState.load_or_new(tmp_path / "search.json", configs, [0, 1], [4, 8])
    assert loaded.scores == state.scores and loaded.finals == state.finals and loaded.batch_sizes == state.batch_sizes
    assert loaded.losses == {1: {0: {1: 0.6}}, 0: {0: {0: math.inf}}}
    assert loaded.correct == {1: {0: {1: "0111"}}, 0: {0: {0: ""}}}
    assert loaded.configs == [*configs, {"learning_rate": 9e-3, "weight_decay": 0.01}]  # the extended grid resumes
    assert loaded.rounds == [[0, 1], [1, 2]] and loaded.extensions == [extension.model_copy(update={"round": 1})]
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


def test_default_grids_are_the_library_adapters_per_init_and_one_probe_grid():
    # which layer's grid wins is tests/engine/test_settings.py's
    assert default_grid("timm", "scratch", "finetune") == DEFAULT_GRIDS["timm", "scratch"]
    assert default_grid("transformers", "pretrained", "finetune") == DEFAULT_GRIDS["transformers", "pretrained"]
    assert default_grid("transformers", "pretrained", "linear_probe") == DEFAULT_PROBE_GRID


def _scored(state: SearchState, rung: int, results: dict[int, list[str]]) -> None:
    """Record each configuration's per-seed validation correctness at a rung, its accuracy as the score."""
    for index, per_seed in results.items():
        for seed, correct in enumerate(per_seed):
            state.record(index, rung, seed, correct.count("1") / len(correct), 1.0, correct)


def test_a_rung_keeps_the_configurations_within_the_validation_noise_of_the_best():
    configs = expand_grid(GridSpec(learning_rate=[1e-4, 3e-4, 1e-3, 3e-3], weight_decay=[0.01, 0.1]))
    state = SearchState(configs=configs, seeds=[0, 1], budgets=[9, 27, 81])  # 8 configurations, rate 3
    best = "1" * 70 + "0" * 30
    near = "0" * 10 + "1" * 66 + "0" * 24  # 10 lost, 6 won: 4 examples behind on 100, within the noise
    far = "1" * 30 + "0" * 70  # 40 behind: beyond it
    _scored(state, 0, {0: [best, best], 1: [near, near], 2: [near, best], 3: [far, far]})
    _scored(state, 0, {i: [far, far] for i in range(4, 8)})
    assert state.alive(1, 3) == [0, 1, 2]  # the rank rule: the best ceil(8/3) = 3, whatever the gaps
    rule = NoiseRule(z=1.96, cap=2)
    assert state.alive(1, 3, rule) == [0, 1, 2]  # the far ones drop; 3 is also today's share
    _scored(state, 0, {4: [near, near], 5: [near, best], 6: [best, near]})  # more within the noise...
    assert state.alive(1, 3, rule) == [0, 1, 2, 4, 5, 6]  # ... continue, up to the cap of 2 x 3
    assert state.alive(1, 3) == [0, 2, 5]  # the rank rule: ties of the mean go to the earlier configuration
    assert state.alive(1, 3, NoiseRule(z=1.96, cap=1)) == [0, 2, 5]  # cap 1 is the rank rule
    assert state.alive(1, 3, NoiseRule(z=0.01, cap=2)) == [0, 2, 5]  # a tiny band keeps only the rank share
    # the last rung: the finalists within the noise (at most `cap`) train the whole budget, the best is chosen there
    _scored(state, 1, {i: [best, best] if i == 5 else [near, near] for i in [0, 1, 2, 4, 5, 6]})
    assert state.alive(2, 3) == [5] and state.alive(2, 3, rule) == [0, 5]
    _scored(state, 2, {0: [best, best], 5: [near, near]})
    assert state.chosen(3, rule) == 0 and state.chosen(3) == 5


def test_the_paired_standard_error_grows_with_disagreement_and_with_the_spread_over_seeds():
    assert paired_standard_error(["1100"], ["1100"]) == 0.0  # identical predictions: no noise
    assert paired_standard_error(["1100"], ["0011"]) == pytest.approx(math.sqrt(4 / 3 / 4))  # all 4 disagree
    one_seed = paired_standard_error(["11110000"], ["11101000"])
    two_seeds = paired_standard_error(["11110000", "11110000"], ["11101000", "00000000"])
    assert 0 < one_seed < two_seeds
    assert paired_standard_error([""], [""]) == 0.0 and paired_standard_error(["10"], ["1"]) == 0.0


def test_the_grid_extends_one_geometric_step_past_each_edge_the_choice_lies_on():
    configs = expand_grid(GridSpec(learning_rate=[1e-4, 3e-4, 1e-3], weight_decay=[0.01, 0.1]))
    corner = configs.index({"learning_rate": 1e-3, "weight_decay": 0.1})
    assert chosen_edges(configs, corner) == [("learning_rate", "upper"), ("weight_decay", "upper")]
    added, new = grid_extension(configs, corner, [], max_extensions=2)
    assert [(e.dimension, e.edge, e.value) for e in added] == [
        ("learning_rate", "upper", 3.33e-3),
        ("weight_decay", "upper", 1.0),
    ]
    # a grid row and a grid column: the new rate with every decay, the new decay with every rate
    assert len(new) == 4 * 3 - len(configs) and {"learning_rate": 3.33e-3, "weight_decay": 1.0} in new
    interior = configs.index({"learning_rate": 3e-4, "weight_decay": 0.01})
    assert chosen_edges(configs, interior) == [("weight_decay", "lower")]
    assert step_past([0.01, 0.1], "lower") == 1e-3 and step_past([0.0, 0.3, 3.0], "upper") == 30.0
    assert step_past([0.0, 0.1], "upper") == 1.0  # a decade past a neighbour of 0
    no_decay = expand_grid(GridSpec(learning_rate=[1e-3, 1e-2], weight_decay=[0.0, 3.0]))
    assert chosen_edges(no_decay, 0) == [("learning_rate", "lower")]  # no decay is the end of that axis, no edge
    single = expand_grid(GridSpec(learning_rate=[1e-3]))
    assert chosen_edges(single, 0) == [] and still_at_edge(single, 0) == []  # one value: not searched
    done = [GridExtension(dimension="learning_rate", edge="upper", value=3.33e-3)] * 2
    added, new = grid_extension(configs, corner, done, max_extensions=2)
    assert [e.dimension for e in added] == ["weight_decay"]  # the rate has had its two steps
    assert grid_extension(configs, corner, [], max_extensions=0) == ([], [])


def test_the_noise_rule_keeps_at_most_cap_times_the_rank_rules_share_at_every_rung():
    configs = expand_grid(GridSpec(learning_rate=[float(i + 1) for i in range(27)]))
    state = SearchState(configs=configs, seeds=[0], budgets=[1, 3, 9, 27])  # 27 configurations, rate 3: 4 rungs
    tied = "10" * 20
    for rung in range(3):  # every configuration ties with every other: all within the noise
        _scored(state, rung, {i: [tied] for i in range(27)})
    rule = NoiseRule(z=1.96, cap=2)
    assert [len(state.alive(r, 3)) for r in range(4)] == [27, 9, 3, 1]
    assert [len(state.alive(r, 3, rule)) for r in range(4)] == [27, 18, 6, 2]  # 2 x (9, 3, 1), not compounding
