"""Models named on the command line (`--model`), turned into the same `ModelSpec` a suite file would hold.

    --model timm:resnet18.a1_in1k        a timm model name (architecture.tag), or timm:hf-hub:org/name
    --model hf:bert-base-uncased         a transformers hub id (text, or audio when its type has an audio
                                         feature extractor; read from the checkpoint's config)
    --model ./path/to/checkpoint         a local folder: timm (config.json names an `architecture`) or
                                         transformers (config.json names a `model_type`)
    --model my-id=timm:resnet18          any of the above under an id of one's own

The id names the model's result folder, so it is derived from the name deterministically and safely (the timm
name, the hub id with `/` as `--`, the folder's name), and can be given explicitly with `ID=` where two would
clash. The library and modality are inferred: timm is vision; a transformers model is audio when its
`model_type` has an audio feature extractor (a `SequenceFeatureExtractor`, as Wav2Vec2, HuBERT and Whisper
do), else text.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from benchmark.specs.registry import SpecError
from benchmark.specs.schema import ID_PATTERN, Modality, ModelSpec
from benchmark.utils.naming import safe_component, suggest

FLAG = "--model"
TIMM_PREFIX = "timm:"
HF_PREFIX = "hf:"
CONFIG_FILE = "config.json"
_EXPLICIT_ID = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_.-]*)=(.+)$")


def parse_models(values: list[str] | None) -> list[ModelSpec]:
    """The `ModelSpec` of every `--model` value, in order; `SpecError` lists every value that cannot be used."""
    parsed: list[tuple[str, ModelSpec]] = []
    problems: list[str] = []
    for value in values or []:
        try:
            parsed.append((value, parse_model(value)))
        except SpecError as error:
            problems.extend(error.problems)
    first: dict[str, str] = {}
    for value, spec in parsed:
        other = first.setdefault(spec.id, value)
        if other != value:
            problems.append(
                f"{FLAG} {value!r}: its id {spec.id!r} is also that of {FLAG} {other!r}; "
                f"name one of them: {FLAG} another-id={value}"
            )
    if problems:
        raise SpecError(problems)
    unique: dict[str, ModelSpec] = {}
    for _, spec in parsed:
        unique.setdefault(spec.id, spec)  # a value given twice counts once
    return list(unique.values())


def parse_model(value: str) -> ModelSpec:
    """One `--model` value as a `ModelSpec` (see the module docstring for the forms)."""
    explicit = _EXPLICIT_ID.match(value)
    model_id, name = (explicit.group(1), explicit.group(2)) if explicit else (None, value)
    if name.startswith(TIMM_PREFIX):
        return _timm_hub_model(value, model_id, name.removeprefix(TIMM_PREFIX))
    if name.startswith(HF_PREFIX):
        return _transformers_hub_model(value, model_id, name.removeprefix(HF_PREFIX))
    path = Path(name).expanduser()
    if path.is_dir():
        return local_model(path, model_id)
    raise SpecError(
        [
            f"{FLAG} {value!r}: expected timm:<name>, hf:<hub id> or a checkpoint folder"
            + (" (no such folder)" if "/" in name or name.startswith(".") else "")
        ]
    )


def derive_id(name: str) -> str:
    """A model id (a result-folder name) from a model name: `/` becomes `--`, anything else unsafe `_`."""
    derived = safe_component(name.replace("/", "--")).lstrip("-")
    return derived if re.match(ID_PATTERN, derived) else "model"


def local_model(folder: Path, model_id: str | None = None) -> ModelSpec:
    """A checkpoint folder's `ModelSpec`: the library and modality read from its config.json."""
    folder = folder.resolve()
    where = f"{FLAG} {str(folder)!r}"
    try:
        config = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise SpecError(
            [f"{where}: cannot read its {CONFIG_FILE} ({error}); is it a timm or transformers checkpoint?"]
        ) from None
    if not isinstance(config, dict):
        raise SpecError([f"{where}: {CONFIG_FILE} is not a JSON object"])
    model_id = model_id or derive_id(folder.name)
    if "model_type" in config:
        modality = transformers_modality(str(config["model_type"]))
        return ModelSpec(id=model_id, library="transformers", checkpoint=str(folder), modality=modality)
    if "architecture" in config:
        return ModelSpec(id=model_id, library="timm", checkpoint=str(folder), modality="vision")
    raise SpecError(
        [
            f"{where}: {CONFIG_FILE} names neither a timm `architecture` nor a transformers `model_type`; "
            "expected a folder saved by timm (save_for_hf / push_to_hf_hub) or by transformers (save_pretrained)"
        ]
    )


def transformers_modality(model_type: str) -> Modality:
    """audio when the model type's feature extractor is an audio one (a `SequenceFeatureExtractor`), else text."""
    import transformers
    from transformers.models.auto.feature_extraction_auto import FEATURE_EXTRACTOR_MAPPING_NAMES

    extractor = getattr(transformers, FEATURE_EXTRACTOR_MAPPING_NAMES.get(model_type) or "", None)
    is_audio = isinstance(extractor, type) and issubclass(extractor, transformers.SequenceFeatureExtractor)
    return "audio" if is_audio else "text"


def _timm_hub_model(value: str, model_id: str | None, name: str) -> ModelSpec:
    import timm

    hub_id = name.removeprefix("hf-hub:").removeprefix("hf_hub:")
    if hub_id == name and not timm.is_model(name):
        raise SpecError([f"{FLAG} {value!r}: timm has no model {name!r}{suggest(name, timm.list_models())}"])
    return ModelSpec(id=model_id or derive_id(hub_id), library="timm", checkpoint=name, modality="vision")


def _transformers_hub_model(value: str, model_id: str | None, hub_id: str) -> ModelSpec:
    """A transformers hub checkpoint; its config (from the hub or the local hub cache) says its modality."""
    import transformers

    try:
        config = transformers.AutoConfig.from_pretrained(hub_id)
    except (OSError, ValueError) as error:
        raise SpecError([f"{FLAG} {value!r}: cannot read the checkpoint's config: {error}"]) from None
    modality = transformers_modality(config.model_type)
    return ModelSpec(id=model_id or derive_id(hub_id), library="transformers", checkpoint=hub_id, modality=modality)
