"""Fortunes topics (Debian `fortunes`): quotes labelled by the topic file they come from, as CSV splits."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np

from benchmark.assets.demo_data.common import (
    Source,
    build_dataset,
    debian_source,
    one_line,
    take_unique,
    write_text_splits,
)

FORTUNES_DIR = Path("/usr/share/games/fortunes")
FORTUNE_TOPICS = ("computers", "definitions", "people", "politics", "science")


def read_fortunes(path: Path) -> list[str]:
    """The entries of a fortune file (split on lines holding only '%'), overstrikes removed, one line each."""
    raw = path.read_text(encoding="utf-8", errors="replace")
    entries = re.split(r"^%$", raw, flags=re.MULTILINE)
    return [one_line(re.sub(r".\x08", "", entry)) for entry in entries]


def _fortunes_by_topic() -> dict[str, list[str]]:
    """Distinct entries per topic, dropping any entry that appears under more than one topic."""
    by_topic = {
        topic: list(dict.fromkeys(filter(None, read_fortunes(FORTUNES_DIR / topic)))) for topic in FORTUNE_TOPICS
    }
    topics_of: dict[str, int] = {}
    for entry in itertools.chain.from_iterable(by_topic.values()):
        topics_of[entry] = topics_of.get(entry, 0) + 1
    return {topic: [e for e in entries if topics_of[e] == 1] for topic, entries in by_topic.items()}


def build_fortunes(out_dir: Path, seed: int = 0, n_train_per_class: int = 80, n_test_per_class: int = 40) -> Path:
    """Fortune-cookie topic classification as train.csv/test.csv (text, label = topic name), balanced.

    Topics: computers, definitions, people, politics, science. Each entry is on one line; entries filed
    under more than one topic are left out, so no text carries two labels.
    """
    params = {"seed": seed, "n_train_per_class": n_train_per_class, "n_test_per_class": n_test_per_class}

    def write(tmp_dir: Path) -> dict[str, int]:
        rng = np.random.default_rng(seed)
        wanted = n_train_per_class + n_test_per_class
        per_class = {
            topic: take_unique((entries[i] for i in rng.permutation(len(entries))), wanted, f"fortunes {topic}")
            for topic, entries in _fortunes_by_topic().items()
        }
        return write_text_splits(tmp_dir, per_class, n_train_per_class, rng)

    def source() -> Source:
        return debian_source("fortunes", FORTUNES_DIR / FORTUNE_TOPICS[0], "BSD-3-Clause (fortune-mod)")

    return build_dataset(out_dir, "fortunes", params, source, write)
