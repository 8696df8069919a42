"""Task similarity from frozen features: which target tasks look alike to a given encoder?

Two methods, named for what they compute, both returning distances (0 = same task, larger = less alike):

* ``"class_gaussian_ot"`` -- each task is a discrete measure over its classes, weighted by class frequency,
  each class summarised by a Gaussian (mean and Ledoit-Wolf covariance); two tasks are compared by the exact
  optimal transport between those measures with the squared 2-Wasserstein (Frechet / Bures-Wasserstein)
  distance between class Gaussians as ground cost. It is the label-to-label part of the Gaussian-approximated
  dataset distance of Alvarez-Melis & Fusi, "Geometric Dataset Distances via Optimal Transport", NeurIPS 2020
  (OTDD), not OTDD itself: the per-example feature term is dropped and classes are the transported points.
* ``"random_probe_fisher"`` -- a Task2Vec-like embedding (Achille et al., "Task2Vec: Task Embedding for
  Meta-Learning", ICCV 2019) on frozen features: the diagonal Fisher information of a *fixed random* hidden
  layer shared by every task, under a softmax head trained on the task, compared with Task2Vec's normalised
  cosine distance. It is not the published Task2Vec, which takes the Fisher of a trained probe network's own
  weights (and offers an asymmetric distance for model selection); the name says so.

Both methods compare features *in one embedding space*: the caller must pass, for every task, features
produced by the same fixed encoder (one per modality). Features from different backbones live in
unrelated coordinates and their distances are meaningless.

A distance means little without its noise floor: `measure_distances` also returns each task's split-half
distance, between two random class-stratified halves of the task itself. Distances at or below the floor are
what resampling one task already produces.
"""

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import sparse
from scipy.optimize import linprog
from sklearn.linear_model import LogisticRegression

from benchmark.estimators.covariance import ledoit_wolf_centred

Method = Literal["class_gaussian_ot", "random_probe_fisher"]
METHODS: tuple[Method, ...] = ("class_gaussian_ot", "random_probe_fisher")
SPLIT_HALF_SEED = 0


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
    """Per-class Gaussian summary of one task: class frequencies ``[K]``, means ``[K, D]``, covariances and their
    square roots."""

    weights: np.ndarray
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
    labels, counts = np.unique(y, return_counts=True)
    means, covs = [], []
    for label in labels:
        members = X[y == label]
        means.append(members.mean(axis=0))
        covs.append(
            ledoit_wolf_centred(members - members.mean(axis=0))[0]
            if len(members) > 1
            else np.zeros((X.shape[1], X.shape[1]))
        )
    covs_arr = np.stack(covs)
    sqrts = np.stack([_psd_sqrt(c) for c in covs_arr])
    return ClassGaussians(counts / counts.sum(), np.stack(means), covs_arr, sqrts)


def optimal_transport_cost(cost: np.ndarray, row_weights: np.ndarray, col_weights: np.ndarray) -> float:
    """Exact optimal-transport cost between the weights on the rows and on the columns of ``cost`` (each summing
    to 1), solved as a linear programme."""
    n_rows, n_cols = cost.shape
    row_sums = sparse.kron(sparse.eye(n_rows), np.ones((1, n_cols)))
    col_sums = sparse.kron(np.ones((1, n_rows)), sparse.eye(n_cols))
    result = linprog(
        cost.ravel(),
        A_eq=sparse.vstack([row_sums, col_sums]).tocsc(),
        b_eq=np.concatenate([row_weights, col_weights]),
        bounds=(0, None),
        method="highs",
    )
    if not result.success:
        raise RuntimeError(f"optimal transport LP failed: {result.message}")
    return float(result.fun)


def gaussian_ot_distance(a: ClassGaussians, b: ClassGaussians) -> float:
    """2-Wasserstein distance between two tasks seen as measures over their class Gaussians.

    ``sqrt(min_P sum_ij P_ij W2^2(N_a,i, N_b,j))`` over transport plans P whose marginals are the class
    frequencies of a and of b, solved exactly as a linear programme: a frequent class has to be matched by as
    much mass in the other task. A metric on tasks (given the Gaussian summaries); invariant to relabelling
    classes; handles different class counts.
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
    return float(np.sqrt(max(optimal_transport_cost(cost, a.weights, b.weights), 0.0)))


def class_gaussian_ot_distance(Xa: np.ndarray, ya: np.ndarray, Xb: np.ndarray, yb: np.ndarray) -> float:
    """Distance between two labelled tasks in a shared feature space (see :func:`gaussian_ot_distance`)."""
    return gaussian_ot_distance(class_gaussians(Xa, ya), class_gaussians(Xb, yb))


def _probe_layer(dim: int, hidden: int, probe_seed: int) -> np.ndarray:
    """The fixed first layer ``[hidden, dim]`` shared by every task's probe (He-normal init, fixed seed)."""
    return np.random.default_rng(probe_seed).standard_normal((hidden, dim)) * np.sqrt(2.0 / dim)


