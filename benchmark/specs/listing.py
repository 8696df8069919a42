"""`--list`: the suites, tasks and models a registry holds, as plain text tables."""

from __future__ import annotations

from benchmark.specs.registry import Registry
from benchmark.specs.schema import TaskSpec


def describe_registry(registry: Registry) -> str:
    """Suites with their sizes, then every task, then every model named by a suite."""
    lines = ["Suites:"]
    for name, suite in sorted(registry.suites.items()):
        resolved = registry.resolve(name)
        lines.append(
            f"  {name:<12} {len(resolved.models):>2} models {len(resolved.tasks):>2} tasks  {suite.description}"
        )
    lines += ["", "Tasks:"]
    for name, task in sorted(registry.tasks.items()):
        lines.append(f"  {name:<22} {task.modality:<7} {task.dataset.path:<28} {task.main_metric}{_metadata(task)}")
        if task.citation:
            lines.append(f"  {'':<22} cite: {' '.join(task.citation.split())}")
    lines += ["", "Models:"]
    models = {m.id: (m, suite.suite) for suite in registry.suites.values() for m in suite.models}
    for name, (model, suite) in sorted(models.items()):
        source = f" -> trained here on {model.pretrain.task} ({_start(model.pretrain.init)})" if model.pretrain else ""
        lines.append(f"  {name:<28} {model.modality:<7} {model.library:<13} {model.checkpoint}{source}  [{suite}]")
    return "\n".join(lines)


def _metadata(task: TaskSpec) -> str:
    """`  version X, licence Y` for the task's metadata that is set, else nothing."""
    parts = [f"version {task.version}" if task.version else "", f"licence {task.licence}" if task.licence else ""]
    shown = ", ".join(part for part in parts if part)
    return f"  ({shown})" if shown else ""


def _start(init: str) -> str:
    return "from random weights" if init == "scratch" else "from this checkpoint"
