"""Task similarity from frozen features: which target tasks look alike to a given encoder?

Two independent methods, both returning distances (0 = same task, larger = less alike):

* ``"bures"`` -- distributional. Each task is summarised by its class-conditional Gaussians; two tasks
  are compared by optimal transport between their classes, with the squared 2-Wasserstein (Frechet /
  Bures-Wasserstein) distance between Gaussians as ground cost. This is the Gaussian-approximated
  label-aware dataset distance of Alvarez-Melis & Fusi, "Geometric Dataset Distances via Optimal
  Transport", NeurIPS 2020, with the feature term dropped (classes are the transported points).
* ``"task2vec"`` -- Achille et al., "Task2Vec: Task Embedding for Meta-Learning", ICCV 2019: the diagonal
  Fisher information of a fixed probe network's shared weights, compared with their normalised cosine
  distance.

Both methods compare features *in one embedding space*: the caller must pass, for every task, features
produced by the same fixed encoder (one per modality). Features from different backbones live in
unrelated coordinates and their distances are meaningless.
"""

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import sparse
from scipy.optimize import linprog
from sklearn.linear_model import LogisticRegression

from benchmark.estimators.covariance import ledoit_wolf_centred

Method = Literal["bures", "task2vec"]


def _psd_sqrt(cov: np.ndarray) -> np.ndarray:
    """Symmetric square root of a positive semi-definite matrix (negative rounding noise clipped)."""
    eigvals, eigvecs = np.linalg.eigh(cov)
    return (eigvecs * np.sqrt(np.clip(eigvals, 0.0, None))) @ eigvecs.T


def _frechet_from_sqrt(
    mu1: np.ndarray, cov1: np.ndarray, sqrt1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray
) -> float:
    """Squared Frechet distance given the precomputed square root of ``cov1``."""
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(sqrt1 @ cov2 @ sqrt1), 0.0, None)).sum()
    d2 = np.sum((mu1 - mu2) ** 2) + np.trace(cov1) + np.trace(cov2) - 2.0 * cross
    return float(max(d2, 0.0))


def frechet_distance(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray) -> float:
    """Squared 2-Wasserstein (Frechet) distance between ``N(mu1, cov1)`` and ``N(mu2, cov2)``.

    ``||mu1 - mu2||^2 + tr(cov1) + tr(cov2) - 2 tr((cov1^1/2 cov2 cov1^1/2)^1/2)`` (Dowson & Landau 1982),
    the quantity reported as FID; its second part is the squared Bures distance between covariances.
    """
    return _frechet_from_sqrt(mu1, cov1, _psd_sqrt(cov1), mu2, cov2)


@dataclass(frozen=True)
class ClassGaussians:
    """Per-class Gaussian summary of one task: means ``[K, D]``, covariances and their square roots."""

    means: np.ndarray
    covs: np.ndarray
    cov_sqrts: np.ndarray


def class_gaussians(X: np.ndarray, y: np.ndarray) -> ClassGaussians:
    """Fit one Gaussian per class present in ``y``.

    Covariances are Ledoit-Wolf shrunk towards a scaled identity, so classes with fewer examples than
    dimensions still get a well-conditioned estimate; a single-example class is a point mass.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    means, covs = [], []
    for label in np.unique(y):
        members = X[y == label]
        means.append(members.mean(axis=0))
        covs.append(
            ledoit_wolf_centred(members - members.mean(axis=0))[0]
            if len(members) > 1
            else np.zeros((X.shape[1], X.shape[1]))
        )
    covs_arr = np.stack(covs)
    return ClassGaussians(np.stack(means), covs_arr, np.stack([_psd_sqrt(c) for c in covs_arr]))


def _uniform_ot_cost(cost: np.ndarray) -> float:
    """Exact optimal-transport cost between uniform weights on the rows and on the columns of ``cost``."""
    n_rows, n_cols = cost.shape
    row_sums = sparse.kron(sparse.eye(n_rows), np.ones((1, n_cols)))
    col_sums = sparse.kron(np.ones((1, n_rows)), sparse.eye(n_cols))
    result = linprog(
        cost.ravel(),
        A_eq=sparse.vstack([row_sums, col_sums]).tocsc(),
        b_eq=np.concatenate([np.full(n_rows, 1.0 / n_rows), np.full(n_cols, 1.0 / n_cols)]),
        bounds=(0, None),
        method="highs",
    )
    if not result.success:
        raise RuntimeError(f"optimal transport LP failed: {result.message}")
    return float(result.fun)


def gaussian_ot_distance(a: ClassGaussians, b: ClassGaussians) -> float:
    """2-Wasserstein distance between two tasks seen as uniform measures over their class Gaussians.

    ``sqrt(min_P sum_ij P_ij W2^2(N_a,i, N_b,j))`` over transport plans P with uniform marginals
    (1/K_a per class of a, 1/K_b per class of b), solved exactly as a linear programme. A metric on tasks
    (given the Gaussian summaries); invariant to relabelling classes; handles different class counts.
    """
    cost = np.array(
        [
            [
                _frechet_from_sqrt(a.means[i], a.covs[i], a.cov_sqrts[i], b.means[j], b.covs[j])
                for j in range(len(b.means))
            ]
            for i in range(len(a.means))
        ]
    )
    return float(np.sqrt(max(_uniform_ot_cost(cost), 0.0)))


def class_conditional_bures_distance(Xa: np.ndarray, ya: np.ndarray, Xb: np.ndarray, yb: np.ndarray) -> float:
    """Distance between two labelled tasks in a shared feature space (see :func:`gaussian_ot_distance`)."""
    return gaussian_ot_distance(class_gaussians(Xa, ya), class_gaussians(Xb, yb))


def _probe_layer(dim: int, hidden: int, probe_seed: int) -> np.ndarray:
    """The fixed first layer ``[hidden, dim]`` shared by every task's probe (He-normal init, fixed seed)."""
    return np.random.default_rng(probe_seed).standard_normal((hidden, dim)) * np.sqrt(2.0 / dim)