def random_probe_fisher_embedding(
    X: np.ndarray, y: np.ndarray, probe_seed: int = 0, hidden: int = 64, l2_strength: float = 1.0
) -> np.ndarray:
    """Normalised diagonal Fisher of a fixed random probe layer (Task2Vec-like; not the published Task2Vec).

    Probe: ``p(y | x) = softmax(W2 relu(W1 x))``. ``W1`` is random, never trained, fixed by ``probe_seed`` and
    shared by all tasks (the stand-in for Task2Vec's fixed feature extractor); only the head ``W2`` is trained on
    the task, by
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
        raise ValueError("random_probe_fisher_embedding needs at least two classes")
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


def normalised_cosine_distance(ea: np.ndarray, eb: np.ndarray) -> float:
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
    return float(max(1.0 - (u @ v) / norms, 0.0))  # rounding can push an exact match just below 0


def _shared_projection(tasks: dict[str, tuple[np.ndarray, np.ndarray]], n_components: int) -> np.ndarray:
    """Top principal directions ``[D, n_components]`` of all tasks' features pooled together."""
    features = [np.asarray(X, dtype=np.float64) for X, _ in tasks.values()]
    count = sum(len(X) for X in features)
    mean = sum(X.sum(axis=0) for X in features) / count
    scatter = sum(X.T @ X for X in features) - count * np.outer(mean, mean)
    eigvals, eigvecs = np.linalg.eigh(scatter)
    return eigvecs[:, np.argsort(eigvals)[::-1][:n_components]]


def split_halves(y: np.ndarray, seed: int = SPLIT_HALF_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Indices of two class-stratified random halves of a task (a class with an odd count gives the second half
    its extra example; a single-example class lands in the second half only)."""
    rng = np.random.default_rng(seed)
    first, second = [], []
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        first.append(members[: members.size // 2])
        second.append(members[members.size // 2 :])
    return np.sort(np.concatenate(first)), np.sort(np.concatenate(second))


@dataclass(frozen=True)
class TaskDistances:
    """A distance matrix over ``names`` (symmetric, zero diagonal) and each task's split-half distance to itself
    (NaN where a half would have fewer than two classes)."""

    names: list[str]
    matrix: np.ndarray
    split_half: np.ndarray

    @property
    def noise_floor(self) -> float:
        """The largest split-half distance: below it, two tasks are no further apart than a task from itself."""
        finite = self.split_half[np.isfinite(self.split_half)]
        return float(finite.max()) if finite.size else float("nan")


def _summarise(method: Method, X: np.ndarray, y: np.ndarray, probe_seed: int):
    if method == "class_gaussian_ot":
        return class_gaussians(X, y)
    return random_probe_fisher_embedding(X, y, probe_seed=probe_seed)


DISTANCES = {"class_gaussian_ot": gaussian_ot_distance, "random_probe_fisher": normalised_cosine_distance}


def measure_distances(
    tasks: dict[str, tuple[np.ndarray, np.ndarray]],
    method: Method,
    n_components: int | None = 64,
    probe_seed: int = 0,
    split_seed: int = SPLIT_HALF_SEED,
) -> TaskDistances:
    """Pairwise task distances and each task's split-half distance, all measured in one space.

    ``tasks`` maps a name to ``(X, y)``, all features from the same fixed encoder. For ``"class_gaussian_ot"``,
    when the feature dimension exceeds ``n_components`` all tasks are first projected onto the top
    ``n_components`` principal directions of their pooled features (one projection for the whole matrix and
    its split halves, so every entry is measured in the same space); this keeps the per-class-pair cost at
    O(n_components^3) instead of O(D^3). ``n_components=None`` disables it. ``"random_probe_fisher"`` uses
    :func:`random_probe_fisher_embedding` with ``probe_seed``. Each split half has half the examples, so its
    distance is, if anything, above the sampling noise of a full-size task: a conservative floor.
    """
    tasks = _in_measuring_space(tasks, method, n_components)
    split_half = [_split_half(method, X, y, probe_seed, split_seed) for X, y in tasks.values()]
    return TaskDistances(list(tasks), _matrix(tasks, method, probe_seed), np.array(split_half, dtype=float))


def _in_measuring_space(tasks: dict, method: Method, n_components: int | None) -> dict[str, tuple]:
    """Features as arrays, projected onto the pooled principal directions where the method needs it."""
    if method not in DISTANCES:
        raise ValueError(f"unknown similarity method {method!r}; expected one of {list(DISTANCES)}")
    tasks = {name: (np.asarray(X, dtype=np.float64), np.asarray(y)) for name, (X, y) in tasks.items()}
    dim = next(iter(tasks.values()))[0].shape[1]
    if method == "class_gaussian_ot" and n_components is not None and dim > n_components:
        projection = _shared_projection(tasks, n_components)
        tasks = {name: (X @ projection, y) for name, (X, y) in tasks.items()}
    return tasks


def _matrix(tasks: dict[str, tuple], method: Method, probe_seed: int) -> np.ndarray:
    distance = DISTANCES[method]
    summaries = [_summarise(method, X, y, probe_seed) for X, y in tasks.values()]
    matrix = np.zeros((len(summaries), len(summaries)))
    for i in range(len(summaries)):
        for j in range(i + 1, len(summaries)):
            matrix[i, j] = matrix[j, i] = distance(summaries[i], summaries[j])
    return matrix


def _split_half(method: Method, X: np.ndarray, y: np.ndarray, probe_seed: int, split_seed: int) -> float:
    first, second = split_halves(y, split_seed)
    if np.unique(y[first]).size < 2 or np.unique(y[second]).size < 2:
        return float("nan")
    halves = [_summarise(method, X[half], y[half], probe_seed) for half in (first, second)]
    return float(DISTANCES[method](*halves))


def similarity_matrix(
    tasks: dict[str, tuple[np.ndarray, np.ndarray]],
    method: Method,
    n_components: int | None = 64,
    probe_seed: int = 0,
) -> tuple[list[str], np.ndarray]:
    """Pairwise task distances only: names (in ``tasks`` order) and the matrix of :func:`measure_distances`."""
    return list(tasks), _matrix(_in_measuring_space(tasks, method, n_components), method, probe_seed)
