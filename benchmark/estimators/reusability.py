"""Composite reusability score: which checkpoint serves a user best, every part against a fixed reference.

For every task t a checkpoint m was fine-tuned on (scores are the main metric on test, means over seeds):

    q   = clip((score - chance) / (ceiling - chance), 0, 1)       quality against chance and ceiling = 1
    E_t = clip(log(T_max / T) / log(T_max / T_min), 0, 1)         T = training seconds until the validation curve
                                                                  first reached the quality it ends at,
                                                                  T_min = 0.1 s (E_t = 1), T_max = 1e5 s (E_t = 0)
    E_c = clip(log(F_max / F) / log(F_max / F_min), 0, 1)         F = forward FLOPs per example at t's input,
                                                                  F_min = 1e6 (E_c = 1), F_max = 1e12 (E_c = 0)
    composite = (w_q mean_t q + w_t mean_t E_t + w_c mean_t E_c) / (w_q + w_t + w_c)

The ranking answers the user's question, "which checkpoint reaches the best quality on my task, and at what
cost?", so it is measured against fixed references only: chance, the metric's ceiling, absolute seconds and
absolute FLOPs. It is never measured against the checkpoint's own scratch twin: a gain over the twin rewards an
architecture that trains badly from scratch, which is the seed's question (what reuse buys), reported apart.

Two properties follow and are tested: nothing in a model's score depends on another model of the suite (adding or
removing one changes no other row), and the order is Pareto-consistent: every part rises with the score and falls
with the cost, and ties on the composite are broken by mean quality, then mean score, then time, then FLOPs, so a
checkpoint that scores at least as well on every task at no higher cost never ranks below the one it dominates.
Weights default to 0.6 / 0.2 / 0.2 (`ScoreWeights`). Parameters are reported beside the FLOPs but not scored: the
two move together, and counting both would count size twice.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass

from benchmark.specs.schema import ScoreWeights

DEFAULT_WEIGHTS = ScoreWeights()
QUALITY_CEILING = 1.0  # the maximum of every built-in metric (accuracy, macro F1, Matthews correlation)
SECONDS_BEST = 0.1  # training seconds to quality that score E_t = 1 (and anything faster)
SECONDS_WORST = 1e5  # ... that score E_t = 0 (about 28 hours, and anything slower)
FLOPS_BEST = 1e6  # forward FLOPs per example that score E_c = 1 (and anything cheaper)
FLOPS_WORST = 1e12  # ... that score E_c = 0 (and anything dearer)


@dataclass(frozen=True)
class CellSummary:
    """One (model, task) fine-tune, means over seeds: the main test metric and its chance level, the training
    seconds until validation first reached the quality the run ends at, and the network's cost at the task's
    input."""

    model: str
    task: str
    score: float
    chance: float
    time_to_quality_s: float
    flops_per_example: float
    params: int
    ceiling: float = QUALITY_CEILING

    def __post_init__(self) -> None:
        if self.flops_per_example <= 0 or self.params <= 0:
            raise ValueError(f"{self.model} on {self.task}: flops_per_example and params must be positive")
        if not self.time_to_quality_s >= 0:
            raise ValueError(f"{self.model} on {self.task}: time_to_quality_s must be >= 0")
        if self.ceiling <= self.chance:
            raise ValueError(f"{self.model} on {self.task}: chance {self.chance} is not below the ceiling")


def absolute_quality(cell: CellSummary) -> float:
    """Score on the scale chance = 0, ceiling = 1, clipped to [0, 1]."""
    return min(max((cell.score - cell.chance) / (cell.ceiling - cell.chance), 0.0), 1.0)


def _log_position(value: float, best: float, worst: float) -> float:
    """Where `value` lies between `worst` (0) and `best` (1) on a log scale, clipped to [0, 1]."""
    if value <= best:
        return 1.0
    return min(max(math.log(worst / value) / math.log(worst / best), 0.0), 1.0)


def time_part(seconds: float) -> float:
    """Training seconds to quality on a log scale between the fixed `SECONDS_BEST` (1) and `SECONDS_WORST` (0)."""
    return _log_position(seconds, SECONDS_BEST, SECONDS_WORST)


def complexity_part(flops_per_example: float) -> float:
    """Forward FLOPs per example on a log scale between the fixed `FLOPS_BEST` (1) and `FLOPS_WORST` (0)."""
    return _log_position(flops_per_example, FLOPS_BEST, FLOPS_WORST)


@dataclass(frozen=True)
class ModelScore:
    """A model's composite and every part, each a mean over its ``n_tasks`` tasks."""

    model: str
    composite: float
    quality: float
    mean_score: float
    training_efficiency: float
    time_to_quality_s: float
    complexity_efficiency: float
    flops_per_example: float
    params: float
    n_tasks: int

    @property
    def order(self) -> tuple:
        """Sort key: composite, then quality, then mean score (all highest first), then time, FLOPs and name."""
        return (
            -self.composite,
            -self.quality,
            -self.mean_score,
            self.time_to_quality_s,
            self.flops_per_example,
            self.model,
        )


