"""A scratch twin may train longer than the pretrained checkpoint (`scratch_epochs`), and only its cells' budget,
and so their fingerprint, change with it."""

from __future__ import annotations

from benchmark.engine.context import RunContext
from benchmark.specs.schema import TaskSpec, TrainingSpec

TASK = TaskSpec(task="t", modality="vision", dataset={"path": "imagefolder", "input_column": "image"})


def _context(**suite_training) -> RunContext:
    return RunContext(
        accelerator=None, assets_dir=None, feature_cache=None, suite_training=TrainingSpec(**suite_training)
    )


def test_scratch_epochs_is_the_scratch_twins_budget_only():
    context = _context(epochs=5, scratch_epochs=12)
    assert context.training(TASK, "pretrained").epochs == 5
    assert context.training(TASK, "scratch").epochs == 12
    assert context.training(TASK, "scratch").scratch_epochs is None  # resolved: the budget this init trains with


def test_without_scratch_epochs_both_inits_share_the_budget():
    context = _context(epochs=5)
    assert context.training(TASK, "scratch").epochs == context.training(TASK, "pretrained").epochs == 5


def test_a_later_layers_epochs_set_both_budgets_unless_it_sets_the_scratch_one_too():
    context = _context(epochs=5, scratch_epochs=12)
    context.overrides = TrainingSpec(epochs=2)  # --epochs 2: a short run, twins included
    assert context.training(TASK, "pretrained").epochs == context.training(TASK, "scratch").epochs == 2
    context.overrides = TrainingSpec(epochs=2, scratch_epochs=3)
    assert (context.training(TASK, "pretrained").epochs, context.training(TASK, "scratch").epochs) == (2, 3)
    context.overrides = TrainingSpec(scratch_epochs=3)  # the twins' budget alone
    assert (context.training(TASK, "pretrained").epochs, context.training(TASK, "scratch").epochs) == (5, 3)
