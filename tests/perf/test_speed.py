"""Smoke test of `perf/speed.py` and its part modules (`perf/speed_*.py`): every part runs at toy sizes, prints its
table and gives positive, finite figures.

No timing thresholds: the figures depend on the machine and its load, so only their sanity is checked. The
heavy pieces are swapped for tiny ones: part a's three models and part b's backbones for a linear head, and part
c's `accelerate launch` (one launch alone takes longer than this test's budget; tests/engine/test_distributed.py
covers launching) for a stub returning a schema-valid record, so its fixtures, table and ratio are still exercised.
Torch runs one intra-op thread here: on a shared machine, two threads contending for two busy cores make tiny
kernels orders of magnitude slower.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from benchmark.engine.search import DEFAULT_GRIDS, DEFAULT_PROBE_GRID, expand_grid
from benchmark.metrics.compute import compute_metrics
from benchmark.report.leaderboard import build_leaderboard
from benchmark.results.schema import CellResult
from perf import (
    speed,
    speed_a_throughput,
    speed_b_estimators,
    speed_c_processes,
    speed_common,
    speed_d_leaderboard,
    speed_e_report,
    speed_e_search,
    speed_f_probe_grid,
)
from testkit.loop_models import LinearHead

pytestmark = pytest.mark.integration  # runs the suite's search, builds real assets and a leaderboard

TINY_CASE = speed_a_throughput.ModelCase(
    "linear head",
    4,
    lambda: LinearHead(8, speed_common.NUM_CLASSES),
    lambda n, g: {"features": torch.randn(n, 8, generator=g)},
)
TOY = dataclasses.replace(
    speed_common.QUICK,
    warmup_steps=1,
    measured_steps=2,
    probe_examples=256,
    probe_epochs=1,
    estimator_n=300,
    estimator_dims=(16,),
    distributed_per_class=2,
    leaderboard_grid=(2, 2, 1),
    search=dataclasses.replace(speed_common.QUICK.search, classes=3, train_per_class=10, test_per_class=3),
    grid_examples=(128, 32),
    grid_dim=16,
    grid_epochs=2,
)


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def positive_finite(*values: float) -> bool:
    return all(math.isfinite(value) and value > 0 for value in values)


def table_rows(output: str, first_cell: str) -> list[str]:
    """The printed markdown-table rows whose first cell starts with `first_cell`."""
    return [line for line in output.splitlines() if line.startswith(f"| {first_cell}")]


def test_a_training_throughput_rows(monkeypatch, capsys):
    monkeypatch.setattr(speed_a_throughput, "MODEL_CASES", (TINY_CASE,))
    results = speed_a_throughput.report_throughput(TOY)
    output = capsys.readouterr().out
    assert [r.name for r in results] == ["linear head", results[-1].name]
    assert results[-1].name.startswith("linear probe, 512-d features: train_heads K=1")
    assert all(positive_finite(*r.suite, *r.plain, r.ratio) for r in results)
    assert len(table_rows(output, "linear head")) == 1 and len(table_rows(output, "linear probe")) == 1
    assert "per-step cost of train_heads (K=1)" in output


def test_every_model_case_builds_and_gives_class_logits():
    for case in speed_a_throughput.MODEL_CASES:
        inputs, labels = speed_a_throughput.synthetic_batches(case, 2, seed=0)
        with torch.inference_mode():
            logits = speed_a_throughput.seeded_model(case, 0).eval()(inputs)
        assert logits.shape == (2, speed_common.NUM_CLASSES) and labels.shape == (2,)


def test_b_estimator_rows(monkeypatch, capsys):
    monkeypatch.setattr(speed_b_estimators, "FEATURE_BACKBONES", {16: TINY_CASE})
    monkeypatch.setattr(speed_b_estimators, "BACKBONE_STEPS", (1, 2))
    speed_b_estimators.report_estimators(TOY)
    output = capsys.readouterr().out
    assert "D = 16" in output
    assert {row.split("|")[1].strip() for row in table_rows(output, "")} >= set(speed_b_estimators.ESTIMATORS)
    speed_up = float(output.split("LogME speed-up over logme_reference: ")[1].split("x")[0])
    share = float(output.split("estimate_all = ")[1].split(" %")[0])
    assert positive_finite(speed_up, share)


def test_every_estimator_dimension_has_a_backbone_with_features_of_that_size():
    for d in (*speed_common.FULL.estimator_dims, *speed_common.QUICK.estimator_dims):
        model = speed_a_throughput.seeded_model(speed_b_estimators.FEATURE_BACKBONES[d], 0).eval()
        inputs, _ = speed_a_throughput.synthetic_batches(speed_b_estimators.FEATURE_BACKBONES[d], 1, seed=0)
        with torch.inference_mode():
            assert model.features(inputs).shape == (1, d)


def test_c_distributed_rows_from_stubbed_launches(monkeypatch, capsys, tmp_path):
    record = speed_d_leaderboard.synthetic_result(0, "pretrained", 0, "finetune", 0, np.random.default_rng(0))
    assert record.status == "ok"
    launched = []

    def launch(tasks, assets, output, processes, epochs, init):
        assert (tasks / "suites" / "tiny.yaml").is_file()
        assert len(list((assets / "colours" / "train").rglob("*.png"))) == TOY.distributed_per_class * 3
        launched.append(processes)
        return speed_c_processes.Launch(processes, record, 1.0 + processes)

    monkeypatch.setattr(speed_c_processes, "launch_finetune", launch)
    speed_c_processes.report_distributed(TOY, tmp_path)
    output = capsys.readouterr().out
    assert sorted(launched) == [1, 2]
    assert len(table_rows(output, "1 ")) == 1 and len(table_rows(output, "2 ")) == 1
    assert float(output.split("throughput ratio 2 processes / 1 process: ")[1].split()[0]) == 1.0


def test_d_synthetic_results_are_schema_v2_with_reproducible_predictions():
    rng = np.random.default_rng(1)
    for protocol in ("finetune", "linear_probe"):
        result = speed_d_leaderboard.synthetic_result(3, "pretrained", 2, protocol, 1, rng, seeds=2)
        CellResult.model_validate_json(result.model_dump_json())
        assert result.schema_version == 2 and result.status == "ok"
        assert len(result.predictions.predicted) == result.setup.num_test_scored == 200
        assert result.metrics == pytest.approx(
            compute_metrics(
                list(speed_common.SYNTHETIC_METRICS), result.predictions.predicted, result.predictions.references
            ),
            abs=1e-12,
        )
        grid = DEFAULT_PROBE_GRID if result.protocol == "linear_probe" else DEFAULT_GRIDS["timm", result.init]
        assert len(result.search.candidates) == len(expand_grid(grid)) and result.search.seeds == [0, 1]
        assert result.validation_metrics["accuracy"] == result.search.candidates[result.search.chosen].scores[-1][1]
        assert result.curve[-1].score == pytest.approx(result.validation_metrics["accuracy"])
        assert result.convergence is not None
    other_model = speed_d_leaderboard.synthetic_result(4, "pretrained", 2, "finetune", 0, rng)
    assert other_model.predictions.references == result.predictions.references  # the task's fixed test examples


def test_d_leaderboard_rows(tmp_path, capsys):
    speed_d_leaderboard.report_leaderboard(TOY, tmp_path)
    output = capsys.readouterr().out
    assert "Leaderboard build over 16 synthetic result files" in output
    seconds = float(output.split("build_leaderboard: ")[1].split()[0])
    assert positive_finite(seconds)


def test_leaderboard_build_is_profiled(tmp_path):
    results, out = tmp_path / "results", tmp_path / "leaderboard"
    assert speed_d_leaderboard.write_synthetic_results(results, models=2, tasks=2, seeds=1) == 2 * 2 * 2 * 2
    stats = speed_d_leaderboard.profile_call(build_leaderboard, results, out)
    assert positive_finite(stats.total_tt)
    assert "build_leaderboard" in speed_d_leaderboard.call_tree(stats, "build_leaderboard")[0]
    assert len(speed_d_leaderboard.top_self_time(stats, count=3)) == 3


def test_e_search_rows(tmp_path, capsys):
    comparisons = speed_e_report.report_search(TOY, tmp_path)
    output = capsys.readouterr().out
    assert [c.name for c in comparisons] == ["test_resnet-32px on noisy-images-3", "bert-2x32 on word-topics-3"]
    for comparison in comparisons:
        assert len(comparison.configs) == 8 and comparison.budgets == [1, 3, 8]  # the default rate, 3
        assert comparison.step_ratio == (8 * 1 + 3 * 2 + 1 * 5) / 8
        assert positive_finite(comparison.search_wall_s, *comparison.full_wall_s, comparison.ratio)
        assert all(math.isfinite(score) for score in comparison.full_scores)
        assert len(table_rows(output, comparison.name)) == 2  # the search table's row, the selection rules' row
        assert f"where the time went, {comparison.name}" in output
        assert sum(comparison.search_stages.values()) == pytest.approx(comparison.search_wall_s)
        # every wrapped function is one the search calls, so none is timed where the engine no longer looks it up;
        # disk checkpoints are the exception: a run this short keeps its rung states in memory only
        called = {stage for stage, seconds in comparison.search_stages.items() if seconds > 0}
        assert called >= set(speed_e_search.STAGES) - {"checkpoint saves"}
        # the two selection rules on the same grid: the rank rule is the search above, the noise rule keeps more
        rank, noise = comparison.rules["rank"], comparison.rules["noise"]
        assert rank.chosen == comparison.chosen and comparison.rule_step_ratio("rank") == comparison.step_ratio
        assert comparison.step_ratio <= comparison.rule_step_ratio("noise") <= (8 * 1 + 6 * 2 + 2 * 5) / 8
        assert positive_finite(noise.wall_s) and comparison.rule_regret("noise") >= 0
        assert len(comparison.full_correct) == 8 and all(len(seeds) == 1 for seeds in comparison.full_correct)
    assert len(table_rows(output, "checkpoint saves")) == 2
    assert "synthetic tasks: successive halving chose the full grid's configuration on" in output
    assert "synthetic tasks, noise rule: within the noise of the full grid's best on" in output
    assert not list(tmp_path.rglob("search.json"))  # every search cleaned up its work folder


def test_e_every_stage_names_an_engine_function():
    for owner, attribute in speed_e_search.STAGES.values():
        assert callable(getattr(owner, attribute, None)), f"{owner.__name__}.{attribute}"


def test_e_demo_tasks_pair_each_task_with_one_model_of_its_modality(tmp_path):
    subjects, setting = speed_e_search.demo_subjects()
    assert len(subjects) == len({s.task.task for s in subjects}) >= 6
    assert all(s.model.modality == s.task.modality for s in subjects)
    assert setting.seeds and setting.caps.train
    missing = speed_e_search.missing_assets(subjects[0], tmp_path)
    assert missing and all(path.startswith(str(tmp_path)) for path in missing)


def test_f_probe_grid_rows(capsys):
    comparison = speed_f_probe_grid.report_probe_grid(TOY)
    output = capsys.readouterr().out
    assert [run.heads for run in comparison.single + comparison.grid] == [1, len(expand_grid(DEFAULT_PROBE_GRID))]
    assert all(positive_finite(r.wall_s, r.train_s, r.eval_s) for r in comparison.single + comparison.grid)
    assert (
        len(table_rows(output, "1 ")) == 1 and len(table_rows(output, f"{len(expand_grid(DEFAULT_PROBE_GRID))} ")) == 1
    )
    assert positive_finite(comparison.ratio) and f"{comparison.ratio:.2f}" in output


@pytest.mark.parametrize("argv", [["--parts", "az"], ["--parts", "a", "--demo-tasks"]])
def test_command_line_refuses_unknown_parts_and_demo_tasks_without_part_e(argv, capsys):
    with pytest.raises(SystemExit):
        speed.main(argv)
    assert "--parts" in capsys.readouterr().err
