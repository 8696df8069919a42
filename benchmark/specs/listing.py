"""`--list`: the suites, tasks and models a registry holds, as plain text tables."""

from __future__ import annotations

from benchmark.specs.registry import Registry


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
        lines.append(f"  {name:<22} {task.modality:<7} {task.dataset.path:<28} {task.main_metric}")
    lines += ["", "Models:"]
    models = {m.id: (m, suite.suite) for suite in registry.suites.values() for m in suite.models}
    for name, (model, suite) in sorted(models.items()):
        source = f" -> trained here on {model.pretrain.task} ({_start(model.pretrain.init)})" if model.pretrain else ""
        lines.append(f"  {name:<28} {model.modality:<7} {model.library:<13} {model.checkpoint}{source}  [{suite}]")
    return "\n".join(lines)


def _start(init: str) -> str:
    return "from random weights" if init == "scratch" else "from this checkpoint"
