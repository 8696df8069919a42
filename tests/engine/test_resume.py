"""Interrupted runs resume: real signals to a real subprocess, then a rerun that matches an uninterrupted run."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmark.results.store import find_result_files, read_result
from testkit.fixtures import RUN_SCRIPT, tiny_run_args

pytestmark = pytest.mark.integration  # runs the suite, launches processes or builds real assets

VOLATILE = {"timing", "created_at", "complexity", "setup", "versions"}


def command(tiny_tasks, tiny_assets, output: Path) -> list[str]:
    return [
        *(sys.executable, RUN_SCRIPT),
        *tiny_run_args(
            tiny_tasks, tiny_assets, output, "--models", "tiny-resnet,tiny-bert", "--tasks", "colours,topics"
        ),
        *("--protocols", "finetune", "--no-scratch", "--no-similarity", "--epochs", "25", "--checkpoint-interval", "0"),
    ]


def comparable(path: Path) -> dict:
    """A result without what legitimately differs between runs (timings, memory, dates)."""
    data = read_result(path).model_dump()
    for point in data["curve"]:
        point.pop("train_elapsed_s")
    return {key: value for key, value in data.items() if key not in VOLATILE}


def wait_for_checkpoint(output: Path, cell: str, process: subprocess.Popen, timeout: float = 240) -> int:
    """Poll until the cell has a checkpoint a few steps in; return its step."""
    progress = output / ".checkpoints" / cell / "progress.json"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1][-2000:]
        try:
            step = json.loads(progress.read_text())["step"]
        except (OSError, ValueError):
            step = 0
        if step >= 6:
            return step
        time.sleep(0.05)
    raise AssertionError(f"no checkpoint for {cell} within {timeout}s")


@pytest.fixture(scope="module")
def uninterrupted(tiny_tasks, tiny_assets, tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("uninterrupted")
    subprocess.run(command(tiny_tasks, tiny_assets, output), check=True, capture_output=True, timeout=600)
    return output


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM])
def test_killed_in_second_task_then_resumed_matches_uninterrupted(
    signum, uninterrupted, tiny_tasks, tiny_assets, tmp_path
):
    cmd = command(tiny_tasks, tiny_assets, tmp_path)
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    step = wait_for_checkpoint(tmp_path, "tiny-bert_topics_finetune-seed0", process)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=120)
    if signum == signal.SIGTERM:
        assert process.returncode == 143 and "run the same command again to resume" in stderr
    else:
        assert process.returncode == -signal.SIGKILL
    finished = find_result_files(tmp_path / "tiny")
    assert [p.parent.parent.name for p in finished] == ["tiny-resnet"]  # first task done, second not written
    assert all(read_result(p).status == "ok" for p in finished)  # nothing partial

    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "skipped" not in rerun.stderr
    resumed = read_result(tmp_path / "tiny" / "tiny-bert" / "topics" / "finetune-seed0.json")
    assert resumed.curve[0].step < step  # the curve before the kill was kept, not recomputed
    for path in find_result_files(uninterrupted / "tiny"):
        relative = path.relative_to(uninterrupted)
        assert comparable(tmp_path / relative) == comparable(path), relative
    assert not (tmp_path / ".checkpoints" / "tiny-bert_topics_finetune-seed0").exists()
