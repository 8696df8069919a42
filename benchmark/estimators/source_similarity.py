"""Does task similarity predict reuse? Rank correlation between how similar a checkpoint's source task is to a
target and how much the checkpoint gained over its scratch twin there, with honest uncertainty.

Statistic. Spearman's rho: the Pearson correlation of average ranks (tied values share their mean rank, as
``scipy.stats.spearmanr``). The caller passes *similarity* (the leaderboard passes minus the distance), so rho > 0
means that more similar sources gave larger gains. Two summaries:

* **pooled**: rho over every (checkpoint, target) pair at once;
* **within-target**: rho over each target's checkpoints (targets with at least `MIN_PAIRS` pairs and neither side
  constant), averaged over targets with equal weights. Distances and gains have target-specific scales (one target
  is far from every source and also gains little from any): pooling can turn differences *between* targets into a
  correlation that no target shows among its own checkpoints. The within-target mean cannot.

Uncertainty, two separate questions (as in `benchmark.estimators.rank_agreement`):

* Could chance have done as well? A permutation test. Pooled: the gains are permuted over all pairs. Within-target:
  each target's gains are permuted among its own checkpoints, independently per target (a stratified test, so a
  target's scale stays with it). Every ordering is enumerated while there are at most `MAX_EXACT_ORDERINGS` of
  them; beyond, `MONTE_CARLO_PERMUTATIONS` seeded random orderings are drawn and p = (1 + hits) / (1 + draws).
  ``p_greater`` is one-sided for the hypothesis (rho at least the observed), ``p_two_sided`` counts |rho|.
  ``smallest_p`` is the one-sided p a perfect ordering would get: with few pairs no result can be significant.
* How much do the measured gains move? The statistic is recomputed for each bootstrap replicate of the gains (seeds,
  and test examples where per-example predictions exist; the distances held fixed): the 95 % percentile interval.

Too few pairs, or a constant side, give NaN rather than an exception.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special, stats

from benchmark.estimators.rank_agreement import percentile_interval
from benchmark.estimators.resampling import ALPHA, WELCH, Difference

MIN_PAIRS = 3  # below this a rank correlation is a coin flip
CONTROL_PREFIX = "ctl_"  # a source task named so is a negative control (e.g. shuffled labels), not a transfer source
MAX_EXACT_ORDERINGS = 40_320  # 8! orderings: exact up to 8 pooled pairs, a few milliseconds
MONTE_CARLO_PERMUTATIONS = 10_000  # p-value resolution 1/10,001
TIE_TOLERANCE = 1e-12  # a permuted statistic this close to the observed one counts as reaching it


def _centred_ranks(values: np.ndarray) -> np.ndarray:
    """Average ranks along the last axis, minus their mean."""
    ranks = stats.rankdata(values, axis=-1)
    return ranks - ranks.mean(axis=-1, keepdims=True)


def _correlate(x_centred: np.ndarray, y_centred: np.ndarray) -> np.ndarray:
    """Pearson correlation of a centred vector ``(n,)`` with each centred row ``(..., n)``; NaN for a constant side."""
    numerator = y_centred @ x_centred
    denominator = np.sqrt((x_centred @ x_centred) * (y_centred * y_centred).sum(axis=-1))
    safe = np.where(denominator > 0, denominator, 1.0)
    return np.where(denominator > 0, numerator / safe, np.nan)


def spearman(x, y) -> float:
    """Spearman's rho of two equal-length vectors; NaN with fewer than two items or a constant side."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape:
        raise ValueError(f"x and y differ in shape: {x.shape} vs {y.shape}")
    if x.size < 2:
        return float("nan")
    return float(_correlate(_centred_ranks(x), _centred_ranks(y)))


def spearman_rows(x, rows) -> np.ndarray:
    """Spearman's rho of ``x`` ``(n,)`` with every row of ``rows`` ``(B, n)``."""
    rows = np.atleast_2d(np.asarray(rows, dtype=float))
    return _correlate(_centred_ranks(np.asarray(x, dtype=float)), _centred_ranks(rows))


@dataclass(frozen=True)
class Correlation:
    """A rank correlation between similarity and gain: ``rho`` over ``n`` pairs, its permutation p-values (``exact``:
    every one of ``orderings`` orderings, else that many random ones), the smallest one-sided p the orderings
    allow, and the 95 % interval of rho under the gains' noise (NaN without replicates)."""

    rho: float
    n: int
    p_greater: float
    p_two_sided: float
    exact: bool
    orderings: int
    smallest_p: float
    noise: tuple[float, float]

    @property
    def defined(self) -> bool:
        return math.isfinite(self.rho)


