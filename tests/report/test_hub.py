"""Publishing to the Hub, against a local HTTP stand-in: the repository, the one commit, its files, and the
per-checkpoint evaluation metadata (model-index and .eval_results) with pull requests on Hub checkpoints."""

from __future__ import annotations

import io

import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from huggingface_hub.repocard_data import model_index_to_eval_results

from benchmark.report.html import write_html
from benchmark.report.hub import (
    MARKDOWN_NAME,
    PushError,
    hub_model_repo,
    main,
    push,
    stage_payload,
)
from benchmark.report.table import PARQUET_NAME, VERSION_KEY, summarise, table_rows, write_results_table
from testkit.hub_standin import hub_standin
from testkit.suite_records import synthetic_suite

REPO_ID = "someone/transfer-results"
TOKEN = "hf_test_token"


@pytest.fixture()
def leaderboard(tmp_path):
    """A built leaderboard folder: table, page, markdown and one plot."""
    out = tmp_path / "leaderboard"
    parquet, _ = write_results_table(synthetic_suite(), out)
    write_html(parquet, out, {})
    (out / "README.md").write_text("# Transfer benchmark leaderboard\n\n![plot](plot_synth.png)\n")
    (out / "plot_synth.png").write_bytes(b"\x89PNG fake")
    return out


def pretrained_means() -> dict[tuple[str, str, str], float]:
    return {
        (s.model, s.task, s.protocol): s.mean
        for s in summarise(table_rows(synthetic_suite()))
        if s.init == "pretrained"
    }


@pytest.mark.parametrize(
    ("checkpoint", "library", "repo"),
    [
        ("google-bert/bert-base-uncased", "transformers", "google-bert/bert-base-uncased"),
        ("hf-hub:timm/vit_small_patch16_224.dino", "timm", "timm/vit_small_patch16_224.dino"),
        ("resnet50.a1_in1k", "timm", "timm/resnet50.a1_in1k"),
        ("resnet50", "timm", None),  # an untagged timm name is not a repository
        ("{assets}/checkpoints/minilm", "transformers", None),
        ("/models/vit_tiny", "timm", None),
        ("./local", "transformers", None),
        (None, "timm", None),
    ],
)
def test_which_checkpoints_are_hub_repositories(checkpoint, library, repo):
    assert hub_model_repo(checkpoint, library) == repo


def test_push_creates_the_dataset_repo_and_uploads_everything_in_one_commit(leaderboard):
    with hub_standin() as hub:
        report = push(leaderboard, REPO_ID, token=TOKEN, endpoint=hub.url)
    created = {"name": "transfer-results", "organization": "someone", "type": "dataset", "visibility": "private"}
    assert hub.created == [created]  # private unless --public
    assert all(request.headers["authorization"] == f"Bearer {TOKEN}" for request in hub.requests)
    assert [r.path for r in hub.requests] == [
        "/api/repos/create",
        "/api/validate-yaml",
        f"/api/datasets/{REPO_ID}/preupload/main",
        f"/api/datasets/{REPO_ID}/commit/main",
    ]
    (commit,) = hub.commits
    assert (commit.repo_type, commit.repo_id, commit.create_pr) == ("dataset", REPO_ID, False)
    assert sorted(commit.files) == report.files
    assert report.repo_url == f"{hub.url}/datasets/{REPO_ID}" and report.commit_url.startswith(report.repo_url)
    for name in (PARQUET_NAME, "results_table.csv", "index.html", "plot_synth.png"):
        assert commit.files[name] == (leaderboard / name).read_bytes(), name
    assert commit.files[MARKDOWN_NAME] == (leaderboard / "README.md").read_bytes()
    uploaded = pd.read_parquet(io.BytesIO(commit.files[PARQUET_NAME]))
    assert len(uploaded) == len(synthetic_suite())


def test_the_dataset_card_declares_the_table(leaderboard):
    with hub_standin() as hub:
        push(leaderboard, REPO_ID, token=TOKEN, endpoint=hub.url)
    card = hub.commits[0].files["README.md"].decode()
    metadata = yaml.safe_load(card.split("---")[1])
    assert metadata["configs"] == [{"config_name": "default", "data_files": [{"split": "train", "path": PARQUET_NAME}]}]
    assert "`test_score`" in card and f'load_dataset("{REPO_ID}"' in card
    validated = next(r for r in hub.requests if r.path == "/api/validate-yaml").json()
    assert validated == {"content": card, "repoType": "dataset"}


def test_eval_results_files_carry_each_checkpoints_mean_scores(leaderboard):
    with hub_standin() as hub:
        push(leaderboard, REPO_ID, token=TOKEN, endpoint=hub.url)
    files = hub.commits[0].files
    means = pretrained_means()
    entries = yaml.safe_load(files["eval_results/vit_tiny/transfer-bench_synth_linear_probe.yaml"])
    assert {e["dataset"]["task_id"]: e["value"] for e in entries} == {
        task: pytest.approx(means[("vit_tiny", task, "linear_probe")]) for task in ("colours", "shapes")
    }
    assert all(e["dataset"]["id"] == REPO_ID for e in entries)
    assert entries[0]["source"] == {"url": f"{hub.url}/datasets/{REPO_ID}", "name": "transfer-bench"}
    assert "linear probe" in entries[0]["notes"] and "2 seed(s)" in entries[0]["notes"]
    parse = pytest.importorskip("huggingface_hub").__dict__.get("parse_eval_result_entries")
    if parse is not None:  # huggingface_hub >= 1.x reads the format back
        assert [entry.task_id for entry in parse(entries)] == ["colours", "shapes"]


