"""Typed schemas for task and suite YAML files.

Every spec is a pydantic model that forbids unknown keys, so a misspelt field is an error rather than a
silently ignored setting. The registry (`benchmark.specs.registry`) turns validation errors into one readable
message per problem, naming the file and the field.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from benchmark.specs.adapter_registry import LIBRARIES, MODALITIES
from benchmark.utils.naming import architecture_name

Modality = Annotated[str, AfterValidator(MODALITIES.check)]
"""A registered modality adapter's name (`benchmark.specs.adapter_registry`)."""
Protocol = Literal["finetune", "linear_probe"]
Library = Annotated[str, AfterValidator(LIBRARIES.check)]
"""A registered library adapter's name."""
Init = Literal["pretrained", "scratch"]
Precision = Literal["no", "fp16", "bf16"]

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
BUILTIN_METRICS = ("accuracy", "f1_macro", "matthews_correlation")
EXTERNAL_METRIC_PREFIX = "evaluate:"


class StrictModel(BaseModel):
    """Base for every spec: unknown keys are errors, and specs are immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class DatasetSpec(StrictModel):
    """Arguments for `datasets.load_dataset`, plus which splits and columns the task uses.

    `path`, `name`, `data_dir`, `data_files` and `revision` are passed to `load_dataset` unchanged (after the
    `{assets}` placeholder is expanded), so any hub dataset stored as data files, or a local
    imagefolder/audiofolder/csv/json/parquet, works without code.
    """

    path: str
    name: str | None = None
    data_dir: str | None = None
    data_files: str | list[str] | dict[str, str | list[str]] | None = None
    revision: str | None = None
    train_split: str = "train"
    validation_split: str | None = Field(
        default=None,
        description="Split (or slice) used for every choice; without one, a stratified slice of train is held out.",
    )
    eval_split: str | None = Field(
        default="test",
        description="The held-out test split: read once per final run. None (the default with test_groups) when "
        "test_groups carve it out of train_split.",
    )
    input_column: str
    second_input_column: str | None = Field(default=None, description="Second text of a sentence pair.")
    label_column: str = "label"
    label_names: list[str] | None = Field(
        default=None, description="Class names, for label columns that are not a ClassLabel feature."
    )
    group_column: str | None = Field(
        default=None,
        description="Column naming each row's group (the speaker, the patient): rows sharing a value never straddle "
        "train, validation and test. Validation held out of train is then whole groups, the same for every seed.",
    )
    test_groups: list[str | int] | None = Field(
        default=None,
        min_length=1,
        description="For a dataset that ships one split: the group_column values whose rows of train_split are the "
        "test split (compared as text: 21 matches 21 or '21'). Replaces eval_split.",
    )

    @model_validator(mode="before")
    @classmethod
    def _test_groups_replace_eval_split(cls, data):
        """With test_groups the test split is carved out of train_split, so eval_split no longer defaults to 'test'."""
        if isinstance(data, dict) and data.get("test_groups") is not None and "eval_split" not in data:
            return {**data, "eval_split": None}
        return data

    @field_validator("test_groups")
    @classmethod
    def _test_groups_need_group_column_and_no_eval_split(cls, groups, info: ValidationInfo):
        if groups is None:
            return groups
        if not info.data.get("group_column"):
            raise ValueError("test_groups needs group_column, the column whose values they are")
        if info.data.get("eval_split") is not None:
            raise ValueError(
                f"test_groups carve the test split out of train_split; remove eval_split "
                f"({info.data['eval_split']!r}), which would name a second test split"
            )
        return groups

    @model_validator(mode="after")
    def _has_a_test_split(self) -> DatasetSpec:
        if self.eval_split is None and self.test_groups is None:
            raise ValueError(
                "eval_split is null: name the test split, or carve it out of train_split with group_column and "
                "test_groups"
            )
        return self


class PreprocessingSpec(StrictModel):
    """Modality-specific input sizing. Vision takes its size from the model's timm data config unless overridden."""

    max_length: PositiveInt = Field(default=128, description="Text: tokens per example after truncation.")
    clip_seconds: PositiveFloat = Field(default=1.0, description="Audio: clips are cut or padded to this.")
    image_size: PositiveInt | None = Field(
        default=None, description="Vision: train and evaluate at this square size instead of the model's own."
    )


