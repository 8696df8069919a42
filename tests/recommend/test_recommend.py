"""`recommend` on the tiny fixtures: it ranks a shelf offline, trains nothing but linear heads, never reads the
task's test split, and the command line prints the shortlist."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from benchmark.cli import main as cli_main
from benchmark.engine import features
from benchmark.recommend import recommend
from benchmark.recommend.command import search_cost_factor


@pytest.fixture()
def poisoned_task(tiny_assets: Path, tmp_path: Path) -> Path:
    """The topics task with a test file that cannot be parsed: reading it would fail."""
    (tmp_path / "test.csv").write_bytes(b'\x00\x01"unterminated,\n\xff\xfe')
    path = tmp_path / "topics_poisoned.yaml"
    path.write_text(
        textwrap.dedent(
            f"""
            task: topics_poisoned
            modality: text
            dataset:
              path: csv
              data_files: {{train: "{tiny_assets}/topics/train.csv", test: "{tmp_path}/test.csv"}}
              input_column: text
            metrics: [accuracy]
            main_metric: accuracy
            preprocessing: {{max_length: 16}}
            """
        )
    )
    return path


def test_recommend_ranks_the_shelf_without_reading_test(tiny_tasks, tiny_assets, poisoned_task, tmp_path, monkeypatch):
    extracted = []
    original = features.extract_split

    def spy(accelerator, model, dataset, collate_fn, batch_size, description):
        extracted.append(description)
        return original(accelerator, model, dataset, collate_fn, batch_size, description)

    monkeypatch.setattr("benchmark.recommend.signals.extract_split", spy)
    frame = recommend(
        poisoned_task,
        suite="tiny",
        extra_models=[f"bert-copy={tiny_assets / 'tiny-bert'}"],
        tasks_dir=tiny_tasks,
        assets_dir=tiny_assets,
        output_dir=tmp_path / "out",
        zoo_results=tmp_path / "no-zoo",
        verbose=False,
    )
    assert list(frame["rank"]) == [1, 2] and set(frame["model"]) == {"tiny-bert", "bert-copy"}
    assert {"logme", "h_score", "knn_loo_acc", "linear_probe_score", "params_total"} <= set(frame.columns)
    assert frame["linear_probe_score"].between(0, 1).all()
    # train and validation once: the copy of the same checkpoint is served from the feature cache; test never
    assert extracted == ["features train", "features validation"]
    assert frame.attrs["method"] == "linear probe score" and frame.attrs["calibration"].startswith("uncalibrated")
    assert frame.attrs["wall_s"] > 0 and frame.attrs["full_grid_s"] > 0


def test_the_command_prints_the_shortlist_and_refuses_an_unknown_task(tiny_tasks, tiny_assets, tmp_path, capsys):
    common = ["--assets-dir", str(tiny_assets), "--output-dir", str(tmp_path), "--zoo-results", str(tmp_path / "z")]
    argv = ["recommend", "--task", "colours", "--include-path", str(tiny_tasks), "--suite", "tiny", *common]
    assert cli_main(argv) == 0
    printed = capsys.readouterr().out
    assert "Shortlist for colours (linear probe score):" in printed and "tiny-resnet" in printed
    assert "recommend took" in printed and "would take about" in printed
    assert cli_main(["recommend", "--task", "nope", "--include-path", str(tiny_tasks), *common]) == 2
    assert "neither a task of the registry nor a task YAML file" in capsys.readouterr().err


def test_search_cost_factor_matches_the_documented_halving_cost():
    assert search_cost_factor(8, 3) == pytest.approx(2.22, abs=0.01)
    assert search_cost_factor(1, 3) == 1.0
