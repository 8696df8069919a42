"""The zoo's datasets (issue #22): per modality, targets and source tasks that share no example, built together.

One asset per modality (`zoo_vision`, `zoo_text`, `zoo_audio` under `<assets>/data/`) holds one folder per task,
each with train, validation and test splits (imagefolder / audiofolder class folders, or CSV with `text,label`),
and `design.json` naming each task's role (target, source or control), its classes and counts. Targets are drawn
first, with at least 300 validation and 1,000 test examples each; every source then gets the same budget of
examples (train, validation, test) from data no target holds, checked by content hash (`layout.ContentIndex`);
the control is a source with its labels shuffled. `python -m benchmark.assets.prepare --zoo` builds them once
(deterministic for the seed, idempotent, atomic); `scale` shrinks every count for the tests.
"""

from __future__ import annotations

import csv
import wave
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from benchmark.assets.demo_data.common import Source, build_dataset, manifest_entry
from benchmark.assets.zoo_data import audio, text, vision
from benchmark.assets.zoo_data.layout import (
    ContentIndex,
    SourceBudget,
    SplitSizes,
    image_hash,
    pcm_hash,
    shuffled_labels,
    split_counts,
    take_source_splits,
    take_target_splits,
    text_hash,
    write_design,
)

Splits = dict[str, dict[Hashable, list[Any]]]


@dataclass(frozen=True)
class ZooModality:
    """What one modality's zoo is made of and how its examples are hashed and written."""

    name: str
    targets: Mapping[str, Callable]
    target_sizes: Mapping[str, SplitSizes]
    sources: Mapping[str, Callable]
    controls: Mapping[str, str]
    budget: SourceBudget
    hash_of: Callable[[Any], str]
    write: Callable[[Path, Splits], None]
    source: Callable[[], Source]
    domains: Mapping[str, str]


def write_images(task_dir: Path, splits: Splits) -> None:
    """imagefolder layout: <split>/<class>/<index>.png."""
    for split, per_class in splits.items():
        for label, images in per_class.items():
            folder = task_dir / split / str(label)
            folder.mkdir(parents=True, exist_ok=True)
            for index, image in enumerate(images):
                Image.fromarray(image).save(folder / f"{index:05d}.png")


def write_texts(task_dir: Path, splits: Splits) -> None:
    """<split>.csv with columns text,label, classes interleaved in a fixed order."""
    task_dir.mkdir(parents=True, exist_ok=True)
    for split, per_class in splits.items():
        rows = [(t, label) for label, texts in per_class.items() for t in texts]
        order = np.random.default_rng(len(rows)).permutation(len(rows))
        with (task_dir / f"{split}.csv").open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(("text", "label"))
            writer.writerows(rows[i] for i in order)


def write_clips(task_dir: Path, splits: Splits) -> None:
    """audiofolder layout: <split>/<class>/<index>.wav, 16 kHz mono 16-bit."""
    for split, per_class in splits.items():
        for label, clips in per_class.items():
            folder = task_dir / split / str(label)
            folder.mkdir(parents=True, exist_ok=True)
            for index, samples in enumerate(clips):
                with wave.open(str(folder / f"{index:05d}.wav"), "wb") as writer:
                    writer.setnchannels(1)
                    writer.setsampwidth(2)
                    writer.setframerate(audio.SAMPLE_RATE)
                    writer.writeframes(np.asarray(samples, dtype="<i2").tobytes())


# Source budgets: the same number of examples for every source of a modality (issue #22 item 2); the suite's
# pretrain blocks use all of `train` with the same optimizer steps (tests/specs/test_zoo_suite.py checks both).
MODALITIES = {
    "vision": ZooModality(
        "vision", vision.TARGETS, vision.TARGET_SIZES, vision.SOURCES, vision.CONTROLS,
        SourceBudget(train=1000, validation=100, test=20), image_hash, write_images, vision.vision_source,
        vision.DOMAINS,
    ),
    "text": ZooModality(
        "text", text.TARGETS, text.TARGET_SIZES, text.SOURCES, text.CONTROLS,
        SourceBudget(train=480, validation=80, test=20), text_hash, write_texts, text.text_source,
        text.DOMAINS,
    ),
    "audio": ZooModality(
        "audio", audio.TARGETS, audio.TARGET_SIZES, audio.SOURCES, audio.CONTROLS,
        SourceBudget(train=400, validation=60, test=20), pcm_hash, write_clips, audio.audio_source,
        audio.DOMAINS,
    ),
}  # fmt: skip


def draw_zoo(modality: ZooModality, seed: int, scale: float) -> dict[str, tuple[str, Splits]]:
    """Every task's splits, {task: (role, splits)}: targets first, then sources from what no target holds, then
    the controls (a source's examples, labels shuffled)."""
    rng = np.random.default_rng(seed)
    index: ContentIndex = ContentIndex(modality.hash_of)
    tasks: dict[str, tuple[str, Splits]] = {}
    for name, candidates in modality.targets.items():
        sizes = modality.target_sizes[name].scaled(scale)
        tasks[name] = ("target", take_target_splits(candidates(rng), sizes, index, name))
    budget = modality.budget.scaled(scale)
    for name, pools in modality.sources.items():
        tasks[name] = ("source", take_source_splits(pools(rng), budget, index, name))
    for name, source in modality.controls.items():
        tasks[name] = ("control", shuffled_labels(tasks[source][1], rng))
    return tasks


def build_zoo(out_dir: Path, modality: str, seed: int = 0, scale: float = 1.0) -> Path:
    """Build one modality's zoo into out_dir (once; a finished build with the same parameters is returned)."""
    spec = MODALITIES[modality]
    params = {
        "seed": seed,
        "scale": scale,
        "budget": asdict(spec.budget),
        "target_sizes": {name: asdict(sizes) for name, sizes in spec.target_sizes.items()},
        "sources": sorted(spec.sources),
        "controls": dict(spec.controls),
        "domains": dict(spec.domains),
    }

    def write(tmp_dir: Path) -> dict[str, int]:
        tasks = draw_zoo(spec, seed, scale)
        design = {}
        for name, (role, splits) in tasks.items():
            spec.write(tmp_dir / name, splits)
            design[name] = {
                "role": role,
                "domain": spec.domains[name],
                "classes": sorted(map(str, splits["train"])),
                "counts": split_counts(splits),
                **({"shuffled_from": spec.controls[name]} if role == "control" else {}),
            }
        write_design(tmp_dir, design)
        return {name: sum(info["counts"].values()) for name, info in design.items()}

    return build_dataset(out_dir, f"zoo_{modality}", params, spec.source, write)


def _builder(modality: str) -> Callable[..., Path]:
    def build(out_dir: Path, seed: int = 0, scale: float = 1.0) -> Path:
        return build_zoo(out_dir, modality, seed, scale)

    build.__doc__ = f"The {modality} zoo (see benchmark.assets.zoo_data)."
    return build


ZOO_BUILDERS: dict[str, Callable[..., Path]] = {f"zoo_{m}": _builder(m) for m in MODALITIES}
ROLES: Sequence[str] = ("target", "source", "control")

__all__ = ["MODALITIES", "ROLES", "ZOO_BUILDERS", "build_zoo", "draw_zoo", "manifest_entry"]
