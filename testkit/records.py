"""Minimal valid result records for tests that need a result file but not a training run."""

from __future__ import annotations

from benchmark.results.schema import CellResult


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
