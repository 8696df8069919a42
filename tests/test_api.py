"""The Python API: `benchmark.evaluate` takes the command line's options and returns the results table; the
README's example runs as written, on the tiny fixtures instead of the demo."""

from __future__ import annotations

import re

import pytest

import benchmark
from benchmark.api import command_line, override_arguments
from benchmark.utils.paths import REPO_ROOT

EXAMPLE = re.compile(r"^```python\n(import benchmark\n.*?benchmark\.evaluate\(.*?)^```", re.MULTILINE | re.DOTALL)


def readme_example() -> str:
    (code,) = EXAMPLE.findall((REPO_ROOT / "README.md").read_text(encoding="utf-8"))
    return code


def _swap(code: str, old: str, new: str) -> str:
    assert code.count(old) == 1, f"the README example no longer holds {old!r}: update this test with it"
    return code.replace(old, new)


@pytest.mark.integration
def test_readme_example_runs_on_the_tiny_fixtures(tiny_tasks, tiny_assets, tmp_path, capsys):
    code = readme_example()
    for old, new in [
        ('"demo"', '"tiny"'),
        ('["digits"]', '["colours"]'),
        ('["efficientnet_lite0"]', '["tiny-resnet"]'),
        ('"results"', repr(str(tmp_path / "results"))),
        (
            '"no_similarity": True}',
            f'"no_similarity": True, "tasks_dir": {str(tiny_tasks)!r}, '
            f'"assets_dir": {str(tiny_assets)!r}, "probe_epochs": 2}}',
        ),
    ]:
        code = _swap(code, old, new)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    table = namespace["table"]
    assert sorted(zip(table["init"], table["protocol"], strict=True)) == [
        ("pretrained", "finetune"),
        ("pretrained", "linear_probe"),
        ("scratch", "finetune"),
        ("scratch", "linear_probe"),
    ]
    assert set(table["task"]) == {"colours"} and set(table["status"]) == {"ok"} and set(table["seed"]) == {0}
    assert (
        table["test_score"].between(0, 1).all()
        and (table["optimizer_steps"][table["protocol"] == "finetune"] == 8).all()
    )
    assert "test_score" in capsys.readouterr().out  # the example's printed summary
    assert table["seed"].dtype == "Int64" and table["optimizer_steps"].dtype == "Int64"  # not float64
    # Called again with the same options, it reuses every cell: the same table, nothing rerun.
    again = benchmark.evaluate(
        "tiny",
        tasks=["colours"],
        models=["tiny-resnet"],
        output_dir=tmp_path / "results",
        overrides={
            "max_steps": 8,
            "max_train_samples": 64,
            "seeds": [0],
            "no_similarity": True,
            "tasks_dir": tiny_tasks,
            "assets_dir": tiny_assets,
            "probe_epochs": 2,
        },
    )
    assert again.equals(table)
    assert "cells: 4 ok" in capsys.readouterr().out


def test_options_become_the_command_line():
    assert command_line("demo", tasks=["a", "b"], models="m", add_models=["hf:x@v1"], output_dir="out") == [
        *("--suite", "demo", "--output-dir", "out", "--tasks", "a,b", "--models", "m", "--model", "hf:x@v1"),
    ]
    assert command_line("demo", log_samples=True) == ["--suite", "demo", "--output-dir", "results", "--log-samples"]
    overrides = {"max_steps": 8, "seeds": [0, 1], "no_scratch": True, "compile": False, "epochs": None}
    assert override_arguments(overrides) == ["--max-steps", "8", "--seeds", "0,1", "--no-scratch"]
    assert override_arguments({"include_path": ["a", "b"]}) == ["--include-path", "a", "--include-path", "b"]


def test_unknown_or_misplaced_options_are_errors():
    with pytest.raises(ValueError, match="unknown run option 'max_step'; did you mean 'max_steps'"):
        override_arguments({"max_step": 8})
    with pytest.raises(ValueError, match=r"pass it as evaluate\(\.\.\., tasks=\.\.\.\)"):
        override_arguments({"tasks": ["a"]})
    with pytest.raises(ValueError, match=r"pass it as evaluate\(\.\.\., log_samples=\.\.\.\)"):
        override_arguments({"log_samples": True})
    with pytest.raises(ValueError, match="on or off"):
        override_arguments({"no_scratch": "yes"})


def test_a_run_that_cannot_start_raises(tiny_tasks, tmp_path):
    with pytest.raises(benchmark.EvaluationError, match="exit status 2") as error:
        benchmark.evaluate("no-such-suite", output_dir=tmp_path, overrides={"tasks_dir": tiny_tasks})
    assert error.value.exit_code == 2
