"""`--validate --deep`: check that the datasets and checkpoints the specs name exist and match them.

`--validate` checks the YAML alone; this resolves what it names, for users who have the Hugging Face Hub (or
local folders), without downloading any data:

- datasets, through `datasets.load_dataset_builder` and the builder's split listing with a streaming download
  manager (which lists files instead of downloading them): the config, every split name and slice, the input,
  second input and label columns, the input's type for the modality, and the label's type (ClassLabel,
  integers or strings; `label_names` against the ClassLabel). Columns come from the dataset card metadata or
  the builder's own inference (folder labels, parquet schemas); only for formats with neither (csv, json) is the
  first row of the train split streamed. Row counts (metadata, parquet footers) catch empty and overlapping
  slices.
- checkpoints: timm names against the installed timm's pretrained configs (a local folder: its config.json and
  weights); transformers checkpoints through `AutoConfig`, the tokenizer or feature extractor, the weights file
  and the Auto mapping for the modality (sequence or audio classification), and, for Whisper, whether each audio
  task's clip fits the encoder.

Remote code is never run. Every problem of every file is collected and reported together, in the YAML check's
form `file:line: field 'dataset.label_column': ...`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import datasets
import yaml

from benchmark.data.loading import expand_assets
from benchmark.specs.registry import Registry, SpecError
from benchmark.specs.schema import DatasetSpec, ModelSpec, TaskSpec
from benchmark.utils.naming import suggest

LOAD_ARGUMENTS = ("name", "data_dir", "data_files", "revision")
SPLIT_FIELDS = ("train_split", "validation_split", "eval_split")
TEXT_DTYPES = ("string", "large_string")
WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
TIMM_WEIGHT_PATTERNS = ("*.safetensors", "*.pth", "*.bin")
LOCAL_PREFIXES = ("/", "./", "../", "~")

Progress = Callable[[str], None]


class FieldProblem(Exception):
    """One mismatch between a spec field and what it names."""

    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field_name = field_name
        self.message = message


class FieldProblems(Exception):
    """Several independent mismatches found by one check (a wrong model type and a missing tokenizer, say)."""

    def __init__(self, problems: list[FieldProblem]):
        super().__init__("; ".join(problem.message for problem in problems))
        self.problems = problems


@dataclass(frozen=True)
class DatasetFacts:
    """What a dataset spec resolves to: its config, splits (rows where known without data) and columns."""

    config: str | None
    splits: dict[str, int | None]
    features: datasets.Features | None


@dataclass(frozen=True)
class CheckpointFacts:
    """What a checkpoint resolves to; the Whisper fields are set for Whisper encoders only."""

    description: str
    whisper_positions: int | None = None
    sampling_rate: int | None = None
    hop_length: int | None = None


@dataclass
class DeepReport:
    """Every problem found, and one line per dataset and checkpoint that resolved."""

    problems: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    datasets_checked: int = 0
    checkpoints_checked: int = 0

    def summary(self) -> str:
        lines = [f"  {line}" for line in self.resolved]
        lines.append(
            f"ok: {self.datasets_checked} dataset(s) and {self.checkpoints_checked} checkpoint(s) match their specs "
            "(metadata only: no dataset was downloaded or prepared)"
        )
        return "\n".join(lines)


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def deep_check(
    registry: Registry,
    assets_dir: Path,
    suite: str | None = None,
    tasks: Iterable[str] | None = None,
    models: Iterable[str] | None = None,
    progress: Progress | None = _stderr,
) -> DeepReport:
    """Resolve the datasets and checkpoints of `suite` (every suite and task when None), narrowed to `tasks` and
    `models` ids when given. Raises `SpecError` for an unknown suite; everything else lands in the report."""
    checker = _Checker(registry, Path(assets_dir), progress or (lambda _: None))
    selected_tasks, selected_models, pairs = _select(registry, suite, checker.unplaced)
    if tasks is not None:
        wanted = set(tasks)
        selected_tasks = [t for t in selected_tasks if t.task in wanted]
    if models is not None:
        wanted = set(models)
        selected_models = [m for m in selected_models if m.id in wanted]
    for task in selected_tasks:
        checker.check_task(task)
    for model in selected_models:
        checker.check_model(model)
    task_ids, model_ids = {t.task for t in selected_tasks}, {m.id for m in selected_models}
    for model, task in pairs:
        if model.id in model_ids and task.task in task_ids:
            checker.check_pair(model, task)
    return checker.finish()


def _select(
    registry: Registry, suite: str | None, problems: list[str]
) -> tuple[list[TaskSpec], list[ModelSpec], list[tuple[ModelSpec, TaskSpec]]]:
    """Tasks, models and the (model, task) pairs that will run together, of one suite or of all of them."""
    names = [suite] if suite else sorted(registry.suites)
    tasks: dict[str, TaskSpec] = {} if suite else dict(sorted(registry.tasks.items()))
    models: dict[str, ModelSpec] = {}
    pairs: list[tuple[ModelSpec, TaskSpec]] = []
    for name in names:
        try:
            resolved = registry.resolve(name)
        except SpecError as error:
            if suite:
                raise
            problems.extend(error.problems)
            continue
        tasks.update({t.task: t for t in resolved.tasks if t.task not in tasks})
        models.update({m.id: m for m in resolved.models if m.id not in models})
        pairs += [(m, t) for m in resolved.models for t in resolved.tasks if m.modality == t.modality]
    return list(tasks.values()), list(models.values()), pairs


class _Checker:
    """Runs the checks once per distinct dataset and checkpoint, and places every problem in its file."""

    def __init__(self, registry: Registry, assets_dir: Path, progress: Progress):
        self.registry = registry
        self.assets_dir = assets_dir
        self.progress = progress
        self.report = DeepReport()
        self._datasets: dict[str, DatasetFacts | FieldProblem] = {}
        self._checkpoints: dict[tuple, CheckpointFacts | list[FieldProblem]] = {}
        self._yaml_roots: dict[Path, yaml.Node | None] = {}
        self._pairs_seen: set[tuple] = set()
        self._found: list[tuple[str, int, str]] = []  # (file, line, message), sorted into the report at the end
        self.unplaced: list[str] = []  # problems that already name their file (suites that do not resolve)

    def finish(self) -> DeepReport:
        """The report, with problems in file and line order."""
        self.report.problems = self.unplaced + [message for *_, message in sorted(self._found)]
        return self.report

    # datasets ------------------------------------------------------------------------------------------------

    def check_task(self, task: TaskSpec) -> None:
        facts, problems = self._dataset_problems(task.dataset, task.modality, f"task {task.task!r}")
        self._add(self.registry.task_files.get(task.task), ("dataset",), problems, f"task {task.task!r}")
        if facts is not None and not problems:
            self.report.resolved.append(f"dataset  {task.task}: {describe_dataset(task.dataset, facts)}")

    def _dataset_problems(
        self, spec: DatasetSpec, modality: str, label: str
    ) -> tuple[DatasetFacts | None, list[FieldProblem]]:
        """The dataset's facts (None when it does not resolve) and every mismatch with the spec."""
        arguments = [spec.path] + [getattr(spec, k) for k in LOAD_ARGUMENTS]
        key = json.dumps(expand_assets(arguments, self.assets_dir), sort_keys=True)
        if key not in self._datasets:
            self.progress(f"deep check: dataset {spec.path!r} ({label})")
            self.report.datasets_checked += 1
            try:
                self._datasets[key] = inspect_dataset(spec, self.assets_dir)
            except FieldProblem as problem:
                self._datasets[key] = problem
        facts = self._datasets[key]
        if isinstance(facts, FieldProblem):
            return None, [facts]
        return facts, split_problems(spec, facts) + column_problems(spec, modality, facts)

    # checkpoints ---------------------------------------------------------------------------------------------

    def check_model(self, model: ModelSpec) -> None:
        result = self._checkpoint(model)
        locations = self._model_locations(model)
        problems = result if isinstance(result, list) else []
        if model.pretraining_sample is not None:
            _, sample = self._dataset_problems(model.pretraining_sample, model.modality, f"model {model.id!r} sample")
            problems = problems + [FieldProblem(f"pretraining_sample.{p.field_name}", p.message) for p in sample]
        for path, loc in locations or [(None, ())]:
            self._add(path, loc, problems, f"model {model.id!r}")
        if not problems and isinstance(result, CheckpointFacts):
            self.report.resolved.append(f"model    {model.id}: {result.description}")

    def _checkpoint(self, model: ModelSpec) -> CheckpointFacts | list[FieldProblem]:
        checkpoint = expand_assets(model.checkpoint, self.assets_dir)
        key = (model.library, checkpoint, model.revision, model.modality)
        if key not in self._checkpoints:
            self.progress(f"deep check: {model.library} checkpoint {checkpoint!r} (model {model.id!r})")
            self.report.checkpoints_checked += 1
            try:
                if model.library == "timm":
                    self._checkpoints[key] = inspect_timm_checkpoint(checkpoint)
                else:
                    self._checkpoints[key] = inspect_transformers_checkpoint(checkpoint, model.revision, model.modality)
            except FieldProblem as problem:
                self._checkpoints[key] = [problem]
            except FieldProblems as found:
                self._checkpoints[key] = found.problems
        return self._checkpoints[key]

    def check_pair(self, model: ModelSpec, task: TaskSpec) -> None:
        """Whisper encoders take clips of a fixed length: each audio task's clip must fit the checkpoint."""
        facts = self._checkpoint(model)
        if not isinstance(facts, CheckpointFacts) or facts.whisper_positions is None:
            return
        clip = task.preprocessing.clip_seconds
        if (model.id, task.task) in self._pairs_seen:  # a pair can come from several suites
            return
        self._pairs_seen.add((model.id, task.task))
        from benchmark.models.factory import whisper_clip_positions

        try:
            positions = whisper_clip_positions(clip, facts.sampling_rate, facts.hop_length)
        except ValueError as error:
            message = f"does not fit Whisper model {model.id!r}: {error}"
        else:
            if positions <= facts.whisper_positions:
                return
            message = (
                f"clip of {clip} s needs {positions} encoder positions; Whisper model {model.id!r} has "
                f"{facts.whisper_positions}"
            )
        problem = FieldProblem("clip_seconds", message)
        self._add(self.registry.task_files.get(task.task), ("preprocessing",), [problem], f"task {task.task!r}")

    def _model_locations(self, model: ModelSpec) -> list[tuple[Path, tuple]]:
        """Every (suite file, ('models', index)) that defines this exact model spec."""
        return [
            (self.registry.suite_files[name], ("models", index))
            for name, suite in sorted(self.registry.suites.items())
            for index, candidate in enumerate(suite.models)
            if candidate == model
        ]

    # reporting -----------------------------------------------------------------------------------------------

    def _add(self, path: Path | None, prefix: tuple, problems: list[FieldProblem], fallback: str) -> None:
        for problem in problems:
            loc = (*prefix, *problem.field_name.split("."))
            dotted = ".".join(str(part) for part in loc)
            field_text = f"models[{loc[1]}].{'.'.join(loc[2:])}" if loc[:1] == ("models",) else dotted
            line = self._line(path, loc) if path else None
            where = f"{path}:{line}" if line else str(path or fallback)
            self._found.append((str(path or fallback), line or 0, f"{where}: field {field_text!r}: {problem.message}"))

    def _line(self, path: Path, loc: tuple) -> int | None:
        if path not in self._yaml_roots:
            try:
                self._yaml_roots[path] = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
            except (OSError, yaml.YAMLError):
                self._yaml_roots[path] = None
        return yaml_line(self._yaml_roots[path], loc)


