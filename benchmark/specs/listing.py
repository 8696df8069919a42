"""`--list`: the suites, tasks and models a registry holds, as plain text tables."""

from __future__ import annotations

from benchmark.specs.catalogue import resolve_entry
from benchmark.specs.registry import Registry
from benchmark.specs.schema import ModelMeta, ModelSpec, TaskSpec


def describe_registry(registry: Registry) -> str:
    """Suites with their sizes, then every task, then every catalogue model and every model a suite names, each
    with where it comes from (the catalogue with its licence, the suites that name it)."""
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
    models = {model_id: (meta.spec(), [_licence(meta)]) for model_id, meta in registry.models.items()}
    for name in sorted(registry.suites):
        for model in _suite_models(registry, name):
            models.setdefault(model.id, (model, []))[1].append(name)
    for name, (model, where) in sorted(models.items()):
        source = f" -> trained here on {model.pretrain.task} ({_start(model.pretrain.init)})" if model.pretrain else ""
        shown = ", ".join(where)
        lines.append(f"  {name:<28} {model.modality:<7} {model.library:<13} {model.checkpoint}{source}  [{shown}]")
    return "\n".join(lines)


def _suite_models(registry: Registry, suite: str) -> list[ModelSpec]:
    """The models a suite file itself names, resolved (catalogue ids and models built on one included)."""
    where = registry.suite_files.get(suite, suite)
    entries = enumerate(registry.suites[suite].models)
    return [model for index, entry in entries if (model := resolve_entry(entry, registry.models, where, index, []))]


def _licence(meta: ModelMeta) -> str:
    return f"catalogue, {meta.licence}" if meta.licence else "catalogue"


def _metadata(task: TaskSpec) -> str:
    """`  version X, licence Y` for the task's metadata that is set, else nothing."""
    parts = [f"version {task.version}" if task.version else "", f"licence {task.licence}" if task.licence else ""]
    shown = ", ".join(part for part in parts if part)
    return f"  ({shown})" if shown else ""


def _start(init: str) -> str:
    return "from random weights" if init == "scratch" else "from this checkpoint"
