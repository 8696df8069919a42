"""Shrunk covariance estimates shared by the estimators and the task distances."""

from __future__ import annotations

import numpy as np


def ledoit_wolf_centred(Xc: np.ndarray) -> tuple[np.ndarray, float]:
    """Ledoit-Wolf shrunk covariance of centred rows and its shrinkage, from one Gram matrix.

    The same estimate as ``sklearn.covariance.ledoit_wolf(Xc, assume_centered=True)``; sklearn also forms
    ``(Xc**2).T @ (Xc**2)``, but only the sum of its entries is needed and that equals ``sum_n ||x_n||^4``,
    so the O(N D^2) cost is paid once instead of three times.
    """
    n, d = Xc.shape
    cov = Xc.T @ Xc / n
    trace = float(np.trace(cov))
    mu = trace / d
    cov_sq_sum = float(np.sum(cov**2))
    beta = (float(np.sum(np.einsum("ij,ij->i", Xc, Xc) ** 2)) / n - cov_sq_sum) / (d * n)
    delta = (cov_sq_sum - 2.0 * mu * trace + d * mu**2) / d
    beta = min(beta, delta)
    shrinkage = 0.0 if d == 1 or delta <= 0 or beta == 0 else beta / delta  # sklearn: no shrinkage at D = 1
    shrunk = (1.0 - shrinkage) * cov
    shrunk.flat[:: d + 1] += shrinkage * mu
    return shrunk, shrinkage
