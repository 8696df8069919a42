"""The zoo's tasks on data built from the real packages: every task loads through the benchmark's loader from
(tiny) builds, and the zoo's text datasets share no text with the demo tasks they sit beside.

Balance, determinism and loading of each new dataset are checked with the demo's in test_demo_data.py. A test
is skipped, with the install line, only when its source package is absent.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from benchmark.assets import demo_data
from benchmark.assets.demo_data import fortunes, mail
from benchmark.assets.errors import AssetMissingError
from benchmark.data.loading import load_encoded
from benchmark.specs.registry import load_registry
from benchmark.utils.paths import DEFAULT_TASKS_DIR

pytestmark = pytest.mark.integration  # runs the suite, launches processes or builds real assets

N_TRAIN, N_TEST = 5, 2
ZOO_CLASSES = {
    "fashion_clothing": ("coat", "dress", "pullover", "shirt", "t-shirt_top"),
    "fashion_gear": ("ankle_boot", "bag", "sandal", "sneaker", "trouser"),
    "digits_low": ("0", "1", "2", "3", "4"),
    "digits_high": ("5", "6", "7", "8", "9"),
    "fortunes_language": ("english", "german", "italian", "spanish"),
    "fortunes_topics_b": ("art", "men-women", "songs-poems", "wisdom", "work"),
    "mail_groups": ("easy_ham", "hard_ham", "spam"),
}
NEEDED = ("fashion_mnist", "digits", "fortunes_topics_b", "fortunes_language", "mail_groups")


def build(name: str, out_dir: Path, **knobs) -> Path:
    """Build a dataset; skip the test with the install line if its source is absent."""
    try:
        return demo_data.DATASET_BUILDERS[name](out_dir, **knobs)
    except AssetMissingError as err:
        pytest.skip(str(err))


def texts(root: Path) -> set[str]:
    """Every text of a CSV build, over both splits."""
    found = set()
    for split in ("train", "test"):
        with (root / f"{split}.csv").open(encoding="utf-8", newline="") as handle:
            found |= {row["text"] for row in csv.DictReader(handle)}
    return found


@pytest.fixture(scope="module")
def tiny_assets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An assets folder with small builds of every dataset the zoo's tasks read."""
    assets = tmp_path_factory.mktemp("zoo-assets")
    npm = {"npm_cache": tmp_path_factory.mktemp("npm")}
    for name in NEEDED:
        knobs = {"n_train_per_class": N_TRAIN, "n_test_per_class": N_TEST, **(npm if name == "mail_groups" else {})}
        build(name, assets / "data" / name, **knobs)
    return assets


@pytest.mark.parametrize("task", ZOO_CLASSES)
def test_every_zoo_task_loads_with_only_its_classes(tiny_assets: Path, task: str) -> None:
    spec = load_registry(DEFAULT_TASKS_DIR).tasks[task]
    data = load_encoded(spec, tiny_assets)
    classes = ZOO_CLASSES[task]
    assert data.label_names == list(classes)
    assert len(data.train) + len(data.validation) == N_TRAIN * len(classes)
    assert len(data.test) == N_TEST * len(classes)
    assert sorted(set(data.test["labels"])) == list(range(len(classes)))


def test_every_language_file_is_in_its_package() -> None:
    for language in fortunes.FORTUNE_LANGUAGES.values():
        folder = fortunes.FORTUNES_DIR / language.folder
        if not folder.is_dir():
            pytest.skip(f"apt-get install {language.package}")
        missing = [name for name in language.files if not (folder / name).is_file()]
        assert not missing, f"{language.package}: {missing}"


def test_the_fortune_tasks_share_no_text(tmp_path: Path) -> None:
    """At full size: the demo's topics, the second topic set and the languages' English never meet."""
    demo = texts(build("fortunes", tmp_path / "fortunes"))
    topics_b = texts(build("fortunes_topics_b", tmp_path / "topics_b"))
    language = texts(build("fortunes_language", tmp_path / "language"))
    assert len(demo) == len(topics_b) == len(language) == 600
    assert not demo & topics_b and not language & (demo | topics_b)


def test_mail_groups_shares_no_mail_with_the_spam_assassin_task(tmp_path: Path) -> None:
    """At full size: spam_assassin as `prepare` builds it, and mail_groups with its defaults."""
    npm_cache = tmp_path / "npm"
    spam = texts(build("spam_assassin", tmp_path / "spam", npm_cache=npm_cache, **mail.SPAM_ASSASSIN_DEFAULTS))
    groups = texts(build("mail_groups", tmp_path / "groups", npm_cache=npm_cache))
    assert (len(spam), len(groups)) == (600, 630)
    assert not spam & groups