def yaml_line(root: yaml.Node | None, loc: tuple) -> int | None:
    """1-based line of the YAML key at `loc`, or of its deepest existing parent."""
    node, line = root, (root.start_mark.line + 1 if root else None)
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            match = (node.value[part], node.value[part])
        else:
            match = None
        if match is None:
            break
        line, node = match[0].start_mark.line + 1, match[1]
    return line


# datasets ----------------------------------------------------------------------------------------------------


def inspect_dataset(spec: DatasetSpec, assets_dir: Path) -> DatasetFacts:
    """Config, splits and columns of a dataset spec, from the builder and its split listing; no data download."""
    from datasets.download.streaming_download_manager import StreamingDownloadManager

    path = expand_assets(spec.path, assets_dir)
    arguments = {k: expand_assets(getattr(spec, k), assets_dir) for k in LOAD_ARGUMENTS if getattr(spec, k)}
    try:
        builder = datasets.load_dataset_builder(path, **arguments)
    except Exception as error:  # any failure to resolve is a finding, reported with the others
        raise FieldProblem(_builder_error_field(spec, error), _one_line(error)) from None
    download_config = datasets.DownloadConfig(token=builder.token, storage_options=builder.storage_options)
    manager = StreamingDownloadManager(
        base_path=builder.base_path,
        download_config=download_config,
        dataset_name=builder.dataset_name,
        data_dir=builder.config.data_dir,
    )
    try:
        generators = builder._split_generators(manager)  # lists files; parquet reads schemas, folders their labels
    except Exception as error:
        raise FieldProblem(_data_field(spec), f"cannot list the dataset's splits: {_one_line(error)}") from None
    known = builder.info.splits or {}
    splits = {
        str(g.name): _known_rows(known, str(g.name)) or _parquet_rows(builder, g, download_config) for g in generators
    }
    features = builder.info.features or _first_row_features(builder, spec, splits)
    return DatasetFacts(config=builder.config.name, splits=splits, features=features)


