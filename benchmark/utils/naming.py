"""Names: near-miss suggestions for error messages, and safe path components for result files."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def suggest(name: str, choices: Iterable[str]) -> str:
    """'; did you mean X?' for the closest valid name, or '' when nothing is close."""
    match = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1, cutoff=0.6)
    return f"; did you mean {match[0]!r}?" if match else ""


def safe_component(name: str) -> str:
    """A file-name component that cannot leave its directory: no separators, no '..', never empty."""
    cleaned = _UNSAFE.sub("_", str(name)).strip("._")
    return cleaned or "_"
