"""Composite reusability score: a case worked out by hand, fixed references, independence from the field, and
Pareto consistency (a checkpoint never ranks below one it dominates)."""

import math

import numpy as np
import pytest

from benchmark.estimators.reusability import (
    CellSummary,
    complexity_part,
    dominated_above,
    dominates,
    model_score,
    reusability_scores,
    time_part,
)
from benchmark.specs.schema import ScoreWeights


def _cell(model, task, score, chance, seconds, flops, params=1000):
    return CellSummary(model, task, score, chance, seconds, flops, params)


# Task t1 (chance 0.5), t2 (chance 0.2); ceiling 1; E_t = log10(1e5 / T) / 6, E_c = log10(1e12 / F) / 6.
#   A on t1: score 0.9: q = 0.4/0.5 = 0.8; T = 100 s -> E_t = 0.5; FLOPs 1e9 -> E_c = 0.5
#   A on t2: score 0.6: q = 0.4/0.8 = 0.5; T = 1000 s -> E_t = 1/3; FLOPs 1e9 -> E_c = 0.5
#   A: q = 0.65, E_t = 5/12, E_c = 0.5 -> composite = 0.6 * 0.65 + 0.2 * 5/12 + 0.2 * 0.5 = 0.57333
#   B on t1: score 0.55: q = 0.1; T = 0.01 s (below T_min) -> E_t = 1; FLOPs 1e6 -> E_c = 1
#   B: composite = 0.6 * 0.1 + 0.2 * 1 + 0.2 * 1 = 0.46
CELLS = [
    _cell("A", "t1", 0.9, 0.5, 100.0, 1e9),
    _cell("A", "t2", 0.6, 0.2, 1000.0, 1e9),
    _cell("B", "t1", 0.55, 0.5, 0.01, 1e6),
]


def test_hand_computed_composite_and_parts():
    a, b = reusability_scores(CELLS)
    assert (a.model, b.model) == ("A", "B")
    assert (a.composite, a.quality, a.mean_score) == pytest.approx((0.573333, 0.65, 0.75))
    assert (a.training_efficiency, a.time_to_quality_s, a.complexity_efficiency, a.n_tasks) == pytest.approx(
        (5 / 12, 550.0, 0.5, 2)
    )
    assert (b.composite, b.quality, b.training_efficiency, b.complexity_efficiency) == pytest.approx(
        (0.46, 0.1, 1.0, 1.0)
    )


def test_parts_use_fixed_references():
    assert time_part(0.0) == 1.0 and time_part(0.1) == 1.0 and time_part(1e5) == 0.0 and time_part(1e7) == 0.0
    assert time_part(100.0) == pytest.approx(0.5)
    assert complexity_part(1e6) == 1.0 and complexity_part(1e12) == 0.0 and complexity_part(1e3) == 1.0
    assert complexity_part(1e9) == pytest.approx(0.5) and complexity_part(1e15) == 0.0


def test_a_field_of_one_model_is_not_perfect_by_construction():
    lone = model_score([_cell("A", "t", 0.6, 0.5, 100.0, 1e10)])
    assert lone.composite < 0.5
    assert (lone.quality, lone.training_efficiency) == pytest.approx((0.2, 0.5))


def test_a_strong_scratch_baseline_does_not_demote_the_better_checkpoint():
    """The zoo's case: a checkpoint of an architecture that trains well from scratch (small gain over its twin)
    reaches higher quality than one whose twin stays at chance (large gain): the first must rank first."""
    strong_arch = _cell("resnet", "t", 0.82, 0.1, 1.5, 4.5e7)
    weak_arch = _cell("effnet", "t", 0.66, 0.1, 2.3, 1.6e7)
    assert [s.model for s in reusability_scores([weak_arch, strong_arch])] == ["resnet", "effnet"]


def _random_field(rng: np.random.Generator, models: list[str], tasks: list[str]) -> list[CellSummary]:
    """Random cells; chance is the task's (the majority class of its labels), the same for every model."""
    cells = []
    for model in models:
        for task in rng.choice(tasks, size=int(rng.integers(1, len(tasks) + 1)), replace=False):
            chance = 0.1 * int(str(task)[1:])
            seconds = float(rng.choice([0.0, 10 ** rng.uniform(-2, 6)]))
            flops, params = float(10 ** rng.uniform(5, 13)), int(10 ** rng.uniform(3, 9))
            cells.append(_cell(model, str(task), rng.uniform(0, 1), chance, seconds, flops, params))
    return cells


def test_no_model_score_depends_on_the_other_models_in_the_field():
    """Property (a): every model scores the same alone, in any field, with any model added or removed."""
    rng = np.random.default_rng(0)
    tasks = [f"t{i}" for i in range(5)]
    for _ in range(200):
        n_models = int(rng.integers(1, 7))
        field = _random_field(rng, [f"m{i}" for i in range(n_models)], tasks)
        newcomer = _random_field(rng, ["huge_and_strong"], tasks)
        weights = ScoreWeights(quality=rng.uniform(0, 1), training_efficiency=rng.uniform(0, 1) + 0.01)
        in_field = {s.model: s for s in reusability_scores(field, weights)}
        with_newcomer = {s.model: s for s in reusability_scores(field + newcomer, weights)}
        removed = f"m{int(rng.integers(0, n_models))}"
        without_one = {s.model: s for s in reusability_scores([c for c in field if c.model != removed], weights)}
        for model, score in in_field.items():
            alone = model_score([c for c in field if c.model == model], weights)
            assert score == alone == with_newcomer[model]
            assert model == removed or without_one[model] == score


