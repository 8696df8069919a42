"""A chosen fine-tune run whose validation curve has not flattened is trained again at twice the budget, up to the
task's `budget_doublings`, and every retraining is recorded; without doublings it is only marked. Runs a tiny BERT
for real; only the flattening verdict is made up (flattened once a run trained `flat_from` steps)."""

from __future__ import annotations

import dataclasses

import pytest
from accelerate import Accelerator

from benchmark.engine import finetune, records
from benchmark.engine.context import RunContext
from benchmark.engine.plan import plan_groups
from benchmark.engine.settings import Layer, RunSettings
from benchmark.results.schema import Convergence
from benchmark.specs.registry import collect_registry
from benchmark.specs.schema import GridSpec, SearchSpec, TrainingSpec

ONE_CONFIG = SearchSpec(finetune=GridSpec(learning_rate=[1e-3]), max_extensions=0)


def _run_group(tiny_tasks, tiny_assets, tmp_path, training: TrainingSpec) -> list:
    registry, _ = collect_registry(tiny_tasks)
    group = next(
        g
        for g in plan_groups(registry.resolve("tiny"))
        if g.model.id == "tiny-bert" and g.protocol == "finetune" and g.init == "pretrained"
    )
    group = dataclasses.replace(group, task=group.task.model_copy(update={"search": None}), seeds=(0,))
    settings = RunSettings(suite=Layer(training=training, search=ONE_CONFIG), assets_dir=tiny_assets, work_dir=tmp_path)
    return finetune.FinetuneSearch(group, RunContext(Accelerator(cpu=True), settings)).run()


def _flattened_from(monkeypatch, flat_from: int) -> None:
    """A curve counts as flattened once its run trained at least `flat_from` optimizer steps."""

    def verdict(curve, num_validation):
        return Convergence(flattened=curve[-1]["step"] >= flat_from, late_gain=0.0, tolerance=0.01)

    monkeypatch.setattr(finetune, "convergence", verdict)  # the doubling decision
    monkeypatch.setattr(records, "convergence", verdict)  # the tested run's mark in its record


@pytest.fixture
def base_steps(tiny_tasks, tiny_assets, tmp_path) -> int:
    """Optimizer steps of the declared budget (one epoch), from a run without doublings."""
    (result,) = _run_group(tiny_tasks, tiny_assets, tmp_path / "base", TrainingSpec(epochs=1, batch_size=8))
    return result.setup.optimizer_steps


def test_an_unflattened_run_is_retrained_at_twice_the_budget_until_it_flattens(
    tiny_tasks, tiny_assets, tmp_path, monkeypatch, base_steps
):
    _flattened_from(monkeypatch, 4 * base_steps)
    training = TrainingSpec(epochs=1, batch_size=8, budget_doublings=3)
    (result,) = _run_group(tiny_tasks, tiny_assets, tmp_path, training)
    extensions = result.budget_extensions
    assert [e.epochs for e in extensions] == [2, 4]  # flattened at four times the budget: no third doubling
    assert [e.optimizer_steps for e in extensions] == [2 * base_steps, 4 * base_steps]
    assert [e.convergence.flattened for e in extensions] == [False, True]
    # the tested run is the last one: its budget, curve and validation score
    assert (result.setup.epochs, result.setup.optimizer_steps) == (4, 4 * base_steps)
    assert result.curve[-1].step == 4 * base_steps
    assert result.validation_metrics[result.main_metric] == extensions[-1].validation_score


def test_the_declared_maximum_stops_the_doublings_and_the_run_stays_marked(
    tiny_tasks, tiny_assets, tmp_path, monkeypatch, base_steps
):
    _flattened_from(monkeypatch, 100 * base_steps)  # never within reach
    training = TrainingSpec(epochs=1, batch_size=8, budget_doublings=1)
    (result,) = _run_group(tiny_tasks, tiny_assets, tmp_path, training)
    assert [e.epochs for e in result.budget_extensions] == [2]
    assert result.setup.optimizer_steps == 2 * base_steps
    assert result.convergence.flattened is False  # marked, as without doublings


def test_without_doublings_an_unflattened_run_is_only_marked(
    tiny_tasks, tiny_assets, tmp_path, monkeypatch, base_steps
):
    _flattened_from(monkeypatch, 100 * base_steps)
    (result,) = _run_group(tiny_tasks, tiny_assets, tmp_path, TrainingSpec(epochs=1, batch_size=8))
    assert result.budget_extensions == [] and result.setup.optimizer_steps == base_steps
    assert result.convergence.flattened is False


def test_a_retraining_gives_the_same_run_as_training_that_budget_directly(
    tiny_tasks, tiny_assets, tmp_path, monkeypatch, base_steps
):
    _flattened_from(monkeypatch, 2 * base_steps)
    doubled = TrainingSpec(epochs=1, batch_size=8, budget_doublings=1)
    (extended,) = _run_group(tiny_tasks, tiny_assets, tmp_path / "extended", doubled)
    (direct,) = _run_group(tiny_tasks, tiny_assets, tmp_path / "direct", TrainingSpec(epochs=2, batch_size=8))
    assert extended.metrics == direct.metrics
    assert [p.score for p in extended.curve] == [p.score for p in direct.curve]
