"""The zoo's audio tasks, 16 kHz mono clips of at most 1 s: three targets and six sources.

Targets (espeak-ng, Debian): ten spoken keywords and six spoken languages (test voices unseen in training, as in
the demo), and the voice's sex (female or male variants saying English numbers; test variants unseen). Sources:
spoken digits, six other spoken languages, speech rate and voice pitch (espeak-ng, on texts no target says),
real recorded prompts by kind (Debian `asterisk-core-sounds-en-wav`: digits, letters, phonetic alphabet, other
prompts) and real drum samples by kit (Debian `hydrogen-drumkits`); the control is the spoken digits with their
labels shuffled.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

from benchmark.assets.demo_data.common import Source
from benchmark.assets.demo_data.speech import (
    KEYWORD_VOICES,
    KEYWORDS,
    LANGUAGE_VOICES,
    VARIANTS,
    Clip,
    _espeak,
    _espeak_source,
    _hold_out,
    _trim_silence,
)
from benchmark.assets.manifest import debian_package_version
from benchmark.assets.zoo_data.layout import SplitSizes, shuffled_pool

SAMPLE_RATE = 16_000
MAX_SAMPLES = SAMPLE_RATE  # 1 s
ENGLISH_VOICES = KEYWORD_VOICES["english"]
LANGUAGES_B = {"czech": "cs", "dutch": "nl", "finnish": "fi", "hungarian": "hu", "polish": "pl", "swedish": "sv"}
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
SPEEDS = {"slow": (80, 110), "medium": (150, 180), "fast": (260, 320)}  # words per minute
PITCHES = {"low": (0, 20), "high": (80, 99)}
ASTERISK_DIR = Path("/usr/share/asterisk/sounds/en_US_f_Allison")
ASTERISK_KINDS = {
    "digits": ("digits",),
    "letters": ("letters",),
    "phonetic": ("phonetic",),
    "prompts": (".", "dictate", "followme"),
}
DRUMKITS_DIR = Path("/usr/share/hydrogen/data/drumkits")
BATCH = 16
TARGET_SIZES = {
    "zoo_keywords": SplitSizes(train=40, validation=30, test=100),
    "zoo_spoken_languages": SplitSizes(train=60, validation=50, test=170),
    "zoo_voice_sex": SplitSizes(train=150, validation=150, test=500),
}
LICENCE = (
    "GPL-3.0-or-later (espeak-ng; synthetic clips), CC-BY-SA-3.0 (Asterisk prompts), GPL-2+/CC-BY/CC0 by kit (Hydrogen)"
)

Pools = dict[str, Iterator[np.ndarray]]


def audio_source() -> Source:
    espeak = _espeak_source()
    packages = ("asterisk-core-sounds-en-wav", "hydrogen-drumkits")
    versions = [debian_package_version(p) for p in packages]
    return Source(", ".join((espeak.package, *packages)), ", ".join((espeak.version, *versions)), LICENCE)


def to_clip(samples: np.ndarray, rate: int) -> np.ndarray:
    """Float samples at `rate` as 16 kHz int16, leading and trailing silence trimmed, cut to 1 s."""
    divisor = math.gcd(SAMPLE_RATE, rate)
    resampled = resample_poly(samples, SAMPLE_RATE // divisor, rate // divisor) if rate != SAMPLE_RATE else samples
    trimmed = _trim_silence(np.asarray(resampled, dtype=np.float64), SAMPLE_RATE)[:MAX_SAMPLES]
    return np.clip(np.round(trimmed * 32768), -32768, 32767).astype("<i2")


def synthesised(clip: Clip) -> np.ndarray:
    return to_clip(*_espeak(clip))


def espeak_stream(make: Callable[[np.random.Generator], Clip], rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Endless clips from make(rng), synthesised BATCH at a time on two threads."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        while True:
            yield from pool.map(synthesised, [make(rng) for _ in range(BATCH)])


def _pick(rng: np.random.Generator, options):
    return options[rng.integers(len(options))]


def _clip(rng, label: str, text: str, voice: str, variant: str, speed=(130, 200), pitch=(25, 75)) -> Clip:
    return Clip(
        "",
        label,
        text,
        voice,
        variant,
        int(rng.integers(speed[0], speed[1] + 1)),
        int(rng.integers(pitch[0], pitch[1] + 1)),
    )


def _held_out_speakers(rng: np.random.Generator, voices, variants) -> dict[str, tuple[list[str], list[str]]]:
    """Base voices and variants split into seen (train, validation) and unseen (test) ones."""
    seen_voices, test_voices = _hold_out(voices, rng)
    seen_variants, test_variants = _hold_out(variants, rng)
    seen = (seen_voices, seen_variants)
    return {"train": seen, "validation": seen, "test": (test_voices, test_variants)}


def keyword_candidates(rng: np.random.Generator) -> dict[str, Pools]:
    speakers = _held_out_speakers(rng, KEYWORD_VOICES.values(), VARIANTS.values())
    return {
        split: {
            word: espeak_stream(lambda r, w=word, v=voices, a=variants: _clip(r, w, w, _pick(r, v), _pick(r, a)), rng)
            for word in KEYWORDS
        }
        for split, (voices, variants) in speakers.items()
    }


def language_candidates(rng: np.random.Generator) -> dict[str, Pools]:
    """A number 0-99 said in one of six languages; test numbers and variants unseen in training."""
    seen_numbers, test_numbers = _hold_out([[str(n) for n in range(100)]], rng)
    seen_variants, test_variants = _hold_out(VARIANTS.values(), rng)
    settings = {"train": (seen_numbers, seen_variants), "validation": (seen_numbers, seen_variants)}
    settings["test"] = (test_numbers, test_variants)
    return {
        split: {
            language: espeak_stream(
                lambda r, lang=language, n=numbers, a=variants: _clip(
                    r, lang, _pick(r, n), _pick(r, LANGUAGE_VOICES[lang]), _pick(r, a)
                ),
                rng,
            )
            for language in LANGUAGE_VOICES
        }
        for split, (numbers, variants) in settings.items()
    }


def voice_sex_candidates(rng: np.random.Generator) -> dict[str, Pools]:
    """Female or male variant saying an English number 100-999; test variants unseen in training."""
    held = {sex: _hold_out([variants], rng) for sex, variants in VARIANTS.items()}
    numbers = [str(n) for n in range(100, 1000)]
    return {
        split: {
            sex: espeak_stream(
                lambda r, s=sex, a=held[sex][part]: _clip(
                    r, s, _pick(r, numbers), _pick(r, ENGLISH_VOICES), _pick(r, a)
                ),
                rng,
            )
            for sex in VARIANTS
        }
        for split, part in (("train", 0), ("validation", 0), ("test", 1))
    }


def _all_variants() -> list[str]:
    return [v for variants in VARIANTS.values() for v in variants]


def spoken_digit_pools(rng: np.random.Generator) -> Pools:
    variants = _all_variants()
    return {
        word: espeak_stream(lambda r, w=word: _clip(r, w, w, _pick(r, ENGLISH_VOICES), _pick(r, variants)), rng)
        for word in DIGIT_WORDS
    }


def language_b_pools(rng: np.random.Generator) -> Pools:
    variants = _all_variants()
    return {
        name: espeak_stream(lambda r, n=name, v=voice: _clip(r, n, str(r.integers(100)), v, _pick(r, variants)), rng)
        for name, voice in LANGUAGES_B.items()
    }


def _english_number(rng: np.random.Generator) -> str:
    return str(int(rng.integers(1000, 10_000)))


def _voice_setting_pools(rng: np.random.Generator, settings: dict[str, tuple[int, int]], keyword: str) -> Pools:
    """One pool per range of an espeak-ng setting (`speed` or `pitch`): English numbers in English voices."""
    variants = _all_variants()
    return {
        name: espeak_stream(
            lambda r, value=value, name=name: _clip(
                r, name, _english_number(r), _pick(r, ENGLISH_VOICES), _pick(r, variants), **{keyword: value}
            ),
            rng,
        )
        for name, value in settings.items()
    }


def speech_rate_pools(rng: np.random.Generator) -> Pools:
    return _voice_setting_pools(rng, SPEEDS, "speed")


def pitch_pools(rng: np.random.Generator) -> Pools:
    return _voice_setting_pools(rng, PITCHES, "pitch")


def read_clip(path: Path) -> np.ndarray | None:
    """A recorded file (wav, flac, aiff) as a 1 s 16 kHz int16 clip (channels averaged); None when silent."""
    import soundfile

    samples, rate = soundfile.read(str(path), dtype="float64", always_2d=True)
    try:
        return to_clip(samples.mean(axis=1), rate)
    except RuntimeError:  # only silence
        return None


def _clips(paths: list[Path]) -> Iterator[np.ndarray]:
    return (clip for clip in map(read_clip, paths) if clip is not None)


def asterisk_pools(rng: np.random.Generator) -> Pools:
    """Asterisk's recorded English prompts (one speaker) by kind: digits, letters, phonetic alphabet, prompts."""
    pools = {}
    for kind, folders in ASTERISK_KINDS.items():
        files = sorted(p for folder in folders for p in (ASTERISK_DIR / folder).glob("*.wav"))
        pools[kind] = _clips(shuffled_pool(files, rng))
    return pools


