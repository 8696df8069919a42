"""`--compile`: the compiled loop gives the eager loop's numbers and survives what a search does to a run (rung
states in memory, checkpoints on disk and a resume, deep copies of the model).

Tolerance, compiled against eager in fp32 on the CPU (inductor fuses and reorders the same arithmetic): every
validation loss within 1e-4 relative, every trained weight within 1e-4 absolute, and the same right and wrong
validation predictions. Dropout is left out: compiled code draws its random masks from another generator.
"""

from __future__ import annotations

import copy
import dataclasses
import shutil

import pytest
import torch
from accelerate import Accelerator
from torch import nn

from benchmark.data.resident import ResidentSplit, as_batch
from benchmark.engine.loop import TrainConfig, TrainOutcome, train_and_evaluate
from benchmark.engine.rung_states import RungStates
from benchmark.metrics.compute import metric_fn

pytestmark = [
    pytest.mark.unit,
    pytest.mark.skipif(
        shutil.which("g++") is None and shutil.which("c++") is None,
        reason="torch.compile builds CPU kernels with a C++ compiler, and there is none (g++ or c++) on PATH",
    ),
]

LOSS_RTOL, WEIGHT_ATOL = 1e-4, 1e-4
# 32 training images in batches of 8 and 16 validation images in one batch (no ragged last batch to compile for):
# 4 steps per epoch, evaluated every 2, where the runs below also stop
CONFIG = TrainConfig(epochs=2, batch_size=8, learning_rate=0.05, evals_per_epoch=2, compile=True)


class TinyConvNet(nn.Module):
    """Convolution, batch norm, pooling and a linear head over `pixel_values`. The convolution has no bias, as
    before any batch norm: its gradient would be rounding noise, which AdamW scales up to whole steps."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 4, 3, bias=False), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1)
        )
        self.head = nn.Linear(4, 3)

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.head(self.features(inputs["pixel_values"]).flatten(1))


def _images(n: int, seed: int) -> ResidentSplit:
    """Noisy 8x8 images whose class shifts the mean of one colour channel."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 3
    pixels = torch.randn(n, 3, 8, 8, generator=generator) + 2 * nn.functional.one_hot(labels, 3)[:, :, None, None]
    return ResidentSplit({"pixel_values": pixels, "labels": labels})


def _run(config: TrainConfig, model: nn.Module | None = None) -> tuple[TrainOutcome, nn.Module]:
    torch.manual_seed(0)
    model = model or TinyConvNet()
    outcome = train_and_evaluate(
        Accelerator(), model, _images(32, 0), _images(16, 1), as_batch, config, metric_fn(["accuracy"]), "accuracy"
    )
    return outcome, model


def _assert_close_runs(got: tuple[TrainOutcome, nn.Module], expected: tuple[TrainOutcome, nn.Module]) -> None:
    (outcome, model), (reference, reference_model) = got, expected
    assert [point["step"] for point in outcome.curve] == [point["step"] for point in reference.curve]
    losses, reference_losses = ([point["loss"] for point in run.curve] for run in (outcome, reference))
    torch.testing.assert_close(torch.tensor(losses), torch.tensor(reference_losses), rtol=LOSS_RTOL, atol=0)
    assert outcome.correct == reference.correct
    reference_state = reference_model.state_dict()
    for name, value in model.state_dict().items():
        torch.testing.assert_close(value, reference_state[name], rtol=0, atol=WEIGHT_ATOL)


def test_the_compiled_loop_gives_the_eager_loops_numbers_and_times_compilation_apart():
    eager = _run(dataclasses.replace(CONFIG, compile=False))
    compiled = _run(CONFIG)
    _assert_close_runs(compiled, eager)
    assert eager[0].compile_wall_s == 0 and compiled[0].compile_wall_s > 0  # this architecture's first compilation
    model = compiled[1]
    assert type(model) is TinyConvNet and model.state_dict().keys() == eager[1].state_dict().keys()


def test_a_compiled_run_stopped_at_rungs_in_memory_and_on_disk_ends_as_an_uninterrupted_one(tmp_path):
    whole = _run(CONFIG)
    in_memory = dataclasses.replace(CONFIG, checkpoint_dir=tmp_path / "memory", rung_states=RungStates())
    _run(dataclasses.replace(in_memory, stop_at_step=4))  # the end of the first epoch
    assert in_memory.checkpoint_dir in in_memory.rung_states
    _assert_close_runs(_run(in_memory), whole)
    on_disk = dataclasses.replace(CONFIG, checkpoint_dir=tmp_path / "disk")
    _run(dataclasses.replace(on_disk, stop_at_step=6))  # mid second epoch, checkpointed with Accelerate
    assert on_disk.checkpoint_dir.is_dir()
    _assert_close_runs(_run(on_disk), whole)


def test_a_deep_copy_of_a_compiled_runs_model_is_an_independent_eager_module():
    _, model = _run(CONFIG)
    twin = copy.deepcopy(model)
    with torch.no_grad():
        twin.head.bias.add_(1.0)
    pixels = {"pixel_values": torch.randn(2, 3, 8, 8)}
    model.eval(), twin.eval()
    assert not torch.equal(twin(pixels), model(pixels))
    outcome, trained = _run(dataclasses.replace(CONFIG, epochs=1), twin)
    assert trained is twin and outcome.finished