def describe_dataset(spec: DatasetSpec, facts: DatasetFacts) -> str:
    """One line: where the dataset resolved, its splits (with rows where known) and its label."""
    splits = ", ".join(f"{name} ({rows} rows)" if rows is not None else name for name, rows in facts.splits.items())
    label = facts.features.get(spec.label_column) if facts.features else None
    label_text = f"ClassLabel of {label.num_classes}" if isinstance(label, datasets.ClassLabel) else repr(label)
    where = spec.path + (f"@{spec.revision}" if spec.revision else "")
    config = f" config {facts.config!r}," if facts.config and facts.config != "default" else ""
    return f"{where}:{config} splits {splits}; label {spec.label_column!r}: {label_text}"


def _builder_error_field(spec: DatasetSpec, error: Exception) -> str:
    text = f"{type(error).__name__} {error}"
    if "Revision" in type(error).__name__ or (spec.revision and "revision" in text.lower()):
        return "revision"
    if "BuilderConfig" in text or "Config name is missing" in text:
        return "name"
    if isinstance(error, FileNotFoundError) and not isinstance(error, datasets.exceptions.DatasetNotFoundError):
        return _data_field(spec)
    return "path"


def _data_field(spec: DatasetSpec) -> str:
    return "data_files" if spec.data_files else "data_dir" if spec.data_dir else "path"


