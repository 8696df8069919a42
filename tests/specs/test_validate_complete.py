"""`--validate` finds what a run would refuse, before the run: a suite's unknown task, include or source task,
`--tasks` and `--models` ids outside the suite or the registry, with every problem at once and exit 2; `--deep`
checks the tasks `--tasks` adds to a suite, and reads a label column whole."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from benchmark.checks.deep_check import deep_check
from benchmark.run import main
from benchmark.specs.registry import load_registry


@pytest.fixture()
def tasks_dir(tmp_path, tiny_tasks) -> Path:
    """The tiny registry plus two suites with broken references and a task outside every suite."""
    folder = shutil.copytree(tiny_tasks, tmp_path / "tasks")
    (folder / "suites" / "missing_task.yaml").write_text(
        "suite: missing_task\nmodels:\n  - {id: tiny-bert, library: transformers, checkpoint: '{assets}/tiny-bert', "
        "modality: text}\ntasks: [topics, no_such_task]\n"
    )
    (folder / "suites" / "missing_include.yaml").write_text("suite: missing_include\ninclude: [tiny, nope]\n")
    (folder / "text" / "extra.yaml").write_text(
        textwrap.dedent("""
            task: extra
            modality: text
            dataset:
              path: csv
              data_files: {train: "%s/train.csv", test: "%s/test.csv"}
              input_column: txt
        """).lstrip()
        % (tmp_path, tmp_path)
    )
    for split in ("train", "test"):
        (tmp_path / f"{split}.csv").write_text("text,label\na b,x\nc d,y\n")
    return folder


def validate(tasks_dir: Path, assets: Path, *extra: str) -> int:
    return main(["--validate", "--tasks-dir", str(tasks_dir), "--assets-dir", str(assets), *extra])


def problems(err: str) -> list[str]:
    return [line.strip() for line in err.splitlines() if line.startswith("  ")]


def test_every_suite_reference_is_resolved_with_every_problem_at_once(tasks_dir, tiny_assets, capsys):
    assert validate(tasks_dir, tiny_assets) == 2
    found = problems(capsys.readouterr().err)
    assert any("missing_task.yaml: field 'tasks': unknown task 'no_such_task'" in line for line in found)
    assert any("missing_include.yaml: field 'include': unknown suite 'nope'" in line for line in found)


def test_a_sound_suite_alone_passes(tiny_tasks, tiny_assets, capsys):
    assert validate(tiny_tasks, tiny_assets, "--suite", "tiny") == 0
    assert "ok:" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--suite", "tiny", "--tasks", "topics,nope"], "--tasks: 'nope' is not in this suite"),
        (["--tasks", "nope"], "--tasks: unknown task 'nope'"),
        (["--suite", "tiny", "--models", "tiny-bertt"], "--models: 'tiny-bertt' is not in this suite"),
        (["--suite", "tiny", "--protocols", "probe"], "--protocols: 'probe' is not in this suite"),
    ],
)
def test_narrowing_flags_are_checked(tiny_tasks, tiny_assets, capsys, flags, message):
    assert validate(tiny_tasks, tiny_assets, *flags) == 2
    assert any(message in line for line in problems(capsys.readouterr().err))


def test_deep_checks_the_tasks_that_tasks_adds_to_a_suite(tasks_dir, tiny_assets):
    registry = load_registry(tasks_dir)
    report = deep_check(registry, tiny_assets, "tiny", tasks=["topics", "extra"], models=[], progress=None)
    assert any("extra.yaml" in line and "column 'txt' is not in the dataset" in line for line in report.problems)


def test_deep_reads_the_whole_label_column(tmp_path):
    """The first rows are fine; a missing label and a test-only class come later."""
    data = tmp_path / "data"
    data.mkdir()
    rows = "".join(f"w{i} v{i},{'ab'[i % 2]}\n" for i in range(50))
    (data / "train.csv").write_text("text,label\n" + rows + "late row,\n")
    (data / "test.csv").write_text("text,label\n" + rows + "new class,c\n")
    (tmp_path / "tasks" / "text").mkdir(parents=True)
    (tmp_path / "tasks" / "text" / "late.yaml").write_text(
        "task: late\nmodality: text\ndataset:\n  path: csv\n"
        f"  data_files: {{train: '{data}/train.csv', test: '{data}/test.csv'}}\n  input_column: text\n"
    )
    report = deep_check(load_registry(tmp_path / "tasks"), tmp_path, progress=None)
    (line,) = report.problems
    assert "late.yaml" in line and "field 'dataset.label_column'" in line and "1 of 51 rows of the train split" in line
    (data / "train.csv").write_text("text,label\n" + rows)
    report = deep_check(load_registry(tmp_path / "tasks"), tmp_path, progress=None)
    (line,) = report.problems
    assert "1 class(es) of the test split (1 rows) never occur in the train split" in line
