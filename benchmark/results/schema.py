"""The typed schema of result files: one `CellResult` per cell, one `SimilarityResult` per suite and modality.

Every record is a pydantic model that forbids unknown keys, so a file written by another version of the code, or
edited by hand into something else, is refused with the field that does not fit.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from benchmark.specs.schema import Init, Modality, Protocol

SCHEMA_VERSION = 1
Status = Literal["ok", "diverged", "failed"]


class ResultFileError(Exception):
    """A result file cannot be read or does not match the schema."""


class CurvePoint(BaseModel):
    """One evaluation during training."""

    model_config = ConfigDict(extra="forbid")
    step: int
    epoch: float
    train_elapsed_s: float
    score: float
    metrics: dict[str, float]


class Record(BaseModel):
    """Base of every part of a result record: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())


class Timing(Record):
    """Wall-clock seconds of one cell; feature extraction is timed apart (linear probes only)."""

    train_wall_s: float = 0.0
    eval_wall_s: float = 0.0
    samples_per_s: float = 0.0
    total_wall_s: float = 0.0
    feature_wall_s: float | None = None
    feature_cache_hits: float | None = None


class Complexity(Record):
    """Size and cost of the network at the task's input size, and the peak memory of the cell."""

    params_total: int
    params_trainable: int
    flops_per_example: float
    flops_counter: str
    peak_memory_bytes: int | None = None
    peak_memory_measure: str | None = None


class Setup(Record):
    """How the cell ran: device, precision, distribution, the training settings used and the data sizes."""

    device: str
    hardware: str
    precision: str
    world_size: int
    batch_size: int
    gradient_accumulation_steps: int
    epochs: float
    learning_rate: float
    num_train: int
    num_eval: int
    num_eval_scored: int
    batch_sizes_tried: str | None = None
    num_labels: int
    feature_dim: int | None = None


class CellResult(Record):
    """Everything measured for one cell, plus what it was run with. A cell that did not finish has no
    timing, complexity or setup."""

    schema_version: int = SCHEMA_VERSION
    suite: str
    model: str
    init: Init
    task: str
    modality: Modality
    protocol: Protocol
    seed: int
    status: Status
    error: str | None = None
    diverged_at_step: int | None = None
    main_metric: str
    metrics: dict[str, float] = Field(default_factory=dict)
    chance: dict[str, float] = Field(default_factory=dict)
    curve: list[CurvePoint] = Field(default_factory=list)
    timing: Timing | None = None
    complexity: Complexity | None = None
    estimators: dict[str, float | None] = Field(default_factory=dict)  # None: undefined for these features
    setup: Setup | None = None
    versions: dict[str, str] = Field(default_factory=dict)
    revisions: dict[str, str | None] = Field(default_factory=dict)
    specs: dict = Field(default_factory=dict)
    created_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def main_score(self) -> float | None:
        return self.metrics.get(self.main_metric)


class SimilarityResult(BaseModel):
    """Task-to-task distances of one suite and modality, measured in one fixed encoder's feature space.

    `distances[method]` is a symmetric matrix over `tasks` (zero diagonal; smaller = more similar), for the
    methods of `benchmark.estimators.task_distance` ("bures": class-conditional Fréchet/Bures optimal transport
    distance, "task2vec": Task2Vec cosine distance of Fisher embeddings). `source_to_target[model][task]`
    holds, per method, the distance from a model's declared pretraining sample to each task.
    """

    model_config = ConfigDict(extra="forbid", protected_namespaces=())
    schema_version: int = SCHEMA_VERSION
    suite: str
    modality: Modality
    encoder: str
    tasks: list[str]
    distances: dict[str, list[list[float | None]]]
    source_to_target: dict[str, dict[str, dict[str, float]]] = Field(default_factory=dict)
