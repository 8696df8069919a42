"""Transferability estimators: how reusable are frozen features (or a source head) for a target task?

All functions take plain arrays and never touch a model:

* ``X``: frozen features, ``[N, D]`` float, from the checkpoint under evaluation;
* ``y``: integer target labels, ``[N]``, in ``0..C-1``;
* ``P_src``: the checkpoint's softmax over its own source classes, ``[N, Z]`` (LEEP, NCE).

Estimators and their sources:

* LogME -- You, Liu, Wang, Long, "LogME: Practical Assessment of Pre-trained Models for Transfer
  Learning", ICML 2021. Mean over classes of the per-example log evidence of a Bayesian linear
  regression onto the one-vs-rest target, maximised over the prior precision alpha and noise
  precision beta with MacKay's fixed-point updates.
* H-score -- Bao, Li, Huang, Zhang, Tsai, Wang, Guibas, "An Information-Theoretic Approach to
  Transferability in Task Transfer Learning", ICIP 2019; the shrinkage variant from Ibrahim,
  Ponomareva, Mazumder, "Newer is not always better: Rethinking transferability metrics, their
  peculiarities, stability and performance", ECML-PKDD 2022.
* LEEP -- Nguyen, Hassner, Seeger, Archambeau, "LEEP: A New Measure to Evaluate Transferability of
  Learned Representations", ICML 2020.
* NCE -- Tran, Nguyen, Hassner, "Transferability and Hardness of Supervised Classification Tasks",
  ICCV 2019.
* Leave-one-out k-nearest-neighbour accuracy under cosine similarity: a non-parametric probe of how
  well the target classes are already separated in feature space.

Higher is better for every score.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from benchmark.estimators.covariance import ledoit_wolf_centred

Array = np.ndarray | float

_LOGME_TOL = 1e-10
_LOGME_MAX_ITER = 1000
_TINY = np.finfo(np.float64).tiny


@dataclass(frozen=True)
class LogMEFit:
    """Per-target result of the LogME evidence maximisation (arrays over the one-vs-rest targets)."""

    evidence: np.ndarray
    alpha: np.ndarray
    beta: np.ndarray


def _one_hot(y: np.ndarray) -> np.ndarray:
    """One-vs-rest targets ``[N, K]`` for the K classes present in ``y`` (absent classes have no evidence)."""
    _, inverse = np.unique(y, return_inverse=True)
    onehot = np.zeros((inverse.size, inverse.max() + 1))
    onehot[np.arange(inverse.size), inverse] = 1.0
    return onehot


def _spectrum(X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """SVD quantities LogME needs: ``sigma [r]``, ``zsq [r, K]`` and ``perp [K]``.

    ``sigma`` are X's non-zero squared singular values, ``zsq`` the squared coordinates ``(U^T Y)^2`` of
    the targets along the matching left singular vectors, and ``perp = ||Y||^2 - sum zsq``, the targets'
    energy outside X's column space. The SVD is read off the eigendecomposition of the smaller Gram
    matrix (``X^T X`` when N >= D, ``X X^T`` when N < D), so the cost is O(N D min(N, D) + min(N, D)^3).
    Directions whose squared singular value is below the Gram matrix's rounding floor (``max(N, D) eps``
    relative) are treated as exact null directions. When N < D, ``perp`` is summed over the discarded
    directions instead of subtracted, so it is exactly 0 for full-rank X (no rounding residue for beta to
    amplify).
    """
    rank_floor = max(X.shape) * np.finfo(np.float64).eps
    if X.shape[0] >= X.shape[1]:
        sigma, V = np.linalg.eigh(X.T @ X)
        keep = sigma > sigma.max(initial=0.0) * rank_floor
        zsq = (V[:, keep].T @ (X.T @ Y)) ** 2 / sigma[keep, None]
        return sigma[keep], zsq, np.maximum((Y**2).sum(axis=0) - zsq.sum(axis=0), 0.0)
    sigma, U = np.linalg.eigh(X @ X.T)
    keep = sigma > sigma.max(initial=0.0) * rank_floor
    projections_sq = (U.T @ Y) ** 2
    return sigma[keep], projections_sq[keep], projections_sq[~keep].sum(axis=0)


def _mackay_update(gamma: Array, noise_dof: Array, m_sq: Array, residual: Array) -> tuple[Array, Array]:
    """MacKay's fixed-point step ``alpha = gamma / ||m||^2``, ``beta = (N - gamma) / ||y - X m||^2``."""
    return gamma / np.maximum(m_sq, _TINY), noise_dof / np.maximum(residual, _TINY)


