"""Build a checkpoint folder atomically, once.

Converters write into a temporary sibling folder, mark it complete, then rename it onto the target, so
a reader never sees a half-written checkpoint and a second call returns at once.
"""

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

MARKER = ".complete"


def is_complete(out_dir: Path) -> bool:
    """Whether out_dir holds a finished checkpoint (its marker file exists)."""
    return (Path(out_dir) / MARKER).is_file()


def build_once(out_dir: Path, build: Callable[[Path], None], source: str) -> Path:
    """Run build(tmp_dir) and move the result to out_dir, unless out_dir is already complete.

    The marker (naming the source) is written last inside the temporary folder, and the rename onto out_dir
    is the commit point. An existing non-empty out_dir without the marker is refused rather than deleted,
    since it may hold someone's files.
    """
    out_dir = Path(out_dir)
    if is_complete(out_dir):
        return out_dir
    if out_dir.exists() and any(out_dir.iterdir()):
        raise FileExistsError(f"{out_dir} exists but is not a complete checkpoint; remove it and retry")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp_dir = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    tmp_dir.chmod(0o755)
    try:
        build(tmp_dir)
        (tmp_dir / MARKER).write_text(f"{source}\n")
        os.replace(tmp_dir, out_dir)
    except OSError:
        if not is_complete(out_dir):
            raise
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return out_dir
