"""Clean stops on SIGINT/SIGTERM, and fine-tune checkpoints that survive any kill.

A signal only sets a flag; the training loop and the suite loop look at it at safe points (after an optimizer
step, between cells), save what they have, and raise `StopRequested`. A second Ctrl-C stops at once. Finished
cells are already on disk (result files are written atomically), and a fine-tune in progress resumes from its
latest checkpoint: Accelerate's `save_state` (model, optimizer, scheduler, RNG states) plus an explicit
`progress.json` (optimizer step, epoch, the curve so far), swapped into place atomically.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
from pathlib import Path

from accelerate import Accelerator

PROGRESS_FILE = "progress.json"
EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}


class StopRequested(BaseException):
    """A stop signal arrived; everything finished so far is saved.

    A `BaseException`, like `KeyboardInterrupt`, so that the per-cell `except Exception` that records failures
    does not swallow it.
    """

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(f"stopped by {signal.Signals(signum).name}")

    @property
    def exit_code(self) -> int:
        return EXIT_CODES.get(self.signum, 1)


class StopFlag:
    """Turns SIGINT/SIGTERM into a flag for the duration of a `with` block (main thread only)."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, object] = {}

    def __enter__(self) -> StopFlag:
        if threading.current_thread() is threading.main_thread():
            for signum in EXIT_CODES:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc_info) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _handle(self, signum: int, frame) -> None:
        if self.signum is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now
        self.signum = signum

    def raise_if_set(self) -> None:
        if self.signum is not None:
            raise StopRequested(self.signum)


def save_checkpoint(accelerator: Accelerator, directory: Path, progress: dict) -> None:
    """Write state and progress to a fresh folder, then swap it into place (a kill leaves old or new whole)."""
    directory = Path(directory)
    staging = directory.with_name(directory.name + ".staging")
    if accelerator.is_main_process:
        shutil.rmtree(staging, ignore_errors=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(staging))
    if accelerator.is_main_process:
        (staging / PROGRESS_FILE).write_text(json.dumps(progress))
        retired = directory.with_name(directory.name + ".retired")
        if directory.exists():
            os.replace(directory, retired)
        os.replace(staging, directory)
        shutil.rmtree(retired, ignore_errors=True)
    accelerator.wait_for_everyone()


def load_checkpoint(accelerator: Accelerator, directory: Path) -> dict | None:
    """Restore the latest checkpoint into the prepared objects; return its progress, or None if there is none."""
    directory = Path(directory)
    if not (directory / PROGRESS_FILE).is_file():
        return None
    accelerator.load_state(str(directory))
    return json.loads((directory / PROGRESS_FILE).read_text())
