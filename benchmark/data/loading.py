"""Load a task's data with `datasets.load_dataset`, exactly as its spec names it.

The spec's dataset block maps one-to-one onto `load_dataset` arguments, so a hub dataset, a local
imagefolder/audiofolder or csv/json/parquet files all load the same way. Labels become integer ids with names
taken from a ClassLabel feature, from the spec, or from the sorted values of a string column.

Three splits: train, validation and test. Validation is the spec's `validation_split`, or else a stratified,
seed-independent slice of train (`validation_fraction` of each class, at least `MIN_VALIDATION_PER_CLASS`
while the class keeps one training example), removed from train. Every choice is made on validation; test is
read once per final run. Sample caps are applied deterministically: the train subset depends on the seed, the
validation and test subsets do not, so every seed and every model is selected and scored on the same examples.

Group splits. With a `group_column` (the speaker, the patient), rows that share a value of it never straddle two
splits: `test_groups` carve the test split out of train by those values (for datasets that ship one split),
validation held out of train is whole groups (`group_holdout`), and whatever the splits came from, a group found
in two of them is an error. Group values are compared as text, so a YAML `21` matches an integer or a string
column.

Bad data ends in a `DataError` naming the task, the field and the path as the spec wrote it, never in a
traceback from `datasets`: a file that cannot be read as data, an empty or header-only split, missing labels, a
one-class train split, classes only the validation or test split holds (`benchmark.data.labels`). The messages
never repeat what was read (column names, label or group values): a task file may name any readable file, and
its messages end up in result files.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from itertools import combinations
from pathlib import Path

import datasets
import numpy as np

from benchmark.data.batch import LABEL
from benchmark.data.labels import class_problems, missing_label_problem, unknown_label_problem
from benchmark.specs.layers import layered
from benchmark.specs.schema import DatasetSpec, TaskSpec
from benchmark.utils.naming import suggest

ASSETS_PLACEHOLDER = "{assets}"
FIXED_SUBSET_SEED = 0  # validation and test subsets are the same for every seed
MIN_VALIDATION_PER_CLASS = 2
SPLITS = ("train", "validation", "test")


class DataError(Exception):
    """A task's dataset does not match its spec (missing split or column, unknown label)."""


@dataclass(frozen=True)
class TaskData:
    """The train, validation and test splits of one task, with integer labels in column `labels`."""

    train: datasets.Dataset
    validation: datasets.Dataset
    test: datasets.Dataset
    label_names: list[str]

    @property
    def num_labels(self) -> int:
        return len(self.label_names)

    @property
    def fingerprint(self) -> str:
        """Identifies the exact examples of all three splits (datasets' fingerprints after every transform)."""
        return "-".join(self.split(name)._fingerprint for name in SPLITS)

    def split(self, name: str) -> datasets.Dataset:
        if name not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {name!r}")
        return getattr(self, name)

    def split_fingerprint(self, name: str) -> str:
        """Identifies the exact examples of one split: validation's and test's are the same for every seed."""
        return self.split(name)._fingerprint

    def map_splits(self, transform) -> TaskData:
        """The same task with `transform` applied to every split."""
        return TaskData(*(transform(self.split(name)) for name in SPLITS), label_names=self.label_names)


def expand_assets(value, assets_dir: Path):
    """Replace the `{assets}` placeholder in strings (recursively in lists and dicts) by the assets dir."""
    if isinstance(value, str):
        return value.replace(ASSETS_PLACEHOLDER, str(assets_dir))
    if isinstance(value, list):
        return [expand_assets(v, assets_dir) for v in value]
    if isinstance(value, dict):
        return {k: expand_assets(v, assets_dir) for k, v in value.items()}
    return value


def load_splits(spec: DatasetSpec, assets_dir: Path, task_id: str) -> dict[str, datasets.Dataset]:
    """The named splits via `datasets.load_dataset` with the spec's arguments (never running remote code):
    "train", "test" and, when the spec names one, "validation".

    Split names may use datasets' slicing syntax (`train[:80%]`, `train[80%:]`) for datasets that ship one split.
    With `test_groups`, "test" is the rows of train whose `group_column` value is one of them, removed from train.
    """
    arguments = {
        key: expand_assets(getattr(spec, key), assets_dir)
        for key in ("name", "data_dir", "data_files", "revision")
        if getattr(spec, key) is not None
    }
    names = {"train": spec.train_split}
    if spec.eval_split is not None:
        names["test"] = spec.eval_split
    if spec.validation_split:
        names["validation"] = spec.validation_split
    try:
        loaded = datasets.load_dataset(expand_assets(spec.path, assets_dir), split=list(names.values()), **arguments)
    except Exception as error:  # anything datasets raises becomes one located line, without the file's content
        raise DataError(_load_failure(spec, task_id, names, error)) from None
    splits = dict(zip(names, loaded, strict=True))
    _check_not_empty(splits, spec, task_id)
    if spec.test_groups:
        splits["train"], splits["test"] = _carve_test_groups(splits["train"], spec, task_id)
    return splits


