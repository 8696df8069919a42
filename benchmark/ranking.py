"""Rank agreement between predicted reusability (an estimator's scores) and measured transfer results.

Kendall's tau-b counts concordant minus discordant pairs (Kendall 1938; ties handled as in tau-b).
The weighted tau of Vigna, "A Weighted Correlation Index for Rankings with Ties", WWW 2015 (the statistic of
``scipy.stats.weightedtau``: hyperbolic weights 1/(1 + rank), additive over a pair, averaged over ranking by
either argument) counts disagreements among the top-scored items more: picking the best checkpoint matters
more than ordering the worst. Higher scores mean better in both arguments.

Both statistics take whole batches of score vectors, shape ``(..., n)``. For the small groups that make up
most of a leaderboard (the models of one task) they are computed from their pairwise definitions, all rows in
a few array operations, so a bootstrap costs about one scipy call instead of one per resample; above
``PAIRWISE_MAX_ITEMS`` items the O(n^2) pairs cost more than scipy's O(n log n) algorithms and each row goes
to scipy. Tests check both paths against scipy on tied and untied data.

Confidence intervals are percentile bootstraps over the ranked items (models, or task x model pairs):
items are resampled with replacement and the statistic recomputed. Too few items, or constant scores,
give NaN rather than an exception, so a report over many small groups never fails on one of them.
"""

from collections.abc import Callable

import numpy as np
from scipy import stats

Statistic = Callable[[np.ndarray, np.ndarray], np.ndarray | float]

MIN_ITEMS_FOR_CI = 3
PAIRS_PER_CHUNK = 4_000_000  # resamples x n x n elements held at once by the bootstrap
PAIRWISE_MAX_ITEMS = 64  # above this many items per row, scipy's O(n log n) statistics are faster


def _pairwise_signs(scores: np.ndarray) -> np.ndarray:
    """sign(s_i - s_j) for every pair of items, shape ``(..., n, n)``."""
    return np.sign(scores[..., :, None] - scores[..., None, :])


def _ratio(numerator: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """numerator / sqrt(left * right), NaN where a side has no untied pair (the statistic is undefined)."""
    denominator = np.sqrt(left * right)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1.0), np.nan)


def _as_float(value: np.ndarray) -> np.ndarray | float:
    return float(value) if value.ndim == 0 else value


def _rowwise(reference: Callable, pred: np.ndarray, true: np.ndarray) -> np.ndarray | float:
    """A scipy statistic applied to each row of (a batch of) long score vectors; NaN where undefined."""
    rows = [
        reference(p, t).statistic if np.ptp(p) > 0 and np.ptp(t) > 0 else np.nan
        for p, t in zip(pred.reshape(-1, pred.shape[-1]), true.reshape(-1, true.shape[-1]), strict=True)
    ]
    return _as_float(np.asarray(rows, dtype=float).reshape(pred.shape[:-1]))


def kendall_tau(pred_scores: np.ndarray, true_scores: np.ndarray) -> np.ndarray | float:
    """Kendall's tau-b over the last axis; NaN when undefined (n < 2 or a constant side).

    A float for 1-d inputs, an array of one value per row for batches.
    """
    pred, true = np.asarray(pred_scores, dtype=float), np.asarray(true_scores, dtype=float)
    if pred.shape[-1] > PAIRWISE_MAX_ITEMS:
        return _rowwise(stats.kendalltau, pred, true)
    pred_signs, true_signs = _pairwise_signs(pred), _pairwise_signs(true)
    tau = _ratio(
        (pred_signs * true_signs).sum(axis=(-2, -1)),
        np.abs(pred_signs).sum(axis=(-2, -1)),
        np.abs(true_signs).sum(axis=(-2, -1)),
    )
    return _as_float(tau)


def hyperbolic_rank_weights(primary: np.ndarray, secondary: np.ndarray) -> np.ndarray:
    """1 / (1 + rank), rank 0 for the item highest by ``primary`` then ``secondary`` (over the last axis).

    Items tied on both keep distinct ranks, the later index ranking higher: scipy's `weightedtau` ranks by a
    stable lexicographic sort read backwards, and this reproduces it exactly.
    """
    order = np.lexsort((secondary, primary), axis=-1)
    n = primary.shape[-1]
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.broadcast_to(np.arange(n - 1, -1, -1), order.shape), axis=-1)
    return 1.0 / (1.0 + ranks)


def weighted_tau(pred_scores: np.ndarray, true_scores: np.ndarray) -> np.ndarray | float:
    """Vigna's additive hyperbolic weighted tau over the last axis (as `scipy.stats.weightedtau`); NaN when
    undefined. A pair weighs w_i + w_j; the result averages the rankings by (pred, true) and by (true, pred)."""
    pred = np.asarray(pred_scores, dtype=float)
    true = np.asarray(true_scores, dtype=float)
    if pred.shape[-1] > PAIRWISE_MAX_ITEMS:
        return _rowwise(stats.weightedtau, pred, true)
    pred_signs, true_signs = _pairwise_signs(pred), _pairwise_signs(true)
    concordance, pred_untied, true_untied = pred_signs * true_signs, np.abs(pred_signs), np.abs(true_signs)
    total = np.zeros(pred.shape[:-1])
    for weights in (hyperbolic_rank_weights(pred, true), hyperbolic_rank_weights(true, pred)):
        pair_weights = weights[..., :, None] + weights[..., None, :]
        total = total + _ratio(
            (pair_weights * concordance).sum(axis=(-2, -1)),
            (pair_weights * pred_untied).sum(axis=(-2, -1)),
            (pair_weights * true_untied).sum(axis=(-2, -1)),
        )
    return _as_float(total / 2)


def bootstrap_ci(
    pred: np.ndarray,
    true: np.ndarray,
    stat: Statistic,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> tuple[float, float]:
    """Percentile bootstrap ``(1 - alpha)`` interval of ``stat(pred, true)`` over resampled items.

    ``stat`` takes batches ``(resamples, n)`` and returns one value per resample (as `kendall_tau` and
    `weighted_tau` do). Resamples on which the statistic is undefined (NaN, e.g. every drawn item tied) are
    dropped. Returns ``(nan, nan)`` when there are fewer than ``MIN_ITEMS_FOR_CI`` items or no resample is
    defined.
    """
    pred, true = np.asarray(pred, dtype=float), np.asarray(true, dtype=float)
    if pred.shape != true.shape:
        raise ValueError(f"pred and true differ in shape: {pred.shape} vs {true.shape}")
    if pred.size < MIN_ITEMS_FOR_CI:
        return float("nan"), float("nan")
    indices = np.random.default_rng(seed).integers(0, pred.size, size=(n_boot, pred.size))
    chunk = max(1, PAIRS_PER_CHUNK // pred.size**2)
    values = np.concatenate(
        [np.atleast_1d(stat(pred[rows], true[rows])) for rows in np.array_split(indices, -(-n_boot // chunk))]
    )
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan"), float("nan")
    low, high = np.quantile(values, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


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
    for name, stat in (("kendall_tau", kendall_tau), ("weighted_tau", weighted_tau)):
        low, high = bootstrap_ci(pred, true, stat, n_boot=n_boot, seed=seed)
        result.update({name: stat(pred, true), f"{name}_low": low, f"{name}_high": high})
    return result
