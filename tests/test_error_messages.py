"""Errors that help: a missing results folder or an empty board is an error (exit 2) whose suggested command works
where it is printed; missing offline assets are named, with the command that prepares them."""

from __future__ import annotations

import re
import shlex

import pytest

from benchmark import cli
from benchmark.assets.missing import _asset_root, missing_assets, prepare_hint
from benchmark.report import leaderboard
from benchmark.run import build_parser, main
from benchmark.specs.schema import ModelSpec
from testkit.fixtures import tiny_run_args

SUGGESTED = re.compile(r"`([^`]+)`")


def _suggested_run(stderr: str) -> list[str]:
    (command,) = SUGGESTED.findall(stderr)
    return shlex.split(command)


def test_leaderboard_of_a_missing_folder_is_an_error_suggesting_python_m(tmp_path, capsys):
    assert leaderboard.main(["--results", str(tmp_path / "nonexistent"), "--out", str(tmp_path / "board")]) == 2
    err = capsys.readouterr().err
    assert "nonexistent is not a folder: run a suite into it first" in err
    words = _suggested_run(err)
    assert words[:3] == ["python", "-m", "benchmark.run"]  # works from a checkout and from a wheel alike
    build_parser().parse_args(words[3:])  # and it parses
    assert not (tmp_path / "board").exists()


def test_transfer_bench_leaderboard_of_an_empty_folder_suggests_transfer_bench_run(tmp_path, capsys):
    (tmp_path / "results").mkdir()
    assert cli.main(["leaderboard", "--results", str(tmp_path / "results"), "--out", str(tmp_path / "board")]) == 2
    err = capsys.readouterr().err
    assert "holds no result files" in err
    words = _suggested_run(err)
    assert words[:2] == ["transfer-bench", "run"]
    build_parser().parse_args(words[2:])


def test_missing_assets_stop_the_run_naming_each_and_how_to_prepare_them(tiny_tasks, tmp_path, capsys):
    assets = tmp_path / "no-assets"
    assert main(tiny_run_args(tiny_tasks, assets, tmp_path / "out", "--tasks", "colours,topics")) == 2
    err = capsys.readouterr().err
    assert f"task 'colours': {{assets}}/colours ({assets / 'colours'}) does not exist" in err
    assert "model 'tiny-resnet': {assets}/tiny-resnet" in err and "model 'tiny-bert'" in err
    assert "model 'tiny-w2v2'" not in err  # no audio task runs: its checkpoint is not needed
    assert f"transfer-bench prepare-assets --assets-dir {assets}" in err
    assert f"python -m benchmark.assets.prepare --assets-dir {assets}" in err
    assert "Traceback" not in err and not (tmp_path / "out" / "tiny").exists()


@pytest.mark.parametrize(
    ("value", "root"),
    [
        ("{assets}/data/digits", "{assets}/data/digits"),
        ("{assets}/data/digits/train/5/*.png", "{assets}/data/digits"),
        ("{assets}/data/dig*/x", "{assets}/data"),
        ("{assets}/topics/train.csv", "{assets}/topics/train.csv"),
        ("timm/resnet18", None),
    ],
)
def test_the_folder_an_asset_occupies(value, root):
    assert _asset_root(value) == root


def test_zoo_assets_suggest_the_zoo_preparation(tmp_path):
    model = ModelSpec(id="m", library="timm", checkpoint="{assets}/checkpoints/zoo_x", modality="vision")
    problems = missing_assets([], [model], tmp_path)
    assert problems[0].startswith("model 'm': {assets}/checkpoints/zoo_x")
    assert f"prepare-assets --assets-dir {tmp_path} --zoo" in prepare_hint(tmp_path, problems)