def _one_line(error: Exception) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return " ".join(lines[:2]) or type(error).__name__


def _known_rows(known: Any, name: str) -> int | None:
    info = known.get(name) if hasattr(known, "get") else None
    rows = getattr(info, "num_examples", None)
    return rows if rows else None


def _parquet_rows(builder: Any, generator: Any, download_config: datasets.DownloadConfig) -> int | None:
    """Rows of a parquet split from the files' footers (a few KB each), or None for other formats."""
    from datasets.packaged_modules.parquet.parquet import Parquet

    files = generator.gen_kwargs.get("files") if isinstance(builder, Parquet) else None
    if not files:
        return None
    import pyarrow.parquet as pq
    from datasets.utils.file_utils import xopen

    try:
        total = 0
        for file in files:
            with xopen(file, "rb", download_config=download_config) as handle:
                total += pq.read_metadata(handle).num_rows
        return total
    except Exception:  # row counts only sharpen the slice checks; the split itself was found
        return None


def _first_row_features(builder: Any, spec: DatasetSpec, splits: dict[str, int | None]) -> datasets.Features | None:
    """Columns of formats that declare none (csv, json): the types of the first streamed row of the train split."""
    import pyarrow as pa

    names = _split_names(spec.train_split) or []
    name = next((n for n in names if n in splits), next(iter(splits), None))
    if name is None:
        return None
    try:
        row = next(iter(builder.as_streaming_dataset(split=name)))
    except Exception as error:
        raise FieldProblem(_data_field(spec), f"cannot read the first row of {name!r}: {_one_line(error)}") from None
    return datasets.Features.from_arrow_schema(pa.Table.from_pylist([row]).schema)


def _split_names(value: str) -> list[str] | None:
    """Split names a split expression reads (`train[:80%]+validation` -> train, validation); None if malformed."""
    try:
        instruction = datasets.ReadInstruction.from_spec(value)
    except ValueError:
        return None
    return [part.splitname for part in instruction._relative_instructions]


def split_problems(spec: DatasetSpec, facts: DatasetFacts) -> list[FieldProblem]:
    """Every split field names existing splits with slices that select rows, and no two of them overlap."""
    problems, ranges = [], {}
    config = f" (config {facts.config!r})" if facts.config and facts.config != "default" else ""
    for field_name in SPLIT_FIELDS:
        value = getattr(spec, field_name, None)
        if not value:
            continue
        names = _split_names(value)
        if names is None:
            problems.append(FieldProblem(field_name, f"{value!r} is not a split name or slice like 'train[:80%]'"))
            continue
        missing = [n for n in names if n not in facts.splits]
        for name in missing:
            problems.append(
                FieldProblem(
                    field_name,
                    f"split {name!r} is not in the dataset{config}; it has {list(facts.splits)}"
                    + suggest(name, facts.splits),
                )
            )
        if not missing:
            ranges[field_name] = _row_ranges(value, names, facts.splits)
            if ranges[field_name] is not None and not any(stop > start for _, start, stop in ranges[field_name]):
                sizes = ", ".join(f"{n}: {facts.splits[n]} rows" for n in names)
                problems.append(FieldProblem(field_name, f"{value!r} selects no rows ({sizes})"))
    problems += _overlap_problems(spec, ranges)
    return problems


