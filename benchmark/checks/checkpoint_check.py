"""The deep check of a checkpoint: timm names and folders, transformers configs, processors, weights and the
Auto mapping of the modality; remote code is never run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmark.checks.facts import (
    LOCAL_PREFIXES,
    TIMM_WEIGHT_PATTERNS,
    WEIGHT_FILES,
    CheckpointFacts,
    FieldProblem,
    FieldProblems,
    _one_line,
)
from benchmark.utils.naming import suggest


def _looks_local(checkpoint: str) -> bool:
    return checkpoint.startswith(LOCAL_PREFIXES) or Path(checkpoint).is_dir()


def inspect_timm_checkpoint(checkpoint: str) -> CheckpointFacts:
    """A timm registry name with pretrained weights, or a local timm folder (config.json + weights)."""
    import timm

    if _looks_local(checkpoint):
        return _timm_folder(Path(checkpoint).expanduser())
    if checkpoint.startswith(("hf-hub:", "hf_hub:")):
        return _timm_hub_repo(checkpoint.split(":", 1)[1])
    if "/" in checkpoint:
        raise FieldProblem("checkpoint", f"{checkpoint!r} is neither a timm model name nor an existing folder")
    architecture = checkpoint.split(".", 1)[0]
    if not timm.is_model(architecture):
        raise FieldProblem(
            "checkpoint", f"timm has no model {architecture!r}" + suggest(architecture, timm.list_models())
        )
    try:
        config = timm.models.get_pretrained_cfg(checkpoint)
    except RuntimeError:
        config = None
    if config is None:
        tags = timm.list_pretrained(f"{architecture}.*")
        raise FieldProblem(
            "checkpoint",
            f"timm {timm.__version__} has no pretrained config {checkpoint!r}; {architecture} has {tags[:8]}"
            + suggest(checkpoint, tags),
        )
    if not (config.hf_hub_id or config.url or config.file):
        raise FieldProblem("checkpoint", f"timm's pretrained config {checkpoint!r} names no weights to load")
    size = "x".join(str(s) for s in config.input_size[1:])
    return CheckpointFacts(f"timm {checkpoint} ({config.hf_hub_id or config.url}), {size} px")


def _timm_folder(folder: Path) -> CheckpointFacts:
    import timm

    if not folder.is_dir():
        raise FieldProblem("checkpoint", f"folder {str(folder)!r} does not exist")
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise FieldProblem("checkpoint", f"{str(folder)!r} has no config.json (a timm folder needs one)")
    try:
        architecture = json.loads(config_file.read_text())["architecture"]
    except (ValueError, KeyError, TypeError):
        raise FieldProblem("checkpoint", f"{str(config_file)!r} does not name a timm 'architecture'") from None
    if not timm.is_model(architecture):
        raise FieldProblem("checkpoint", f"{str(config_file)!r}: timm has no model {architecture!r}")
    if not any(any(folder.glob(pattern)) for pattern in TIMM_WEIGHT_PATTERNS):
        raise FieldProblem("checkpoint", f"{str(folder)!r} has no weights file (.safetensors, .pth or .bin)")
    return CheckpointFacts(f"timm {architecture} from folder {folder}")


def _timm_hub_repo(repo: str) -> CheckpointFacts:
    import timm
    from huggingface_hub import hf_hub_download

    try:
        architecture = json.loads(Path(hf_hub_download(repo, "config.json")).read_text())["architecture"]
    except Exception as error:
        raise FieldProblem("checkpoint", f"cannot read config.json of hub repo {repo!r}: {_one_line(error)}") from None
    if not timm.is_model(architecture):
        raise FieldProblem("checkpoint", f"hub repo {repo!r}: timm has no model {architecture!r}")
    return CheckpointFacts(f"timm {architecture} from hub repo {repo}")


def inspect_transformers_checkpoint(checkpoint: str, revision: str | None, modality: str) -> CheckpointFacts:
    """Config, preprocessor and weights resolve, and the model type has a classification class for the modality.

    Every failure is collected (a missing tokenizer does not hide a wrong model type).
    """
    import transformers
    from transformers.models.auto import modeling_auto

    if checkpoint.startswith(LOCAL_PREFIXES) and not Path(checkpoint).expanduser().is_dir():
        raise FieldProblem("checkpoint", f"folder {checkpoint!r} does not exist")
    if modality == "vision":
        raise FieldProblem("library", "vision models are built with library 'timm'")
    if Path(checkpoint).is_dir() and not (Path(checkpoint) / "config.json").is_file():
        raise FieldProblem("checkpoint", f"folder {checkpoint!r} has no config.json")
    options = {"revision": revision, "trust_remote_code": False}
    try:
        config = transformers.AutoConfig.from_pretrained(checkpoint, **options)
    except Exception as error:
        raise FieldProblem("checkpoint", f"no transformers config: {_one_line(error)}") from None
    problems = []
    text = modality == "text"
    mapping, auto_name = (
        (modeling_auto.MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES, "AutoModelForSequenceClassification")
        if text
        else (modeling_auto.MODEL_FOR_AUDIO_CLASSIFICATION_MAPPING_NAMES, "AutoModelForAudioClassification")
    )
    if config.model_type not in mapping:
        problems.append(f"model type {config.model_type!r} has no {auto_name} class (modality {modality!r})")
    auto_processor = transformers.AutoTokenizer if text else transformers.AutoFeatureExtractor
    processor = None
    try:
        processor = auto_processor.from_pretrained(checkpoint, **options)
    except Exception as error:
        problems.append(f"{auto_processor.__name__} does not load: {_one_line(error)}")
    if text and processor is not None:
        problems += _tokenizer_problems(processor)
    weights = [name for name in WEIGHT_FILES if _has_file(checkpoint, name, revision)]
    if not weights:
        problems.append(f"no weights file ({', '.join(WEIGHT_FILES)})")
    if problems:
        raise FieldProblems([FieldProblem("checkpoint", message) for message in problems])
    commit = getattr(config, "_commit_hash", None)
    where = checkpoint + (f"@{commit[:12]}" if commit else f"@{revision}" if revision else "")
    description = f"transformers {config.model_type} {where}, {type(processor).__name__}"
    if config.model_type == "whisper" and not text:
        return CheckpointFacts(
            description,
            whisper_positions=config.max_source_positions,
            sampling_rate=processor.sampling_rate,
            hop_length=processor.hop_length,
        )
    return CheckpointFacts(description)


def _tokenizer_problems(tokenizer: Any) -> list[str]:
    """A tokenizer can load without its files (transformers then builds an empty one), and must be able to pad."""
    problems = []
    if len(tokenizer) <= len(set(tokenizer.all_special_tokens)):
        problems.append(f"{type(tokenizer).__name__} has no vocabulary beyond its special tokens (no tokenizer files?)")
    if tokenizer.pad_token is None and tokenizer.eos_token is None:
        problems.append("the tokenizer has neither a pad token nor an eos token to pad with")
    return problems


def _has_file(checkpoint: str, filename: str, revision: str | None) -> bool:
    from transformers.utils import has_file

    try:
        return has_file(checkpoint, filename, revision=revision)
    except Exception:
        return False
