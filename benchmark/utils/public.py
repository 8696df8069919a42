"""What may leave the machine: published text carries no local absolute path.

Result files, the results table, the leaderboard pages and the `push` payload are meant to be shared, so a path
such as `/home/alice/data/train.csv` or `/etc/os-release` must not appear in them. `redact_text` rewrites each
absolute path in a text: one under a known folder becomes relative to it (`{assets}/data/x.csv`,
`{include}/text/t.yaml`, `~/x`), any other becomes `<local>/<its last component>`. Paths stay the user's choice in
the specs and on the command line; only what is published is rewritten. `redact_data` applies it to every string
(and every key) of a JSON-like structure.

A path is recognised as a `/` that starts a token (not inside a word, a hub id `org/name` or a URL) followed by
path characters, so `org/name`, `https://huggingface.co/...` and ratios such as `1/2` are left alone. A path with
spaces is cut at the first space: the part before it is still rewritten.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ABSOLUTE_PATH = re.compile(r"(?<![\w.~/\-{}])(?!//)(?:~(?=/)|/)[\w.@+\-~/{}]*")
REDACTED = "<local>"


def path_roots(named: Iterable[tuple[str, Path | str | None]]) -> list[tuple[str, str]]:
    """(absolute folder, its public name) pairs, longest folder first so the most specific one wins; folders
    that are None or the file-system root are skipped (`/` would claim every path)."""
    roots: dict[str, str] = {}
    for name, folder in named:
        if folder is None:
            continue
        for spelling in _spellings(Path(folder)):
            if spelling != "/" and spelling not in roots:
                roots[spelling] = name
    return sorted(roots.items(), key=lambda item: len(item[0]), reverse=True)


def default_roots(**folders: Path | str | None) -> list[tuple[str, str]]:
    """`path_roots` of the given `{name: folder}` (e.g. assets, include), then the home folder as `~`."""
    named = [(f"{{{name}}}", folder) for name, folder in folders.items()]
    return path_roots([*named, ("~", Path.home())])


def _spellings(folder: Path) -> list[str]:
    """The folder as given (absolute) and resolved, without a trailing slash."""
    spellings = [str(folder.expanduser().absolute())]
    try:
        spellings.append(str(folder.expanduser().resolve()))
    except (OSError, RuntimeError):
        pass
    return [spelling.rstrip("/") or "/" for spelling in spellings]


def redact_text(text: str, roots: list[tuple[str, str]] = ()) -> str:
    """`text` with every absolute path rewritten relative to a root, or redacted to its last component."""
    return ABSOLUTE_PATH.sub(lambda match: public_path(match.group(0), roots), text)


def public_path(path: str, roots: list[tuple[str, str]] = ()) -> str:
    """One absolute path as it may be published (see the module docstring); other text is returned unchanged."""
    if not path.startswith(("/", "~/")) or path.startswith("/{"):
        return path
    for folder, name in roots:
        if path == folder or path.startswith(folder + "/"):
            return name + path[len(folder) :]
    if path.startswith("~/"):
        return path
    last = path.rstrip("/").rsplit("/", 1)[-1]
    return f"{REDACTED}/{last}" if last else REDACTED


def redact_data(value: Any, roots: list[tuple[str, str]] = ()) -> Any:
    """A copy of a JSON-like value with `redact_text` applied to every string, keys included."""
    if isinstance(value, str):
        return redact_text(value, roots)
    if isinstance(value, dict):
        return {redact_data(key, roots): redact_data(item, roots) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_data(item, roots) for item in value]
    return value
