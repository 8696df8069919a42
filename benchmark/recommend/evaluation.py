"""How well cheap signals pick the checkpoint to reuse, measured on fine-tuned ground truth by leave-one-target-out.

A *shelf* is, per modality, the pretrained checkpoints' cheap signals on each target (what `recommend` can compute
without fine-tuning: the transferability estimators and the linear probe's validation score on frozen features,
the parameter count, the declared source accuracy) beside the truth (the fine-tune's mean test score over seeds).
Every combination of signals is fitted on the other targets of its modality and judged on the held-out one, so a
held-out target's fine-tuned results never enter its own recommendation (a test checks it). Methods:

- baselines: ``largest model`` (parameters), ``best source accuracy``, ``linear probe score`` (validation);
- ``best single signal``: the signal with the highest mean Kendall tau with the truth on the training targets;
- ``rank average``: the mean of each checkpoint's rank under every signal every checkpoint has (nothing fitted);
- ``ridge``: a ridge regression (alpha 1) of the target-wise z-scored truth on the target-wise z-scored signals,
  pooled over the training targets.

The preferred method of a modality is the one of the learned combinations and the linear probe score with the
lowest mean held-out regret: a combination must beat the probe score it contains to be used.

Per method and modality: the top-1 hit rate (the pick is the best fine-tuned checkpoint), the top-3 hit rate (the
best is among the first three), the mean regret (best fine-tuned score minus the pick's), and how often the pick
is within 0.02 of the best; hit rates with Wilson 95 % intervals over held-out targets, regret with a t interval
where there are at least three.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from benchmark.estimators.transferability import NAMES
from benchmark.results.aggregate import group_results
from benchmark.results.schema import CellResult

PROBE_SIGNAL = "linear_probe_score"
PARAMS_SIGNAL = "params_total"
SOURCE_SIGNAL = "source_accuracy"
NEAR_BEST = 0.02  # a pick within this of the best fine-tuned score counts as "near the best"
RIDGE_ALPHA = 1.0
BASELINES = {
    "largest model": PARAMS_SIGNAL,
    "best source accuracy": SOURCE_SIGNAL,
    "linear probe score": PROBE_SIGNAL,
}
LEARNED = ("best single signal", "rank average", "ridge")
PREFERABLE = ("linear probe score", *LEARNED)  # what `recommend` may use, simplest first


@dataclass(frozen=True)
class Target:
    """One target of a shelf: each checkpoint's signals and its fine-tuned mean test score (the truth)."""

    modality: str
    task: str
    signals: dict[str, dict[str, float]]  # checkpoint -> signal -> value (missing where not computed)
    truth: dict[str, float] = field(default_factory=dict)  # checkpoint -> fine-tuned mean test score

    @property
    def checkpoints(self) -> list[str]:
        return sorted(self.truth)


def shelf_targets(results: list[CellResult], min_checkpoints: int = 3) -> list[Target]:
    """Every (suite's modality, target) with at least `min_checkpoints` pretrained checkpoints that have both a
    finished fine-tune and a linear-probe cell, from result files alone."""
    groups = group_results(results)
    signals: dict[tuple, dict[str, dict[str, float]]] = defaultdict(dict)
    truth: dict[tuple, dict[str, float]] = defaultdict(dict)
    for key, group in groups.items():
        if key.init != "pretrained" or not group.ok:
            continue
        slot = (key.modality, key.task)
        if key.protocol == "finetune" and group.mean is not None:
            truth[slot][key.model] = group.mean
        elif key.protocol == "linear_probe":
            signals[slot][key.model] = _probe_signals(group)
    targets = []
    for slot in sorted(truth):
        shared = sorted(set(truth[slot]) & set(signals[slot]))
        if len(shared) >= min_checkpoints:
            targets.append(Target(*slot, {m: signals[slot][m] for m in shared}, {m: truth[slot][m] for m in shared}))
    return targets


def _probe_signals(group) -> dict[str, float]:
    """A probe group's cheap signals, means over seeds: estimators, validation score, size, source accuracy."""
    found: dict[str, float] = {}
    for name in NAMES:
        value = group.mean_of("estimators", name)
        if value is not None and math.isfinite(value):
            found[name] = value
    if group.validation_mean is not None:
        found[PROBE_SIGNAL] = group.validation_mean
    params = group.mean_of("complexity", "params_total")
    if params is not None:
        found[PARAMS_SIGNAL] = params
    source = (group.results[0].specs.get("model") or {}).get(SOURCE_SIGNAL)
    if source is not None:
        found[SOURCE_SIGNAL] = float(source)
    return found


# --- scoring a target's checkpoints ----------------------------------------------------------------------

