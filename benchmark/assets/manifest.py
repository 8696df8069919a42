"""Provenance of the offline assets: which registry package each came from, its version, licence and hash.

The offline demo runs on data and weights that install from package registries; the manifest records
exactly which package versions produced them, so a result can be traced back and a rebuild checked.
"""

import dataclasses
import hashlib
import json
import subprocess
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Literal

from benchmark.assets.errors import AssetMissingError
from benchmark.utils.atomic import atomic_write_text

MANIFEST_NAME = "manifest.json"


@dataclass(frozen=True)
class ManifestEntry:
    """One offline asset: what it is, where it came from, and what it holds."""

    name: str
    kind: Literal["dataset", "checkpoint"]
    source_package: str
    source_version: str
    sha256: str
    licence: str
    split_counts: dict[str, int] = field(default_factory=dict)


def write_manifest(assets_dir: Path, entries: list[ManifestEntry]) -> Path:
    """Write entries (sorted by name) to assets_dir/manifest.json atomically, replacing any previous one."""
    assets_dir = Path(assets_dir)
    assets_dir.mkdir(parents=True, exist_ok=True)
    payload = {"entries": [dataclasses.asdict(e) for e in sorted(entries, key=lambda e: e.name)]}
    text = json.dumps(payload, indent=2, sort_keys=True) + "\n"
    return atomic_write_text(assets_dir / MANIFEST_NAME, text)


def read_manifest(assets_dir: Path) -> list[ManifestEntry]:
    """The entries of assets_dir/manifest.json, in file order."""
    payload = json.loads((Path(assets_dir) / MANIFEST_NAME).read_text(encoding="utf-8"))
    return [ManifestEntry(**entry) for entry in payload["entries"]]


def sha256_tree(root: Path, exclude: frozenset[str] = frozenset()) -> str:
    """A digest of every file under root (relative paths and bytes, sorted), skipping names in exclude.

    Hashing paths along with contents means a renamed or moved file changes the digest too.
    """
    digest = hashlib.sha256()
    root = Path(root)
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name not in exclude):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def debian_package_version(package: str) -> str:
    """The installed version of a Debian package, or AssetMissingError with the apt-get line."""
    try:
        result = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status} ${Version}", package], capture_output=True, text=True
        )
    except FileNotFoundError:
        raise AssetMissingError(f"Debian package {package}", f"apt-get install {package}") from None
    status, _, version = result.stdout.rpartition(" ")
    if result.returncode != 0 or status != "install ok installed":
        raise AssetMissingError(f"Debian package {package}", f"apt-get install {package}")
    return version


def python_package_version(distribution: str) -> str:
    """The installed version of a Python distribution, or AssetMissingError with the pip line."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        raise AssetMissingError(f"Python package {distribution}", f"pip install {distribution}") from None
