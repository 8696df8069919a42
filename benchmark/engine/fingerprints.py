"""What determines a cell's numbers, resolved from the run's specs and options: its fingerprint.

A cell's settings are the resolved task (its dataset with revision, splits, columns, metrics, preprocessing; not
its description, citation, licence or version, which change no number), the resolved model (checkpoint, revision,
dtype, pretraining stage and the source task it trains on; not its notes), the init, protocol, seed and the group's
seeds (a group's configuration is chosen on their mean), the effective sample caps, the training settings the
protocol reads, the searched grid and the search rules, and the mixed precision. Spec fields at their default
values are left out, so a release that adds a field with a default that keeps the old behaviour keeps every
fingerprint; a change that alters numbers bumps `benchmark.results.fingerprint.CODE_VERSION` instead.

Machine facts (device, thread count, world size) and hub commits resolved at run time are recorded in the result's
provenance, not here: they describe where a result was computed, not which question it answers.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from benchmark.engine.context import RunContext
from benchmark.engine.plan import Group
from benchmark.engine.pretrain import pretrain_key
from benchmark.engine.settings import SEARCH_RULES
from benchmark.results.fingerprint import make_fingerprint
from benchmark.results.schema import Fingerprint
from benchmark.specs.schema import ModelSpec, TaskSpec

TASK_NOTES = {"description", "citation", "licence", "version", "max_train_samples"}
TASK_NOTES |= {"max_validation_samples", "max_eval_samples"}  # the effective caps are recorded under `caps`
MODEL_NOTES = {"pretraining_data", "pretraining_sample", "source_accuracy", "source_accuracy_reference"}
TRAINING_READ_BY = {
    "finetune": (
        "epochs",
        "max_steps",
        "budget_doublings",
        "batch_size",
        "warmup_ratio",
        "gradient_accumulation_steps",
        "evals_per_epoch",
    ),
    "linear_probe": ("probe_epochs", "batch_size", "warmup_ratio"),
}


def group_fingerprints(group: Group, context: RunContext, source_tasks: dict[str, TaskSpec]) -> list[Fingerprint]:
    """The fingerprint of each of a group's cells, in seed order."""
    shared = group_settings(group, context, source_tasks)
    return [make_fingerprint({**shared, "seed": cell.seed}) for cell in group.cells()]


def group_settings(group: Group, context: RunContext, source_tasks: dict[str, TaskSpec]) -> dict[str, Any]:
    """Every setting the cells of a group share (all but the seed), nested by part."""
    task, protocol, settings = group.task, group.protocol, context.settings
    training = settings.training(task, group.init).model_dump(mode="json")
    resolved: dict[str, Any] = {
        "task": _without(task.model_dump(mode="json", exclude_defaults=True), TASK_NOTES),
        "model": _model_settings(group.model, source_tasks),
        "init": group.init,
        "protocol": protocol,
        "seeds": sorted(group.seeds),
        "caps": dataclasses.asdict(settings.caps(task)),
        "training": {name: training[name] for name in TRAINING_READ_BY[protocol] if training[name] is not None},
        "grid": settings.grid(group.model, group.init, task, protocol).model_dump(mode="json"),
        "precision": context.accelerator.mixed_precision,
    }
    if protocol == "finetune":
        rules = settings.search_rules(task).model_dump(mode="json")
        resolved["search"] = {name: rules[name] for name in SEARCH_RULES}
    return resolved


def _model_settings(model: ModelSpec, source_tasks: dict[str, TaskSpec]) -> dict[str, Any]:
    """The model's spec without its id and notes; a pretraining stage adds the key of everything it trains on."""
    settings = _without(model.model_dump(mode="json", exclude_defaults=True), MODEL_NOTES | {"id"})
    source = source_tasks.get(model.id)
    if model.pretrain is not None and source is not None:
        settings["pretrain_stage"] = pretrain_key(model, source)
    return settings


def _without(values: dict[str, Any], names: set[str]) -> dict[str, Any]:
    return {name: value for name, value in values.items() if name not in names}