def test_model_index_round_trips_through_huggingface_hub(leaderboard):
    with hub_standin() as hub:
        push(leaderboard, REPO_ID, token=TOKEN, endpoint=hub.url)
    card = yaml.safe_load(hub.commits[0].files["model_index/bert_tiny.yaml"])
    name, results = model_index_to_eval_results(card["model-index"])
    assert name == "prajjwal1/bert-tiny"  # the Hub repository, not the suite's model id
    means = pretrained_means()
    assert {(r.dataset_name, r.metric_name): r.metric_value for r in results} == {
        ("topics", "accuracy (fine-tuned)"): pytest.approx(means[("bert_tiny", "topics", "finetune")]),
        ("topics", "accuracy (linear probe)"): pytest.approx(means[("bert_tiny", "topics", "linear_probe")]),
    }
    assert {(r.task_type, r.dataset_type, r.dataset_split, r.source_name) for r in results} == {
        ("text-classification", "org/topics", "test", "transfer-bench")
    }
    local = yaml.safe_load(hub.commits[0].files["model_index/roberta_tiny.yaml"])
    assert local["model-index"][0]["name"] == "roberta_tiny"  # a local checkpoint keeps the suite's id


def test_model_prs_go_only_to_hub_checkpoints(leaderboard):
    with hub_standin() as hub:
        report = push(leaderboard, REPO_ID, token=TOKEN, endpoint=hub.url, open_model_prs=True)
    prs = [c for c in hub.commits if c.create_pr]
    assert [(c.repo_type, c.repo_id) for c in prs] == [
        ("model", "prajjwal1/bert-tiny"),
        ("model", "timm/resnet18.a1_in1k"),
    ]
    assert sorted(report.model_prs) == ["prajjwal1/bert-tiny", "timm/resnet18.a1_in1k"]
    assert all("/discussions/" in url for url in report.model_prs.values())
    bert = prs[0].files
    assert sorted(bert) == [
        ".eval_results/transfer-bench_synth_finetune.yaml",
        ".eval_results/transfer-bench_synth_linear_probe.yaml",
    ]
    assert (
        bert[".eval_results/transfer-bench_synth_finetune.yaml"]
        == (hub.commits[0].files["eval_results/bert_tiny/transfer-bench_synth_finetune.yaml"])
    )


def test_dry_run_stages_the_payload_without_any_request(leaderboard, tmp_path, capsys):
    assert main(["--out", str(leaderboard), "--repo-id", REPO_ID, "--dry-run", str(tmp_path / "staged")]) == 0
    staged = sorted(
        p.relative_to(tmp_path / "staged").as_posix() for p in (tmp_path / "staged").rglob("*") if p.is_file()
    )
    assert staged == stage_payload(leaderboard, tmp_path / "again", REPO_ID)
    assert "model_index/vit_tiny.yaml" in staged and "staged" in capsys.readouterr().out


def test_push_without_a_built_table_is_refused(tmp_path, capsys):
    with pytest.raises(PushError, match="transfer-bench leaderboard"):
        stage_payload(tmp_path, tmp_path / "staged", REPO_ID)
    with hub_standin() as hub:
        code = main(["--out", str(tmp_path), "--repo-id", REPO_ID, "--token", TOKEN, "--endpoint", hub.url])
    assert code == 2 and "not found" in capsys.readouterr().err
    assert hub.commits == []


def test_a_table_of_an_older_version_is_refused_with_how_to_rebuild_it(leaderboard, tmp_path, capsys):
    table = pq.read_table(leaderboard / PARQUET_NAME)
    pq.write_table(table.replace_schema_metadata({VERSION_KEY: b"2"}), leaderboard / PARQUET_NAME)
    assert main(["--out", str(leaderboard), "--repo-id", REPO_ID, "--dry-run", str(tmp_path / "staged")]) == 2
    assert "results table version 2" in capsys.readouterr().err and not (tmp_path / "staged").exists()


def test_a_refusing_hub_is_reported_without_a_traceback(leaderboard, capsys):
    with hub_standin(refuse={"/api/repos/create": 403}) as hub:
        code = main(["--out", str(leaderboard), "--repo-id", REPO_ID, "--token", TOKEN, "--endpoint", hub.url])
    assert code == 1 and "the Hub refused the upload" in capsys.readouterr().err
    assert hub.commits == []


def test_a_new_repository_is_private_unless_public_is_asked(leaderboard):
    arguments = ["--out", str(leaderboard), "--repo-id", REPO_ID, "--token", TOKEN]
    with hub_standin() as hub:
        push(leaderboard, REPO_ID, token=TOKEN, endpoint=hub.url)
        assert main([*arguments, "--endpoint", hub.url]) == 0
        assert main([*arguments, "--endpoint", hub.url, "--public"]) == 0
    assert [created["visibility"] for created in hub.created] == ["private", "private", "public"]
