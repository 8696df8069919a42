"""Minimal valid result records for tests that need a result file but not a training run."""

from __future__ import annotations

from benchmark.results.schema import CellResult, Setup


def make_result(**overrides) -> CellResult:
    """An `ok` fine-tune record of model m on task t (seed 0, accuracy 0.5); keyword arguments override fields."""
    fields = dict(
        suite="s",
        model="m",
        init="pretrained",
        task="t",
        modality="vision",
        protocol="finetune",
        seed=0,
        status="ok",
        main_metric="accuracy",
        metrics={"accuracy": 0.5},
    )
    return CellResult(**{**fields, **overrides})


def make_setup(optimizer_steps: int, steps_per_epoch: int = 8) -> Setup:
    """A CPU run's setup that trained `optimizer_steps` steps of batch 16 on 128 examples (100 validation, 200
    test, 10 classes)."""
    return Setup(
        device="cpu",
        hardware="test",
        precision="no",
        world_size=1,
        batch_size=16,
        gradient_accumulation_steps=1,
        epochs=optimizer_steps / steps_per_epoch,
        learning_rate=1e-3,
        weight_decay=0.01,
        optimizer_steps=optimizer_steps,
        num_train=128,
        num_validation=100,
        num_test=200,
        num_test_scored=200,
        num_labels=10,
    )