def _row_ranges(value: str, names: list[str], splits: dict[str, int | None]) -> list[tuple[str, int, int]] | None:
    """(split, start, stop) of each part of a split expression, or None when a split's size is unknown."""
    sizes = {n: splits[n] for n in names}
    if any(size is None for size in sizes.values()):
        return None
    absolute = datasets.ReadInstruction.from_spec(value).to_absolute(sizes)
    return [(part.splitname, part.from_, part.to) for part in absolute]


def _overlap_problems(spec: DatasetSpec, ranges: dict) -> list[FieldProblem]:
    """Train, validation and test must not share rows: overlapping slices (or the same whole split) leak."""
    problems = []
    fields = [f for f in SPLIT_FIELDS if getattr(spec, f, None) and f in ranges]
    for index, first in enumerate(fields):
        for second in fields[index + 1 :]:
            if _overlap(getattr(spec, first), getattr(spec, second), ranges[first], ranges[second]):
                problems.append(
                    FieldProblem(second, f"{getattr(spec, second)!r} shares rows with {first} {getattr(spec, first)!r}")
                )
    return problems


def _overlap(first: str, second: str, first_ranges, second_ranges) -> bool:
    if first_ranges is None or second_ranges is None:  # sizes unknown: only identical whole splits are certain
        whole = [n for n in (_split_names(first) or []) if n in (_split_names(second) or [])]
        return bool(whole) and "[" not in first and "[" not in second
    return any(
        a_name == b_name and max(a_start, b_start) < min(a_stop, b_stop)
        for a_name, a_start, a_stop in first_ranges
        for b_name, b_start, b_stop in second_ranges
    )


def column_problems(spec: DatasetSpec, modality: str, facts: DatasetFacts) -> list[FieldProblem]:
    """Input, second input and label columns exist, with the types the modality and the label encoding need."""
    if facts.features is None:
        return []
    features, problems = facts.features, []
    columns = list(features)
    wanted = {"input_column": spec.input_column, "label_column": spec.label_column}
    if spec.second_input_column:
        wanted["second_input_column"] = spec.second_input_column
    for field_name, column in wanted.items():
        if column not in features:
            problems.append(
                FieldProblem(
                    field_name, f"column {column!r} is not in the dataset; it has {columns}" + suggest(column, columns)
                )
            )
    for field_name in ("input_column", "second_input_column"):
        column = wanted.get(field_name)
        if column in features and not _input_type_ok(features[column], modality):
            problems.append(
                FieldProblem(field_name, f"column {column!r} is {features[column]!r}; {_INPUT_NEEDS[modality]}")
            )
    if spec.label_column in features:
        problems += _label_problems(spec, features[spec.label_column])
    return problems


_INPUT_NEEDS = {
    "vision": "a vision task needs an Image column",
    "audio": "an audio task needs an Audio column",
    "text": "a text task needs a string column",
}


def _input_type_ok(feature: Any, modality: str) -> bool:
    if modality == "vision":
        return isinstance(feature, datasets.Image)
    if modality == "audio":
        return isinstance(feature, datasets.Audio)
    return isinstance(feature, datasets.Value) and feature.dtype in TEXT_DTYPES


def _label_problems(spec: DatasetSpec, feature: Any) -> list[FieldProblem]:
    """A ClassLabel (with `label_names`, if given, naming as many classes), integers, or strings."""
    if isinstance(feature, datasets.ClassLabel):
        if spec.label_names and len(spec.label_names) != feature.num_classes:
            return [
                FieldProblem(
                    "label_names",
                    f"{len(spec.label_names)} names for the ClassLabel column {spec.label_column!r} of "
                    f"{feature.num_classes} classes {feature.names}",
                )
            ]
        return []
    if isinstance(feature, datasets.Value) and (
        feature.dtype in TEXT_DTYPES or feature.dtype == "bool" or feature.dtype.startswith(("int", "uint"))
    ):
        return []
    return [
        FieldProblem(
            "label_column",
            f"column {spec.label_column!r} is {feature!r}; labels must be a ClassLabel, integers or strings",
        )
    ]


# checkpoints -------------------------------------------------------------------------------------------------


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
