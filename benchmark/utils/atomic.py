"""Atomic file writes: a file either exists whole or not at all, whatever kills the writer.

Every file the suite publishes (result records, cached features, the manifest, leaderboard pages) goes
through `atomic_write`: the bytes go to a temporary file in the target's directory, are flushed and fsynced,
then renamed over the target, and the directory is fsynced so the rename survives a power loss. A failure at
any point (a full disk, a lost permission, a signal) removes the temporary file, leaves the previous version
of the target untouched and re-raises the original error, so the caller can record why (an `OSError` with
`errno.ENOSPC`, `EDQUOT`, `EACCES`, `EROFS`, ...).

Limit: if the directory itself stops accepting changes (permission lost on it, a read-only remount) between
creating the temporary file and cleaning it up, the `.<name>.*.tmp` file cannot be removed; it is never read
as a result (result readers skip dot-files, the feature cache opens exact names) and the next write beside
it is unaffected.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

TEMPORARY_SUFFIX = ".tmp"


def atomic_write(path: Path, write: Callable[[IO[bytes]], object]) -> Path:
    """Call `write(handle)` on a temporary binary file beside `path`, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMPORARY_SUFFIX, dir=path.parent)
    try:
        with _open_descriptor(descriptor) as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, _default_file_mode())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):  # never let the clean-up hide the error that matters
            os.unlink(temporary)
        raise
    _fsync_directory(path.parent)
    return path


def atomic_write_text(path: Path, text: str) -> Path:
    """Write `text` as UTF-8 atomically."""
    return atomic_write(path, lambda handle: handle.write(text.encode("utf-8")))


def _open_descriptor(descriptor: int) -> IO[bytes]:
    """A binary file object owning `descriptor`; the descriptor is closed if that fails."""
    try:
        return os.fdopen(descriptor, "wb")
    except BaseException:
        os.close(descriptor)
        raise


def _fsync_directory(directory: Path) -> None:
    """Make a rename in `directory` durable; best effort, since some file systems refuse fsync on a directory.

    The new file is complete either way: at worst a power loss right after the rename brings back the previous
    version, never a partial one.
    """
    try:
        descriptor = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _default_file_mode() -> int:
    """The mode `open()` would give a new file under the current umask (mkstemp always uses 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask
