"""A search copies each seed's freshly built model instead of rebuilding it per configuration and rung; the copy,
with the random generators put back where the build left them, must train exactly as a rebuild does."""

from __future__ import annotations

import pytest

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