Scorer = Callable[[dict[str, dict[str, float]]], dict[str, float]]


def common_signals(targets: list[Target]) -> list[str]:
    """The signals every checkpoint of every given target has, in a fixed order."""
    names = [*NAMES, PROBE_SIGNAL, PARAMS_SIGNAL, SOURCE_SIGNAL]
    return [n for n in names if targets and all(n in s for t in targets for s in t.signals.values())]


def signal_scorer(name: str) -> Scorer:
    """Scores = one signal's values (a checkpoint without it scores -inf: never picked over one with it)."""
    return lambda signals: {m: s.get(name, -math.inf) for m, s in signals.items()}


def rank_average_scorer(names: list[str]) -> Scorer:
    """Scores = mean rank (1 = lowest) under each named signal, over the signals each checkpoint has."""

    def score(signals: dict[str, dict[str, float]]) -> dict[str, float]:
        ranks: dict[str, list[float]] = defaultdict(list)
        for name in names:
            have = {m: s[name] for m, s in signals.items() if name in s}
            for model, rank in zip(have, stats.rankdata(list(have.values())), strict=True):
                ranks[model].append(float(rank))
        return {m: statistics.fmean(ranks[m]) if ranks[m] else -math.inf for m in signals}

    return score


def _zscores(values: list[float]) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    spread = array.std()
    return (array - array.mean()) / spread if spread > 0 else np.zeros_like(array)


def _design(target: Target, names: list[str]) -> np.ndarray:
    """Checkpoints x signals, each column z-scored within the target."""
    models = target.checkpoints
    return np.column_stack([_zscores([target.signals[m][n] for m in models]) for n in names])


def fit_ridge(train: list[Target], names: list[str], alpha: float = RIDGE_ALPHA) -> np.ndarray:
    """Ridge weights of the target-wise z-scored truth on the target-wise z-scored signals."""
    X = np.vstack([_design(t, names) for t in train])
    y = np.concatenate([_zscores([t.truth[m] for m in t.checkpoints]) for t in train])
    return np.linalg.solve(X.T @ X + alpha * np.eye(len(names)), X.T @ y)


def ridge_scorer(weights: np.ndarray, names: list[str]) -> Scorer:
    def score(signals: dict[str, dict[str, float]]) -> dict[str, float]:
        models = sorted(signals)
        design = np.column_stack([_zscores([signals[m][n] for m in models]) for n in names])
        return dict(zip(models, (design @ weights).tolist(), strict=True))

    return score


def best_single_signal(train: list[Target], names: list[str]) -> str:
    """The signal with the highest mean Kendall tau with the truth over `train` (ties: the first in order)."""

    def mean_tau(name: str) -> float:
        taus = []
        for t in train:
            tau = stats.kendalltau([t.signals[m][name] for m in t.checkpoints], [t.truth[m] for m in t.checkpoints])[0]
            taus.append(0.0 if math.isnan(tau) else tau)
        return statistics.fmean(taus)

    return max(names, key=lambda n: (mean_tau(n), -names.index(n)))


def learned_scorer(method: str, train: list[Target], names: list[str]) -> tuple[Scorer, str]:
    """The scorer of a learned method fitted on `train` only, and a description of what was fitted."""
    if method == "best single signal":
        chosen = best_single_signal(train, names)
        return signal_scorer(chosen), chosen
    if method == "rank average":
        return rank_average_scorer(names), "+".join(names)
    if method == "ridge":
        weights = fit_ridge(train, names)
        return ridge_scorer(weights, names), ", ".join(f"{n} {w:+.2f}" for n, w in zip(names, weights, strict=True))
    raise ValueError(f"unknown method {method!r}; expected one of {LEARNED}")


def ranking(scores: dict[str, float]) -> list[str]:
    """Checkpoints by score, highest first (ties by name)."""
    return sorted(scores, key=lambda m: (-scores[m], m))


# --- leave-one-target-out --------------------------------------------------------------------------------


@dataclass(frozen=True)
class HeldOut:
    """One held-out target under one method: the ranking, the best fine-tuned checkpoint, and the outcome as
    expected over a random order within each block of tied scores (a signal that cannot tell checkpoints apart
    earns the average of what its tied picks would give, not the luck of their names)."""

    task: str
    ranked: list[str]
    best: str
    top1: float
    top3: float
    near_best: float
    regret: float
    fitted: str = ""


def _blocks(scores: dict[str, float]) -> list[list[str]]:
    """Checkpoints grouped by equal score, highest score first."""
    blocks: dict[float, list[str]] = defaultdict(list)
    for model, value in scores.items():
        blocks[value].append(model)
    return [sorted(blocks[value]) for value in sorted(blocks, reverse=True)]


