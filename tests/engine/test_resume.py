"""Interrupted runs resume: real signals to a real subprocess in the middle of a search, then a rerun that
redoes no finished candidate and matches an uninterrupted run."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmark.engine import finetune, loop
from benchmark.results.store import find_result_files, read_result
from benchmark.run import main
from testkit.fixtures import RUN_SCRIPT, tiny_run_args

pytestmark = pytest.mark.integration  # runs the suite, launches processes or builds real assets

VOLATILE = {"timing", "created_at", "complexity", "setup", "versions", "provenance"}


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
    data["search"].pop("wall_s")
    return {key: value for key, value in data.items() if key not in VOLATILE}


SEARCH = Path(".searches", "tiny", "tiny-bert", "topics", "finetune")


def wait_mid_search(output: Path, process: subprocess.Popen, timeout: float = 240) -> int:
    """Poll until the tiny-bert search has recorded its first candidate's rung-1 score and the second candidate
    has a checkpoint a few steps in; return that checkpoint's step."""
    search = output / SEARCH
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1][-2000:]
        try:
            recorded = json.loads((search / "search.json").read_text())["scores"]
            step = json.loads((search / "config1-seed0" / "progress.json").read_text())["step"]
        except (OSError, ValueError, KeyError):
            recorded, step = [], 0
        if recorded and step >= 6:
            return step
        time.sleep(0.05)
    raise AssertionError(f"the tiny-bert search did not reach its second candidate within {timeout}s")


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
    wait_mid_search(tmp_path, process)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=120)
    if signum == signal.SIGTERM:
        assert process.returncode == 143 and "run the same command again to resume" in stderr
    else:
        assert process.returncode == -signal.SIGKILL
    finished = find_result_files(tmp_path / "tiny")
    assert [p.parent.parent.name for p in finished] == ["tiny-resnet"]  # first task done, second not written
    assert all(read_result(p).status == "ok" for p in finished)  # nothing partial

    bars = {**os.environ, "TRANSFER_BENCH_PROGRESS": "bars"}  # the bars' labels say which candidates train
    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False, env=bars)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "skipped" not in rerun.stderr
    first_candidate = "finetune tiny-bert/topics/finetune-seed0 lr=0.001 wd=0.01 rung 1/2"
    assert first_candidate not in rerun.stderr  # recorded before the kill: not trained again
    assert "lr=0.003 wd=0.01 rung 1/2" in rerun.stderr  # the interrupted candidate continues
    for path in find_result_files(uninterrupted / "tiny"):
        relative = path.relative_to(uninterrupted)
        assert comparable(tmp_path / relative) == comparable(path), relative
    assert not (tmp_path / SEARCH).exists()  # a finished search leaves no state or checkpoints behind


class Killed(BaseException):
    """A SIGKILL in the middle of a run, in process: nothing kept in memory survives into the rerun (the search's
    rung states live in the run's `FinetuneSearch`), and the short runs here write no disk checkpoint."""


def kill_in_rung(monkeypatch: pytest.MonkeyPatch, kill_rung: int) -> None:
    """Make the next run die a few optimizer steps into the second seed's first run of rung `kill_rung`."""
    real_train, real_step = finetune.FinetuneSearch._train, loop._train_step
    armed = [True]

    def train(self, index, rung, position, cell, final):
        if not armed[0] or rung != kill_rung or position != 1:
            return real_train(self, index, rung, position, cell, final)
        armed[0] = False
        steps = itertools.count()

        def dying_step(state, batch):
            if next(steps) == 2:
                raise Killed
            return real_step(state, batch)

        monkeypatch.setattr(loop, "_train_step", dying_step)
        try:
            return real_train(self, index, rung, position, cell, final)
        finally:
            monkeypatch.setattr(loop, "_train_step", real_step)

    monkeypatch.setattr(finetune.FinetuneSearch, "_train", train)


def in_process_args(tiny_tasks, tiny_assets, output: Path) -> list[str]:
    """Two seeds of one fine-tune search with early evaluation points, so a final run's curve shows where it
    was evaluated; the default checkpoint interval keeps the rung states of these short runs in memory only."""
    narrow = ["--models", "tiny-bert", "--tasks", "topics", "--protocols", "finetune", "--no-scratch"]
    return tiny_run_args(tiny_tasks, tiny_assets, output, *narrow, "--seeds", "0,1", "--epochs", "6", "--no-similarity")


@pytest.fixture(scope="module")
def uninterrupted_in_process(tiny_tasks, tiny_assets, tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("uninterrupted-in-process")
    assert main(in_process_args(tiny_tasks, tiny_assets, output)) == 0
    return output


@pytest.mark.parametrize("kill_rung", [0, 1])
def test_a_kill_in_any_rung_leaves_the_whole_record_of_an_uninterrupted_run(
    kill_rung, uninterrupted_in_process, tiny_tasks, tiny_assets, tmp_path, monkeypatch
):
    args = in_process_args(tiny_tasks, tiny_assets, tmp_path)
    with monkeypatch.context() as patched:
        kill_in_rung(patched, kill_rung)
        with pytest.raises(Killed):
            main(args)
    assert not find_result_files(tmp_path / "tiny")  # killed before any result of the group was written
    assert main(args) == 0
    expected = find_result_files(uninterrupted_in_process / "tiny")
    assert len(expected) == 2
    for path in expected:
        relative = path.relative_to(uninterrupted_in_process)
        assert comparable(tmp_path / relative) == comparable(path), relative  # curves and train losses included
