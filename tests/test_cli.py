"""The `transfer-bench` command: subcommands, the user's own task folders, and an installed wheel that works from
any folder with the built-in tasks shipped inside the package."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import tomllib
import types
from pathlib import Path

import pytest

from benchmark import cli
from benchmark.utils.paths import DEFAULT_TASKS_DIR, REPO_ROOT

USER_TASK = """
    task: my_colours
    modality: vision
    dataset: {path: imagefolder, data_dir: "{assets}/colours", input_column: image}
    metrics: [accuracy]
    main_metric: accuracy
"""
USER_SUITE = """
    suite: mine
    models:
      - {id: my-resnet, library: timm, checkpoint: "{assets}/tiny-resnet", modality: vision}
    tasks: [my_colours, digits]
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


@pytest.fixture()
def user_tasks(tmp_path) -> Path:
    """A folder of the user's own: one task, and a suite that mixes it with a built-in task."""
    folder = tmp_path / "my_tasks"
    write(folder / "my_colours.yaml", USER_TASK)
    write(folder / "suites" / "mine.yaml", USER_SUITE)
    return folder


def builtin_counts() -> tuple[int, int]:
    tasks = [p for p in DEFAULT_TASKS_DIR.rglob("*.yaml") if p.parent.name not in ("suites", "models")]
    return len(tasks), len(list((DEFAULT_TASKS_DIR / "suites").glob("*.yaml")))


