"""Impossible numbers are never published: a result file with a metric outside its range or counts that disagree
is refused by name, like a corrupt file, by every reader (so the leaderboard refuses it and a rerun redoes it),
and the suite never writes one."""

from __future__ import annotations

import json
import math

import pytest

from benchmark.report.leaderboard import LeaderboardError, load_results
from benchmark.results.publish import public_result, publishable
from benchmark.results.schema import Predictions, ResultFileError
from benchmark.results.store import read_result, write_result
from benchmark.results.validity import result_problems
from testkit.records import make_result
from testkit.suite_records import full_result


def test_a_real_record_has_no_problems():
    assert (
        result_problems(
            full_result(
                model="resnet_tiny", init="pretrained", task="colours", modality="vision", protocol="finetune", seed=0
            )
        )
        == []
    )
    assert result_problems(make_result(metrics={"matthews_correlation": -0.4, "accuracy": 0.1})) == []


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"metrics": {"accuracy": 7.5}}, "metrics.accuracy"),
        ({"metrics": {"accuracy": 0.5, "f1_macro": -0.1}}, "metrics.f1_macro"),
        ({"metrics": {"accuracy": 0.5, "matthews_correlation": 1.5}}, "metrics.matthews_correlation"),
        ({"metrics": {"accuracy": math.nan}}, "metrics.accuracy"),
        ({"chance": {"accuracy": 2.0}}, "chance.accuracy"),
        ({"validation_metrics": {"accuracy": -1.0}}, "validation_metrics.accuracy"),
        ({"metrics": {}}, "metrics"),
    ],
)
def test_out_of_range_metrics_are_named(overrides, field):
    (problem,) = result_problems(make_result(**overrides))
    assert problem.startswith(f"field '{field}'")


def test_counts_that_disagree_are_named():
    record = full_result(
        model="resnet_tiny", init="pretrained", task="colours", modality="vision", protocol="finetune", seed=0
    )
    too_many = record.model_copy(update={"setup": record.setup.model_copy(update={"num_test_scored": 101})})
    assert any("num_test_scored" in p for p in result_problems(too_many))
    one_class = record.model_copy(update={"setup": record.setup.model_copy(update={"num_labels": 1})})
    assert any("setup.num_labels" in p for p in result_problems(one_class))
    wrong = Predictions(predicted=[0, 9, 1], references=[0, 1, 0])
    bad_ids = record.model_copy(update={"predictions": wrong})
    assert any("label ids outside" in p for p in result_problems(bad_ids))


def test_the_leaderboard_refuses_an_out_of_range_file_by_name(tmp_path):
    good, bad = tmp_path / "s" / "m" / "t" / "finetune-seed0.json", tmp_path / "s" / "m2" / "t" / "finetune-seed0.json"
    write_result(good, make_result())
    write_result(bad, make_result(model="m2"))
    data = json.loads(bad.read_text())
    data["metrics"]["accuracy"] = 7.5  # schema-valid, impossible
    bad.write_text(json.dumps(data))
    with pytest.raises(ResultFileError, match=r"finetune-seed0.json: field 'metrics.accuracy': 7.5 is outside"):
        read_result(bad)
    with pytest.raises(LeaderboardError) as refused:
        load_results(tmp_path)
    assert str(bad) in str(refused.value) and "1 bad result file(s)" in str(refused.value)


def test_the_suite_never_writes_an_impossible_record():
    written = publishable(make_result(metrics={"accuracy": 7.5}))
    assert written.status == "failed" and written.metrics == {} and "impossible result" in written.error
    assert result_problems(written) == []


def test_published_records_carry_no_absolute_path():
    record = make_result(
        status="failed",
        metrics={},
        error="DataError: task 't': dataset.data_files '/etc/os-release': cannot be loaded",
        specs={"task": {"dataset": {"path": "csv", "data_files": {"train": "/etc/os-release"}}}},
    )
    text = public_result(record).model_dump_json()
    assert "/etc" not in text and "<local>/os-release" in text


@pytest.mark.integration
def test_a_rerun_repairs_an_out_of_range_file(tmp_path, tiny_tasks, tiny_assets, capsys):
    from benchmark.report.leaderboard import main as leaderboard_main
    from benchmark.run import main
    from testkit.fixtures import tiny_run_args

    one_cell = ["--models", "tiny-resnet", "--tasks", "colours", "--protocols", "linear_probe", "--no-scratch"]
    arguments = tiny_run_args(tiny_tasks, tiny_assets, tmp_path, *one_cell, "--probe-epochs", "1", "--no-similarity")
    assert main(arguments) == 0
    path = tmp_path / "tiny" / "tiny-resnet" / "colours" / "linear_probe-seed0.json"
    data = json.loads(path.read_text())
    data["metrics"]["accuracy"] = 7.5
    path.write_text(json.dumps(data))
    capsys.readouterr()
    assert leaderboard_main(["--results", str(tmp_path), "--out", str(tmp_path / "board")]) != 0
    assert f"{path}: field 'metrics.accuracy': 7.5 is outside" in capsys.readouterr().err
    assert main(arguments) == 0  # the impossible file is an unfinished cell: run again, written whole
    assert 0 <= read_result(path).metrics["accuracy"] <= 1
    assert leaderboard_main(["--results", str(tmp_path), "--out", str(tmp_path / "board")]) == 0


def test_a_diverged_curve_may_end_in_nan_but_not_a_finished_one():
    curve = [{"step": 1, "epoch": 0.5, "train_elapsed_s": 1.0, "score": math.nan, "metrics": {}}]
    assert result_problems(make_result(status="diverged", metrics={}, curve=curve)) == []
    (problem,) = result_problems(make_result(curve=curve))
    assert problem.startswith("field 'curve.0.score': nan is not a finite number")