def _spectral_terms(
    n: int, sigma: np.ndarray, zsq: np.ndarray, perp: np.ndarray, lam: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """gamma, N - gamma, ``||m||^2``, ``||y - X m||^2`` and ``sum_i log(1 + sigma_i / lam)`` at ``lam``.

    ``lam = alpha / beta``; the posterior mean is ``m = (X^T X + lam I)^-1 X^T y`` and ``perp`` is the
    target's energy outside X's column space, which no weight vector can fit. ``N - gamma`` is summed as
    ``(N - r) + sum_i lam / (sigma_i + lam)`` rather than subtracted, and ``lam * h`` is formed before
    squaring, so neither ``lam -> 0`` (X interpolates the target, beta diverges) nor ``lam -> inf`` (the
    evidence prefers w = 0, alpha diverges) loses precision or overflows.
    """
    h = 1.0 / (sigma[:, None] + lam[None, :])
    gamma = (sigma[:, None] * h).sum(axis=0)
    noise_dof = (n - sigma.size) + (lam * h).sum(axis=0)
    m_sq = (sigma[:, None] * zsq * h**2).sum(axis=0)
    residual = ((lam * h) ** 2 * zsq).sum(axis=0) + perp
    log_det = np.log1p(sigma[:, None] / lam[None, :]).sum(axis=0)
    return gamma, noise_dof, m_sq, residual, log_det


def logme_fit(X: np.ndarray, y: np.ndarray) -> LogMEFit:
    """Maximise the LogME evidence for every one-vs-rest target at once (You et al. 2021).

    With ``X = U S V^T`` (r non-zero singular values, ``sigma = S^2``), ``z = U^T y`` and ``lam = alpha/beta``
    the per-example log evidence is::

        L = [N log beta - N log 2pi - beta ||y - X m||^2 - alpha ||m||^2 - sum_i log(1 + sigma_i / lam)] / 2N

    which is the textbook ``[D log alpha + N log beta - ... - log det(alpha I + beta X^T X)] / 2N`` with the
    D - r null directions of X cancelled exactly (their prior and posterior factors are equal); the
    target's component outside X's column space enters the residual in full. Starting from
    alpha = beta = 1, each target follows MacKay's updates until its evidence moves by less than 1e-10 in
    one iteration, then is frozen. The evidence converges even where the optimum is at infinity: alpha
    diverges when the target is best explained as pure noise, beta when X interpolates it (N < D, full
    rank). The returned evidence is exactly that of the returned alpha and beta.
    """
    X = np.asarray(X, dtype=np.float64)
    Y = _one_hot(np.asarray(y))
    n = X.shape[0]
    sigma, zsq, perp = _spectrum(X, Y)
    alpha, beta = np.ones(Y.shape[1]), np.ones(Y.shape[1])
    previous = np.full(Y.shape[1], -np.inf)
    active = np.ones(Y.shape[1], dtype=bool)
    for _ in range(_LOGME_MAX_ITER):
        gamma, noise_dof, m_sq, residual, log_det = _spectral_terms(n, sigma, zsq, perp, alpha / beta)
        fit_terms = beta * residual + alpha * m_sq + log_det
        evidence = (n * np.log(beta / (2 * np.pi)) - fit_terms) / (2 * n)
        active &= np.abs(evidence - previous) > _LOGME_TOL
        if not active.any():
            break
        previous = evidence
        new_alpha, new_beta = _mackay_update(gamma, noise_dof, m_sq, residual)
        alpha, beta = np.where(active, new_alpha, alpha), np.where(active, new_beta, beta)
    return LogMEFit(evidence=evidence, alpha=alpha, beta=beta)


def logme(X: np.ndarray, y: np.ndarray) -> float:
    """LogME score (You et al. 2021): mean over classes of the maximised per-example log evidence."""
    return float(logme_fit(X, y).evidence.mean())


def _centred_class_means(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centred features, class means of the centred features ``[K, D]`` and class frequencies ``[K]``."""
    Xc = X - X.mean(axis=0)
    classes, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    means = np.zeros((classes.size, X.shape[1]))
    np.add.at(means, inverse, Xc)
    return Xc, means / counts[:, None], counts / y.size


def _between_class_trace(cov: np.ndarray, means: np.ndarray, freq: np.ndarray, n: int) -> float:
    """``tr(cov^+ cov(E[X | y])) = sum_k freq_k m_k^T cov^+ m_k`` with a rounding-aware pseudo-inverse.

    Directions of ``cov`` below its rounding floor (``max(N, D) eps`` relative to the largest eigenvalue)
    count as constant and are left out, so a singular covariance -- collinear or constant features --
    gives a finite score (0 for constant features) rather than an error.
    """
    rounding_floor = max(n, cov.shape[0]) * np.finfo(np.float64).eps
    cov_pinv = np.linalg.pinv(cov, rtol=rounding_floor, hermitian=True)
    return float(freq @ np.sum((means @ cov_pinv) * means, axis=1))


def h_score(X: np.ndarray, y: np.ndarray) -> float:
    """H-score (Bao et al. 2019): ``tr(cov(X)^+ cov(E[X | y]))`` with the pseudo-inverse.

    Both covariances use the 1/N normalisation. Bounded by ``min(C - 1, rank)`` (one-hot class features
    score exactly C - 1) and invariant to invertible linear maps of full-rank features; unstable when D is
    large relative to N (use :func:`h_score_shrinkage` there).
    """
    X = np.asarray(X, dtype=np.float64)
    Xc, means, freq = _centred_class_means(X, np.asarray(y))
    return _between_class_trace(Xc.T @ Xc / X.shape[0], means, freq, X.shape[0])


def h_score_shrinkage(X: np.ndarray, y: np.ndarray) -> float:
    """Shrinkage (regularised) H-score (Ibrahim et al. 2022): ``tr(cov_a(X)^-1 (1 - a) cov(E[X | y]))``.

    ``cov_a = (1 - a) cov(X) + a (tr cov(X) / D) I`` is the Ledoit-Wolf estimate (1/N normalisation, as
    scikit-learn's ``LedoitWolf``) with its optimal shrinkage ``a``; the between-class covariance is shrunk by
    the same ``1 - a`` and, as in the reference implementation (``np.cov`` of the class-mean features), uses the
    unbiased 1/(N - 1) normalisation. The score therefore equals the published regularised H-score (iris:
    1.1778425). In the eigenbasis of ``cov(X)`` each direction's contribution to the plain score is damped by
    ``(1 - a) lam / ((1 - a) lam + a mu)`` and scaled by N / (N - 1); it approaches the plain H-score as N grows
    (``a -> 0``), e.g. for one-hot features it approaches ``C - 1``. Invariant to rotations and rescaling of the
    features, not to general linear maps.
    """
    X = np.asarray(X, dtype=np.float64)
    n = X.shape[0]
    Xc, means, freq = _centred_class_means(X, np.asarray(y))
    shrunk_cov, shrinkage = ledoit_wolf_centred(Xc)
    unbiased = n / (n - 1) if n > 1 else 1.0
    return float((1.0 - shrinkage) * unbiased * _between_class_trace(shrunk_cov, means, freq, n))


def _unit_rows(X: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm; all-zero rows stay zero (cosine similarity 0 to everything)."""
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.where(norms > 0, norms, 1.0)


def knn_loo_accuracy(X: np.ndarray, y: np.ndarray, k: int = 10, chunk_bytes: int = 2**26) -> float:
    """Exact leave-one-out k-NN accuracy under cosine similarity, majority vote.

    Each example is classified by its k most similar *other* examples (itself is excluded by index, so
    exact duplicates still count as neighbours; k is capped at N - 1 for tiny sets); vote ties go to the
    smallest class id. Similarities are computed in row chunks of at most ``chunk_bytes``, so memory
    stays O(chunk x N) rather than O(N^2).
    """
    Xn = _unit_rows(np.asarray(X, dtype=np.float64))
    y = np.asarray(y)
    n = Xn.shape[0]
    if k < 1 or n < 2:
        raise ValueError(f"need k >= 1 and at least two examples, got k={k} for N={n}")
    k = min(k, n - 1)
    classes, labels = np.unique(y, return_inverse=True)
    rows = max(1, chunk_bytes // (8 * n))
    correct = 0
    for start in range(0, n, rows):
        stop = min(start + rows, n)
        sims = Xn[start:stop] @ Xn.T
        sims[np.arange(stop - start), np.arange(start, stop)] = -np.inf
        neighbours = np.argpartition(sims, -k, axis=1)[:, -k:]
        votes = np.zeros((stop - start, classes.size), dtype=np.int64)
        np.add.at(votes, (np.arange(stop - start)[:, None], labels[neighbours]), 1)
        correct += int(np.sum(votes.argmax(axis=1) == labels[start:stop]))
    return correct / n


def leep(P_src: np.ndarray, y: np.ndarray) -> float:
    """LEEP (Nguyen et al. 2020): mean log-likelihood of the target under the source head + empirical map.

    ``P(y, z) = 1/N sum_i P_src[i, z] [y_i = y]``, ``P(y | z) = P(y, z) / P(z)`` and
    ``LEEP = 1/N sum_i log sum_z P(y_i | z) P_src[i, z]``. Source classes that receive no mass get
    ``P(y | z) = 0`` (their term is multiplied by zero anyway); the log is floored at the smallest float.
    """
    P = np.asarray(P_src, dtype=np.float64)
    _, labels = np.unique(np.asarray(y), return_inverse=True)
    joint = np.zeros((labels.max() + 1, P.shape[1]))
    np.add.at(joint, labels, P)
    joint /= P.shape[0]
    marginal = joint.sum(axis=0)
    conditional = np.divide(joint, marginal, out=np.zeros_like(joint), where=marginal > 0)
    likelihood = np.einsum("iz,iz->i", P, conditional[labels])
    return float(np.mean(np.log(np.maximum(likelihood, _TINY))))


def nce(src_labels: np.ndarray, y: np.ndarray) -> float:
    """NCE (Tran et al. 2019): ``-H(Y | Z)`` under the empirical joint of source and target labels.

    ``src_labels`` is either hard source labels ``[N]`` or source probabilities ``[N, Z]`` (argmax is
    taken). Only observed (y, z) pairs enter the sum, so empty source classes cause no ``log 0``.
    0 means the source label determines the target label; more negative is worse.
    """
    src = np.asarray(src_labels)
    if src.ndim == 2:
        src = src.argmax(axis=1)
    _, z = np.unique(src, return_inverse=True)
    _, t = np.unique(np.asarray(y), return_inverse=True)
    joint = np.zeros((t.max() + 1, z.max() + 1))
    np.add.at(joint, (t, z), 1.0)
    joint /= t.size
    conditional = np.divide(joint, joint.sum(axis=0), out=np.ones_like(joint), where=joint > 0)
    return float(np.sum(joint * np.log(conditional)))


@dataclass(frozen=True)
class Estimator:
    """One entry of the estimator catalogue: the name result files use, the name people read, what it measures,
    and how to compute it from the frozen features ``X``, the labels ``y`` and (if it needs a source head) the
    source-class probabilities ``P_src``."""

    name: str
    display: str
    description: str
    compute: Callable[[np.ndarray, np.ndarray, np.ndarray | None], float]
    needs_source_head: bool = False


CATALOGUE: tuple[Estimator, ...] = (
    Estimator("logme", "LogME", "evidence of a Bayesian linear model of the labels", lambda X, y, P: logme(X, y)),
    Estimator(
        "h_score",
        "H-score",
        "shrinkage H-score: between-class over total feature covariance",
        lambda X, y, P: h_score_shrinkage(X, y),
    ),
    Estimator(
        "knn_loo_acc", "kNN", "leave-one-out 10-NN accuracy, cosine similarity", lambda X, y, P: knn_loo_accuracy(X, y)
    ),
    Estimator("leep", "LEEP", "log expected empirical prediction of the source head", lambda X, y, P: leep(P, y), True),
    Estimator(
        "nce", "NCE", "negative conditional entropy of labels given source labels", lambda X, y, P: nce(P, y), True
    ),
)
"""Every estimator the suite computes, in report order: the probe cells, the results table, the markdown, the HTML
page and `recommend` all read this list, so adding an estimator is one function and one entry here."""
NAMES: tuple[str, ...] = tuple(estimator.name for estimator in CATALOGUE)
DISPLAY: dict[str, str] = {estimator.name: estimator.display for estimator in CATALOGUE}


def estimate_all(X: np.ndarray, y: np.ndarray, P_src: np.ndarray | None = None) -> dict[str, float]:
    """Every estimator of the catalogue that applies, by name: those that need a source head only when source
    probabilities are given."""
    return {
        estimator.name: estimator.compute(X, y, P_src)
        for estimator in CATALOGUE
        if P_src is not None or not estimator.needs_source_head
    }
