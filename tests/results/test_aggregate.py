"""Aggregation over seeds on hand-made records: validation quality and speed-up over the scratch twin,
convergence and search summaries, and bootstrap replicates of mean test scores paired on test examples."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from benchmark.estimators.resampling import EXAMPLE_RESAMPLING, SEED_RESAMPLING, WELCH
from benchmark.results.aggregate import (
    compare,
    group_results,
    learned_something,
    speed_up,
    suite_replicates,
    task_replicates,
)
from benchmark.results.schema import Candidate, Convergence, CurvePoint, Predictions, SearchRecord
from testkit.records import make_result

REFERENCES = [i % 4 for i in range(200)]


def _curve(points: list[tuple[float, float]]) -> list[CurvePoint]:
    """Validation curve from (elapsed seconds, score) pairs."""
    return [
        CurvePoint(step=i + 1, epoch=float(i + 1), train_elapsed_s=t, score=s, metrics={"accuracy": s})
        for i, (t, s) in enumerate(points)
    ]


def _predictions(accuracy: float, seed: int) -> Predictions:
    """Predictions over `REFERENCES` with exactly round(accuracy * 200) right, the errors placed by `seed`."""
    rng = np.random.default_rng(seed)
    wrong = rng.choice(len(REFERENCES), size=len(REFERENCES) - round(accuracy * len(REFERENCES)), replace=False)
    predicted = list(REFERENCES)
    for i in wrong:
        predicted[i] = (predicted[i] + 1) % 4
    return Predictions(predicted=predicted, references=list(REFERENCES))


def _cell(model, init, seed, score, curve=(), predictions=True, **extra):
    return make_result(
        model=model,
        init=init,
        seed=seed,
        metrics={"accuracy": score},
        curve=_curve(list(curve)),
        predictions=_predictions(score, zlib.crc32(f"{model}/{init}/{seed}".encode())) if predictions else None,
        **{"chance": {"accuracy": 0.25}, **extra},
    )


def _groups(cells):
    return list(group_results(cells).values())


def test_speed_up_to_the_quality_every_scratch_seed_reached():
    scratch = [
        _cell("m", "scratch", 0, 0.5, [(10, 0.40), (20, 0.55), (30, 0.50)]),
        _cell("m", "scratch", 1, 0.5, [(10, 0.45), (20, 0.48), (30, 0.52)]),
    ]
    pretrained = [
        _cell("m", "pretrained", 0, 0.8, [(5, 0.60), (10, 0.80)]),
        _cell("m", "pretrained", 1, 0.8, [(5, 0.50), (10, 0.80)]),
    ]
    pre, twin = _groups(pretrained + scratch)
    assert twin.quality_every_seed_reached == pytest.approx(0.52)  # min of the seeds' best (0.55, 0.52)
    measured = speed_up(pre, twin)
    assert measured.target == pytest.approx(0.52)
    assert measured.scratch_s == pytest.approx(25.0) and measured.model_s == pytest.approx(7.5)
    assert measured.ratio == pytest.approx(25 / 7.5)


def test_speed_up_is_zero_when_a_seed_never_gets_there_and_none_without_curves():
    scratch = [_cell("m", "scratch", 0, 0.5, [(10, 0.5)])]
    slow = [_cell("m", "pretrained", 0, 0.6, [(5, 0.6)]), _cell("m", "pretrained", 1, 0.4, [(5, 0.4)])]
    pre, twin = _groups(slow + scratch)
    assert speed_up(pre, twin).model_s is None and speed_up(pre, twin).ratio == 0.0
    no_curve, twin = _groups([_cell("m", "pretrained", 0, 0.6)] + scratch)
    assert speed_up(no_curve, twin) is None


def test_learned_something_compares_validation_with_chance_plus_tolerance():
    tolerance = Convergence(flattened=True, late_gain=0.0, tolerance=0.02)
    flat = _cell("m", "scratch", 0, 0.3, validation_metrics={"accuracy": 0.26}, convergence=tolerance)
    learned = _cell("n", "scratch", 0, 0.3, validation_metrics={"accuracy": 0.28}, convergence=tolerance)
    from_curve = _cell("o", "scratch", 0, 0.3, [(1, 0.9), (2, 0.24)])  # the curve's last point, not its best
    flat_group, learned_group, curve_group = _groups([flat, learned, from_curve])
    assert learned_something(flat_group) is False and learned_something(learned_group) is True
    assert learned_something(curve_group) is False
    assert learned_something(_groups([_cell("p", "scratch", 0, 0.3)])[0]) is None


def test_the_learned_nothing_flag_reads_chance_on_validation_where_the_priors_differ_from_test():
    # train and validation: 80 % one class, so always predicting it scores 0.8 there; test is balanced (0.25)
    priors = {"chance": {"accuracy": 0.25}, "validation_chance": {"accuracy": 0.8}}
    majority_only = _cell("m", "scratch", 0, 0.25, validation_metrics={"accuracy": 0.8}, **priors)
    beyond = _cell("n", "scratch", 0, 0.3, validation_metrics={"accuracy": 0.9}, **priors)
    older = _cell("o", "scratch", 0, 0.25, validation_metrics={"accuracy": 0.8})  # no validation chance recorded
    nothing, something, unrecorded = _groups([majority_only, beyond, older])
    assert nothing.validation_chance == 0.8 and nothing.chance == 0.25
    assert learned_something(nothing) is False  # against the test chance 0.8 would look like learning
    assert learned_something(something) is True
    assert unrecorded.validation_chance is None and learned_something(unrecorded) is True  # falls back to test


def test_convergence_and_search_summaries():
    search = SearchRecord(
        method="successive_halving",
        seeds=[0],
        budgets=[10, 20],
        halving_rate=2,
        candidates=[
            Candidate(config={"learning_rate": 1e-3, "weight_decay": 0.0}, scores=[[0.5], [0.6]]),
            Candidate(config={"learning_rate": 1e-4, "weight_decay": 0.0}, scores=[[0.7], [0.8]]),
            Candidate(config={"learning_rate": 1e-5, "weight_decay": 0.0}, scores=[[0.2]]),
        ],
        chosen=1,
        wall_s=3.0,
    )
    cells = [
        _cell(
            "m",
            "pretrained",
            0,
            0.8,
            search=search,
            convergence=Convergence(flattened=False, late_gain=0.05, tolerance=0.01),
        ),
        _cell(
            "m",
            "pretrained",
            1,
            0.8,
            search=search,
            convergence=Convergence(flattened=True, late_gain=0.0, tolerance=0.01),
        ),
    ]
    (group,) = _groups(cells)
    assert group.unflattened == 1 and group.tolerance == 0.01
    assert group.chosen_configs == [{"learning_rate": 1e-4, "weight_decay": 0.0}]
    assert group.search_spread == (3, pytest.approx(0.5))


def test_replicates_resample_test_examples_when_predictions_reproduce_the_metric():
    cells = [_cell("a", "pretrained", s, score) for s, score in enumerate((0.80, 0.82, 0.84))]
    cells += [
        _cell("b", "pretrained", 0, 0.70, predictions=False),
        _cell("b", "pretrained", 1, 0.72, predictions=False),
    ]
    bad = _cell("c", "pretrained", 0, 0.90)
    bad = bad.model_copy(update={"metrics": {"accuracy": 0.91}})  # predictions no longer give back the metric
    replicates = task_replicates(_groups(cells + [bad]), n_boot=400)
    by_model = {key.model: rep for key, rep in replicates.items()}
    assert by_model["a"].method == EXAMPLE_RESAMPLING
    assert by_model["b"].method == by_model["c"].method == SEED_RESAMPLING
    assert by_model["a"].values.mean() == pytest.approx(0.82, abs=0.01)
    assert 0.01 < by_model["a"].values.std() < 0.05  # seeds and 200 test examples both move it
    assert np.all(by_model["c"].values == 0.91)  # one seed, no usable predictions: no spread to resample


def test_a_groups_replicates_do_not_depend_on_the_other_groups_passed():
    cells = [_cell("a", "pretrained", s, 0.8 + 0.01 * s) for s in range(3)]
    others = [_cell("b", "pretrained", s, 0.6) for s in range(3)]
    alone = task_replicates(_groups(cells), n_boot=100)
    together = task_replicates(_groups(cells + others), n_boot=100)
    (key,) = alone
    assert np.array_equal(alone[key].values, together[key].values)
    assert np.array_equal(together[key].values, task_replicates(_groups(cells + others), n_boot=100)[key].values)


def test_compare_pairs_examples_when_both_have_predictions_and_falls_back_to_welch():
    strong = [_cell("a", "pretrained", s, 0.90 + 0.005 * s) for s in range(3)]
    weak = [_cell("a", "scratch", s, 0.60 + 0.005 * s) for s in range(3)]
    close = [_cell("b", "pretrained", s, 0.90 + 0.005 * s, predictions=False) for s in range(3)]
    groups = group_results(strong + weak + close)
    replicates = suite_replicates(groups, n_boot=300)
    a, a_scratch, b = (groups[key] for key in sorted(groups, key=lambda k: (k.model, k.init)))
    gain = compare(a, a_scratch, replicates)
    assert gain.method == EXAMPLE_RESAMPLING and gain.separable is True
    assert gain.estimate == pytest.approx(0.30) and gain.low < 0.30 < gain.high
    tie = compare(a, b, replicates)
    assert tie.method == WELCH and tie.separable is False and tie.estimate == pytest.approx(0.0)


def _searched(chosen_at_edge: list[str] | None, learning_rates=(1e-4, 3e-4, 1e-3), chosen: int = 0):
    candidates = [
        Candidate(config={"learning_rate": lr, "weight_decay": 0.01}, scores=[[0.5]]) for lr in learning_rates
    ]
    search = SearchRecord(
        method="successive_halving",
        seeds=[0],
        budgets=[10],
        halving_rate=3,
        candidates=candidates,
        chosen=chosen,
        wall_s=1.0,
        chosen_at_edge=chosen_at_edge,
    )
    return group_results([make_result(search=search)])


def test_edge_choices_read_the_record_else_the_candidates():
    (recorded,) = _searched(["weight_decay"]).values()
    assert recorded.edge_choices == ["weight_decay"]  # as the search recorded it, after any extension
    (at_lower,) = _searched(None, chosen=0).values()
    (inside,) = _searched(None, chosen=1).values()
    (at_upper,) = _searched(None, chosen=2).values()
    assert at_lower.edge_choices == ["learning_rate"] and at_upper.edge_choices == ["learning_rate"]
    assert inside.edge_choices == []  # weight decay has one value: not a searched dimension
