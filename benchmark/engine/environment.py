"""Where and how a cell ran: the machine (CPU model, GPUs, CUDA and cuDNN), the library versions that shaped its
numbers, the code version and command line that produced it, and the hub commits its checkpoint and dataset
resolved to. Every probe is best-effort and offline: what cannot be known here is None, never an error."""

from __future__ import annotations

import functools
import os
import platform
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import torch

from benchmark.specs.adapter_registry import library_adapter
from benchmark.utils.paths import PACKAGE_ROOT

LIBRARIES = ("torch", "timm", "transformers", "datasets", "evaluate", "accelerate", "numpy", "transfer-bench")
FEATURE_LIBRARIES = ("torch", "timm", "transformers", "datasets")
"""The libraries whose versions can change frozen features (kernels, model code, preprocessing, decoding)."""
CPUINFO = Path("/proc/cpuinfo")
GIT_TIMEOUT_S = 2.0
COMMIT_PATTERN = re.compile(r"^[0-9a-f]{40}$")
LOCAL_DATASET_BUILDERS = frozenset(
    {"csv", "json", "parquet", "text", "arrow", "imagefolder", "audiofolder", "videofolder", "webdataset", "xml"}
)


def hardware_name(device: torch.device) -> str:
    """A human-readable name of the device the run used: the GPU's name, or the CPU model with its threads."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{cpu_model_name()} ({torch.get_num_threads()} threads)"


@functools.lru_cache(maxsize=1)
def cpu_model_name() -> str:
    """The CPU's marketing name ("AMD EPYC 7B13"): /proc/cpuinfo's "model name" on Linux, else what `platform`
    knows (the processor, then the machine type), so a result says more than "x86_64"."""
    try:
        for line in CPUINFO.read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                return value.strip()
    except OSError:  # not Linux, or /proc is not mounted
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def gpu_names() -> list[str]:
    """The names of the CUDA devices this process sees (empty without CUDA)."""
    if not torch.cuda.is_available():
        return []
    return [torch.cuda.get_device_name(index) for index in range(torch.cuda.device_count())]


def cuda_versions() -> tuple[str | None, str | None]:
    """(CUDA, cuDNN) versions torch runs with, where a CUDA device is present; (None, None) otherwise."""
    if not torch.cuda.is_available():
        return None, None
    cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    return torch.version.cuda, _cudnn_text(cudnn) if cudnn else None


def _cudnn_text(code: int) -> str:
    """cuDNN's integer version as text: 91002 -> "9.10.2" (from 9 on), 8902 -> "8.9.2" (before)."""
    if code >= 90000:
        return f"{code // 10000}.{code % 10000 // 100}.{code % 100}"
    return f"{code // 1000}.{code % 1000 // 100}.{code % 100}"


def library_versions() -> dict[str, str]:
    """Python and every library in `LIBRARIES`, as installed."""
    return {"python": platform.python_version(), **versions_of(LIBRARIES)}


def versions_of(names: tuple[str, ...]) -> dict[str, str]:
    """The installed version of each distribution in `names` ("not installed" where missing)."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def command_line() -> list[str]:
    """The command that started this process, as the process received it."""
    return list(sys.argv)


@functools.lru_cache(maxsize=4)
def code_version(root: Path = PACKAGE_ROOT.parent) -> tuple[str | None, bool | None]:
    """(commit, dirty) of the git checkout whose top level is `root`, or (None, None) when `root` is not the top
    of a checkout (an installed package, a copied folder), when git is missing, or when it does not answer within
    `GIT_TIMEOUT_S`. The top level must be `root` itself: an installed package inside some other repository (a
    virtual environment in a project folder) must not report that repository's commit. Dirty means tracked
    files differ from the commit; untracked files are not counted. Cached per process: the code that runs is the
    code that was there when it started."""
    root = Path(root).resolve()
    top = _git(root, "rev-parse", "--show-toplevel")
    if top is None or Path(top).resolve() != root:
        return None, None
    commit = _git(root, "rev-parse", "HEAD")
    if commit is None or not COMMIT_PATTERN.match(commit):
        return None, None
    status = _git(root, "status", "--porcelain", "--untracked-files=no")
    return commit, None if status is None else bool(status)


def _git(root: Path, *arguments: str) -> str | None:
    """A git command's stripped output in `root`, or None if it fails, is missing or is too slow."""
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *arguments],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},  # a status check must not take the index lock
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def hub_commit(repo_id: str, revision: str | None = None, repo_type: str = "model", cache_dir: Path | None = None):
    """The commit a hub repository's `revision` (default "main") resolved to in the local hub cache, or None when
    the cache does not hold it (offline, never downloaded, a local folder). Reads the cache's `refs/<revision>`
    file, or accepts a 40-hex revision whose snapshot folder exists; nothing is fetched."""
    from huggingface_hub import constants
    from huggingface_hub.file_download import repo_folder_name

    if not repo_id or _looks_local(repo_id):
        return None
    folder = Path(cache_dir or constants.HF_HUB_CACHE) / repo_folder_name(repo_id=repo_id, repo_type=repo_type)
    revision = revision or "main"
    if COMMIT_PATTERN.match(revision):
        return revision if (folder / "snapshots" / revision).is_dir() else None
    try:
        commit = (folder / "refs" / revision).read_text(encoding="utf-8").strip()
    except (OSError, ValueError):
        return None
    return commit if COMMIT_PATTERN.match(commit) else None


def model_hub_commit(library: str, checkpoint: str, revision: str | None, cache_dir: Path | None = None):
    """The hub commit a model spec's checkpoint resolved to (None for local folders and uncached checkpoints).

    The library adapter names the repository (`hub_repo`): a transformers checkpoint is its own; a timm name is
    looked up through its pretrained config (`resnet18.a1_in1k` lives in `timm/resnet18.a1_in1k`).
    """
    if _looks_local(checkpoint):
        return None
    repo_id = library_adapter(library).hub_repo(checkpoint)
    return hub_commit(repo_id, revision, "model", cache_dir) if repo_id else None


def dataset_hub_commit(path: str, revision: str | None, cache_dir: Path | None = None) -> str | None:
    """The hub commit a task's dataset resolved to (None for local files, packaged builders like `csv`, and
    datasets the hub cache does not hold)."""
    if path in LOCAL_DATASET_BUILDERS:
        return None
    return hub_commit(path, revision, "dataset", cache_dir)


def _looks_local(name: str) -> bool:
    """Whether a checkpoint or dataset name is a path (or an unexpanded `{assets}` one) rather than a hub id."""
    return "{" in name or name.startswith((".", "/", "~")) or os.path.isabs(name) or os.path.exists(name)


def distributed_setup(accelerator) -> dict:
    """How the run was spread: Accelerate's distributed type, the torch.distributed backend, the processes in
    all and on this machine, the machines, and the mixed precision."""
    state = accelerator.state
    world = accelerator.num_processes
    local = int(os.environ.get("LOCAL_WORLD_SIZE") or world)  # torchrun sets it; one machine otherwise
    return {
        "distributed_type": str(getattr(state.distributed_type, "value", state.distributed_type)),
        "backend": getattr(state, "backend", None) or None,
        "world_size": world,
        "local_processes": local,
        "num_machines": max(1, world // local),
        "mixed_precision": accelerator.mixed_precision,
    }