def task2vec_embedding(
    X: np.ndarray, y: np.ndarray, probe_seed: int = 0, hidden: int = 64, l2_strength: float = 1.0
) -> np.ndarray:
    """Task2Vec embedding (Achille et al. 2019): normalised diagonal Fisher of a fixed probe's shared layer.

    Probe: ``p(y | x) = softmax(W2 relu(W1 x))``. ``W1`` is random but fixed by ``probe_seed`` and shared by
    all tasks (Task2Vec's fixed feature extractor); only the head ``W2`` is trained on the task, by
    L2-regularised multinomial logistic regression -- a convex problem with a unique optimum, so the
    embedding does not depend on initialisation or on how the classes are numbered. The Fisher of ``W1``,
    ``F[h, d] = E_x E_{y ~ p(y|x)} (d log p(y|x) / d W1[h, d])^2``, samples the label from the model's own
    predictive distribution as in the paper; the expectation over that label is taken in closed form,
    ``E_y (dlogp/dW1[h,d])^2 = 1[a_h > 0] Var_{p(y|x)}(W2[y, h]) x_d^2``. Only ``W1`` is embedded, so tasks
    with different class counts get vectors of the same length ``hidden * D``. The result is divided by its
    sum, removing the dependence on dataset size and loss scale.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if np.unique(y).size < 2:
        raise ValueError("task2vec_embedding needs at least two classes")
    pre_activation = X @ _probe_layer(X.shape[1], hidden, probe_seed).T
    features = np.maximum(pre_activation, 0.0)
    head = LogisticRegression(C=1.0 / l2_strength, max_iter=2000).fit(features, y)
    probs = head.predict_proba(features)
    W2 = head.coef_
    if W2.shape[0] != probs.shape[1]:  # binary task: sklearn keeps only the logit of class 1
        W2 = np.vstack([np.zeros_like(W2), W2])
    head_variance = probs @ W2**2 - (probs @ W2) ** 2
    fisher = ((pre_activation > 0) * head_variance).T @ X**2 / X.shape[0]
    total = fisher.sum()
    return (fisher / total).ravel() if total > 0 else np.zeros(fisher.size)  # no signal: the zero embedding


def task2vec_distance(ea: np.ndarray, eb: np.ndarray) -> float:
    """Normalised cosine distance of Task2Vec: ``1 - cos(ea / (ea + eb), eb / (ea + eb))``.

    Entries where both embeddings are zero (e.g. probe units dead on both tasks) carry no information
    and are dropped.
    """
    total = ea + eb
    informative = total > 0
    u, v = ea[informative] / total[informative], eb[informative] / total[informative]
    norms = np.linalg.norm(u) * np.linalg.norm(v)
    if norms == 0:  # at least one task gave the probe no signal: equal if both did, unrelated otherwise
        return 0.0 if not u.any() and not v.any() else 1.0
    return float(1.0 - (u @ v) / norms)


def _shared_projection(tasks: dict[str, tuple[np.ndarray, np.ndarray]], n_components: int) -> np.ndarray:
    """Top principal directions ``[D, n_components]`` of all tasks' features pooled together."""
    features = [np.asarray(X, dtype=np.float64) for X, _ in tasks.values()]
    count = sum(len(X) for X in features)
    mean = sum(X.sum(axis=0) for X in features) / count
    scatter = sum(X.T @ X for X in features) - count * np.outer(mean, mean)
    eigvals, eigvecs = np.linalg.eigh(scatter)
    return eigvecs[:, np.argsort(eigvals)[::-1][:n_components]]


def similarity_matrix(
    tasks: dict[str, tuple[np.ndarray, np.ndarray]],
    method: Method,
    n_components: int | None = 64,
    probe_seed: int = 0,
) -> tuple[list[str], np.ndarray]:
    """Pairwise task distances: names (in ``tasks`` order) and a symmetric matrix with zero diagonal.

    ``tasks`` maps a name to ``(X, y)``, all features from the same fixed encoder. For ``"bures"``, when
    the feature dimension exceeds ``n_components`` all tasks are first projected onto the top
    ``n_components`` principal directions of their pooled features (one projection for the whole matrix,
    so every entry is measured in the same space); this keeps the per-class-pair cost at O(n_components^3)
    instead of O(D^3). ``n_components=None`` disables it. ``"task2vec"`` uses :func:`task2vec_embedding`
    with ``probe_seed``.
    """
    names = list(tasks)
    if method == "bures":
        dim = next(iter(tasks.values()))[0].shape[1]
        if n_components is not None and dim > n_components:
            projection = _shared_projection(tasks, n_components)
            tasks = {name: (np.asarray(X) @ projection, y) for name, (X, y) in tasks.items()}
        summaries = [class_gaussians(X, y) for X, y in tasks.values()]
        distance = gaussian_ot_distance
    elif method == "task2vec":
        summaries = [task2vec_embedding(X, y, probe_seed=probe_seed) for X, y in tasks.values()]
        distance = task2vec_distance
    else:
        raise ValueError(f"unknown similarity method {method!r}; expected 'bures' or 'task2vec'")
    matrix = np.zeros((len(names), len(names)))
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            matrix[i, j] = matrix[j, i] = distance(summaries[i], summaries[j])
    return names, matrix
