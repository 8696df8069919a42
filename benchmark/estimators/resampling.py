"""How much a measured score moves: bootstrap replicates over seeds and test examples, paired differences, tiers.

A cell's score is one draw from two sources of noise: the seed (initialisation, data order, the training subset)
and the finite test set. `mean_score_replicates` resamples both. Test examples are resampled once per task
(multinomial example weights shared by every model and seed of the task, whose predictions are stored in one
fixed order), so two models' replicates are paired on the examples, as a paired bootstrap should be; seeds are
resampled per model. A mean over k seeds resampled with replacement has (k - 1) / k of the variance it should
have, which at k = 3 hides a fifth of the spread, so each replicate's seed deviation is scaled by
sqrt(k / (k - 1)) (k >= 2).

Metrics are recomputed from weighted per-class counts (true-positive, true and predicted counts), which is
exact for the built-in metrics: accuracy, macro F1 over the classes present in references or predictions
(as scikit-learn's ``f1_score(average="macro")``), and the multi-class Matthews correlation (as
``matthews_corrcoef``). Other metrics fall back to resampling seeds only.

Two scores are *separable* when the 95 % percentile interval of their replicate differences excludes zero, or,
for scores without per-example predictions, when Welch's interval over seeds does. Tiers group models that are
not separable from their tier's leader.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special

EXAMPLE_RESAMPLING = "seeds × test examples"
SEED_RESAMPLING = "seeds"
WELCH = "Welch over seeds"
ALPHA = 0.05


def example_weights(n_examples: int, n_boot: int, seed: int) -> np.ndarray:
    """How often each test example is drawn in each of ``n_boot`` resamples with replacement, ``(n_boot, N)``."""
    rng = np.random.default_rng(seed)
    return rng.multinomial(n_examples, np.full(n_examples, 1.0 / n_examples), size=n_boot).astype(np.float64)


def _accuracy(hits: np.ndarray, truth: np.ndarray, guess: np.ndarray) -> np.ndarray:
    return hits.sum(axis=-1) / truth.sum(axis=-1)


def _f1_macro(hits: np.ndarray, truth: np.ndarray, guess: np.ndarray) -> np.ndarray:
    support = truth + guess
    present = support > 0
    f1 = np.divide(2 * hits, support, out=np.zeros_like(hits), where=present)
    return f1.sum(axis=-1) / present.sum(axis=-1)


def _matthews(hits: np.ndarray, truth: np.ndarray, guess: np.ndarray) -> np.ndarray:
    correct, total = hits.sum(axis=-1), truth.sum(axis=-1)
    covariance = correct * total - (truth * guess).sum(axis=-1)
    spread = (total**2 - (guess * guess).sum(axis=-1)) * (total**2 - (truth * truth).sum(axis=-1))
    return np.divide(covariance, np.sqrt(spread), out=np.zeros_like(covariance), where=spread > 0)


METRICS_FROM_COUNTS: dict[str, Callable[..., np.ndarray]] = {
    "accuracy": _accuracy,
    "f1_macro": _f1_macro,
    "matthews_correlation": _matthews,
}
ONE_HOT_ELEMENTS = 1 << 22  # per one-hot table (32 MiB of float64): bounds memory whatever N and the class count


def _one_hot(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Dense one-hot of ``labels`` of any shape ``(..., N)`` as ``(N, ... * n_classes)``, class fastest."""
    flat = labels.reshape(-1, labels.shape[-1])
    table = np.zeros((labels.shape[-1], flat.shape[0] * n_classes))
    table[np.arange(labels.shape[-1])[:, None], np.arange(flat.shape[0]) * n_classes + flat.T] = 1.0
    return table


