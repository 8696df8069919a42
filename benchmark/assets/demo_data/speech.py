"""Spoken keywords and spoken languages synthesised by espeak-ng (Debian), with voices held out between
train and test, as audiofolders with a `clips.csv` of speakers.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import shutil
import subprocess
import wave
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly
from tqdm import tqdm

from benchmark.assets.demo_data.common import (
    SPLITS,
    Source,
    build_dataset,
)
from benchmark.assets.errors import AssetMissingError
from benchmark.assets.manifest import (
    debian_package_version,
)

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

    return build_dataset(out_dir, "spoken_keywords", params, _espeak_source, write)


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

    return build_dataset(out_dir, "spoken_language", params, _espeak_source, write)
