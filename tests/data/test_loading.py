"""Data loading: labels from ClassLabel or strings, three disjoint splits, deterministic caps, clear errors."""

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
    # 36 training images, 12 per class: 20 % of each class (2.4 -> 2, the minimum) is held out as validation
    assert (len(data.train), len(data.validation), len(data.test)) == (30, 6, 18)
    assert set(data.train["labels"]) == {0, 1, 2}
    assert sorted(data.validation["labels"]) == [0, 0, 1, 1, 2, 2]


def test_string_labels_are_sorted_names(registry, tiny_assets):
    data = load_task_data(registry.tasks["topics"], seed=0, assets_dir=tiny_assets)
    assert data.label_names == ["food", "sport"]
    assert data.train.column_names == ["text", "labels"]


def test_train_cap_depends_on_seed_eval_cap_does_not(registry, tiny_assets):
    task = registry.tasks["colours"]
    a = load_task_data(task, 0, tiny_assets, max_train_samples=10, max_validation_samples=4, max_eval_samples=5)
    b = load_task_data(task, 0, tiny_assets, max_train_samples=10, max_validation_samples=4, max_eval_samples=5)
    c = load_task_data(task, 1, tiny_assets, max_train_samples=10, max_validation_samples=4, max_eval_samples=5)
    assert len(a.train) == 10 and a.train["labels"] == b.train["labels"]
    assert a.train._fingerprint != c.train._fingerprint
    assert len(a.validation) == 4 and a.validation._fingerprint == c.validation._fingerprint
    assert len(a.test) == 5 and a.test._fingerprint == c.test._fingerprint


def test_validation_is_a_stratified_slice_of_train_disjoint_from_it_and_the_same_for_every_seed(registry, tiny_assets):
    task = registry.tasks["colours"]
    runs = [load_task_data(task, seed, tiny_assets) for seed in (0, 1)]
    for data in runs:
        train_files = {image.filename for image in data.train["image"]}
        validation_files = {image.filename for image in data.validation["image"]}
        assert train_files and validation_files and not train_files & validation_files
    assert runs[0].validation._fingerprint == runs[1].validation._fingerprint


def test_a_named_validation_split_is_used_as_is(registry, tiny_assets):
    task = registry.tasks["topics"]
    spec = task.dataset.model_copy(update={"validation_split": "test[:6]", "eval_split": "test[6:]"})
    data = load_task_data(task.model_copy(update={"dataset": spec}), 0, tiny_assets)
    assert (len(data.train), len(data.validation), len(data.test)) == (24, 6, 6)


def test_missing_split_and_column_are_named(registry, tiny_assets):
    task = registry.tasks["colours"]
    bad_split = task.model_copy(update={"dataset": task.dataset.model_copy(update={"eval_split": "tset"})})
    with pytest.raises(DataError, match="eval_split.*tset"):
        load_task_data(bad_split, 0, tiny_assets)
    bad_column = task.model_copy(update={"dataset": task.dataset.model_copy(update={"label_column": "lable"})})
    with pytest.raises(DataError, match="column 'lable' is not in the dataset.*did you mean 'label'"):
        load_task_data(bad_column, 0, tiny_assets)
