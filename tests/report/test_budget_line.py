"""The page says where scratch twins trained another budget than their task's checkpoints, and how many seeds were
retrained at a longer budget because their curve had not flattened."""

from __future__ import annotations

from benchmark.report.leaderboard import _budget_line, _extension_line
from benchmark.results.aggregate import group_results
from benchmark.results.schema import BudgetExtension, Convergence, SearchRecord
from testkit.records import make_result, make_setup


def _groups(scratch_steps: int):
    pretrained = [make_result(model="m", task="t", seed=seed, setup=make_setup(96)) for seed in (0, 1)]
    scratch = [
        make_result(model="m__scratch", init="scratch", task="t", seed=seed, setup=make_setup(scratch_steps))
        for seed in (0, 1)
    ]
    results = pretrained + scratch
    return list(group_results(results).values())


def test_twins_with_a_longer_budget_are_named_with_both_budgets():
    line = _budget_line(_groups(scratch_steps=160))
    assert "differ by init" in line and "t: pretrained 96, scratch 160" in line


def test_equal_budgets_say_so():
    assert "as many optimizer steps" in _budget_line(_groups(scratch_steps=96))


def test_no_fine_tune_no_line():
    probes = [make_result(protocol="linear_probe", setup=make_setup(96))]
    assert _budget_line(list(group_results(probes).values())) is None


def _extended(seed: int, doublings: int, flattened: bool):
    """A pretrained seed retrained `doublings` times past its declared 96 steps; flattened or not at the end."""
    extensions = [
        BudgetExtension(epochs=12 * 2**k, optimizer_steps=96 * 2**k, validation_score=0.5, convergence=None)
        for k in range(1, doublings + 1)
    ]
    search = SearchRecord(
        method="successive_halving", seeds=[0, 1], budgets=[32, 96], halving_rate=3, candidates=[], chosen=0, wall_s=1
    )
    return make_result(
        model="m",
        init="pretrained",
        task="t",
        seed=seed,
        setup=make_setup(96 * 2**doublings),
        search=search,
        budget_extensions=extensions,
        convergence=Convergence(flattened=flattened, late_gain=0.0, tolerance=0.01),
    )


def test_retrained_seeds_are_counted_and_budgets_stay_the_declared_ones():
    results = [_extended(0, doublings=2, flattened=True), _extended(1, doublings=0, flattened=True)]
    results += [make_result(model="m__scratch", init="scratch", task="t", seed=s, setup=make_setup(96)) for s in (0, 1)]
    groups = list(group_results(results).values())
    line = _extension_line(groups)
    assert "pretrained 1 of 2 seeds (up to 4x the budget; 1 then flattened)" in line and "scratch" not in line
    assert "as many optimizer steps" in _budget_line(groups)  # 384 steps trained, 96 declared: no init differs


def test_no_retraining_no_line():
    assert _extension_line(_groups(scratch_steps=160)) is None
