"""The output folder's faults, each ending in one line: refused before any work, or stopped with results kept.

`unwritable` is checked before a run does anything, so a read-only folder (or one without permission, or a
path through a file) is refused at once with one line and exit status 2, instead of every group being skipped as
"cannot claim" and the run dying with a traceback on its shard marks. `write_failure` is the one line of a write
that failed later (a full disk, a quota), for result files and for every write of the final stage alike;
`OutputGone` stops the run when the folder takes no more files, and carries the outcomes so far for the summary.
`publication_roots` names the folders that published paths are shown relative to (`benchmark.utils.public`).
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from benchmark.utils.public import path_roots

DISK_GONE = (errno.ENOSPC, errno.EDQUOT, errno.EROFS)  # after one of these, every later write fails too
EXIT_UNWRITABLE = 2


class OutputGone(Exception):
    """The output folder takes no more files: the run stops; `outcomes` are the cells' outcomes so far."""

    def __init__(self, outcomes: dict):
        self.outcomes = outcomes
        super().__init__("the output folder cannot take more files")


def unwritable(output_dir: Path) -> str | None:
    """Why the output folder cannot take files (one line), or None when a file can be created in it."""
    try:
        Path(output_dir).mkdir(parents=True, exist_ok=True)
        descriptor, probe = tempfile.mkstemp(prefix=".write-check-", dir=output_dir)
        os.close(descriptor)
        os.unlink(probe)
    except OSError as error:
        reason = error.strerror or type(error).__name__
        return f"output folder {output_dir} cannot be written ({reason}); choose another --output-dir"
    return None


def is_disk_gone(error: BaseException) -> bool:
    """Whether an error means the folder takes no more files (full, over quota, read-only)."""
    return isinstance(error, OSError) and error.errno in DISK_GONE


def write_failure(error: OSError, what: str) -> str:
    """One line for a write that failed: what was not written, the reason and the file; results are kept."""
    where = f" ({error.filename})" if error.filename else ""
    return f"{what} not written: {error.strerror or error}{where}; finished results are kept, rerun to complete it"


def publication_roots(
    assets_dir: Path, tasks_dir: Path, output_dir: Path, include_paths: Iterable[Path] = ()
) -> list[tuple[str, str]]:
    """The folders that paths in written results are shown relative to: assets, include paths, tasks, output
    (as `{assets}`, `{include}`, `{tasks}`, `{output}`), and the home folder as `~`."""
    named = [("{assets}", assets_dir), ("{tasks}", tasks_dir), ("{output}", output_dir)]
    named += [("{include}", folder) for folder in include_paths]
    return path_roots([*named, ("~", Path.home())])
