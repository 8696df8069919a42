"""Run plans: modality matching, narrowing with clear errors, disjoint covering shards."""

from __future__ import annotations

import pytest

from benchmark.engine.plan import Selection, parse_shard, plan_cells, plan_groups, shard
from benchmark.specs.registry import ResolvedSuite, SpecError, load_registry
from benchmark.specs.schema import ModelSpec, ScoreWeights, SuiteSpec, TaskSpec, TrainingSpec


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
    kinds = {(c.protocol, c.init) for c in cells}
    for part in parts:  # each shard holds its share of every kind of work, not a run of probes only
        assert {(c.protocol, c.init) for c in part} == kinds
    assert parse_shard("1/4") == (1, 4)
    for bad in ("4/4", "x", "1/0"):
        with pytest.raises(ValueError):
            parse_shard(bad)


def test_two_shards_split_probes_and_fine_tunes_alike(suite):
    groups = plan_groups(suite, Selection(seeds=[0, 1, 2]))
    assert [g.protocol for g in groups[:2]] == ["linear_probe", "finetune"]  # the plan alternates them
    for index in (0, 1):
        mine = shard(groups, index, 2)
        for protocol in ("linear_probe", "finetune"):
            everyone = [g for g in groups if g.protocol == protocol]
            assert len([g for g in mine if g.protocol == protocol]) in (len(everyone) // 2, (len(everyone) + 1) // 2)
    assert sorted(g.name for i in (0, 1) for g in shard(groups, i, 2)) == sorted(g.name for g in groups)


def test_a_shard_past_the_last_is_a_usage_error_exiting_2(tiny_tasks, tmp_path, capsys):
    from benchmark.run import main

    argv = ["--suite", "tiny", "--tasks-dir", str(tiny_tasks), "--output-dir", str(tmp_path), "--shard", "2/2"]
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1].endswith("error: argument --shard: --shard 2/2: expected I/N with 0 <= I < N")
    assert not list(tmp_path.iterdir())  # refused before anything ran


def test_models_named_on_the_command_line_always_run(tiny_tasks, tiny_assets):
    from benchmark.specs.adhoc import parse_model

    mine = parse_model(f"mine={tiny_assets / 'tiny-resnet'}")
    suite = load_registry(tiny_tasks).resolve("tiny", extra_models=[mine])
    everything = {c.model.id for c in plan_cells(suite, Selection(include_scratch=False))}
    assert everything == {"tiny-resnet", "tiny-bert", "tiny-w2v2", "mine"}
    narrowed = plan_cells(suite, Selection(models=["tiny-bert"], include_scratch=False))
    assert {c.model.id for c in narrowed} == {"tiny-bert", "mine"}  # --models narrows the suite's own
    only = plan_cells(suite, Selection(models=["mine"], include_scratch=False))
    assert {c.model.id for c in only} == {"mine"} and {c.task.task for c in only} == {"colours"}


def test_an_added_task_without_a_model_of_its_modality_is_an_error(tiny_tasks):
    registry = load_registry(tiny_tasks)
    registry.suites["vision_only"] = registry.suites["tiny"].model_copy(
        update={"suite": "vision_only", "tasks": ["colours"], "models": registry.suites["tiny"].models[:1]}
    )
    suite = registry.resolve("vision_only", requested_tasks=["tones"])
    with pytest.raises(SpecError, match="none of its selected models is audio to run it with; add one with --model"):
        plan_cells(suite, Selection(tasks=["tones"]))


def test_a_scratch_twin_is_planned_once_per_architecture_wherever_it_is_selected():
    base = ModelSpec(id="base", library="timm", checkpoint="resnet10t", modality="vision")
    derived = base.model_copy(update={"id": "derived"})
    other = ModelSpec(id="other", library="timm", checkpoint="resnet18", modality="vision")
    task = TaskSpec(task="t", modality="vision", dataset={"path": "imagefolder", "input_column": "image"})
    suite = ResolvedSuite(
        spec=SuiteSpec(suite="s"),
        models=[base, derived, other],
        tasks=[task],
        protocols=["finetune"],
        seeds=[0],
        training=TrainingSpec(),
        score_weights=ScoreWeights(),
    )
    names = [group.name for group in plan_groups(suite)]
    assert names == [
        "base/t/finetune",
        "resnet10t__scratch/t/finetune",
        "derived/t/finetune",
        "other/t/finetune",
        "resnet18__scratch/t/finetune",
    ]
    only_derived = [group.name for group in plan_groups(suite, Selection(models=["derived"]))]
    assert only_derived == ["derived/t/finetune", "resnet10t__scratch/t/finetune"]


def test_weights_in_another_dtype_are_another_scratch_twin():
    base = ModelSpec(id="base", library="timm", checkpoint="resnet10t", modality="vision")
    half = base.model_copy(update={"id": "half", "dtype": "bfloat16"})
    assert (base.scratch_twin().id, half.scratch_twin().id) == ("resnet10t", "resnet10t-bfloat16")
    assert half.scratch_twin().dtype == "bfloat16"
