"""The deep check of a dataset block: config, splits and slices, columns and label type, resolved through
`datasets.load_dataset_builder` without downloading the data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import datasets

from benchmark.checks.facts import (
    LOAD_ARGUMENTS,
    SPLIT_FIELDS,
    TEXT_DTYPES,
    DatasetFacts,
    FieldProblem,
    one_line,
)
from benchmark.data.labels import class_problems, is_missing, missing_label_problem, unknown_label_problem
from benchmark.data.loading import expand_assets
from benchmark.specs.adapter_registry import modality_adapter
from benchmark.specs.schema import DatasetSpec
from benchmark.utils.naming import suggest


def inspect_dataset(spec: DatasetSpec, assets_dir: Path) -> DatasetFacts:
    """Config, splits and columns of a dataset spec, from the builder and its split listing; no data download."""
    from datasets.download.streaming_download_manager import StreamingDownloadManager

    path = expand_assets(spec.path, assets_dir)
    arguments = {k: expand_assets(getattr(spec, k), assets_dir) for k in LOAD_ARGUMENTS if getattr(spec, k)}
    try:
        builder = datasets.load_dataset_builder(path, **arguments)
    except Exception as error:  # any failure to resolve is a finding, reported with the others
        raise FieldProblem(_builder_error_field(spec, error), one_line(error)) from None
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
        raise FieldProblem(_data_field(spec), f"cannot list the dataset's splits: {one_line(error)}") from None
    known = builder.info.splits or {}
    splits = {
        str(g.name): _known_rows(known, str(g.name)) or _parquet_rows(builder, g, download_config) for g in generators
    }
    if builder.info.features:
        return DatasetFacts(config=builder.config.name, splits=splits, features=builder.info.features)
    features = _first_row_features(builder, spec, splits)
    labels = _label_column_problems(builder, spec, splits, features)
    return DatasetFacts(config=builder.config.name, splits=splits, features=features, label_problems=labels)


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
    except StopIteration:
        raise FieldProblem(
            _data_field(spec), f"the {name!r} split has no rows (an empty or header-only file?)"
        ) from None
    except Exception as error:  # the library's message may quote the file: name the kind of failure only
        raise FieldProblem(
            _data_field(spec), f"cannot read the first row of {name!r} as data ({type(error).__name__})"
        ) from None
    return datasets.Features.from_arrow_schema(pa.Table.from_pylist([row]).schema)


def _label_column_problems(
    builder: Any, spec: DatasetSpec, splits: dict[str, int | None], features: datasets.Features | None
) -> tuple[FieldProblem, ...]:
    """The whole label column of each split the spec reads, streamed and checked as a run checks it (missing
    labels, one class, classes only validation or test holds, values outside `label_names`)."""
    if features is None or spec.label_column not in features:
        return ()
    roles = _split_roles(spec, splits)
    values: dict[str, list] = {}
    for role, names in roles.items():
        values[role] = []
        for name in names:
            try:
                values[role] += [row.get(spec.label_column) for row in builder.as_streaming_dataset(split=name)]
            except Exception as error:  # as above: no content of the file in the message
                return (FieldProblem(_data_field(spec), f"cannot read split {name!r} ({type(error).__name__})"),)
    problems = [missing_label_problem(column, role, spec.label_column) for role, column in values.items()]
    present = {role: [str(v) for v in column if not is_missing(v)] for role, column in values.items()}
    messages = [p for p in problems if p] or class_problems(present, spec.label_column)
    if spec.label_names and not any(problems):
        declared = set(spec.label_names)
        for role, column in present.items():
            unknown = set(column) - declared
            if unknown and not all(v.lstrip("-").isdigit() for v in column):
                messages.append(unknown_label_problem(len(unknown), role, len(declared)))
    return tuple(_as_field_problem(message) for message in messages)


def _split_roles(spec: DatasetSpec, splits: dict[str, int | None]) -> dict[str, list[str]]:
    """{train, validation, test: the whole splits each reads}; a role sharing a split with train (a slice of
    it) is left out, since its classes cannot be told apart without the rows of the slice."""
    fields = {"train": spec.train_split, "validation": spec.validation_split, "test": spec.eval_split}
    roles = {}
    for role, value in fields.items():
        names = [n for n in (_split_names(value) or []) if n in splits] if value else []
        if names and (role == "train" or not set(names) & set(roles.get("train", []))):
            roles[role] = names
    return roles


def _as_field_problem(message: str) -> FieldProblem:
    """A `dataset.<field>: text` message of `benchmark.data.labels` as a located problem of that field."""
    field_name, _, text = message.partition(": ")
    return FieldProblem(field_name.removeprefix("dataset."), text)


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
    if spec.group_column:
        wanted["group_column"] = spec.group_column
    for field_name, column in wanted.items():
        if column not in features:
            problems.append(
                FieldProblem(
                    field_name,
                    f"column {column!r} is not in the dataset; it has {len(columns)} column(s)"
                    + suggest(column, columns),
                )
            )
    adapter = modality_adapter(modality)
    for field_name in ("input_column", "second_input_column"):
        column = wanted.get(field_name)
        if column in features and not adapter.input_type_ok(features[column]):
            problems.append(
                FieldProblem(field_name, f"column {column!r} is {features[column]!r}; {adapter.input_needs}")
            )
    if spec.label_column in features:
        problems += _label_problems(spec, features[spec.label_column])
    return problems


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
