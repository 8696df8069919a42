"""Default locations on disk, defined once for every entry point.

The built-in task and suite YAML live in the repository's top-level `tasks/` folder. An installed wheel ships
the same files inside the package as `benchmark/tasks/` (pyproject maps the package `benchmark.tasks` onto the
`tasks/` folder), so the default is whichever of the two exists: the package's copy when installed, the
repository's folder in a source checkout or an editable install.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
REPO_ROOT = PACKAGE_ROOT.parent
BUNDLED_TASKS_DIR = PACKAGE_ROOT / "tasks"  # present in an installed wheel only
CHECKOUT_TASKS_DIR = REPO_ROOT / "tasks"  # present in a source checkout


def builtin_tasks_dir() -> Path:
    """The built-in tasks: the copy shipped inside the package if there is one, else the checkout's `tasks/`."""
    return BUNDLED_TASKS_DIR if BUNDLED_TASKS_DIR.is_dir() else CHECKOUT_TASKS_DIR


DEFAULT_TASKS_DIR = builtin_tasks_dir()


def default_assets_dir() -> Path:
    """Where prepared offline assets live: `TRANSFER_BENCH_ASSETS`, else `~/.cache/transfer-bench/assets`."""
    return Path(os.environ.get("TRANSFER_BENCH_ASSETS", Path.home() / ".cache" / "transfer-bench" / "assets"))
