"""A scratch twin may train longer than the pretrained checkpoint (`scratch_epochs`), and only its cells' budget,
and so their fingerprint, change with it."""

from __future__ import annotations

from benchmark.engine.settings import Layer, RunSettings
from benchmark.specs.schema import TaskSpec, TrainingSpec

TASK = TaskSpec(task="t", modality="vision", dataset={"path": "imagefolder", "input_column": "image"})


def _settings(command_line: TrainingSpec | None = None, **suite_training) -> RunSettings:
    suite = Layer(training=TrainingSpec(**suite_training))
    return RunSettings(suite=suite, command_line=Layer(training=command_line or TrainingSpec()))


def test_scratch_epochs_is_the_scratch_twins_budget_only():
    settings = _settings(epochs=5, scratch_epochs=12)
    assert settings.training(TASK, "pretrained").epochs == 5
    assert settings.training(TASK, "scratch").epochs == 12
    assert settings.training(TASK, "scratch").scratch_epochs is None  # resolved: the budget this init trains with


def test_without_scratch_epochs_both_inits_share_the_budget():
    settings = _settings(epochs=5)
    assert settings.training(TASK, "scratch").epochs == settings.training(TASK, "pretrained").epochs == 5


def test_a_later_layers_epochs_set_both_budgets_unless_it_sets_the_scratch_one_too():
    settings = _settings(TrainingSpec(epochs=2), epochs=5, scratch_epochs=12)  # --epochs 2: twins included
    assert settings.training(TASK, "pretrained").epochs == settings.training(TASK, "scratch").epochs == 2
    settings = _settings(TrainingSpec(epochs=2, scratch_epochs=3), epochs=5, scratch_epochs=12)
    assert (settings.training(TASK, "pretrained").epochs, settings.training(TASK, "scratch").epochs) == (2, 3)
    settings = _settings(TrainingSpec(scratch_epochs=3), epochs=5, scratch_epochs=12)  # the twins' budget alone
    assert (settings.training(TASK, "pretrained").epochs, settings.training(TASK, "scratch").epochs) == (5, 3)


def test_a_suites_epochs_reset_the_scratch_budget_its_tasks_set():
    task = TASK.model_copy(update={"training": TrainingSpec(epochs=4, scratch_epochs=9)})
    assert RunSettings().training(task, "scratch").epochs == 9
    settings = _settings(epochs=5)  # the suite decides over its tasks: 5 for both inits
    assert settings.training(task, "scratch").epochs == settings.training(task, "pretrained").epochs == 5
