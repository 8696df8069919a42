"""Spec validation: every bad file gets one clear line naming the file, line, field and a suggestion."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from benchmark.run import DEFAULT_TASKS_DIR, main
from benchmark.specs.registry import SpecError, load_registry, load_task_file

VALID_TASK = """
    task: colours
    modality: vision
    dataset:
      path: imagefolder
      data_dir: "{assets}/colours"
      input_column: image
    metrics: [accuracy]
    main_metric: accuracy
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def problems_for(tmp_path: Path, text: str) -> str:
    with pytest.raises(SpecError) as caught:
        load_task_file(write(tmp_path / "task.yaml", text))
    return str(caught.value)


def test_valid_task_loads(tmp_path):
    task = load_task_file(write(tmp_path / "task.yaml", VALID_TASK))
    assert task.task == "colours" and task.dataset.input_column == "image"
    assert task.preprocessing.max_length == 128


def test_unknown_key_names_line_field_and_suggestion(tmp_path):
    message = problems_for(tmp_path, VALID_TASK.replace("input_column", "input_colum"))
    assert f"{tmp_path / 'task.yaml'}:6:" in message
    assert "'dataset.input_colum': unknown key" in message
    assert "did you mean 'input_column'?" in message


def test_unknown_modality_suggests_nearest(tmp_path):
    message = problems_for(tmp_path, VALID_TASK.replace("modality: vision", "modality: visoin"))
    assert "task.yaml:2:" in message and "'modality'" in message and "did you mean 'vision'?" in message


def test_wrong_type_is_reported_with_value(tmp_path):
    message = problems_for(tmp_path, VALID_TASK + "    max_train_samples: lots\n")
    assert "'max_train_samples'" in message and "'lots'" in message


def test_unknown_metric_suggests_builtin(tmp_path):
    message = problems_for(tmp_path, VALID_TASK.replace("[accuracy]", "[accuracy, f1_macr]"))
    assert "unknown metric 'f1_macr'" in message and "did you mean 'f1_macro'?" in message


def test_main_metric_must_be_listed(tmp_path):
    message = problems_for(tmp_path, VALID_TASK.replace("main_metric: accuracy", "main_metric: f1_macro"))
    assert "main_metric 'f1_macro' must be one of metrics" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "file is empty"),
        ("- a\n- b\n", "expected a mapping of TaskSpec fields, got a list"),
        ("task: [unclosed\n", "YAML syntax error"),
    ],
)
def test_malformed_files(tmp_path, text, expected):
    assert expected in problems_for(tmp_path, text)


def test_yaml_syntax_error_names_line(tmp_path):
    message = problems_for(tmp_path, "task: a\nmodality: vision\ndataset: {path: x\n")
    assert "task.yaml:" in message and "YAML syntax error" in message


def test_duplicate_task_ids_and_missing_suite_members(tmp_path):
    write(tmp_path / "vision" / "a.yaml", VALID_TASK)
    write(tmp_path / "vision" / "b.yaml", VALID_TASK)
    with pytest.raises(SpecError) as caught:
        load_registry(tmp_path)
    assert "duplicate id 'colours'" in str(caught.value) and "a.yaml" in str(caught.value)


def test_suite_naming_missing_task_suggests(tmp_path):
    write(tmp_path / "vision" / "a.yaml", VALID_TASK)
    write(tmp_path / "suites" / "s.yaml", "suite: s\ntasks: [colour]\n")
    registry = load_registry(tmp_path)
    with pytest.raises(SpecError) as caught:
        registry.resolve("s")
    assert "unknown task 'colour'; did you mean 'colours'?" in str(caught.value)


def test_unknown_model_library_is_an_error(tmp_path):
    write(
        tmp_path / "suites" / "s.yaml", "suite: s\nmodels: [{id: m, library: keras, checkpoint: x, modality: text}]\n"
    )
    with pytest.raises(SpecError) as caught:
        load_registry(tmp_path)
    assert "'models.0.library'" in str(caught.value) and "keras" in str(caught.value)


def test_validate_exits_2_with_every_problem_and_no_traceback(tmp_path, capsys):
    write(tmp_path / "vision" / "a.yaml", VALID_TASK.replace("input_column", "input_colum"))
    write(tmp_path / "vision" / "b.yaml", "")
    assert main(["--tasks-dir", str(tmp_path), "--validate"]) == 2
    err = capsys.readouterr().err
    assert (
        "3 problem(s)" in err
        and "required field is missing" in err
        and "a.yaml" in err
        and "b.yaml" in err
        and "Traceback" not in err
    )


def test_real_suites_validate_and_resolve():
    registry = load_registry(DEFAULT_TASKS_DIR)
    for name in ("vision", "nlp", "speech", "all", "demo", "vision_fast", "nlp_fast", "speech_fast"):
        suite = registry.resolve(name)
        assert suite.models and suite.tasks
        assert {t.modality for t in suite.tasks} <= {m.modality for m in suite.models}
    for name in ("vision", "nlp", "speech"):  # enough checkpoints per task for a ranking to mean something
        assert len(registry.resolve(name).models) >= 8
    every = registry.resolve("all")
    assert {m.id for m in every.models} == {
        m.id for s in ("vision", "nlp", "speech") for m in registry.resolve(s).models
    }
