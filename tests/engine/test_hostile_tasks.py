"""A hostile task folder shared for `--include-path`: a metric that is code, a system file as data, NaN labels,
one class, an empty CSV. `--validate` names each problem, a run executes none of its code, the bad tasks fail in
one line each while the good ones finish with their similarity, and nothing of the system file (nor any local
absolute path) reaches a published artefact: result files, the leaderboard, the results table, the HTML page,
the `push` payload."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from benchmark.report.hub import main as push_main
from benchmark.results.store import read_result, read_similarity, similarity_path
from benchmark.run import main

pytestmark = pytest.mark.integration  # runs the suite

SYSTEM_FILE = Path("/etc/os-release")
BAD_DATA_TASKS = ("system_file", "nan_labels", "one_class", "empty_csv")
MARKER_CODE = "import pathlib\npathlib.Path({marker!r}).write_text('the task file ran code')\n"


def task_yaml(name: str, train: str, test: str, metrics: str = "[accuracy]") -> str:
    return textwrap.dedent(f"""
        task: {name}
        modality: text
        dataset:
          path: csv
          data_files: {{train: "{train}", test: "{test}"}}
          input_column: text
        metrics: {metrics}
        preprocessing: {{max_length: 16}}
    """).lstrip()


@pytest.fixture()
def hostile(tmp_path, tiny_assets) -> tuple[Path, Path]:
    """(the include folder, the marker its code module would write)."""
    folder, data, marker = tmp_path / "hostile", tmp_path / "data", tmp_path / "marker"
    module = tmp_path / "evil_metric"
    module.mkdir()
    (module / "evil_metric.py").write_text(MARKER_CODE.format(marker=str(marker)))
    data.mkdir()
    good = "goal match,sport\nbread soup,food\n" * 4
    (data / "nan.csv").write_text("text,label\n" + good + "apple pie,\ncheese,NaN\n")
    (data / "one.csv").write_text("text,label\n" + "goal match,sport\n" * 6)
    (data / "header_only.csv").write_text("text,label\n")
    (data / "good.csv").write_text("text,label\n" + good)
    topics = ("{assets}/topics/train.csv", "{assets}/topics/test.csv")
    files = {
        "code_metric": task_yaml("code_metric", *topics, f'[accuracy, "evaluate:{module}"]'),
        "system_file": task_yaml("system_file", str(SYSTEM_FILE), str(SYSTEM_FILE)),
        "nan_labels": task_yaml("nan_labels", str(data / "nan.csv"), str(data / "good.csv")),
        "one_class": task_yaml("one_class", str(data / "one.csv"), str(data / "one.csv")),
        "empty_csv": task_yaml("empty_csv", str(data / "header_only.csv"), str(data / "good.csv")),
    }
    (folder / "text").mkdir(parents=True)
    for name, text in files.items():
        (folder / "text" / f"{name}.yaml").write_text(text)
    (folder / "suites").mkdir()
    (folder / "suites" / "hostile.yaml").write_text(
        textwrap.dedent("""
            suite: hostile
            models:
              - {id: tiny-bert, library: transformers, checkpoint: "{assets}/tiny-bert", modality: text}
            tasks: [topics, topics_relabelled, code_metric, system_file, nan_labels, one_class, empty_csv]
            protocols: [linear_probe]
            seeds: [0]
            include_scratch: false
            training: {probe_epochs: 2, batch_size: 8}
        """).lstrip()
    )
    return folder, marker


def arguments(tiny_tasks, tiny_assets, folder, output, *extra) -> list[str]:
    locations = ["--tasks-dir", str(tiny_tasks), "--include-path", str(folder), "--assets-dir", str(tiny_assets)]
    return [*locations, "--output-dir", str(output), *extra]


def system_file_lines() -> list[str]:
    return [line.strip() for line in SYSTEM_FILE.read_text().splitlines() if len(line.strip()) >= 4]


def leaked(text: str, tmp_path: Path) -> list[str]:
    """Lines of the system file, its path, or local absolute paths found in a published text."""
    found = [line for line in system_file_lines() if line in text]
    found += [path for path in (str(SYSTEM_FILE), str(tmp_path)) if path in text]
    return found


pytestmark = [pytestmark, pytest.mark.skipif(not SYSTEM_FILE.is_file(), reason="needs /etc/os-release")]


def test_validate_names_the_code_module(hostile, tiny_tasks, tiny_assets, tmp_path, capsys):
    folder, marker = hostile
    assert main(["--validate", *arguments(tiny_tasks, tiny_assets, folder, tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert any("code_metric.yaml: field 'metrics'" in line and "--trust-task-code" in line for line in err.splitlines())
    assert not marker.exists()


def test_validate_deep_names_every_problem_at_once(hostile, tiny_tasks, tiny_assets, tmp_path, capsys):
    folder, marker = hostile
    code = main(["--validate", "--deep", "--suite", "hostile", *arguments(tiny_tasks, tiny_assets, folder, tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    lines = err.splitlines()

    def named(file: str, *words: str) -> bool:
        return any(file in line and all(word in line for word in words) for line in lines)

    assert named("code_metric.yaml", "field 'metrics'", "--trust-task-code")
    assert named("system_file.yaml", "field 'dataset.input_column'", "column 'text' is not in the dataset")
    assert named("nan_labels.yaml", "field 'dataset.label_column'", "2 of 10 rows of the train split have no label")
    assert named("one_class.yaml", "field 'dataset.label_column'", "1 class(es)")
    assert named("empty_csv.yaml", "field 'dataset.data_files'", "no rows")
    assert not [line for line in system_file_lines() if line in err]
    assert not marker.exists()


def test_a_run_that_uses_the_code_task_is_refused_and_runs_none_of_it(
    hostile, tiny_tasks, tiny_assets, tmp_path, capsys
):
    folder, marker = hostile
    output = tmp_path / "out"
    assert main(["--suite", "hostile", *arguments(tiny_tasks, tiny_assets, folder, output)]) == 2
    assert "--trust-task-code" in capsys.readouterr().err
    assert not marker.exists() and not output.exists()


def test_bad_tasks_fail_in_one_line_and_nothing_of_the_system_file_is_published(
    hostile, tiny_tasks, tiny_assets, tmp_path, capsys
):
    folder, marker = hostile
    output = tmp_path / "out"
    tasks = ",".join(["topics", "topics_relabelled", *BAD_DATA_TASKS])
    run = ["--suite", "hostile", "--tasks", tasks, *arguments(tiny_tasks, tiny_assets, folder, output)]
    assert main(run) == 1  # the bad tasks' cells failed; the rest finished and the leaderboard was built
    err = capsys.readouterr().err
    assert "Traceback" not in err and not marker.exists()
    for task in BAD_DATA_TASKS:
        result = read_result(output / "hostile" / "tiny-bert" / task / "linear_probe-seed0.json")
        assert result.status == "failed" and result.error.startswith(f"DataError: task {task!r}: dataset.")
    good = read_result(output / "hostile" / "tiny-bert" / "topics" / "linear_probe-seed0.json")
    assert good.status == "ok"
    similarity = read_similarity(similarity_path(output, "hostile", "text"))
    # bad tasks are left out, the others measured (the suite's whole task list: code_metric's data is fine)
    assert {"topics", "topics_relabelled"} <= set(similarity.tasks) and not set(BAD_DATA_TASKS) & set(similarity.tasks)

    payload = tmp_path / "payload"
    assert push_main(["--out", str(output / "leaderboard"), "--repo-id", "me/results", "--dry-run", str(payload)]) == 0
    files = [path for root in (output, payload) for path in root.rglob("*") if path.is_file()]
    # hidden folders (the feature cache, claims and shard marks) are the run's working state, never published
    published = [p for p in files if not any(part.startswith(".") for part in p.relative_to(tmp_path).parts)]
    assert any(p.suffix == ".parquet" for p in published) and any(p.suffix == ".html" for p in published)
    for path in published:
        text = path.read_bytes().decode("utf-8", errors="replace")
        assert leaked(text, tmp_path) == [], path
