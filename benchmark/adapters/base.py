"""What a modality adapter and a library adapter provide: the hooks the rest of the suite calls by name.

A modality (vision, text, audio) owns how a task's rows become a batch (its collator, reading its own
preprocessing field), which dataset column type its inputs need (the deep check), how a model reads its data
(audio decoded at the model's sampling rate) and, where transformers builds its classifiers, the Auto classes and
what they need around them (`TransformersHead`). A library (timm, transformers) owns building a network and its
preprocessing object, saving one, finding its hub repository, checking a checkpoint without loading it, reading a
`--model` value, and its default hyper-parameter grids. The base classes refuse by default (an error naming the
adapter, or a problem the deep check reports), so an adapter that lacks a hook says so instead of acting like
another one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmark.checks.facts import CheckpointFacts, FieldProblem
from benchmark.data.loading import TaskData
from benchmark.models.wrappers import TransferModel
from benchmark.specs.adhoc import FLAG
from benchmark.specs.registry import SpecError
from benchmark.specs.schema import GridSpec, Init, ModelSpec, TaskSpec

Collate = Callable[[list[dict[str, Any]]], dict[str, Any]]


class TransformersHead:
    """How transformers builds a classifier of one modality: the Auto model and processor classes, the mapping of
    model types that have such a class, and what the modality adds around them (hooks with no effect here)."""

    def __init__(self, auto_model: str, auto_processor: str, mapping: str):
        self.auto_model = auto_model  # attribute of `transformers`, e.g. AutoModelForSequenceClassification
        self.auto_processor = auto_processor  # e.g. AutoTokenizer
        self.mapping = mapping  # attribute of transformers.models.auto.modeling_auto: model types with a class

    def fit(self, network: Any, processor: Any, config: Any, clip_seconds: float | None) -> None:
        """Adjust a freshly built network and processor for the suite, in place."""

    def processor_problems(self, processor: Any) -> list[str]:
        """What makes a loaded processor unusable (the deep check), one message each."""
        return []

    def facts(self, description: str, config: Any, processor: Any) -> CheckpointFacts:
        """What the deep check records of a checkpoint besides its description."""
        return CheckpointFacts(description)


class ModalityAdapter:
    """One input modality; see the module docstring."""

    name: str
    input_needs: str  # the deep check's message when an input column has the wrong type
    transformers: TransformersHead | None = None  # None: transformers builds no classifier of this modality here

    def collator(self, task: TaskSpec, processor: Any, pad_to_max: bool = False) -> Collate:
        """Rows of the task's dataset -> a model-ready batch, given the model's preprocessing object; `pad_to_max`
        pads variable-length inputs to the task's maximum (for counting FLOPs at the largest input)."""
        raise NotImplementedError(f"modality {self.name!r} has no collator")

    def input_type_ok(self, feature: Any) -> bool:
        """Whether a `datasets` feature can be this modality's input column."""
        raise NotImplementedError(f"modality {self.name!r} has no input check")

    def clip_seconds(self, task: TaskSpec) -> float | None:
        """The input length, in seconds, that models with a fixed input length are fitted to; None: no such length."""
        return None

    def for_model(self, data: TaskData, task: TaskSpec, processor: Any) -> TaskData:
        """The task's data as a model with this preprocessing object reads it (unchanged unless said otherwise)."""
        return data


class LibraryAdapter:
    """One model library; see the module docstring."""

    name: str
    cli_form: str  # how `--model` names one of its hub models, e.g. "timm:<name>"
    folder_marker: str  # what its checkpoint folders' config.json names, e.g. "a timm `architecture`"
    reads_revision: bool = False  # whether a hub revision applies to its checkpoints
    default_grids: dict[Init, GridSpec]  # fine-tune grids when neither task nor suite names one

    def build(
        self,
        spec: ModelSpec,
        checkpoint: str,
        init: Init,
        num_labels: int,
        trust_remote_code: bool,
        clip_seconds: float | None,
    ) -> tuple[TransferModel, Any]:
        """(wrapped network with a fresh `num_labels` head, preprocessing object) of a checkpoint; `init='scratch'`
        gives the same architecture from random weights."""
        raise NotImplementedError(f"library {self.name!r} cannot build models")

    def save(self, network: Any, processor: Any, target: Path) -> None:
        """Save a trained network (and its preprocessing object) as the library's standard checkpoint folder."""
        raise NotImplementedError(f"library {self.name!r} cannot save checkpoints")

    def hub_repo(self, checkpoint: str) -> str | None:
        """The Hub model repository a (non-local) checkpoint name is loaded from, or None if it has none."""
        return None

    def repo_by_convention(self, name: str) -> str | None:
        """The Hub repository a bare (not `org/name`) checkpoint name denotes by the library's naming convention
        alone, without a lookup (what a published result links to); None where the name denotes none."""
        return None

    def inspect_checkpoint(self, checkpoint: str, revision: str | None, modality: str) -> CheckpointFacts:
        """Resolve a checkpoint without loading its weights; `FieldProblem(s)` for every mismatch with the spec."""
        raise FieldProblem("library", f"library {self.name!r} has no checkpoint check")

    def hub_model(self, value: str, model_id: str | None, name: str, options: dict) -> ModelSpec:
        """The spec of `--model <cli prefix><name>`; `SpecError` when it names nothing."""
        raise SpecError([f"{FLAG} {value!r}: library {self.name!r} takes no models from the command line"])

    def folder_model(self, folder: Path, config: dict, model_id: str) -> ModelSpec | None:
        """The spec of a checkpoint folder whose config.json is `config`, or None when it is not this library's."""
        return None

    @property
    def cli_prefix(self) -> str:
        """`timm:` of `timm:<name>`."""
        return self.cli_form.split("<", 1)[0]