def drum_kit_pools(rng: np.random.Generator) -> Pools:
    """Hydrogen's drum samples by kit (the kit's recording or synthesis is the label)."""
    pools = {}
    for kit in sorted(p for p in DRUMKITS_DIR.iterdir() if p.is_dir()):
        files = sorted(p for p in kit.rglob("*") if p.suffix.lower() in (".wav", ".flac", ".aif", ".aiff"))
        pools["kit_" + "".join(c if c.isalnum() else "_" for c in kit.name.lower())] = _clips(shuffled_pool(files, rng))
    return pools


TARGETS: dict[str, Callable[[np.random.Generator], dict[str, Pools]]] = {
    "zoo_keywords": keyword_candidates,
    "zoo_spoken_languages": language_candidates,
    "zoo_voice_sex": voice_sex_candidates,
}
SOURCES: dict[str, Callable[[np.random.Generator], Pools]] = {
    "src_spoken_digits": spoken_digit_pools,
    "src_languages_b": language_b_pools,
    "src_speech_rate": speech_rate_pools,
    "src_voice_pitch": pitch_pools,
    "src_asterisk_prompts": asterisk_pools,
    "src_drum_kits": drum_kit_pools,
}
CONTROLS = {"ctl_spoken_digits_shuffled": "src_spoken_digits"}
# What each task's clips are (see vision.DOMAINS).
DOMAINS = {
    "zoo_keywords": "synthesised English words",
    "zoo_spoken_languages": "synthesised numbers in six languages",
    "zoo_voice_sex": "synthesised English numbers",
    "src_spoken_digits": "synthesised English words",
    "src_languages_b": "synthesised numbers in six other languages",
    "src_speech_rate": "synthesised English numbers",
    "src_voice_pitch": "synthesised English numbers",
    "src_asterisk_prompts": "recorded English prompts",
    "src_drum_kits": "recorded drum samples",
    "ctl_spoken_digits_shuffled": "synthesised English words",
}
