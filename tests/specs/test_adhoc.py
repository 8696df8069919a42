"""Ad hoc runs: models named on the command line (`--model`) and registry tasks that a suite does not list."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import transformers

from benchmark.results.store import read_result
from benchmark.run import main
from benchmark.specs.adhoc import derive_id, parse_model, parse_models
from benchmark.specs.registry import SpecError, load_registry
from benchmark.specs.schema import ID_PATTERN
from testkit.fixtures import make_timm_checkpoint, tiny_run_args, write_tiny_registry

QUICK = ["--protocols", "linear_probe", "--no-scratch", "--probe-epochs", "2", "--no-similarity"]
HELD_OUT_TASK = """\
task: held_out_colours
modality: vision
description: A task that only exists as a YAML file; no suite lists it.
dataset: {path: imagefolder, data_dir: "{assets}/colours", input_column: image}
"""


def test_timm_names_become_vision_models():
    spec = parse_model("timm:resnet18.a1_in1k")
    assert (spec.id, spec.library, spec.checkpoint, spec.modality) == (
        "resnet18.a1_in1k",
        "timm",
        "resnet18.a1_in1k",
        "vision",
    )
    assert (
        parse_model("timm:hf-hub:timm/vit_tiny_patch16_224.augreg_in21k").id
        == "timm--vit_tiny_patch16_224.augreg_in21k"
    )
    assert parse_model("mine=timm:resnet18").id == "mine"
    with pytest.raises(SpecError, match="timm has no model 'resnet18x'; did you mean 'resnet18'"):
        parse_model("timm:resnet18x")


def test_transformers_hub_ids_take_their_modality_from_the_config(monkeypatch):
    configs = {"bert-base-uncased": transformers.BertConfig(), "facebook/wav2vec2-base": transformers.Wav2Vec2Config()}
    monkeypatch.setattr(transformers.AutoConfig, "from_pretrained", lambda hub_id, **_: configs[hub_id])
    text, audio = parse_model("hf:bert-base-uncased"), parse_model("hf:facebook/wav2vec2-base")
    assert (text.id, text.library, text.checkpoint, text.modality) == (
        "bert-base-uncased",
        "transformers",
        "bert-base-uncased",
        "text",
    )
    assert (audio.id, audio.modality) == ("facebook--wav2vec2-base", "audio")


def test_local_folders_are_read_from_their_config(tiny_assets):
    vision, text, audio = (parse_model(str(tiny_assets / name)) for name in ("tiny-resnet", "tiny-bert", "tiny-w2v2"))
    assert (vision.id, vision.library, vision.modality) == ("tiny-resnet", "timm", "vision")
    assert (text.id, text.library, text.modality) == ("tiny-bert", "transformers", "text")
    assert (audio.id, audio.library, audio.modality) == ("tiny-w2v2", "transformers", "audio")
    assert Path(vision.checkpoint).is_absolute() and Path(vision.checkpoint) == (tiny_assets / "tiny-resnet").resolve()


def test_unusable_values_are_reported_together(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "odd").mkdir()
    (tmp_path / "odd" / "config.json").write_text('{"hidden_size": 8}')
    with pytest.raises(SpecError) as caught:
        parse_models([str(tmp_path / "empty"), str(tmp_path / "odd"), "./nowhere", "resnet18"])
    problems = caught.value.problems
    assert len(problems) == 4
    assert "cannot read its config.json" in problems[0]
    assert "neither a timm `architecture` nor a transformers `model_type`" in problems[1]
    assert "no such folder" in problems[2] and "expected timm:<name>, hf:<hub id>" in problems[3]


def test_ids_are_safe_and_never_clash_silently(tmp_path):
    for name in ("../../etc/passwd", "org/name", " spaced name ", "-x", "...", "ü"):
        derived = derive_id(name)
        assert re.match(ID_PATTERN, derived) and "/" not in derived and ".." not in derived[:2]
    make_timm_checkpoint(tmp_path / "a" / "net")
    make_timm_checkpoint(tmp_path / "b" / "net")
    with pytest.raises(SpecError, match="name one of them"):
        parse_models([str(tmp_path / "a" / "net"), str(tmp_path / "b" / "net")])
    named = parse_models([str(tmp_path / "a" / "net"), f"net-b={tmp_path / 'b' / 'net'}", str(tmp_path / "a" / "net")])
    assert [spec.id for spec in named] == ["net", "net-b"]  # a value given twice counts once


def test_resolve_adds_registry_tasks_and_command_line_models(tiny_tasks, tiny_assets):
    registry = load_registry(tiny_tasks)
    suite = registry.resolve("tiny")
    assert suite.ad_hoc_tasks == () and suite.ad_hoc_models == ()
    extra = parse_model(f"mine={tiny_assets / 'tiny-resnet'}")
    narrowed = registry.resolve("tiny", requested_tasks=["colours"], extra_models=[extra])
    assert narrowed.ad_hoc_tasks == () and narrowed.ad_hoc_models == ("mine",)
    assert [m.id for m in narrowed.models] == [*(m.id for m in suite.models), "mine"]
    with pytest.raises(SpecError, match="'colors' is not in this suite .* nor in the registry; did you mean 'colours'"):
        registry.resolve("tiny", requested_tasks=["colors"])
    clash = parse_model(f"tiny-bert={tiny_assets / 'tiny-resnet'}")
    with pytest.raises(SpecError, match="id 'tiny-bert' is already the suite's transformers model"):
        registry.resolve("tiny", extra_models=[clash])


def held_out_registry(tmp_path: Path) -> Path:
    """A copy of the tiny registry with one more task file that no suite lists, and no other change."""
    tasks = write_tiny_registry(tmp_path / "tasks")
    (tasks / "vision" / "held_out_colours.yaml").write_text(HELD_OUT_TASK)
    return tasks


def test_a_registry_task_outside_the_suite_plans_with_the_suites_models_of_its_modality(tmp_path):
    from benchmark.engine.plan import Selection, describe_ad_hoc, plan_groups

    suite = load_registry(held_out_registry(tmp_path)).resolve("tiny", requested_tasks=["held_out_colours"])
    assert suite.ad_hoc_tasks == ("held_out_colours",)
    groups = plan_groups(suite, Selection(tasks=["held_out_colours"], include_scratch=False))
    assert {(g.model.id, g.task.task) for g in groups} == {("tiny-resnet", "held_out_colours")}
    assert describe_ad_hoc(suite, groups) == [
        "task 'held_out_colours' is not in suite 'tiny': running it with its vision models tiny-resnet"
    ]


@pytest.mark.integration
def test_held_out_task_yaml_runs_with_the_suite(tmp_path, tiny_assets, capsys):
    tasks = held_out_registry(tmp_path)
    output = tmp_path / "results"
    assert main(tiny_run_args(tasks, tiny_assets, output, "--tasks", "held_out_colours", *QUICK)) == 0
    assert "running it with its vision models tiny-resnet" in capsys.readouterr().out
    result = read_result(output / "tiny" / "tiny-resnet" / "held_out_colours" / "linear_probe-seed0.json")
    assert result.status == "ok" and result.task == "held_out_colours" and result.modality == "vision"
    assert result.provenance is not None and result.provenance.cpu


@pytest.mark.integration
def test_an_ad_hoc_local_checkpoint_runs_in_place_of_the_suites_models(tmp_path, tiny_tasks, tiny_assets, capsys):
    checkpoint = shutil.copytree(tiny_assets / "tiny-resnet", tmp_path / "my-resnet")
    output = tmp_path / "results"
    args = ["--model", str(checkpoint), "--models", "my-resnet", "--tasks", "colours", *QUICK]
    assert main(tiny_run_args(tiny_tasks, tiny_assets, output, *args)) == 0
    assert "model 'my-resnet' (timm " in capsys.readouterr().out
    assert [p.parent.parent.name for p in sorted((output / "tiny").rglob("*.json"))] == ["my-resnet"]
    result = read_result(output / "tiny" / "my-resnet" / "colours" / "linear_probe-seed0.json")
    # the folder is the user's choice, but a result file is shareable: its local absolute path is redacted
    assert result.status == "ok" and result.specs["model"]["checkpoint"] == "<local>/my-resnet"
