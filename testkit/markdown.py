"""Reading the leaderboard's markdown tables back in tests."""

from __future__ import annotations


def table_rows(lines: list[str], first: str) -> list[list[str]]:
    """Cells of the body rows of the markdown table whose header starts with `first`."""
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first} |"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("| "):
            break
        rows.append([c.strip() for c in line.strip("|").split("|")])
    return rows
