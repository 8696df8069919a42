"""Group splits: rows sharing a `group_column` value (a speaker) never straddle train, validation and test.

The fixture is a one-split csv of 8 speakers x 2 topics x 3 rows; each text starts with its speaker, so the
splits' speakers can be read back after the loader has dropped every column but the input and the labels.
"""

from __future__ import annotations

import csv
import textwrap
from itertools import combinations
from pathlib import Path

import pytest

from benchmark.data.loading import DataError, load_task_data
from benchmark.specs.registry import SpecError, load_task_file

SPEAKERS = range(1, 9)
ROWS_PER_SPEAKER = 6
REPO = Path(__file__).resolve().parents[2]


def _write_csv(path: Path, speakers) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label", "speaker"])
        for speaker in speakers:
            for topic in ("food", "sport"):
                for take in range(ROWS_PER_SPEAKER // 2):
                    writer.writerow([f"speaker{speaker} talks {topic} {take}", topic, speaker])


@pytest.fixture(scope="module")
def assets(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("grouped")
    _write_csv(root / "one_split.csv", SPEAKERS)
    _write_csv(root / "named" / "train.csv", range(1, 7))
    _write_csv(root / "named" / "test.csv", range(7, 9))
    _write_csv(root / "named" / "test_shared.csv", [1, 7, 8])
    return root


def _task(tmp_path: Path, dataset: str, extra: str = ""):
    """A task file with the given dataset block (flat YAML lines), validated as the registry validates it."""
    path = tmp_path / "speakers.yaml"
    lines = [line.strip() for line in dataset.strip().splitlines()]
    text = "task: speakers\nmodality: text\ndataset:\n" + "\n".join(f"  {line}" for line in lines if line)
    path.write_text(text + "\n" + textwrap.dedent(extra))
    return load_task_file(path)


ONE_SPLIT = """
    path: csv
    data_files: {train: "{assets}/one_split.csv"}
    input_column: text
    group_column: speaker
"""

NAMED = """
    path: csv
    data_files: {train: "{assets}/named/train.csv", test: "{assets}/named/test.csv"}
    input_column: text
    group_column: speaker
"""


def _speakers(split) -> set[int]:
    return {int(text.split()[0].removeprefix("speaker")) for text in split["text"]}


def _splits(data) -> dict[str, set[int]]:
    return {name: _speakers(data.split(name)) for name in ("train", "validation", "test")}


def test_test_groups_carve_the_test_split_and_no_speaker_straddles_two_splits(tmp_path, assets):
    task = _task(tmp_path, ONE_SPLIT + "test_groups: [7, 8]")
    assert task.dataset.eval_split is None
    for seed in (0, 1, 2):
        data = load_task_data(task, seed, assets)
        speakers = _splits(data)
        assert speakers["test"] == {7, 8}
        for first, second in combinations(speakers, 2):
            assert not speakers[first] & speakers[second], (first, second)
        assert all(speakers.values()) and all(len(data.split(name)) for name in ("train", "validation", "test"))
        assert len(data.train) + len(data.validation) + len(data.test) == len(SPEAKERS) * ROWS_PER_SPEAKER
        assert set(data.test["labels"]) == {0, 1}


def test_the_group_validation_holdout_is_the_same_for_every_seed_and_holds_whole_groups(tmp_path, assets):
    task = _task(tmp_path, ONE_SPLIT + "test_groups: [7, 8]")
    runs = [load_task_data(task, seed, assets) for seed in (0, 1, 2)]
    assert len({_speakers(data.validation).__repr__() for data in runs}) == 1
    assert len({data.validation._fingerprint for data in runs}) == 1
    assert len({data.test._fingerprint for data in runs}) == 1
    held = _speakers(runs[0].validation)
    assert len(runs[0].validation) == len(held) * ROWS_PER_SPEAKER  # every row of a held-out speaker


@pytest.mark.parametrize(("fraction", "groups"), [(0.2, 1), (0.3, 2), (0.5, 3), (0.95, 5)])
def test_the_validation_groups_hold_about_the_validation_fraction_of_train_rows(tmp_path, assets, fraction, groups):
    # 6 training speakers of 6 rows: the nearest whole-group count to fraction x 36 rows, leaving one to train on
    task = _task(tmp_path, ONE_SPLIT + "test_groups: [7, 8]", f"validation_fraction: {fraction}\n")
    data = load_task_data(task, 0, assets)
    assert len(_speakers(data.validation)) == groups
    assert len(_speakers(data.train)) == 6 - groups


def test_test_groups_are_compared_as_text(tmp_path, assets):
    as_ints = load_task_data(_task(tmp_path, ONE_SPLIT + "test_groups: [7, 8]"), 0, assets)
    as_strings = load_task_data(_task(tmp_path, ONE_SPLIT + 'test_groups: ["7", "8"]'), 0, assets)
    assert as_ints.test["text"] == as_strings.test["text"]


def test_without_test_groups_validation_is_still_held_out_by_group(tmp_path, assets):
    task = _task(tmp_path, NAMED)
    speakers = _splits(load_task_data(task, 0, assets))
    assert speakers["test"] == {7, 8} and speakers["validation"] and speakers["train"]
    assert not speakers["train"] & speakers["validation"]


def test_named_splits_that_share_a_group_are_refused(tmp_path, assets):
    task = _task(
        tmp_path,
        """
        path: csv
        data_files: {train: "{assets}/named/train.csv", test: "{assets}/named/test_shared.csv"}
        input_column: text
        group_column: speaker
        """,
    )
    with pytest.raises(DataError, match=r"dataset.group_column: 1 group\(s\) of column 'speaker' are in both"):
        load_task_data(task, 0, assets)


def test_an_unknown_group_column_is_named_with_the_columns_there_are(tmp_path, assets):
    task = _task(tmp_path, ONE_SPLIT.replace("group_column: speaker", "group_column: speakr") + "test_groups: [7]")
    with pytest.raises(
        DataError, match=r"dataset.group_column: column 'speakr' is not in the dataset; it has .*did you mean 'speaker'"
    ):
        load_task_data(task, 0, assets)
    without_test_groups = _task(tmp_path, NAMED.replace("group_column: speaker", "group_column: speakr"))
    with pytest.raises(DataError, match="dataset.group_column: column 'speakr' is not in the dataset"):
        load_task_data(without_test_groups, 0, assets)


def test_test_groups_that_are_not_in_the_column_are_named_with_how_many_there_are(tmp_path, assets):
    """The spec's own values are named; the column's are counted, never listed (they are the file's content)."""
    task = _task(tmp_path, ONE_SPLIT + "test_groups: [7, 99]")
    expected = r"dataset.test_groups: \['99'\] are not values of column 'speaker'.*it has 8 group\(s\)$"
    with pytest.raises(DataError, match=expected):
        load_task_data(task, 0, assets)


def test_every_group_in_test_or_one_group_left_for_train_and_validation_is_refused(tmp_path, assets):
    every = _task(tmp_path, ONE_SPLIT + f"test_groups: {list(SPEAKERS)}")
    with pytest.raises(DataError, match="every group of column 'speaker' is a test group"):
        load_task_data(every, 0, assets)
    one_left = _task(tmp_path, ONE_SPLIT + f"test_groups: {list(SPEAKERS)[1:]}")
    with pytest.raises(DataError, match="has 1 group.*needs at least two"):
        load_task_data(one_left, 0, assets)


@pytest.mark.parametrize(
    ("dataset", "field", "message"),
    [
        ("path: csv\ninput_column: text\ntest_groups: [7]", "dataset.test_groups", "needs group_column"),
        (ONE_SPLIT + "test_groups: [7]\neval_split: test", "dataset.test_groups", "remove eval_split ('test')"),
        (ONE_SPLIT + "test_groups: []", "dataset.test_groups", "at least 1 item"),
        (ONE_SPLIT + "eval_split: null", "dataset", "eval_split is null"),
    ],
)
def test_inconsistent_group_fields_are_reported_with_the_file_and_the_field(tmp_path, dataset, field, message):
    with pytest.raises(SpecError) as caught:
        _task(tmp_path, dataset)
    (problem,) = caught.value.problems
    assert problem.startswith(str(tmp_path / "speakers.yaml")) and f"field {field!r}" in problem and message in problem


def test_ravdess_is_split_on_the_actor_column():
    dataset = load_task_file(REPO / "tasks" / "audio" / "ravdess_emotion.yaml").dataset
    assert dataset.group_column == "actor" and dataset.test_groups and dataset.eval_split is None
    assert "[" not in dataset.train_split  # the whole split: test and validation are carved by actor, not by row
