"""Spec validation: every bad file gets one clear line naming the file, line, field and a suggestion."""

from __future__ import annotations

import errno
import os
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from benchmark.run import DEFAULT_TASKS_DIR, main
from benchmark.specs import registry as registry_module
from benchmark.specs.registry import (
    MAX_SPEC_BYTES,
    MAX_YAML_DEPTH,
    SpecError,
    collect_registry,
    compose_spec,
    load_registry,
    load_task_file,
)

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


# --- files that cannot be read as a spec at all: one line naming the file, exit 2, the other files still checked


def billion_laughs() -> str:
    """Nine levels of nine aliases each: 9^9 = 387 million strings from 300 bytes."""
    lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, 9):
        name, previous = chr(ord("a") + level), chr(ord("a") + level - 1)
        lines.append(f"{name}: &{name} [{', '.join(['*' + previous] * 9)}]")
    return "\n".join([*lines, "task: *i"]) + "\n"


def make_fifo(path: Path) -> None:
    os.mkfifo(path)


UNREADABLE_CASES: dict[str, tuple[Callable[[Path], object], str]] = {
    "not_utf8": (lambda p: p.write_bytes(b"task: caf\xe9\nmodality: vision\n"), ":1: not UTF-8 text: byte 0xe9"),
    "utf16": (lambda p: p.write_text("task: a\n", encoding="utf-16"), "(it looks like UTF-16); save the file as UTF-8"),
    "late_bad_byte": (lambda p: p.write_bytes(b"task: a\n\n# \xc3\x28\n"), ":3: not UTF-8 text: byte 0xc3"),
    "empty": (lambda p: p.write_bytes(b""), ": file is empty; expected a mapping of TaskSpec fields"),
    "directory": (lambda p: p.mkdir(), ": is a directory, not a YAML file"),
    "fifo": (make_fifo, ": not a regular file"),
    "too_large": (lambda p: p.write_bytes(b"#" * (MAX_SPEC_BYTES + 1)), "spec files are limited to 1,048,576 bytes"),
    "billion_laughs": (lambda p: p.write_text(billion_laughs()), ":6: YAML document expands to more than 100,000"),
    "recursive_alias": (lambda p: p.write_text("task: &a [*a]\n"), ":1: recursive YAML alias"),
    "deep_nesting": (lambda p: p.write_text("task: " + "[" * 20000), f"nested more than {MAX_YAML_DEPTH} levels"),
    "control_char": (lambda p: p.write_text("task: a\nmodality: \x07\n"), ":2: YAML syntax error: unacceptable"),
}


def registry_with(tmp_path: Path, name: str, make: Callable[[Path], object]) -> Path:
    """A tasks folder with one valid task, one task with a typo, and `make(vision/<name>.yaml)` between them."""
    write(tmp_path / "vision" / "a_good.yaml", VALID_TASK)
    make(tmp_path / "vision" / f"{name}.yaml")
    write(tmp_path / "vision" / "z_typo.yaml", VALID_TASK.replace("colours", "other").replace("input_column", "x"))
    return tmp_path / "vision" / f"{name}.yaml"


def assert_reported_alone(err: str, bad: Path, expected: str, tasks_dir: Path) -> None:
    """The bad file gets exactly one line, naming it; the typo in the other file is still reported."""
    lines = [line.strip() for line in err.splitlines()]
    about_bad = [line for line in lines if line.startswith(str(bad))]
    assert len(about_bad) == 1, err
    assert expected in about_bad[0], err
    assert "Traceback" not in err
    assert any("z_typo.yaml" in line and "'dataset.x': unknown key" in line for line in lines), err
    registry, problems = collect_registry(tasks_dir)
    assert set(registry.tasks) == {"colours"}  # the valid file still loads beside the bad one


@pytest.mark.parametrize("case", sorted(UNREADABLE_CASES))
def test_validate_names_a_file_that_cannot_be_read_as_a_spec(tmp_path, capsys, case):
    make, expected = UNREADABLE_CASES[case]
    bad = registry_with(tmp_path, case, make)
    assert main(["--validate", "--tasks-dir", str(tmp_path)]) == 2
    assert_reported_alone(capsys.readouterr().err, bad, expected, tmp_path)


