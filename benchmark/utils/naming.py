"""Names: near-miss suggestions for error messages, safe path components, and the names of model variants."""

from __future__ import annotations

import difflib
import re
import zlib
from collections.abc import Iterable

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
ASSETS_PREFIX = "{assets}/"  # checkpoints of the prepared offline assets (`benchmark.assets`)
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


def architecture_name(checkpoint: str, revision: str | None = None, dtype: str | None = None) -> str:
    """The name of a checkpoint's architecture from random weights (its scratch twin), from the checkpoint alone,
    so every model of one checkpoint shares it whatever its id, its pretraining stage or the suite's other models:

    - a timm or hub name without an organisation, or a folder of the prepared assets: the name itself
      (``resnet10t``, ``{assets}/checkpoints/tf_efficientnet_lite0`` -> ``tf_efficientnet_lite0``);
    - a hub id ``org/name``: ``org--name``, as the Hub's cache names it;
    - any other local folder: its name and a short hash of its path, since two folders may share a name.

    A pinned revision and a non-default dtype are appended (``-<revision>``, ``-<dtype>``): weights in another
    dtype are another twin.
    """
    text = str(checkpoint).replace("\\", "/").rstrip("/")
    name = text.rsplit("/", 1)[-1]
    if text.startswith(("/", ".", "~")):
        name = f"{name}-{zlib.crc32(text.encode('utf-8')):08x}"
    elif "/" in text and not text.startswith(ASSETS_PREFIX):
        name = text.replace("/", "--")
    parts = [safe_component(name), *(safe_component(part) for part in (revision, dtype) if part)]
    return "-".join(parts)


def variant_label(model: str, init: str) -> str:
    """Display name of a model variant: the pretrained model keeps its id, its scratch twin gets ' (scratch)'."""
    return model + (SCRATCH_SUFFIX if init == "scratch" else "")
