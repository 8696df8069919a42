"""Transferability estimators against closed forms, dense reference computations and defining properties."""

import numpy as np
import pytest
from sklearn.covariance import LedoitWolf, ledoit_wolf
from sklearn.datasets import load_iris

from benchmark.estimators.covariance import ledoit_wolf_centred
from benchmark.estimators.transferability import (
    estimate_all,
    h_score,
    h_score_shrinkage,
    knn_loo_accuracy,
    leep,
    logme,
    logme_fit,
    nce,
)
from testkit.oracles import logme_reference


def _clustered(n: int, d: int, n_classes: int, separation: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n)
    centres = rng.standard_normal((n_classes, d)) * separation
    return centres[y] + rng.standard_normal((n, d)), y


def _low_rank_plus_noise(n: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Class-dependent 5-dimensional signal embedded in D dimensions plus anisotropic noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    latent = rng.standard_normal((n, 5)) + 2 * np.eye(5)[y]
    noise = rng.standard_normal((n, d)) * np.linspace(1.0, 0.01, d)
    return latent @ rng.standard_normal((5, d)) + noise, y


def _with_duplicate_and_zero_columns(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    X = X.copy()
    X[:, 1] = X[:, 0]
    X[:, 5] = X[:, 4]
    X[:, 2] = 0.0
    X[:, -1] = 0.0
    return X, y


# Cases with a finite evidence optimum: N > D, N < D (noise the features cannot fit), both rank-deficient.
CASES = {
    "n_gt_d": lambda: _clustered(80, 12, 3, 1.0, 0),
    "n_lt_d": lambda: _low_rank_plus_noise(30, 80, 1),
    "rank_deficient_n_gt_d": lambda: _with_duplicate_and_zero_columns(*_clustered(80, 12, 3, 1.0, 2)),
    "rank_deficient_n_lt_d": lambda: _with_duplicate_and_zero_columns(*_low_rank_plus_noise(30, 80, 3)),
}
# N < D with generic features: X interpolates every target, so the optimum is beta -> infinity.
INTERPOLATING = {
    "interpolating_n_lt_d": lambda: _clustered(30, 80, 3, 1.0, 4),
    "interpolating_rank_deficient": lambda: _with_duplicate_and_zero_columns(*_clustered(30, 80, 3, 1.0, 5)),
}


def _dense_log_evidence(X: np.ndarray, target: np.ndarray, alpha: float, beta: float) -> float:
    """Per-example log marginal likelihood of Bayesian linear regression: t ~ N(0, I/beta + X X^T / alpha)."""
    n = X.shape[0]
    cov = np.eye(n) / beta + X @ X.T / alpha
    _, log_det = np.linalg.slogdet(cov)
    return -0.5 * (n * np.log(2 * np.pi) + log_det + target @ np.linalg.solve(cov, target)) / n


@pytest.mark.parametrize("case", CASES | INTERPOLATING)
def test_logme_evidence_is_the_dense_marginal_likelihood_at_its_optimum(case):
    X, y = (CASES | INTERPOLATING)[case]()
    fit = logme_fit(X, y)
    for k, label in enumerate(np.unique(y)):
        target = (y == label).astype(float)
        alpha, beta = fit.alpha[k], fit.beta[k]
        at_optimum = _dense_log_evidence(X, target, alpha, beta)
        assert fit.evidence[k] == pytest.approx(at_optimum, rel=1e-8, abs=1e-10)
        for a_factor, b_factor in [(1.02, 1), (0.98, 1), (1, 1.02), (1, 0.98)]:
            perturbed = _dense_log_evidence(X, target, alpha * a_factor, beta * b_factor)
            assert perturbed <= at_optimum + 1e-9


@pytest.mark.parametrize("case", CASES)
def test_logme_matches_dense_reference(case):
    X, y = CASES[case]()
    assert logme(X, y) == pytest.approx(logme_reference(X, y), rel=1e-6)


def test_logme_ignores_null_directions_and_rotations():
    X, y = _clustered(60, 10, 3, 1.0, 4)
    rotation, _ = np.linalg.qr(np.random.default_rng(5).standard_normal((10, 10)))
    base = logme(X, y)
    assert logme(np.hstack([X, np.zeros((60, 7))]), y) == pytest.approx(base, rel=1e-9)
    assert logme(X @ rotation, y) == pytest.approx(base, rel=1e-9)


def test_logme_prefers_separable_labels_to_random_labels():
    X, y = _clustered(300, 20, 4, 3.0, 6)
    random_labels = np.random.default_rng(7).integers(0, 4, 300)
    assert logme(X, y) > logme(X, random_labels) + 0.1


def test_h_score_of_one_hot_features_is_classes_minus_one():
    y = np.random.default_rng(8).integers(0, 5, 400)
    assert h_score(np.eye(5)[y], y) == pytest.approx(4.0, rel=1e-9)


def test_h_score_shrinkage_on_one_hot_features_is_below_and_approaches_classes_minus_one():
    rng = np.random.default_rng(9)
    small, large = rng.integers(0, 5, 200), rng.integers(0, 5, 20000)
    h_small, h_large = h_score_shrinkage(np.eye(5)[small], small), h_score_shrinkage(np.eye(5)[large], large)
    assert h_small < h_large < 4.0
    assert h_large > 0.99 * 4.0


def test_h_score_shrinkage_equals_the_reference_regularised_h_score_on_iris():
    """The regularised H-score of Ibrahim et al. as published (thuml Transfer-Learning-Library / SFDA):
    scikit-learn's LedoitWolf covariance (1/N) against ``np.cov`` of the class-mean features (1/(N - 1))."""
    X, y = load_iris(return_X_y=True)
    assert h_score_shrinkage(X, y) == pytest.approx(1.1778425, abs=1e-6)
    assert h_score_shrinkage(X, y) == pytest.approx(_reference_regularised_h_score(X, y), rel=1e-10)


def _reference_regularised_h_score(X: np.ndarray, y: np.ndarray) -> float:
    """The published formula written plainly: tr(pinv(LW cov) (1 - a) np.cov(class means per example))."""
    f = X - X.mean(axis=0)
    estimate = LedoitWolf().fit(f)
    class_means = np.zeros_like(f)
    for label in np.unique(y):
        class_means[y == label] = f[y == label].mean(axis=0)
    between = np.cov(class_means, rowvar=False)
    return float(np.trace(np.linalg.pinv(estimate.covariance_) @ ((1 - estimate.shrinkage_) * between)))


def test_h_score_shrinkage_equals_the_reference_formula_on_random_features():
    for seed, (n, d) in enumerate([(60, 5), (200, 30), (40, 80)]):
        X, y = _clustered(n, d, 4, 1.0, 30 + seed)
        assert h_score_shrinkage(X, y) == pytest.approx(_reference_regularised_h_score(X, y), rel=1e-8)


def test_h_score_is_invariant_to_invertible_linear_maps():
    X, y = _clustered(200, 6, 3, 1.0, 10)
    transform = np.random.default_rng(11).standard_normal((6, 6)) + 3 * np.eye(6)
    assert h_score(X @ transform, y) == pytest.approx(h_score(X, y), rel=1e-8)


def test_h_score_shrinkage_is_invariant_to_rotation_and_scale():
    X, y = _clustered(200, 6, 3, 1.0, 12)
    rotation, _ = np.linalg.qr(np.random.default_rng(13).standard_normal((6, 6)))
    base = h_score_shrinkage(X, y)
    assert h_score_shrinkage(7.0 * X @ rotation, y) == pytest.approx(base, rel=1e-8)
    assert 0 < base < h_score(X, y)


def test_leep_with_uniform_source_is_minus_target_entropy():
    y = np.random.default_rng(14).integers(0, 4, 500)
    p = np.bincount(y) / y.size
    assert leep(np.full((500, 7), 1 / 7), y) == pytest.approx(np.sum(p * np.log(p)), rel=1e-12)


def test_leep_is_zero_for_a_confident_source_that_determines_the_target():
    source = np.random.default_rng(15).integers(0, 6, 300)
    assert leep(np.eye(6)[source], source // 2) == pytest.approx(0.0, abs=1e-12)


def test_leep_and_nce_finite_when_a_source_class_gets_no_mass():
    rng = np.random.default_rng(16)
    probs = rng.dirichlet(np.ones(5), size=100)
    probs[:, 2] = 0.0
    probs /= probs.sum(axis=1, keepdims=True)
    y = rng.integers(0, 3, 100)
    assert np.isfinite(leep(probs, y))
    assert np.isfinite(nce(probs, y))


def test_nce_is_zero_when_source_label_determines_target():
    source = np.random.default_rng(17).choice([3, 10, 11, 999], size=200)
    assert nce(source, (source > 10).astype(int)) == pytest.approx(0.0, abs=1e-12)


def test_nce_hand_computed_and_argmax_of_probabilities():
    source, y = np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1])
    assert nce(source, y) == pytest.approx(-0.5 * np.log(2), rel=1e-12)
    assert nce(np.eye(3)[source] * 0.8 + 0.1, y) == pytest.approx(nce(source, y), rel=1e-12)


def test_knn_loo_accuracy_perfect_on_separated_clusters():
    X, y = _clustered(300, 8, 4, 20.0, 18)
    assert knn_loo_accuracy(X, y, k=5) == 1.0


def test_knn_loo_accuracy_near_chance_on_random_labels():
    X = np.random.default_rng(19).standard_normal((2000, 16))
    y = np.random.default_rng(20).integers(0, 4, 2000)
    assert 0.19 < knn_loo_accuracy(X, y, k=10) < 0.31


def test_knn_loo_accuracy_never_counts_the_point_itself():
    X = np.random.default_rng(21).standard_normal((50, 5))
    assert knn_loo_accuracy(X, np.arange(50), k=1) == 0.0
    duplicated = np.repeat(X, 2, axis=0)
    assert knn_loo_accuracy(duplicated, np.tile([0, 1], 50), k=1) == 0.0
    assert knn_loo_accuracy(duplicated, np.repeat(np.arange(50), 2), k=1) == 1.0


def test_knn_loo_accuracy_independent_of_chunking():
    X, y = _clustered(400, 8, 5, 0.7, 22)
    assert knn_loo_accuracy(X, y, k=7, chunk_bytes=8 * 400 * 3) == knn_loo_accuracy(X, y, k=7)


def test_estimate_all_reports_source_scores_only_with_source_probabilities():
    X, y = _clustered(120, 6, 3, 2.0, 23)
    assert set(estimate_all(X, y)) == {"logme", "h_score", "knn_loo_acc"}
    probs = np.random.default_rng(24).dirichlet(np.ones(10), size=120)
    scores = estimate_all(X, y, probs)
    assert set(scores) == {"logme", "h_score", "knn_loo_acc", "leep", "nce"}
    assert all(np.isfinite(v) for v in scores.values())


@pytest.mark.parametrize("fill", [0.0, 1.0])
def test_estimate_all_is_finite_on_constant_features_and_tiny_sets(fill):
    y = np.array([0, 1, 0, 1, 2, 2])
    scores = estimate_all(np.full((6, 4), fill), y, np.full((6, 3), 1 / 3))
    assert all(np.isfinite(v) for v in scores.values())
    assert scores["h_score"] == 0.0


@pytest.mark.parametrize(("n", "d"), [(40, 120), (400, 16), (3, 3), (10, 1)])
def test_ledoit_wolf_from_one_gram_matrix_equals_sklearn(n, d):
    rng = np.random.default_rng(n)
    X = rng.standard_normal((n, d)) @ rng.standard_normal((d, d))
    X -= X.mean(axis=0)
    expected_cov, expected_shrinkage = ledoit_wolf(X, assume_centered=True)
    cov, shrinkage = ledoit_wolf_centred(X)
    assert shrinkage == pytest.approx(expected_shrinkage, abs=1e-12)
    np.testing.assert_allclose(cov, expected_cov, rtol=1e-10, atol=1e-12)
