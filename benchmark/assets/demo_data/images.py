"""Image tasks: Fashion-MNIST (Debian `dataset-fashion-mnist`) and scikit-learn's digits, as imagefolders."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from benchmark.assets.demo_data.common import (
    Source,
    build_dataset,
    debian_source,
    per_class_indices,
    write_png_folder,
)
from benchmark.assets.manifest import (
    python_package_version,
)

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_CLASSES = (
    "t-shirt_top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle_boot",
)  # fmt: skip


def _read_idx(path: Path, header_bytes: int) -> np.ndarray:
    """The uint8 payload of a gzipped IDX file after its header."""
    with gzip.open(path, "rb") as handle:
        return np.frombuffer(handle.read(), dtype=np.uint8, offset=header_bytes)


def _fashion_mnist_split(prefix: str) -> tuple[np.ndarray, np.ndarray]:
    """Images (n, 28, 28) and labels (n,) of the official train ('train') or test ('t10k') split."""
    images = _read_idx(FASHION_MNIST_DIR / f"{prefix}-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28)
    labels = _read_idx(FASHION_MNIST_DIR / f"{prefix}-labels-idx1-ubyte.gz", 8)
    return images, labels


def build_fashion_mnist(out_dir: Path, seed: int = 0, n_train_per_class: int = 100, n_test_per_class: int = 50) -> Path:
    """Fashion-MNIST as an imagefolder: a balanced sample of the official train and test splits (28x28 grey).

    Train images come only from the official training set and test images only from the official test
    set, so the split is the published one. File names are the indices in the source split.
    """
    params = {"seed": seed, "n_train_per_class": n_train_per_class, "n_test_per_class": n_test_per_class}

    def write(tmp_dir: Path) -> dict[str, int]:
        rng = np.random.default_rng(seed)
        counts = {}
        for split, prefix, n in (("train", "train", n_train_per_class), ("test", "t10k", n_test_per_class)):
            images, labels = _fashion_mnist_split(prefix)
            chosen = per_class_indices(labels, n, rng)
            counts[split] = write_png_folder(tmp_dir / split, images, FASHION_MNIST_CLASSES, chosen)
        return counts

    def source() -> Source:
        return debian_source(
            "dataset-fashion-mnist", FASHION_MNIST_DIR / "t10k-labels-idx1-ubyte.gz", "MIT (Zalando SE)"
        )

    return build_dataset(out_dir, "fashion_mnist", params, source, write)


def build_digits(out_dir: Path, seed: int = 0, n_train_per_class: int = 70, n_test_per_class: int = 40) -> Path:
    """scikit-learn's 8x8 handwritten digits as an imagefolder with classes '0'..'9', stratified and balanced.

    The 0..16 intensities are scaled to 0..255 and kept at 8x8: the model's preprocessing resizes.
    """
    params = {"seed": seed, "n_train_per_class": n_train_per_class, "n_test_per_class": n_test_per_class}

    def write(tmp_dir: Path) -> dict[str, int]:
        from sklearn.datasets import load_digits

        digits = load_digits()
        images = np.round(digits.images * 255 / 16).astype(np.uint8)
        rng = np.random.default_rng(seed)
        both = per_class_indices(digits.target, n_train_per_class + n_test_per_class, rng)
        permuted = {label: rng.permutation(indices) for label, indices in both.items()}
        names = [str(d) for d in range(10)]
        return {
            split: write_png_folder(
                tmp_dir / split, images, names, {label: np.sort(idx[part]) for label, idx in permuted.items()}
            )
            for split, part in (("train", slice(n_train_per_class)), ("test", slice(n_train_per_class, None)))
        }

    def source() -> Source:
        return Source(
            "scikit-learn",
            python_package_version("scikit-learn"),
            "CC-BY-4.0 (UCI optdigits, via scikit-learn)",
        )

    return build_dataset(out_dir, "digits", params, source, write)
