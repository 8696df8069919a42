"""Disk faults end cleanly: a folder that cannot be written is refused before any work with one line; a full disk
in the run's final stage (shard marks, similarity, leaderboard) or at a result file ends in one line and an exit
status, never a traceback, and keeps every result already written."""

from __future__ import annotations

import errno
import os

import pytest

from benchmark.engine import output_guard, shared_output, suite
from benchmark.engine.output_guard import unwritable
from benchmark.results.store import read_result
from benchmark.run import main
from testkit.fixtures import tiny_run_args

ONE_CELL = ["--models", "tiny-resnet", "--tasks", "colours", "--protocols", "linear_probe", "--no-scratch"]
ONE_CELL += ["--probe-epochs", "1"]


def disk_full(*_args, **_kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/somewhere/full")


def error_lines(text: str) -> list[str]:
    """Lines saying `error:` (progress bars may precede one on its terminal line)."""
    return [line[line.index("error:") :] for line in text.splitlines() if "error:" in line]


def test_a_writable_folder_passes_and_keeps_no_probe_file(tmp_path):
    assert unwritable(tmp_path / "out") is None
    assert list((tmp_path / "out").iterdir()) == []


def test_a_folder_that_cannot_exist_is_refused_before_any_work(tmp_path, tiny_tasks, tiny_assets, capsys):
    (tmp_path / "file").write_text("not a folder")
    output = tmp_path / "file" / "out"
    assert main(tiny_run_args(tiny_tasks, tiny_assets, output, *ONE_CELL)) == 2
    err = capsys.readouterr().err
    (line,) = error_lines(err)
    assert f"output folder {output} cannot be written" in line and "Traceback" not in err


def test_a_read_only_folder_is_refused_before_any_work(tmp_path, tiny_tasks, tiny_assets, capsys, monkeypatch):
    """Tests run as root, where permissions do not bind: the read-only file system is simulated."""

    def read_only(*_args, **_kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(output_guard.tempfile, "mkstemp", read_only)
    assert main(tiny_run_args(tiny_tasks, tiny_assets, tmp_path / "out", *ONE_CELL)) == 2
    err = capsys.readouterr().err
    (line,) = error_lines(err)
    assert "Read-only file system" in line and "Traceback" not in err
    assert not (tmp_path / "out" / ".shards").exists()


@pytest.mark.integration
@pytest.mark.parametrize("where", ["leaderboard", "shard mark"])
def test_a_full_disk_in_the_final_stage_ends_in_one_line(where, tmp_path, tiny_tasks, tiny_assets, capsys, monkeypatch):
    if where == "leaderboard":
        monkeypatch.setattr(suite, "_publish_leaderboard", disk_full)
    else:
        monkeypatch.setattr(shared_output, "atomic_write_text", disk_full)
    assert main(tiny_run_args(tiny_tasks, tiny_assets, tmp_path, *ONE_CELL)) == 1
    err = capsys.readouterr().err
    (line,) = error_lines(err)
    assert "not written" in line and "No space left on device" in line and "/somewhere/full" in line
    assert "Traceback" not in err
    assert read_result(tmp_path / "tiny" / "tiny-resnet" / "colours" / "linear_probe-seed0.json").status == "ok"


@pytest.mark.integration
def test_a_full_disk_at_a_result_stops_the_run_before_the_final_stage(
    tmp_path, tiny_tasks, tiny_assets, capsys, monkeypatch
):
    final_stages = []
    monkeypatch.setattr(suite, "write_result", disk_full)
    monkeypatch.setattr(suite, "_final_stage", lambda *args: final_stages.append(args) or True)
    assert main(tiny_run_args(tiny_tasks, tiny_assets, tmp_path, *ONE_CELL)) == 1
    out, err = capsys.readouterr()
    stopped = "error: the output folder cannot take more files; stopping (finished results are kept)"
    assert error_lines(out + err) == [stopped]
    assert "Traceback" not in err and final_stages == []
    assert "| failed | result not written: No space left on device (/somewhere/full)" in out
