"""Run plans: modality matching, narrowing with clear errors, disjoint covering shards."""

from __future__ import annotations

import pytest

from benchmark.engine.plan import Selection, parse_shard, plan_cells, shard
from benchmark.specs.registry import SpecError, load_registry


@pytest.fixture(scope="module")
def suite(tiny_tasks):
    return load_registry(tiny_tasks).resolve("tiny")


def test_models_meet_only_tasks_of_their_modality(suite):
    cells = plan_cells(suite)
    assert len(cells) == 4 * 2 * 2  # four (model, task) pairs x {pretrained, scratch} x two protocols
    assert all(cell.model.modality == cell.task.modality for cell in cells)
    assert cells[0].protocol == "linear_probe" and cells[1].protocol == "finetune"


def test_narrowing_and_its_errors(suite):
    cells = plan_cells(
        suite, Selection(models=["tiny-bert"], tasks=["topics"], protocols=["finetune"], include_scratch=False)
    )
    assert [c.name for c in cells] == ["tiny-bert/topics/finetune-seed0"]
    with pytest.raises(SpecError, match="did you mean 'tiny-bert'"):
        plan_cells(suite, Selection(models=["tiny-bret"]))


def test_shards_are_disjoint_and_cover_the_plan(suite):
    cells = plan_cells(suite, Selection(seeds=[0, 1, 2]))
    parts = [shard(cells, i, 4) for i in range(4)]
    names = [c.name for part in parts for c in part]
    assert sorted(names) == sorted(c.name for c in cells) and len(set(names)) == len(names)
    assert parse_shard("1/4") == (1, 4)
    for bad in ("4/4", "x", "1/0"):
        with pytest.raises(ValueError):
            parse_shard(bad)
