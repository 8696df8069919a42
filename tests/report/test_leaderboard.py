"""The leaderboard is built from result files alone, deterministically, refuses bad files by name, and says what
the seeds, the validation curves, the scratch twins and the search say."""

from __future__ import annotations

import pytest

from benchmark.report.leaderboard import COLUMNS, LeaderboardError, build_leaderboard, main
from benchmark.results.schema import Convergence, CurvePoint
from benchmark.results.store import result_path, write_result
from testkit.records import make_result
from tests.report.suite_records import suite_results

COLUMN = {name: i for i, name in enumerate(COLUMNS)}


def write_cells(root, cells) -> None:
    """Fine-tune cells of task t without predictions: (model, init, test score, seed, validation score)."""
    for model, init, score, seed, validation in cells:
        curve = [CurvePoint(step=1, epoch=1.0, train_elapsed_s=2.0, score=validation, metrics={"accuracy": validation})]
        result = make_result(
            model=model,
            init=init,
            seed=seed,
            metrics={"accuracy": score},
            validation_metrics={"accuracy": validation},
            chance={"accuracy": 0.25},
            curve=curve,
            convergence=Convergence(flattened=True, late_gain=0.0, tolerance=0.01),
        )
        write_result(result_path(root, "s", model, init, "t", "finetune", seed), result)


CELLS = [
    ("a", "pretrained", 0.8, 0, 0.8),
    ("a", "pretrained", 0.9, 1, 0.9),
    ("a", "scratch", 0.5, 0, 0.5),
    ("a", "scratch", 0.6, 1, 0.6),
    ("b", "pretrained", 0.7, 0, 0.7),
    ("b", "scratch", 0.7, 0, 0.255),  # learned nothing measurable on validation: 0.255 <= 0.25 + 0.01
]


def table_row(text: str, model: str, task: str = "t", protocol: str = "finetune") -> list[str]:
    line = next(line for line in text.splitlines() if line.startswith(f"| {task} | {model} | {protocol}"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_mean_std_seeds_gain_with_welch_interval_and_order(tmp_path):
    write_cells(tmp_path / "results", CELLS)
    text = build_leaderboard(tmp_path / "results", tmp_path / "out").read_text()
    row_a, row_b = table_row(text, "a"), table_row(text, "b")
    assert row_a[COLUMN["Score (mean ± std)"]] == "0.8500 ± 0.0707" and row_a[COLUMN["Seeds"]] == "2/2"
    assert row_a[COLUMN["Scratch"]] == "0.5500 ± 0.0707" and row_a[COLUMN["Chance"]] == "0.2500"
    # Welch over two seeds a side: se = sqrt(0.005 / 2 + 0.005 / 2) = 0.0707, 2 dof, t = 4.3027: half-width 0.3042
    assert row_a[COLUMN["Gain [95 % CI]"]] == "+0.3000 [-0.0042, +0.6042]"
    assert row_b[COLUMN["Gain [95 % CI]"]] == "+0.0000 [no interval]"  # one seed each: nothing can be said
    assert text.index("| t | a |") < text.index("| t | b |")  # sorted by score within the task


def test_scratch_twin_that_learned_nothing_is_marked_and_named(tmp_path):
    write_cells(tmp_path / "results", CELLS)
    text = build_leaderboard(tmp_path / "results", tmp_path / "out").read_text()
    assert table_row(text, "b")[COLUMN["Scratch"]] == "0.7000 ± 0.0000 ‡"
    assert not table_row(text, "a")[COLUMN["Scratch"]].endswith("‡")
    assert "- ‡ These scratch twins learned nothing measurable" in text
    # these cells record no validation chance (files from before it was): the test split's, said so
    expected = (
        "b on t (finetune: validation 0.2550, chance 0.2500 (test split: recorded before validation chance was), "
        "tolerance 0.0100)"
    )
    assert expected in text
    write_cells(tmp_path / "fine", CELLS[:-1] + [("b", "scratch", 0.7, 0, 0.6)])
    fine = build_leaderboard(tmp_path / "fine", tmp_path / "out2").read_text()
    assert "- Every scratch twin scored above chance by more than the tolerance on validation." in fine


def test_tiers_gain_intervals_and_speed_up_from_predictions():
    from benchmark.report.leaderboard import render_markdown

    text = render_markdown(suite_results(), n_boot=200)
    row = table_row(text, "A", task="t2")
    assert row[COLUMN["Tier"]] == "2" and table_row(text, "C", task="t2")[COLUMN["Tier"]] == "1"
    assert row[COLUMN["Score (mean ± std)"]] == "0.5000 ± 0.0100 †"  # seed 2's curve had not flattened
    assert row[COLUMN["Speed-up"]] == "×0.50" and table_row(text, "A", task="t1")[COLUMN["Speed-up"]] == "×4.00"
    assert row[COLUMN["Gain [95 % CI]"]].startswith("+0.1000 [+0.0")  # paired bootstrap, above zero
    # two candidates per dimension, the chosen one at an edge of both: marked
    assert row[COLUMN["Chosen config"]] == "lr 0.0001, wd 0.01 ⊣ (of 2; val spread 0.100)"
    assert row[COLUMN["Scratch config"]] == "lr 0.001, wd 0 ⊣ (of 2; val spread 0.100)"
    assert "- † The validation curve had not flattened" in text and "A on t2 (finetune, 1 of 3 seeds)" in text
    assert "### Rankings that survive another machine" in text


def test_rebuild_is_byte_identical(tmp_path):
    write_cells(tmp_path / "results", CELLS)
    first = build_leaderboard(tmp_path / "results", tmp_path / "one").read_bytes()
    second = build_leaderboard(tmp_path / "results", tmp_path / "two").read_bytes()
    assert first == second


def test_rebuild_with_predictions_is_byte_identical(tmp_path):
    for result in suite_results():
        write_result(
            result_path(
                tmp_path / "r", result.suite, result.model, result.init, result.task, result.protocol, result.seed
            ),
            result,
        )
    first = build_leaderboard(tmp_path / "r", tmp_path / "one", n_boot=100).read_bytes()
    assert first == build_leaderboard(tmp_path / "r", tmp_path / "two", n_boot=100).read_bytes()


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
