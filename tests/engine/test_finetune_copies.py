"""Shortcuts of a search that must not change its results: each seed's freshly built model is copied instead of
rebuilt per configuration and rung (with the random generators put back where the build left them), and image and
audio inputs are preprocessed once per split instead of collated every batch."""

from __future__ import annotations

import pytest
import torch
from accelerate import Accelerator

from benchmark.data.preprocessed import PreprocessCache
from benchmark.engine import finetune
from benchmark.engine.context import RunContext
from benchmark.engine.plan import plan_groups
from benchmark.engine.settings import RunSettings
from benchmark.results.store import find_result_files, read_result
from benchmark.run import main
from benchmark.specs.registry import collect_registry
from testkit.fixtures import tiny_run_args

pytestmark = pytest.mark.integration  # runs a fine-tune search

NARROW = ["--models", "tiny-bert", "--tasks", "topics", "--protocols", "finetune", "--no-scratch", "--seeds", "0,1"]


def _scores(output) -> dict:
    results = {path.name: read_result(path) for path in find_result_files(output / "tiny")}
    assert results and all(r.status == "ok" for r in results.values())
    # the curve's training losses change with any change of dropout masks or data order, even where scores do not
    curves = {name: [(p.step, p.score, p.train_loss) for p in r.curve] for name, r in results.items()}
    return {name: (r.metrics, r.predictions, r.search.candidates, curves[name]) for name, r in results.items()}


def test_copied_initial_models_train_exactly_as_rebuilt_ones(tiny_tasks, tiny_assets, tmp_path, monkeypatch):
    copied = tmp_path / "copied"
    assert main(tiny_run_args(tiny_tasks, tiny_assets, copied, *NARROW, "--no-similarity")) == 0

    def rebuild(self, cell, num_labels):  # the behaviour before copies: a fresh build for every run
        return self.context.build(cell.model, cell.init, cell.task, num_labels, cell.seed)

    monkeypatch.setattr(finetune.FinetuneSearch, "_initial_model", rebuild)
    rebuilt = tmp_path / "rebuilt"
    assert main(tiny_run_args(tiny_tasks, tiny_assets, rebuilt, *NARROW, "--no-similarity")) == 0
    assert _scores(copied) == _scores(rebuilt)


def test_preprocessed_images_train_exactly_as_collated_ones(tiny_tasks, tiny_assets, tmp_path, monkeypatch):
    narrow = [
        "--models",
        "tiny-resnet",
        "--tasks",
        "colours",
        "--protocols",
        "finetune",
        "--no-scratch",
        "--seeds",
        "0",
    ]
    cached = tmp_path / "cached"
    assert main(tiny_run_args(tiny_tasks, tiny_assets, cached, *narrow, "--no-similarity")) == 0

    def collate_every_batch(self, splits, collate, device=None):  # the behaviour before the cache
        return splits, collate

    monkeypatch.setattr(PreprocessCache, "inputs", collate_every_batch)
    collated = tmp_path / "collated"
    assert main(tiny_run_args(tiny_tasks, tiny_assets, collated, *narrow, "--no-similarity")) == 0
    assert _scores(cached) == _scores(collated)


def test_each_copy_starts_from_the_builds_weights_and_random_state(tiny_tasks, tiny_assets):
    registry, _ = collect_registry(tiny_tasks)
    suite = registry.resolve("tiny")
    group = next(g for g in plan_groups(suite) if g.model.id == "tiny-bert" and g.protocol == "finetune")
    context = RunContext(Accelerator(cpu=True), RunSettings(assets_dir=tiny_assets))
    search = finetune.FinetuneSearch(group, context)
    cell = group.cells()[0]
    built = search._initial_model(cell, num_labels=2)
    after_build = torch.get_rng_state()
    initial = {name: tensor.clone() for name, tensor in built.network.state_dict().items()}
    with torch.no_grad():  # what training does to the first run's model and to the generator
        next(built.network.parameters()).add_(1.0)
    torch.rand(1000)
    copy = search._initial_model(cell, num_labels=2)
    assert torch.equal(torch.get_rng_state(), after_build)
    assert copy.network is not built.network
    assert all(torch.equal(copy.network.state_dict()[name], tensor) for name, tensor in initial.items())
