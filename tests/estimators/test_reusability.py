"""Composite reusability score: a case worked out by hand, fixed references, and independence from the field."""

import math

import numpy as np
import pytest

from benchmark.estimators.reusability import (
    CellSummary,
    complexity_part,
    model_score,
    reusability_scores,
    time_part,
)
from benchmark.specs.schema import ScoreWeights


def _cell(model, task, score, chance, scratch, speed_up, flops, params=1000):
    return CellSummary(model, task, score, chance, scratch, speed_up, flops, params)


# Task t1 (chance 0.5), t2 (chance 0.2); ceiling 1.
#   A on t1: score 0.9, scratch 0.6: q = 0.4/0.5 = 0.8, g = 0.3/0.5 = 0.6, Q = 0.7; s = 3 -> E_t = 0.75;
#            FLOPs 1e9 -> E_c = log(1e3)/log(1e6) = 0.5
#   A on t2: score 0.6, scratch 0.7: q = 0.4/0.8 = 0.5, g = -0.125, Q = 0.25;  s = 0 (never) -> E_t = 0;
#            FLOPs 1e9 -> E_c = 0.5
#   A: Q = 0.475, E_t = 0.375, E_c = 0.5 -> composite = 0.6 * 0.475 + 0.2 * 0.375 + 0.2 * 0.5 = 0.46
#   B on t1: score 0.55, scratch 0.55: q = 0.1, g = 0, Q = 0.05; s = 1 -> E_t = 0.5; FLOPs 1e6 -> E_c = 1
#   B: composite = 0.6 * 0.05 + 0.2 * 0.5 + 0.2 * 1 = 0.33
CELLS = [
    _cell("A", "t1", 0.9, 0.5, 0.6, 3.0, 1e9),
    _cell("A", "t2", 0.6, 0.2, 0.7, 0.0, 1e9),
    _cell("B", "t1", 0.55, 0.5, 0.55, 1.0, 1e6),
]


def test_hand_computed_composite_and_parts():
    a, b = reusability_scores(CELLS)
    assert (a.model, b.model) == ("A", "B")
    assert (a.composite, a.quality, a.absolute_quality, a.gain) == pytest.approx((0.46, 0.475, 0.65, 0.2375))
    assert (a.training_efficiency, a.speed_up, a.complexity_efficiency, a.n_tasks) == pytest.approx(
        (0.375, 1.5, 0.5, 2)
    )
    assert (b.composite, b.quality, b.gain, b.training_efficiency, b.complexity_efficiency) == pytest.approx(
        (0.33, 0.05, 0.0, 0.5, 1.0)
    )


def test_parts_use_fixed_references():
    assert time_part(0.0) == 0.0 and time_part(1.0) == 0.5 and time_part(math.inf) == 1.0
    assert complexity_part(1e6) == 1.0 and complexity_part(1e12) == 0.0 and complexity_part(1e3) == 1.0
    assert complexity_part(1e9) == pytest.approx(0.5) and complexity_part(1e15) == 0.0


def test_a_field_of_one_model_is_not_perfect_by_construction():
    lone = model_score([_cell("A", "t", 0.6, 0.5, 0.55, 1.0, 1e10)])
    assert lone.composite < 0.5
    assert (lone.absolute_quality, lone.gain, lone.training_efficiency) == pytest.approx((0.2, 0.1, 0.5))


def _random_field(rng: np.random.Generator, models: list[str], tasks: list[str]) -> list[CellSummary]:
    cells = []
    for model in models:
        for task in rng.choice(tasks, size=int(rng.integers(1, len(tasks) + 1)), replace=False):
            chance = float(rng.uniform(0, 0.6))
            speed = float(rng.choice([0.0, math.inf, rng.lognormal(0, 1)]))
            flops, params = float(10 ** rng.uniform(5, 13)), int(10 ** rng.uniform(3, 9))
            cells.append(_cell(model, str(task), rng.uniform(0, 1), chance, rng.uniform(0, 1), speed, flops, params))
    return cells


def test_no_model_score_depends_on_the_other_models_in_the_field():
    """Property: every model scores the same alone, in any field, with any model added or removed."""
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


def test_weights_are_normalised_and_ties_break_by_name():
    cells = [_cell("B", "t", 0.75, 0.5, 0.5, 1.0, 1e9), _cell("A", "t", 0.75, 0.5, 0.5, 0.5, 1e6)]
    scores = reusability_scores(cells, ScoreWeights(quality=5.0, training_efficiency=0.0, complexity_efficiency=0.0))
    assert [(s.model, s.composite) for s in scores] == [("A", 0.5), ("B", 0.5)]
    scaled = reusability_scores(cells, ScoreWeights(quality=3.0, training_efficiency=1.0, complexity_efficiency=1.0))
    default = reusability_scores(cells, ScoreWeights(quality=0.6, training_efficiency=0.2, complexity_efficiency=0.2))
    assert [s.composite for s in scaled] == pytest.approx([s.composite for s in default])


def test_invalid_inputs_are_rejected():
    with pytest.raises(ValueError):
        reusability_scores(CELLS + [CELLS[0]])
    with pytest.raises(ValueError):
        model_score(CELLS)  # two models
    with pytest.raises(ValueError):
        _cell("A", "t", 0.5, 0.1, 0.4, 1.0, 0.0)
    with pytest.raises(ValueError):
        _cell("A", "t", 0.5, 0.1, 0.4, -1.0, 10.0)
    with pytest.raises(ValueError):
        _cell("A", "t", 0.5, 1.0, 0.4, 1.0, 10.0)  # chance at the ceiling: quality undefined
