"""The leaderboard's markdown analysis sections as HTML, so the page holds every answer the markdown holds.

The sections (`benchmark.report.reuse`, `sections`, `similarity_reuse`) are written once, as markdown lines; this
module renders the small subset of markdown they use: headings, pipe tables, bullet lists, fenced code, paragraphs,
and inline `code` and **bold**. Images are left out (the page embeds the figures itself). Everything is escaped
before the inline marks are applied, so no text from a result file can become markup.
"""

from __future__ import annotations

import html
import re

_CODE = re.compile(r"`([^`]+)`")
_BOLD = re.compile(r"\*\*([^*]+)\*\*")
_IMAGE = re.compile(r"^!\[[^\]]*\]\([^)]*\)$")


def inline(text: str) -> str:
    """Escaped text with `code` and **bold** marked up."""
    escaped = html.escape(text, quote=False)
    return _BOLD.sub(r"<strong>\1</strong>", _CODE.sub(r"<code>\1</code>", escaped))


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split(" | ")]


def _table(lines: list[str]) -> str:
    """A pipe table: the first line is the header, the second the separator."""
    head = "".join(f"<th>{inline(cell)}</th>" for cell in _cells(lines[0]))
    body = "".join(
        "<tr>" + "".join(f"<td>{inline(cell)}</td>" for cell in _cells(line)) + "</tr>" for line in lines[2:]
    )
    return (
        f'<div class="scroll"><table class="analysis"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'
    )


def render(lines: list[str]) -> str:
    """HTML of markdown lines (the subset the leaderboard sections write)."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            end = next((j for j in range(i + 1, len(lines)) if lines[j].startswith("```")), len(lines))
            out.append("<pre>" + html.escape("\n".join(lines[i + 1 : end]), quote=False) + "</pre>")
            i = end + 1
        elif line.startswith("|"):
            end = next((j for j in range(i, len(lines)) if not lines[j].startswith("|")), len(lines))
            out.append(_table(lines[i:end]))
            i = end
        elif line.startswith("- "):
            end = next((j for j in range(i, len(lines)) if not lines[j].startswith("- ")), len(lines))
            out.append("<ul>" + "".join(f"<li>{inline(item[2:])}</li>" for item in lines[i:end]) + "</ul>")
            i = end
        else:
            out.append(_block(line))
            i += 1
    return "\n".join(part for part in out if part)


def _block(line: str) -> str:
    """A heading, a paragraph, or nothing (blank lines and images)."""
    if not line.strip() or _IMAGE.match(line.strip()):
        return ""
    level = len(line) - len(line.lstrip("#"))
    if 0 < level <= 6 and line[level : level + 1] == " ":
        return f"<h{level}>{inline(line[level + 1 :])}</h{level}>"
    return f"<p>{inline(line)}</p>"