def _undefined(n: int) -> Correlation:
    nan = float("nan")
    return Correlation(nan, n, nan, nan, False, 0, nan, (nan, nan))


def _p_values(observed: float, null: np.ndarray, exact: bool) -> tuple[float, float, float]:
    """One-sided, two-sided and smallest attainable one-sided p of ``observed`` against its null values."""
    if not math.isfinite(observed) or not np.isfinite(null).all():
        return float("nan"), float("nan"), float("nan")

    def share(hits: int) -> float:
        return hits / null.size if exact else (1 + hits) / (1 + null.size)

    greater = share(int(np.sum(null >= observed - TIE_TOLERANCE)))
    two_sided = share(int(np.sum(np.abs(null) >= abs(observed) - TIE_TOLERANCE)))
    return greater, two_sided, share(int(np.sum(null >= null.max() - TIE_TOLERANCE)))


def _orderings(n: int, count: int | None, rng: np.random.Generator) -> np.ndarray:
    """Every permutation of n items (``count`` None) or ``count`` random ones, ``(orderings, n)``."""
    if count is None:
        return np.array(list(itertools.permutations(range(n))), dtype=np.intp).reshape(-1, n)
    return np.argsort(rng.random((count, n)), axis=1)


def _noise(statistic, gain_replicates) -> tuple[float, float]:
    if gain_replicates is None:
        return float("nan"), float("nan")
    return percentile_interval(statistic(np.atleast_2d(np.asarray(gain_replicates, dtype=float))))


def pooled_correlation(similarity, gain, gain_replicates=None, seed: int = 0) -> Correlation:
    """Spearman's rho between similarity and gain over every pair, with its permutation p-values (gains permuted
    over all pairs) and, given ``gain_replicates`` ``(B, n)``, its 95 % interval under the gains' noise."""
    x, y = np.asarray(similarity, dtype=float), np.asarray(gain, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"similarity and gain must be vectors of one length: {x.shape} vs {y.shape}")
    rho = spearman(x, y)
    if x.size < MIN_PAIRS or not math.isfinite(rho):
        return _undefined(x.size)
    exact = math.factorial(x.size) <= MAX_EXACT_ORDERINGS
    orders = _orderings(x.size, None if exact else MONTE_CARLO_PERMUTATIONS, np.random.default_rng(seed))
    x_centred, y_centred = _centred_ranks(x), _centred_ranks(y)
    null = _correlate(x_centred, y_centred[orders])
    p_greater, p_two_sided, smallest = _p_values(rho, null, exact)
    noise = _noise(lambda rows: spearman_rows(x, rows), gain_replicates)
    return Correlation(rho, x.size, p_greater, p_two_sided, exact, len(orders), smallest, noise)


@dataclass(frozen=True)
class WithinTarget:
    """The mean over targets of each target's own rho (``correlation``: its rho is the mean, its n the pairs of the
    targets used), each target's rho and pair count, and which targets entered the mean (at least `MIN_PAIRS`
    pairs, neither side constant)."""

    correlation: Correlation
    per_target: dict[str, float]
    sizes: dict[str, int]
    used: tuple[str, ...]


def within_target_correlation(similarity, gain, targets: Sequence[str], gain_replicates=None, seed: int = 0):
    """The mean of per-target Spearman rho between similarity and gain, with a stratified permutation test (each
    target's gains permuted among its own pairs) and, given ``gain_replicates`` ``(B, n)``, its 95 % interval under
    the gains' noise. Returns a `WithinTarget`."""
    x, y = np.asarray(similarity, dtype=float), np.asarray(gain, dtype=float)
    labels = np.asarray(list(targets), dtype=object)
    if not (x.shape == y.shape == labels.shape) or x.ndim != 1:
        raise ValueError("similarity, gain and targets must be vectors of one length")
    index = {t: np.flatnonzero(labels == t) for t in sorted(set(labels.tolist()))}
    per_target = {t: spearman(x[i], y[i]) if i.size >= MIN_PAIRS else float("nan") for t, i in index.items()}
    sizes = {t: int(i.size) for t, i in index.items()}
    used = tuple(t for t, rho in per_target.items() if math.isfinite(rho))
    n = sum(sizes[t] for t in used)
    if not used:
        return WithinTarget(_undefined(n), per_target, sizes, used)
    mean = float(np.mean([per_target[t] for t in used]))
    null, exact, orderings = _stratified_null(x, y, [index[t] for t in used], seed)
    p_greater, p_two_sided, smallest = _p_values(mean, null, exact)

    def statistic(rows: np.ndarray) -> np.ndarray:
        return np.mean([spearman_rows(x[index[t]], rows[:, index[t]]) for t in used], axis=0)

    correlation = Correlation(
        mean, n, p_greater, p_two_sided, exact, orderings, smallest, _noise(statistic, gain_replicates)
    )
    return WithinTarget(correlation, per_target, sizes, used)


