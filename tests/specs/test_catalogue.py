"""The model catalogue (`tasks/models/<id>.yaml`): typed records that suites reference by id or build on (`base:`),
beside inline model blocks; every bad record or reference is one line naming the file and the field."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from benchmark.run import DEFAULT_TASKS_DIR, main
from benchmark.specs.listing import describe_registry
from benchmark.specs.registry import SpecError, load_registry
from benchmark.specs.schema import ModelSpec
from benchmark.specs.trust import code_problems

TASK = """
    task: colours
    modality: vision
    dataset: {path: imagefolder, data_dir: "{assets}/colours", input_column: image}
"""
RECORD = """
    id: tiny-resnet
    library: timm
    checkpoint: "{assets}/tiny-resnet"
    modality: vision
    pretraining_data: {corpus: random colours, tasks: [colours]}
    source_accuracy: {value: 0.5, reference: a table}
    licence: Apache-2.0
"""
SUITE = """
    suite: s
    models:
      - tiny-resnet
      - id: tiny-resnet-then-colours
        base: tiny-resnet
        pretraining_data: tiny-resnet, then colours
        pretrain: {task: colours, init: pretrained, max_steps: 2, learning_rate: 0.01}
      - {id: inline, library: timm, checkpoint: resnet10t, modality: vision}
    tasks: [colours]
"""


def write_registry(root: Path, record: str = RECORD, suite: str = SUITE) -> Path:
    for name, text in {"vision/colours.yaml": TASK, "models/tiny-resnet.yaml": record, "suites/s.yaml": suite}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text).lstrip())
    return root


def problems(root: Path) -> str:
    with pytest.raises(SpecError) as caught:
        load_registry(root)
    return str(caught.value)


def test_a_suite_runs_catalogue_models_by_id_built_on_and_inline(tmp_path):
    registry = load_registry(write_registry(tmp_path))
    assert list(registry.models) == ["tiny-resnet"]
    models = registry.resolve("s").models
    assert models[0] == ModelSpec(
        id="tiny-resnet",
        library="timm",
        checkpoint="{assets}/tiny-resnet",
        modality="vision",
        pretraining_data="random colours; registry tasks colours",
        source_accuracy=0.5,
        source_accuracy_reference="a table",
    )
    derived = models[1]
    assert (derived.id, derived.checkpoint, derived.library, derived.modality) == (
        "tiny-resnet-then-colours",
        "{assets}/tiny-resnet",
        "timm",
        "vision",
    )
    assert derived.pretrain.task == "colours" and derived.source_accuracy is None  # notes are not inherited
    assert derived.pretraining_data == "tiny-resnet, then colours"
    assert models[2].checkpoint == "resnet10t"


def test_an_unknown_model_id_names_the_suite_file_entry_and_nearest_id(tmp_path):
    root = write_registry(tmp_path, suite=SUITE.replace("  - tiny-resnet\n", "  - tiny-resnt\n"))
    message = problems_for_suite(root)
    assert f"{root / 'suites' / 's.yaml'}: field 'models[0]': unknown model 'tiny-resnt'" in message
    assert "did you mean 'tiny-resnet'?" in message
    root = write_registry(tmp_path, suite=SUITE.replace("base: tiny-resnet", "base: resnet"))
    assert "field 'models[1].base': unknown model 'resnet'" in problems_for_suite(root)


def problems_for_suite(root: Path) -> str:
    with pytest.raises(SpecError) as caught:
        load_registry(root).resolve("s")
    return str(caught.value)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("licence:", "licence_:"), ":7: field 'licence_': unknown key; expected one of"),
        (("reference: a table", "ref: a table"), "field 'source_accuracy.reference': required field is missing"),
        (("value: 0.5", "value: 50"), "field 'source_accuracy.value': Input should be less than or equal to 1"),
        (("{corpus: random colours, tasks: [colours]}", "{}"), "field 'pretraining_data': pretraining_data needs"),
        (("modality: vision", "modality: visoin"), "field 'modality': unknown modality 'visoin'"),
        (("tasks: [colours]", "tasks: [colour]"), "field 'pretraining_data.tasks': unknown task 'colour'"),
    ],
)
def test_a_malformed_catalogue_record_names_its_file_and_field(tmp_path, change, expected):
    message = problems(write_registry(tmp_path, record=RECORD.replace(*change)))
    assert str(tmp_path / "models" / "tiny-resnet.yaml") in message and expected in message


def test_a_malformed_suite_entry_names_the_entry_field_without_pydantic_tags(tmp_path):
    suite = SUITE.replace("base: tiny-resnet", "base: tiny-resnet\n        bse: x")
    message = problems(write_registry(tmp_path, suite=suite))
    assert "s.yaml:6: field 'models.1.bse': unknown key; expected one of ['base', 'id', " in message
    message = problems(write_registry(tmp_path, suite=SUITE.replace("library: timm, ", "")))
    assert "field 'models.2.library': required field is missing" in message


def test_list_shows_catalogue_models_with_their_licence_and_suites(tmp_path):
    listing = describe_registry(load_registry(write_registry(tmp_path)))
    assert (
        "tiny-resnet                  vision  timm          {assets}/tiny-resnet  [catalogue, Apache-2.0, s]" in listing
    )


def test_a_catalogue_sample_that_is_a_loading_script_is_refused_in_its_file(tmp_path):
    record = RECORD + "    pretraining_sample: {path: ./loader.py, input_column: image}\n"
    registry = load_registry(write_registry(tmp_path, record=record))
    found = code_problems(registry, tmp_path, trust_task_code=False, only={"s"})
    assert (
        len(found) == 1 and f"{tmp_path / 'models' / 'tiny-resnet.yaml'}: field 'pretraining_sample.path'" in found[0]
    )


def test_shipped_suites_reference_the_catalogue_instead_of_repeating_its_checkpoints():
    registry = load_registry(DEFAULT_TASKS_DIR)
    catalogued = {(m.library, m.checkpoint, m.revision) for m in registry.models.values()}
    repeated = [
        (name, entry.id)
        for name, suite in registry.suites.items()
        for entry in suite.models
        if isinstance(entry, ModelSpec) and (entry.library, entry.checkpoint, entry.revision) in catalogued
    ]
    assert repeated == []
    assert main(["--validate"]) == 0
