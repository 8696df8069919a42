"""Rank agreement between a cheap signal's scores and measured transfer results, with honest uncertainty.

Statistics. Kendall's tau-b counts concordant minus discordant pairs (Kendall 1938; ties as in tau-b). The
weighted tau of Vigna, "A Weighted Correlation Index for Rankings with Ties", WWW 2015 (the statistic of
``scipy.stats.weightedtau``: hyperbolic weights 1/(1 + rank), additive over a pair, averaged over ranking by
either argument) counts disagreements among the top-scored items more: picking the best checkpoint matters
more than ordering the worst. Higher scores mean better in both arguments.

Uncertainty, two separate questions:

* Could a random ordering have done as well? An exact permutation test: the signal's scores are permuted over
  the models in all n! ways while that is cheap (n <= `MAX_EXACT_ITEMS`), or in `MONTE_CARLO_PERMUTATIONS`
  random ways beyond, and the one-sided p-value is the share of orderings whose statistic is at least the
  observed one. Three models can never give p < 1/6: a random order of three is perfect one time in six. (A
  percentile bootstrap over a handful of models cannot say this: it prints "1.000 [1.000, 1.000]".)
* How much does the measured ranking itself move? The ground truth is a mean over seeds on a finite test
  set; `against_replicates` recomputes the statistic against bootstrap replicates of it (over seeds and, where
  per-example predictions exist, over test examples; `benchmark.estimators.resampling`), which gives the
  interval of `TaskAgreement.weighted_noise`; applied to the measured truth itself it says how well the
  resampled truth agrees with itself: a ceiling no signal can be expected to beat.

Every statistic is evaluated for many orderings at once from (rows x n x n) sign tables, vectorised over rows;
tests check each against scipy and each p-value against brute-force enumeration. Too few items, or constant
scores, give NaN rather than an exception, so a report over many small groups never fails on one of them.
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass

import numpy as np

MIN_ITEMS = 3  # below this a rank correlation says nothing: two items agree or disagree by a coin flip
MAX_EXACT_ITEMS = 7  # 7! = 5,040 orderings, a few milliseconds; beyond, Monte Carlo
MONTE_CARLO_PERMUTATIONS = 2000  # p-value resolution 1/2001
ROWS_PER_CHUNK = 4096
TIE_TOLERANCE = 1e-12  # a permuted statistic this close to the observed one counts as reaching it


def _signs(rows: np.ndarray) -> np.ndarray:
    """sign(s_i - s_j) for every pair of items of every row, by comparison (infinities order like any other).

    float32 holds the signs and their sums exactly (n is far below 2^24) and keeps the tables compact.
    """
    greater = rows[:, :, None] > rows[:, None, :]
    return greater.astype(np.float32) - (rows[:, :, None] < rows[:, None, :])


def _ratio(numerator: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """numerator / sqrt(left * right), NaN where a side has no untied pair (the statistic is undefined)."""
    denominator = np.sqrt(left * right)
    safe = np.where(denominator > 0, denominator, 1.0)
    return np.where(denominator > 0, numerator / safe, np.nan)


def _harmonic(k: np.ndarray) -> np.ndarray:
    """H(k) = sum of 1 / (1 + r) over ranks r < k, for integer k >= 0."""
    table = np.concatenate([[0.0], np.cumsum(1.0 / np.arange(1, int(k.max()) + 2))])
    return table[k]


def against_fixed(rows: np.ndarray, fixed: np.ndarray) -> dict[str, np.ndarray]:
    """Kendall's tau-b and Vigna's weighted tau of every row of ``rows`` ``(B, n)`` against one vector ``fixed``.

    Both statistics are symmetric in their two arguments, so "fixed" may be either side. Weighted tau (as
    `scipy.stats.weightedtau`: additive hyperbolic weights 1/(1 + rank)) ranks the items by (row, fixed) and by
    (fixed, row), descending, and averages the two values; items tied on both sides occupy one block of
    consecutive ranks after every item above them and share the block's weight H(start + size) - H(start)
    equally, as scipy does. Sign tables are float32 ``(B, n, n)``: the cost is a few passes over B n^2 entries.
    """
    fixed_signs = _signs(fixed[None, :])[0]
    row_signs = _signs(rows)
    concordant = (row_signs * fixed_signs).sum(axis=2, dtype=float)
    row_untied = np.abs(row_signs).sum(axis=2, dtype=float)
    fixed_untied = np.abs(fixed_signs).sum(axis=1, dtype=float)
    kendall = _ratio(concordant.sum(axis=1), row_untied.sum(axis=1), fixed_untied.sum())
    row_tied, fixed_tied = (row_signs == 0).astype(np.float32), (fixed_signs == 0).astype(np.float32)
    row_below, fixed_below = (row_signs < 0).astype(np.float32), (fixed_signs < 0).astype(np.float32)
    block = (row_tied * fixed_tied).sum(axis=2).astype(np.int64)  # >= 1: an item ties with itself
    starts = (  # items ranked above each item: greater on the first key, or tied on it and greater on the second
        (row_below + row_tied * fixed_below).sum(axis=2).astype(np.int64),
        (fixed_below + fixed_tied * row_below).sum(axis=2).astype(np.int64),
    )
    weighted = np.zeros(rows.shape[0])
    for start in starts:
        weights = (_harmonic(start + block) - _harmonic(start)) / block
        weighted = weighted + _ratio(
            (weights * concordant).sum(axis=1), (weights * row_untied).sum(axis=1), weights @ fixed_untied
        )
    return {"kendall_tau": kendall, "weighted_tau": weighted / 2}


STATISTIC_NAMES = ("kendall_tau", "weighted_tau")


def _point(name: str, pred_scores, true_scores) -> float:
    pred, true = np.asarray(pred_scores, dtype=float).ravel(), np.asarray(true_scores, dtype=float).ravel()
    if pred.shape != true.shape:
        raise ValueError(f"pred and true differ in shape: {pred.shape} vs {true.shape}")
    if pred.size < 2:
        return float("nan")
    return float(against_fixed(pred[None, :], true)[name][0])


def kendall_tau(pred_scores, true_scores) -> float:
    """Kendall's tau-b between predicted and true scores; NaN when undefined (n < 2 or a constant side)."""
    return _point("kendall_tau", pred_scores, true_scores)