def is_control(source: str | None) -> bool:
    """Whether a source task is a negative control (its id starts with `CONTROL_PREFIX`): what such a checkpoint
    gains measures what pretraining buys without the source's labels, so it stays out of every correlation."""
    return source is not None and source.startswith(CONTROL_PREFIX)


def leave_one_target_out(similarity, gain, targets: Sequence[str], seed: int = 0) -> dict[str, Correlation]:
    """The within-target mean rho with each target left out in turn, ``{left-out target: Correlation}``, over the
    targets that enter the full mean (permutation p-values each; no noise intervals). A finding that one target
    carries changes sign or loses its p here."""
    x, y = np.asarray(similarity, dtype=float), np.asarray(gain, dtype=float)
    labels = np.asarray(list(targets), dtype=object)
    used = within_target_correlation(x, y, labels, seed=seed).used
    if len(used) < 2:
        return {}
    found = {}
    for index, target in enumerate(used):
        keep = labels != target
        found[target] = within_target_correlation(x[keep], y[keep], labels[keep], seed=seed + 1 + index).correlation
    return found


def _stratified_null(x: np.ndarray, y: np.ndarray, strata: list[np.ndarray], seed: int):
    """The mean of per-stratum rho under independent permutations within each stratum: every combination of
    orderings (their sum, built as an outer sum) when there are at most `MAX_EXACT_ORDERINGS`, else
    `MONTE_CARLO_PERMUTATIONS` random draws. Returns (values, exact, orderings considered)."""
    total = math.prod(math.factorial(i.size) for i in strata)
    exact = total <= MAX_EXACT_ORDERINGS
    rng = np.random.default_rng(seed)
    summed = np.zeros(1 if exact else MONTE_CARLO_PERMUTATIONS)
    for i in strata:
        orders = _orderings(i.size, None if exact else MONTE_CARLO_PERMUTATIONS, rng)
        values = _correlate(_centred_ranks(x[i]), _centred_ranks(y[i])[orders])
        summed = np.add.outer(summed, values).ravel() if exact else summed + values
    return summed / len(strata), exact, summed.size


def welch_gain_difference(
    pretrained_a: Sequence[float],
    scratch_a: Sequence[float],
    pretrained_b: Sequence[float],
    scratch_b: Sequence[float],
) -> Difference:
    """Welch's t interval for gain(a) - gain(b), each gain a difference of two independent seed means (a checkpoint's
    and its scratch twin's), Satterthwaite's degrees of freedom over the four variance components. For the same
    twin on both sides the gain difference is the pretrained difference: use `welch_difference` on those instead.
    No verdict with fewer than two seeds on a side; zero spread everywhere gives a zero-width interval, as
    `welch_difference` does."""
    sides = [np.asarray(s, dtype=float) for s in (pretrained_a, scratch_a, pretrained_b, scratch_b)]
    means = [s.mean() if s.size else math.nan for s in sides]
    estimate = float((means[0] - means[1]) - (means[2] - means[3]))
    if any(s.size < 2 for s in sides):
        return Difference(estimate, math.nan, math.nan, WELCH, None)
    shares = [s.var(ddof=1) / s.size for s in sides]
    variance = sum(shares)
    if variance == 0:
        return Difference(estimate, estimate, estimate, WELCH, estimate != 0)
    dof = variance**2 / sum(share**2 / (s.size - 1) for share, s in zip(shares, sides, strict=True))
    half = float(special.stdtrit(dof, 1 - ALPHA / 2)) * math.sqrt(variance)
    return Difference.from_interval(estimate, estimate - half, estimate + half, WELCH)
