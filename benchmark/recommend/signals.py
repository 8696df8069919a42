"""The cheap signals of a shelf of checkpoints on a new task, computed without fine-tuning and without the test split.

Per checkpoint: one frozen-feature pass over the task's train and validation splits (through the run's feature
cache, keyed as the suite keys it), the transferability estimators on the training features (LogME, H-score,
leave-one-out kNN; LEEP and NCE where the checkpoint keeps a source classifier), the linear probe's validation
score (the suite's batched heads over the default probe grid, best head on validation), the parameter count and
forward FLOPs, and the declared source accuracy. The task is loaded without its test split (`eval_split` dropped
before `load_dataset` is called, so it is not even read; a task whose test split is carved out of train by
`test_groups` still has those rows removed from train, and they are never passed to a model or an estimator).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from benchmark.data.loading import LABEL, TaskData, cap_task_data, load_encoded
from benchmark.engine.context import FEATURE_BATCH_SIZE, RunContext, feature_identity, for_model
from benchmark.engine.features import FeatureCache, SplitFeatures, cached_split, extract_split, feature_cache_key
from benchmark.engine.probe_heads import ProbeSettings, train_heads
from benchmark.engine.search import expand_grid
from benchmark.estimators.transferability import estimate_all
from benchmark.metrics.compute import chance_level, metric_fn
from benchmark.recommend.evaluation import PARAMS_SIGNAL, PROBE_SIGNAL, SOURCE_SIGNAL
from benchmark.specs.schema import ModelSpec, TaskSpec

SEED = 0


@dataclass
class CheckpointSignals:
    """What `recommend` knows of one checkpoint on the task, and what it cost to find out."""

    model: str
    signals: dict[str, float] = field(default_factory=dict)
    flops_per_example: float | None = None
    validation_chance: float | None = None
    forward_s_per_example: float | None = None
    wall_s: float = 0.0
    skipped: str | None = None


def without_test(task: TaskSpec) -> TaskSpec:
    """The task with no test split to load: `eval_split` dropped, and its file too where `data_files` maps split
    names to files, so `load_dataset` never opens it."""
    spec = task.dataset
    data_files = spec.data_files
    if isinstance(data_files, dict) and spec.eval_split in data_files:
        data_files = {name: files for name, files in data_files.items() if name != spec.eval_split}
    dataset = spec.model_copy(update={"eval_split": None, "data_files": data_files})
    return task.model_copy(update={"dataset": dataset})


def load_train_and_validation(task: TaskSpec, context: RunContext) -> TaskData:
    """The task's train and validation splits (capped as the run caps them), its test split never loaded."""
    encoded = load_encoded(without_test(task), context.settings.assets_dir)
    return cap_task_data(encoded, SEED, context.settings.caps(task))


def checkpoint_signals(model: ModelSpec, task: TaskSpec, data: TaskData, context: RunContext) -> CheckpointSignals:
    """Every cheap signal of one checkpoint on the task (`data` from `load_train_and_validation`)."""
    started = time.perf_counter()
    loaded = context.build(model, "pretrained", task, data.num_labels, SEED)
    mine = for_model(data, task, loaded)
    # FLOPs are counted on one example; the suite takes a test example, recommend a validation one
    complexity = context.complexity(
        model, task, loaded, TaskData(mine.train, mine.validation, mine.validation, mine.label_names)
    )
    features_started = time.perf_counter()
    train, validation = (_features(context, task, loaded, mine, split) for split in ("train", "validation"))
    examples = len(mine.train) + len(mine.validation)
    result = CheckpointSignals(model.id)
    result.forward_s_per_example = (time.perf_counter() - features_started) / max(examples, 1)
    result.signals.update(estimate_all(train.features, train.labels, train.source_probs))
    result.signals[PROBE_SIGNAL] = _probe_score(train, validation, task, data.num_labels, model, context)
    result.signals[PARAMS_SIGNAL] = float(complexity["params_total"])
    if model.source_accuracy is not None:
        result.signals[SOURCE_SIGNAL] = model.source_accuracy
    result.flops_per_example = complexity["flops_per_example"]
    result.validation_chance = chance_level([task.main_metric], data.train[LABEL], data.validation[LABEL])[
        task.main_metric
    ]
    result.wall_s = time.perf_counter() - started
    return result


def _features(context: RunContext, task: TaskSpec, loaded, data: TaskData, split: str) -> SplitFeatures:
    """One split's frozen features through the run's cache (the same key a suite's probe would use)."""
    from benchmark.data.collate import make_collator

    identity = feature_identity(task, "pretrained", SEED, loaded)
    key = feature_cache_key(**identity, split=split, fingerprint=data.split_fingerprint(split))
    dataset, collate = data.split(split), make_collator(task, loaded.processor)
    features, _ = cached_split(
        context.accelerator,
        context.feature_cache,
        key,
        lambda: extract_split(
            context.accelerator, loaded.network, dataset, collate, FEATURE_BATCH_SIZE, f"features {split}"
        ),
    )
    return features


def _probe_score(
    train: SplitFeatures,
    validation: SplitFeatures,
    task: TaskSpec,
    num_labels: int,
    model: ModelSpec,
    context: RunContext,
) -> float:
    """The best validation score of the default probe grid's heads on z-scored features (as the suite's probe)."""
    mean, std = train.features.mean(axis=0), train.features.std(axis=0) + 1e-6

    def tensors(split: SplitFeatures) -> tuple[torch.Tensor, torch.Tensor]:
        features = torch.as_tensor((split.features - mean) / std, dtype=torch.float32)
        return features, torch.as_tensor(np.asarray(split.labels), dtype=torch.long)

    training = context.settings.training(task)
    configs = expand_grid(context.settings.grid(model, "pretrained", task, "linear_probe"))
    settings = ProbeSettings(training.probe_epochs, training.batch_size, training.warmup_ratio, SEED)
    heads = train_heads(
        tensors(train), tensors(validation), configs, num_labels, settings, metric_fn(task.metrics), task.main_metric
    )
    return max(metrics[task.main_metric] for metrics in heads.metrics)


def shelf_signals(
    models: list[ModelSpec], task: TaskSpec, data: TaskData, context: RunContext, progress=None
) -> list[CheckpointSignals]:
    """Signals of every checkpoint on `data` (from `load_train_and_validation`, loaded once for the shelf); one
    that cannot be built is reported as skipped, with the reason."""
    found = []
    for model in models:
        if progress is not None:
            progress(model.id)
        try:
            found.append(checkpoint_signals(model, task, data, context))
        except Exception as error:  # noqa: BLE001 - a broken checkpoint must not lose the others' signals
            found.append(CheckpointSignals(model.id, skipped=f"{type(error).__name__}: {error}"))
    return found


def default_cache(output_dir: Path) -> FeatureCache:
    """The feature cache a suite run into `output_dir` uses, so a later run reuses recommend's features."""
    from benchmark.engine.suite import FEATURE_CACHE_DIRNAME

    return FeatureCache(output_dir / FEATURE_CACHE_DIRNAME)
