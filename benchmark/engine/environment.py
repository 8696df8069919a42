"""Where a cell ran: the device's name and the versions of the libraries that shaped its numbers."""

from __future__ import annotations

import platform
from importlib import metadata

import torch

LIBRARIES = ("torch", "timm", "transformers", "datasets", "evaluate", "accelerate", "numpy", "transfer-bench")


def hardware_name(device: torch.device) -> str:
    """A human-readable name of the device the run used."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{platform.processor() or platform.machine()} ({torch.get_num_threads()} threads)"


def library_versions() -> dict[str, str]:
    """Python and every library in `LIBRARIES`, as installed."""
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions
