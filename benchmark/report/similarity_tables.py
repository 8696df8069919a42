"""The leaderboard's task-similarity section: per modality, the task-to-task distance matrices of each method
with their noise floor, each task's nearest tasks, and the source-to-target tables of checkpoints pretrained on
declared sources. Pure functions from similarity records to markdown lines, like `benchmark.report.sections`."""

from __future__ import annotations

import math

from benchmark.report.sections import WITHIN_FLOOR
from benchmark.results.schema import SimilarityResult

SIMILARITY_METHODS = {
    "class_gaussian_ot": "optimal transport between class Gaussians, classes weighted by frequency "
    "(W2 ground cost; the label-to-label part of OTDD)",
    "random_probe_fisher": "normalised cosine distance of a fixed random probe layer's diagonal Fisher "
    "(Task2Vec-like; not the published Task2Vec)",
    "bures": "older files: optimal transport between class Gaussians with uniform class weights",
    "task2vec": "older files: random untrained probe's Fisher, not the published Task2Vec",
}


def similarity_section(similarities: list[SimilarityResult]) -> list[str]:
    """Every task-to-task distance matrix as a table (3 decimals) with each task's split-half distance and the
    modality's noise floor beside it, distances within the floor marked; the nearest-task sentences that the
    floor allows; then source-to-target distances."""
    lines = ["### Which tasks look alike", ""]
    if not similarities:
        return lines + ["No similarity file yet.", ""]
    for sim in sorted(similarities, key=lambda s: (s.suite, s.modality)):
        lines += [
            f"#### {sim.modality} (suite `{sim.suite}`)",
            "",
            f"Distances in the feature space of the fixed encoder `{sim.encoder}` (0 = same task, smaller = more "
            "alike). *Split-half* is each task's distance between two random class-stratified halves of itself; "
            f"the noise floor is the largest of them, and distances at or below it are marked{WITHIN_FLOOR}: "
            "resampling one task already moves it that far.",
            "",
        ]
        for method in sorted(sim.distances):
            floor = noise_floor(sim, method)
            lines += [f"**{_method_name(method)}**", "", *_matrix_table(sim, method, floor), ""]
            lines += [_floor_sentence(floor), *_nearest_sentences(sim.tasks, sim.distances[method], floor), ""]
        lines += _source_tables(sim)
    return lines


def noise_floor(sim: SimilarityResult, method: str) -> float | None:
    """The largest finite split-half distance of a method; None when none was recorded."""
    values = [v for v in sim.split_half.get(method, []) if v is not None and math.isfinite(v)]
    return max(values) if values else None


def _method_name(method: str) -> str:
    description = SIMILARITY_METHODS.get(method)
    return f"{method}: {description}" if description else method


def _matrix_table(sim: SimilarityResult, method: str, floor: float | None) -> list[str]:
    matrix, halves = sim.distances[method], sim.split_half.get(method)
    rows = []
    for i, (task, row) in enumerate(zip(sim.tasks, matrix, strict=True)):
        cells = [_distance(v, floor if j != i else None) for j, v in enumerate(row)]
        half = _distance(halves[i]) if halves else "—"
        rows.append(f"| {task} | " + " | ".join(cells) + f" | {half} |")
    return ["| Task | " + " | ".join(sim.tasks) + " | Split-half |", "|---|" + "---|" * (len(sim.tasks) + 1), *rows]


def _distance(value: float | None, floor: float | None = None) -> str:
    """3 decimals, marked when within the noise floor; '—' for a pair not measured, 'n/a' when undefined."""
    if value is None:
        return "—"
    if not math.isfinite(value):
        return "n/a"
    return f"{value:.3f}" + (WITHIN_FLOOR if floor is not None and value <= floor else "")


def _floor_sentence(floor: float | None) -> str:
    if floor is None:
        return "- No split-half distances recorded: these distances have no noise floor and cannot be judged."
    return f"- Noise floor: {floor:.3f}."


def nearest_tasks(tasks: list[str], matrix: list[list[float]]) -> dict[str, list[tuple[str, float]]]:
    """Each task's other tasks by distance, nearest first (ties by task order); undefined distances dropped."""
    ranked = {}
    for i, task in enumerate(tasks):
        others = [(matrix[i][j], j) for j in range(len(tasks)) if j != i and _finite(matrix[i][j])]
        ranked[task] = [(tasks[j], d) for d, j in sorted(others)]
    return ranked


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _nearest_sentences(tasks: list[str], matrix: list[list[float]], floor: float | None) -> list[str]:
    """A nearest-task statement only where it says something: three or more tasks, a noise floor, the nearest
    beyond the floor, and the runner-up further than the floor again."""
    if len(tasks) < 3:
        return [f"- With {len(tasks)} tasks the nearest task is the only other one: no nearest-task statement."]
    if floor is None:
        return []
    sentences = []
    for task, ranked in nearest_tasks(tasks, matrix).items():
        if not ranked:
            sentences.append(f"- `{task}` has no other task measured.")
        elif ranked[0][1] <= floor:
            sentences.append(
                f"- `{task}`: `{ranked[0][0]}` ({ranked[0][1]:.3f}) is within the noise floor, no further than a "
                f"resample of `{task}` itself."
            )
        elif len(ranked) > 1 and ranked[1][1] - ranked[0][1] <= floor:
            sentences.append(
                f"- `{task}`: `{ranked[0][0]}` ({ranked[0][1]:.3f}) and `{ranked[1][0]}` ({ranked[1][1]:.3f}) "
                "are not separated (their difference is within the noise floor)."
            )
        else:
            sentences.append(f"- `{task}` is nearest to `{ranked[0][0]}` ({ranked[0][1]:.3f}).")
    return sentences


def _source_tables(sim: SimilarityResult) -> list[str]:
    """Per method, each model's source task to every task, marked where within that target's own split-half
    distance (as the similarity-predicts-reuse section marks them); empty when no model has a known source."""
    if not sim.source_to_target:
        return []
    models = sorted(sim.source_to_target)
    methods = sorted({m for per_task in sim.source_to_target.values() for d in per_task.values() for m in d})
    lines = []
    for method in methods:
        halves = sim.split_half.get(method) or [None] * len(sim.tasks)
        lines += [
            f"**Source to target, {_method_name(method)}** (marked{WITHIN_FLOOR} at or below the target's split-half)",
            "",
            "| Model | Source | " + " | ".join(sim.tasks) + " |",
            "|---|---|" + "---|" * len(sim.tasks),
        ]
        for model in models:
            per_task = sim.source_to_target[model]
            pairs = zip(sim.tasks, halves, strict=True)
            cells = [_distance(per_task.get(task, {}).get(method), half) for task, half in pairs]
            lines.append(f"| {model} | {sim.source_tasks.get(model, '—')} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines
