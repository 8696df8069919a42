"""The Accelerate loop: learns a separable problem, keeps a curve, stops on a diverging loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from accelerate import Accelerator
from torch.utils.data import DataLoader, default_collate

from benchmark.engine.features import FeatureDataset, batch_as_is
from benchmark.engine.loop import DivergedError, LinearHead, TrainConfig, make_optimizer, train_and_evaluate
from benchmark.metrics.compute import compute_metrics


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
        batch_as_is,
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


def test_feature_batches_fetched_at_once_equal_collated_rows():
    dataset = blobs(10, 0)
    order = [7, 2, 9, 0]
    batched = next(iter(DataLoader(dataset, batch_size=4, sampler=order, collate_fn=batch_as_is)))
    rows = default_collate([dataset[i] for i in order])
    assert batched.keys() == rows.keys()
    assert all(torch.equal(batched[key], rows[key]) for key in rows)


def test_optimizer_is_fused_adamw_on_cpu_and_takes_the_same_step():
    weights = [torch.nn.Parameter(torch.randn(5, 3, generator=torch.Generator().manual_seed(0))) for _ in range(2)]
    config = TrainConfig(epochs=1, batch_size=1, learning_rate=0.1)
    fused = make_optimizer([weights[0]], config, torch.device("cpu"))
    plain = torch.optim.AdamW([weights[1]], lr=0.1, weight_decay=config.weight_decay)
    assert fused.defaults["fused"] is True
    assert not make_optimizer([weights[0]], config, torch.device("cpu"), mixed_precision="fp16").defaults["fused"]
    for optimizer, weight in ((fused, weights[0]), (plain, weights[1])):
        weight.grad = torch.ones_like(weight)
        optimizer.step()
    torch.testing.assert_close(weights[0], weights[1])
