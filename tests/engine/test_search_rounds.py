"""A search's rounds on scores made up per configuration (no training): a choice at an edge of the grid extends it
and searches again, what still ends at an edge is recorded, and several fine-tune finalists within the noise each get
a final run and the best of them is chosen."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from accelerate import Accelerator

from benchmark.engine import finetune, probe
from benchmark.engine.context import RunContext
from benchmark.engine.plan import plan_groups
from benchmark.engine.probe_heads import HeadsOutcome
from benchmark.engine.settings import Layer, RunSettings
from benchmark.results.schema import Complexity
from benchmark.results.store import find_result_files, read_result
from benchmark.run import main
from benchmark.specs.registry import collect_registry
from benchmark.specs.schema import GridSpec, SearchSpec
from testkit.fixtures import tiny_run_args
from testkit.records import make_result

VALIDATION = 50


def _search(tiny_tasks, tiny_assets, tmp_path, search: SearchSpec) -> finetune.FinetuneSearch:
    registry, _ = collect_registry(tiny_tasks)
    group = next(
        g
        for g in plan_groups(registry.resolve("tiny"))
        if g.model.id == "tiny-bert" and g.protocol == "finetune" and g.init == "pretrained"
    )
    group = dataclasses.replace(group, task=group.task.model_copy(update={"search": None}), seeds=(0, 1))
    settings = RunSettings(suite=Layer(search=search), assets_dir=tiny_assets, work_dir=tmp_path)
    context = RunContext(Accelerator(cpu=True), settings)
    return finetune.FinetuneSearch(group, context)


def _made_up_training(monkeypatch, accuracy) -> list[tuple[int, int, int]]:
    """Replace training with `accuracy(config, rung)` on `VALIDATION` examples; return the (configuration, rung,
    seed) runs it was asked for."""
    runs = []

    def train(self, index, rung, position, cell, final):
        runs.append((index, rung, cell.seed))
        right = round(accuracy(self.configs[index], rung) * VALIDATION)
        correct = "1" * right + "0" * (VALIDATION - right)
        self.state.record(index, rung, position, right / VALIDATION, 1.0, correct)
        if final:
            complexity = Complexity(params_total=1, params_trainable=1, flops_per_example=1.0, flops_counter="-")
            result = make_result(seed=cell.seed, metrics={"accuracy": right / VALIDATION}, complexity=complexity)
            self.state.finals[index, cell.seed] = result.model_dump_json()

    monkeypatch.setattr(finetune.FinetuneSearch, "_train", train)
    return runs


def _peaked_at(best_rate: float):
    """Validation accuracy falling off with the distance of the learning rate from `best_rate`, in decades."""
    return lambda config, rung: max(0.0, 0.9 - 0.3 * abs(math.log10(config["learning_rate"] / best_rate)))


def test_a_search_that_ends_at_a_grid_edge_extends_the_grid_until_the_choice_is_inside(
    tiny_tasks, tiny_assets, tmp_path, monkeypatch
):
    grid = GridSpec(learning_rate=[1e-3, 3e-3])
    runs = _made_up_training(monkeypatch, _peaked_at(1e-2))
    search = _search(tiny_tasks, tiny_assets, tmp_path, SearchSpec(finetune=grid, selection="rank", max_extensions=3))
    results = search.run()
    record = results[0].search
    assert [c.config["learning_rate"] for c in record.candidates] == [1e-3, 3e-3, 9e-3, 2.7e-2]
    assert [(e.dimension, e.edge, e.value, e.round) for e in record.extensions] == [
        ("learning_rate", "upper", 9e-3, 1),
        ("learning_rate", "upper", 2.7e-2, 2),
    ]
    assert record.chosen_config["learning_rate"] == 9e-3 and record.chosen_at_edge == []  # bracketed by 3e-3, 2.7e-2
    assert record.selection == "rank" and record.max_extensions == 3
    # each round searches only its new configurations against the previous choice, whose scores it already has
    assert sorted({index for index, _, _ in runs}) == [0, 1, 2, 3]
    assert len(runs) == len(set(runs))  # nothing trained twice
    assert all(r.search == record for r in results)


def test_a_choice_still_at_the_edge_after_the_allowed_extensions_is_recorded(
    tiny_tasks, tiny_assets, tmp_path, monkeypatch
):
    grid = GridSpec(learning_rate=[1e-3, 3e-3])
    _made_up_training(monkeypatch, _peaked_at(1.0))
    search = _search(tiny_tasks, tiny_assets, tmp_path, SearchSpec(finetune=grid, selection="rank", max_extensions=1))
    record = search.run()[0].search
    assert [e.value for e in record.extensions] == [9e-3]
    assert record.chosen_config["learning_rate"] == 9e-3 and record.chosen_at_edge == ["learning_rate"]


def test_finalists_within_the_noise_each_train_the_whole_budget_and_the_best_there_is_chosen(
    tiny_tasks, tiny_assets, tmp_path, monkeypatch
):
    grid = GridSpec(learning_rate=[1e-3, 2e-3, 3e-3])

    def accuracy(config, rung):  # 1e-3 leads 3e-3 within the noise at the first rung, 3e-3 wins at the end
        first = {1e-3: 0.62, 2e-3: 0.5, 3e-3: 0.58}  # 2e-3: 6 of 50 examples behind, beyond the noise
        last = {1e-3: 0.7, 2e-3: 0.6, 3e-3: 0.8}
        return (first if rung == 0 else last)[config["learning_rate"]]

    runs = _made_up_training(monkeypatch, accuracy)
    rank = _search(
        tiny_tasks, tiny_assets, tmp_path / "rank", SearchSpec(finetune=grid, selection="rank", max_extensions=0)
    )
    assert rank.run()[0].search.chosen == 0  # the rank rule sent only the first rung's leader on
    runs.clear()
    noise = _search(tiny_tasks, tiny_assets, tmp_path / "noise", SearchSpec(finetune=grid, max_extensions=0))
    record = noise.run()[0].search
    last = len(record.budgets) - 1
    assert sorted({i for i, rung, _ in runs if rung == last}) == [0, 2]  # 2 finalists: the cap of 2 x 1
    assert record.chosen == 2 and record.selection == "noise"
    assert record.candidates[1].scores and len(record.candidates[1].scores) == 1  # dropped after the first rung


def test_a_probe_grid_whose_choice_is_at_an_edge_trains_the_heads_of_its_extension(
    tiny_tasks, tiny_assets, tmp_path, monkeypatch
):
    trained: list[list[float]] = []

    def made_up_heads(train, validation, configs, num_labels, settings, metric_fn, main_metric, **_):
        """Heads whose validation accuracy peaks at a weight decay of 3 (the tiny grid has 0 and 0.1)."""
        trained.append([c["weight_decay"] for c in configs])
        scores = [0.9 - 0.1 * abs(math.log10(c["weight_decay"] / 3)) if c["weight_decay"] else 0.5 for c in configs]
        point = {"step": 1, "epoch": 1.0, "train_elapsed_s": 0.0, "loss": 1.0}
        return HeadsOutcome(
            metrics=[{main_metric: s} for s in scores],
            curves=[[{**point, "score": s, "metrics": {main_metric: s}}] for s in scores],
            weight=torch.zeros(len(configs), train[0].shape[1], num_labels),
            bias=torch.zeros(len(configs), num_labels),
            train_wall_s=1.0,
            eval_wall_s=0.0,
            optimizer_steps=1,
            examples_seen=1,
            losses=[1.0] * len(configs),
        )

    monkeypatch.setattr(probe, "train_heads", made_up_heads)
    narrow = ["--models", "tiny-resnet", "--tasks", "colours", "--protocols", "linear_probe", "--no-scratch"]
    assert main(tiny_run_args(tiny_tasks, tiny_assets, tmp_path, *narrow, "--no-similarity")) == 0
    (path,) = find_result_files(tmp_path / "tiny")
    record = read_result(path).search
    assert trained == [[0.0, 0.1], [1.0], [10.0]]  # the grid, then one step past the upper edge, twice
    assert [e.value for e in record.extensions] == [1.0, 10.0] and record.max_extensions == 2
    assert [c.config["weight_decay"] for c in record.candidates] == [0.0, 0.1, 1.0, 10.0]
    assert record.chosen_config["weight_decay"] == 1.0 and record.chosen_at_edge == []


@pytest.fixture(autouse=True)
def _no_model_builds_for_made_up_fine_tunes(monkeypatch):
    """The made-up fine-tune runs build no model."""
    monkeypatch.setattr(finetune.FinetuneSearch, "_initial_model", lambda *a, **k: pytest.fail("no model is built"))
