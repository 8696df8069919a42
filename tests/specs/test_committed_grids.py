"""The committed suites (the demo and the zoo) search at least three values in every searched dimension, for every
init and protocol, so that a choice can fall inside its grid (#23), and give every task its own budgets per init."""

from __future__ import annotations

import pytest

from benchmark.engine.search import DEFAULT_PROBE_GRID
from benchmark.specs.registry import load_registry
from benchmark.utils.paths import DEFAULT_TASKS_DIR

COMMITTED_SUITES = ("demo", "zoo_disjoint")


@pytest.fixture(scope="module", params=COMMITTED_SUITES)
def suite(request):
    return load_registry(DEFAULT_TASKS_DIR).resolve(request.param)


def _searched(grid) -> dict[str, int]:
    sizes = {"learning_rate": len(grid.learning_rate), "weight_decay": len(grid.weight_decay)}
    return {name: size for name, size in sizes.items() if size > 1}


def test_every_searched_dimension_has_three_values(suite):
    for task in suite.tasks:
        for name in ("finetune", "finetune_scratch"):
            grid = getattr(task.search, name)
            assert grid is not None, f"{task.task}: no {name} grid"
            assert all(size >= 3 for size in _searched(grid).values()), f"{task.task} {name}: {_searched(grid)}"
    assert all(size >= 3 for size in _searched(DEFAULT_PROBE_GRID).values()), _searched(DEFAULT_PROBE_GRID)


def test_every_task_declares_a_budget_and_a_longer_one_for_its_scratch_twins(suite):
    for task in suite.tasks:
        assert task.training.epochs and task.training.scratch_epochs, task.task
        assert task.training.scratch_epochs >= task.training.epochs, task.task


def test_every_task_searches_within_the_noise_and_extends_an_edge_choice(suite):
    for task in suite.tasks:
        assert task.search.selection == "noise", task.task
        assert task.search.max_extensions >= 1, task.task
