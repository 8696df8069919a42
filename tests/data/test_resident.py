"""Splits stacked on the run's device give the loop the batches, in the order, that their per-example rows give.

The CPU stands in for the GPU here: stacking, the device budget and gathering by index are the same code on both,
and a CPU run of the suite never asks for resident splits (`speedups.resident_device`).
"""

from __future__ import annotations

import dataclasses

import datasets
import numpy as np
import pytest
import torch
from accelerate import Accelerator

from benchmark.data.collate import VisionCollator, vision_transform
from benchmark.data.preprocessed import PreprocessCache, PreprocessedSplit, stack_rows
from benchmark.data.resident import ResidentSplit, as_batch, on_accelerator
from benchmark.engine.loop import TrainConfig, train_and_evaluate
from benchmark.metrics.compute import metric_fn
from testkit.loop_models import LinearHead, blobs

pytestmark = pytest.mark.unit

CPU = torch.device("cpu")
DATA_CONFIG = {
    "input_size": (3, 16, 16),
    "interpolation": "bilinear",
    "mean": (0.5, 0.5, 0.5),
    "std": (0.5, 0.5, 0.5),
    "crop_pct": 1.0,
    "crop_mode": "center",
}


def _images(n: int, seed: int) -> datasets.Dataset:
    rng = np.random.default_rng(seed)
    images = [rng.integers(0, 255, (10, 10, 3), dtype=np.uint8) for _ in range(n)]
    features = datasets.Features({"image": datasets.Image(), "labels": datasets.Value("int64")})
    return datasets.Dataset.from_dict({"image": images, "labels": [i % 3 for i in range(n)]}, features=features)


def _collator() -> VisionCollator:
    return VisionCollator(vision_transform(DATA_CONFIG, None), "image")


def _assert_same_batch(got: dict, expected: dict) -> None:
    assert got.keys() == expected.keys()
    for key in expected:
        assert torch.equal(got[key], expected[key]), key


def test_splits_asked_for_on_a_device_are_stacked_there_once_and_gather_the_rows_batches():
    train, validation, collate = _images(6, 0), _images(4, 1), _collator()
    cache = PreprocessCache()
    (resident, held_out), gather = cache.inputs([train, validation], collate, CPU)
    assert gather is as_batch and isinstance(resident, ResidentSplit) and (len(resident), len(held_out)) == (6, 4)
    (rows,), stacked = cache.inputs([train], collate)  # without a device (a CPU run): per-example rows, as before
    assert stacked is stack_rows and isinstance(rows, PreprocessedSplit)
    for indices in ([4, 0, 2], [5], list(range(6))):
        _assert_same_batch(resident.__getitems__(indices), stack_rows([rows[i] for i in indices]))
    (again,), _ = cache.inputs([train], collate, CPU)
    assert again is resident and cache.device_bytes == resident.nbytes + held_out.nbytes


def test_splits_over_the_device_budget_stay_rows_on_the_host():
    train, collate = _images(6, 0), _collator()
    cache = PreprocessCache(max_device_bytes=1)
    (rows,), stacked = cache.inputs([train], collate, CPU)
    assert stacked is stack_rows and isinstance(rows, PreprocessedSplit) and cache.device_bytes == 0


def test_a_resident_split_on_the_cpu_is_read_like_any_dataset():
    resident = ResidentSplit({"features": torch.zeros(3, 2), "labels": torch.arange(3)})
    assert not on_accelerator(resident) and resident[1]["labels"] == 1
    with pytest.raises(ValueError, match="share length"):
        ResidentSplit({"features": torch.zeros(3, 2), "labels": torch.arange(4)})


def _rows(n: int, seed: int) -> list[dict[str, torch.Tensor]]:
    data = blobs(n, seed)
    return [{"features": data.features[i], "labels": data.labels[i]} for i in range(n)]


class DropoutHead(LinearHead):
    """A linear head with dropout, so the loop's random stream matters too."""

    def forward(self, inputs):
        return self.linear(torch.nn.functional.dropout(inputs["features"], p=0.3, training=self.training))


def _train(train, validation, collate, config: TrainConfig) -> tuple:
    torch.manual_seed(0)
    model = DropoutHead(8, 3)
    outcome = train_and_evaluate(
        Accelerator(), model, train, validation, collate, config, metric_fn(["accuracy"]), "accuracy"
    )
    return outcome, model.state_dict()


def _without_times(curve: list[dict]) -> list[dict]:
    return [{key: value for key, value in point.items() if key != "train_elapsed_s"} for point in curve]


def test_training_on_a_resident_split_is_training_on_its_rows_also_after_a_resume(tmp_path):
    train_rows, validation_rows = _rows(90, 0), _rows(21, 1)  # 90: five batches of 16 and one of 10 per epoch
    config = TrainConfig(epochs=3, batch_size=16, learning_rate=0.05, evals_per_epoch=2)
    expected, expected_weights = _train(
        PreprocessedSplit(train_rows, None), PreprocessedSplit(validation_rows, None), stack_rows, config
    )
    train, validation = ResidentSplit.stacked(train_rows, CPU), ResidentSplit.stacked(validation_rows, CPU)
    whole = _train(train, validation, as_batch, config)
    on_disk = dataclasses.replace(config, checkpoint_dir=tmp_path / "run")
    stopped, _ = _train(train, validation, as_batch, dataclasses.replace(on_disk, stop_at_step=9))  # 2nd epoch
    assert stopped.optimizer_steps == 9 and (tmp_path / "run").is_dir()  # the resumed run skips into the epoch
    resumed = _train(train, validation, as_batch, on_disk)
    for outcome, weights in (whole, resumed):
        assert _without_times(outcome.curve) == _without_times(expected.curve)
        assert all(torch.equal(weights[name], expected_weights[name]) for name in expected_weights)