def test_help_lists_every_subcommand(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("run", "list", "validate", "leaderboard", "prepare-assets", "push"):
        assert f"  {command} " in out


def test_no_arguments_and_unknown_commands_are_usage_errors(capsys):
    assert cli.main([]) == 2
    assert cli.main(["lst"]) == 2
    assert "did you mean 'list'?" in capsys.readouterr().err


def test_validate_and_list_use_the_builtin_tasks(capsys):
    tasks, suites = builtin_counts()
    assert cli.main(["validate"]) == 0
    assert f"ok: {tasks} tasks and {suites} suites in {DEFAULT_TASKS_DIR} are valid" in capsys.readouterr().out
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "Suites:" in out and "demo" in out and "fashion_mnist" in out


def test_include_path_adds_the_users_tasks_and_suites(user_tasks, capsys):
    tasks, suites = builtin_counts()
    assert cli.main(["validate", "--include-path", str(user_tasks)]) == 0
    assert f"ok: {tasks + 1} tasks and {suites + 1} suites in {DEFAULT_TASKS_DIR}, {user_tasks}" in (
        capsys.readouterr().out
    )
    assert cli.main(["list", "--include-path", str(user_tasks)]) == 0
    out = capsys.readouterr().out
    assert "my_colours" in out
    assert next(line for line in out.splitlines() if line.strip().startswith("mine ")).split()[1:4] == [
        "1",
        "models",
        "2",
    ]  # its own task and the built-in digits


def test_the_same_folder_twice_is_read_once(user_tasks, capsys):
    assert cli.main(["validate", "--include-path", str(user_tasks), "--include-path", str(user_tasks) + "/"]) == 0


def test_an_id_defined_twice_across_folders_is_an_error(user_tasks, capsys):
    write(user_tasks / "vision" / "digits.yaml", USER_TASK.replace("my_colours", "digits"))
    assert cli.main(["validate", "--include-path", str(user_tasks)]) == 2
    err = capsys.readouterr().err
    assert f"{user_tasks / 'vision' / 'digits.yaml'}: duplicate id 'digits', already defined in" in err


def test_a_missing_include_path_is_an_error_even_with_keep_going(tmp_path, capsys):
    missing = tmp_path / "nope"
    assert cli.main(["list", "--keep-going", "--include-path", str(missing)]) == 2
    assert f"{missing}: tasks directory not found" in capsys.readouterr().err


def test_a_leading_flag_means_run_as_before(capsys):
    assert cli.main(["--validate"]) == 0
    assert "are valid" in capsys.readouterr().out


def recording_module(monkeypatch, name: str, calls: list) -> None:
    """Stand in for the module that owns a subcommand, recording the arguments it is given."""
    module = types.ModuleType(name)
    module.main = lambda argv=None, **_: calls.append((name, argv)) or 0
    monkeypatch.setitem(sys.modules, name, module)


@pytest.mark.parametrize(
    ("command", "module"),
    [
        ("leaderboard", "benchmark.report.leaderboard"),
        ("prepare-assets", "benchmark.assets.prepare"),
        ("push", "benchmark.report.hub"),
    ],
)
def test_subcommands_hand_their_arguments_to_the_owning_module(monkeypatch, command, module):
    calls: list = []
    recording_module(monkeypatch, module, calls)
    assert cli.main([command, "--out", "x", "--flag"]) == 0
    assert calls == [(module, ["--out", "x", "--flag"])]


def test_run_hands_every_flag_to_run_py(monkeypatch):
    calls: list = []
    monkeypatch.setattr("benchmark.run.main", lambda argv, prog: calls.append((argv, prog)) or 0)
    assert cli.main(["run", "--suite", "demo", "--include-path", "x"]) == 0
    assert calls == [(["--suite", "demo", "--include-path", "x"], "transfer-bench run")]


def test_every_subpackage_is_listed_for_the_wheel():
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    on_disk = {
        ".".join(path.parent.relative_to(REPO_ROOT).parts) for path in (REPO_ROOT / "benchmark").rglob("__init__.py")
    }
    assert on_disk | {"benchmark.tasks"} == listed
    assert config["tool"]["setuptools"]["package-dir"] == {"benchmark.tasks": "tasks"}
    assert config["project"]["scripts"]["transfer-bench"] == "benchmark.cli:main"


def _can_build_without_isolation() -> bool:
    """setuptools >= 70.1 builds wheels itself; older ones need the `wheel` package."""
    try:
        import setuptools
    except ImportError:
        return False
    major, minor = (int(part) for part in setuptools.__version__.split(".")[:2])
    if (major, minor) >= (70, 1):
        return True
    try:
        import wheel  # noqa: F401
    except ImportError:
        return False
    return True


def _source_copy(destination: Path) -> Path:
    """What the wheel is built from, copied so that the build writes nothing into the working tree."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".feature_cache")
    destination.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO_ROOT / name, destination / name)
    for name in ("benchmark", "tasks"):
        shutil.copytree(REPO_ROOT / name, destination / name, ignore=ignore)
    return destination


@pytest.mark.integration
def test_installed_wheel_lists_and_validates_from_any_folder(tmp_path, user_tasks):
    if not _can_build_without_isolation():
        pytest.skip("building offline needs setuptools>=70.1 (or the wheel package): pip install -e '.[test]'")
    source = _source_copy(tmp_path / "source")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q", "-w",
         str(tmp_path / "dist"), str(source)],
        check=True,
        timeout=120,
    )  # fmt: skip
    (wheel,) = (tmp_path / "dist").glob("transfer_bench-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--no-deps", "--no-index", "--ignore-installed", "-q", str(wheel)],
        check=True,
        timeout=120,
    )
    shutil.rmtree(source)  # nothing may come from the build tree
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    command = str(venv / "bin" / "transfer-bench")

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([command, *args], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=120)

    listed = run("list")
    assert listed.returncode == 0, listed.stderr
    assert "demo" in listed.stdout and "fashion_mnist" in listed.stdout
    validated = run("validate")
    assert validated.returncode == 0, validated.stderr
    tasks, suites = builtin_counts()
    shipped = Path(validated.stdout.split(" in ")[1].split(" are valid")[0])
    assert validated.stdout.startswith(f"ok: {tasks} tasks and {suites} suites")
    assert shipped.is_relative_to(venv) and shipped.parts[-2:] == ("benchmark", "tasks")
    mine = run("validate", "--include-path", str(user_tasks))
    assert mine.returncode == 0 and f"ok: {tasks + 1} tasks and {suites + 1} suites" in mine.stdout
    assert run("--list").returncode == 0  # the former single-command form
    assert "prepare-assets" in run("--help").stdout
