"""The leaderboard section "Tasks": what each task is, its version and licence, and how to cite its data.

Read from the task spec each result records (`specs["task"]`: `description`, `version`, `licence`, `citation`),
so it needs nothing but the result files. Omitted (no lines) when no task of the suite declares a version, a
licence or a citation, so boards of tasks without that metadata render as before.
"""

from __future__ import annotations

from benchmark.results.schema import CellResult

METADATA = ("version", "licence", "citation")
HEADER = "| Task | Version | Licence | Description | Citation |"


def task_metadata_section(results: list[CellResult], suite: str) -> list[str]:
    """A table of the suite's tasks when any declares metadata; the latest-written result's spec of each task."""
    specs: dict[str, dict] = {}
    for result in sorted((r for r in results if r.suite == suite), key=lambda r: r.created_at):
        specs[result.task] = result.specs.get("task") or specs.get(result.task) or {}
    if not any(spec.get(name) for spec in specs.values() for name in METADATA):
        return []
    lines = ["### Tasks", "", HEADER, "|---|---|---|---|---|"]
    for task, spec in sorted(specs.items()):
        cells = [spec.get("version"), spec.get("licence"), spec.get("description"), spec.get("citation")]
        lines.append(f"| {task} | " + " | ".join(_cell(value) for value in cells) + " |")
    return [*lines, ""]


def _cell(value: str | None) -> str:
    """A table cell on one line: whitespace collapsed, pipes escaped, `–` where unset."""
    if not value:
        return "–"
    return " ".join(str(value).split()).replace("|", "\\|")
