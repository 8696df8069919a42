"""Suite-level rank agreement as the transferability literature reports it, and when a signal may be called best.

A suite's agreement for one signal is the mean over tasks of the per-task weighted tau (You et al., LogME, ICML
2021, and the papers after it report exactly this), with the number of tasks and of models per task beside it.
Tasks with fewer than `MIN_ITEMS` models, or where a side is constant, say nothing and are left out and counted.
Pooling (task, model) items into one tau would count pairs across tasks and treat items as independent; it is
not done.

Two tests go with the mean:

* against chance: the mean over tasks under independent random orderings in every task, drawn from each task's
  permutation distribution (`benchmark.estimators.rank_agreement`), gives a one-sided Monte Carlo p-value;
* against another signal: a paired sign-flip test on the per-task differences over the tasks both signals cover
  (exact over all 2^T sign patterns up to `MAX_EXACT_TASKS`, Monte Carlo beyond). With T tasks the smallest
  possible p is 2^-T, so fewer than five tasks can never separate two signals at 5 %: they are reported as tied.

A signal is called best only when it is separated from every other; otherwise the signals not separated from
the highest mean are reported together as tied.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np

from benchmark.estimators.rank_agreement import MIN_ITEMS, TIE_TOLERANCE, TaskAgreement, percentile_interval

ALPHA = 0.05
NULL_DRAWS = 4000
MAX_EXACT_TASKS = 16


@dataclass(frozen=True)
class SuiteAgreement:
    """One signal over a suite's tasks: the mean per-task weighted tau and what it rests on."""

    signal: str
    per_task: dict[str, float]
    models_per_task: dict[str, int]
    too_few_models: int
    undefined: int
    mean_weighted_tau: float
    p_value: float
    noise: tuple[float, float]

    @property
    def n_tasks(self) -> int:
        return len(self.per_task)


def suite_agreement(signal: str, per_task: dict[str, TaskAgreement], seed: int = 0) -> SuiteAgreement:
    """Mean weighted tau over the tasks where it is defined, its p-value against random orderings and its
    95 % interval under ground-truth noise (when every task used has replicates of one length)."""
    used = {task: a for task, a in sorted(per_task.items()) if a.defined}
    too_few = sum(a.n < MIN_ITEMS for a in per_task.values())
    undefined = len(per_task) - len(used) - too_few
    if not used:
        nan_pair = (math.nan, math.nan)
        return SuiteAgreement(signal, {}, {}, too_few, undefined, math.nan, math.nan, nan_pair)
    observed = float(np.mean([a.weighted_tau for a in used.values()]))
    rng = np.random.default_rng(seed)
    null = np.mean([a.weighted_null[rng.integers(0, a.weighted_null.size, NULL_DRAWS)] for a in used.values()], axis=0)
    p_value = (1 + int(np.sum(null >= observed - TIE_TOLERANCE))) / (1 + NULL_DRAWS)
    lengths = {a.weighted_replicates.size for a in used.values()}
    noise = (math.nan, math.nan)
    if len(lengths) == 1 and 0 not in lengths:
        noise = percentile_interval(np.mean([a.weighted_replicates for a in used.values()], axis=0))
    return SuiteAgreement(
        signal=signal,
        per_task={task: a.weighted_tau for task, a in used.items()},
        models_per_task={task: a.n for task, a in used.items()},
        too_few_models=too_few,
        undefined=undefined,
        mean_weighted_tau=observed,
        p_value=p_value,
        noise=noise,
    )


def sign_flip_p_value(differences, seed: int = 0) -> float:
    """One-sided p-value that the mean of paired differences is above zero by chance (signs flipped at random)."""
    d = np.asarray(differences, dtype=float)
    if d.size == 0:
        return math.nan
    if d.size <= MAX_EXACT_TASKS:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=d.size)))
        return float(np.mean(signs @ d >= d.sum() - TIE_TOLERANCE))
    signs = np.random.default_rng(seed).choice((1.0, -1.0), size=(NULL_DRAWS, d.size))
    return (1 + int(np.sum(signs @ d >= d.sum() - TIE_TOLERANCE))) / (1 + NULL_DRAWS)


@dataclass(frozen=True)
class Comparison:
    """The leader against one other signal over the tasks both cover."""

    other: str
    common_tasks: int
    p_value: float

    @property
    def separated(self) -> bool:
        return self.p_value < ALPHA


def compare_signals(leader: SuiteAgreement, other: SuiteAgreement) -> Comparison:
    """Sign-flip test of leader minus other on their common tasks (no common task: not separated)."""
    common = sorted(leader.per_task.keys() & other.per_task.keys())
    differences = [leader.per_task[t] - other.per_task[t] for t in common]
    return Comparison(other.signal, len(common), sign_flip_p_value(differences) if common else math.nan)


@dataclass(frozen=True)
class Verdict:
    """The signal with the highest mean, and how it fared against each other signal."""

    leader: SuiteAgreement
    comparisons: list[Comparison] = field(default_factory=list)

    @property
    def tied_with(self) -> list[str]:
        return [c.other for c in self.comparisons if not c.separated]

    @property
    def best(self) -> str | None:
        """The leader's name when it is separated from every other signal, else None (a tie)."""
        return self.leader.signal if not self.tied_with else None


def best_signal(agreements: list[SuiteAgreement]) -> Verdict | None:
    """The highest mean weighted tau (ties by the order given) tested against every other defined signal."""
    defined = [a for a in agreements if math.isfinite(a.mean_weighted_tau)]
    if not defined:
        return None
    leader = max(defined, key=lambda a: a.mean_weighted_tau)  # max keeps the first of equal values
    others = sorted((a for a in defined if a is not leader), key=lambda a: -a.mean_weighted_tau)
    return Verdict(leader, [compare_signals(leader, other) for other in others])
