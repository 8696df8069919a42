"""Run one cell end to end: data, model, training or probing, measurements, result record.

Everything a cell needs comes from its specs; nothing is special-cased by task or model name. The pieces are
the modules beside this one; this module only wires them in the order of the design's data flow.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils.memory import should_reduce_batch_size

from benchmark.data.collate import make_collator, model_inputs
from benchmark.data.loading import LABEL, TaskData, with_sampling_rate
from benchmark.engine.context import RunContext, resolve_training
from benchmark.engine.environment import hardware_name, library_versions
from benchmark.engine.features import (
    FeatureDataset,
    FrozenFeatures,
    batch_as_is,
    cached_split,
    extract_split,
    feature_cache_key,
)
from benchmark.engine.interruption import remove_checkpoint
from benchmark.engine.loop import LinearHead, TrainConfig, TrainOutcome, train_and_evaluate
from benchmark.engine.plan import Cell
from benchmark.estimators.transferability import estimate_all
from benchmark.metrics.compute import chance_level, compute_metrics
from benchmark.models.complexity import describe_complexity, track_peak_memory
from benchmark.models.factory import LoadedModel, build_model
from benchmark.results.schema import CellResult
from benchmark.specs.schema import TaskSpec, TrainingSpec
from benchmark.utils.naming import safe_component

PROBE_MAX_EVALS = 10  # a probe trains for many cheap epochs; ten evaluations trace its curve


def run_cell(cell: Cell, context: RunContext) -> CellResult:
    """Train and measure one cell; exceptions propagate (the caller records failures)."""
    started = time.perf_counter()
    training = resolve_training(cell, context)
    data = context.task_data(cell)
    loaded = build_model(
        cell.model, cell.init, data.num_labels, cell.seed, context.assets_dir, context.trust_remote_code
    )
    loaded.network.to(context.accelerator.device)  # before memory is tracked, the same in every cell
    if loaded.network.is_convolutional():
        loaded.network.to(memory_format=torch.channels_last)
    data = for_model(data, cell.task, loaded)
    collate = make_collator(cell.task, loaded.processor)
    complexity = _complexity(cell, context, loaded, data)
    chance = chance_level(cell.task.metrics, data.train[LABEL], data.eval[LABEL])
    with track_peak_memory(context.accelerator.device) as memory:
        if cell.protocol == "linear_probe":
            outcome, estimators, feature_info = _linear_probe(cell, context, loaded, data, collate, training)
            complexity["params_trainable"] = (feature_info["feature_dim"] + 1) * data.num_labels
        else:
            outcome, estimators, feature_info = _finetune(cell, context, loaded, data, collate, training), {}, {}
    complexity.update(peak_memory_bytes=memory.peak_bytes, peak_memory_measure=memory.measure)
    return _result(
        cell,
        context,
        training,
        data,
        loaded,
        outcome,
        chance,
        complexity,
        estimators,
        feature_info,
        time.perf_counter() - started,
    )


def for_model(data: TaskData, task: TaskSpec, loaded: LoadedModel) -> TaskData:
    """A task's data as a model reads it: audio decoded at the model's sampling rate, the rest unchanged."""
    if task.modality == "audio":
        return with_sampling_rate(data, task.dataset.input_column, loaded.processor.sampling_rate)
    return data


def _metric_fn(cell: Cell):
    return lambda predictions, references: compute_metrics(cell.task.metrics, predictions, references)


def _finetune(cell, context, loaded: LoadedModel, data: TaskData, collate, training: TrainingSpec) -> TrainOutcome:
    """Fine-tune every weight; an out-of-memory error restarts from the initial weights with half the batch."""
    network = loaded.network
    network.source_classifier = None  # only frozen features use it; unused parameters would break DDP
    initial_state = {k: v.detach().clone() for k, v in network.state_dict().items()}
    checkpoint_dir = context.checkpoint_root / safe_component(cell.name) if context.checkpoint_root else None
    attempts: list[int] = []

    def attempt(batch_size: int) -> TrainOutcome:
        if attempts:  # a retry after running out of memory: start over from the same weights
            context.accelerator.free_memory()
            network.load_state_dict(initial_state)
            if checkpoint_dir:
                remove_checkpoint(context.accelerator, checkpoint_dir)
        attempts.append(batch_size)
        config = replace(
            _train_config(training, training.epochs, training.learning_rate, cell.seed, context.num_workers),
            batch_size=batch_size,
            checkpoint_dir=checkpoint_dir,
            checkpoint_interval_s=context.checkpoint_interval_s,
        )
        model = torch.compile(network) if context.compile else network
        return train_and_evaluate(
            context.accelerator,
            model,
            data.train,
            data.eval,
            collate,
            config,
            _metric_fn(cell),
            cell.task.main_metric,
            description=f"finetune {cell.name}",
            stop_flag=context.stop_flag,
        )

    outcome = halving_batch_on_oom(attempt, training.batch_size)
    outcome.batch_sizes_tried = attempts
    if checkpoint_dir:
        remove_checkpoint(context.accelerator, checkpoint_dir)
    return outcome


def halving_batch_on_oom(train: Callable[[int], TrainOutcome], batch_size: int) -> TrainOutcome:
    """`train(batch_size)`, retried with half the batch after each out-of-memory error, down to 1."""
    while True:
        try:
            return train(batch_size)
        except Exception as error:  # only out-of-memory errors are retried; the rest propagate unchanged
            if batch_size == 1 or not should_reduce_batch_size(error):
                raise
            batch_size //= 2


def _linear_probe(cell, context, loaded: LoadedModel, data: TaskData, collate, training: TrainingSpec):
    started = time.perf_counter()
    frozen, hits = frozen_features(cell, context, loaded, data, collate, training.batch_size)
    feature_wall_s = time.perf_counter() - started
    train_x, eval_x = _standardise(frozen.train.features, frozen.eval.features)
    head = LinearHead(train_x.shape[1], data.num_labels)
    config = replace(
        _train_config(training, training.probe_epochs, training.probe_learning_rate, cell.seed, 0),
        max_evals=PROBE_MAX_EVALS,
    )
    outcome = train_and_evaluate(
        context.accelerator,
        head,
        FeatureDataset(train_x, frozen.train.labels),
        FeatureDataset(eval_x, frozen.eval.labels),
        batch_as_is,
        config,
        _metric_fn(cell),
        cell.task.main_metric,
        description=f"probe {cell.name}",
    )
    estimators = estimate_all(frozen.train.features, frozen.train.labels, frozen.train.source_probs)
    return (
        outcome,
        estimators,
        {"feature_wall_s": feature_wall_s, "feature_cache_hits": hits, "feature_dim": int(train_x.shape[1])},
    )


def frozen_features(cell, context, loaded, data, collate, batch_size) -> tuple[FrozenFeatures, int]:
    """Train and eval features of a cell's backbone, from the cache when they were computed before."""
    splits, hits = {}, 0
    for split_name, dataset in (("train", data.train), ("eval", data.eval)):
        key = feature_cache_key(
            checkpoint=loaded.checkpoint,
            revision=loaded.revision,
            init=cell.init,
            init_seed=cell.seed if cell.init == "scratch" else None,
            dataset=cell.task.dataset.model_dump(),
            preprocessing=cell.task.preprocessing.model_dump(),
            split=split_name,
            fingerprint=data.split_fingerprint(split_name),
        )
        splits[split_name], hit = cached_split(
            context.accelerator,
            context.feature_cache,
            key,
            lambda ds=dataset, name=split_name: extract_split(
                context.accelerator, loaded.network, ds, collate, batch_size * 2, f"features {cell.name} {name}"
            ),
        )
        hits += int(hit)
    return FrozenFeatures(train=splits["train"], eval=splits["eval"]), hits


