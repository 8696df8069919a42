"""Composite reusability score: one number per checkpoint from quality, training cost and model cost.

For every task t, over the models m that have a cell on t:

    q(m, t)   = clip((score(m, t) - chance(m, t)) / (best(t) - chance(m, t)), 0, 1),
                best(t) = max over models of score(m, t);  q = 0 when best(t) <= chance(m, t)
    e_t(m, t) = min over models of time_to_target(t) / time_to_target(m, t),
                the minimum taken over models that reached the target;
                e_t = 0 if m never reached the target, e_t = 1 if its time to target is 0
    e_c(m, t) = sqrt( (min_flops(t) / flops(m, t)) * (min_params(t) / params(m, t)) ),
                min_flops(t), min_params(t) = minimum over the task's models

Per model, each part is averaged over the n_tasks tasks it has a cell on (Q, E_t, E_c), and

    composite = (w_q Q + w_t E_t + w_c E_c) / (w_q + w_t + w_c)

with default weights w_q = 0.6, w_t = 0.2, w_c = 0.2. Every part lies in [0, 1] and equals 1 for the best
model on that axis, so the composite is 1 only for a model that is best on every task and every axis.
Models are listed by composite, highest first; ties are broken by model name. ``train_time_s`` is
carried for reporting and does not enter the score.
"""

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from benchmark.specs.schema import ScoreWeights

DEFAULT_WEIGHTS = ScoreWeights()


@dataclass(frozen=True)
class CellSummary:
    """One (model, task) result: main-metric score, its chance level, and what reaching it cost."""

    model: str
    task: str
    score: float
    chance: float
    time_to_target_s: float | None
    train_time_s: float
    flops_per_example: float
    params: int

    def __post_init__(self) -> None:
        if self.flops_per_example <= 0 or self.params <= 0:
            raise ValueError(f"{self.model} on {self.task}: flops_per_example and params must be positive")
        if self.time_to_target_s is not None and self.time_to_target_s < 0:
            raise ValueError(f"{self.model} on {self.task}: time_to_target_s must be >= 0")


@dataclass(frozen=True)
class ModelScore:
    """A model's composite score and its three parts, each averaged over its ``n_tasks`` tasks."""

    model: str
    composite: float
    quality: float
    training_efficiency: float
    complexity_efficiency: float
    n_tasks: int


def _quality(cell: CellSummary, best: float) -> float:
    """Score normalised so chance is 0 and the task's best model is 1, clipped to [0, 1]."""
    if best <= cell.chance:
        return 0.0
    return float(np.clip((cell.score - cell.chance) / (best - cell.chance), 0.0, 1.0))


def _training_efficiency(cell: CellSummary, fastest: float | None) -> float:
    """Fastest time to target on the task over this model's; 0 when this model never reached it."""
    if cell.time_to_target_s is None or fastest is None:
        return 0.0
    if cell.time_to_target_s == 0:
        return 1.0
    return fastest / cell.time_to_target_s


def _task_parts(cells: list[CellSummary]) -> dict[str, tuple[float, float, float]]:
    """(quality, training efficiency, complexity efficiency) of each model on one task."""
    best = max(c.score for c in cells)
    reached = [c.time_to_target_s for c in cells if c.time_to_target_s is not None]
    fastest = min(reached) if reached else None
    min_flops = min(c.flops_per_example for c in cells)
    min_params = min(c.params for c in cells)
    return {
        c.model: (
            _quality(c, best),
            _training_efficiency(c, fastest),
            float(np.sqrt(min_flops / c.flops_per_example * min_params / c.params)),
        )
        for c in cells
    }


def reusability_scores(cells: list[CellSummary], weights: ScoreWeights = DEFAULT_WEIGHTS) -> list[ModelScore]:
    """Composite reusability score of every model (formula in the module docstring), best first."""
    by_task: dict[str, list[CellSummary]] = defaultdict(list)
    for cell in cells:
        if any(other.model == cell.model for other in by_task[cell.task]):
            raise ValueError(f"duplicate cell for model {cell.model!r} on task {cell.task!r}")
        by_task[cell.task].append(cell)
    parts: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    for task_cells in by_task.values():
        for model, model_parts in _task_parts(task_cells).items():
            parts[model].append(model_parts)
    w = np.array([weights.quality, weights.training_efficiency, weights.complexity_efficiency])
    scores = []
    for model, rows in parts.items():
        mean = np.mean(rows, axis=0)
        composite = float(w @ mean / w.sum())
        scores.append(ModelScore(model, composite, *(float(v) for v in mean), n_tasks=len(rows)))
    return sorted(scores, key=lambda s: (-s.composite, s.model))
