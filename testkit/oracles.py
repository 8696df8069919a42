"""Straightforward reference implementations that the optimised estimators are checked and timed against."""

from __future__ import annotations

import numpy as np

from benchmark.estimators.transferability import _LOGME_MAX_ITER, _LOGME_TOL, _mackay_update, _one_hot


def _logme_reference_single(X: np.ndarray, G: np.ndarray, target: np.ndarray) -> float:
    """Maximised LogME evidence of one target from the dense ``D x D`` posterior precision ``A``."""
    n, d = X.shape
    b = X.T @ target
    alpha, beta = 1.0, 1.0
    previous = -np.inf
    for _ in range(_LOGME_MAX_ITER):
        A = alpha * np.eye(d) + beta * G
        A_inv = np.linalg.inv(A)
        m = beta * A_inv @ b
        gamma = d - alpha * np.trace(A_inv)
        residual = np.sum((target - X @ m) ** 2)
        _, log_det = np.linalg.slogdet(A)
        fit_terms = beta * residual + alpha * (m @ m) + log_det
        evidence = (d * np.log(alpha) + n * np.log(beta / (2 * np.pi)) - fit_terms) / (2 * n)
        if abs(evidence - previous) <= _LOGME_TOL:
            break
        previous = evidence
        alpha, beta = _mackay_update(gamma, n - gamma, m @ m, residual)
    return evidence


def logme_reference(X: np.ndarray, y: np.ndarray) -> float:
    """Straightforward per-class LogME with dense ``D x D`` inverses and ``slogdet``.

    Same evidence and same fixed-point schedule as :func:`logme`, O(D^3) per iteration per class. Kept
    as the correctness and speed baseline for the vectorised spectral implementation. Where X interpolates
    a target (beta -> infinity) ``alpha I + beta X^T X`` becomes ill-conditioned and ``N - gamma`` cancels,
    so this baseline is only accurate while the optimum is finite.
    """
    X = np.asarray(X, dtype=np.float64)
    Y = _one_hot(np.asarray(y))
    G = X.T @ X
    return float(np.mean([_logme_reference_single(X, G, Y[:, k]) for k in range(Y.shape[1])]))
