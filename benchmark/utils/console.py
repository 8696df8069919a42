"""What a run prints: progress bars on a terminal only, library load reports only with `--verbose`.

Written to a file or a CI log, a progress bar is one line per redraw (an 8-cell run made 384 of them), so when
stderr is not a terminal every `tqdm` bar is switched off: the run prints one line per finished cell and a line
per finished group instead (`tqdm.write` lines still print). transformers logs a "LOAD REPORT" table for every
checkpoint whose head is replaced (always, here: every task gets a new classifier), which says nothing a user
of this suite needs; its warnings are silenced unless `--verbose` is given.
"""

from __future__ import annotations

import functools
import os
import sys
from typing import TextIO

import tqdm.std

_state = {"bars": True}
PROGRESS_ENV = "TRANSFER_BENCH_PROGRESS"  # "bars": draw them off a terminal too (a test reads their labels)


def configure_console(verbose: bool = False, stream: TextIO | None = None) -> bool:
    """Set up a run's console output; True when progress bars are drawn (`stream`, default stderr, is a tty, or
    TRANSFER_BENCH_PROGRESS=bars)."""
    stream = sys.stderr if stream is None else stream
    forced = os.environ.get(PROGRESS_ENV, "").lower() == "bars"
    bars = forced or bool(getattr(stream, "isatty", lambda: False)())
    if not bars:
        switch_off_progress_bars()
    if not verbose:
        quiet_library_reports()
    _state["bars"] = bars
    return bars


def progress_bars_drawn() -> bool:
    """Whether this run draws progress bars (else it prints a line per finished group)."""
    return _state["bars"]


def switch_off_progress_bars() -> None:
    """Make every tqdm bar of the process disabled, whatever its caller asked (idempotent)."""
    init = tqdm.std.tqdm.__init__
    if getattr(init, "_bars_off", False):
        return

    @functools.wraps(init)
    def disabled_init(self, *args, **kwargs):
        kwargs["disable"] = True
        init(self, *args, **kwargs)

    disabled_init._bars_off = True
    tqdm.std.tqdm.__init__ = disabled_init


def quiet_library_reports() -> None:
    """transformers' warnings (load reports of replaced heads, among them) off: errors still show."""
    import transformers

    transformers.logging.set_verbosity_error()
