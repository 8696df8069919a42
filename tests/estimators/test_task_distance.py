"""Task similarity on constructed tasks: identical < relabelled copy < other geometry, for both methods."""

import numpy as np
import pytest

from benchmark.estimators.task_distance import (
    class_conditional_bures_distance,
    frechet_distance,
    similarity_matrix,
    task2vec_distance,
    task2vec_embedding,
)

DIM = 8


def _task(centres: np.ndarray, scales: np.ndarray, n_per_class: int, seed: int) -> tuple:
    """Gaussian classes around ``centres`` with per-dimension standard deviations ``scales``."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(centres)), n_per_class)
    return centres[y] + rng.standard_normal((len(y), centres.shape[1])) * scales, y


CENTRES_A = np.random.default_rng(100).standard_normal((3, DIM)) * 3
CENTRES_B = np.random.default_rng(200).standard_normal((4, DIM)) * 3 + 2
SCALES_A = np.ones(DIM)
SCALES_B = np.linspace(0.2, 2.5, DIM)


@pytest.fixture(scope="module")
def tasks() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    X, y = _task(CENTRES_A, SCALES_A, 80, seed=1)
    X_resampled, y_resampled = _task(CENTRES_A, SCALES_A, 80, seed=2)
    permutation = np.array([2, 0, 1])
    return {
        "a": (X, y),
        "a_identical": (X.copy(), y.copy()),
        "a_relabelled": (X_resampled, permutation[y_resampled]),
        "b_unrelated": _task(CENTRES_B, SCALES_B, 60, seed=3),
    }


def test_frechet_distance_closed_forms():
    mu1, mu2 = np.array([0.0, 1.0]), np.array([3.0, -1.0])
    cov1, cov2 = np.diag([4.0, 1.0]), np.diag([1.0, 9.0])
    # Commuting covariances: ||mu1 - mu2||^2 + sum (sqrt a - sqrt b)^2.
    assert frechet_distance(mu1, cov1, mu2, cov2) == pytest.approx(13.0 + 1.0 + 4.0, rel=1e-12)
    rng = np.random.default_rng(4)
    root = rng.standard_normal((5, 5))
    cov = root @ root.T
    assert frechet_distance(np.ones(5), cov, np.ones(5), cov) == pytest.approx(0.0, abs=1e-9)
    other = cov + np.eye(5)
    assert frechet_distance(mu1[:1], cov[:1, :1], mu2[:1], other[:1, :1]) == pytest.approx(
        9.0 + (np.sqrt(cov[0, 0]) - np.sqrt(other[0, 0])) ** 2, rel=1e-12
    )
    assert frechet_distance(np.zeros(5), cov, np.ones(5), other) == pytest.approx(
        frechet_distance(np.ones(5), other, np.zeros(5), cov), rel=1e-9
    )


def test_bures_identical_nearest_then_relabelled_then_unrelated(tasks):
    Xa, ya = tasks["a"]
    same = class_conditional_bures_distance(Xa, ya, *tasks["a_identical"])
    relabelled = class_conditional_bures_distance(Xa, ya, *tasks["a_relabelled"])
    unrelated = class_conditional_bures_distance(Xa, ya, *tasks["b_unrelated"])
    assert same < 1e-5 * unrelated
    assert relabelled < 0.3 * unrelated


def test_bures_matches_classes_whatever_their_ids():
    X, y = _task(CENTRES_A, SCALES_A, 50, seed=5)
    assert class_conditional_bures_distance(X, y, X, np.array([1, 2, 0])[y]) == pytest.approx(0.0, abs=1e-5)


def test_task2vec_identical_nearest_then_relabelled_then_unrelated(tasks):
    embedding_a = task2vec_embedding(*tasks["a"])
    same = task2vec_distance(embedding_a, task2vec_embedding(*tasks["a_identical"]))
    relabelled = task2vec_distance(embedding_a, task2vec_embedding(*tasks["a_relabelled"]))
    unrelated = task2vec_distance(embedding_a, task2vec_embedding(*tasks["b_unrelated"]))
    assert same == pytest.approx(0.0, abs=1e-12)
    assert relabelled < 0.5 * unrelated


def test_task2vec_embedding_shape_and_normalisation():
    binary = task2vec_embedding(*_task(CENTRES_A[:2], SCALES_A, 40, seed=6), hidden=16)
    four_way = task2vec_embedding(*_task(CENTRES_B, SCALES_B, 40, seed=7), hidden=16)
    assert binary.shape == four_way.shape == (16 * DIM,)
    for embedding in (binary, four_way):
        assert np.all(embedding >= 0) and embedding.sum() == pytest.approx(1.0)
    with pytest.raises(ValueError):
        task2vec_embedding(np.ones((5, DIM)), np.zeros(5, dtype=int))


def test_task2vec_distance_is_normalised_cosine():
    e = np.array([1.0, 2.0, 0.0, 4.0])
    assert task2vec_distance(e, 3 * e) == pytest.approx(0.0, abs=1e-12)
    assert task2vec_distance(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(1.0)
    assert task2vec_distance(e, e[::-1]) == pytest.approx(task2vec_distance(e[::-1], e))


@pytest.mark.parametrize("method", ["bures", "task2vec"])
def test_similarity_matrix_symmetric_zero_diagonal_and_ordered(tasks, method):
    names, matrix = similarity_matrix(tasks, method)
    assert names == list(tasks)
    assert np.allclose(matrix, matrix.T) and np.all(np.diag(matrix) == 0)
    row = dict(zip(names, matrix[names.index("a")], strict=True))
    assert row["a_identical"] < row["a_relabelled"] < row["b_unrelated"]


def test_bures_matrix_with_shared_projection_keeps_the_order(tasks):
    rng = np.random.default_rng(8)
    lift = rng.standard_normal((DIM, 20))
    lifted = {name: (X @ lift, y) for name, (X, y) in tasks.items()}
    names, matrix = similarity_matrix(lifted, "bures", n_components=DIM)
    row = dict(zip(names, matrix[0], strict=True))
    assert row["a_identical"] < row["a_relabelled"] < row["b_unrelated"]


def test_similarity_matrix_rejects_unknown_method(tasks):
    with pytest.raises(ValueError):
        similarity_matrix(tasks, "euclid")
