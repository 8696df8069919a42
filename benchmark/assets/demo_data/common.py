"""Shared by the demo dataset builders: staged, idempotent builds with a build record, class-balanced
sampling, and the folder and CSV layouts that `datasets.load_dataset` reads as is.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from benchmark.assets.errors import AssetMissingError
from benchmark.assets.manifest import (
    ManifestEntry,
    debian_package_version,
    sha256_tree,
)
from benchmark.assets.staging import MARKER, build_once, is_complete

BUILD_INFO = "build.json"
SPLITS = ("train", "test")


@dataclass(frozen=True)
class Source:
    """The registry package a dataset is made from."""

    package: str
    version: str
    licence: str


def build_dataset(
    out_dir: Path,
    name: str,
    params: dict,
    source: Callable[[], Source],
    write: Callable[[Path], dict[str, int]],
) -> Path:
    """Build dataset `name` into out_dir unless a build with the same params is already there.

    source() is only called for a new build, so a finished dataset stays usable after its package is
    removed; it raises AssetMissingError when the package is absent. write(tmp_dir) returns counts per split.
    """
    out_dir = Path(out_dir)
    if is_complete(out_dir):
        _check_same_build(out_dir, name, params)
        return out_dir
    resolved = source()

    def write_with_info(tmp_dir: Path) -> None:
        counts = write(tmp_dir)
        info = {"name": name, "params": params, "source": asdict(resolved), "split_counts": counts}
        (tmp_dir / BUILD_INFO).write_text(json.dumps(info, indent=2, sort_keys=True) + "\n", encoding="utf-8")

    return build_once(out_dir, write_with_info, f"{resolved.package} {resolved.version}")


def _check_same_build(out_dir: Path, name: str, params: dict) -> None:
    """Refuse to hand back a finished build made with other parameters than the ones asked for."""
    info = json.loads((out_dir / BUILD_INFO).read_text(encoding="utf-8"))
    if info["name"] != name or info["params"] != params:
        raise FileExistsError(
            f"{out_dir} holds {info['name']} built with {info['params']}, not {name} with {params}; "
            "remove it or choose another folder"
        )


def manifest_entry(out_dir: Path) -> ManifestEntry:
    """The manifest line of a finished dataset build: its source, licence, counts and content hash."""
    out_dir = Path(out_dir)
    info = json.loads((out_dir / BUILD_INFO).read_text(encoding="utf-8"))
    return ManifestEntry(
        name=info["name"],
        kind="dataset",
        source_package=info["source"]["package"],
        source_version=info["source"]["version"],
        sha256=sha256_tree(out_dir, exclude=frozenset({MARKER})),
        licence=info["source"]["licence"],
        split_counts=info["split_counts"],
    )


def debian_source(package: str, required: Path, licence: str) -> Source:
    """Source for a Debian package whose file `required` must exist."""
    if not required.exists():
        raise AssetMissingError(f"{required} (Debian package {package})", f"apt-get install {package}")
    return Source(package, debian_package_version(package), licence)


def per_class_indices(labels: np.ndarray, n_per_class: int, rng: np.random.Generator) -> dict[int, np.ndarray]:
    """For each class, n_per_class distinct random indices of that class (sorted, for stable file order)."""
    chosen = {}
    for label in np.unique(labels):
        pool = np.flatnonzero(labels == label)
        if len(pool) < n_per_class:
            raise ValueError(f"class {label} has {len(pool)} examples, fewer than the {n_per_class} asked for")
        chosen[int(label)] = np.sort(rng.choice(pool, size=n_per_class, replace=False))
    return chosen


def write_png_folder(split_dir: Path, images: np.ndarray, names: Sequence[str], chosen: dict) -> int:
    """Write images[i] as split_dir/<class name>/<i>.png for every chosen index; return how many."""
    for label, indices in chosen.items():
        class_dir = split_dir / names[label]
        class_dir.mkdir(parents=True)
        for index in indices:
            Image.fromarray(images[index]).save(class_dir / f"{index:05d}.png")
    return sum(len(indices) for indices in chosen.values())


def take_unique(texts: Iterable[str], n: int, what: str) -> list[str]:
    """The first n distinct non-empty texts, so no text is repeated within or across a class's splits."""
    taken: dict[str, None] = {}
    for text in texts:
        if text:
            taken.setdefault(text)
        if len(taken) == n:
            return list(taken)
    raise ValueError(f"{what} has only {len(taken)} distinct texts, fewer than the {n} asked for")


def write_text_splits(
    out_dir: Path, per_class: Mapping[str, list[str]], n_train: int, rng: np.random.Generator
) -> dict[str, int]:
    """Split each class's texts into its first n_train (train) and the rest (test); write shuffled csvs."""
    counts = {}
    for split in SPLITS:
        rows = [
            (text, label)
            for label, texts in per_class.items()
            for text in (texts[:n_train] if split == "train" else texts[n_train:])
        ]
        rows = [rows[i] for i in rng.permutation(len(rows))]
        with (out_dir / f"{split}.csv").open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(("text", "label"))
            writer.writerows(rows)
        counts[split] = len(rows)
    return counts


def one_line(text: str) -> str:
    """Collapse all runs of whitespace to single spaces."""
    return " ".join(text.split())


def truncate(text: str, max_chars: int) -> str:
    """Cut text to at most max_chars characters, at a word boundary when there is one."""
    if len(text) <= max_chars:
        return text
    cut = text[:max_chars]
    if text[max_chars].isspace():
        return cut.rstrip()
    words = cut.rsplit(maxsplit=1)
    return words[0] if len(words) > 1 else cut
