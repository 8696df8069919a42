"""Names: near-miss suggestions for error messages, safe path components, and the names of model variants."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
SCRATCH_SUFFIX = " (scratch)"  # the display suffix of a scratch twin (`variant_label`)


def suggest(name: str, choices: Iterable[str]) -> str:
    """'; did you mean X?' for the closest valid name, or '' when nothing is close."""
    match = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1, cutoff=0.6)
    return f"; did you mean {match[0]!r}?" if match else ""


def safe_component(name: str) -> str:
    """A file-name component that cannot leave its directory: no separators, no '..', never empty."""
    cleaned = _UNSAFE.sub("_", str(name)).strip("._")
    return cleaned or "_"


def variant_dirname(model: str, init: str) -> str:
    """Directory name of a model variant: the pretrained model keeps its id, its scratch twin gets `__scratch`."""
    return safe_component(model) + ("__scratch" if init == "scratch" else "")


def variant_label(model: str, init: str) -> str:
    """Display name of a model variant: the pretrained model keeps its id, its scratch twin gets ' (scratch)'."""
    return model + (SCRATCH_SUFFIX if init == "scratch" else "")
