"""The CLI end to end on the tiny suite: every modality, both protocols, scratch twins, resume, leaderboard."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from benchmark.engine.suite import default_cpu_threads
from benchmark.results.store import find_result_files, read_result, read_similarity
from benchmark.run import main
from testkit.fixtures import RUN_SCRIPT, tiny_run_args

pytestmark = pytest.mark.integration  # runs the suite, launches processes or builds real assets

TRAINING_ARGS = ["--epochs", "2", "--probe-epochs", "20"]


@pytest.fixture(scope="module")
def tiny_run(tiny_tasks, tiny_assets, tmp_path_factory):
    output = tmp_path_factory.mktemp("results")
    args = tiny_run_args(tiny_tasks, tiny_assets, output, *TRAINING_ARGS)
    assert main(args) == 0
    return output, args


def test_every_cell_writes_a_complete_result(tiny_run):
    output, _ = tiny_run
    results = [read_result(p) for p in find_result_files(output / "tiny")]
    assert len(results) == 16
    assert {(r.modality, r.init, r.protocol) for r in results} == {
        (m, i, p)
        for m in ("vision", "text", "audio")
        for i in ("pretrained", "scratch")
        for p in ("finetune", "linear_probe")
    }
    for result in results:
        assert result.status == "ok", result.error
        assert 0.0 <= result.metrics[result.main_metric] <= 1.0
        # The curve traces validation; test is scored once, from the predictions kept in the record.
        assert result.curve and result.curve[-1].metrics == result.validation_metrics
        assert len(result.predictions.predicted) == result.setup.num_test == result.setup.num_test_scored
        assert result.metrics["accuracy"] == pytest.approx(
            sum(p == r for p, r in zip(result.predictions.predicted, result.predictions.references, strict=True))
            / result.setup.num_test
        )
        search = result.search
        chosen = search.candidates[search.chosen]
        assert chosen.config == {"learning_rate": result.setup.learning_rate, "weight_decay": result.setup.weight_decay}
        assert chosen.scores[-1][0] == result.validation_metrics[result.main_metric]
        assert search.method == ("batched_heads" if result.protocol == "linear_probe" else "successive_halving")
        # the tiny suite's grids (two values of one dimension), then one value for each step past an edge
        assert len(search.candidates) == 2 + len(search.extensions)
        assert all(
            search.max_extensions == sum(e.dimension == name for e in search.extensions)
            for name in search.chosen_at_edge
        )  # still at an edge: only once the extensions are spent
        if result.protocol == "finetune":  # the validation loss that breaks ties, at every point the score is
            assert chosen.losses[-1][0] == pytest.approx(result.curve[-1].loss) and result.curve[-1].loss > 0
        assert result.convergence is not None and result.convergence.tolerance >= 0.01
        assert result.complexity.flops_per_example > 0 and result.complexity.params_total > 0
        assert result.versions["torch"] and result.setup.world_size == 1


def test_linear_probe_reads_features_and_estimates_transferability(tiny_run):
    output, _ = tiny_run
    probe = read_result(output / "tiny" / "tiny-resnet" / "colours" / "linear_probe-seed0.json")
    finetune = read_result(output / "tiny" / "tiny-resnet" / "colours" / "finetune-seed0.json")
    assert {"logme", "h_score", "knn_loo_acc", "leep", "nce"} <= set(probe.estimators)
    assert probe.complexity.params_trainable < finetune.complexity.params_trainable
    # Colour squares are linearly separable even in random-init features: the probe must find that.
    assert probe.metrics["accuracy"] > 0.9


def test_leaderboard_has_a_table_per_modality_with_gain_over_scratch(tiny_run):
    output, _ = tiny_run
    text = (output / "leaderboard" / "README.md").read_text()
    for heading in ("## Suite `tiny`", "### audio", "### text", "### vision"):
        assert heading in text
    row = next(line for line in text.splitlines() if line.startswith("| colours | tiny-resnet | linear_probe"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    score, scratch, gain = (float(cells[i].split()[0]) for i in (4, 6, 7))  # Score, Scratch, Gain [95 % CI]
    assert gain == pytest.approx(score - scratch, abs=1e-4)


def test_second_run_skips_finished_cells(tiny_run, capsys):
    output, args = tiny_run
    before = {p: p.read_bytes() for p in find_result_files(output / "tiny")}
    assert main(args) == 0
    assert "cells: 16 ok" in capsys.readouterr().out
    assert {p: p.read_bytes() for p in find_result_files(output / "tiny")} == before


def test_script_entry_point_runs_without_installation(tiny_tasks):
    completed = subprocess.run(
        [sys.executable, RUN_SCRIPT, "--tasks-dir", str(tiny_tasks), "--validate"],
        capture_output=True,
        text=True,
        cwd=Path("/"),
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "4 tasks and 1 suites" in completed.stdout


def test_accelerate_launch_on_cpu_uses_every_core(tiny_tasks, tiny_assets, tmp_path):
    """`accelerate launch` sets OMP_NUM_THREADS=1 for its processes; a CPU run must still use all its cores.

    The launcher runs through this interpreter, not an `accelerate` script found on PATH, so the test passes
    however pytest was started (e.g. `venv/bin/python -m pytest` without activating the environment).
    """
    command = [
        *(sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "1", RUN_SCRIPT),
        *tiny_run_args(tiny_tasks, tiny_assets, tmp_path, "--tasks", "colours", "--protocols", "linear_probe"),
        *("--no-scratch", "--no-similarity", "--probe-epochs", "2"),
    ]
    completed = subprocess.run(command, capture_output=True, text=True, check=False, env=_env_without_thread_settings())
    assert completed.returncode == 0, completed.stderr[-2000:]
    (result,) = [read_result(p) for p in find_result_files(tmp_path / "tiny")]
    assert result.setup.hardware.endswith(f"({default_cpu_threads()} threads)")


def test_cpu_threads_are_shared_by_the_processes_of_a_machine(monkeypatch):
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    alone = default_cpu_threads()
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    assert default_cpu_threads() == max(1, alone // 2)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", str(alone))
    assert default_cpu_threads() == 1
    monkeypatch.setenv("LOCAL_WORLD_SIZE", str(alone * 4))
    assert default_cpu_threads() == 1


def _env_without_thread_settings() -> dict[str, str]:
    """This environment without thread settings, and with no GPU visible (the test is about CPU runs)."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "LOCAL_WORLD_SIZE")}
    return env | {"CUDA_VISIBLE_DEVICES": ""}


