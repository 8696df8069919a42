"""A linear-probe group: frozen features once per seed, every grid configuration trained at once, the choice made
on the mean validation score over seeds, then each seed's chosen head scored once on test."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import numpy as np
import torch

from benchmark.data.loading import LABEL
from benchmark.engine.context import RunContext, for_model
from benchmark.engine.features import FrozenFeatures
from benchmark.engine.plan import Group
from benchmark.engine.probe_heads import HeadsOutcome, ProbeSettings, predict_heads, train_heads
from benchmark.engine.records import CellOutcome, cell_result, group_specs
from benchmark.engine.search import best_indices, expand_grid
from benchmark.estimators.transferability import estimate_all
from benchmark.metrics.compute import chance_level, metric_fn
from benchmark.models.complexity import track_peak_memory
from benchmark.results.schema import Candidate, CellResult, SearchRecord


@dataclass
class _SeedProbe:
    """One seed's trained heads and what the final record needs from that seed."""

    heads: HeadsOutcome
    test: tuple[torch.Tensor, list[int]]
    outcome_fields: dict


def run_probe_group(group: Group, context: RunContext) -> list[CellResult]:
    """Probe every seed of the group with the whole grid, choose on validation, score the choice on test."""
    started = time.perf_counter()
    configs = expand_grid(context.grid(group.model, group.init, group.task, "linear_probe"))
    with track_peak_memory(context.accelerator.device) as memory:
        probes = _probe_seeds(group, context, configs)
    task = group.task
    means = {i: statistics.fmean(p.heads.metrics[i][task.main_metric] for p in probes) for i in range(len(configs))}
    losses = {i: statistics.fmean(p.heads.losses[i] for p in probes) for i in range(len(configs))}
    chosen = best_indices(means, 1, losses)[0]
    search = SearchRecord(
        method="batched_heads",
        seeds=list(group.seeds),
        budgets=[probes[0].heads.optimizer_steps],
        halving_rate=1,
        candidates=[
            Candidate(
                config=config,
                scores=[[p.heads.metrics[i][task.main_metric] for p in probes]],
                losses=[[p.heads.losses[i] for p in probes]],
            )
            for i, config in enumerate(configs)
        ],
        chosen=chosen,
        wall_s=time.perf_counter() - started,
    )
    results = []
    for probe in probes:
        fields = probe.outcome_fields
        fields["complexity"].update(peak_memory_bytes=memory.peak_bytes, peak_memory_measure=memory.measure)
        features, references = probe.test
        outcome = CellOutcome(
            **fields,
            config=configs[chosen],
            validation_metrics=probe.heads.metrics[chosen],
            curve=probe.heads.curves[chosen],
            predicted=predict_heads(probe.heads, features, chosen),
            references=references,
        )
        results.append(cell_result(outcome, context.accelerator, group_specs(group, context), search))
    return results


def _probe_seeds(group: Group, context: RunContext, configs: list[dict[str, float]]) -> list[_SeedProbe]:
    """Every seed's heads; a pretrained backbone is built once (its features do not depend on the seed)."""
    task, loaded, probes = group.task, None, []
    training = context.training(task)
    for seed, cell in zip(group.seeds, group.cells(), strict=True):
        seed_started = time.perf_counter()
        raw = context.task_data(task, seed)
        if loaded is None or group.init == "scratch":
            loaded = context.build(group.model, group.init, task, raw.num_labels, seed)
        data = for_model(raw, task, loaded)
        complexity = context.complexity(group.model, task, loaded, data)
        feature_started = time.perf_counter()
        frozen, hits = context.features(task, group.model, group.init, seed, loaded, data)
        feature_wall_s = time.perf_counter() - feature_started
        train, validation, test = _standardised(frozen, context.accelerator.device)
        # Every process trains the heads on all features; the batch is the global one a fine-tune would use.
        global_batch = training.batch_size * context.accelerator.num_processes
        settings = ProbeSettings(training.probe_epochs, global_batch, training.warmup_ratio, seed)
        heads = train_heads(
            train,
            validation,
            configs,
            raw.num_labels,
            settings,
            metric_fn(task.metrics),
            task.main_metric,
            curve_metric_fn=metric_fn([task.main_metric]),  # every metric only at the end
        )
        dim = train[0].shape[1]
        complexity["params_trainable"] = (dim + 1) * raw.num_labels
        outcome_fields = {
            "cell": cell,
            "training": training,
            "chance": chance_level(task.metrics, raw.train[LABEL], raw.test[LABEL]),
            "validation_chance": chance_level(task.metrics, raw.train[LABEL], raw.validation[LABEL]),
            "complexity": complexity,
            "timing": {
                "train_wall_s": heads.train_wall_s,
                "eval_wall_s": heads.eval_wall_s,
                "samples_per_s": heads.examples_seen / heads.train_wall_s if heads.train_wall_s > 0 else 0.0,
                "total_wall_s": time.perf_counter() - seed_started,
                "feature_wall_s": feature_wall_s,
                "feature_cache_hits": float(hits),
            },
            "batch_size": training.batch_size,
            "optimizer_steps": heads.optimizer_steps,
            "split_sizes": (len(data.train), len(data.validation), len(data.test)),
            "num_labels": raw.num_labels,
            "feature_dim": dim,
            "estimators": estimate_all(frozen.train.features, frozen.train.labels, frozen.train.source_probs),
            "revisions": {
                "model": loaded.revision,
                "dataset": task.dataset.revision,
                "dataset_fingerprint": data.fingerprint,
            },
        }
        probes.append(_SeedProbe(heads, (test[0], test[1].tolist()), outcome_fields))
    return probes


def _standardised(frozen: FrozenFeatures, device: torch.device) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(features, labels) of train, validation and test as tensors, z-scored with the train statistics (an
    invertible affine map of the features: still a linear probe)."""
    mean = frozen.train.features.mean(axis=0)
    std = frozen.train.features.std(axis=0) + 1e-6
    return [
        (
            torch.as_tensor((split.features - mean) / std, dtype=torch.float32, device=device),
            torch.as_tensor(np.asarray(split.labels), dtype=torch.long, device=device),
        )
        for split in (frozen.train, frozen.validation, frozen.test)
    ]
