"""Composite reusability score on a case worked out by hand."""

import math

import pytest

from benchmark.estimators.reusability import CellSummary, reusability_scores
from benchmark.specs.schema import ScoreWeights


def _cell(model, task, score, chance, ttt, flops, params):
    return CellSummary(model, task, score, chance, ttt, 100.0, flops, params)


# Task t1 (chance 0.5, best 0.9, fastest 10 s, min FLOPs 100, min params 500):
#   A: q = 1,                          e_t = 10/10 = 1,   e_c = sqrt(100/100 * 500/1000) = sqrt(0.5)
#   B: q = (0.7-0.5)/(0.9-0.5) = 0.5,  e_t = 10/20 = 0.5, e_c = sqrt(100/400 * 500/500)  = 0.5
#   C: q = clip(-0.25) = 0,            e_t = 0 (never),   e_c = sqrt(1 * 0.5)            = sqrt(0.5)
# Task t2 (chance 0.1, best 0.9, fastest 30 s; only A and B, same FLOPs/params as above):
#   A: q = (0.5-0.1)/(0.9-0.1) = 0.5,  e_t = 0 (never),   e_c = sqrt(0.5)
#   B: q = 1,                          e_t = 30/30 = 1,   e_c = 0.5
# Means: A: Q = 0.75, E_t = 0.5,  E_c = sqrt(0.5) -> 0.6*0.75 + 0.2*0.5 + 0.2*sqrt(0.5) = 0.55 + 0.2*sqrt(0.5)
#        B: Q = 0.75, E_t = 0.75, E_c = 0.5       -> 0.6*0.75 + 0.2*0.75 + 0.2*0.5     = 0.70
#        C: Q = 0,    E_t = 0,    E_c = sqrt(0.5) -> 0.2*sqrt(0.5)                     (one task)
CELLS = [
    _cell("A", "t1", 0.9, 0.5, 10.0, 100.0, 1000),
    _cell("B", "t1", 0.7, 0.5, 20.0, 400.0, 500),
    _cell("C", "t1", 0.4, 0.5, None, 100.0, 1000),
    _cell("A", "t2", 0.5, 0.1, None, 100.0, 1000),
    _cell("B", "t2", 0.9, 0.1, 30.0, 400.0, 500),
]


def test_hand_computed_composite_and_parts():
    scores = reusability_scores(CELLS)
    assert [s.model for s in scores] == ["B", "A", "C"]
    b, a, c = scores
    assert (
        b.composite,
        b.quality,
        b.training_efficiency,
        b.complexity_efficiency,
        b.n_tasks,
    ) == pytest.approx((0.70, 0.75, 0.75, 0.5, 2))
    assert (
        a.composite,
        a.quality,
        a.training_efficiency,
        a.complexity_efficiency,
        a.n_tasks,
    ) == pytest.approx((0.55 + 0.2 * math.sqrt(0.5), 0.75, 0.5, math.sqrt(0.5), 2))
    assert (
        c.composite,
        c.quality,
        c.training_efficiency,
        c.complexity_efficiency,
        c.n_tasks,
    ) == pytest.approx((0.2 * math.sqrt(0.5), 0.0, 0.0, math.sqrt(0.5), 1))


def test_weights_are_normalised_and_ties_break_by_name():
    # Quality only: A and B both average 0.75, so the name decides; scaling the weights changes nothing.
    scores = reusability_scores(CELLS, ScoreWeights(quality=5.0, training_efficiency=0.0, complexity_efficiency=0.0))
    assert [(s.model, s.composite) for s in scores] == [("A", 0.75), ("B", 0.75), ("C", 0.0)]


def test_quality_is_zero_when_nobody_beats_chance_and_zero_time_to_target_is_best():
    cells = [
        _cell("A", "t", 0.2, 0.25, 0.0, 10.0, 10),
        _cell("B", "t", 0.1, 0.25, 5.0, 10.0, 10),
    ]
    a, b = reusability_scores(cells)
    assert (a.model, a.quality, a.training_efficiency) == ("A", 0.0, 1.0)
    assert (b.model, b.quality, b.training_efficiency) == ("B", 0.0, 0.0)


def test_invalid_inputs_are_rejected():
    with pytest.raises(ValueError):
        reusability_scores(CELLS + [CELLS[0]])
    with pytest.raises(ValueError):
        ScoreWeights(quality=0.0, training_efficiency=0.0, complexity_efficiency=0.0)
    with pytest.raises(ValueError):
        _cell("A", "t", 0.5, 0.1, 1.0, 0.0, 10)
    with pytest.raises(ValueError):
        _cell("A", "t", 0.5, 0.1, -1.0, 10.0, 10)