SPLIT_FIELDS = {"train": "train_split", "test": "eval_split", "validation": "validation_split"}


def _data_field(spec: DatasetSpec) -> str:
    """The dataset field that names the files: data_files, else data_dir, else path."""
    return "data_files" if spec.data_files else "data_dir" if spec.data_dir else "path"


def _load_failure(spec: DatasetSpec, task_id: str, names: dict[str, str], error: Exception) -> str:
    """One line for a `load_dataset` failure: the task, the field and what it names as the spec wrote it (with
    `{assets}` unexpanded), and the kind of failure. The library's own message is kept only for unknown split
    names (it lists the split names, which the spec chose); other messages may quote the file's content."""
    text = str(error)
    if isinstance(error, ValueError) and "split" in text.lower() and "corresponds to no data" not in text:
        named = ", ".join(f"dataset.{SPLIT_FIELDS[k]}={v!r}" for k, v in names.items())
        return f"task {task_id!r}: {named}: {text.splitlines()[0] if text else type(error).__name__}"
    field = _data_field(spec)
    where = f"task {task_id!r}: dataset.{field} {getattr(spec, field)!r}"
    if "corresponds to no data" in text or _caused_by(error, _means_no_rows):
        return f"{where}: no rows to load (an empty or header-only file?); every split needs labelled rows"
    return f"{where}: cannot be loaded as a dataset ({type(error).__name__}); check that it names data files"


def _means_no_rows(error: BaseException) -> bool:
    """How datasets reports a file without rows: pandas' EmptyDataError (no header either), or a column typed
    null because none of its "first 0 values" had a type (a header-only file beside a file with rows)."""
    return type(error).__name__ == "EmptyDataError" or "first 0 values" in str(error)


def _caused_by(error: BaseException | None, matches) -> bool:
    """Whether `matches` holds for the error or any exception in its chain of causes."""
    for _ in range(20):
        if error is None:
            return False
        if matches(error):
            return True
        error = error.__cause__ or error.__context__
    return False


def _check_not_empty(splits: dict[str, datasets.Dataset], spec: DatasetSpec, task_id: str) -> None:
    """Every split has rows: an empty split would end later in an obscure error, or a metric of nothing."""
    for name, split in splits.items():
        if len(split) == 0:
            field = SPLIT_FIELDS[name]
            raise DataError(
                f"task {task_id!r}: dataset.{field} {getattr(spec, field)!r}: the split has no rows (from "
                f"dataset.{_data_field(spec)}: an empty or header-only file?)"
            )


def load_task_data(
    task: TaskSpec,
    seed: int,
    assets_dir: Path,
    max_train_samples: int | None = None,
    max_validation_samples: int | None = None,
    max_eval_samples: int | None = None,
) -> TaskData:
    """The three splits of a task, label-encoded and capped (each cap given here, else the task's own)."""
    given = SplitCaps(max_train_samples, max_validation_samples, max_eval_samples)
    caps = SplitCaps(**layered(NO_CAPS, task=SplitCaps.of_task(task).values(), command_line=given.values()))
    return cap_task_data(load_encoded(task, assets_dir), seed, caps)


@dataclass(frozen=True)
class SplitCaps:
    """Caps on the number of examples per split; `None` leaves a split uncapped or, in one layer of settings
    (`benchmark.specs.layers`: a task's, a suite's, the command line's), to the layers below."""

    train: int | None = None
    validation: int | None = None
    test: int | None = None

    @classmethod
    def of_task(cls, task: TaskSpec) -> SplitCaps:
        """The task file's own caps."""
        return cls(task.max_train_samples, task.max_validation_samples, task.max_eval_samples)

    def values(self) -> dict[str, int]:
        """The caps this layer sets, by split."""
        return {split: cap for split, cap in asdict(self).items() if cap is not None}


NO_CAPS = asdict(SplitCaps())  # the default of every split: uncapped


