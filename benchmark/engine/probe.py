"""A linear-probe group: frozen features once per seed, every grid configuration trained at once, the choice made
on the mean validation score over seeds, then each seed's chosen head scored once on test. When the choice lies at an
edge of a searched dimension's grid, the heads of the grid's extension past that edge are trained on the same
features (each head trains exactly as it would with the others) and the choice is made again."""

from __future__ import annotations

import functools
import itertools
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from benchmark.data.loading import LABEL
from benchmark.engine.context import RunContext, for_model
from benchmark.engine.features import FrozenFeatures
from benchmark.engine.plan import Group
from benchmark.engine.probe_heads import HeadsOutcome, ProbeSettings, merge_heads, predict_heads, train_heads
from benchmark.engine.records import CellOutcome, cell_result, group_specs
from benchmark.engine.sample_log import sample_log
from benchmark.engine.search import best_indices, expand_grid, grid_extension, still_at_edge
from benchmark.estimators.transferability import estimate_all
from benchmark.metrics.compute import chance_level, metric_fn
from benchmark.models.complexity import track_peak_memory
from benchmark.results.schema import Candidate, CellResult, GridExtension, SampleLog, SearchRecord


@dataclass
class _SeedProbe:
    """One seed's trained heads, what training more of them needs, and what the final record needs from that seed."""

    heads: HeadsOutcome
    test: tuple[torch.Tensor, list[int]]
    outcome_fields: dict
    train_heads_for: Callable[[list[dict[str, float]]], HeadsOutcome]  # heads of more configurations, same features


def run_probe_group(group: Group, context: RunContext) -> list[CellResult]:
    """Probe every seed of the group with the whole grid, choose on validation (extending the grid past an edge the
    choice lies on), score the choice on test."""
    started = time.perf_counter()
    configs = expand_grid(context.settings.grid(group.model, group.init, group.task, "linear_probe"))
    max_extensions = context.settings.search_rules(group.task).max_extensions
    extensions: list[GridExtension] = []
    with track_peak_memory(context.accelerator.device) as memory:
        probes = _probe_seeds(group, context, configs)
        chosen = _choose(probes, len(configs), group.task.main_metric)
        for round_index in itertools.count(1):
            added, new = grid_extension(configs, chosen, extensions, max_extensions)
            if not new:
                break
            for probe in probes:
                _add_heads(probe, probe.train_heads_for(new))
            extensions += [e.model_copy(update={"round": round_index}) for e in added]
            configs = [*configs, *new]
            chosen = _choose(probes, len(configs), group.task.main_metric)
    task = group.task
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
        extensions=extensions,
        max_extensions=max_extensions,
        chosen_at_edge=still_at_edge(configs, chosen),
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
            samples=_samples(probe, chosen, context, group) if context.settings.log_samples else None,
        )
        results.append(cell_result(outcome, context.accelerator, group_specs(group, context), search))
    return results


def _samples(probe: _SeedProbe, head: int, context: RunContext, group: Group) -> SampleLog:
    """The sample log of a seed's chosen head on test: the softmax of the logits its predictions are the argmax of."""
    raw = context.task_data(group.task, probe.outcome_fields["cell"].seed)
    with torch.no_grad():
        probabilities = probe.heads.logits(probe.test[0], head).softmax(dim=-1)
    return sample_log(raw.test, raw.label_names, probabilities)


def _add_heads(probe: _SeedProbe, added: HeadsOutcome) -> None:
    """Merge the heads of a grid extension into a seed's probe, their training and evaluation time into its timing."""
    probe.heads = merge_heads(probe.heads, added)
    timing = probe.outcome_fields["timing"]
    timing["train_wall_s"] += added.train_wall_s
    timing["eval_wall_s"] += added.eval_wall_s
    timing["total_wall_s"] += added.train_wall_s + added.eval_wall_s
    heads = probe.heads
    timing["samples_per_s"] = heads.examples_seen / heads.train_wall_s if heads.train_wall_s > 0 else 0.0


def _choose(probes: list[_SeedProbe], configs: int, main_metric: str) -> int:
    """The head with the best mean validation score over seeds (ties: lower mean validation loss, then earlier)."""
    means = {i: statistics.fmean(p.heads.metrics[i][main_metric] for p in probes) for i in range(configs)}
    losses = {i: statistics.fmean(p.heads.losses[i] for p in probes) for i in range(configs)}
    return best_indices(means, 1, losses)[0]


def _probe_seeds(group: Group, context: RunContext, configs: list[dict[str, float]]) -> list[_SeedProbe]:
    """Every seed's heads; a backbone whose weights do not depend on the seed is built once."""
    task, loaded, probes = group.task, None, []
    training = context.settings.training(task, group.init)
    for seed, cell in zip(group.seeds, group.cells(), strict=True):
        seed_started = time.perf_counter()
        raw = context.task_data(task, seed)
        if loaded is None or context.depends_on_seed(group.model, group.init):
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
        heads_for = functools.partial(
            _train_heads_for,
            train=train,
            validation=validation,
            num_labels=raw.num_labels,
            settings=settings,
            task=task,
        )
        heads = heads_for(configs)
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
        probes.append(_SeedProbe(heads, (test[0], test[1].tolist()), outcome_fields, heads_for))
    return probes


def _train_heads_for(configs, *, train, validation, num_labels: int, settings: ProbeSettings, task) -> HeadsOutcome:
    """One head per configuration on one seed's standardised features."""
    return train_heads(
        train,
        validation,
        configs,
        num_labels,
        settings,
        metric_fn(task.metrics),
        task.main_metric,
        curve_metric_fn=metric_fn([task.main_metric]),  # every metric only at the end
    )


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