def _dominated_copy(rng: np.random.Generator, cells: list[CellSummary], name: str) -> list[CellSummary]:
    """A checkpoint no better than `cells` on any task: lower or equal score, equal or higher time and FLOPs."""
    copy = []
    for cell in cells:
        worse = rng.choice([0.0, float(rng.uniform(0, 0.3))], size=3)
        copy.append(
            CellSummary(
                name,
                cell.task,
                max(cell.score - worse[0], 0.0),
                cell.chance,
                cell.time_to_quality_s * (1 + worse[1]),
                cell.flops_per_example * (1 + worse[2]),
                int(10 ** rng.uniform(3, 9)),  # parameters are not part of the cost: they move with FLOPs
            )
        )
    return copy


def test_a_checkpoint_never_ranks_below_one_it_dominates():
    """Property (b): if A scores at least B on every task at no higher time and FLOPs, A ranks above B, whatever
    the weights and the rest of the field."""
    rng = np.random.default_rng(1)
    tasks = [f"t{i}" for i in range(4)]
    checked = 0
    for _ in range(300):
        field = _random_field(rng, [f"m{i}" for i in range(int(rng.integers(1, 5)))], tasks)
        leader = str(rng.choice(sorted({c.model for c in field})))
        follower = _dominated_copy(rng, [c for c in field if c.model == leader], "follower")
        weights = ScoreWeights(
            quality=rng.uniform(0, 1), training_efficiency=rng.uniform(0, 1), complexity_efficiency=rng.uniform(0, 1)
        )
        order = [s.model for s in reusability_scores(field + follower, weights)]
        if dominates([c for c in field if c.model == leader], follower):
            checked += 1
            assert order.index(leader) < order.index("follower")
        assert dominated_above(field + follower, weights) == []
    assert checked > 250


def test_dominance_needs_the_same_tasks_and_a_difference():
    a = [_cell("a", "t1", 0.9, 0.1, 1.0, 1e9), _cell("a", "t2", 0.8, 0.1, 1.0, 1e9)]
    b = [_cell("b", "t1", 0.8, 0.1, 1.0, 1e9), _cell("b", "t2", 0.8, 0.1, 1.0, 1e9)]
    assert dominates(a, b) and not dominates(b, a)
    assert not dominates(a, b[:1])  # a has a task b lacks: not comparable
    assert not dominates(a, [CellSummary("a2", c.task, c.score, c.chance, 1.0, 1e9, 1) for c in a])  # identical
    assert not dominates(a, [_cell("c", "t1", 0.7, 0.1, 0.5, 1e9), _cell("c", "t2", 0.7, 0.1, 1.0, 1e9)])  # faster


def test_ties_on_the_composite_go_to_quality_then_cost_then_name():
    weights = ScoreWeights(quality=1.0, training_efficiency=0.0, complexity_efficiency=0.0)
    cheap = _cell("b-cheap", "t", 0.75, 0.5, 1.0, 1e6)
    dear = _cell("a-dear", "t", 0.75, 0.5, 1.0, 1e9)
    assert [s.model for s in reusability_scores([dear, cheap], weights)] == ["b-cheap", "a-dear"]
    both_below_chance = [_cell("x", "t", 0.3, 0.5, 1.0, 1e9), _cell("y", "t", 0.4, 0.5, 1.0, 1e9)]
    assert [s.model for s in reusability_scores(both_below_chance, weights)] == ["y", "x"]  # q 0 for both


def test_weights_are_normalised():
    cells = [_cell("B", "t", 0.75, 0.5, 10.0, 1e9), _cell("A", "t", 0.75, 0.5, 1.0, 1e6)]
    scaled = reusability_scores(cells, ScoreWeights(quality=3.0, training_efficiency=1.0, complexity_efficiency=1.0))
    default = reusability_scores(cells, ScoreWeights(quality=0.6, training_efficiency=0.2, complexity_efficiency=0.2))
    assert [s.composite for s in scaled] == pytest.approx([s.composite for s in default])


def test_invalid_inputs_are_rejected():
    with pytest.raises(ValueError):
        reusability_scores(CELLS + [CELLS[0]])
    with pytest.raises(ValueError):
        model_score(CELLS)  # two models
    with pytest.raises(ValueError):
        _cell("A", "t", 0.5, 0.1, 1.0, 0.0)
    with pytest.raises(ValueError):
        _cell("A", "t", 0.5, 0.1, -1.0, 10.0)
    with pytest.raises(ValueError):
        _cell("A", "t", 0.5, 1.0, 1.0, 10.0)  # chance at the ceiling: quality undefined
    assert math.isfinite(model_score([_cell("A", "t", 0.5, 0.1, 0.0, 1e9)]).composite)
