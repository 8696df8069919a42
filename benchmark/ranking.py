"""Rank agreement between predicted reusability (an estimator's scores) and measured transfer results.

Kendall's tau-b counts concordant minus discordant pairs (Kendall 1938; ties handled as in tau-b).
The weighted tau of Vigna, "A Weighted Correlation Index for Rankings with Ties", WWW 2015
(``scipy.stats.weightedtau``, hyperbolic weights, averaged over ranking by either argument) counts
disagreements among the top-scored items more: picking the best checkpoint matters more than ordering
the worst. Higher scores mean better in both arguments.

Confidence intervals are percentile bootstraps over the ranked items (models, or task x model pairs):
items are resampled with replacement and the statistic recomputed. Too few items, or constant scores,
give NaN rather than an exception, so a report over many small groups never fails on one of them.
"""

from collections.abc import Callable

import numpy as np
from scipy import stats

Statistic = Callable[[np.ndarray, np.ndarray], float]

MIN_ITEMS_FOR_CI = 3


def _rankable(pred: np.ndarray, true: np.ndarray) -> bool:
    """At least two items and neither side constant: otherwise rank correlation is undefined."""
    return pred.size >= 2 and np.ptp(pred) > 0 and np.ptp(true) > 0


def kendall_tau(pred_scores: np.ndarray, true_scores: np.ndarray) -> float:
    """Kendall's tau-b between predicted and true scores; NaN when undefined (n < 2 or a constant side)."""
    pred, true = np.asarray(pred_scores, dtype=float), np.asarray(true_scores, dtype=float)
    if not _rankable(pred, true):
        return float("nan")
    return float(stats.kendalltau(pred, true).statistic)


def weighted_tau(pred_scores: np.ndarray, true_scores: np.ndarray) -> float:
    """Vigna's weighted tau (top-heavy, higher score = higher rank); NaN when undefined."""
    pred, true = np.asarray(pred_scores, dtype=float), np.asarray(true_scores, dtype=float)
    if not _rankable(pred, true):
        return float("nan")
    return float(stats.weightedtau(pred, true).statistic)


def bootstrap_ci(
    pred: np.ndarray,
    true: np.ndarray,
    stat: Statistic,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> tuple[float, float]:
    """Percentile bootstrap ``(1 - alpha)`` interval of ``stat(pred, true)`` over resampled items.

    Resamples on which the statistic is undefined (NaN, e.g. every drawn item tied) are dropped. Returns
    ``(nan, nan)`` when there are fewer than ``MIN_ITEMS_FOR_CI`` items or no resample is defined.
    """
    pred, true = np.asarray(pred, dtype=float), np.asarray(true, dtype=float)
    if pred.shape != true.shape:
        raise ValueError(f"pred and true differ in shape: {pred.shape} vs {true.shape}")
    if pred.size < MIN_ITEMS_FOR_CI:
        return float("nan"), float("nan")
    indices = np.random.default_rng(seed).integers(0, pred.size, size=(n_boot, pred.size))
    values = np.array([stat(pred[idx], true[idx]) for idx in indices])
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
