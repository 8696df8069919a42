"""What every cell of a run shares, and how a cell's training settings are resolved from the layers of specs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from accelerate import Accelerator

from benchmark.data.loading import TaskData, cap_task_data, load_encoded
from benchmark.engine.features import FeatureCache
from benchmark.engine.interruption import StopFlag
from benchmark.engine.plan import Cell
from benchmark.specs.schema import TrainingSpec

DEFAULT_TRAINING = TrainingSpec(
    epochs=3,
    batch_size=32,
    learning_rate=1e-4,
    probe_learning_rate=1e-2,
    probe_epochs=30,
    weight_decay=0.01,
    warmup_ratio=0.1,
    gradient_accumulation_steps=1,
    evals_per_epoch=2,
)


@dataclass
class RunContext:
    """What every cell of a run shares: the accelerator, directories and command-line overrides."""

    accelerator: Accelerator
    assets_dir: Path
    feature_cache: FeatureCache | None
    suite_training: TrainingSpec = TrainingSpec()
    overrides: TrainingSpec = TrainingSpec()
    max_train_samples: int | None = None
    max_eval_samples: int | None = None
    trust_remote_code: bool = False
    num_workers: int = 0
    compile: bool = False
    stop_flag: StopFlag | None = None
    checkpoint_root: Path | None = None
    checkpoint_interval_s: float = 60.0
    score_weights: dict = field(default_factory=dict)
    encoded_data: dict[str, TaskData] = field(default_factory=dict)
    complexity_cache: dict[tuple, dict] = field(default_factory=dict)

    def task_data(self, cell: Cell) -> TaskData:
        """A cell's data: each task is loaded and label-encoded once per run, then capped for the cell's seed."""
        task = cell.task
        if task.task not in self.encoded_data:
            self.encoded_data[task.task] = load_encoded(task, self.assets_dir)
        return cap_task_data(
            self.encoded_data[task.task], task, cell.seed, self.max_train_samples, self.max_eval_samples
        )


def resolve_training(cell: Cell, context: RunContext) -> TrainingSpec:
    """Defaults, then the suite's training block, the task's, and the command line's, later ones winning."""
    merged = DEFAULT_TRAINING.model_dump()
    for layer in (context.suite_training, cell.task.training, context.overrides):
        merged.update({k: v for k, v in layer.model_dump().items() if v is not None})
    return TrainingSpec(**merged)
