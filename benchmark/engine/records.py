"""Assemble a cell's result record from what its final run measured, in one place for both protocols."""

from __future__ import annotations

import platform
from dataclasses import dataclass, field

from accelerate import Accelerator

from benchmark.engine.context import RunContext
from benchmark.engine.environment import (
    code_version,
    command_line,
    cpu_model_name,
    cuda_versions,
    dataset_hub_commit,
    distributed_setup,
    gpu_names,
    hardware_name,
    library_versions,
    model_hub_commit,
)
from benchmark.engine.plan import Cell, Group
from benchmark.metrics.compute import compute_metrics
from benchmark.results.schema import (
    BudgetExtension,
    CellResult,
    Convergence,
    CurvePoint,
    Predictions,
    Provenance,
    SampleLog,
    SearchRecord,
)
from benchmark.specs.schema import TrainingSpec

LATE_SHARE = 0.25  # the last quarter of the budget
MIN_TOLERANCE = 0.01
FLOAT_SLACK = 1e-9


@dataclass
class CellOutcome:
    """What one seed's final run of a group measured: the chosen configuration trained on train, traced on
    validation, and scored once on test."""

    cell: Cell
    training: TrainingSpec
    config: dict[str, float]
    validation_metrics: dict[str, float]
    curve: list[dict]
    predicted: list[int]
    references: list[int]
    chance: dict[str, float]  # the majority class of train scored on test, beside the test metrics
    complexity: dict
    timing: dict[str, float]
    batch_size: int
    optimizer_steps: int
    split_sizes: tuple[int, int, int]  # train, validation, test
    num_labels: int
    feature_dim: int | None = None
    batch_sizes_tried: list[int] = field(default_factory=list)
    estimators: dict[str, float | None] = field(default_factory=dict)
    revisions: dict[str, str | None] = field(default_factory=dict)
    validation_chance: dict[str, float] = field(default_factory=dict)  # the same predictor scored on validation
    samples: SampleLog | None = None  # with --log-samples: probabilities and example ids for the sample file
    budget_extensions: list[BudgetExtension] = field(default_factory=list)  # retrainings of an unflattened run


def convergence(curve: list[dict], num_validation: int) -> Convergence:
    """Whether a validation curve had flattened: the best score in the last quarter of the steps improved on
    the best score before it by at most the tolerance, the larger of 0.01 and one validation example."""
    tolerance = max(MIN_TOLERANCE, 1 / max(1, num_validation))
    if not curve:
        return Convergence(flattened=False, late_gain=0.0, tolerance=tolerance)
    last_step = curve[-1]["step"]
    early = [p["score"] for p in curve if p["step"] <= (1 - LATE_SHARE) * last_step]
    late = [p["score"] for p in curve if p["step"] > (1 - LATE_SHARE) * last_step]
    if not early:  # too few evaluations to tell
        return Convergence(flattened=False, late_gain=0.0, tolerance=tolerance)
    gain = max(late, default=max(early)) - max(early)
    # scores are fractions of the validation examples: a gain of exactly one example must compare equal to the
    # tolerance, not above it by a float's rounding (0.46 - 0.4466... > 1/75)
    flattened = gain <= tolerance + FLOAT_SLACK
    return Convergence(flattened=flattened, late_gain=round(gain, 6), tolerance=round(tolerance, 6))


def cell_result(
    outcome: CellOutcome, accelerator: Accelerator, specs: dict, search: SearchRecord | None = None
) -> CellResult:
    """The result record of a finished cell (a fine-tune's search record is added once the whole group is done)."""
    cell = outcome.cell
    num_train, num_validation, num_test = outcome.split_sizes
    return CellResult(
        **cell.identity(),
        status="ok",
        metrics=compute_metrics(cell.task.metrics, outcome.predicted, outcome.references),
        validation_metrics=outcome.validation_metrics,
        chance=outcome.chance,
        validation_chance=outcome.validation_chance,
        curve=[CurvePoint(**point) for point in outcome.curve],
        convergence=convergence(outcome.curve, num_validation),
        budget_extensions=outcome.budget_extensions,
        search=search,
        predictions=Predictions(predicted=outcome.predicted, references=outcome.references, samples=outcome.samples),
        timing=outcome.timing,
        complexity=outcome.complexity,
        estimators=outcome.estimators,
        setup={
            "device": str(accelerator.device),
            "hardware": hardware_name(accelerator.device),
            "precision": accelerator.mixed_precision,
            "world_size": accelerator.num_processes,
            "batch_size": outcome.batch_size,
            "gradient_accumulation_steps": outcome.training.gradient_accumulation_steps,
            "epochs": outcome.training.probe_epochs if cell.protocol == "linear_probe" else outcome.training.epochs,
            "learning_rate": outcome.config["learning_rate"],
            "weight_decay": outcome.config["weight_decay"],
            "optimizer_steps": outcome.optimizer_steps,
            "num_train": num_train,
            "num_validation": num_validation,
            "num_test": num_test,
            "num_test_scored": len(outcome.predicted),
            "batch_sizes_tried": ",".join(map(str, outcome.batch_sizes_tried)) or None,
            "num_labels": outcome.num_labels,
            "feature_dim": outcome.feature_dim,
        },
        versions=library_versions(),
        revisions=outcome.revisions,
        specs=specs,
        provenance=provenance(cell, accelerator),
    )


def provenance(cell: Cell, accelerator: Accelerator) -> Provenance:
    """What produced a cell's result: machine, code version and command line, distributed setup, and the hub
    commits of its checkpoint and dataset (None where the hub cache does not know them)."""
    cuda, cudnn = cuda_versions()
    commit, dirty = code_version()
    model, dataset = cell.model, cell.task.dataset
    return Provenance(
        cpu=cpu_model_name(),
        gpus=gpu_names(),
        cuda=cuda,
        cudnn=cudnn,
        platform=platform.platform(),
        command=command_line(),
        code_commit=commit,
        code_dirty=dirty,
        model_commit=model_hub_commit(model.library, model.checkpoint, model.revision),
        dataset_commit=dataset_hub_commit(dataset.path, dataset.revision),
        **distributed_setup(accelerator),
    )


def group_specs(group: Group, context: RunContext) -> dict:
    """The resolved specs a group ran with, kept in each of its result records."""
    return {
        "task": group.task.model_dump(),
        "model": group.model.model_dump(),
        "training": context.settings.training(group.task, group.init).model_dump(),
        "score_weights": dict(context.settings.score_weights),
    }
