"""Measure task-to-task similarity for a suite, in one fixed encoder's feature space per modality.

Distances between tasks only mean something when every task is embedded by the same network, so each
modality uses one fixed encoder: the suite's first pretrained model of that modality. Its frozen train features
(from the feature cache, so usually no extra backbone pass) feed both methods of
`benchmark.estimators.task_distance`, each with every task's split-half distance to itself (the noise floor the
leaderboard prints beside each matrix), and a model that declares a `pretraining_sample` gets its
source-to-target distances measured the same way.
The result is one `SimilarityResult` file per (suite, modality), read by the leaderboard.
"""

from __future__ import annotations

import numpy as np

from benchmark.engine.context import RunContext, for_model
from benchmark.estimators.task_distance import METHODS, measure_distances, similarity_matrix
from benchmark.models.factory import LoadedModel, build_model
from benchmark.results.schema import SimilarityResult
from benchmark.specs.registry import ResolvedSuite
from benchmark.specs.schema import ModelSpec, TaskSpec

SIMILARITY_SEED = 0


def measure_suite_similarity(suite: ResolvedSuite, context: RunContext) -> list[SimilarityResult]:
    """One similarity record per modality that has an encoder and at least two tasks."""
    records = []
    for modality in sorted({task.modality for task in suite.tasks}):
        tasks = [t for t in suite.tasks if t.modality == modality]
        encoders = [m for m in suite.models if m.modality == modality]
        if len(tasks) >= 2 and encoders:
            records.append(_measure(suite.spec.suite, modality, encoders[0], tasks, suite.models, context))
    return records


def _measure(suite_name, modality, encoder: ModelSpec, tasks: list[TaskSpec], models, context) -> SimilarityResult:
    # Features do not depend on the classification head, so one build of the encoder serves every task.
    loaded = build_model(encoder, "pretrained", 2, SIMILARITY_SEED, context.assets_dir, context.trust_remote_code)
    embedded = {task.task: _train_features(suite_name, encoder, loaded, task, context) for task in tasks}
    distances, split_half = {}, {}
    for method in METHODS:
        measured = measure_distances(embedded, method)
        distances[method] = np.round(measured.matrix, 6).tolist()
        split_half[method] = [None if not np.isfinite(v) else round(float(v), 6) for v in measured.split_half]
    return SimilarityResult(
        suite=suite_name,
        modality=modality,
        encoder=encoder.id,
        tasks=list(embedded),
        distances=distances,
        split_half=split_half,
        source_to_target=_source_to_target(suite_name, encoder, loaded, models, tasks, embedded, context),
    )


def _train_features(suite_name: str, encoder: ModelSpec, loaded: LoadedModel, task: TaskSpec, context: RunContext):
    """(features, labels) of a task's train split under the encoder, from the feature cache when possible."""
    data = for_model(context.task_data(task, SIMILARITY_SEED), task, loaded)
    frozen, _ = context.features(task, encoder, "pretrained", SIMILARITY_SEED, loaded, data)
    return frozen.train.features, frozen.train.labels


def _source_to_target(suite_name, encoder, loaded: LoadedModel, models, tasks, embedded, context) -> dict:
    """Distances from each declared pretraining sample (embedded by the same encoder) to each task."""
    distances: dict[str, dict[str, dict[str, float]]] = {}
    for model in models:
        if model.modality != encoder.modality or model.pretraining_sample is None:
            continue
        source = TaskSpec(
            task=f"{model.id}-pretraining-sample", modality=model.modality, dataset=model.pretraining_sample
        )
        sample = _train_features(suite_name, encoder, loaded, source, context)
        distances[model.id] = {}
        for task in tasks:
            pair = {"source": sample, task.task: embedded[task.task]}
            distances[model.id][task.task] = {m: float(similarity_matrix(pair, m)[1][0, 1]) for m in METHODS}
    return distances