def test_validate_names_an_unreadable_file(tmp_path, capsys, monkeypatch):
    """Tests run as root, where chmod 000 changes nothing: opening the file fails as it would for a user."""
    bad = registry_with(tmp_path, "locked", lambda p: p.write_text(VALID_TASK))
    real_open = Path.open

    def refuse(self: Path, *args, **kwargs):
        if self == bad:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", refuse)
    assert main(["--validate", "--tasks-dir", str(tmp_path)]) == 2
    assert_reported_alone(capsys.readouterr().err, bad, ": cannot read file: Permission denied", tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a chmod 000 file anyway")
def test_validate_names_a_chmod_000_file(tmp_path, capsys):
    bad = registry_with(tmp_path, "locked", lambda p: p.write_text(VALID_TASK))
    bad.chmod(0)
    try:
        assert main(["--validate", "--tasks-dir", str(tmp_path)]) == 2
    finally:
        bad.chmod(0o644)
    assert_reported_alone(capsys.readouterr().err, bad, ": cannot read file: Permission denied", tmp_path)


def test_a_suite_file_that_cannot_be_read_is_named_too(tmp_path, capsys):
    write(tmp_path / "vision" / "a.yaml", VALID_TASK)
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "s.yaml").write_bytes(b"suite: s\ntasks: [colours]\ndescription: \xff\n")
    write(tmp_path / "suites" / "t.yaml", "suite: t\ntasks: [colours]\n")
    assert main(["--validate", "--tasks-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'suites' / 's.yaml'}:3: not UTF-8 text" in err and "1 problem(s)" in err
    registry, _ = collect_registry(tmp_path)
    assert set(registry.suites) == {"t"}


def test_a_file_growing_past_the_limit_after_its_size_was_checked_is_refused(tmp_path, monkeypatch):
    """The read itself is bounded, not only the size seen by stat."""
    path = write(tmp_path / "task.yaml", VALID_TASK)
    monkeypatch.setattr(registry_module, "MAX_SPEC_BYTES", 40)
    with pytest.raises(SpecError, match="limited to 40 bytes"):
        load_task_file(path)


def test_ordinary_anchors_and_merge_keys_still_load(tmp_path):
    write(tmp_path / "vision" / "colours.yaml", VALID_TASK + "    training: &train {epochs: 3, batch_size: 8}\n")
    write(
        tmp_path / "suites" / "s.yaml",
        """
        suite: s
        tasks: [colours]
        training: {epochs: 2, batch_size: 8}
        models:
          - &m {id: m1, library: timm, checkpoint: resnet18, modality: vision}
          - {<<: *m, id: m2}
        """,
    )
    registry = load_registry(tmp_path)
    resolved = registry.resolve("s")
    assert [m.id for m in resolved.models] == ["m1", "m2"] and resolved.models[1].checkpoint == "resnet18"
    assert registry.tasks["colours"].training.epochs == 3


def test_nesting_at_the_limit_is_a_schema_error_not_a_refusal(tmp_path):
    deep = "[" * (MAX_YAML_DEPTH - 2) + "]" * (MAX_YAML_DEPTH - 2)
    message = problems_for(tmp_path, VALID_TASK + f"    description: {deep}\n")
    assert "'description'" in message and "nested" not in message


def test_compose_spec_applies_the_same_reading_checks(tmp_path):
    root = compose_spec(write(tmp_path / "task.yaml", VALID_TASK))
    assert root.value[0][0].value == "task"
    (tmp_path / "bomb.yaml").write_text(billion_laughs())
    with pytest.raises(SpecError, match="bomb.yaml:6: YAML document expands"):
        compose_spec(tmp_path / "bomb.yaml")


PRETRAIN_SUITE = """
    suite: s
    models:
      - {id: base, library: timm, checkpoint: resnet10t, modality: vision}
      - id: on-colours
        library: timm
        checkpoint: %s
        modality: vision
        pretrain: {task: %s, max_steps: 10, learning_rate: 0.01}
    tasks: [colours]
"""


def test_pretrain_source_and_shared_architecture_resolve(tmp_path):
    write(tmp_path / "vision" / "a.yaml", VALID_TASK)
    write(tmp_path / "suites" / "s.yaml", PRETRAIN_SUITE % ("resnet10t", "colours"))
    suite = load_registry(tmp_path).resolve("s")
    assert suite.source_tasks["on-colours"].task == "colours" and "base" not in suite.source_tasks
    twins = {model.scratch_twin() for model in suite.models}
    assert len(twins) == 1 and twins.pop().model_dump(exclude_defaults=True) == {
        "id": "resnet10t",
        "library": "timm",
        "checkpoint": "resnet10t",
        "modality": "vision",
    }


@pytest.mark.parametrize(
    ("checkpoint", "source", "expected"),
    [
        (
            "resnet10t",
            "colour",
            "model 'on-colours': field 'pretrain.task': unknown task 'colour'; did you mean 'colours'?",
        ),
        (
            "elsewhere/resnet10t\n        architecture: resnet10t",  # a name given that another checkpoint has
            "colours",
            "model 'on-colours': field 'architecture': 'resnet10t' is also the architecture of 'base' "
            "(timm 'resnet10t'), a different checkpoint; give one of them an `architecture:` name of its own",
        ),
    ],
)
def test_pretrain_and_architecture_errors_name_the_field(tmp_path, checkpoint, source, expected):
    write(tmp_path / "vision" / "a.yaml", VALID_TASK)
    suite_file = write(tmp_path / "suites" / "s.yaml", PRETRAIN_SUITE % (checkpoint, source))
    with pytest.raises(SpecError) as caught:
        load_registry(tmp_path).resolve("s")
    assert expected in str(caught.value) and str(suite_file) in str(caught.value)


def test_pretrain_needs_a_budget(tmp_path):
    write(tmp_path / "vision" / "a.yaml", VALID_TASK)
    text = (PRETRAIN_SUITE % ("resnet10t", "colours")).replace("max_steps: 10, ", "")
    write(tmp_path / "suites" / "s.yaml", text)
    with pytest.raises(SpecError) as caught:
        load_registry(tmp_path)
    assert "pretrain needs a budget" in str(caught.value)