class TrainingSpec(StrictModel):
    """Training settings besides the searched ones (learning rate and weight decay come from `search` grids);
    a suite's override its tasks', and the command line's both (`benchmark.specs.layers`)."""

    epochs: PositiveFloat | None = None
    scratch_epochs: PositiveFloat | None = Field(
        default=None,
        description="The scratch twins' fine-tune budget in epochs (default: `epochs`): a network trained from "
        "random weights may need longer to flatten than a pretrained one; the page says when the budgets differ.",
    )
    max_steps: PositiveInt | None = Field(default=None, description="Fine-tune budget in optimizer steps (not epochs).")
    budget_doublings: NonNegativeInt | None = Field(
        default=None,
        description="How many times a chosen fine-tune run whose validation curve has not flattened is trained again "
        "from its start at twice the budget (default 0: it is only marked). The search chooses at the declared "
        "budget; each retraining is recorded in the cell (`budget_extensions`) and its last run is the one tested.",
    )
    batch_size: PositiveInt | None = None
    probe_epochs: PositiveFloat | None = None
    warmup_ratio: float | None = Field(default=None, ge=0, lt=1)
    gradient_accumulation_steps: PositiveInt | None = None
    evals_per_epoch: PositiveInt | None = None


class GridSpec(StrictModel):
    """A hyper-parameter grid: every learning rate with every weight decay (AdamW's decoupled decay)."""

    learning_rate: list[PositiveFloat] = Field(min_length=1)
    weight_decay: list[NonNegativeFloat] = Field(default_factory=lambda: [0.01], min_length=1)


class SearchSpec(StrictModel):
    """The grids searched on the validation split, per protocol and init; unset grids take the library defaults.

    Fine-tune grids are searched by successive halving: every configuration trains a first share of the budget,
    the best 1/`halving_rate` by mean validation score over seeds continue, and so on until one configuration has
    the whole budget. Under the `noise` selection a rung keeps, beyond those, every configuration within the
    paired validation noise of the best (`noise_z` standard errors), up to `noise_cap` times as many; `rank` is
    the plain rule. Probe grids train every configuration at once on the cached features. When the choice lies at
    the edge of a searched dimension's grid, that grid is extended one geometric step past the edge and searched
    again, at most `max_extensions` times per dimension.
    """

    finetune: GridSpec | None = None
    finetune_scratch: GridSpec | None = Field(default=None, description="The scratch twins' fine-tune grid.")
    linear_probe: GridSpec | None = None
    halving_rate: int = Field(default=3, ge=2)
    selection: Literal["noise", "rank"] = Field(
        default="noise", description="How a rung drops configurations: beyond the validation noise, or by rank alone."
    )
    noise_z: float = Field(default=1.96, gt=0, description="Standard errors of the paired difference that are noise.")
    noise_cap: int = Field(default=2, ge=1, description="A rung keeps at most this many times the best 1/halving_rate.")
    max_extensions: int = Field(
        default=2, ge=0, description="Steps a searched dimension's grid may grow past the edge its choice lies on."
    )


class TaskSpec(StrictModel):
    """One downstream classification task."""

    task: str = Field(pattern=ID_PATTERN)
    modality: Modality
    description: str = ""
    citation: str | None = Field(default=None, description="How to cite the dataset (a BibTeX entry or a reference).")
    licence: str | None = Field(default=None, description="The dataset's licence (an SPDX id where there is one).")
    version: str | None = Field(default=None, description="The task definition's version, bumped when it changes.")
    dataset: DatasetSpec
    max_train_samples: PositiveInt | None = None
    max_validation_samples: PositiveInt | None = None
    max_eval_samples: PositiveInt | None = None
    validation_fraction: float = Field(
        default=0.2, gt=0, lt=1, description="Share of train held out as validation when there is no validation_split."
    )
    metrics: list[str] = Field(default_factory=lambda: ["accuracy"], min_length=1)
    main_metric: str = "accuracy"
    preprocessing: PreprocessingSpec = PreprocessingSpec()
    training: TrainingSpec = TrainingSpec()
    search: SearchSpec | None = Field(
        default=None, description="This task's grids and search rules; a suite's, where it sets them, win."
    )

    @model_validator(mode="after")
    def _main_metric_is_listed(self) -> TaskSpec:
        if self.main_metric not in self.metrics:
            raise ValueError(f"main_metric {self.main_metric!r} must be one of metrics {self.metrics}")
        return self