def model_score(cells: list[CellSummary], weights: ScoreWeights = DEFAULT_WEIGHTS) -> ModelScore:
    """The composite of one model from its own cells only (formula in the module docstring)."""
    if not cells or len({c.model for c in cells}) != 1:
        raise ValueError("model_score needs the cells of exactly one model")
    if len({c.task for c in cells}) != len(cells):
        raise ValueError(f"duplicate task among the cells of model {cells[0].model!r}")
    q = statistics.fmean(absolute_quality(c) for c in cells)
    e_t = statistics.fmean(time_part(c.time_to_quality_s) for c in cells)
    e_c = statistics.fmean(complexity_part(c.flops_per_example) for c in cells)
    total = weights.quality + weights.training_efficiency + weights.complexity_efficiency
    composite = (weights.quality * q + weights.training_efficiency * e_t + weights.complexity_efficiency * e_c) / total
    return ModelScore(
        model=cells[0].model,
        composite=composite,
        quality=q,
        mean_score=statistics.fmean(c.score for c in cells),
        training_efficiency=e_t,
        time_to_quality_s=statistics.fmean(c.time_to_quality_s for c in cells),
        complexity_efficiency=e_c,
        flops_per_example=statistics.fmean(c.flops_per_example for c in cells),
        params=statistics.fmean(c.params for c in cells),
        n_tasks=len(cells),
    )


def reusability_scores(cells: list[CellSummary], weights: ScoreWeights = DEFAULT_WEIGHTS) -> list[ModelScore]:
    """`model_score` of every model among ``cells``, best first (`ModelScore.order`)."""
    by_model: dict[str, list[CellSummary]] = defaultdict(list)
    for cell in cells:
        by_model[cell.model].append(cell)
    return sorted((model_score(model_cells, weights) for model_cells in by_model.values()), key=lambda s: s.order)


def dominates(a: list[CellSummary], b: list[CellSummary]) -> bool:
    """Whether checkpoint `a` scores at least as well as `b` on every one of b's tasks (and has no other), at no
    higher training time to quality and no more FLOPs on any of them, and differs from b somewhere."""
    by_task = {c.task: c for c in a}
    if set(by_task) != {c.task for c in b}:
        return False
    pairs = [(by_task[c.task], c) for c in b]
    at_least = all(
        x.score >= y.score and x.time_to_quality_s <= y.time_to_quality_s and x.flops_per_example <= y.flops_per_example
        for x, y in pairs
    )
    differs = any(
        (x.score, x.time_to_quality_s, x.flops_per_example) != (y.score, y.time_to_quality_s, y.flops_per_example)
        for x, y in pairs
    )
    return at_least and differs


def dominated_above(cells: list[CellSummary], weights: ScoreWeights = DEFAULT_WEIGHTS) -> list[tuple[str, str]]:
    """(ranked higher, its dominator) for every checkpoint ranked above one that dominates it; empty when the
    ranking is Pareto-consistent."""
    by_model: dict[str, list[CellSummary]] = defaultdict(list)
    for cell in cells:
        by_model[cell.model].append(cell)
    rank = {score.model: i for i, score in enumerate(reusability_scores(cells, weights))}
    return [
        (low, high)
        for high in by_model
        for low in by_model
        if high != low and dominates(by_model[high], by_model[low]) and rank[low] < rank[high]
    ]
