"""Result files: atomic writes, schema validation, sanitised paths."""

from __future__ import annotations

import json

import pytest

from benchmark.results.schema import ResultFileError
from benchmark.results.store import read_result, result_path, write_result
from testkit.records import make_result


def test_write_then_read_roundtrip_leaves_no_temporary(tmp_path):
    path = result_path(tmp_path, "s", "m", "pretrained", "t", "finetune", 0)
    write_result(path, make_result())
    assert read_result(path) == make_result(created_at=read_result(path).created_at)
    assert [p.name for p in path.parent.iterdir()] == ["finetune-seed0.json"]


def test_scratch_twin_has_its_own_directory(tmp_path):
    assert result_path(tmp_path, "s", "m", "scratch", "t", "linear_probe", 2).relative_to(tmp_path).as_posix() == (
        "s/m__scratch/t/linear_probe-seed2.json"
    )


@pytest.mark.parametrize("name", ["../../etc", "/abs/path", "a/../../b", "..", ""])
def test_names_cannot_escape_the_results_directory(tmp_path, name):
    path = result_path(tmp_path / "results", name, name, "pretrained", name, "finetune", 0).resolve()
    assert path.is_relative_to((tmp_path / "results").resolve())
    assert len(path.relative_to((tmp_path / "results").resolve()).parts) == 4


def test_corrupt_and_schema_violating_files_are_named(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"suite": ')
    with pytest.raises(ResultFileError, match="broken.json: not a readable JSON"):
        read_result(broken)
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({**make_result().model_dump(), "status": "maybe"}))
    with pytest.raises(ResultFileError, match="wrong.json: field 'status'"):
        read_result(wrong)
