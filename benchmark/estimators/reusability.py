"""Composite reusability score: one number per checkpoint, every part measured against a fixed reference.

For every task t a model m was fine-tuned on (scores are the main metric, means over seeds; the scratch twin is
the same architecture trained from random initialisation under the same protocol and budget):

    q   = clip((score - chance) / (ceiling - chance), 0, 1)       quality against chance and ceiling = 1
    g   = clip((score - scratch) / (ceiling - chance), -1, 1)     gain over the model's own scratch twin
    Q   = (q + max(g, 0)) / 2                                     quality part
    s   = T_scratch / T_m                                         speed-up to the scratch twin's quality
    E_t = s / (1 + s)                                             0 never reached, 1/2 as fast, -> 1 faster
    E_c = clip(log(F_max / F) / log(F_max / F_min), 0, 1)         F = forward FLOPs per example at t's input,
                                                                  F_min = 1e6 (E_c = 1), F_max = 1e12 (E_c = 0)
    composite = (w_q mean_t Q + w_t mean_t E_t + w_c mean_t E_c) / (w_q + w_t + w_c)

T_scratch is the scratch twin's mean training time until its validation curve first reaches the quality every
one of its seeds reached (the lowest of their best validation scores); T_m is m's mean time to that same
validation score, and s = 0 when a seed of m never reached it. Time is compared with the model's own twin, on
the same hardware, so it needs no other model either.

Nothing in a model's score depends on another model of the suite: adding or removing a model changes no other
model's score (a property test checks it), and a suite of one model is scored like any other. Weights default to
0.6 / 0.2 / 0.2 (`ScoreWeights`). Parameters are reported beside the FLOPs but not scored: the two move
together, and counting both would count size twice. Models are listed by composite, highest first; ties by name.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass

from benchmark.specs.schema import ScoreWeights

DEFAULT_WEIGHTS = ScoreWeights()
QUALITY_CEILING = 1.0  # the maximum of every built-in metric (accuracy, macro F1, Matthews correlation)
FLOPS_BEST = 1e6  # forward FLOPs per example that score E_c = 1 (and anything cheaper)
FLOPS_WORST = 1e12  # ... that score E_c = 0 (and anything dearer)


@dataclass(frozen=True)
class CellSummary:
    """One (model, task) result, means over seeds: the main metric, its chance level, the scratch twin's score,
    the speed-up over the twin (`time_part`), and the network's cost at the task's input."""

    model: str
    task: str
    score: float
    chance: float
    scratch_score: float
    speed_up: float
    flops_per_example: float
    params: int
    ceiling: float = QUALITY_CEILING

    def __post_init__(self) -> None:
        if self.flops_per_example <= 0 or self.params <= 0:
            raise ValueError(f"{self.model} on {self.task}: flops_per_example and params must be positive")
        if not self.speed_up >= 0:
            raise ValueError(
                f"{self.model} on {self.task}: speed_up must be >= 0 (0 = never reached), got {self.speed_up}"
            )
        if self.ceiling <= self.chance:
            raise ValueError(f"{self.model} on {self.task}: chance {self.chance} is not below the ceiling")


def absolute_quality(cell: CellSummary) -> float:
    """Score on the scale chance = 0, ceiling = 1, clipped to [0, 1]."""
    return min(max((cell.score - cell.chance) / (cell.ceiling - cell.chance), 0.0), 1.0)


def gain(cell: CellSummary) -> float:
    """Score minus the scratch twin's, on the same chance-to-ceiling scale, clipped to [-1, 1]."""
    return min(max((cell.score - cell.scratch_score) / (cell.ceiling - cell.chance), -1.0), 1.0)


def quality_part(cell: CellSummary) -> float:
    """Half absolute quality, half the (non-negative) gain over the scratch twin."""
    return (absolute_quality(cell) + max(gain(cell), 0.0)) / 2


def time_part(speed_up: float) -> float:
    """s / (1 + s): 0 when never reached, 1/2 as fast as the scratch twin, approaching 1 as s grows."""
    return 1.0 if math.isinf(speed_up) else speed_up / (1.0 + speed_up)


def complexity_part(flops_per_example: float) -> float:
    """Forward FLOPs per example on a log scale between the fixed `FLOPS_BEST` (1) and `FLOPS_WORST` (0)."""
    position = math.log(FLOPS_WORST / flops_per_example) / math.log(FLOPS_WORST / FLOPS_BEST)
    return min(max(position, 0.0), 1.0)


@dataclass(frozen=True)
class ModelScore:
    """A model's composite and every part, each a mean over its ``n_tasks`` tasks (``speed_up``: median)."""

    model: str
    composite: float
    quality: float
    absolute_quality: float
    gain: float
    training_efficiency: float
    speed_up: float
    complexity_efficiency: float
    flops_per_example: float
    params: float
    n_tasks: int


def model_score(cells: list[CellSummary], weights: ScoreWeights = DEFAULT_WEIGHTS) -> ModelScore:
    """The composite of one model from its own cells only (formula in the module docstring)."""
    if not cells or len({c.model for c in cells}) != 1:
        raise ValueError("model_score needs the cells of exactly one model")
    if len({c.task for c in cells}) != len(cells):
        raise ValueError(f"duplicate task among the cells of model {cells[0].model!r}")
    q = statistics.fmean(quality_part(c) for c in cells)
    e_t = statistics.fmean(time_part(c.speed_up) for c in cells)
    e_c = statistics.fmean(complexity_part(c.flops_per_example) for c in cells)
    total = weights.quality + weights.training_efficiency + weights.complexity_efficiency
    composite = (weights.quality * q + weights.training_efficiency * e_t + weights.complexity_efficiency * e_c) / total
    return ModelScore(
        model=cells[0].model,
        composite=composite,
        quality=q,
        absolute_quality=statistics.fmean(absolute_quality(c) for c in cells),
        gain=statistics.fmean(gain(c) for c in cells),
        training_efficiency=e_t,
        speed_up=statistics.median(c.speed_up for c in cells),
        complexity_efficiency=e_c,
        flops_per_example=statistics.fmean(c.flops_per_example for c in cells),
        params=statistics.fmean(c.params for c in cells),
        n_tasks=len(cells),
    )


def reusability_scores(cells: list[CellSummary], weights: ScoreWeights = DEFAULT_WEIGHTS) -> list[ModelScore]:
    """`model_score` of every model among ``cells``, highest composite first, ties by name."""
    by_model: dict[str, list[CellSummary]] = defaultdict(list)
    for cell in cells:
        by_model[cell.model].append(cell)
    scores = [model_score(model_cells, weights) for model_cells in by_model.values()]
    return sorted(scores, key=lambda s: (-s.composite, s.model))
