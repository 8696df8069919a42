"""The typed schema of result files: one `CellResult` per cell, one `SimilarityResult` per suite and modality.

Every record is a pydantic model that forbids unknown keys, so a file written by another version of the code, or
edited by hand into something else, is refused with the field that does not fit.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from benchmark.specs.schema import Init, Modality, Protocol

SCHEMA_VERSION = 2
Status = Literal["ok", "diverged", "failed"]


class ResultFileError(Exception):
    """A result file cannot be read or does not match the schema."""


class CurvePoint(BaseModel):
    """One evaluation on the validation split during training (the test split is never part of a curve)."""

    model_config = ConfigDict(extra="forbid")
    step: int
    epoch: float
    train_elapsed_s: float
    score: float
    metrics: dict[str, float]
    loss: float | None = None  # mean cross-entropy on validation
    train_loss: float | None = None  # mean training loss since the previous evaluation (fine-tunes only)


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
    compile_wall_s: float | None = None  # --compile: torch.compile's compilation, in no other time here


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
    weight_decay: float
    optimizer_steps: int
    num_train: int
    num_validation: int
    num_test: int
    num_test_scored: int
    batch_sizes_tried: str | None = None
    num_labels: int
    feature_dim: int | None = None


class Provenance(Record):
    """What produced a result, to reproduce or audit it: the machine, the code and command, the distributed
    setup, and the hub commits the checkpoint and dataset resolved to. None where it cannot be known (no GPU, not
    a git checkout, a local folder, an empty hub cache)."""

    cpu: str
    gpus: list[str] = Field(default_factory=list)
    cuda: str | None = None
    cudnn: str | None = None
    platform: str | None = None
    command: list[str] = Field(default_factory=list)
    code_commit: str | None = None
    code_dirty: bool | None = None
    model_commit: str | None = None
    dataset_commit: str | None = None
    distributed_type: str | None = None
    backend: str | None = None
    world_size: int = 1
    local_processes: int = 1
    num_machines: int = 1
    mixed_precision: str | None = None


class Candidate(Record):
    """One configuration of a search and the validation scores it reached: `scores[r][i]` is the main metric on
    validation after rung `r`'s budget for the search's `i`-th seed (rungs it was dropped before are absent;
    None where the run diverged); `losses` the validation cross-entropy at the same points, which breaks ties of
    the mean score."""

    config: dict[str, float]
    scores: list[list[float | None]]
    losses: list[list[float | None]] | None = None

    @property
    def mean_scores(self) -> list[float | None]:
        """Mean validation score over seeds at each rung reached (None if any seed diverged there)."""
        return [None if None in rung else sum(rung) / len(rung) for rung in self.scores]


class GridExtension(Record):
    """One value added past an edge of a searched dimension's grid because the choice lay on that edge; the
    configurations it adds were searched in round `round` against the previous round's choice."""

    dimension: Literal["learning_rate", "weight_decay"]
    edge: Literal["lower", "upper"]
    value: float
    round: int = 0


class SearchRecord(Record):
    """How a cell's configuration was chosen, on validation only, for its (model, init, task, protocol).

    `method` is "successive_halving" (fine-tunes: `budgets[r]` optimizer steps at rung r, the best
    1/`halving_rate` of the configurations by mean validation score over `seeds` continue) or "batched_heads"
    (linear probes: every configuration trained at once on cached features, one rung). `chosen` indexes
    `candidates`, which are in grid order. Configurations that tie on the mean score (typically runs still at
    chance after an early rung) are ordered by mean validation loss; remaining ties go to the earlier one.

    `selection` is how a rung of successive halving dropped configurations: "rank" (the best 1/`halving_rate` go
    on) or "noise" (only those worse than the best by more than the paired validation noise drop; several may reach
    the last rung, and the best of them there is chosen); None in files written before it was recorded. Where the
    choice lay at an edge of its grid, the grid was extended (`extensions`, up to `max_extensions` per dimension; the
    candidates they added follow the grid's); `chosen_at_edge` names the searched dimensions whose chosen value
    still lies at an edge of the extended grid (None in files written before it was recorded).
    """

    method: Literal["successive_halving", "batched_heads"]
    seeds: list[int]
    budgets: list[int]
    halving_rate: int
    candidates: list[Candidate]
    chosen: int
    wall_s: float
    selection: Literal["rank", "noise"] | None = None
    extensions: list[GridExtension] = Field(default_factory=list)
    max_extensions: int | None = None
    chosen_at_edge: list[str] | None = None

    @property
    def chosen_config(self) -> dict[str, float]:
        return self.candidates[self.chosen].config


class Convergence(Record):
    """Whether the validation curve had flattened: the best score of the last quarter of the budget improved on
    the best score before it by at most `tolerance` (the larger of 0.01 and one validation example)."""

    flattened: bool
    late_gain: float
    tolerance: float


