"""Atomic file writes: a file either exists whole or not at all, whatever kills the writer.

Every file the suite publishes (result records, cached features, the manifest, leaderboard pages) goes
through `atomic_write`: the bytes go to a temporary file in the target's directory, are flushed and fsynced,
then renamed over the target. A failure at any point (a full disk, a lost permission, a signal) removes the
temporary file and leaves the previous version of the target untouched.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO


def atomic_write(path: Path, write: Callable[[IO[bytes]], object]) -> Path:
    """Call `write(handle)` on a temporary binary file beside `path`, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, _default_file_mode())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: Path, text: str) -> Path:
    """Write `text` as UTF-8 atomically."""
    return atomic_write(path, lambda handle: handle.write(text.encode("utf-8")))


def _default_file_mode() -> int:
    """The mode `open()` would give a new file under the current umask (mkstemp always uses 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask
