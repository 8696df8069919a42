"""Sample logs: one JSON Lines file per cell beside its result file, never inside it, removed when stale."""

from __future__ import annotations

import json

import pytest

from benchmark.results.samples import SAMPLES_SUFFIX, samples_path, write_samples
from benchmark.results.schema import Predictions, SampleLog
from benchmark.results.store import read_result, result_path, write_result
from testkit.records import make_result


def logged_result(**overrides):
    """An ok record of three test examples whose predictions carry a sample log."""
    samples = SampleLog(
        example_ids=[7, 2, 5],
        label_names=["cat", "dog"],
        probabilities=[[0.9, 0.1], [0.123456789, 0.876543211], [0.6, 0.4]],
    )
    predictions = Predictions(predicted=[0, 1, 0], references=[0, 1, 1], samples=samples)
    return make_result(predictions=predictions, **overrides)


def read_lines(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_the_sample_file_has_a_line_per_example_and_the_result_file_none_of_it(tmp_path):
    path = result_path(tmp_path, "s", "m", "pretrained", "t", "finetune", 0)
    result = logged_result()
    assert write_samples(path, result) == samples_path(path)
    write_result(path, result)
    assert samples_path(path).name == f"finetune-seed0{SAMPLES_SUFFIX}"
    lines = read_lines(samples_path(path))
    assert [line["example_id"] for line in lines] == [7, 2, 5]
    assert lines[1] == {
        "suite": "s",
        "model": "m",
        "init": "pretrained",
        "task": "t",
        "protocol": "finetune",
        "seed": 0,
        "example_id": 2,
        "reference": 1,
        "reference_label": "dog",
        "prediction": 1,
        "prediction_label": "dog",
        "probabilities": [0.123457, 0.876543],
    }
    assert (lines[2]["prediction_label"], lines[2]["reference_label"]) == ("cat", "dog")
    assert "samples" not in json.loads(path.read_text())["predictions"]
    assert read_result(path).predictions == Predictions(predicted=[0, 1, 0], references=[0, 1, 1])


@pytest.mark.parametrize(
    "record",
    [make_result(), logged_result(status="diverged", error="loss nan", metrics={})],
    ids=["without a sample log", "not finished"],
)
def test_a_rewritten_cell_without_a_sample_log_loses_its_old_sample_file(tmp_path, record):
    path = result_path(tmp_path, "s", "m", "pretrained", "t", "finetune", 0)
    write_samples(path, logged_result())
    assert write_samples(path, record) is None
    assert not samples_path(path).exists()


def test_a_sample_log_that_does_not_match_the_predictions_is_refused(tmp_path):
    result = logged_result()
    result.predictions.samples.example_ids.pop()
    with pytest.raises(ValueError):
        write_samples(tmp_path / "finetune-seed0.json", result)
    assert not (tmp_path / f"finetune-seed0{SAMPLES_SUFFIX}").exists()
