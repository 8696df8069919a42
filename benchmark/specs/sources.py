"""One registry from several task folders: the built-in tasks plus the user's own (`--include-path`).

Like lm-evaluation-harness's include path, a user keeps their task and suite YAML in folders of their own, laid
out as `tasks/` is (`<folder>/**/<task>.yaml`, `<folder>/suites/<suite>.yaml`), and names them on the command
line; their suites may use the built-in tasks and catalogue models by id and vice versa. Each folder is read by
`collect_registry`, so every check of a single folder applies unchanged. An id defined in two folders is reported
as a problem, as within one folder: a silent override would make results depend on the order of the flags.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from benchmark.specs.registry import Registry, SpecError, collect_registry


def unique_folders(tasks_dirs: Iterable[Path]) -> list[Path]:
    """The folders in order, each once (a folder named twice, by any spelling, is read once)."""
    seen: set[Path] = set()
    folders = []
    for folder in tasks_dirs:
        key = Path(folder).expanduser().resolve()
        if key not in seen:
            seen.add(key)
            folders.append(Path(folder).expanduser())
    return folders


def collect_sources(tasks_dirs: Iterable[Path]) -> tuple[Registry, list[str]]:
    """Every valid spec under all `tasks_dirs` merged into one registry, and one message per problem.

    The first folder becomes the registry's `tasks_dir`. A folder that does not exist raises `SpecError` naming
    every missing one, whatever `--keep-going` says: a mistyped include path must not quietly run fewer tasks.
    """
    folders = unique_folders(tasks_dirs)
    if not folders:
        raise SpecError(["no tasks directory given"])
    missing = [f"{folder}: tasks directory not found" for folder in folders if not folder.is_dir()]
    if missing:
        raise SpecError(missing)
    merged, problems = Registry(tasks_dir=folders[0]), []
    for folder in folders:
        registry, folder_problems = collect_registry(folder)
        problems += folder_problems
        _merge(merged.tasks, merged.task_files, registry.tasks, registry.task_files, problems)
        _merge(merged.suites, merged.suite_files, registry.suites, registry.suite_files, problems)
        _merge(merged.models, merged.model_files, registry.models, registry.model_files, problems)
    return merged, problems + merged.catalogue_problems()


def _merge(specs: dict, files: dict[str, Path], new_specs: dict, new_files: dict[str, Path], problems: list[str]):
    """Add one folder's specs of one kind; an id that is already known is a problem, the first definition stays."""
    for key, spec in new_specs.items():
        if key in specs:
            problems.append(f"{new_files[key]}: duplicate id {key!r}, already defined in {files[key]}")
            continue
        specs[key], files[key] = spec, new_files[key]
