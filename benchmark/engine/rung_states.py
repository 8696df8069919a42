"""Training states kept in memory between the rungs of a successive-halving search.

A search stops every surviving (configuration, seed) run at each rung and continues it after the others have
been scored. Writing each of those states to disk and reading it back (Accelerate's `save_state` and
`load_state`) costs about a second per run on a CPU, which for the short runs of a small suite is as much as the
training itself. A `RungStates` holds them in memory instead: the model, optimizer and scheduler state, the
random-number generators and the loop's progress, everything `save_state` would write, so a run continued from
memory ends exactly as one continued from disk, or never stopped.

Memory does not survive a killed process. The loop therefore still writes a disk checkpoint at a rung's end when
the run has trained for `checkpoint_interval_s` since its last one (long runs stay resumable at little relative
cost); a short run killed between rungs is trained again from its latest disk checkpoint or from the start, to
the same weights, since data order, schedule and initialisation depend only on the seed and the configuration.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator


@dataclass
class RungStates:
    """In-memory training states by checkpoint folder (the run they belong to); each is read at most once."""

    states: dict[Path, dict] = field(default_factory=dict)

    def save(self, key: Path, accelerator: Accelerator, model, optimizer, scheduler, progress: dict) -> None:
        """Copy everything a continuation needs (tensors to the CPU, so device memory holds one run at a time)."""
        self.states[Path(key)] = {
            "model": cpu_copy(accelerator.unwrap_model(model).state_dict()),
            "optimizer": cpu_copy(optimizer.state_dict()),
            "scheduler": copy.deepcopy(scheduler.state_dict()),
            "scaler": copy.deepcopy(accelerator.scaler.state_dict()) if accelerator.scaler is not None else None,
            "step": accelerator.step,
            "rng": _rng_states(),
            "progress": copy.deepcopy(progress),
        }

    def restore(self, key: Path, accelerator: Accelerator, model, optimizer, scheduler) -> dict | None:
        """Load the state saved under `key` into the prepared objects and forget it; its progress, or None."""
        state = self.states.pop(Path(key), None)
        if state is None:
            return None
        accelerator.unwrap_model(model).load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if state["scaler"] is not None and accelerator.scaler is not None:
            accelerator.scaler.load_state_dict(state["scaler"])
        accelerator.step = state["step"]
        _set_rng_states(state["rng"])
        return state["progress"]

    def discard(self, key: Path) -> None:
        self.states.pop(Path(key), None)

    def __contains__(self, key: Path) -> bool:
        return Path(key) in self.states


def cpu_copy(value):
    """A deep copy of a (nested) state dict with every tensor cloned to the CPU."""
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, dict):
        return {key: cpu_copy(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(cpu_copy(item) for item in value)
    return copy.deepcopy(value)


def _rng_states() -> dict:
    return {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
    }


def _set_rng_states(states: dict) -> None:
    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])
    if states["cuda"] is not None:
        torch.cuda.set_rng_state_all(states["cuda"])
