"""Experiment trackers through Accelerate: one run per cell with the training loss, the validation curve and the test
metrics, read back from real TensorBoard event files."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
import torch
from accelerate import Accelerator
from accelerate.utils import ProjectConfiguration

from benchmark.engine.interruption import StopRequested
from benchmark.engine.loop import TrainConfig, train_and_evaluate
from benchmark.engine.trackers import cell_logs, is_tracking, log_with, missing_tracker, report_cell, run_config
from benchmark.metrics.compute import metric_fn
from benchmark.results.store import read_result
from benchmark.run import main
from testkit.fixtures import tiny_run_args
from testkit.loop_models import LinearHead, batch_as_is, blobs
from testkit.suite_records import full_result

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")

CELL = "resnet_tiny/colours/finetune-seed0"


def scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar series in a TensorBoard run folder: {tag: [(step, value), ...]}."""
    events = event_accumulator.EventAccumulator(str(folder))
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def result_with_losses(seed: int = 0):
    result = full_result(
        model="resnet_tiny", init="pretrained", task="colours", modality="vision", protocol="finetune", seed=seed
    )
    curve = [
        point.model_copy(update={"train_loss": 1.0 / point.step, "metrics": {"accuracy": point.score}})
        for point in result.curve
    ]
    return result.model_copy(update={"curve": curve})


def test_report_to_maps_onto_accelerate():
    assert log_with("none") is None and log_with(None) is None
    assert log_with("tensorboard") == ["tensorboard"] and log_with("all") == ["all"]
    assert missing_tracker("none") is None and missing_tracker("tensorboard") is None


def test_a_tracker_that_is_not_installed_is_named(monkeypatch):
    monkeypatch.setattr("accelerate.tracking.get_available_trackers", lambda: ["tensorboard"])
    assert "pip install wandb" in missing_tracker("wandb")
    assert missing_tracker("all") is None
    monkeypatch.setattr("accelerate.tracking.get_available_trackers", lambda: [])
    assert "no experiment tracker" in missing_tracker("all")


def test_cell_logs_are_the_curve_then_the_test_metrics():
    result = result_with_losses()
    logs = cell_logs(result)
    assert [step for step, _ in logs] == [10, 20, 20]
    assert logs[0][1] == {"validation/accuracy": result.curve[0].score, "train/loss": 0.1, "epoch": 1.0}
    assert logs[-1][1] == {f"test/{name}": value for name, value in result.metrics.items()}
    config = run_config(result)
    assert config["model"] == "resnet_tiny" and config["learning_rate"] == result.setup.learning_rate
    assert None not in config.values()  # trackers refuse None hyper-parameters


def test_one_tensorboard_run_per_cell_ended_after_each(tmp_path):
    accelerator = Accelerator(log_with="tensorboard", project_config=ProjectConfiguration(logging_dir=str(tmp_path)))
    assert is_tracking(accelerator) and not is_tracking(Accelerator())
    for seed in (0, 1):
        result = result_with_losses(seed)
        report_cell(accelerator, result, f"resnet_tiny/colours/finetune-seed{seed}")
        assert accelerator.trackers == []  # ended, and the next cell starts afresh
    assert accelerator.logging_dir == str(tmp_path)  # the per-cell folder was only lent to the tracker
    for seed in (0, 1):
        series = scalars(tmp_path / "resnet_tiny" / "colours" / f"finetune-seed{seed}" / "synth")
        expected = result_with_losses(seed)
        assert series["train/loss"] == [(10, pytest.approx(0.1)), (20, pytest.approx(0.05))]
        assert [step for step, _ in series["validation/accuracy"]] == [10, 20]
        assert series["test/accuracy"] == [(20, pytest.approx(expected.metrics["accuracy"]))]
    failed = full_result(
        model="resnet_tiny", init="pretrained", task="shapes", modality="vision", protocol="finetune", seed=0
    )
    report_cell(accelerator, failed.model_copy(update={"status": "failed"}), "resnet_tiny/shapes/finetune-seed0")
    assert not (tmp_path / "resnet_tiny" / "shapes").exists()  # only finished cells are logged


class StopAtStep:
    """A stop flag that is raised at the `step`-th optimizer step (the loop asks once per step)."""

    def __init__(self, step: int):
        self.asked, self.step = 0, step

    @property
    def signum(self) -> int | None:
        self.asked += 1
        return signal.SIGTERM if self.asked >= self.step else None

    def raise_if_set(self) -> None:
        if self.asked >= self.step:
            raise StopRequested(signal.SIGTERM)


def train(config: TrainConfig, stop_flag=None):
    torch.manual_seed(0)
    return train_and_evaluate(
        Accelerator(),
        LinearHead(8, 3),
        blobs(400, 0),
        blobs(31, 1),
        batch_as_is,
        config,
        metric_fn(["accuracy"]),
        "accuracy",
        stop_flag=stop_flag,
    )


def test_training_loss_of_a_resumed_run_is_that_of_an_uninterrupted_one(tmp_path):
    # One epoch of 25 steps: evaluations at 12, 24 and 25, logging points at 10 and 20 between them.
    config = TrainConfig(epochs=1, batch_size=16, learning_rate=0.05, evals_per_epoch=2, checkpoint_interval_s=1e9)
    whole = train(config)
    assert [p["step"] for p in whole.curve] == [12, 24, 25]
    assert all(p["train_loss"] > 0 for p in whole.curve)
    resumable = TrainConfig(**{**config.__dict__, "checkpoint_dir": tmp_path / "ckpt"})
    # Step 11: after a logging point (10) and before an evaluation (12), so both partial sums must survive.
    with pytest.raises(StopRequested):
        train(resumable, StopAtStep(11))
    resumed = train(resumable)
    assert [(p["step"], p["train_loss"]) for p in resumed.curve] == [(p["step"], p["train_loss"]) for p in whole.curve]


@pytest.mark.integration
def test_report_to_tensorboard_logs_each_cell_of_a_run(tiny_tasks, tiny_assets, tmp_path):
    output, logs = tmp_path / "results", tmp_path / "tb"
    args = tiny_run_args(tiny_tasks, tiny_assets, output, "--models", "tiny-resnet", "--tasks", "colours")
    args += ["--protocols", "finetune", "--no-scratch", "--no-similarity", "--epochs", "2", "--learning-rate", "0.003"]
    assert main([*args, "--report-to", "tensorboard", "--logging-dir", str(logs)]) == 0
    result = read_result(output / "tiny" / "tiny-resnet" / "colours" / "finetune-seed0.json")
    assert all(point.train_loss is not None and point.train_loss > 0 for point in result.curve)
    series = scalars(logs / "tiny-resnet" / "colours" / "finetune-seed0" / "tiny")
    assert [step for step, _ in series["train/loss"]] == [point.step for point in result.curve]
    assert series["validation/accuracy"] == [(p.step, pytest.approx(p.metrics["accuracy"])) for p in result.curve]
    assert series["test/accuracy"] == [(result.setup.optimizer_steps, pytest.approx(result.metrics["accuracy"]))]
