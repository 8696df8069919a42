"""Default locations on disk, defined once for every entry point."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TASKS_DIR = REPO_ROOT / "tasks"


def default_assets_dir() -> Path:
    """Where prepared offline assets live: `TRANSFER_BENCH_ASSETS`, else `~/.cache/transfer-bench/assets`."""
    return Path(os.environ.get("TRANSFER_BENCH_ASSETS", Path.home() / ".cache" / "transfer-bench" / "assets"))
