"""Publish a leaderboard to a Hugging Face Hub dataset repository, with per-checkpoint evaluation metadata.

`transfer-bench push --repo-id user/transfer-bench-results [--out leaderboard]` uploads, in one commit:

- `results_table.parquet` / `.csv`: the results table (`benchmark.report.table`), which the dataset card declares
  as the repository's data, so `datasets.load_dataset("user/transfer-bench-results")` and the viewer read it;
- `index.html` and `leaderboard.md` (the markdown, with its PNG plots): the leaderboard pages;
- `README.md`: a dataset card with the column reference;
- per checkpoint, its scores in the two formats the Hub shows on model pages: `eval_results/<model>/*.yaml` in
  the `.eval_results/` format (one file per suite and protocol, entries pointing at this dataset and task) and
  `model_index/<model>.yaml`, the `model-index` block of a model card's metadata.

With `--open-model-prs`, each checkpoint that is a Hub model id also gets a pull request adding its
`.eval_results/` files to its own repository. Everything is rendered from the results table, so the upload
shows exactly what the leaderboard shows. `--dry-run` writes the payload to a folder and uploads nothing.
A repository that does not exist yet is created private; `--public` creates it public (an existing repository
keeps its visibility).
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from huggingface_hub import CommitOperationAdd, HfApi
from huggingface_hub.errors import HfHubHTTPError
from huggingface_hub.repocard_data import EvalResult, eval_results_to_model_index

from benchmark.report.html import PAGE_NAME
from benchmark.report.table import (
    CSV_NAME,
    PARQUET_NAME,
    TABLE_VERSION,
    Row,
    Summary,
    TableVersionError,
    read_results_table,
    schema_markdown,
    summarise,
)
from benchmark.specs.adapter_registry import LIBRARIES, library_adapter
from benchmark.utils.naming import safe_component

SOURCE_NAME = "transfer-bench"
MARKDOWN_NAME = "leaderboard.md"
DEFAULT_ENDPOINT = "https://huggingface.co"
PIPELINE_TAGS = {"vision": "image-classification", "text": "text-classification", "audio": "audio-classification"}
PROTOCOL_NAMES = {"finetune": "fine-tuned", "linear_probe": "linear probe"}
HUB_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


class PushError(Exception):
    """The leaderboard folder cannot be published as it is; the message says what is missing."""


@dataclass
class PushReport:
    """What a push did: the dataset repository, its commit, and the pull requests opened on model repos."""

    repo_url: str
    commit_url: str | None
    files: list[str]
    model_prs: dict[str, str] = field(default_factory=dict)


def hub_model_repo(checkpoint: str | None, library: str | None) -> str | None:
    """The Hub model repository a checkpoint was loaded from, or None for a local folder or a template.

    `org/name` (optionally `hf-hub:`-prefixed) is a repository; a tagged timm name such as `resnet50.a1_in1k`
    resolves to timm's `timm/resnet50.a1_in1k`. An existing local path is never a repository.
    """
    if not checkpoint or "{" in checkpoint or checkpoint.startswith((".", "/", "~")) or Path(checkpoint).exists():
        return None
    name = re.sub(r"^hf[-_]hub:", "", checkpoint)
    if HUB_REPO_ID.match(name):
        return name
    if library not in LIBRARIES.names():
        return None
    return library_adapter(library).repo_by_convention(name)


def _pretrained(summaries: list[Summary]) -> dict[str, list[Summary]]:
    """Finished pretrained groups by model id, in table order (scratch twins are not published checkpoints)."""
    models: dict[str, list[Summary]] = {}
    for summary in summaries:
        if summary.init == "pretrained" and summary.mean is not None:
            models.setdefault(summary.model, []).append(summary)
    return models


def eval_results_files(summaries: list[Summary], repo_id: str, endpoint: str = DEFAULT_ENDPOINT) -> dict[str, dict]:
    """Per model id, `{file name: entries}` in the Hub's `.eval_results/*.yaml` format.

    One file per (suite, protocol), since the Hub keeps variants of a benchmark in separate files; each entry
    names this dataset and the task, the mean main metric over seeds, and the setup in `notes`.
    """
    source_url = f"{endpoint.rstrip('/')}/datasets/{repo_id}"
    files: dict[str, dict] = {}
    for model, groups in _pretrained(summaries).items():
        for group in groups:
            name = f"{SOURCE_NAME}_{safe_component(group.suite)}_{group.protocol}.yaml"
            entry = {
                "dataset": {"id": repo_id, "task_id": group.task},
                "value": round(group.mean, 6),
                "source": {"url": source_url, "name": SOURCE_NAME},
                "notes": _notes(group),
            }
            files.setdefault(model, {}).setdefault(name, []).append(entry)
    return files


def _notes(group: Summary) -> str:
    return (
        f"{PROTOCOL_NAMES.get(group.protocol, group.protocol)}, {group.main_metric} on test, mean of "
        f"{group.seeds_ok} seed(s), suite {group.suite}"
    )


def model_index(summaries: list[Summary], repo_id: str, endpoint: str = DEFAULT_ENDPOINT) -> dict[str, dict]:
    """Per model id, the `model-index` model-card metadata (huggingface_hub's `EvalResult` format)."""
    source_url = f"{endpoint.rstrip('/')}/datasets/{repo_id}"
    cards = {}
    for model, groups in _pretrained(summaries).items():
        results = [
            EvalResult(
                task_type=PIPELINE_TAGS.get(group.modality, "other"),
                dataset_type=group.dataset_path or group.task,
                dataset_name=group.task,
                dataset_split="test",
                dataset_revision=group.dataset_revision,
                metric_type=group.main_metric,
                metric_value=round(group.mean, 6),
                metric_name=f"{group.main_metric} ({PROTOCOL_NAMES.get(group.protocol, group.protocol)})",
                source_name=SOURCE_NAME,
                source_url=source_url,
            )
            for group in groups
        ]
        name = hub_model_repo(groups[0].checkpoint_spec, groups[0].library) or model
        cards[model] = {"model-index": eval_results_to_model_index(name, results)}
    return cards


def dataset_card(repo_id: str, rows: list[Row]) -> str:
    """README.md of the dataset repository: metadata declaring the parquet table, then the column reference."""
    metadata = {
        "pretty_name": "transfer-bench results",
        "tags": ["transfer-learning", "benchmark", "leaderboard", "timm", "transformers"],
        "configs": [{"config_name": "default", "data_files": [{"split": "train", "path": PARQUET_NAME}]}],
    }
    suites = sorted({row["suite"] for row in rows})
    return "\n".join(
        [
            "---",
            yaml.safe_dump(metadata, sort_keys=False).rstrip(),
            "---",
            "",
            "# transfer-bench results",
            "",
            f"{len(rows)} cells of the suite(s) {', '.join(f'`{s}`' for s in suites)}: every (model, task, protocol, "
            "seed) fine-tuned or linearly probed, beside the same architecture trained from scratch.",
            "",
            f"- [`{PAGE_NAME}`]({PAGE_NAME}): the leaderboard as a sortable, filterable page (self-contained).",
            f"- [`{MARKDOWN_NAME}`]({MARKDOWN_NAME}): the leaderboard in markdown, with its plots.",
            f"- `{PARQUET_NAME}` / `{CSV_NAME}`: one row per cell (table version {TABLE_VERSION}).",
            "- `eval_results/<model>/`, `model_index/<model>.yaml`: each checkpoint's scores as model-card metadata.",
            "",
            "```python",
            "from datasets import load_dataset",
            "",
            f'table = load_dataset("{repo_id}", split="train")',
            "```",
            "",
            "## Columns",
            "",
            schema_markdown(),
            "",
        ]
    )


def stage_payload(out_dir: Path, staging: Path, repo_id: str, endpoint: str = DEFAULT_ENDPOINT) -> list[str]:
    """Write everything to upload into `staging`; return the repository paths, sorted."""
    out_dir, staging = Path(out_dir), Path(staging)
    table = out_dir / PARQUET_NAME
    if not table.is_file():
        raise PushError(f"{table} not found: build the leaderboard first (transfer-bench leaderboard)")
    try:
        rows = read_results_table(table)
    except TableVersionError as error:
        raise PushError(str(error)) from None
    summaries = summarise(rows)
    staging.mkdir(parents=True, exist_ok=True)
    for name in (PARQUET_NAME, CSV_NAME, PAGE_NAME, *sorted(p.name for p in out_dir.glob("*.png"))):
        if (out_dir / name).is_file():
            shutil.copyfile(out_dir / name, staging / name)
    if (out_dir / "README.md").is_file():
        shutil.copyfile(out_dir / "README.md", staging / MARKDOWN_NAME)
    (staging / "README.md").write_text(dataset_card(repo_id, rows), encoding="utf-8")
    for model, files in eval_results_files(summaries, repo_id, endpoint).items():
        for name, entries in files.items():
            _write_yaml(staging / "eval_results" / safe_component(model) / name, entries)
    for model, card in model_index(summaries, repo_id, endpoint).items():
        _write_yaml(staging / "model_index" / f"{safe_component(model)}.yaml", card)
    return sorted(p.relative_to(staging).as_posix() for p in staging.rglob("*") if p.is_file())


def _write_yaml(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")


def push(
    out_dir: Path,
    repo_id: str,
    *,
    token: str | None = None,
    endpoint: str | None = None,
    private: bool = True,
    open_model_prs: bool = False,
    commit_message: str = "Update transfer-bench leaderboard",
) -> PushReport:
    """Create the dataset repository if needed and upload the payload in one commit; optionally open a pull
    request with the `.eval_results/` files on every checkpoint that is a Hub model.

    One `create_commit` rather than `upload_folder`: the table, the page and the cards change together or not at
    all (`upload_folder` may split a folder into several commits when hf_xet is installed).
    """
    api = HfApi(endpoint=endpoint, token=token)
    repo_url = api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="transfer-bench-push-") as staging:
        files = stage_payload(out_dir, Path(staging), repo_id, api.endpoint)
        operations = [CommitOperationAdd(path_in_repo=name, path_or_fileobj=Path(staging) / name) for name in files]
        commit = api.create_commit(repo_id, operations, commit_message=commit_message, repo_type="dataset")
        report = PushReport(repo_url=str(repo_url), commit_url=commit.commit_url, files=files)
        if open_model_prs:
            report.model_prs = _open_model_prs(api, Path(out_dir), Path(staging), repo_id)
    return report


def _open_model_prs(api: HfApi, out_dir: Path, staging: Path, repo_id: str) -> dict[str, str]:
    """One pull request per Hub checkpoint adding its `.eval_results/` files; returns {checkpoint: PR url}."""
    checkpoints = {}
    for summary in summarise(read_results_table(out_dir / PARQUET_NAME)):
        repo = hub_model_repo(summary.checkpoint_spec, summary.library)
        if summary.init == "pretrained" and repo is not None:
            checkpoints.setdefault(summary.model, repo)
    prs = {}
    for model, checkpoint in sorted(checkpoints.items()):
        folder = staging / "eval_results" / safe_component(model)
        if not folder.is_dir():
            continue
        operations = [
            CommitOperationAdd(path_in_repo=f".eval_results/{path.name}", path_or_fileobj=path)
            for path in sorted(folder.glob("*.yaml"))
        ]
        commit = api.create_commit(
            checkpoint,
            operations,
            commit_message=f"Add transfer-bench evaluation results (from {repo_id})",
            repo_type="model",
            create_pr=True,
        )
        prs[checkpoint] = commit.pr_url or commit.commit_url
    return prs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="transfer-bench push", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("leaderboard"), help="the built leaderboard folder")
    parser.add_argument("--repo-id", required=True, help="dataset repository, e.g. user/transfer-bench-results")
    parser.add_argument("--token", help="Hub token (default: HF_TOKEN or the saved login)")
    parser.add_argument("--endpoint", help="Hub endpoint (default: HF_ENDPOINT or https://huggingface.co)")
    visibility = parser.add_mutually_exclusive_group()
    visibility.add_argument("--public", action="store_true", help="create the repository as public (default: private)")
    visibility.add_argument("--private", action="store_true", help="create the repository as private (the default)")
    parser.add_argument("--open-model-prs", action="store_true", help="open .eval_results PRs on Hub checkpoints")
    parser.add_argument("--dry-run", metavar="DIR", type=Path, help="write the payload to DIR; upload nothing")
    args = parser.parse_args(argv)
    try:
        if args.dry_run:
            files = stage_payload(args.out, args.dry_run, args.repo_id, args.endpoint or DEFAULT_ENDPOINT)
            print(f"dry run: {len(files)} file(s) staged in {args.dry_run}")
            return 0
        report = push(
            args.out,
            args.repo_id,
            token=args.token,
            endpoint=args.endpoint,
            private=not args.public,
            open_model_prs=args.open_model_prs,
        )
    except PushError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except HfHubHTTPError as error:
        print(f"error: the Hub refused the upload: {error}", file=sys.stderr)
        return 1
    print(f"pushed {len(report.files)} file(s) to {report.repo_url}: {report.commit_url}")
    for checkpoint, url in report.model_prs.items():
        print(f"  pull request on {checkpoint}: {url}")
    return 0
