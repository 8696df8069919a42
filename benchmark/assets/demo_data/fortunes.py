"""Fortune-mod quotes (Debian `fortunes`, `fortunes-de`, `fortunes-it`, `fortunes-es`) as CSV splits: topic
classification (two disjoint sets of five English topic files) and language identification.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
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
# Five other large topic files of the English package (720, 630, 582, 465 and 424 entries).
FORTUNE_TOPICS_B = ("songs-poems", "work", "men-women", "art", "wisdom")
FORTUNES_LICENCE = "BSD-3-Clause (fortune-mod)"


@dataclass(frozen=True)
class FortuneLanguage:
    """The quotes of one language: the Debian package, its folder under FORTUNES_DIR and the files used."""

    package: str
    folder: str
    files: tuple[str, ...]


# Files of running prose (quotes, proverbs, jokes); left out are ASCII art, IRC logs, translation tables,
# quizzes, lists of names, Star Trek and computer messages (often English), and fortunes-es's offensive `off/`.
# English uses files of neither topic task, so no English quote is also a topic task's text.
FORTUNE_LANGUAGES = {
    "english": FortuneLanguage(
        "fortunes",
        "",
        ("cookie", "fortunes", "miscellaneous", "platitudes", "literature", "humorists", "law", "education",
         "food", "love", "kids", "sports", "drugs", "medicine"),
    ),
    "german": FortuneLanguage(
        "fortunes-de",
        "de",
        ("zitate", "sprueche", "unfug", "witze", "sprichworte", "woerterbuch", "regeln", "letzteworte",
         "wusstensie", "stilblueten"),
    ),
    "italian": FortuneLanguage(
        "fortunes-it", "it", ("italia", "norm", "paolotedeschi", "formiche", "leggi", "definizioni", "luttazzi")
    ),
    "spanish": FortuneLanguage(
        "fortunes-es",
        "es",
        tuple(
            f"{name}.fortunes"
            for name in ("refranes", "sabiduria", "sentimientos", "humanos", "vida", "arte", "proverbios", "poder",
                         "verdad", "amistad", "familia", "libertad", "filosofia", "leydemurphy")
        ),
    ),
}  # fmt: skip
LANGUAGE_LICENCE = "BSD-3-Clause (fortunes), GPL-2+ (fortunes-de, fortunes-es), uncopyrighted quotations (fortunes-it)"


def read_fortunes(path: Path) -> list[str]:
    """The entries of a fortune file (split on lines holding only '%'), overstrikes removed, one line each."""
    raw = path.read_text(encoding="utf-8", errors="replace")
    entries = re.split(r"^%$", raw, flags=re.MULTILINE)
    return [one_line(re.sub(r".\x08", "", entry)) for entry in entries]


def _distinct_entries(paths: Iterable[Path]) -> list[str]:
    """The non-empty entries of the files, each once, in file order."""
    return list(dict.fromkeys(filter(None, itertools.chain.from_iterable(map(read_fortunes, paths)))))


def _only_in_one(pools: Mapping[str, list[str]], others: Iterable[str] = ()) -> dict[str, list[str]]:
    """Each pool without the entries that another pool, or `others`, also holds (so no text has two labels)."""
    count: dict[str, int] = {}
    for entry in itertools.chain(*pools.values(), set(others)):
        count[entry] = count.get(entry, 0) + 1
    return {label: [e for e in entries if count[e] == 1] for label, entries in pools.items()}


def _fortunes_by_topic(topics: tuple[str, ...], also: tuple[str, ...] = ()) -> dict[str, list[str]]:
    """Distinct entries per topic, dropping any entry filed under more than one topic, or under a topic of `also`."""
    pools = {topic: _distinct_entries([FORTUNES_DIR / topic]) for topic in topics}
    return _only_in_one(pools, _distinct_entries(FORTUNES_DIR / topic for topic in also))


def _sample_balanced(
    pools: Mapping[str, list[str]], wanted: int, rng: np.random.Generator, what: str
) -> dict[str, list[str]]:
    """`wanted` distinct entries of each pool, in a random order drawn from rng (pools in their given order)."""
    return {
        label: take_unique((entries[i] for i in rng.permutation(len(entries))), wanted, f"{what} {label}")
        for label, entries in pools.items()
    }


def _topic_source(topics: tuple[str, ...]) -> Source:
    return debian_source("fortunes", FORTUNES_DIR / topics[0], FORTUNES_LICENCE)


def build_fortunes(out_dir: Path, seed: int = 0, n_train_per_class: int = 80, n_test_per_class: int = 40) -> Path:
    """Fortune-cookie topic classification as train.csv/test.csv (text, label = topic name), balanced.

    Topics: computers, definitions, people, politics, science. Each entry is on one line; entries filed
    under more than one topic are left out, so no text carries two labels.
    """
    params = {"seed": seed, "n_train_per_class": n_train_per_class, "n_test_per_class": n_test_per_class}

    def write(tmp_dir: Path) -> dict[str, int]:
        rng = np.random.default_rng(seed)
        wanted = n_train_per_class + n_test_per_class
        per_class = _sample_balanced(_fortunes_by_topic(FORTUNE_TOPICS), wanted, rng, "fortunes")
        return write_text_splits(tmp_dir, per_class, n_train_per_class, rng)

    return build_dataset(out_dir, "fortunes", params, lambda: _topic_source(FORTUNE_TOPICS), write)


def build_fortunes_topics_b(
    out_dir: Path, seed: int = 0, n_train_per_class: int = 80, n_test_per_class: int = 40
) -> Path:
    """A second fortune topic task, like `build_fortunes` on five other topic files: songs-poems, work,
    men-women, art, wisdom.

    Entries filed under more than one of these topics, or under any topic of `fortunes`, are left out, so the
    two tasks share no text.
    """
    params = {"seed": seed, "n_train_per_class": n_train_per_class, "n_test_per_class": n_test_per_class}

    def write(tmp_dir: Path) -> dict[str, int]:
        rng = np.random.default_rng(seed)
        pools = _fortunes_by_topic(FORTUNE_TOPICS_B, also=FORTUNE_TOPICS)
        per_class = _sample_balanced(pools, n_train_per_class + n_test_per_class, rng, "fortunes")
        return write_text_splits(tmp_dir, per_class, n_train_per_class, rng)

    return build_dataset(out_dir, "fortunes_topics_b", params, lambda: _topic_source(FORTUNE_TOPICS_B), write)


def _language_source() -> Source:
    """One source naming all four packages and their versions (each must be installed)."""
    sources = [
        debian_source(language.package, FORTUNES_DIR / language.folder / language.files[0], LANGUAGE_LICENCE)
        for language in FORTUNE_LANGUAGES.values()
    ]
    return Source(", ".join(s.package for s in sources), ", ".join(s.version for s in sources), LANGUAGE_LICENCE)


def build_fortunes_language(
    out_dir: Path, seed: int = 0, n_train_per_class: int = 100, n_test_per_class: int = 50, min_chars: int = 20
) -> Path:
    """Language identification of fortune quotes as train.csv/test.csv (text, label in english, german,
    italian, spanish), balanced.

    Each language pools the prose files listed in FORTUNE_LANGUAGES; entries shorter than min_chars are left
    out, and so are English entries that either fortune topic task (`fortunes`, `fortunes_topics_b`) could hold.
    """
    params = {
        "seed": seed,
        "n_train_per_class": n_train_per_class,
        "n_test_per_class": n_test_per_class,
        "min_chars": min_chars,
    }

    def write(tmp_dir: Path) -> dict[str, int]:
        rng = np.random.default_rng(seed)
        pools = {
            name: [
                entry
                for entry in _distinct_entries(FORTUNES_DIR / language.folder / f for f in language.files)
                if len(entry) >= min_chars
            ]
            for name, language in FORTUNE_LANGUAGES.items()
        }
        topic_entries = _distinct_entries(FORTUNES_DIR / topic for topic in FORTUNE_TOPICS + FORTUNE_TOPICS_B)
        per_class = _sample_balanced(
            _only_in_one(pools, topic_entries), n_train_per_class + n_test_per_class, rng, "fortunes"
        )
        return write_text_splits(tmp_dir, per_class, n_train_per_class, rng)

    return build_dataset(out_dir, "fortunes_language", params, _language_source, write)
