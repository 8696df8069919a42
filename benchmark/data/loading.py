"""Load a task's data with `datasets.load_dataset`, exactly as its spec names it.

The spec's dataset block maps one-to-one onto `load_dataset` arguments, so a hub dataset, a local
imagefolder/audiofolder or csv/json/parquet files all load the same way. Labels become integer ids with names
taken from a ClassLabel feature, from the spec, or from the sorted values of a string column. Sample caps are
applied deterministically: the train subset depends on the seed, the evaluation subset does not, so every
seed and every model is scored on the same examples.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import datasets

from benchmark.specs.schema import DatasetSpec, TaskSpec
from benchmark.utils.naming import suggest

ASSETS_PLACEHOLDER = "{assets}"
LABEL = "labels"
EVAL_SUBSET_SEED = 0


class DataError(Exception):
    """A task's dataset does not match its spec (missing split or column, unknown label)."""


@dataclass(frozen=True)
class TaskData:
    """The train and evaluation splits of one task, with integer labels in column `labels`."""

    train: datasets.Dataset
    eval: datasets.Dataset
    label_names: list[str]

    @property
    def num_labels(self) -> int:
        return len(self.label_names)

    @property
    def fingerprint(self) -> str:
        """Identifies the exact examples of both splits (datasets' fingerprints after every transform)."""
        return f"{self.train._fingerprint}-{self.eval._fingerprint}"

    def split_fingerprint(self, split: str) -> str:
        """Identifies the exact examples of one split: the eval split's is the same for every seed."""
        splits = {"train": self.train, "eval": self.eval}
        if split not in splits:
            raise ValueError(f"split must be 'train' or 'eval', got {split!r}")
        return splits[split]._fingerprint


def expand_assets(value, assets_dir: Path):
    """Replace the `{assets}` placeholder in strings (recursively in lists and dicts) by the assets dir."""
    if isinstance(value, str):
        return value.replace(ASSETS_PLACEHOLDER, str(assets_dir))
    if isinstance(value, list):
        return [expand_assets(v, assets_dir) for v in value]
    if isinstance(value, dict):
        return {k: expand_assets(v, assets_dir) for k, v in value.items()}
    return value


def load_splits(spec: DatasetSpec, assets_dir: Path, task_id: str) -> tuple[datasets.Dataset, datasets.Dataset]:
    """The train and eval splits via `datasets.load_dataset`, with the spec's arguments; never runs remote code.

    Split names may use datasets' slicing syntax (`train[:80%]`, `train[80%:]`) for datasets that ship one split.
    """
    arguments = {
        key: expand_assets(getattr(spec, key), assets_dir)
        for key in ("name", "data_dir", "data_files", "revision")
        if getattr(spec, key) is not None
    }
    try:
        train, evaluation = datasets.load_dataset(
            expand_assets(spec.path, assets_dir), split=[spec.train_split, spec.eval_split], **arguments
        )
    except ValueError as error:
        if "split" not in str(error).lower():
            raise
        raise DataError(
            f"task {task_id!r}: field 'dataset.train_split'/'dataset.eval_split' "
            f"({spec.train_split!r}, {spec.eval_split!r}): {error}"
        ) from None
    return train, evaluation


def load_task_data(
    task: TaskSpec,
    seed: int,
    assets_dir: Path,
    max_train_samples: int | None = None,
    max_eval_samples: int | None = None,
) -> TaskData:
    """Both splits of a task, label-encoded and capped (caps default to the task's own)."""
    return cap_task_data(load_encoded(task, assets_dir), task, seed, max_train_samples, max_eval_samples)


def load_encoded(task: TaskSpec, assets_dir: Path) -> TaskData:
    """Both full splits of a task with its input columns and integer labels: the part shared by every seed."""
    spec = task.dataset
    train, evaluation = load_splits(spec, assets_dir, task.task)
    for column in _input_columns(spec) + [spec.label_column]:
        _check_column(train, column, task)
    label_names = _label_names(train, spec)
    return TaskData(
        train=_encode_labels(train, spec, label_names, task),
        eval=_encode_labels(evaluation, spec, label_names, task),
        label_names=label_names,
    )


def cap_task_data(
    encoded: TaskData,
    task: TaskSpec,
    seed: int,
    max_train_samples: int | None = None,
    max_eval_samples: int | None = None,
) -> TaskData:
    """The seed's training subset and the (seed-independent) evaluation subset of encoded splits."""
    return TaskData(
        train=_cap(encoded.train, max_train_samples or task.max_train_samples, seed),
        eval=_cap(encoded.eval, max_eval_samples or task.max_eval_samples, EVAL_SUBSET_SEED),
        label_names=encoded.label_names,
    )


def with_sampling_rate(data: TaskData, column: str, sampling_rate: int) -> TaskData:
    """Both splits with `column` decoded (and resampled) at `sampling_rate`, as the feature extractor needs."""
    audio = datasets.Audio(sampling_rate=sampling_rate)
    return TaskData(
        train=data.train.cast_column(column, audio),
        eval=data.eval.cast_column(column, audio),
        label_names=data.label_names,
    )


def _input_columns(spec: DatasetSpec) -> list[str]:
    return [spec.input_column] + ([spec.second_input_column] if spec.second_input_column else [])


def _check_column(split: datasets.Dataset, column: str, task: TaskSpec) -> None:
    if column not in split.column_names:
        raise DataError(
            f"task {task.task!r}: column {column!r} is not in the dataset; it has {split.column_names}"
            f"{suggest(column, split.column_names)}"
        )


def _label_names(train: datasets.Dataset, spec: DatasetSpec) -> list[str]:
    feature = train.features[spec.label_column]
    if spec.label_names:
        return list(spec.label_names)
    if isinstance(feature, datasets.ClassLabel):
        return list(feature.names)
    return sorted({str(value) for value in train[spec.label_column]})


def _encode_labels(
    split: datasets.Dataset, spec: DatasetSpec, label_names: list[str], task: TaskSpec
) -> datasets.Dataset:
    """Keep the input columns and add integer `labels` (ClassLabel ids kept, names mapped to ids)."""
    feature = split.features[spec.label_column]
    values = split[spec.label_column]
    if isinstance(feature, datasets.ClassLabel) or all(isinstance(v, int) for v in values):
        ids = [int(v) for v in values]
    else:
        index = {name: i for i, name in enumerate(label_names)}
        unknown = sorted({str(v) for v in values} - index.keys())
        if unknown:
            raise DataError(f"task {task.task!r}: labels {unknown[:5]} are not in label_names {label_names}")
        ids = [index[str(v)] for v in values]
    bad = [i for i in ids if not 0 <= i < len(label_names)]
    if bad:
        raise DataError(f"task {task.task!r}: label id {bad[0]} is outside 0..{len(label_names) - 1}")
    keep = _input_columns(spec)
    split = split.remove_columns([c for c in split.column_names if c not in keep])
    return split.add_column(LABEL, ids)


def _cap(split: datasets.Dataset, cap: int | None, seed: int) -> datasets.Dataset:
    if cap is None or cap >= len(split):
        return split
    return split.shuffle(seed=seed).select(range(cap))
