"""Shortcuts of a search that must not change its results: each seed's freshly built model is copied instead of
rebuilt per configuration and rung (with the random generators put back where the build left them), and image and
audio inputs are preprocessed once per split instead of collated every batch."""

from __future__ import annotations

import pytest

from benchmark.data.preprocessed import PreprocessCache
from benchmark.engine import finetune
from benchmark.results.store import find_result_files, read_result
from benchmark.run import main
from testkit.fixtures import tiny_run_args

pytestmark = pytest.mark.integration  # runs a fine-tune search

NARROW = ["--models", "tiny-bert", "--tasks", "topics", "--protocols", "finetune", "--no-scratch", "--seeds", "0,1"]


def _scores(output) -> dict:
    results = {path.name: read_result(path) for path in find_result_files(output / "tiny")}
    assert results and all(r.status == "ok" for r in results.values())
    return {name: (r.metrics, r.validation_metrics, r.predictions, r.search.candidates) for name, r in results.items()}


def test_copied_initial_models_train_exactly_as_rebuilt_ones(tiny_tasks, tiny_assets, tmp_path, monkeypatch):
    copied = tmp_path / "copied"
    assert main(tiny_run_args(tiny_tasks, tiny_assets, copied, *NARROW, "--no-similarity")) == 0

    def rebuild(self, cell, num_labels):  # the behaviour before copies: a fresh build for every run
        return self.context.build(cell.model, cell.init, cell.task, num_labels, cell.seed)

    monkeypatch.setattr(finetune.FinetuneSearch, "_initial_model", rebuild)
    rebuilt = tmp_path / "rebuilt"
    assert main(tiny_run_args(tiny_tasks, tiny_assets, rebuilt, *NARROW, "--no-similarity")) == 0
    assert _scores(copied) == _scores(rebuilt)


@pytest.mark.parametrize(("model", "task"), [("tiny-resnet", "colours"), ("tiny-w2v2", "tones")])
def test_preprocessed_inputs_train_exactly_as_collated_ones(
    tiny_tasks, tiny_assets, tmp_path, monkeypatch, model, task
):
    narrow = ["--models", model, "--tasks", task, "--protocols", "finetune", "--no-scratch", "--seeds", "0"]
    cached = tmp_path / "cached"
    assert main(tiny_run_args(tiny_tasks, tiny_assets, cached, *narrow, "--no-similarity")) == 0

    def collate_every_batch(self, splits, collate):  # the behaviour before the cache
        return splits, collate

    monkeypatch.setattr(PreprocessCache, "inputs", collate_every_batch)
    collated = tmp_path / "collated"
    assert main(tiny_run_args(tiny_tasks, tiny_assets, collated, *narrow, "--no-similarity")) == 0
    assert _scores(cached) == _scores(collated)
