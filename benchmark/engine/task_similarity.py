"""Measure task-to-task similarity for a suite, in one fixed encoder's feature space per modality.

Distances between tasks only mean something when every task is embedded by the same network, so each
modality uses one fixed encoder: the suite's first pretrained model of that modality. Its frozen train features
(from the feature cache, so usually no extra backbone pass) feed both methods of
`benchmark.estimators.task_distance`, each with every task's split-half distance to itself (the noise floor the
leaderboard prints beside each matrix), and a model whose source task is known (the task of its `pretrain`
stage, or its declared `pretraining_sample`) gets its source-to-target distances measured the same way: the
source's train split, embedded by the same encoder, against each task's.
The result is one `SimilarityResult` file per (suite, modality), read by the leaderboard. Check encoders
(`--similarity-encoder`) measure the same distances again in other feature spaces, in files of their own
(`role="check"`): how much the choice of encoder moves the distances and the verdicts built on them.

A task whose data cannot be loaded (`DataError`: an empty file, bad labels) is left out of its modality's matrix
with one warning line; the other tasks are still measured against each other.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from tqdm.auto import tqdm

from benchmark.data.loading import DataError
from benchmark.engine.context import RunContext, for_model
from benchmark.estimators.task_distance import METHODS, measure_distances, similarity_matrix
from benchmark.models.factory import LoadedModel, build_model
from benchmark.results.schema import SimilarityResult
from benchmark.specs.adapter_registry import modality_adapter
from benchmark.specs.registry import ResolvedSuite
from benchmark.specs.schema import ModelSpec, TaskSpec

SIMILARITY_SEED = 0


def measure_suite_similarity(
    suite: ResolvedSuite, context: RunContext, check_encoders: Sequence[ModelSpec] = ()
) -> list[SimilarityResult]:
    """One similarity record per modality that has an encoder and two tasks, or a task and a known source; then one
    per check encoder of such a modality (`role="check"`)."""
    records = []
    for modality in sorted({task.modality for task in suite.tasks}):
        tasks = [t for t in suite.tasks if t.modality == modality]
        encoders = [m for m in suite.models if m.modality == modality]
        # One task has nothing to be compared with, unless a checkpoint's source task is known.
        if encoders and (len(tasks) >= 2 or source_tasks(suite, modality)):
            # A checkpoint the suite pretrains itself is an encoder only when the modality has no other.
            encoder = next((m for m in encoders if m.pretrain is None), encoders[0])
            for chosen in [encoder, *(m for m in check_encoders if m.modality == modality)]:
                role = "primary" if chosen is encoder else "check"
                if (record := _measure(suite, modality, chosen, tasks, context, role)) is not None:
                    records.append(record)
    return records


def _measure(
    suite: ResolvedSuite, modality, encoder: ModelSpec, tasks: list[TaskSpec], context, role: str = "primary"
) -> SimilarityResult | None:
    # Features do not depend on the classification head, so one build of the encoder serves every task; audio
    # encoders of a fixed input length (Whisper) are fitted to the tasks' clip length when the tasks agree on one.
    clips = {modality_adapter(modality).clip_seconds(task) for task in tasks}
    loaded = build_model(
        context.resolve(encoder),
        "pretrained",
        2,
        SIMILARITY_SEED,
        context.settings.assets_dir,
        context.settings.trust_remote_code,
        clip_seconds=clips.pop() if len(clips) == 1 else None,
    )
    suite_name = suite.spec.suite
    embedded = _embed_tasks(suite_name, encoder, loaded, tasks, context)
    tasks = [task for task in tasks if task.task in embedded]
    sources = source_tasks(suite, modality)
    if not tasks or (len(tasks) < 2 and not sources):
        return None
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
        source_to_target=_source_to_target(suite_name, encoder, loaded, sources, tasks, embedded, context),
        source_tasks={model_id: source.task for model_id, source in sources.items()},
        role=role,
    )


def _embed_tasks(suite_name: str, encoder: ModelSpec, loaded: LoadedModel, tasks: list[TaskSpec], context) -> dict:
    """{task id: train features} of every task whose data loads; a task with bad data is named and left out."""
    embedded = {}
    for task in tasks:
        try:
            embedded[task.task] = _train_features(suite_name, encoder, loaded, task, context)
        except DataError as error:
            if context.accelerator.is_main_process:
                tqdm.write(f"warning: task similarity leaves out {task.task!r}: {error}")
    return embedded


def _train_features(suite_name: str, encoder: ModelSpec, loaded: LoadedModel, task: TaskSpec, context: RunContext):
    """(features, labels) of a task's train split under the encoder, from the feature cache when possible."""
    data = for_model(context.task_data(task, SIMILARITY_SEED), task, loaded)
    frozen, _ = context.features(task, encoder, "pretrained", SIMILARITY_SEED, loaded, data)
    return frozen.train.features, frozen.train.labels


def source_tasks(suite: ResolvedSuite, modality: str) -> dict[str, TaskSpec]:
    """The source task of every model of a modality whose pretraining data is known: the task its `pretrain`
    stage trained on, or a task built from its declared `pretraining_sample`."""
    sources = {}
    for model in suite.models:
        if model.modality != modality:
            continue
        if model.id in suite.source_tasks:
            sources[model.id] = suite.source_tasks[model.id]
        elif model.pretraining_sample is not None:
            name = f"{model.id}-pretraining-sample"
            sources[model.id] = TaskSpec(task=name, modality=model.modality, dataset=model.pretraining_sample)
    return sources


def _source_to_target(suite_name, encoder, loaded: LoadedModel, sources: dict, tasks, embedded, context) -> dict:
    """Distances from each model's source task (embedded by the same encoder) to each task; measured once per
    source task, however many checkpoints were trained on it. A source whose data does not load is left out."""
    by_source: dict[str, dict[str, dict[str, float]]] = {}
    for source in sources.values():
        if source.task in by_source:
            continue
        sample = embedded.get(source.task) or _embed_tasks(suite_name, encoder, loaded, [source], context).get(
            source.task
        )
        if sample is None:
            continue
        by_source[source.task] = {}
        for task in tasks:
            pair = {"source": sample, task.task: embedded[task.task]}
            by_source[source.task][task.task] = {m: float(similarity_matrix(pair, m)[1][0, 1]) for m in METHODS}
    return {model_id: by_source[source.task] for model_id, source in sources.items() if source.task in by_source}
