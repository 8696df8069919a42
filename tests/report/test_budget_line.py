"""The page says where scratch twins trained another budget than their task's checkpoints."""

from __future__ import annotations

from benchmark.report.leaderboard import _budget_line
from benchmark.results.aggregate import group_results
from benchmark.results.schema import Setup
from testkit.records import make_result


def _setup(steps: int) -> Setup:
    return Setup(
        device="cpu",
        hardware="test",
        precision="no",
        world_size=1,
        batch_size=16,
        gradient_accumulation_steps=1,
        epochs=steps / 8,
        learning_rate=1e-3,
        weight_decay=0.01,
        optimizer_steps=steps,
        num_train=128,
        num_validation=100,
        num_test=200,
        num_test_scored=200,
        num_labels=10,
    )


def _groups(scratch_steps: int):
    results = [make_result(model="m", init="pretrained", task="t", seed=seed, setup=_setup(96)) for seed in (0, 1)] + [
        make_result(model="m__scratch", init="scratch", task="t", seed=seed, setup=_setup(scratch_steps))
        for seed in (0, 1)
    ]
    return list(group_results(results).values())


def test_twins_with_a_longer_budget_are_named_with_both_budgets():
    line = _budget_line(_groups(scratch_steps=160))
    assert "differ by init" in line and "t: pretrained 96, scratch 160" in line


def test_equal_budgets_say_so():
    assert "as many optimizer steps" in _budget_line(_groups(scratch_steps=96))


def test_no_fine_tune_no_line():
    probes = [make_result(protocol="linear_probe", setup=_setup(96))]
    assert _budget_line(list(group_results(probes).values())) is None
