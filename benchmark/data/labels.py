"""Checks of a task's label column, so that bad labels end in a located error instead of an "ok" result.

A missing label (None, NaN, an empty string) would otherwise become a class of its own ("None", "nan"), a train
split of one class makes every metric trivially perfect, and a class that only the validation or test split
holds can never be predicted. Each is a `DataError` naming the task, the field and the split, and counting the
rows concerned; none repeats a value read from the data (the file could be anything the task file names).
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def is_missing(value: object) -> bool:
    """Whether a label cell holds no label: None, a float NaN, or an empty or blank string."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return isinstance(value, str) and not value.strip()


def missing_label_problem(values: Sequence[object], split: str, column: str) -> str | None:
    """A message when some rows of a split have no label, counting them; None when every row has one."""
    missing = sum(1 for value in values if is_missing(value))
    if not missing:
        return None
    return (
        f"dataset.label_column: {missing} of {len(values)} rows of the {split} split have no label in column "
        f"{column!r} (empty, null or NaN); remove those rows or give them a label"
    )


def class_problems(ids_by_split: dict[str, Sequence[int]], column: str) -> list[str]:
    """Messages for a train split with fewer than two classes, and for classes that occur in the validation or
    test split but never in train (a model cannot learn them); counts only, never the values."""
    train = set(ids_by_split.get("train", ()))
    problems = []
    if len(train) < 2:
        problems.append(
            f"dataset.label_column: column {column!r} of the train split holds {len(train)} class(es); a "
            "classification task needs at least two (every metric of a one-class task is trivially perfect)"
        )
    for split, ids in ids_by_split.items():
        unseen = set(ids) - train
        if split != "train" and unseen and train:
            rows = sum(1 for label in ids if label in unseen)
            problems.append(
                f"dataset.label_column: {len(unseen)} class(es) of the {split} split ({rows} rows) never occur in "
                "the train split; a model cannot learn them"
            )
    return problems


def unknown_label_problem(unknown: int, split: str, declared: int) -> str:
    """The message for label values of a split that name none of the declared classes."""
    return (
        f"dataset.label_names: {unknown} distinct label value(s) of the {split} split are not among the "
        f"{declared} declared label_names"
    )
