"""The power of the zoo's similarity test, stated before the run (issue #22 item 4).

The zoo tests whether source-to-target similarity predicts the gain over scratch with Spearman's rho computed
within each target and averaged over the targets of a modality, one-sided (similar sources gain more), by
permutation. Given how many (checkpoint, target) pairs each target has, the smallest true rho that this test
detects with a given power is computed two ways:

- `min_detectable_rho_fisher`: the Fisher-z approximation for Spearman's rho, var(z) = 1.06 / (n - 3) (Fieller,
  Hartley & Pearson 1957), the targets' z averaged as independent; quick, but optimistic for n below 10.
- `min_detectable_rho_simulated`: Monte Carlo with the test the report runs: ranks of bivariate normal pairs
  whose Spearman correlation is rho (Pearson r = 2 sin(pi rho / 6)), the mean within-target rho compared with its
  permutation null. This is the figure to state; it accounts for ties-free small-n discreteness.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.stats import norm

FIELLER_VARIANCE = 1.06


def min_detectable_rho_fisher(pairs_per_target: Sequence[int], alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest true Spearman rho (the same in every target) whose mean within-target estimate exceeds the
    one-sided alpha critical value with probability `power`, by the Fisher-z approximation."""
    _check(pairs_per_target)
    variances = [FIELLER_VARIANCE / (n - 3) for n in pairs_per_target]
    standard_error = math.sqrt(sum(variances)) / len(variances)
    return math.tanh((norm.ppf(1 - alpha) + norm.ppf(power)) * standard_error)


def min_detectable_rho_simulated(
    pairs_per_target: Sequence[int],
    alpha: float = 0.05,
    power: float = 0.8,
    n_sim: int = 4000,
    seed: int = 0,
    tolerance: float = 0.005,
) -> float:
    """Smallest true Spearman rho detected with probability `power` by the one-sided permutation test (level
    alpha) of the mean within-target rho, by simulation and bisection; 1.0 when no rho below 1 is."""
    _check(pairs_per_target)
    rng = np.random.default_rng(seed)
    critical = float(np.quantile(_mean_rho(pairs_per_target, 0.0, n_sim, rng), 1 - alpha))
    low, high = 0.0, 0.999
    if _power_at(pairs_per_target, high, critical, n_sim, rng) < power:
        return 1.0
    while high - low > tolerance:
        middle = (low + high) / 2
        low, high = (
            (middle, high) if _power_at(pairs_per_target, middle, critical, n_sim, rng) < power else (low, middle)
        )
    return round(high, 3)


def _power_at(pairs: Sequence[int], rho: float, critical: float, n_sim: int, rng: np.random.Generator) -> float:
    return float(np.mean(_mean_rho(pairs, rho, n_sim, rng) > critical))


def _mean_rho(pairs: Sequence[int], rho: float, n_sim: int, rng: np.random.Generator) -> np.ndarray:
    """n_sim draws of the mean over targets of the within-target Spearman rho, true rho the same everywhere."""
    pearson = 2 * math.sin(math.pi * rho / 6)
    total = np.zeros(n_sim)
    for n in pairs:
        x = rng.standard_normal((n_sim, n))
        y = pearson * x + math.sqrt(1 - pearson**2) * rng.standard_normal((n_sim, n))
        total += _spearman_rows(x, y)
    return total / len(pairs)


def _spearman_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman's rho of each row pair (continuous data: no ties)."""
    n = x.shape[1]
    rank_x = x.argsort(axis=1).argsort(axis=1)
    rank_y = y.argsort(axis=1).argsort(axis=1)
    d2 = ((rank_x - rank_y) ** 2).sum(axis=1)
    return 1 - 6 * d2 / (n * (n**2 - 1))


def _check(pairs_per_target: Sequence[int]) -> None:
    if not pairs_per_target or min(pairs_per_target) < 4:
        raise ValueError(f"each target needs at least 4 pairs for a within-target rho, got {list(pairs_per_target)}")


def suite_power(suite_name: str, alpha: float = 0.05, power: float = 0.8) -> list[tuple[str, int, int, float, float]]:
    """Per modality of a suite: (modality, targets, pairs per target, simulated and Fisher-z detectable rho).

    A pair is a target and a checkpoint the suite pretrains on a source task; negative controls
    (`source_similarity.is_control`) are left out, as they are of the correlation.
    """
    from benchmark.estimators.source_similarity import is_control
    from benchmark.specs.registry import load_registry
    from benchmark.utils.paths import DEFAULT_TASKS_DIR

    registry = load_registry(DEFAULT_TASKS_DIR)
    suite = registry.resolve(suite_name)
    staged = [m for m in suite.models if m.pretrain is not None]
    rows = []
    for modality in sorted({m.modality for m in staged}):
        pairs = sum(m.modality == modality and not is_control(m.pretrain.task) for m in staged)
        targets = sum(registry.tasks[t].modality == modality for t in suite.spec.tasks)
        if pairs < 4 or targets == 0:
            continue
        design = [pairs] * targets
        simulated = min_detectable_rho_simulated(design, alpha, power)
        rows.append((modality, targets, pairs, simulated, min_detectable_rho_fisher(design, alpha, power)))
    return rows


def main(argv: list[str] | None = None) -> int:
    """`python -m benchmark.estimators.power --suite zoo_disjoint`: the power statement of a suite's design."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m benchmark.estimators.power", description=main.__doc__)
    parser.add_argument("--suite", default="zoo_disjoint")
    args = parser.parse_args(argv)
    print("| modality | targets | pairs per target | detectable mean within-target rho (simulated) | Fisher-z |")
    print("|---|---|---|---|---|")
    for modality, targets, pairs, simulated, fisher in suite_power(args.suite):
        print(f"| {modality} | {targets} | {pairs} | {simulated:.2f} | {fisher:.2f} |")
    print("80 % power, 5 % one-sided; the mean over targets of within-target Spearman rho, permutation test.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
