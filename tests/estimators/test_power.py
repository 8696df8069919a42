"""The zoo's power statement: the smallest within-target Spearman rho its design detects."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmark.estimators import power


def test_fisher_matches_the_formula_by_hand() -> None:
    """Four targets of six pairs: se = sqrt(4 * 1.06 / 3) / 4, rho = tanh((z_.95 + z_.80) se)."""
    expected = math.tanh((1.6448536 + 0.8416212) * math.sqrt(4 * 1.06 / 3) / 4)
    assert power.min_detectable_rho_fisher([6, 6, 6, 6]) == pytest.approx(expected, rel=1e-6)
    assert power.min_detectable_rho_fisher([6, 6, 6, 6], power=0.9) > expected


def test_simulated_rho_has_the_stated_power_and_a_smaller_one_does_not() -> None:
    """An independent simulation (another seed) finds about 80 % power at the returned rho, less 0.1 below it."""
    pairs = [6, 6, 6]
    rho = power.min_detectable_rho_simulated(pairs, n_sim=4000, seed=1)
    rng = np.random.default_rng(7)
    critical = float(np.quantile(power._mean_rho(pairs, 0.0, 20_000, rng), 0.95))
    assert power._power_at(pairs, rho, critical, 20_000, rng) == pytest.approx(0.8, abs=0.03)
    assert power._power_at(pairs, rho - 0.1, critical, 20_000, rng) < 0.75


def test_more_pairs_or_targets_detect_smaller_correlations() -> None:
    few = power.min_detectable_rho_simulated([6] * 3, n_sim=2000)
    assert power.min_detectable_rho_simulated([6] * 4, n_sim=2000) < few
    assert power.min_detectable_rho_simulated([10] * 3, n_sim=2000) < few
    assert power.min_detectable_rho_simulated([4], n_sim=2000) > 0.9  # 4 pairs: rho = 1 alone has p = 1/24


def test_the_null_is_centred_and_the_spearman_of_rows_is_exact() -> None:
    rng = np.random.default_rng(0)
    assert abs(float(np.mean(power._mean_rho([6, 6], 0.0, 20_000, rng)))) < 0.01
    x = np.array([[1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0]])
    y = np.array([[2.0, 4.0, 6.0, 8.0], [4.0, 3.0, 2.0, 1.0]])
    assert power._spearman_rows(x, y).tolist() == [1.0, -1.0]


def test_too_few_pairs_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 4 pairs"):
        power.min_detectable_rho_fisher([6, 3])
    with pytest.raises(ValueError):
        power.min_detectable_rho_simulated([])


def test_the_power_statement_of_the_zoo_reads_its_pairs_from_the_suite(capsys) -> None:
    """zoo_disjoint: six sources per target (its controls left out), 4 vision, 4 text and 3 audio targets."""
    rows = {row[0]: row for row in power.suite_power("zoo_disjoint")}
    assert {m: (t, p) for m, (_, t, p, _, _) in rows.items()} == {"vision": (4, 6), "text": (4, 6), "audio": (3, 6)}
    assert rows["vision"][3] == power.min_detectable_rho_simulated([6] * 4)
    assert rows["audio"][4] == power.min_detectable_rho_fisher([6] * 3)
    assert power.main(["--suite", "zoo_disjoint"]) == 0
    assert "| audio | 3 | 6 |" in capsys.readouterr().out