def seed_metric_replicates(metric: str, predicted, references, weights: np.ndarray) -> np.ndarray | None:
    """``metric`` of each seed's predictions (rows of ``predicted``, ``(S, N)``) on each example resample (rows of
    ``weights``, ``(B, N)``): ``(S, B)``; None for a metric not in `METRICS_FROM_COUNTS`.

    Accuracy is one matrix product of the correctness table with the weights; the other metrics need weighted
    per-class counts (hits, true, predicted), formed as products of the weights with one-hot tables, seeds in
    chunks of at most `ONE_HOT_ELEMENTS` table entries. The true counts are the same for every seed: formed once.
    """
    if metric not in METRICS_FROM_COUNTS:
        return None
    predicted = np.atleast_2d(np.asarray(predicted, dtype=np.int64))
    references = np.asarray(references, dtype=np.int64)
    weights = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    correct = (predicted == references).astype(np.float64)
    if metric == "accuracy":
        return (correct @ weights.T) / weights.sum(axis=1)
    n_classes = int(max(predicted.max(initial=0), references.max(initial=0))) + 1
    truth = weights @ _one_hot(references, n_classes)  # (B, C)
    per_chunk = max(1, ONE_HOT_ELEMENTS // (n_classes * references.size))
    values = []
    for start in range(0, predicted.shape[0], per_chunk):
        guessed = _one_hot(predicted[start : start + per_chunk], n_classes)
        hit = guessed * np.repeat(correct[start : start + per_chunk], n_classes, axis=0).T
        shape = (weights.shape[0], -1, n_classes)
        guess_counts = (weights @ guessed).reshape(shape).transpose(1, 0, 2)
        hit_counts = (weights @ hit).reshape(shape).transpose(1, 0, 2)
        values.append(METRICS_FROM_COUNTS[metric](hit_counts, truth[None], guess_counts))
    return np.concatenate(values)


def metric_replicates(metric: str, predicted, references, weights: np.ndarray) -> np.ndarray | None:
    """``metric`` of one set of predictions on each example resample (rows of ``weights``): ``(B,)``."""
    values = seed_metric_replicates(metric, np.asarray(predicted)[None], references, weights)
    return None if values is None else values[0]


def metric_value(metric: str, predicted, references) -> float | None:
    """``metric`` on the predictions as they are (every example once)."""
    values = metric_replicates(metric, predicted, references, np.ones((1, len(references))))
    return None if values is None else float(values[0])


def mean_score_replicates(per_seed: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """Bootstrap replicates of a mean over seeds, ``(n_boot,)``.

    ``per_seed[s, b]`` is seed s's score on example resample b (a constant row when the seed has no per-example
    predictions). Replicate b averages seeds drawn with replacement on resample b; the deviation of that
    average from the all-seed mean is scaled by sqrt(k / (k - 1)) so the seed spread is not understated.
    """
    per_seed = np.atleast_2d(np.asarray(per_seed, dtype=float))
    k = per_seed.shape[0]
    per_seed = np.broadcast_to(per_seed, (k, n_boot)) if per_seed.shape[1] == 1 else per_seed
    all_seeds = per_seed.mean(axis=0)
    if k == 1:
        return all_seeds.copy()
    draws = np.random.default_rng(seed).integers(0, k, size=(n_boot, k))
    drawn = per_seed[draws, np.arange(n_boot)[:, None]].mean(axis=1)
    return all_seeds + math.sqrt(k / (k - 1)) * (drawn - all_seeds)


@dataclass(frozen=True)
class Difference:
    """``estimate`` = mean(a) - mean(b) with its 95 % interval; ``separable`` None when nothing can be said."""

    estimate: float
    low: float
    high: float
    method: str
    separable: bool | None

    @classmethod
    def from_interval(cls, estimate: float, low: float, high: float, method: str) -> Difference:
        if not (math.isfinite(low) and math.isfinite(high)):
            return cls(estimate, math.nan, math.nan, method, None)
        return cls(estimate, low, high, method, bool(low > 0 or high < 0))


def bootstrap_difference(estimate: float, replicates_a, replicates_b, method: str) -> Difference:
    """Percentile interval of paired replicate differences a - b around the measured difference."""
    low, high = np.quantile(np.asarray(replicates_a) - np.asarray(replicates_b), [ALPHA / 2, 1 - ALPHA / 2])
    return Difference.from_interval(estimate, float(low), float(high), method)


def welch_difference(scores_a: Sequence[float], scores_b: Sequence[float]) -> Difference:
    """Welch's t interval for mean(a) - mean(b) over seeds; no verdict with fewer than two seeds on a side.

    Zero spread on both sides gives a zero-width interval: the seeds agree exactly, so any difference counts.
    """
    a, b = np.asarray(scores_a, dtype=float), np.asarray(scores_b, dtype=float)
    estimate = float(a.mean() - b.mean()) if a.size and b.size else math.nan
    if a.size < 2 or b.size < 2:
        return Difference(estimate, math.nan, math.nan, WELCH, None)
    share_a, share_b = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    variance = share_a + share_b
    if variance == 0:
        return Difference(estimate, estimate, estimate, WELCH, estimate != 0)
    dof = variance**2 / (share_a**2 / (a.size - 1) + share_b**2 / (b.size - 1))
    half = float(special.stdtrit(dof, 1 - ALPHA / 2)) * math.sqrt(variance)  # Student t quantile
    return Difference.from_interval(estimate, estimate - half, estimate + half, WELCH)


def tiers(ordered: Sequence[str], separable: Callable[[str, str], bool | None]) -> dict[str, int]:
    """Tier of each item, best first: an item opens a new tier only when it is separable from the current tier's
    leader (its first, best item); otherwise it joins that tier. ``ordered`` runs from best to worst."""
    assigned: dict[str, int] = {}
    tier, leader = 1, None
    for item in ordered:
        if leader is not None and separable(leader, item) is True:
            tier, leader = tier + 1, item
        leader = item if leader is None else leader
        assigned[item] = tier
    return assigned


def minimum_detectable_difference(
    score: float, n_test: int, seed_sd: float, seeds: int, power: float = 0.8, alpha: float = ALPHA
) -> float:
    """The smallest difference of two checkpoints' mean test scores that a two-sided test at `alpha` detects with
    `power`, for scores near `score` on `n_test` examples with `seeds` runs of spread `seed_sd` each.

    A checkpoint's mean score varies by seed (sd / sqrt(seeds)) and by which test examples were drawn (binomial,
    score (1 - score) / n_test); the two checkpoints are taken as independent, which ignores the pairing on
    shared test examples, so the figure is conservative (the paired bootstrap of the tiers can separate a little
    less). MDD = (z_{1-alpha/2} + z_power) * sqrt(2 * (sd^2 / seeds + score (1 - score) / n_test)).
    """
    if n_test < 1 or seeds < 1:
        raise ValueError("minimum_detectable_difference needs at least one test example and one seed")
    p = min(max(score, 0.0), 1.0)
    variance = seed_sd**2 / seeds + p * (1 - p) / n_test
    z = special.ndtri(1 - alpha / 2) + special.ndtri(power)
    return float(z * math.sqrt(2 * variance))
