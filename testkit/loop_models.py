"""The smallest model and dataset the training loop accepts: a linear head over feature rows.

The loop reads batches as `{"features": ..., "labels": ...}` through `model_inputs`, so a linear head over
precomputed features exercises every part of it (preparation, accumulation, schedule, evaluation, checkpoints)
in milliseconds.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from benchmark.data.loading import LABEL


class LinearHead(nn.Module):
    """A linear classifier over feature rows."""

    def __init__(self, in_features: int, num_labels: int):
        super().__init__()
        self.linear = nn.Linear(in_features, num_labels)

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.linear(inputs["features"])


class FeatureDataset(Dataset):
    """Feature rows and labels as a map-style dataset whose `__getitems__` returns a whole batch."""

    def __init__(self, features: np.ndarray, labels: np.ndarray):
        self.features = torch.as_tensor(features, dtype=torch.float32)
        self.labels = torch.as_tensor(labels, dtype=torch.long)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"features": self.features[index], LABEL: self.labels[index]}

    def __getitems__(self, indices: list[int]) -> dict[str, torch.Tensor]:
        rows = torch.as_tensor(indices, dtype=torch.long)
        return {"features": self.features[rows], LABEL: self.labels[rows]}


def batch_as_is(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The collate function for datasets whose `__getitems__` already returns a batch."""
    return batch


def blobs(n: int, seed: int, dim: int = 8, classes: int = 3) -> FeatureDataset:
    """Gaussian blobs, one per class, separable by a linear head."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    features = rng.normal(0, 0.3, (n, dim)) + np.eye(classes, dim)[labels] * 3
    return FeatureDataset(features.astype(np.float32), labels)
