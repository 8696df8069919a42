"""The zoo's task YAML (`tasks/zoo/`): each file validates, follows the demo task of its modality, and names
data that `python -m benchmark.assets.prepare` builds (class folders of the demo's image datasets, or a
dataset of its own for text tasks).
"""

from __future__ import annotations

import inspect

import pytest

from benchmark.assets import demo_data
from benchmark.assets.demo_data import images, mail
from benchmark.specs.registry import collect_registry, load_task_file
from benchmark.utils.paths import DEFAULT_TASKS_DIR

ZOO_DIR = DEFAULT_TASKS_DIR / "zoo"
DIGITS = tuple(str(d) for d in range(10))
VISION_TASKS = {  # task -> (demo dataset it reads, its classes)
    "fashion_clothing": ("fashion_mnist", ("t-shirt_top", "pullover", "dress", "coat", "shirt")),
    "fashion_gear": ("fashion_mnist", ("trouser", "sandal", "sneaker", "bag", "ankle_boot")),
    "digits_low": ("digits", DIGITS[:5]),
    "digits_high": ("digits", DIGITS[5:]),
}
TEXT_TASKS = ("fortunes_language", "fortunes_topics_b", "mail_groups")
DEMO_OF_MODALITY = {"vision": "fashion_mnist", "text": "fortunes"}


@pytest.fixture(scope="module")
def registry():
    registry, problems = collect_registry(DEFAULT_TASKS_DIR)
    assert not problems
    return registry


def test_the_zoo_folder_holds_exactly_the_zoo_tasks() -> None:
    assert sorted(p.stem for p in ZOO_DIR.glob("*.yaml")) == sorted([*VISION_TASKS, *TEXT_TASKS])
    for path in ZOO_DIR.glob("*.yaml"):
        assert load_task_file(path).task == path.stem


OLD_DEMO_GRIDS = {  # learning rates: pretrained, scratch
    "vision": ([0.001, 0.003, 0.01], [0.001, 0.003]),
    "text": ([0.00003, 0.0001, 0.0003], [0.0003, 0.001]),
}


@pytest.mark.parametrize("task", [*VISION_TASKS, *TEXT_TASKS])
def test_an_old_zoo_task_keeps_the_demo_settings_its_committed_run_used(registry, task: str) -> None:
    spec = registry.tasks[task]
    assert registry.task_files[task] == ZOO_DIR / f"{task}.yaml"
    demo = registry.tasks[DEMO_OF_MODALITY[spec.modality]]
    assert spec.preprocessing == demo.preprocessing
    # the old zoo is history (leaderboard/zoo_old): its tasks keep the grids its committed results ran with, the
    # demo's of that time, while the demo's own grids and budgets moved on (#23)
    finetune, scratch = OLD_DEMO_GRIDS[spec.modality]
    assert (spec.search.finetune.learning_rate, spec.search.finetune_scratch.learning_rate) == (finetune, scratch)
    assert spec.training == type(spec.training)()
    assert (spec.max_train_samples, spec.max_validation_samples, spec.max_eval_samples) == (None, None, None)
    assert spec.main_metric == "accuracy" and len(spec.description) > 40


@pytest.mark.parametrize("task", VISION_TASKS)
def test_a_vision_task_lists_class_folders_of_a_demo_imagefolder(registry, task: str) -> None:
    source, classes = VISION_TASKS[task]
    all_classes = {"fashion_mnist": images.FASHION_MNIST_CLASSES, "digits": DIGITS}[source]
    dataset = registry.tasks[task].dataset
    assert dataset.path == "imagefolder" and dataset.data_dir is None and source in demo_data.DATASET_BUILDERS
    assert set(classes) <= set(all_classes)
    assert dataset.data_files == {
        split: [f"{{assets}}/data/{source}/{split}/{name}/*.png" for name in classes] for split in ("train", "test")
    }


def test_the_vision_halves_split_their_source_in_two() -> None:
    for first, second in (("fashion_clothing", "fashion_gear"), ("digits_low", "digits_high")):
        (source, a), (_, b) = VISION_TASKS[first], VISION_TASKS[second]
        assert not set(a) & set(b)
        assert sorted(a + b) == sorted({"fashion_mnist": images.FASHION_MNIST_CLASSES, "digits": DIGITS}[source])


@pytest.mark.parametrize("task", TEXT_TASKS)
def test_a_text_task_reads_the_dataset_prepared_under_its_name(registry, task: str) -> None:
    dataset = registry.tasks[task].dataset
    assert task in demo_data.DATASET_BUILDERS
    assert (dataset.path, dataset.input_column, dataset.label_column) == ("csv", "text", "label")
    assert dataset.data_files == {split: f"{{assets}}/data/{task}/{split}.csv" for split in ("train", "test")}


def test_mail_groups_leaves_out_the_mails_of_the_prepared_spam_assassin_build() -> None:
    """The exclusion's parameters are those `prepare` builds spam_assassin with (its defaults)."""
    defaults = {
        name: parameter.default
        for name, parameter in inspect.signature(mail.build_spam_assassin).parameters.items()
        if name in mail.SPAM_ASSASSIN_DEFAULTS
    }
    assert defaults == mail.SPAM_ASSASSIN_DEFAULTS
    groups = inspect.signature(mail.build_mail_groups).parameters["disjoint_from_spam_assassin"].default
    assert groups == mail.SPAM_ASSASSIN_DEFAULTS


def test_the_zoo_validates_from_the_command_line(capsys) -> None:
    from benchmark.run import main

    assert main(["--validate"]) == 0
    assert "are valid" in capsys.readouterr().out
