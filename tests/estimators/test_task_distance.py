"""Task similarity on constructed tasks: identical < relabelled copy < other geometry, for both methods; class
frequencies weigh the transport; the split-half noise floor is measured in the same space."""

import numpy as np
import pytest

from benchmark.estimators.task_distance import (
    METHODS,
    class_gaussian_ot_distance,
    frechet_distance,
    measure_distances,
    normalised_cosine_distance,
    random_probe_fisher_embedding,
    similarity_matrix,
    split_halves,
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


def test_class_gaussian_ot_identical_nearest_then_relabelled_then_unrelated(tasks):
    Xa, ya = tasks["a"]
    same = class_gaussian_ot_distance(Xa, ya, *tasks["a_identical"])
    relabelled = class_gaussian_ot_distance(Xa, ya, *tasks["a_relabelled"])
    unrelated = class_gaussian_ot_distance(Xa, ya, *tasks["b_unrelated"])
    assert same < 1e-5 * unrelated
    assert relabelled < 0.3 * unrelated


def test_class_gaussian_ot_matches_classes_whatever_their_ids():
    X, y = _task(CENTRES_A, SCALES_A, 50, seed=5)
    assert class_gaussian_ot_distance(X, y, X, np.array([1, 2, 0])[y]) == pytest.approx(0.0, abs=1e-5)


def test_random_probe_fisher_identical_nearest_then_relabelled_then_unrelated(tasks):
    embedding_a = random_probe_fisher_embedding(*tasks["a"])
    same = normalised_cosine_distance(embedding_a, random_probe_fisher_embedding(*tasks["a_identical"]))
    relabelled = normalised_cosine_distance(embedding_a, random_probe_fisher_embedding(*tasks["a_relabelled"]))
    unrelated = normalised_cosine_distance(embedding_a, random_probe_fisher_embedding(*tasks["b_unrelated"]))
    assert same == pytest.approx(0.0, abs=1e-12)
    assert relabelled < 0.5 * unrelated


def test_random_probe_fisher_embedding_shape_and_normalisation():
    binary = random_probe_fisher_embedding(*_task(CENTRES_A[:2], SCALES_A, 40, seed=6), hidden=16)
    four_way = random_probe_fisher_embedding(*_task(CENTRES_B, SCALES_B, 40, seed=7), hidden=16)
    assert binary.shape == four_way.shape == (16 * DIM,)
    for embedding in (binary, four_way):
        assert np.all(embedding >= 0) and embedding.sum() == pytest.approx(1.0)
    with pytest.raises(ValueError):
        random_probe_fisher_embedding(np.ones((5, DIM)), np.zeros(5, dtype=int))


def test_normalised_cosine_distance_is_normalised_cosine():
    e = np.array([1.0, 2.0, 0.0, 4.0])
    assert normalised_cosine_distance(e, 3 * e) == pytest.approx(0.0, abs=1e-12)
    assert normalised_cosine_distance(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(1.0)
    assert normalised_cosine_distance(e, e[::-1]) == pytest.approx(normalised_cosine_distance(e[::-1], e))


@pytest.mark.parametrize("method", METHODS)
def test_similarity_matrix_symmetric_zero_diagonal_and_ordered(tasks, method):
    names, matrix = similarity_matrix(tasks, method)
    assert names == list(tasks)
    assert np.allclose(matrix, matrix.T) and np.all(np.diag(matrix) == 0)
    row = dict(zip(names, matrix[names.index("a")], strict=True))
    assert row["a_identical"] < row["a_relabelled"] < row["b_unrelated"]


def test_class_gaussian_ot_matrix_with_shared_projection_keeps_the_order(tasks):
    rng = np.random.default_rng(8)
    lift = rng.standard_normal((DIM, 20))
    lifted = {name: (X @ lift, y) for name, (X, y) in tasks.items()}
    names, matrix = similarity_matrix(lifted, "class_gaussian_ot", n_components=DIM)
    row = dict(zip(names, matrix[0], strict=True))
    assert row["a_identical"] < row["a_relabelled"] < row["b_unrelated"]


def test_similarity_matrix_rejects_unknown_method(tasks):
    for retired in ("euclid", "bures", "task2vec"):
        with pytest.raises(ValueError):
            similarity_matrix(tasks, retired)


def _point_masses(centres: np.ndarray, counts: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Classes as (nearly) point masses at ``centres`` with the given example counts."""
    y = np.repeat(np.arange(len(counts)), counts)
    jitter = np.random.default_rng(9).standard_normal((y.size, centres.shape[1])) * 1e-6
    return centres[y] + jitter, y


def test_transport_weighs_classes_by_frequency():
    """Same classes, frequencies 3:1 against 1:3: half the mass must move across, W2^2 = 0.5 |c0 - c1|^2.
    Uniform class weights would have called these tasks identical."""
    centres = np.array([[0.0, 0.0], [4.0, 3.0]])
    mostly_first, mostly_second = _point_masses(centres, [300, 100]), _point_masses(centres, [100, 300])
    distance = class_gaussian_ot_distance(*mostly_first, *mostly_second)
    assert distance == pytest.approx(np.sqrt(0.5) * 5.0, rel=1e-4)
    same_balance = class_gaussian_ot_distance(*mostly_first, *_point_masses(centres, [600, 200]))
    assert same_balance == pytest.approx(0.0, abs=1e-4)


def test_split_halves_are_disjoint_class_stratified_and_seeded():
    y = np.repeat([0, 1, 2], [10, 7, 1])
    first, second = split_halves(y, seed=3)
    assert np.intersect1d(first, second).size == 0 and np.union1d(first, second).size == y.size
    assert [int(np.sum(y[first] == c)) for c in range(3)] == [5, 3, 0]
    assert all(np.array_equal(a, b) for a, b in zip(split_halves(y, seed=3), (first, second), strict=True))


@pytest.mark.parametrize("method", METHODS)
def test_split_half_floor_lies_between_a_copy_and_an_unrelated_task(tasks, method):
    measured = measure_distances(tasks, method)
    names = measured.names
    assert measured.split_half.shape == (len(names),) and np.all(measured.split_half > 0)
    floor = measured.noise_floor
    row = dict(zip(names, measured.matrix[names.index("a")], strict=True))
    assert row["a_identical"] <= floor < row["b_unrelated"]
    assert np.array_equal(similarity_matrix(tasks, method)[1], measured.matrix)


def test_split_half_is_undefined_when_a_half_has_one_class():
    X = np.random.default_rng(10).standard_normal((5, DIM))
    measured = measure_distances(
        {"one": (X, np.array([0, 0, 0, 0, 1])), "two": (X, np.array([0, 1, 0, 1, 0]))}, "random_probe_fisher"
    )
    assert np.isnan(measured.split_half[0]) and np.isfinite(measured.split_half[1])
    assert measured.noise_floor == measured.split_half[1]