def weighted_tau(pred_scores, true_scores) -> float:
    """Vigna's weighted tau (top-heavy, higher score = higher rank); NaN when undefined."""
    return _point("weighted_tau", pred_scores, true_scores)


@dataclass(frozen=True)
class NullDistribution:
    """A statistic over orderings of the signal: every ordering (``exact``) or a uniform random sample of them."""

    values: np.ndarray
    exact: bool

    def p_value(self, observed: float) -> float:
        """One-sided: the share of orderings reaching ``observed`` (Monte Carlo: (1 + hits) / (1 + draws))."""
        if not math.isfinite(observed) or not np.isfinite(self.values).all():
            return float("nan")
        hits = int(np.sum(self.values >= observed - TIE_TOLERANCE))
        return hits / self.values.size if self.exact else (1 + hits) / (1 + self.values.size)


@functools.cache
def _all_permutations(n: int) -> np.ndarray:
    """Every permutation of range(n), ``(n!, n)``, built once per n."""
    table = np.array(list(itertools.permutations(range(n))), dtype=np.intp).reshape(-1, n)
    table.setflags(write=False)
    return table


def _orderings(n: int, seed: int) -> tuple[np.ndarray, bool]:
    """Every permutation of n items (n <= `MAX_EXACT_ITEMS`) or `MONTE_CARLO_PERMUTATIONS` random ones."""
    if n <= MAX_EXACT_ITEMS:
        return _all_permutations(n), True
    rng = np.random.default_rng(seed)
    return np.argsort(rng.random((MONTE_CARLO_PERMUTATIONS, n)), axis=1), False


def null_distributions(pred, true, seed: int = 0) -> dict[str, NullDistribution]:
    """Each statistic with the signal's scores permuted over the items, the true scores fixed.

    Without ties on either side a statistic of ranks depends only on which permutation relates the two orders,
    so the distribution is that of ``n`` untied items and is computed once per ``n`` (and seed).
    """
    pred, true = np.asarray(pred, dtype=float), np.asarray(true, dtype=float)
    if np.unique(pred).size == pred.size and np.unique(true).size == true.size:
        return _untied_null(pred.size, seed)
    return _null(pred, true, seed)


@functools.cache
def _untied_null(n: int, seed: int) -> dict[str, NullDistribution]:
    ranks = np.arange(n, dtype=float)
    return _null(ranks, ranks, seed)


def _null(pred: np.ndarray, true: np.ndarray, seed: int) -> dict[str, NullDistribution]:
    orders, exact = _orderings(pred.size, seed)
    parts = [against_fixed(pred[orders[i : i + ROWS_PER_CHUNK]], true) for i in range(0, len(orders), ROWS_PER_CHUNK)]
    nulls = {}
    for name in STATISTIC_NAMES:
        values = np.concatenate([p[name] for p in parts])
        values.setflags(write=False)
        nulls[name] = NullDistribution(values, exact)
    return nulls