def load_encoded(task: TaskSpec, assets_dir: Path) -> TaskData:
    """The three full splits of a task with its input columns and integer labels: the part shared by every seed.

    Without a validation split in the spec, validation is carved out of train (see `stratified_holdout`, or
    `group_holdout` with a `group_column`).
    """
    spec = task.dataset
    splits = load_splits(spec, assets_dir, task.task)
    for field, column in _checked_columns(spec).items():
        _check_column(splits["train"], column, task.task, field)
    _check_labels_present(splits, spec, task.task)
    label_names = _label_names(splits["train"], spec)
    if spec.group_column:
        if "validation" not in splits:
            splits["train"], splits["validation"] = group_holdout(
                splits["train"], spec.group_column, task.validation_fraction, task.task
            )
        _check_groups_disjoint(splits, spec.group_column, task.task)
    encoded = {name: _encode_labels(split, spec, label_names, task, name) for name, split in splits.items()}
    if "validation" not in encoded:
        encoded["train"], encoded["validation"] = stratified_holdout(encoded["train"], task.validation_fraction)
    _check_classes(encoded, spec, task.task)
    # A spec without a test split (`recommend` drops it so that it is never read) gets an empty one.
    test = encoded["test"] if "test" in encoded else encoded["validation"].select([])
    return TaskData(encoded["train"], encoded["validation"], test, label_names)


def stratified_holdout(split: datasets.Dataset, fraction: float) -> tuple[datasets.Dataset, datasets.Dataset]:
    """(rest, held out): `fraction` of each class (rounded, at least `MIN_VALIDATION_PER_CLASS` while the class
    keeps one example in the rest), chosen by a fixed seed, so the slice is the same for every run and seed."""
    labels = np.asarray(split[LABEL])
    rng = np.random.default_rng(FIXED_SUBSET_SEED)
    held_out: list[int] = []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        count = min(max(round(fraction * members.size), MIN_VALIDATION_PER_CLASS), members.size - 1)
        held_out += members[: max(count, 0)].tolist()
    held = set(held_out)
    rest = [i for i in range(len(split)) if i not in held]
    return split.select(rest), split.select(sorted(held))


def group_holdout(
    split: datasets.Dataset, column: str, fraction: float, task_id: str
) -> tuple[datasets.Dataset, datasets.Dataset]:
    """(rest, held out): whole groups of `column`, about `fraction` of the rows, the same for every run and seed.

    The groups (sorted as text) are shuffled by a fixed seed and the held-out set is the prefix of that order
    whose row count is nearest `fraction` of the rows, with at least one group on each side. Classes are not
    stratified: a group is held out whole or not at all.
    """
    keys = _group_keys(split, column)
    sizes = Counter(keys)
    if len(sizes) < 2:
        raise DataError(
            f"task {task_id!r}: dataset.group_column: column {column!r} of the train split has {len(sizes)} group(s); "
            "holding out validation by group needs at least two (or name a validation_split)"
        )
    groups = sorted(sizes)
    order = [groups[i] for i in np.random.default_rng(FIXED_SUBSET_SEED).permutation(len(groups))]
    prefix_rows = np.cumsum([sizes[group] for group in order])[:-1]
    count = int(np.argmin(np.abs(prefix_rows - fraction * len(keys)))) + 1
    held_groups = set(order[:count])
    held = [i for i, key in enumerate(keys) if key in held_groups]
    rest = [i for i, key in enumerate(keys) if key not in held_groups]
    return split.select(rest), split.select(held)


def cap_task_data(encoded: TaskData, seed: int, caps: SplitCaps) -> TaskData:
    """The seed's training subset and the (seed-independent) validation and test subsets of encoded splits, under
    the caps in effect (`RunSettings.caps` resolves them)."""
    return TaskData(
        train=_cap(encoded.train, caps.train, seed),
        validation=_cap(encoded.validation, caps.validation, FIXED_SUBSET_SEED),
        test=_cap(encoded.test, caps.test, FIXED_SUBSET_SEED),
        label_names=encoded.label_names,
    )


def with_sampling_rate(data: TaskData, column: str, sampling_rate: int) -> TaskData:
    """Every split with `column` decoded (and resampled) at `sampling_rate`, as the feature extractor needs."""
    audio = datasets.Audio(sampling_rate=sampling_rate)
    return data.map_splits(lambda split: split.cast_column(column, audio))


def _input_columns(spec: DatasetSpec) -> list[str]:
    return [spec.input_column] + ([spec.second_input_column] if spec.second_input_column else [])


def _checked_columns(spec: DatasetSpec) -> dict[str, str]:
    """The spec's column fields and the columns they name, for the checks that every one exists."""
    fields = {
        "input_column": spec.input_column,
        "second_input_column": spec.second_input_column,
        "label_column": spec.label_column,
        "group_column": spec.group_column,
    }
    return {field: column for field, column in fields.items() if column}


