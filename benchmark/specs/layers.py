"""The one precedence of a run's settings: **command line > suite > task > defaults**, for every setting.

A task file says how its task is run on its own; a suite is an experiment that may decide otherwise for all its
tasks (the `*_fast` suites cap samples below their tasks' own caps); the command line decides for this run. Each
setting is decided by the highest layer that sets it, independently of the others:

- each training field (`epochs`, `batch_size`, ...); a layer that sets `epochs` without `scratch_epochs` sets both
  inits' budget (the scratch twins' one included),
- each split's sample cap,
- each grid, per protocol and init, replaced whole (its learning rates and weight decays together); a learning rate
  pinned on the command line (`--learning-rate`, `--probe-learning-rate`) replaces only the learning rates of the
  grid that wins,
- each search rule (`halving_rate`, `selection`, `noise_z`, `noise_cap`, `max_extensions`) that a layer names.

`layered` is that rule; `benchmark.engine.settings` says what each layer sets, per kind of setting.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PRECEDENCE = ("defaults", "task", "suite", "command_line")
"""The layers, lowest first: a later one overrides an earlier one wherever it sets a value."""

NOTHING: Mapping[str, Any] = {}


def layered(
    defaults: Mapping[str, Any],
    *,
    task: Mapping[str, Any] = NOTHING,
    suite: Mapping[str, Any] = NOTHING,
    command_line: Mapping[str, Any] = NOTHING,
) -> dict[str, Any]:
    """The values in effect: each layer maps the names it sets to their values (a name it leaves out is not set
    there, whatever its value; a value of None set explicitly unsets the name), and the highest layer of
    `PRECEDENCE` that sets a name decides it."""
    merged = dict(defaults)
    for layer in (task, suite, command_line):
        merged.update(layer)
    return merged
