"""Rank agreement between predicted reusability (an estimator's scores) and measured transfer results.

Kendall's tau-b counts concordant minus discordant pairs (Kendall 1938; ties handled as in tau-b).
The weighted tau of Vigna, "A Weighted Correlation Index for Rankings with Ties", WWW 2015 (the statistic of
``scipy.stats.weightedtau``: hyperbolic weights 1/(1 + rank), additive over a pair, averaged over ranking by
either argument) counts disagreements among the top-scored items more: picking the best checkpoint matters
more than ordering the worst. Higher scores mean better in both arguments.

Confidence intervals are percentile bootstraps over the ranked items (models, or task x model pairs): items
are resampled with replacement and the statistic recomputed. A resample is fully described by how many times
it drew each item, and both statistics are sums over pairs of items, so with the n x n pair tables of the
original items built once, every resample's statistic is a few matrix products of its draw counts: a whole
bootstrap costs about as much as a few scipy calls. Tests check the results against scipy on explicitly
repeated items.

Too few items, or constant scores, give NaN rather than an exception, so a report over many small groups
never fails on one of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats

MIN_ITEMS_FOR_CI = 3
MAX_TABLE_ITEMS = 2048  # pair tables are n x n float64; above this many items, resamples go to scipy one by one


def _signs(scores: np.ndarray) -> np.ndarray:
    """sign(s_i - s_j) for every pair of items, by comparison (so infinite scores order like any other)."""
    return (scores[:, None] > scores[None, :]).astype(float) - (scores[:, None] < scores[None, :])


def _above(primary: np.ndarray, secondary: np.ndarray) -> np.ndarray:
    """[i, j] = 1 where item j comes before item i in the descending lexicographic order of (primary, secondary)."""
    first = primary[None, :] > primary[:, None]
    return (first | ((primary[None, :] == primary[:, None]) & (secondary[None, :] > secondary[:, None]))).astype(float)


@dataclass(frozen=True)
class PairTables:
    """Pair tables of n scored items, from which the statistics of any multiset of them follow."""

    concordance: np.ndarray  # sign(dp) * sign(dt)
    pred_untied: np.ndarray  # |sign(dp)|
    true_untied: np.ndarray  # |sign(dt)|
    above_by_pred: np.ndarray  # ranking by (pred, true)
    above_by_true: np.ndarray  # ranking by (true, pred)
    tied: np.ndarray  # both scores equal

    @classmethod
    def of(cls, pred: np.ndarray, true: np.ndarray) -> PairTables:
        pred_signs, true_signs = _signs(pred), _signs(true)
        return cls(
            concordance=pred_signs * true_signs,
            pred_untied=np.abs(pred_signs),
            true_untied=np.abs(true_signs),
            above_by_pred=_above(pred, true),
            above_by_true=_above(true, pred),
            tied=((pred_signs == 0) & (true_signs == 0)).astype(float),
        )


def _ratio(numerator: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """numerator / sqrt(left * right), NaN where a side has no untied pair (the statistic is undefined)."""
    denominator = np.sqrt(left * right)
    safe = np.where(denominator > 0, denominator, 1.0)
    return np.where(denominator > 0, numerator / safe, np.nan)


def kendall_from_counts(tables: PairTables, counts: np.ndarray) -> np.ndarray:
    """Kendall's tau-b of each row of ``counts`` (how often each item is drawn), shape ``(resamples, n)``."""

    def pair_sum(table: np.ndarray) -> np.ndarray:
        return np.einsum("bi,bi->b", counts @ table, counts)

    return _ratio(pair_sum(tables.concordance), pair_sum(tables.pred_untied), pair_sum(tables.true_untied))


def _harmonic(k: np.ndarray) -> np.ndarray:
    """H(k) = sum of 1 / (1 + r) over ranks r < k, for integer-valued k >= 0."""
    table = np.concatenate([[0.0], np.cumsum(1.0 / np.arange(1, int(k.max()) + 2))])
    return table[np.rint(k).astype(int)]


def _rank_weights(counts: np.ndarray, above: np.ndarray, tied: np.ndarray) -> np.ndarray:
    """The summed hyperbolic weights of each item's copies in a resample.

    Copies of items with identical scores occupy one block of consecutive ranks, starting after every copy
    ranked above them; the block's weight H(start + size) - H(start) is shared in proportion to copies. Only
    the block's total matters: items with identical scores have identical rows in every pair table.
    """
    start, block = counts @ above.T, counts @ tied.T
    block_weight = _harmonic(start + block) - _harmonic(start)
    return np.where(counts > 0, counts / np.where(block > 0, block, 1.0) * block_weight, 0.0)


def weighted_from_counts(tables: PairTables, counts: np.ndarray) -> np.ndarray:
    """Vigna's additive hyperbolic weighted tau (as `scipy.stats.weightedtau`) of each row of ``counts``."""
    concordant = counts @ tables.concordance
    pred_untied, true_untied = counts @ tables.pred_untied, counts @ tables.true_untied
    total = np.zeros(counts.shape[0])
    for above in (tables.above_by_pred, tables.above_by_true):
        weights = _rank_weights(counts, above, tables.tied)
        total = total + _ratio(
            np.einsum("bi,bi->b", weights, concordant),
            np.einsum("bi,bi->b", weights, pred_untied),
            np.einsum("bi,bi->b", weights, true_untied),
        )
    return total / 2