class BudgetExtension(Record):
    """One retraining of a cell's chosen fine-tune run, from its start at twice the previous budget, because that
    run's validation curve had not flattened (`TrainingSpec.budget_doublings`); `convergence` is None where it
    diverged, and the previous run is then the one tested."""

    epochs: float | None
    optimizer_steps: int
    validation_score: float | None
    convergence: Convergence | None = None


class SampleLog(Record):
    """What `--log-samples` adds to a cell's test predictions: each example's row in the task's test split (before
    the sample cap), the class names, and the predicted class probabilities (one list per example, in class
    order). It travels with the record only until the suite writes it to the cell's own sample file
    (`benchmark.results.samples`); result files never hold it."""

    example_ids: list[int]
    label_names: list[str]
    probabilities: list[list[float]]


class Predictions(Record):
    """Per-example predictions on the test split, in the test subset's fixed order (the same for every seed and
    model of a task), for paired comparisons and bootstraps over test examples."""

    predicted: list[int]
    references: list[int]
    samples: SampleLog | None = None  # with --log-samples, until written to the sample file


class Fingerprint(Record):
    """Everything that determines a cell's numbers, so that a result is reused only for the same question.

    `settings` maps dotted names (`training.max_steps`, `caps.train`, `task.dataset.revision`, `grid.learning_rate`,
    `seed`) to the values the cell ran with (`benchmark.engine.fingerprints` lists what goes in); `code_version` is
    `benchmark.results.fingerprint.CODE_VERSION` when it ran, bumped whenever a code change changes the numbers;
    `digest` hashes both. Files written before fingerprints were recorded have none (`CellResult.fingerprint` None).
    """

    code_version: int
    digest: str
    settings: dict[str, Any]


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
    metrics: dict[str, float] = Field(default_factory=dict)  # on the test split, read once
    validation_metrics: dict[str, float] = Field(default_factory=dict)  # the chosen configuration's, at the end
    chance: dict[str, float] = Field(default_factory=dict)  # the majority class of train, scored on test
    # ... and scored on validation: the threshold of every validation-based flag (empty in older files)
    validation_chance: dict[str, float] = Field(default_factory=dict)
    curve: list[CurvePoint] = Field(default_factory=list)
    convergence: Convergence | None = None  # of the tested run's curve (the last budget extension's, if any)
    budget_extensions: list[BudgetExtension] = Field(default_factory=list)  # retrainings at longer budgets, in order
    search: SearchRecord | None = None
    predictions: Predictions | None = None
    timing: Timing | None = None
    complexity: Complexity | None = None
    estimators: dict[str, float | None] = Field(default_factory=dict)  # None: undefined for these features
    setup: Setup | None = None
    versions: dict[str, str] = Field(default_factory=dict)
    revisions: dict[str, str | None] = Field(default_factory=dict)
    specs: dict = Field(default_factory=dict)
    provenance: Provenance | None = None  # absent in files written before it was recorded
    fingerprint: Fingerprint | None = None  # absent in files written before it was recorded
    created_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def main_score(self) -> float | None:
        return self.metrics.get(self.main_metric)

    @property
    def declared_steps(self) -> int | None:
        """The declared budget in optimizer steps: a fine-tune's search's full budget, before any retraining of an
        unflattened run at a longer one (`budget_extensions`); otherwise the steps trained."""
        if self.search is not None and self.search.method == "successive_halving" and self.search.budgets:
            return self.search.budgets[-1]
        return self.setup.optimizer_steps if self.setup is not None else None


class SimilarityResult(BaseModel):
    """Task-to-task distances of one suite and modality, measured in one fixed encoder's feature space.

    `distances[method]` is a symmetric matrix over `tasks` (zero diagonal; smaller = more similar), for the
    methods of `benchmark.estimators.task_distance` ("class_gaussian_ot": optimal transport between class
    Gaussians weighted by class frequency; "random_probe_fisher": normalised cosine distance of a fixed random
    probe layer's Fisher, Task2Vec-like). `split_half[method][i]` is task i's distance between two random
    class-stratified halves of itself (None where undefined): the noise floor printed beside each matrix.
    `source_to_target[model][task]` holds, per method, the distance from a model's source task (the task of its
    `pretrain` stage, or its declared pretraining sample; named in `source_tasks`) to each task.
    """

    model_config = ConfigDict(extra="forbid", protected_namespaces=())
    schema_version: int = SCHEMA_VERSION
    suite: str
    modality: Modality
    encoder: str
    tasks: list[str]
    distances: dict[str, list[list[float | None]]]
    split_half: dict[str, list[float | None]] = Field(default_factory=dict)
    source_to_target: dict[str, dict[str, dict[str, float]]] = Field(default_factory=dict)
    source_tasks: dict[str, str] = Field(default_factory=dict, description="Model id -> its source task's id.")
    role: Literal["primary", "check"] = Field(
        "primary",
        description="primary: the suite's fixed encoder, which every analysis uses; check: another fixed encoder "
        "(`--similarity-encoder`), measured to show how much the choice of encoder moves distances and verdicts.",
    )
