"""Models named on the command line (`--model`), turned into the same `ModelSpec` a suite file would hold.

    --model timm:resnet18.a1_in1k        a timm model name (architecture.tag), or timm:hf-hub:org/name
    --model hf:bert-base-uncased         a transformers hub id (text, or audio when its type has an audio
                                         feature extractor; read from the checkpoint's config)
    --model hf:bert-base-uncased@v1.0    ... at a revision (a branch, tag or commit)
    --model ./path/to/checkpoint         a local folder: timm (config.json names an `architecture`) or
                                         transformers (config.json names a `model_type`)
    --model my-id=timm:resnet18          any of the above under an id of one's own

The id names the model's result folder, so it is derived from the name deterministically and safely (the timm
name, the hub id with `/` as `--`, the folder's name), and can be given explicitly with `ID=` where two would
clash. The library and modality are inferred: timm is vision; a transformers model is audio when its
`model_type` has an audio feature extractor (a `SequenceFeatureExtractor`, as Wav2Vec2, HuBERT and Whisper
do), else text. Each library adapter reads its own forms (`cli_form`, `hub_model`, `folder_model`).

`--model-args KEY=VALUE[,KEY=VALUE]` after a `--model` sets that model's options, the fields a suite file's model
entry has: `revision` (transformers checkpoints), `dtype` (float32, bfloat16, float16) and `trust_remote_code`
(true to run the checkpoint's own code; off unless asked).
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from benchmark.specs.adapter_registry import LIBRARIES, library_adapter
from benchmark.specs.registry import SpecError
from benchmark.specs.schema import ID_PATTERN, ModelSpec
from benchmark.utils.naming import safe_component, suggest

if TYPE_CHECKING:  # types only: the library adapters import this module
    from benchmark.adapters.base import LibraryAdapter

FLAG = "--model"
ARGS_FLAG = "--model-args"
MODEL_ARGS = ("revision", "dtype", "trust_remote_code")
TRUE, FALSE = ("true", "1", "yes"), ("false", "0", "no")
CONFIG_FILE = "config.json"
_EXPLICIT_ID = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_.-]*)=(.+)$")


class ModelArgsAction(argparse.Action):
    """`--model-args`: kept with the index of the `--model` it follows (options are read in command-line order)."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        models = getattr(namespace, "model", None) or []
        if not models:
            parser.error(f"{ARGS_FLAG} {values!r}: give it after the {FLAG} it sets options for")
        given = list(getattr(namespace, self.dest, None) or [])
        setattr(namespace, self.dest, [*given, (len(models) - 1, values)])


def parse_models(values: list[str] | None, model_args: list[tuple[int, str]] | None = None) -> list[ModelSpec]:
    """The `ModelSpec` of every `--model` value, in order, with the `--model-args` given after it (pairs of the
    value's index and the text); `SpecError` lists every value that cannot be used."""
    parsed: list[tuple[str, ModelSpec]] = []
    problems: list[str] = []
    options = {index: text for index, text in model_args or []}
    for index, value in enumerate(values or []):
        try:
            parsed.append((value, parse_model(value, options.get(index))))
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


def parse_model(value: str, model_args: str | None = None) -> ModelSpec:
    """One `--model` value as a `ModelSpec` (see the module docstring for the forms), with its `--model-args`."""
    explicit = _EXPLICIT_ID.match(value)
    model_id, name = (explicit.group(1), explicit.group(2)) if explicit else (None, value)
    options = parse_model_args(value, model_args)
    library = next((adapter for adapter in _libraries() if name.startswith(adapter.cli_prefix)), None)
    if library is not None:
        name = name.removeprefix(library.cli_prefix)
        if library.reads_revision and "@" in name:
            name, revision = name.rsplit("@", 1)
            if "revision" in options and options["revision"] != revision:
                raise SpecError(
                    [f"{FLAG} {value!r}: revision {revision!r} and {ARGS_FLAG} revision={options['revision']}"]
                )
            options["revision"] = revision
        spec = library.hub_model(value, model_id, name, options)
    elif Path(name).expanduser().is_dir():
        spec = local_model(Path(name).expanduser(), model_id)
    else:
        raise _not_a_model(value, name)
    return with_options(value, spec, options)


def parse_model_args(value: str, text: str | None) -> dict[str, str | bool]:
    """`KEY=VALUE[,KEY=VALUE]` as options of the model `value`: known keys only, `trust_remote_code` as a bool."""
    options: dict[str, str | bool] = {}
    for item in filter(None, (part.strip() for part in (text or "").split(","))):
        key, sep, raw = (part.strip() for part in item.partition("="))
        where = f"{FLAG} {value!r} {ARGS_FLAG} {item!r}"
        if not sep or not raw:
            raise SpecError([f"{where}: expected KEY=VALUE with KEY one of {', '.join(MODEL_ARGS)}"])
        if key not in MODEL_ARGS:
            raise SpecError(
                [f"{where}: unknown option {key!r}; expected one of {', '.join(MODEL_ARGS)}{suggest(key, MODEL_ARGS)}"]
            )
        options[key] = _flag(where, raw) if key == "trust_remote_code" else raw
    return options


def with_options(value: str, spec: ModelSpec, options: dict[str, str | bool]) -> ModelSpec:
    """`spec` with its `--model-args`, validated as a suite file's model entry is; a revision only where the
    library reads one (transformers)."""
    if options.get("revision") and not library_adapter(spec.library).reads_revision:
        readers = ", ".join(adapter.name for adapter in _libraries() if adapter.reads_revision)
        raise SpecError([f"{FLAG} {value!r}: a revision applies to {readers} hub checkpoints, not {spec.library}"])
    try:
        return ModelSpec.model_validate({**spec.model_dump(exclude_unset=True), **options})
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise SpecError([f"{FLAG} {value!r} {ARGS_FLAG}: field {field!r}: {first['msg']}"]) from None


def _flag(where: str, raw: str) -> bool:
    if raw.lower() in TRUE:
        return True
    if raw.lower() in FALSE:
        return False
    raise SpecError([f"{where}: expected true or false"])


def _not_a_model(value: str, name: str) -> SpecError:
    return SpecError(
        [
            f"{FLAG} {value!r}: expected {', '.join(library.cli_form for library in _libraries())} or a checkpoint "
            "folder" + (" (no such folder)" if "/" in name or name.startswith(".") else "")
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
    libraries = _libraries()
    for library in libraries:
        if (spec := library.folder_model(folder, config, model_id)) is not None:
            return spec
    markers = " nor ".join(library.folder_marker for library in libraries)
    raise SpecError(
        [
            f"{where}: {CONFIG_FILE} names neither {markers}; expected a folder saved by "
            + " or ".join(library.name for library in libraries)
        ]
    )


def _libraries() -> list[LibraryAdapter]:
    """Every registered library adapter, in name order."""
    return [library_adapter(name) for name in LIBRARIES.names()]