def _check_column(split: datasets.Dataset, column: str, task_id: str, field: str) -> None:
    """The column exists; the message counts the dataset's columns rather than listing them (a header line of
    whatever file the task names), and suggests only a near match of the name the spec wrote."""
    if column not in split.column_names:
        raise DataError(
            f"task {task_id!r}: dataset.{field}: column {column!r} is not in the dataset; it has "
            f"{len(split.column_names)} column(s){suggest(column, split.column_names)}"
        )


def _check_labels_present(splits: dict[str, datasets.Dataset], spec: DatasetSpec, task_id: str) -> None:
    """Every row of every split has a label; a missing one would otherwise become a class of its own."""
    for name, split in splits.items():
        if spec.label_column not in split.column_names:
            continue
        values = split[spec.label_column]
        if isinstance(split.features[spec.label_column], datasets.ClassLabel):
            values = [None if value is None or value < 0 else value for value in values]  # -1: no label
        if problem := missing_label_problem(values, name, spec.label_column):
            raise DataError(f"task {task_id!r}: {problem}")


def _check_classes(encoded: dict[str, datasets.Dataset], spec: DatasetSpec, task_id: str) -> None:
    """At least two classes in train, and no class that only validation or test holds."""
    problems = class_problems({name: split[LABEL] for name, split in encoded.items()}, spec.label_column)
    if problems:
        raise DataError("; ".join(f"task {task_id!r}: {problem}" for problem in problems))


def _group_keys(split: datasets.Dataset, column: str) -> list[str]:
    """Each row's group as text, so that a YAML 21 and an integer or string column value 21 compare equal."""
    return [str(value) for value in split[column]]


def _carve_test_groups(
    train: datasets.Dataset, spec: DatasetSpec, task_id: str
) -> tuple[datasets.Dataset, datasets.Dataset]:
    """(train without the test groups, test): the rows of train whose group is one of `test_groups`."""
    _check_column(train, spec.group_column, task_id, "group_column")
    keys = _group_keys(train, spec.group_column)
    wanted = {str(group) for group in spec.test_groups}
    present = set(keys)
    missing = sorted(wanted - present)
    if missing:
        raise DataError(
            f"task {task_id!r}: dataset.test_groups: {missing} are not values of column {spec.group_column!r} in "
            f"train_split {spec.train_split!r}; it has {len(present)} group(s)"
        )
    if present <= wanted:
        raise DataError(
            f"task {task_id!r}: dataset.test_groups: every group of column {spec.group_column!r} is a test group; "
            "leave at least one for training"
        )
    rest = [i for i, key in enumerate(keys) if key not in wanted]
    test = [i for i, key in enumerate(keys) if key in wanted]
    return train.select(rest), train.select(test)


def _check_groups_disjoint(splits: dict[str, datasets.Dataset], column: str, task_id: str) -> None:
    """No value of the group column may be in two splits, however the splits were made."""
    groups = {}
    for name, split in splits.items():
        _check_column(split, column, task_id, "group_column")
        groups[name] = set(_group_keys(split, column))
    for first, second in combinations(splits, 2):
        shared = groups[first] & groups[second]
        if shared:
            raise DataError(
                f"task {task_id!r}: dataset.group_column: {len(shared)} group(s) of column {column!r} are in both "
                f"the {first} and the {second} split; rows of one group must stay in one split"
            )


def _label_names(train: datasets.Dataset, spec: DatasetSpec) -> list[str]:
    feature = train.features[spec.label_column]
    if spec.label_names:
        return list(spec.label_names)
    if isinstance(feature, datasets.ClassLabel):
        return list(feature.names)
    return sorted({str(value) for value in train[spec.label_column]})


def _encode_labels(
    split: datasets.Dataset, spec: DatasetSpec, label_names: list[str], task: TaskSpec, name: str = "train"
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
            raise DataError(f"task {task.task!r}: {unknown_label_problem(len(unknown), name, len(label_names))}")
        ids = [index[str(v)] for v in values]
    bad = [i for i in ids if not 0 <= i < len(label_names)]
    if bad:
        raise DataError(
            f"task {task.task!r}: dataset.label_column: {len(bad)} row(s) of the {name} split have a label id "
            f"outside 0..{len(label_names) - 1} (the {len(label_names)} classes)"
        )
    keep = _input_columns(spec)
    split = split.remove_columns([c for c in split.column_names if c not in keep])
    return split.add_column(LABEL, ids)


def _cap(split: datasets.Dataset, cap: int | None, seed: int) -> datasets.Dataset:
    if cap is None or cap >= len(split):
        return split
    return split.shuffle(seed=seed).select(range(cap))
