"""A task file runs no code: `evaluate:` metric modules and loading scripts are refused with a located line that
names the opt-in flag, in `--validate` and before a run does any work; the module's code never executes."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from benchmark.metrics.compute import MetricCodeRefused, compute_metrics, load_metric, trust_task_code
from benchmark.run import main
from benchmark.specs.registry import load_registry
from benchmark.specs.trust import TRUST_FLAG, code_problems

MODULE_CODE = """
import pathlib

pathlib.Path({marker!r}).write_text("the task file's code ran")
"""


def code_module(folder: Path, marker: Path) -> Path:
    """An `evaluate` module folder whose import writes `marker`: proof that its code ran."""
    folder.mkdir(parents=True)
    (folder / f"{folder.name}.py").write_text(MODULE_CODE.format(marker=str(marker)))
    return folder


def write_task(tasks_dir: Path, name: str, dataset: str, metrics: str = "[accuracy]") -> Path:
    path = tasks_dir / "text" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = f"""
        task: {name}
        modality: text
        dataset: {dataset}
        metrics: {metrics}
    """
    path.write_text(textwrap.dedent(text).lstrip())
    return path


@pytest.fixture()
def include(tmp_path) -> tuple[Path, Path]:
    """An include folder with a task naming a code module, and the marker that module would write."""
    marker = tmp_path / "marker"
    module = code_module(tmp_path / "sneaky_metric", marker)
    folder = tmp_path / "shared_tasks"
    dataset = "{path: csv, data_files: {train: '{assets}/topics/train.csv', test: '{assets}/topics/test.csv'}, " + (
        "input_column: text}"
    )
    write_task(folder, "sneaky", dataset, f'[accuracy, "evaluate:{module}"]')
    (folder / "suites").mkdir()
    (folder / "suites" / "sneaky.yaml").write_text(
        "suite: sneaky\nmodels:\n  - {id: tiny-bert, library: transformers, checkpoint: '{assets}/tiny-bert', "
        "modality: text}\ntasks: [sneaky]\nseeds: [0]\nprotocols: [linear_probe]\n"
    )
    return folder, marker


def test_validate_names_the_code_module_with_file_field_and_flag(include, tiny_tasks, capsys):
    folder, marker = include
    code = main(["--validate", "--tasks-dir", str(tiny_tasks), "--include-path", str(folder)])
    err = capsys.readouterr().err
    assert code == 2
    (line,) = [line for line in err.splitlines() if "sneaky.yaml" in line]
    assert "field 'metrics'" in line and "evaluate:" in line and TRUST_FLAG in line
    assert "Traceback" not in err and not marker.exists()


def test_validate_accepts_the_module_only_with_the_flag(include, tiny_tasks, capsys):
    folder, marker = include
    code = main(["--validate", "--tasks-dir", str(tiny_tasks), "--include-path", str(folder), TRUST_FLAG])
    assert code == 0 and "ok:" in capsys.readouterr().out
    assert not marker.exists()  # validating never imports a module, trusted or not


def test_a_run_is_refused_before_any_work_and_runs_none_of_the_code(include, tiny_tasks, tiny_assets, tmp_path, capsys):
    folder, marker = include
    output = tmp_path / "out"
    arguments = ["--suite", "sneaky", "--tasks-dir", str(tiny_tasks), "--include-path", str(folder)]
    code = main([*arguments, "--assets-dir", str(tiny_assets), "--output-dir", str(output)])
    err = capsys.readouterr().err
    assert code == 2 and TRUST_FLAG in err and "Traceback" not in err
    assert not marker.exists() and not output.exists()


def test_a_run_of_another_suite_is_not_refused_for_a_task_it_does_not_use(include, tiny_tasks):
    folder, _ = include
    registry = load_registry(folder)
    assert code_problems(registry, Path("."), False, only={"other_suite", "other_task"}) == []
    assert len(code_problems(registry, Path("."), False)) == 1
    assert code_problems(registry, Path("."), True) == []


@pytest.mark.parametrize("script", ["loader.py", "folder"])
def test_a_dataset_loading_script_is_refused_even_with_the_flag(tmp_path, script):
    if script == "folder":
        (tmp_path / "folder").mkdir()
        (tmp_path / "folder" / "folder.py").write_text("raise SystemExit('ran')\n")
    write_task(tmp_path / "tasks", "scripted", f"{{path: {tmp_path / script}, input_column: text}}")
    registry = load_registry(tmp_path / "tasks")
    (problem,) = code_problems(registry, tmp_path, trust_task_code=True)
    assert "scripted.yaml: field 'dataset.path'" in problem and "loading script" in problem and TRUST_FLAG in problem


def test_load_metric_refuses_a_module_unless_task_code_is_trusted(tmp_path):
    marker = tmp_path / "marker"
    module = code_module(tmp_path / "my_metric", marker)
    with pytest.raises(MetricCodeRefused, match="--trust-task-code"):
        load_metric(f"evaluate:{module}")
    assert not marker.exists()


def test_load_metric_runs_a_module_once_trusted(tmp_path):
    marker = tmp_path / "marker"
    module = code_module(tmp_path / "trusted_metric", marker)
    trust_task_code(True)
    try:
        with pytest.raises(Exception):  # noqa: B017 - the module defines no metric: only whether it ran matters
            load_metric(f"evaluate:{module}")
    finally:
        trust_task_code(False)
    assert marker.exists()


def test_built_in_metrics_need_no_trust():
    assert compute_metrics(["accuracy", "f1_macro"], [0, 1, 1], [0, 1, 0]) == pytest.approx(
        {"accuracy": 2 / 3, "f1_macro": 2 / 3}
    )


def test_listing_shows_a_code_task_without_refusing(include, tiny_tasks, capsys):
    folder, marker = include
    assert main(["--list", "--tasks-dir", str(tiny_tasks), "--include-path", str(folder)]) == 0
    assert "sneaky" in capsys.readouterr().out and not marker.exists()