def judge(target: Target, scores: dict[str, float], fitted: str = "") -> HeldOut:
    """The held-out outcome of one target's scores (higher = recommended first)."""
    mine = {m: scores[m] for m in target.checkpoints}
    blocks = _blocks(mine)
    best = max(target.checkpoints, key=lambda m: (target.truth[m], m))
    top, start = blocks[0], 0
    for block in blocks:
        if best in block:
            break
        start += len(block)

    def chance_within(k: int) -> float:
        """P(best is among the first k) when ties are ordered at random."""
        size = len(next(b for b in blocks if best in b))
        return max(0, min(k - start, size)) / size

    regrets = [target.truth[best] - target.truth[m] for m in top]
    return HeldOut(
        target.task,
        ranking(mine),
        best,
        chance_within(1),
        chance_within(3),
        statistics.fmean(r <= NEAR_BEST for r in regrets),
        statistics.fmean(regrets),
        fitted,
    )


def leave_one_target_out(targets: list[Target], method: str) -> list[HeldOut]:
    """Each target of one modality judged under `method`, fitted (where it learns) on the other targets only.
    Learned methods need at least two targets; baselines are judged on every target."""
    outcomes = []
    for i, held in enumerate(targets):
        if method in BASELINES:
            name = BASELINES[method]
            if sum(name in s for s in held.signals.values()) >= 2:  # a signal one checkpoint has picks nothing
                outcomes.append(judge(held, signal_scorer(name)(held.signals), name))
            continue
        train = targets[:i] + targets[i + 1 :]
        names = common_signals([*train, held])
        if not train or not names:
            continue
        scorer, fitted = learned_scorer(method, train, names)
        outcomes.append(judge(held, scorer(held.signals), fitted))
    return outcomes


@dataclass(frozen=True)
class MethodSummary:
    """A method's record on one modality's held-out targets."""

    method: str
    n: int
    top1: float  # expected hits over the held-out targets (fractional where scores tie)
    top3: float
    near_best: float
    mean_regret: float
    regret_interval: tuple[float, float] | None

    def rate(self, hits: float) -> tuple[float, float, float]:
        return hits / self.n, *wilson(hits, self.n)


def summarise(method: str, outcomes: list[HeldOut]) -> MethodSummary | None:
    if not outcomes:
        return None
    regrets = [o.regret for o in outcomes]
    return MethodSummary(
        method,
        len(outcomes),
        sum(o.top1 for o in outcomes),
        sum(o.top3 for o in outcomes),
        sum(o.near_best for o in outcomes),
        statistics.fmean(regrets),
        t_interval(regrets),
    )


def wilson(hits: float, n: int, z: float = 1.959964) -> tuple[float, float]:
    """The Wilson score 95 % interval of a proportion."""
    if n == 0:
        return (math.nan, math.nan)
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def t_interval(values: list[float]) -> tuple[float, float] | None:
    """The 95 % t interval of a mean; None with fewer than three values (too few to say)."""
    if len(values) < 3:
        return None
    mean, sem = statistics.fmean(values), statistics.stdev(values) / math.sqrt(len(values))
    half = stats.t.ppf(0.975, len(values) - 1) * sem
    return (mean - half, mean + half)


def evaluate_shelf(targets: list[Target]) -> dict[str, list[tuple[MethodSummary, list[HeldOut]]]]:
    """Per modality, every method's summary and held-out outcomes (methods without any outcome left out)."""
    by_modality: dict[str, list[Target]] = defaultdict(list)
    for target in targets:
        by_modality[target.modality].append(target)
    found = {}
    for modality, mine in sorted(by_modality.items()):
        rows = []
        for method in (*BASELINES, *LEARNED):
            outcomes = leave_one_target_out(mine, method)
            summary = summarise(method, outcomes)
            if summary is not None:
                rows.append((summary, outcomes))
        found[modality] = rows
    return found


def preferred_method(rows: list[tuple[MethodSummary, list[HeldOut]]]) -> MethodSummary | None:
    """The method to recommend with: the lowest mean held-out regret among the learned combinations and the linear
    probe score they all contain (ties: more top-1 hits, then the simpler one, the probe score first), so a
    combination is used only where it beat the probe score alone on held-out targets. None where no learned
    method could be judged (one target)."""
    if not any(summary.method in LEARNED for summary, _ in rows):
        return None
    candidates = [summary for summary, _ in rows if summary.method in PREFERABLE]
    return min(candidates, key=lambda s: (s.mean_regret, -s.top1, PREFERABLE.index(s.method)))