def permutation_p_value(pred, true, statistic: str, seed: int = 0) -> float:
    """One-sided permutation p-value of `statistic` ("kendall_tau" or "weighted_tau"): how often a random ordering
    of the signal agrees with the truth at least as well. NaN with fewer than two items or a constant side."""
    pred, true = np.asarray(pred, dtype=float), np.asarray(true, dtype=float)
    if pred.size < 2:
        return float("nan")
    return null_distributions(pred, true, seed)[statistic].p_value(_point(statistic, pred, true))


def percentile_interval(values: np.ndarray, alpha: float = 0.05) -> tuple[float, float]:
    """The central ``1 - alpha`` interval of the finite values; NaNs where there are none."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan"), float("nan")
    low, high = np.quantile(values, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def against_replicates(scores, truth_replicates: np.ndarray) -> dict[str, np.ndarray]:
    """Both statistics of one score vector against each bootstrap replicate of the truth (rows ``(B, n)``).

    With the signal's scores this is the signal's agreement under ground-truth noise; with the measured truth
    itself it is the truth's self-agreement: how stable the measured ranking is, a ceiling for any signal.
    """
    replicates = np.atleast_2d(np.asarray(truth_replicates, dtype=float))
    scores = np.asarray(scores, dtype=float)
    parts = [
        against_fixed(replicates[i : i + ROWS_PER_CHUNK], scores) for i in range(0, len(replicates), ROWS_PER_CHUNK)
    ]
    return {name: np.concatenate([p[name] for p in parts]) for name in STATISTIC_NAMES}


@dataclass(frozen=True)
class TaskAgreement:
    """A signal's agreement with the measured ranking of one task's models.

    ``models`` are those scored on both sides (sorted); ``*_p`` the one-sided permutation p-values (``exact``:
    all n! orderings, else Monte Carlo); ``*_noise`` the 95 % interval of the statistic against ground-truth
    replicates (NaN without replicates); ``weighted_replicates`` those values and ``weighted_null`` the weighted
    tau of every ordering considered, both for suite-level summaries.
    """

    models: tuple[str, ...]
    kendall_tau: float
    kendall_p: float
    weighted_tau: float
    weighted_p: float
    exact: bool
    kendall_noise: tuple[float, float]
    weighted_noise: tuple[float, float]
    weighted_replicates: np.ndarray
    weighted_null: np.ndarray

    @property
    def n(self) -> int:
        return len(self.models)

    @property
    def defined(self) -> bool:
        """Enough models and no constant side: the statistics mean something."""
        return self.n >= MIN_ITEMS and math.isfinite(self.weighted_tau)


def common_models(*by_model: dict[str, float]) -> tuple[str, ...]:
    """Models with a finite value in every mapping, sorted."""
    shared = set.intersection(*(set(values) for values in by_model))
    return tuple(sorted(m for m in shared if all(math.isfinite(values[m]) for values in by_model)))


def task_agreement(
    pred_by_model: dict[str, float],
    true_by_model: dict[str, float],
    truth_replicates: dict[str, np.ndarray] | None = None,
    seed: int = 0,
) -> TaskAgreement:
    """Tau and weighted tau with permutation p-values and ground-truth-noise intervals, over the models with a
    finite score on both sides. ``truth_replicates[model]`` are bootstrap replicates of the model's measured
    score, all of one length; without them (or when a model lacks them) the noise intervals are NaN."""
    models = common_models(pred_by_model, true_by_model)
    pred = np.array([pred_by_model[m] for m in models], dtype=float)
    true = np.array([true_by_model[m] for m in models], dtype=float)
    nan_pair, empty = (float("nan"), float("nan")), np.array([])
    if len(models) < 2:
        return TaskAgreement(models, *(float("nan"),) * 4, False, nan_pair, nan_pair, empty, empty)
    nulls = null_distributions(pred, true, seed)
    observed = {name: float(value[0]) for name, value in against_fixed(pred[None, :], true).items()}
    noise, weighted_replicates = {name: nan_pair for name in STATISTIC_NAMES}, empty
    if truth_replicates is not None and all(m in truth_replicates for m in models):
        values = against_replicates(pred, np.stack([np.asarray(truth_replicates[m], float) for m in models], axis=1))
        noise = {name: percentile_interval(v) for name, v in values.items()}
        weighted_replicates = values["weighted_tau"]
    return TaskAgreement(
        models=models,
        kendall_tau=observed["kendall_tau"],
        kendall_p=nulls["kendall_tau"].p_value(observed["kendall_tau"]),
        weighted_tau=observed["weighted_tau"],
        weighted_p=nulls["weighted_tau"].p_value(observed["weighted_tau"]),
        exact=nulls["weighted_tau"].exact,
        kendall_noise=noise["kendall_tau"],
        weighted_noise=noise["weighted_tau"],
        weighted_replicates=weighted_replicates,
        weighted_null=nulls["weighted_tau"].values,
    )
