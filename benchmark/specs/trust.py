"""Task files name data and metrics, never code: find every reference to code in a registry.

A task folder shared for `--include-path` must not be able to run Python on the user's machine. Two fields could
make it: a metric named `evaluate:<module>` (a local folder's or a Hub repository's `evaluate` module, whose
Python `evaluate.load` imports and runs), and a dataset whose `path` is a loading script (a `.py` file, or a
folder holding `<folder>.py`). The metrics the package ships (`benchmark/metrics/modules`) are part of the
package, not of the task file, and are always allowed.

`code_problems` lists each reference as one located line naming the file, the field and the opt-in flag; the
entry point refuses them unless the user passes `--trust-task-code` on the command line: `--validate` reports
every one, and a run refuses those of the tasks and suites it uses before any work. Loading scripts stay
refused even then: `datasets` 4 no longer runs them. A task a suite names by file path (not in the registry) is
caught when its metric is loaded (`benchmark.metrics.compute.load_metric`), failing its cells.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from pathlib import Path

from benchmark.data.loading import expand_assets
from benchmark.specs.registry import Registry
from benchmark.specs.schema import EXTERNAL_METRIC_PREFIX, DatasetSpec, TaskSpec

TRUST_FLAG = "--trust-task-code"
SCRIPT_SUFFIX = ".py"


def code_problems(
    registry: Registry, assets_dir: Path, trust_task_code: bool, only: Collection[str] | None = None
) -> list[str]:
    """One located line per reference to code that the flags refuse, in the registry's tasks and its suites' and
    catalogue's models (their pretraining samples); `only` narrows to those task and suite ids (what a run uses) and
    the catalogue models those suites name."""
    problems = []
    for task_id, task in sorted(registry.tasks.items()):
        if only is not None and task_id not in only:
            continue
        where = registry.task_files.get(task_id, f"task {task_id!r}")
        if not trust_task_code:
            problems += [f"{where}: field 'metrics': {message}" for message in metric_code(task)]
        scripts = script_code(task.dataset, assets_dir)
        problems += [f"{where}: field 'dataset.{name}': {message}" for name, message in scripts]
    referenced: set[str] = set()
    for suite_id, suite in sorted(registry.suites.items()):
        if only is not None and suite_id not in only:
            continue
        where = registry.suite_files.get(suite_id, f"suite {suite_id!r}")
        for index, model in enumerate(suite.models):
            if isinstance(model, str):  # a catalogue model, checked in its own file below
                referenced.add(model)
                continue
            for name, message in _sample_code(model.pretraining_sample, assets_dir):
                problems.append(f"{where}: field 'models[{index}].pretraining_sample.{name}': {message}")
    for model_id, model in sorted(registry.models.items()):
        if only is None or model_id in referenced:
            where = registry.model_files[model_id]
            for name, message in _sample_code(model.pretraining_sample, assets_dir):
                problems.append(f"{where}: field 'pretraining_sample.{name}': {message}")
    return problems


def _sample_code(sample: DatasetSpec | None, assets_dir: Path) -> Iterator[tuple[str, str]]:
    return script_code(sample, assets_dir) if sample is not None else iter(())


def metric_code(task: TaskSpec) -> Iterator[str]:
    """A message per `evaluate:` metric of a task: each names a module whose Python would be imported."""
    for name in task.metrics:
        if name.startswith(EXTERNAL_METRIC_PREFIX):
            yield (
                f"metric {name!r} is an evaluate module, Python code that a task file may not run; pass "
                f"{TRUST_FLAG} to run it (only for task folders you trust), or use a built-in metric"
            )


def script_code(spec: DatasetSpec, assets_dir: Path) -> Iterator[tuple[str, str]]:
    """(field, message) when a dataset block names a loading script instead of data."""
    path = Path(expand_assets(spec.path, assets_dir))
    if path.suffix == SCRIPT_SUFFIX or _is_file(script := path / f"{path.name}{SCRIPT_SUFFIX}"):
        script = path if path.suffix == SCRIPT_SUFFIX else script
        yield (
            "path",
            f"names a dataset loading script ({script.name}), Python code that a task file may not run, not even "
            f"with {TRUST_FLAG} (datasets 4 no longer runs loading scripts); store the data as files (csv, json, "
            "parquet, an image or audio folder) and name those",
        )


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # a path too long or unreadable is no script we could run either
        return False