class PretrainSpec(StrictModel):
    """L_pre: train the model's architecture (or its checkpoint) on a source task of the registry before transfer.

    The suite runs this stage once per model (cached under the output folder, keyed by everything that determines
    it, resumable), saves a standard checkpoint folder, records the source task as the checkpoint's pretraining
    data, and from then on treats the result like any other checkpoint. The run uses one fixed configuration and
    reads only the source task's train and validation splits.
    """

    task: str = Field(description="Source task id (a task of the registry, of the model's modality).")
    init: Init = Field(
        default="scratch",
        description="'scratch': the architecture from random weights; 'pretrained': start from the checkpoint's "
        "weights (intermediate-task transfer: pretrained -> source task -> target).",
    )
    learning_rate: PositiveFloat
    weight_decay: NonNegativeFloat = 0.01
    epochs: PositiveFloat | None = Field(default=None, description="Budget in passes over the source train split.")
    max_steps: PositiveInt | None = Field(default=None, description="Budget in optimizer steps (overrides epochs).")
    batch_size: PositiveInt = 32
    max_train_samples: PositiveInt | None = Field(default=None, description="Cap on the source train split.")
    seeds: list[int] = Field(
        default=[0],
        min_length=1,
        description="Pretraining seeds: one run per seed, so a gain's spread includes the pretraining run. The "
        "fine-tune of seed k starts from the run of seeds[k % len(seeds)] (seed k itself when seeds are 0..n-1).",
    )

    @model_validator(mode="after")
    def _has_budget(self) -> PretrainSpec:
        if self.epochs is None and self.max_steps is None:
            raise ValueError("pretrain needs a budget: epochs or max_steps")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"pretrain seeds must differ, got {self.seeds}")
        return self

    def seed_for(self, finetune_seed: int) -> int:
        """The pretraining seed whose checkpoint the fine-tune (or probe) of `finetune_seed` starts from."""
        return self.seeds[finetune_seed % len(self.seeds)]


class ModelIdentity(StrictModel):
    """What names a checkpoint and how it is loaded: shared by a suite's model and a catalogue record."""

    id: str = Field(pattern=ID_PATTERN)
    library: Library
    checkpoint: str = Field(description="Hub id (timm name or transformers repo) or a local directory.")
    modality: Modality
    revision: str | None = None


class ModelSpec(ModelIdentity):
    """A pretrained checkpoint to evaluate; its `scratch` twin is built from the same config."""

    pretraining_data: str | None = Field(default=None, description="Free-text note of what it was trained on.")
    pretraining_sample: DatasetSpec | None = Field(
        default=None, description="A sample of the pretraining data, for source-to-target similarity."
    )
    source_accuracy: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Published accuracy on the pretraining task (e.g. ImageNet-1k top-1 / 100): a baseline signal.",
    )
    source_accuracy_reference: str | None = Field(
        default=None, description="Where `source_accuracy` comes from (table, resolution)."
    )
    pretrain: PretrainSpec | None = Field(
        default=None, description="Train on a source task of the registry first; the result is this checkpoint."
    )
    architecture: str | None = Field(
        default=None,
        pattern=ID_PATTERN,
        description="Name of the architecture from random weights (the scratch twin, one per architecture and "
        "shared by every checkpoint of it); default: derived from the checkpoint and revision "
        "(`benchmark.utils.naming.architecture_name`). Name it to tell apart two checkpoints whose derived names meet.",
    )
    dtype: Literal["float32", "bfloat16", "float16"] | None = Field(
        default=None, description="Weights in this dtype, pretrained and scratch alike (default: float32)."
    )
    trust_remote_code: bool = Field(
        default=False, description="Run the model code a transformers checkpoint ships; off unless asked."
    )

    @property
    def architecture_id(self) -> str:
        """The scratch twin's id: `architecture`, else derived from the checkpoint, revision and dtype."""
        return self.architecture or architecture_name(self.checkpoint, self.revision, self.dtype)

    def scratch_twin(self) -> ModelSpec:
        """The same architecture from random weights, as a model of its own: built from this checkpoint's config,
        with no pretraining stage and no pretraining data. Every checkpoint of the architecture plans this one
        twin, so which other checkpoints a suite holds never changes it."""
        return ModelSpec(
            id=self.architecture_id,
            library=self.library,
            checkpoint=self.checkpoint,
            modality=self.modality,
            revision=self.revision,
            architecture=self.architecture,
            dtype=self.dtype,
            trust_remote_code=self.trust_remote_code,
        )


class PretrainingData(StrictModel):
    """What a checkpoint was trained on: task ids of the registry, a described corpus, or both."""

    tasks: list[str] = Field(default_factory=list, description="Registry task ids the checkpoint was trained on.")
    corpus: str | None = Field(default=None, description="The data described: its name, size and objective.")

    @model_validator(mode="after")
    def _names_something(self) -> PretrainingData:
        if not self.tasks and not self.corpus:
            raise ValueError("pretraining_data needs registry `tasks`, a described `corpus`, or both")
        return self

    def describe(self) -> str:
        """One line, as a suite model's `pretraining_data` note: the corpus, then the registry tasks."""
        tasks = [f"registry tasks {', '.join(self.tasks)}"] if self.tasks else []
        return "; ".join([*([self.corpus] if self.corpus else []), *tasks])


class SourceAccuracy(StrictModel):
    """Published accuracy on the pretraining task, with where it comes from."""

    value: float = Field(ge=0, le=1, description="e.g. ImageNet-1k top-1 / 100.")
    reference: str = Field(description="The table, release or paper, and the resolution it was measured at.")