def _standardise(train: np.ndarray, evaluation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Z-score both splits with the train statistics (an invertible affine map: still a linear probe)."""
    mean, std = train.mean(axis=0), train.std(axis=0) + 1e-6
    return (train - mean) / std, (evaluation - mean) / std


def _train_config(training: TrainingSpec, epochs, learning_rate, seed: int, num_workers: int) -> TrainConfig:
    return TrainConfig(
        epochs=epochs,
        batch_size=training.batch_size,
        learning_rate=learning_rate,
        weight_decay=training.weight_decay,
        warmup_ratio=training.warmup_ratio,
        gradient_accumulation_steps=training.gradient_accumulation_steps,
        evals_per_epoch=training.evals_per_epoch,
        num_workers=num_workers,
        seed=seed,
    )


def _complexity(cell: Cell, context: RunContext, loaded: LoadedModel, data: TaskData) -> dict:
    """Parameters and forward FLOPs of one example at the task's input size (text padded to max_length).

    Both depend only on the architecture, its head and the input size, so they are counted once per
    (model, task) and shared by the pair's seeds, protocols and scratch twin.
    """
    key = (cell.model.id, cell.task.task)
    if key not in context.complexity_cache:
        example = make_collator(cell.task, loaded.processor, pad_to_max=True)([data.eval[0]])
        inputs = model_inputs(example)
        context.complexity_cache[key] = describe_complexity(
            loaded.network.network,
            inputs["pixel_values"] if "pixel_values" in inputs else inputs,
            context.accelerator.device,
        )
    return dict(context.complexity_cache[key])


def _result(
    cell,
    context,
    training,
    data,
    loaded,
    outcome: TrainOutcome,
    chance,
    complexity,
    estimators,
    feature_info,
    total_wall_s,
) -> CellResult:
    accelerator = context.accelerator
    timing = {
        "train_wall_s": outcome.train_wall_s,
        "eval_wall_s": outcome.eval_wall_s,
        "samples_per_s": outcome.samples_per_s,
        "total_wall_s": total_wall_s,
        **{k: float(v) for k, v in feature_info.items() if k != "feature_dim"},
    }
    return CellResult(
        **cell.identity(),
        status="ok",
        metrics=outcome.metrics,
        chance=chance,
        curve=outcome.curve,
        timing=timing,
        complexity=complexity,
        estimators=estimators,
        setup=_setup(accelerator, training, cell, data, outcome, feature_info, context),
        versions=library_versions(),
        revisions={
            "model": loaded.revision,
            "dataset": cell.task.dataset.revision,
            "dataset_fingerprint": data.fingerprint,
        },
        specs={
            "task": cell.task.model_dump(),
            "model": cell.model.model_dump(),
            "training": training.model_dump(),
            "score_weights": context.score_weights,
        },
    )


def _setup(
    accelerator: Accelerator, training: TrainingSpec, cell: Cell, data: TaskData, outcome, feature_info, context
):
    return {
        "device": str(accelerator.device),
        "hardware": hardware_name(accelerator.device),
        "precision": accelerator.mixed_precision,
        "world_size": accelerator.num_processes,
        "batch_size": outcome.batch_sizes_tried[-1] if outcome.batch_sizes_tried else training.batch_size,
        "gradient_accumulation_steps": training.gradient_accumulation_steps,
        "epochs": training.probe_epochs if cell.protocol == "linear_probe" else training.epochs,
        "learning_rate": training.probe_learning_rate if cell.protocol == "linear_probe" else training.learning_rate,
        "num_train": len(data.train),
        "num_eval": len(data.eval),
        "num_eval_scored": outcome.eval_examples_scored,
        "batch_sizes_tried": ",".join(map(str, outcome.batch_sizes_tried)) or None,
        "num_labels": data.num_labels,
        "feature_dim": feature_info.get("feature_dim"),
    }
