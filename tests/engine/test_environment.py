"""Provenance: the machine, code version, command line, distributed setup and hub commits a result records, and the
library versions in the feature-cache key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from accelerate import Accelerator

from benchmark.engine import environment, features
from benchmark.engine.environment import (
    code_version,
    cpu_model_name,
    dataset_hub_commit,
    distributed_setup,
    hardware_name,
    hub_commit,
    model_hub_commit,
)
from benchmark.engine.plan import plan_cells
from benchmark.engine.records import provenance
from benchmark.results.schema import CellResult
from benchmark.specs.registry import load_registry
from benchmark.utils.paths import REPO_ROOT

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _is_checkout(root: Path) -> bool:
    try:
        done = subprocess.run(["git", "-C", str(root), "rev-parse", "--show-toplevel"], capture_output=True, text=True)
    except OSError:
        return False
    return done.returncode == 0 and Path(done.stdout.strip()).resolve() == root.resolve()


def test_cpu_model_name_is_the_marketing_name_and_hardware_adds_threads():
    name = cpu_model_name()
    assert name and name.strip() == name
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists() and "model name" in cpuinfo.read_text():
        assert name in cpuinfo.read_text()
        assert name not in ("x86_64", "aarch64")
    assert hardware_name(torch.device("cpu")) == f"{name} ({torch.get_num_threads()} threads)"


def test_cpu_model_name_falls_back_to_platform_without_cpuinfo(monkeypatch, tmp_path):
    monkeypatch.setattr(environment, "CPUINFO", tmp_path / "missing")
    cpu_model_name.cache_clear()
    try:
        assert cpu_model_name()  # platform's processor or machine, never empty
    finally:
        cpu_model_name.cache_clear()


@pytest.mark.skipif(not _is_checkout(REPO_ROOT), reason="not running from a git checkout")
def test_code_version_of_the_checkout_is_its_commit():
    commit, dirty = code_version(REPO_ROOT)
    head = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True)
    assert commit == head.stdout.strip() and len(commit) == 40 and int(commit, 16) >= 0
    assert isinstance(dirty, bool)
    # A folder inside the checkout is not the top of one: an installed package in a project's virtual
    # environment must not report the project's commit.
    assert code_version(REPO_ROOT / "benchmark") == (None, None)


def test_code_version_outside_a_checkout_is_none(tmp_path):
    assert code_version(tmp_path) == (None, None)


def test_hub_commits_come_from_the_local_cache_only(tmp_path):
    repo = tmp_path / "models--timm--resnet18.a1_in1k"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(COMMIT)
    (repo / "snapshots" / COMMIT).mkdir(parents=True)
    dataset = tmp_path / "datasets--org--data" / "refs"
    dataset.mkdir(parents=True)
    (dataset / "v1").write_text(COMMIT + "\n")

    assert hub_commit("timm/resnet18.a1_in1k", cache_dir=tmp_path) == COMMIT
    assert hub_commit("timm/resnet18.a1_in1k", COMMIT, cache_dir=tmp_path) == COMMIT  # a pinned commit
    assert hub_commit("timm/resnet18.a1_in1k", "f" * 40, cache_dir=tmp_path) is None  # not downloaded
    assert hub_commit("timm/other", cache_dir=tmp_path) is None
    assert model_hub_commit("timm", "resnet18.a1_in1k", None, cache_dir=tmp_path) == COMMIT  # via timm's hf_hub_id
    assert model_hub_commit("timm", "hf-hub:timm/resnet18.a1_in1k", None, cache_dir=tmp_path) == COMMIT
    assert model_hub_commit("timm", str(tmp_path), None, cache_dir=tmp_path) is None  # a local folder
    assert model_hub_commit("transformers", "{assets}/tiny-bert", None, cache_dir=tmp_path) is None
    assert dataset_hub_commit("org/data", "v1", cache_dir=tmp_path) == COMMIT
    assert dataset_hub_commit("org/data", None, cache_dir=tmp_path) is None  # no `main` ref cached
    assert dataset_hub_commit("csv", None, cache_dir=tmp_path) is None


def test_cudnn_versions_read_as_text():
    assert environment._cudnn_text(91002) == "9.10.2"
    assert environment._cudnn_text(8902) == "8.9.2"


def test_provenance_of_a_cell(tiny_tasks):
    cell = plan_cells(load_registry(tiny_tasks).resolve("tiny"))[0]
    accelerator = Accelerator()
    record = provenance(cell, accelerator)
    assert record.cpu == cpu_model_name()
    assert record.command == sys.argv
    assert record.model_commit is None and record.dataset_commit is None  # local folders
    assert (record.world_size, record.num_machines, record.mixed_precision) == (1, 1, "no")
    assert record.distributed_type == distributed_setup(accelerator)["distributed_type"]
    if not torch.cuda.is_available():
        assert (record.gpus, record.cuda, record.cudnn) == ([], None, None)
    if _is_checkout(REPO_ROOT):
        assert record.code_commit == code_version(REPO_ROOT)[0]
    # Results written before provenance was recorded still parse.
    old = CellResult(**cell.identity(), status="failed").model_dump(exclude={"provenance"})
    assert CellResult.model_validate(old).provenance is None


def test_feature_cache_key_changes_with_library_versions(monkeypatch):
    before = features.feature_cache_key(checkpoint="x", split="train")
    assert features.feature_cache_key(checkpoint="x", split="train") == before  # stable
    assert set(features.feature_library_versions()) == {"torch", "timm", "transformers", "datasets"}
    upgraded = {**features.feature_library_versions(), "timm": "99.0"}
    monkeypatch.setattr(features, "feature_library_versions", lambda: upgraded)
    assert features.feature_cache_key(checkpoint="x", split="train") != before
