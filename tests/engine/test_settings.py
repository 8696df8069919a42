"""One precedence for every setting, command line > suite > task > defaults: training fields, sample caps, grids
(replaced whole; a pinned learning rate replaces only the learning rates) and search rules (those a layer names)."""

from __future__ import annotations

import pytest

from benchmark.data.loading import SplitCaps
from benchmark.engine.search import DEFAULT_GRIDS, DEFAULT_PROBE_GRID
from benchmark.engine.settings import DEFAULT_TRAINING, Layer, RunSettings
from benchmark.specs.layers import PRECEDENCE, layered
from benchmark.specs.schema import GridSpec, ModelSpec, SearchSpec, TaskSpec, TrainingSpec

MODEL = ModelSpec(id="m", library="timm", checkpoint="resnet18", modality="vision")
DATASET = {"path": "imagefolder", "input_column": "image"}


def _task(**fields) -> TaskSpec:
    return TaskSpec(task="t", modality="vision", dataset=DATASET, **fields)


def test_layered_lets_the_highest_layer_that_sets_a_name_decide():
    assert PRECEDENCE == ("defaults", "task", "suite", "command_line")
    defaults = {"a": 0, "b": 0, "c": 0, "d": 0}
    merged = layered(defaults, task={"b": 1, "c": 1, "d": 1}, suite={"c": 2, "d": 2}, command_line={"d": 3})
    assert merged == {"a": 0, "b": 1, "c": 2, "d": 3}
    assert layered(defaults, command_line={"a": None}) == {**defaults, "a": None}  # an explicit None unsets
    assert layered(defaults) == defaults and layered(defaults) is not defaults


# (task fields, suite layer, command-line layer) -> the resolved training fields checked
TRAINING_CASES = {
    "defaults only": ({}, Layer(), Layer(), {"epochs": 3, "batch_size": 32, "max_steps": None}),
    "task only": ({"training": TrainingSpec(epochs=4, batch_size=8)}, Layer(), Layer(), {"epochs": 4, "batch_size": 8}),
    "suite over task": (
        {"training": TrainingSpec(epochs=4, batch_size=8)},
        Layer(training=TrainingSpec(epochs=6)),
        Layer(),
        {"epochs": 6, "batch_size": 8},
    ),
    "command line over both": (
        {"training": TrainingSpec(epochs=4, batch_size=8)},
        Layer(training=TrainingSpec(epochs=6, batch_size=16)),
        Layer(training=TrainingSpec(batch_size=2, max_steps=5)),
        {"epochs": 6, "batch_size": 2, "max_steps": 5, "probe_epochs": 30},
    ),
}


@pytest.mark.parametrize("case", TRAINING_CASES, ids=list(TRAINING_CASES))
def test_each_training_field_follows_the_precedence(case):
    task_fields, suite, command_line, expected = TRAINING_CASES[case]
    training = RunSettings(suite=suite, command_line=command_line).training(_task(**task_fields))
    assert {name: getattr(training, name) for name in expected} == expected


def test_training_defaults_fill_every_field_no_layer_sets():
    assert RunSettings().training(_task()) == DEFAULT_TRAINING


CAP_CASES = {
    "defaults only": ({}, SplitCaps(), SplitCaps(), SplitCaps()),
    "task only": ({"max_train_samples": 50, "max_eval_samples": 40}, SplitCaps(), SplitCaps(), SplitCaps(50, None, 40)),
    "suite over task": (  # the *_fast suites cap below their tasks' own caps
        {"max_train_samples": 50, "max_eval_samples": 40},
        SplitCaps(train=10),
        SplitCaps(),
        SplitCaps(10, None, 40),
    ),
    "command line over both": (
        {"max_train_samples": 50, "max_validation_samples": 30},
        SplitCaps(train=10, validation=20),
        SplitCaps(train=5),
        SplitCaps(5, 20, None),
    ),
}


@pytest.mark.parametrize("case", CAP_CASES, ids=list(CAP_CASES))
def test_each_splits_cap_follows_the_precedence(case):
    task_fields, suite, command_line, expected = CAP_CASES[case]
    settings = RunSettings(suite=Layer(caps=suite), command_line=Layer(caps=command_line))
    assert settings.caps(_task(**task_fields)) == expected


