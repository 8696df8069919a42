"""transformers: classifiers through the Auto classes of the task's modality (its `TransformersHead`: sequence
classification with a tokenizer for text, audio classification with a feature extractor for audio), from a hub id
or a `save_pretrained` folder.

`scratch` builds the same architecture from the checkpoint's config with random weights. A Whisper config's audio
class is `WhisperForAudioClassification` (the encoder, a projector and a classifier; a hub checkpoint's decoder
weights are left unused). Trained networks are saved with `save_pretrained`, beside their processor. The deep check
resolves the config, the processor and a weights file, and that the model type has a class for the modality;
remote code is never run there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmark.adapters.audio import AUDIO
from benchmark.adapters.base import LibraryAdapter, TransformersHead
from benchmark.adapters.text import TEXT
from benchmark.checks.facts import LOCAL_PREFIXES, WEIGHT_FILES, CheckpointFacts, FieldProblem, FieldProblems, one_line
from benchmark.models.factory import ModelError
from benchmark.models.wrappers import HFTransferModel, TransferModel
from benchmark.specs.adapter_registry import LIBRARIES, MODALITIES, modality_adapter
from benchmark.specs.adhoc import FLAG, derive_id
from benchmark.specs.registry import SpecError
from benchmark.specs.schema import GridSpec, Init, ModelSpec


class TransformersLibrary(LibraryAdapter):
    """transformers models of every modality that has a `TransformersHead`."""

    name = "transformers"
    cli_form = "hf:<hub id>"
    folder_marker = "a transformers `model_type`"
    reads_revision = True
    # AdamW rates around the transformers literature's 1e-5..1e-4, higher from scratch, decay at two strengths.
    default_grids = {
        "pretrained": GridSpec(learning_rate=[1e-5, 3e-5, 1e-4, 3e-4], weight_decay=[0.01, 0.1]),
        "scratch": GridSpec(learning_rate=[1e-4, 3e-4, 1e-3, 3e-3], weight_decay=[0.01, 0.1]),
    }

    def build(
        self,
        spec: ModelSpec,
        checkpoint: str,
        init: Init,
        num_labels: int,
        trust_remote_code: bool,
        clip_seconds: float | None,
    ) -> tuple[TransferModel, Any]:
        import transformers

        head = modality_adapter(spec.modality).transformers
        if head is None:
            raise ModelError(f"model {spec.id!r}: {_unsupported(spec.modality)}")
        auto_model = getattr(transformers, head.auto_model)
        options = {"revision": spec.revision, "trust_remote_code": trust_remote_code}
        processor = getattr(transformers, head.auto_processor).from_pretrained(checkpoint, **options)
        config = transformers.AutoConfig.from_pretrained(checkpoint, num_labels=num_labels, **options)
        if init == "scratch":
            network = auto_model.from_config(config, trust_remote_code=trust_remote_code)
        else:
            network = auto_model.from_pretrained(
                checkpoint, num_labels=num_labels, ignore_mismatched_sizes=True, **options
            )
        head.fit(network, processor, config, clip_seconds)
        return HFTransferModel(network), processor

    def save(self, network: Any, processor: Any, target: Path) -> None:
        network.save_pretrained(target)
        processor.save_pretrained(target)

    def hub_repo(self, checkpoint: str) -> str | None:
        return checkpoint  # a transformers checkpoint is its own repository

    def inspect_checkpoint(self, checkpoint: str, revision: str | None, modality: str) -> CheckpointFacts:
        """Config, processor and weights resolve, and the model type has a classification class for the modality.

        Every failure is collected (a missing tokenizer does not hide a wrong model type).
        """
        import transformers

        if checkpoint.startswith(LOCAL_PREFIXES) and not Path(checkpoint).expanduser().is_dir():
            raise FieldProblem("checkpoint", f"folder {checkpoint!r} does not exist")
        head = modality_adapter(modality).transformers
        if head is None:
            raise FieldProblem("library", _unsupported(modality))
        if Path(checkpoint).is_dir() and not (Path(checkpoint) / "config.json").is_file():
            raise FieldProblem("checkpoint", f"folder {checkpoint!r} has no config.json")
        options = {"revision": revision, "trust_remote_code": False}
        try:
            config = transformers.AutoConfig.from_pretrained(checkpoint, **options)
        except Exception as error:
            raise FieldProblem("checkpoint", f"no transformers config: {one_line(error)}") from None
        problems = _class_problems(head, config.model_type, modality)
        processor, processor_problems = _processor(head, checkpoint, options)
        problems += processor_problems
        if not any(_has_file(checkpoint, name, revision) for name in WEIGHT_FILES):
            problems.append(f"no weights file ({', '.join(WEIGHT_FILES)})")
        if problems:
            raise FieldProblems([FieldProblem("checkpoint", message) for message in problems])
        commit = getattr(config, "_commit_hash", None)
        where = checkpoint + (f"@{commit[:12]}" if commit else f"@{revision}" if revision else "")
        return head.facts(f"transformers {config.model_type} {where}, {type(processor).__name__}", config, processor)

    def hub_model(self, value: str, model_id: str | None, name: str, options: dict) -> ModelSpec:
        """A hub checkpoint; its config (from the hub or the local hub cache, at the revision asked for) says its
        modality."""
        import transformers

        try:
            config = transformers.AutoConfig.from_pretrained(
                name, revision=options.get("revision"), trust_remote_code=bool(options.get("trust_remote_code"))
            )
        except (OSError, ValueError) as error:
            raise SpecError([f"{FLAG} {value!r}: cannot read the checkpoint's config: {error}"]) from None
        modality = infer_modality(config.model_type)
        return ModelSpec(id=model_id or derive_id(name), library=self.name, checkpoint=name, modality=modality)

    def folder_model(self, folder: Path, config: dict, model_id: str) -> ModelSpec | None:
        if "model_type" not in config:
            return None
        modality = infer_modality(str(config["model_type"]))
        return ModelSpec(id=model_id, library=self.name, checkpoint=str(folder), modality=modality)


def infer_modality(model_type: str) -> str:
    """audio when the model type's feature extractor is an audio one (a `SequenceFeatureExtractor`, as Wav2Vec2,
    HuBERT and Whisper have), else text."""
    import transformers
    from transformers.models.auto.feature_extraction_auto import FEATURE_EXTRACTOR_MAPPING_NAMES

    extractor = getattr(transformers, FEATURE_EXTRACTOR_MAPPING_NAMES.get(model_type) or "", None)
    is_audio = isinstance(extractor, type) and issubclass(extractor, transformers.SequenceFeatureExtractor)
    return AUDIO.name if is_audio else TEXT.name


def _unsupported(modality: str) -> str:
    supported = [name for name in MODALITIES.names() if modality_adapter(name).transformers is not None]
    return f"{modality} models are not built with library 'transformers' (it builds {', '.join(supported)} models)"


def _class_problems(head: TransformersHead, model_type: str, modality: str) -> list[str]:
    from transformers.models.auto import modeling_auto

    if model_type in getattr(modeling_auto, head.mapping):
        return []
    return [f"model type {model_type!r} has no {head.auto_model} class (modality {modality!r})"]


def _processor(head: TransformersHead, checkpoint: str, options: dict) -> tuple[Any, list[str]]:
    """The checkpoint's processor (None when it does not load) and what makes it unusable."""
    import transformers

    auto_processor = getattr(transformers, head.auto_processor)
    try:
        processor = auto_processor.from_pretrained(checkpoint, **options)
    except Exception as error:
        return None, [f"{auto_processor.__name__} does not load: {one_line(error)}"]
    return processor, head.processor_problems(processor)


def _has_file(checkpoint: str, filename: str, revision: str | None) -> bool:
    from transformers.utils import has_file

    try:
        return has_file(checkpoint, filename, revision=revision)
    except Exception:
        return False


TRANSFORMERS = LIBRARIES.register(TransformersLibrary())
