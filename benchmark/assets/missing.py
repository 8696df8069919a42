"""Offline assets a run needs but does not find, named before any work with the command that prepares them.

Task datasets and model checkpoints may point under the `{assets}` placeholder (the offline demo and zoo do).
Without this check a missing folder surfaces deep inside `datasets` as an `EmptyDatasetError` traceback, which
says nothing about `prepare-assets`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from benchmark.data.loading import ASSETS_PLACEHOLDER, expand_assets
from benchmark.specs.schema import ModelSpec, TaskSpec

GLOB_CHARS = re.compile(r"[*?\[]")
ZOO_PREFIX = "zoo_"


def missing_assets(tasks: Iterable[TaskSpec], models: Iterable[ModelSpec], assets_dir: Path) -> list[str]:
    """One line per asset folder under `{assets}` that a task's dataset or a model's checkpoint names and that
    does not exist (each folder once), in the order met."""
    lines: dict[str, str] = {}
    for owner, value in _asset_values(tasks, models):
        root = _asset_root(value)
        if root is None or root in lines:
            continue
        folder = Path(expand_assets(root, assets_dir))
        if not folder.exists():
            lines[root] = f"{owner}: {root} ({folder}) does not exist"
    return list(lines.values())


def prepare_hint(assets_dir: Path, problems: list[str]) -> str:
    """The commands that prepare the assets, for the installed command and for a plain Python environment."""
    zoo = " --zoo" if any(f"/{ZOO_PREFIX}" in line for line in problems) else ""
    options = f"--assets-dir {assets_dir}{zoo}"
    return (
        f"prepare the offline assets once with `transfer-bench prepare-assets {options}` "
        f"(or `python -m benchmark.assets.prepare {options}`), or point --assets-dir (env TRANSFER_BENCH_ASSETS) at "
        "the folder that holds them"
    )


def _asset_values(tasks: Iterable[TaskSpec], models: Iterable[ModelSpec]) -> Iterator[tuple[str, str]]:
    """(who names it, the string) for every string under `{assets}` in the datasets and checkpoints."""
    for task in tasks:
        dataset = task.dataset.model_dump(include={"path", "data_dir", "data_files"})
        for value in _strings(dataset):
            yield f"task {task.task!r}", value
    for model in models:
        for value in _strings(model.checkpoint):
            yield f"model {model.id!r}", value


def _strings(value) -> Iterator[str]:
    if isinstance(value, str):
        if ASSETS_PLACEHOLDER in value:
            yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _asset_root(value: str) -> str | None:
    """`{assets}/<kind>/<name>`: the folder one prepared asset occupies (of the part before any glob character)."""
    head = GLOB_CHARS.split(value, maxsplit=1)[0]
    if GLOB_CHARS.search(value):
        head = head.rsplit("/", 1)[0]  # a partial name before the glob is no folder
    parts = [part for part in head.removeprefix(ASSETS_PLACEHOLDER).split("/") if part]
    return "/".join([ASSETS_PLACEHOLDER, *parts[:2]]) if head.startswith(ASSETS_PLACEHOLDER) and parts else None