class ModelMeta(ModelIdentity):
    """One checkpoint of the model catalogue (`tasks/models/<id>.yaml`), typed like MTEB's `ModelMeta`; a suite
    names it by id, as it names tasks."""

    pretraining_data: PretrainingData | None = None
    pretraining_sample: DatasetSpec | None = Field(
        default=None, description="A sample of the pretraining data, for source-to-target similarity."
    )
    source_accuracy: SourceAccuracy | None = None
    licence: str | None = Field(default=None, description="The weights' licence (an SPDX id where there is one).")

    def spec(self) -> ModelSpec:
        """The model a suite runs: the identity as given, the notes in `ModelSpec`'s plain fields."""
        fields = {name: getattr(self, name) for name in self.model_fields_set & set(ModelIdentity.model_fields)}
        if self.pretraining_data is not None:
            fields["pretraining_data"] = self.pretraining_data.describe()
        if self.pretraining_sample is not None:
            fields["pretraining_sample"] = self.pretraining_sample
        if self.source_accuracy is not None:
            fields["source_accuracy"] = self.source_accuracy.value
            fields["source_accuracy_reference"] = self.source_accuracy.reference
        return ModelSpec.model_validate(fields)


class DerivedModel(StrictModel):
    """A suite's model built on a catalogue checkpoint (`base`): its library, checkpoint, modality and revision,
    with an id and notes of its own and, typically, a `pretrain` stage. The base's notes are not inherited: a
    checkpoint trained further here is another checkpoint."""

    base: str = Field(pattern=ID_PATTERN, description="Id of a catalogue model (tasks/models/<id>.yaml).")
    id: str = Field(pattern=ID_PATTERN)
    pretraining_data: str | None = Field(default=None, description="Free-text note of what it was trained on.")
    pretraining_sample: DatasetSpec | None = None
    pretrain: PretrainSpec | None = None

    def spec(self, base: ModelMeta) -> ModelSpec:
        """The model a suite runs: the base's identity under this id, with this entry's notes and stage."""
        identity = {name: getattr(base, name) for name in base.model_fields_set & set(ModelIdentity.model_fields)}
        own = {name: getattr(self, name) for name in self.model_fields_set - {"base"}}
        return ModelSpec.model_validate({**identity, **own})


def _entry_kind(entry: Any) -> str:
    """Which kind of `models` entry a suite holds: a catalogue id, a model built on one, or a whole model."""
    if isinstance(entry, str):
        return "reference"
    if isinstance(entry, DerivedModel) or (isinstance(entry, dict) and "base" in entry):
        return "derived"
    return "inline"


ModelEntry = Annotated[
    Annotated[str, Tag("reference")] | Annotated[ModelSpec, Tag("inline")] | Annotated[DerivedModel, Tag("derived")],
    Discriminator(_entry_kind),
]
"""A suite's `models` entry: a catalogue id, a `DerivedModel` (a mapping with `base`), or an inline `ModelSpec`."""
MODEL_ENTRY_TAGS: dict[str, type[BaseModel] | None] = {"reference": None, "inline": ModelSpec, "derived": DerivedModel}
"""The union's tags, which pydantic puts in an error's location after the entry's index."""


class ScoreWeights(StrictModel):
    """Weights of the composite reusability score's parts; only their ratios matter (normalised by their sum)."""

    quality: float = Field(default=0.6, ge=0)
    training_efficiency: float = Field(default=0.2, ge=0)
    complexity_efficiency: float = Field(default=0.2, ge=0)

    @model_validator(mode="after")
    def _positive_sum(self) -> ScoreWeights:
        if self.quality + self.training_efficiency + self.complexity_efficiency <= 0:
            raise ValueError("score weights must have a positive sum")
        return self


class SuiteSpec(StrictModel):
    """A benchmark suite: models × tasks × protocols × seeds, with its training defaults."""

    suite: str = Field(pattern=ID_PATTERN)
    description: str = ""
    include: list[str] = Field(default_factory=list, description="Other suites whose models and tasks join.")
    models: list[ModelEntry] = Field(
        default_factory=list, description="Catalogue model ids, models built on one (`base`), or inline models."
    )
    tasks: list[str] = Field(default_factory=list, description="Task ids, or paths to task YAML files.")
    protocols: list[Protocol] = Field(default_factory=lambda: ["finetune", "linear_probe"], min_length=1)
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2], min_length=1)
    include_scratch: bool = True
    max_train_samples: PositiveInt | None = None
    max_validation_samples: PositiveInt | None = None
    max_eval_samples: PositiveInt | None = None
    training: TrainingSpec = TrainingSpec()
    search: SearchSpec = SearchSpec()
    score_weights: ScoreWeights = ScoreWeights()
