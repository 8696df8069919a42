"""Bad labels and empty data end in one located error naming the task, the field and the split, never in a
silent extra class, a one-class "ok" result or a traceback from `datasets`; no message repeats the file."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from benchmark.data.labels import class_problems, is_missing, missing_label_problem
from benchmark.data.loading import DataError, load_task_data
from benchmark.specs.registry import load_task_file

GOOD_ROWS = [("goal match", "sport"), ("bread soup", "food")] * 4


def csv_text(rows: list[tuple[str, str]]) -> str:
    return "text,label\n" + "".join(f"{text},{label}\n" for text, label in rows)


def task(tmp_path: Path, train: str, test: str, extra: str = "") -> object:
    """A csv text task over the given file contents."""
    (tmp_path / "train.csv").write_text(train)
    (tmp_path / "test.csv").write_text(test)
    spec = tmp_path / "t.yaml"
    spec.write_text(
        textwrap.dedent(f"""
            task: t
            modality: text
            dataset:
              path: csv
              data_files: {{train: "{{assets}}/train.csv", test: "{{assets}}/test.csv"}}
              input_column: text
              {extra}
        """).lstrip()
    )
    return load_task_file(spec)


def load_error(tmp_path: Path, train: str, test: str, extra: str = "") -> str:
    with pytest.raises(DataError) as caught:
        load_task_data(task(tmp_path, train, test, extra), 0, tmp_path)
    return str(caught.value)


def test_good_labels_load(tmp_path):
    data = load_task_data(task(tmp_path, csv_text(GOOD_ROWS), csv_text(GOOD_ROWS)), 0, tmp_path)
    assert data.label_names == ["food", "sport"]


def test_missing_labels_are_counted_never_a_class_of_their_own(tmp_path):
    message = load_error(tmp_path, csv_text(GOOD_ROWS) + "apple pie,\n" + "cheese,NaN\n", csv_text(GOOD_ROWS))
    assert message.startswith("task 't': dataset.label_column:") and "2 of 10 rows of the train split" in message


def test_missing_integer_labels_in_test_are_refused(tmp_path):
    train = "text,label\n" + "".join(f"w{i},{i % 2}\n" for i in range(8))
    message = load_error(tmp_path, train, "text,label\na,0\nb,\nc,1\n")
    assert "1 of 3 rows of the test split have no label" in message


def test_a_single_class_is_refused(tmp_path):
    rows = [("goal match", "sport")] * 6
    message = load_error(tmp_path, csv_text(rows), csv_text(rows))
    assert "task 't': dataset.label_column:" in message and "1 class(es)" in message


def test_a_class_absent_from_train_is_refused(tmp_path):
    test_rows = [*GOOD_ROWS, ("violin", "music")]
    message = load_error(tmp_path, csv_text(GOOD_ROWS), csv_text(test_rows), "label_names: [food, sport, music]")
    assert "1 class(es) of the test split (1 rows) never occur in the train split" in message


def test_labels_outside_the_declared_names_are_counted_not_quoted(tmp_path):
    test_rows = [*GOOD_ROWS, ("secret", "s3cr3t-value")]
    message = load_error(tmp_path, csv_text(GOOD_ROWS), csv_text(test_rows), "label_names: [food, sport]")
    assert "dataset.label_names: 1 distinct label value(s) of the test split" in message
    assert "s3cr3t" not in message


@pytest.mark.parametrize("train", ["", "text,label\n"], ids=["empty", "header-only"])
def test_empty_or_header_only_csv_names_the_task_and_field(tmp_path, train):
    message = load_error(tmp_path, train, csv_text(GOOD_ROWS))
    assert message.startswith("task 't': dataset.")
    assert "data_files" in message or "train_split" in message
    assert "no rows" in message


def test_a_system_file_is_never_quoted(tmp_path):
    secret = 'PRETTY_NAME="Top Secret OS"\nNAME="Secret"\nID=secret\n'
    message = load_error(tmp_path, secret, secret)
    assert "task 't': dataset.input_column: column 'text' is not in the dataset; it has 1 column(s)" in message
    assert "Secret" not in message and "PRETTY_NAME" not in message


def test_label_helpers():
    assert all(is_missing(v) for v in (None, float("nan"), "", "  "))
    assert not any(is_missing(v) for v in (0, "0", "a", 1.0))
    assert missing_label_problem(["a", "b"], "train", "label") is None
    assert class_problems({"train": [0, 1], "test": [0, 1]}, "label") == []
    assert len(class_problems({"train": [0], "test": [0, 2]}, "label")) == 2
