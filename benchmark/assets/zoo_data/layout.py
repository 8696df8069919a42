"""Shared by the zoo's dataset builders: content hashes, disjoint splits, source budgets and shuffled controls.

Every example is identified by the hash of what a model reads (an image's pixels, a text's normalised words, a
clip's samples), so "no example shared between a source and a target" is checked on content, whichever package
or file the example came from. Targets are drawn first; each source then leaves out every example whose hash a
target holds, which makes the zoo disjoint by construction (tests/assets/test_zoo_disjoint.py checks the built
files again).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np

Example = TypeVar("Example")
ZOO_SPLITS = ("train", "validation", "test")
DESIGN_FILE = "design.json"


@dataclass(frozen=True)
class SplitSizes:
    """Examples per class of a target's splits (a dataset with fewer raises instead of shrinking silently)."""

    train: int
    validation: int
    test: int

    def scaled(self, scale: float) -> SplitSizes:
        """The sizes times scale, rounded up, at least one each (tiny builds for the tests)."""
        return SplitSizes(*(max(1, math.ceil(n * scale)) for n in (self.train, self.validation, self.test)))

    def of(self, split: str) -> int:
        return getattr(self, split)


@dataclass(frozen=True)
class SourceBudget:
    """A source task's examples in all (every source of a modality gets the same budget: issue #22 item 2)."""

    train: int
    validation: int
    test: int

    def scaled(self, scale: float) -> SourceBudget:
        return SourceBudget(*(max(1, math.ceil(n * scale)) for n in (self.train, self.validation, self.test)))


class ContentIndex(Generic[Example]):
    """The hashes of the examples already placed in a build, so no example is placed twice."""

    def __init__(self, hash_of: Callable[[Example], str]) -> None:
        self.hash_of = hash_of
        self.seen: set[str] = set()

    def claim(self, example: Example) -> bool:
        """True (and remember it) when the example's content is new; False when it was placed before."""
        key = self.hash_of(example)
        if key in self.seen:
            return False
        self.seen.add(key)
        return True


def image_hash(image: np.ndarray) -> str:
    """The hash of an image's pixels and shape."""
    return hashlib.sha256(f"{image.shape}|{image.dtype}".encode() + np.ascontiguousarray(image).tobytes()).hexdigest()


def text_hash(text: str) -> str:
    """The hash of a text compared without case and whitespace differences."""
    return hashlib.sha256(" ".join(text.casefold().split()).encode()).hexdigest()


def pcm_hash(samples: np.ndarray) -> str:
    """The hash of a clip's 16-bit samples."""
    return hashlib.sha256(np.asarray(samples, dtype="<i2").tobytes()).hexdigest()


def take_target_splits(
    candidates: Mapping[str, Mapping[Hashable, Iterable[Example]]],
    sizes: SplitSizes,
    index: ContentIndex[Example],
    what: str,
) -> dict[str, dict[Hashable, list[Example]]]:
    """Per split and class, the first `sizes` examples of the candidates whose content is new to the build.

    candidates[split][label] are drawn in order (test first, then validation, then train, so the evaluation
    splits are filled before anything else can claim their examples); an exhausted class raises.
    """
    taken: dict[str, dict[Hashable, list[Example]]] = {}
    for split in ("test", "validation", "train"):
        taken[split] = {}
        for label, pool in candidates[split].items():
            taken[split][label] = _take_new(pool, sizes.of(split), index, f"{what} {split} {label}")
    return {split: taken[split] for split in ZOO_SPLITS}


def take_source_splits(
    pools: Mapping[Hashable, Iterable[Example]],
    budget: SourceBudget,
    index: ContentIndex[Example],
    what: str,
) -> dict[str, dict[Hashable, list[Example]]]:
    """A source's splits: `budget` examples per split in all, classes taken in turn (balanced as the pools allow),
    each example new to the build (so none is also a target's)."""
    iterators = {label: iter(pool) for label, pool in pools.items()}
    splits: dict[str, dict[Hashable, list[Example]]] = {}
    for split in ZOO_SPLITS:
        wanted = getattr(budget, split)
        splits[split] = {label: [] for label in iterators}
        placed = 0
        while placed < wanted:
            progress = False
            for label, iterator in iterators.items():
                example = _next_new(iterator, index)
                if example is None:
                    continue
                splits[split][label].append(example)
                placed, progress = placed + 1, True
                if placed == wanted:
                    break
            if not progress:
                raise ValueError(f"{what}: only {placed} new examples for its {split} split, {wanted} wanted")
    return splits


def _next_new(iterator, index: ContentIndex) -> Any | None:
    for example in iterator:
        if index.claim(example):
            return example
    return None


def _take_new(pool: Iterable[Example], n: int, index: ContentIndex[Example], what: str) -> list[Example]:
    taken = []
    iterator = iter(pool)
    while len(taken) < n:
        example = _next_new(iterator, index)
        if example is None:
            raise ValueError(f"{what}: only {len(taken)} new examples, {n} wanted")
        taken.append(example)
    return taken


def shuffled_labels(
    splits: Mapping[str, Mapping[Hashable, Sequence[Example]]], rng: np.random.Generator
) -> dict[str, dict[Hashable, list[Example]]]:
    """The negative control of a source: the same examples, each split's labels permuted among its examples.

    Class sizes stay as they were, so the control has the source's inputs and label marginals but no relation
    between the two: what it buys beyond the inputs' statistics should be nothing.
    """
    shuffled: dict[str, dict[Hashable, list[Example]]] = {}
    for split, per_class in splits.items():
        labels = [label for label, examples in per_class.items() for _ in examples]
        examples = [example for items in per_class.values() for example in items]
        shuffled[split] = {label: [] for label in per_class}
        for label, position in zip(labels, rng.permutation(len(examples)), strict=True):
            shuffled[split][label].append(examples[position])
    return shuffled


def shuffled_pool(items: Sequence[Example], rng: np.random.Generator) -> list[Example]:
    """The items in a random order drawn from rng."""
    return [items[i] for i in rng.permutation(len(items))]


def split_counts(splits: Mapping[str, Mapping[Hashable, Sequence[Any]]]) -> dict[str, int]:
    return {split: sum(len(examples) for examples in per_class.values()) for split, per_class in splits.items()}


def write_design(out_dir: Path, design: Mapping[str, Mapping[str, Any]]) -> None:
    """`design.json`: each task's role (target, source or control), what it is made of, and its counts."""
    (out_dir / DESIGN_FILE).write_text(json.dumps(design, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def read_design(out_dir: Path) -> dict[str, dict[str, Any]]:
    return json.loads((Path(out_dir) / DESIGN_FILE).read_text(encoding="utf-8"))
