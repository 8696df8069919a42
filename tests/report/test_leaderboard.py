"""The leaderboard is built from result files alone, deterministically, and refuses bad files by name."""

from __future__ import annotations

import pytest

from benchmark.report.leaderboard import LeaderboardError, build_leaderboard, main
from benchmark.results.schema import CurvePoint
from benchmark.results.store import result_path, write_result
from testkit.records import make_result


def write_cells(root, cells) -> None:
    for model, init, score, seed in cells:
        curve = [CurvePoint(step=1, epoch=1.0, train_elapsed_s=2.0, score=score, metrics={"accuracy": score})]
        result = make_result(
            model=model, init=init, seed=seed, metrics={"accuracy": score}, chance={"accuracy": 0.25}, curve=curve
        )
        write_result(result_path(root, "s", model, init, "t", "finetune", seed), result)


CELLS = [
    ("a", "pretrained", 0.8, 0),
    ("a", "pretrained", 0.9, 1),
    ("a", "scratch", 0.5, 0),
    ("a", "scratch", 0.6, 1),
    ("b", "pretrained", 0.7, 0),
    ("b", "scratch", 0.7, 0),
]


def table_row(text: str, model: str) -> list[str]:
    line = next(line for line in text.splitlines() if line.startswith(f"| t | {model} | finetune"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_mean_std_gain_and_order(tmp_path):
    write_cells(tmp_path / "results", CELLS)
    text = build_leaderboard(tmp_path / "results", tmp_path / "out").read_text()
    row_a, row_b = table_row(text, "a"), table_row(text, "b")
    assert row_a[3] == "0.8500 ± 0.0707" and row_a[4] == "0.5500 ± 0.0707" and row_a[5] == "+0.3000"
    assert row_b[5] == "+0.0000" and row_a[6] == "0.2500" and row_a[11] == "2/2"
    assert text.index("| t | a |") < text.index("| t | b |")  # sorted by score within the task


def test_rebuild_is_byte_identical(tmp_path):
    write_cells(tmp_path / "results", CELLS)
    first = build_leaderboard(tmp_path / "results", tmp_path / "one").read_bytes()
    second = build_leaderboard(tmp_path / "results", tmp_path / "two").read_bytes()
    assert first == second


def test_corrupt_file_is_named_and_nothing_is_published(tmp_path, capsys):
    write_cells(tmp_path / "results", CELLS)
    bad = tmp_path / "results" / "s" / "b" / "t" / "linear_probe-seed0.json"
    bad.write_text('{"suite": "s", "status": ')
    with pytest.raises(LeaderboardError, match="linear_probe-seed0.json"):
        build_leaderboard(tmp_path / "results", tmp_path / "out")
    assert not (tmp_path / "out" / "README.md").exists()
    assert main(["--results", str(tmp_path / "results"), "--out", str(tmp_path / "out")]) == 2
    assert "refusing to publish" in capsys.readouterr().err


def test_unfinished_cells_are_listed_with_their_reason(tmp_path):
    write_cells(tmp_path / "results", CELLS)
    diverged = make_result(
        model="c", status="diverged", metrics={}, error="loss became nan at optimizer step 3", diverged_at_step=3
    )
    write_result(result_path(tmp_path / "results", "s", "c", "pretrained", "t", "finetune", 0), diverged)
    text = build_leaderboard(tmp_path / "results", tmp_path / "out").read_text()
    assert "| c | t | finetune | 0 | diverged | loss became nan at optimizer step 3 |" in text
