"""Experiment trackers through Accelerate (`--report-to tensorboard|wandb|mlflow|all`): one tracker run per cell.

A cell's run is opened once the cell's final result exists, under the suite as the project and the cell's name
as the run, with its chosen configuration as the run's config; it logs the final run's training loss and
validation metrics at each evaluation step, then the test metrics at the last step, and ends. Logging from the
finished result rather than from inside the loop is deliberate: a fine-tune's final run is the survivor of a
successive-halving search whose rungs interleave with other configurations and seeds, so only once the search
is over is it known which training run is the cell's, and then its whole history is in the result (the loss
partial sums survive interruptions, so a resumed cell logs what an uninterrupted one would).

Runs are started with `Accelerator.init_trackers` and written with `Accelerator.log`. They are ended by finishing
each tracker and emptying `accelerator.trackers` rather than with `Accelerator.end_training`, which would also
destroy the distributed process group that the next cell still needs, and which leaves finished trackers in the
list that the next `init_trackers` would append to. TensorBoard writes under `<logging-dir>/<cell name>/<suite>`
(Accelerate names a TensorBoard folder after the project); wandb and MLflow get the cell's name as the run name.

Without `--report-to` the accelerator has no trackers and nothing here runs.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from benchmark.results.schema import CellResult
from benchmark.utils.naming import safe_component

if TYPE_CHECKING:  # accelerate takes seconds to import; the command line imports this module for its flags
    from accelerate import Accelerator

REPORT_TO_CHOICES = ("none", "tensorboard", "wandb", "mlflow", "all")
LOGGING_DIRNAME = ".trackers"  # hidden, so result scans never read a tracker's own files as results


def log_with(report_to: str | None) -> list[str] | None:
    """The `Accelerator(log_with=...)` value for `--report-to` (None: no tracker, the default)."""
    if report_to in (None, "none"):
        return None
    return [report_to]


def missing_tracker(report_to: str | None) -> str | None:
    """Why `--report-to` cannot work here (its package is not installed), or None when it can."""
    if report_to in (None, "none"):
        return None
    from accelerate.tracking import get_available_trackers

    available = {str(tracker) for tracker in get_available_trackers()}
    if report_to == "all":
        return None if available else "--report-to all: no experiment tracker is installed (tensorboard, wandb, ...)"
    if report_to not in available:
        package = "tensorboard" if report_to == "tensorboard" else report_to
        return f"--report-to {report_to}: the {report_to} package is not installed (pip install {package})"
    return None


def default_logging_dir(output_dir: Path) -> Path:
    """Where file-based trackers (TensorBoard) write when `--logging-dir` is not given."""
    return Path(output_dir) / LOGGING_DIRNAME


def is_tracking(accelerator: Accelerator) -> bool:
    """Whether this run reports to any tracker."""
    return bool(getattr(accelerator, "log_with", None))


def report_cell(accelerator: Accelerator, result: CellResult, cell_name: str) -> None:
    """One tracker run for a finished cell: its config, its curve, its test metrics; then the run ends."""
    if result.status != "ok" or not accelerator.is_main_process:
        return
    with cell_run(accelerator, result.suite, cell_name, run_config(result)):
        for step, values in cell_logs(result):
            accelerator.log(values, step=step)


@contextlib.contextmanager
def cell_run(accelerator: Accelerator, project: str, run_name: str, config: dict) -> Iterator[None]:
    """Start a tracker run named `run_name` in `project`, and end it (without touching the process group)."""
    configuration = accelerator.project_configuration
    root = configuration.logging_dir
    if root is not None:  # TensorBoard: one folder per cell, named like its result files
        configuration.logging_dir = os.path.join(root, *(safe_component(part) for part in run_name.split("/")))
    try:
        accelerator.init_trackers(
            project,
            config=config,
            init_kwargs={"wandb": {"name": run_name}, "mlflow": {"run_name": run_name}},
        )
    finally:
        configuration.logging_dir = root
    try:
        yield
    finally:
        end_runs(accelerator)


def end_runs(accelerator: Accelerator) -> None:
    """Finish every started tracker run and forget it, so the next `init_trackers` starts afresh."""
    for tracker in accelerator.trackers:
        tracker.finish()
    accelerator.trackers.clear()


def run_config(result: CellResult) -> dict[str, str | int | float | bool]:
    """The cell's identity and chosen configuration, as a flat dict of scalars every tracker accepts."""
    config: dict[str, str | int | float | bool | None] = {
        "suite": result.suite,
        "model": result.model,
        "init": result.init,
        "task": result.task,
        "modality": result.modality,
        "protocol": result.protocol,
        "seed": result.seed,
        "main_metric": result.main_metric,
    }
    if result.setup is not None:
        config.update(result.setup.model_dump())
    return {key: value for key, value in config.items() if value is not None}


def cell_logs(result: CellResult) -> list[tuple[int, dict[str, float]]]:
    """(step, values) to log for a finished cell: at each evaluation the training loss since the previous one
    (`train/loss`, fine-tunes) and the validation metrics (`validation/<metric>`), then the test metrics
    (`test/<metric>`) at the final step."""
    logs = []
    for point in result.curve:
        values = {f"validation/{name}": value for name, value in point.metrics.items()}
        if point.train_loss is not None:
            values["train/loss"] = point.train_loss
        values["epoch"] = point.epoch
        logs.append((point.step, values))
    final_step = result.curve[-1].step if result.curve else 0
    if result.setup is not None:
        final_step = max(final_step, result.setup.optimizer_steps)
    logs.append((final_step, {f"test/{name}": value for name, value in result.metrics.items()}))
    return logs