def test_task_similarity_is_measured_in_one_encoder_space(tiny_run):
    output, _ = tiny_run
    record = read_similarity(output / "tiny" / "_similarity" / "text.json")
    assert record.encoder == "tiny-bert" and record.tasks == ["topics", "topics_relabelled"]
    for matrix in record.distances.values():
        assert matrix[0][0] == matrix[1][1] == 0.0 and matrix[0][1] == matrix[1][0] >= 0.0
    assert not (output / "tiny" / "_similarity" / "vision.json").exists()  # one vision task: nothing to compare
    # tiny-bert declares its "pretraining sample" to be the topics data itself: that source is at distance 0
    # from topics under the Bures method (same class-conditional distributions).
    source = record.source_to_target["tiny-bert"]
    assert set(source) == {"topics", "topics_relabelled"}
    assert source["topics"]["class_gaussian_ot"] == pytest.approx(0.0, abs=1e-6)


def test_frozen_features_take_one_backbone_pass_per_example(tiny_tasks, tiny_assets, tmp_path, monkeypatch):
    """Probe, estimators and task similarity all read one feature pass per example (the cache does the rest)."""
    from benchmark.models.wrappers import HFTransferModel

    seen = []
    real = HFTransferModel.features

    def counting(self, inputs):
        seen.append(inputs["input_ids"].shape[0])
        return real(self, inputs)

    monkeypatch.setattr(HFTransferModel, "features", counting)
    common = tiny_run_args(
        tiny_tasks, tiny_assets, tmp_path, "--models", "tiny-bert", "--protocols", "linear_probe", "--no-scratch"
    )
    common += ["--probe-epochs", "2"]
    assert main(common) == 0
    # topics and topics_relabelled: 24 train + 12 eval each, once; the source sample (same files, another
    # cache key) adds its own 24 + 12. Task similarity reads the cached topic features.
    assert sum(seen) == 3 * (24 + 12)
    seen.clear()
    assert main([*common, "--overwrite"]) == 0
    assert sum(seen) == 0  # a rerun reads every feature from the cache


def test_audio_similarity_reads_the_features_the_probe_cached(tiny_tasks, tiny_assets, tmp_path, monkeypatch):
    """Audio is resampled for the model before features are taken, in the probe and in task similarity alike,
    so similarity finds the probe's features in the cache instead of running the backbone again."""
    from benchmark.models.wrappers import HFTransferModel

    tasks = tmp_path / "tasks"
    shutil.copytree(tiny_tasks, tasks)
    tones = (tasks / "audio" / "tones.yaml").read_text()
    (tasks / "audio" / "tones_again.yaml").write_text(tones.replace("task: tones", "task: tones_again"))
    (tasks / "suites" / "tones.yaml").write_text(
        "suite: tones\n"
        "models:\n"
        '  - {id: tiny-w2v2, library: transformers, checkpoint: "{assets}/tiny-w2v2", modality: audio}\n'
        "tasks: [tones, tones_again]\n"
        "protocols: [linear_probe]\n"
        "include_scratch: false\n"
    )
    seen = []
    real = HFTransferModel.features
    monkeypatch.setattr(HFTransferModel, "features", lambda self, inputs: seen.append(1) or real(self, inputs))
    output = tmp_path / "out"
    args = ["--tasks-dir", str(tasks), "--assets-dir", str(tiny_assets), "--output-dir", str(output)]
    assert main([*args, "--suite", "tones", "--probe-epochs", "2", "--no-similarity"]) == 0
    probe_passes = len(seen)
    assert main([*args, "--suite", "tones"]) == 0  # cells are finished: only similarity runs
    assert probe_passes > 0 and len(seen) == probe_passes
    assert read_similarity(output / "tones" / "_similarity" / "audio.json").tasks == ["tones", "tones_again"]