TASK_GRID = GridSpec(learning_rate=[0.1, 0.2], weight_decay=[0.0, 0.5])
SUITE_GRID = GridSpec(learning_rate=[0.3])  # its weight decay is the GridSpec default: replaced whole, not merged
GRID_CASES = {
    "defaults only": (None, Layer(), Layer(), DEFAULT_GRIDS["timm", "pretrained"]),
    "task only": (SearchSpec(finetune=TASK_GRID), Layer(), Layer(), TASK_GRID),
    "suite replaces the task's grid whole": (
        SearchSpec(finetune=TASK_GRID),
        Layer(search=SearchSpec(finetune=SUITE_GRID)),
        Layer(),
        SUITE_GRID,
    ),
    "a suite grid of another init leaves the task's": (
        SearchSpec(finetune=TASK_GRID),
        Layer(search=SearchSpec(finetune_scratch=SUITE_GRID)),
        Layer(),
        TASK_GRID,
    ),
    "a pinned learning rate replaces only the learning rates": (
        SearchSpec(finetune=TASK_GRID),
        Layer(),
        Layer(learning_rate=0.01),
        GridSpec(learning_rate=[0.01], weight_decay=[0.0, 0.5]),
    ),
    "a pinned learning rate over the suite's grid and the default": (
        None,
        Layer(search=SearchSpec(finetune=SUITE_GRID)),
        Layer(learning_rate=0.01, probe_learning_rate=0.5),
        GridSpec(learning_rate=[0.01], weight_decay=SUITE_GRID.weight_decay),
    ),
}


@pytest.mark.parametrize("case", GRID_CASES, ids=list(GRID_CASES))
def test_each_grid_follows_the_precedence(case):
    task_search, suite, command_line, expected = GRID_CASES[case]
    settings = RunSettings(suite=suite, command_line=command_line)
    assert settings.grid(MODEL, "pretrained", _task(search=task_search), "finetune") == expected


def test_grids_are_per_protocol_and_init_and_probes_pin_their_own_rate():
    task = _task(search=SearchSpec(finetune_scratch=TASK_GRID))
    settings = RunSettings(command_line=Layer(learning_rate=0.01, probe_learning_rate=0.5))
    assert settings.grid(MODEL, "scratch", task, "finetune") == GridSpec(learning_rate=[0.01], weight_decay=[0.0, 0.5])
    probe = settings.grid(MODEL, "scratch", task, "linear_probe")
    assert probe == DEFAULT_PROBE_GRID.model_copy(update={"learning_rate": [0.5]})
    assert RunSettings().grid(MODEL, "scratch", _task(), "finetune") == DEFAULT_GRIDS["timm", "scratch"]


RULE_CASES = {
    "defaults only": (None, None, SearchSpec()),
    "task only": (SearchSpec(halving_rate=2, noise_z=1.0), None, SearchSpec(halving_rate=2, noise_z=1.0)),
    "the suite's named rules over the task's, the others kept": (
        SearchSpec(halving_rate=2, noise_z=1.0, finetune=TASK_GRID),
        SearchSpec(noise_z=3.0, selection="rank"),
        SearchSpec(halving_rate=2, noise_z=3.0, selection="rank"),
    ),
    "a suite's grid alone names no rule": (
        SearchSpec(max_extensions=0),
        SearchSpec(finetune=SUITE_GRID),
        SearchSpec(max_extensions=0),
    ),
    "a rule set at its default value still decides": (
        SearchSpec(noise_cap=4),
        SearchSpec(noise_cap=2),
        SearchSpec(noise_cap=2),
    ),
}


@pytest.mark.parametrize("case", RULE_CASES, ids=list(RULE_CASES))
def test_each_search_rule_follows_the_precedence(case):
    task_search, suite_search, expected = RULE_CASES[case]
    settings = RunSettings(suite=Layer(search=suite_search))
    rules = settings.search_rules(_task(search=task_search))
    assert rules.model_dump(exclude={"finetune", "finetune_scratch", "linear_probe"}) == expected.model_dump(
        exclude={"finetune", "finetune_scratch", "linear_probe"}
    )
    assert rules.finetune is None  # grids are `grid`'s


def test_a_pretraining_stage_takes_its_own_train_cap_and_the_runs_validation_cap():
    source = _task(max_train_samples=50, max_validation_samples=30, max_eval_samples=20)
    stage = SplitCaps(train=None, test=1)
    assert RunSettings().pretraining_caps(source, stage) == SplitCaps(50, 30, 1)
    settings = RunSettings(suite=Layer(caps=SplitCaps(10, 9, 8)), command_line=Layer(caps=SplitCaps(7, None, 6)))
    assert settings.pretraining_caps(source, stage) == SplitCaps(50, 9, 1)  # the run's train and test caps: targets'
    assert settings.pretraining_caps(source, SplitCaps(train=100, test=1)) == SplitCaps(100, 9, 1)
    settings = RunSettings(command_line=Layer(caps=SplitCaps(validation=4)))
    assert settings.pretraining_caps(source, stage) == SplitCaps(50, 4, 1)