CountStatistic = Callable[[PairTables, np.ndarray], np.ndarray]
STATISTICS: dict[str, tuple[CountStatistic, Callable]] = {
    "kendall_tau": (kendall_from_counts, stats.kendalltau),
    "weighted_tau": (weighted_from_counts, stats.weightedtau),
}


def _statistic(name: str, pred: np.ndarray, true: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """`name` on each resample given by a row of draw counts; NaN where undefined."""
    from_counts, reference = STATISTICS[name]
    if pred.size <= MAX_TABLE_ITEMS:
        return from_counts(PairTables.of(pred, true), counts)
    values = []
    for row in counts.astype(int):
        p, t = np.repeat(pred, row), np.repeat(true, row)
        values.append(reference(p, t).statistic if np.ptp(p) > 0 and np.ptp(t) > 0 else np.nan)
    return np.asarray(values, dtype=float)


def _point(name: str, pred_scores, true_scores) -> float:
    pred, true = np.asarray(pred_scores, dtype=float), np.asarray(true_scores, dtype=float)
    if pred.size < 2:
        return float("nan")
    return float(_statistic(name, pred, true, np.ones((1, pred.size)))[0])


def kendall_tau(pred_scores: np.ndarray, true_scores: np.ndarray) -> float:
    """Kendall's tau-b between predicted and true scores; NaN when undefined (n < 2 or a constant side)."""
    return _point("kendall_tau", pred_scores, true_scores)


def weighted_tau(pred_scores: np.ndarray, true_scores: np.ndarray) -> float:
    """Vigna's weighted tau (top-heavy, higher score = higher rank); NaN when undefined."""
    return _point("weighted_tau", pred_scores, true_scores)


def resample_counts(n: int, n_boot: int, seed: int) -> np.ndarray:
    """How often each of n items is drawn in each of n_boot bootstrap resamples, shape ``(n_boot, n)``."""
    draws = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    counts = np.zeros((n_boot, n))
    np.add.at(counts, (np.arange(n_boot)[:, None], draws), 1.0)
    return counts


def _percentile_interval(values: np.ndarray, alpha: float) -> tuple[float, float]:
    """The central ``1 - alpha`` interval of the finite values; NaNs where there are none."""
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan"), float("nan")
    low, high = np.quantile(values, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def bootstrap_ci(
    pred: np.ndarray,
    true: np.ndarray,
    statistic: str,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> tuple[float, float]:
    """Percentile bootstrap ``(1 - alpha)`` interval of a statistic (a key of `STATISTICS`) over resampled items.

    Resamples on which the statistic is undefined (NaN, e.g. every drawn item tied) are dropped. Returns
    ``(nan, nan)`` when there are fewer than ``MIN_ITEMS_FOR_CI`` items or no resample is defined.
    """
    pred, true = np.asarray(pred, dtype=float), np.asarray(true, dtype=float)
    if pred.shape != true.shape:
        raise ValueError(f"pred and true differ in shape: {pred.shape} vs {true.shape}")
    if pred.size < MIN_ITEMS_FOR_CI or n_boot < 1:
        return float("nan"), float("nan")
    return _percentile_interval(_statistic(statistic, pred, true, resample_counts(pred.size, n_boot, seed)), alpha)


def rank_agreement(
    pred_by_model: dict[str, float], true_by_model: dict[str, float], n_boot: int = 1000, seed: int = 0
) -> dict[str, float]:
    """Tau, weighted tau and their 95% bootstrap intervals over the models scored on both sides.

    Models missing from either dict, or with a non-finite score on either side, are left out; ``n`` is
    the number of models compared. Keys: ``n``, ``kendall_tau``, ``kendall_tau_low``, ``kendall_tau_high``,
    ``weighted_tau``, ``weighted_tau_low``, ``weighted_tau_high``.
    """
    models = sorted(
        m
        for m in pred_by_model.keys() & true_by_model.keys()
        if np.isfinite(pred_by_model[m]) and np.isfinite(true_by_model[m])
    )
    pred = np.array([pred_by_model[m] for m in models], dtype=float)
    true = np.array([true_by_model[m] for m in models], dtype=float)
    result: dict[str, float] = {"n": len(models)}
    if len(models) < 2:
        return result | {f"{name}{part}": float("nan") for name in STATISTICS for part in ("", "_low", "_high")}
    counts = np.ones((1, len(models)))  # row 0: the items as they are; then the resamples
    if len(models) >= MIN_ITEMS_FOR_CI:
        counts = np.vstack([counts, resample_counts(len(models), n_boot, seed)])
    for name in STATISTICS:
        values = _statistic(name, pred, true, counts)
        low, high = _percentile_interval(values[1:], 0.05)
        result.update({name: float(values[0]), f"{name}_low": low, f"{name}_high": high})
    return result
