"""Bad runs never take the suite down: failures and divergence are recorded, OOM halves the batch."""

from __future__ import annotations

import shutil

import pytest

from benchmark.engine import loop
from benchmark.results.store import read_result
from benchmark.run import main
from testkit.fixtures import tiny_run_args

pytestmark = pytest.mark.integration  # runs the suite, launches processes or builds real assets


def args(tiny_tasks, tiny_assets, output, *extra) -> list[str]:
    fine_tune_only = ["--no-scratch", "--no-similarity", "--protocols", "finetune", "--epochs", "1"]
    return tiny_run_args(tiny_tasks, tiny_assets, output, *fine_tune_only, *extra)


def test_diverging_cell_is_recorded_and_the_suite_goes_on(tiny_tasks, tiny_assets, tmp_path):
    status = main(
        args(
            tiny_tasks,
            tiny_assets,
            tmp_path,
            "--models",
            "tiny-resnet,tiny-bert",
            "--tasks",
            "colours,topics",
            "--learning-rate",
            "1e30",
            "--epochs",
            "10",
        )
    )
    resnet = read_result(tmp_path / "tiny" / "tiny-resnet" / "colours" / "finetune-seed0.json")
    bert = read_result(tmp_path / "tiny" / "tiny-bert" / "topics" / "finetune-seed0.json")
    assert resnet.status == "diverged" and resnet.diverged_at_step >= 1 and "loss became" in resnet.error
    assert bert.status in ("ok", "diverged")
    assert status == 0  # divergence is a finding, not a failure of the run


def test_failing_cell_is_recorded_retried_and_others_finish(tiny_tasks, tiny_assets, tmp_path, capsys):
    broken_assets = tmp_path / "assets"
    shutil.copytree(tiny_assets, broken_assets)
    shutil.rmtree(broken_assets / "tones")
    (broken_assets / "tones").mkdir()  # there, but without data: the run starts, and the tones cells fail
    assert main(args(tiny_tasks, broken_assets, tmp_path / "out", "--tasks", "colours,tones")) == 1
    failed = read_result(tmp_path / "out" / "tiny" / "tiny-w2v2" / "tones" / "finetune-seed0.json")
    assert failed.status == "failed" and failed.error
    assert read_result(tmp_path / "out" / "tiny" / "tiny-resnet" / "colours" / "finetune-seed0.json").status == "ok"
    out = capsys.readouterr().out
    assert "| tiny-w2v2/tones/finetune-seed0 | failed |" in out
    # Fix the data: the failed cell is retried.
    shutil.copytree(tiny_assets / "tones", broken_assets / "tones", dirs_exist_ok=True)
    assert main(args(tiny_tasks, broken_assets, tmp_path / "out", "--tasks", "colours,tones")) == 0
    assert read_result(tmp_path / "out" / "tiny" / "tiny-w2v2" / "tones" / "finetune-seed0.json").status == "ok"


def test_out_of_memory_halves_the_batch_and_records_it(tiny_tasks, tiny_assets, tmp_path, monkeypatch):
    real_step = loop._train_step

    def step_that_runs_out_of_memory_above_4(loop, batch):
        if batch["labels"].shape[0] > 4:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_step(loop, batch)

    monkeypatch.setattr(loop, "_train_step", step_that_runs_out_of_memory_above_4)
    assert main(args(tiny_tasks, tiny_assets, tmp_path, "--models", "tiny-resnet", "--batch-size", "16")) == 0
    result = read_result(tmp_path / "tiny" / "tiny-resnet" / "colours" / "finetune-seed0.json")
    assert result.status == "ok" and result.setup.batch_sizes_tried == "16,8,4"
    assert result.setup.batch_size == 4


def test_keep_going_skips_invalid_task_files(tiny_tasks, tiny_assets, tmp_path, capsys):
    tasks = tmp_path / "tasks"
    shutil.copytree(tiny_tasks, tasks)
    (tasks / "audio" / "tones.yaml").write_text("task: tones\nmodality: audoi\n")
    assert main(args(tasks, tiny_assets, tmp_path / "a", "--models", "tiny-resnet")) == 2
    assert "did you mean 'audio'" in capsys.readouterr().err
    assert main(args(tasks, tiny_assets, tmp_path / "b", "--models", "tiny-resnet", "--keep-going")) == 0
    assert "skipped (--keep-going)" in capsys.readouterr().err
    assert (tmp_path / "b" / "tiny" / "tiny-resnet" / "colours" / "finetune-seed0.json").exists()


@pytest.mark.parametrize("flag", [[], ["--trust-remote-code"]])
def test_remote_code_only_with_the_explicit_flag(tiny_tasks, tiny_assets, tmp_path, monkeypatch, flag):
    import transformers

    seen = []
    real = transformers.AutoTokenizer.from_pretrained

    def spy(*a, **kw):
        seen.append(kw.get("trust_remote_code"))
        return real(*a, **kw)

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", spy)
    main(args(tiny_tasks, tiny_assets, tmp_path, "--models", "tiny-bert", "--tasks", "topics", *flag))
    assert seen and all(value is bool(flag) for value in seen)
