"""Published text carries no local absolute path: rewritten relative to a known folder, or redacted."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmark.utils.public import REDACTED, default_roots, path_roots, public_path, redact_data, redact_text


@pytest.fixture()
def roots(tmp_path) -> list[tuple[str, str]]:
    return default_roots(assets=tmp_path / "assets", include=tmp_path / "mine")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("dataset.data_files '/etc/os-release': no rows", f"dataset.data_files '{REDACTED}/os-release': no rows"),
        ("evaluate:/srv/metrics/m", f"evaluate:{REDACTED}/m"),
        ("see (/var/x/y.csv)", f"see ({REDACTED}/y.csv)"),
        ("https://huggingface.co/org/name", "https://huggingface.co/org/name"),
        ("org/name and 1/2", "org/name and 1/2"),
        ("{assets}/data/x.csv", "{assets}/data/x.csv"),
        ("no paths here", "no paths here"),
    ],
)
def test_absolute_paths_are_redacted_and_the_rest_kept(text, expected):
    assert redact_text(text, []) == expected


def test_paths_under_a_known_folder_become_relative(tmp_path, roots):
    assert redact_text(f"read {tmp_path}/assets/data/x.csv", roots) == "read {assets}/data/x.csv"
    assert public_path(str(tmp_path / "mine" / "text" / "t.yaml"), roots) == "{include}/text/t.yaml"
    assert public_path(str(Path.home() / "data"), roots) == "~/data"


def test_the_most_specific_folder_wins(tmp_path):
    roots = path_roots([("{outer}", tmp_path), ("{inner}", tmp_path / "a")])
    assert public_path(str(tmp_path / "a" / "b"), roots) == "{inner}/b"


def test_redact_data_walks_keys_lists_and_values(tmp_path, roots):
    data = {"/etc/secret": [f"{tmp_path}/assets/x", 3, None], "n": {"k": "/opt/y"}}
    assert redact_data(data, roots) == {f"{REDACTED}/secret": ["{assets}/x", 3, None], "n": {"k": f"{REDACTED}/y"}}
