"""The rebuilt zoo's suite (`tasks/suites/zoo_disjoint.yaml`, issue #22) against its design: equal source budgets
per modality, three pretraining seeds, enough targets and sources, controls, and one task file per built task.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

from benchmark.assets import zoo_data
from benchmark.estimators.power import min_detectable_rho_simulated
from benchmark.specs.registry import load_registry
from benchmark.utils.paths import DEFAULT_TASKS_DIR

SUITE = "zoo_disjoint"
MIN_TARGETS = {"vision": 4, "text": 4, "audio": 3}


@pytest.fixture(scope="module")
def zoo():
    registry = load_registry(DEFAULT_TASKS_DIR)
    return registry, registry.resolve(SUITE)


def _staged(suite) -> dict[str, list]:
    by_modality = defaultdict(list)
    for model in suite.models:  # resolved: catalogue references and `base:` entries as full specs
        if model.pretrain is not None:
            by_modality[model.modality].append(model)
    return by_modality


def test_every_pretraining_stage_of_a_modality_has_the_same_source_budget(zoo) -> None:
    """Same labelled examples, optimizer steps, batch, rate and initialisation for every source of a modality,
    and the examples are exactly the source's built train split (so the cap neither cuts nor pads)."""
    _, suite = zoo
    staged = _staged(suite)
    assert sorted(staged) == sorted(MIN_TARGETS)
    for modality, models in staged.items():
        budgets = {
            (m.pretrain.max_train_samples, m.pretrain.max_steps, m.pretrain.epochs, m.pretrain.batch_size,
             m.pretrain.learning_rate, m.pretrain.init, m.checkpoint)
            for m in models
        }  # fmt: skip
        assert len(budgets) == 1, f"{modality}: {sorted(budgets)}"
        (budget,) = budgets
        assert budget[0] == zoo_data.MODALITIES[modality].budget.train and budget[1] is not None


def test_three_pretraining_seeds_paired_with_the_fine_tune_seeds(zoo) -> None:
    _, suite = zoo
    for model in (m for models in _staged(suite).values() for m in models):
        assert len(model.pretrain.seeds) >= 3
        assert [model.pretrain.seed_for(s) for s in suite.spec.seeds] == list(suite.spec.seeds)


def test_targets_sources_and_controls_follow_the_built_design(zoo) -> None:
    """Targets are the builders' targets; every source and control is pretrained on once and is no target."""
    registry, suite = zoo
    for modality, spec in zoo_data.MODALITIES.items():
        targets = [t for t in suite.spec.tasks if registry.tasks[t].modality == modality]
        assert sorted(targets) == sorted(spec.targets) and len(targets) >= MIN_TARGETS[modality]
        sources = [m.pretrain.task for m in _staged(suite)[modality]]
        assert sorted(sources) == sorted([*spec.sources, *spec.controls]) and len(spec.sources) >= 6
        assert not set(sources) & set(targets)
        assert len(spec.controls) >= 1


def test_every_built_task_has_its_task_file(zoo) -> None:
    registry, _ = zoo
    for modality, spec in zoo_data.MODALITIES.items():
        for name in [*spec.targets, *spec.sources, *spec.controls]:
            task = registry.tasks[name]
            assert task.modality == modality and task.dataset.validation_split == "validation"
            assert f"{{assets}}/data/zoo_{modality}/{name}" in str(task.dataset.model_dump())


def test_the_design_states_its_power(zoo) -> None:
    """The suite's pairs per target (its checkpoints pretrained on a source, the controls left out): the mean
    within-target rho detectable at 80 % power, 5 % one-sided, is below 0.7 in every modality, and more pairs
    would lower it (the figure the README states comes from the same function)."""
    registry, suite = zoo
    for modality, models in _staged(suite).items():
        pairs = sum(not m.pretrain.task.startswith("ctl_") for m in models)
        targets = sum(registry.tasks[t].modality == modality for t in suite.spec.tasks)
        detectable = min_detectable_rho_simulated([pairs] * targets, n_sim=2000)
        assert detectable < 0.7, modality
        assert min_detectable_rho_simulated([pairs + 4] * targets, n_sim=2000) < detectable
