"""Data loading: labels from ClassLabel or strings, deterministic caps, clear errors."""

from __future__ import annotations

import pytest

from benchmark.data.loading import DataError, load_task_data
from benchmark.specs.registry import load_registry


@pytest.fixture(scope="module")
def registry(tiny_tasks):
    return load_registry(tiny_tasks)


def test_imagefolder_labels_come_from_classlabel(registry, tiny_assets):
    data = load_task_data(registry.tasks["colours"], seed=0, assets_dir=tiny_assets)
    assert data.label_names == ["blue", "green", "red"]
    assert len(data.train) == 36 and len(data.eval) == 18
    assert set(data.train["labels"]) == {0, 1, 2}


def test_string_labels_are_sorted_names(registry, tiny_assets):
    data = load_task_data(registry.tasks["topics"], seed=0, assets_dir=tiny_assets)
    assert data.label_names == ["food", "sport"]
    assert data.train.column_names == ["text", "labels"]


def test_train_cap_depends_on_seed_eval_cap_does_not(registry, tiny_assets):
    task = registry.tasks["colours"]
    a = load_task_data(task, 0, tiny_assets, max_train_samples=10, max_eval_samples=5)
    b = load_task_data(task, 0, tiny_assets, max_train_samples=10, max_eval_samples=5)
    c = load_task_data(task, 1, tiny_assets, max_train_samples=10, max_eval_samples=5)
    assert len(a.train) == 10 and a.train["labels"] == b.train["labels"]
    assert a.train._fingerprint != c.train._fingerprint
    assert a.eval["labels"] == c.eval["labels"]


def test_missing_split_and_column_are_named(registry, tiny_assets):
    task = registry.tasks["colours"]
    bad_split = task.model_copy(update={"dataset": task.dataset.model_copy(update={"eval_split": "tset"})})
    with pytest.raises(DataError, match="eval_split.*tset"):
        load_task_data(bad_split, 0, tiny_assets)
    bad_column = task.model_copy(update={"dataset": task.dataset.model_copy(update={"label_column": "lable"})})
    with pytest.raises(DataError, match="column 'lable' is not in the dataset.*did you mean 'label'"):
        load_task_data(bad_column, 0, tiny_assets)
