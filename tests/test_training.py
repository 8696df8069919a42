"""The Accelerate loop: learns a separable problem, keeps a curve, stops on a diverging loss."""

from __future__ import annotations

import numpy as np
import pytest
from accelerate import Accelerator
from torch.utils.data import default_collate

from benchmark.metrics import compute_metrics
from benchmark.runner import FeatureDataset
from benchmark.training import DivergedError, LinearHead, TrainConfig, train_and_evaluate


def blobs(n: int, seed: int) -> FeatureDataset:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    features = rng.normal(0, 0.3, (n, 8)) + np.eye(3, 8)[labels] * 3
    return FeatureDataset(features.astype(np.float32), labels)


def run(config: TrainConfig):
    return train_and_evaluate(
        Accelerator(),
        LinearHead(8, 3),
        blobs(96, 0),
        blobs(31, 1),
        default_collate,
        config,
        lambda p, r: compute_metrics(["accuracy"], p, r),
        "accuracy",
    )


def test_learns_separable_blobs_and_records_curve():
    outcome = run(TrainConfig(epochs=3, batch_size=16, learning_rate=0.05, evals_per_epoch=2))
    assert outcome.metrics["accuracy"] > 0.95
    assert [p["step"] for p in outcome.curve] == [3, 6, 9, 12, 15, 18]
    assert outcome.optimizer_steps == 18 and outcome.train_examples_seen == 3 * 96
    elapsed = [p["train_elapsed_s"] for p in outcome.curve]
    assert elapsed == sorted(elapsed)


def test_gradient_accumulation_counts_optimizer_steps():
    outcome = run(TrainConfig(epochs=1, batch_size=16, learning_rate=0.05, gradient_accumulation_steps=2))
    assert outcome.optimizer_steps == 3


def test_diverging_loss_raises_with_step():
    with pytest.raises(DivergedError) as caught:
        run(TrainConfig(epochs=3, batch_size=16, learning_rate=1e30, warmup_ratio=0.0))
    assert caught.value.step >= 1 and "loss became" in str(caught.value)
