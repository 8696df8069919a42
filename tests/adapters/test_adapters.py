"""Modality and library adapters: every name is looked up in a registry that refuses unknown ones (no fall-through
to a default), and a modality and a library added in one module (`toy_adapters`) run through the whole suite."""

from __future__ import annotations

import importlib
import json
import sys
import textwrap
from pathlib import Path

import pytest

from benchmark.data.collate import make_collator
from benchmark.models.factory import build_model
from benchmark.results.store import read_result
from benchmark.run import main
from benchmark.specs.adapter_registry import (
    LIBRARIES,
    MODALITIES,
    UnknownAdapterError,
    library_adapter,
    modality_adapter,
)
from benchmark.specs.registry import SpecError, load_registry
from benchmark.specs.schema import ModelSpec, TaskSpec

TOY_MODULE = "tests.adapters.toy_adapters"


@pytest.fixture()
def toy_adapters(monkeypatch):
    """The toy module imported afresh into copies of the registries, which the test's end restores."""
    monkeypatch.setattr(MODALITIES, "entries", dict(MODALITIES.entries))
    monkeypatch.setattr(LIBRARIES, "entries", dict(LIBRARIES.entries))
    monkeypatch.delitem(sys.modules, TOY_MODULE, raising=False)
    return importlib.import_module(TOY_MODULE)


def test_the_built_in_adapters_are_registered_under_their_names():
    assert MODALITIES.names() == ["audio", "text", "vision"]
    assert LIBRARIES.names() == ["timm", "transformers"]
    for name in MODALITIES.names():
        assert modality_adapter(name).name == name
    for name in LIBRARIES.names():
        assert library_adapter(name).name == name


def test_unknown_names_are_refused_with_the_registered_ones():
    with pytest.raises(UnknownAdapterError, match=r"unknown modality 'video'; registered: audio, text, vision$"):
        modality_adapter("video")
    with pytest.raises(UnknownAdapterError, match=r"unknown library 'tim'; registered: .*did you mean 'timm'\?"):
        library_adapter("tim")


def test_nothing_falls_through_to_another_modality_or_library():
    """Specs that skipped validation still never run as audio or as transformers."""
    task = TaskSpec.model_construct(task="t", modality="video")
    with pytest.raises(UnknownAdapterError, match="unknown modality 'video'"):
        make_collator(task, processor=None)
    model = ModelSpec.model_construct(id="m", library="keras", checkpoint="x", modality="text", dtype=None)
    with pytest.raises(UnknownAdapterError, match="unknown library 'keras'"):
        build_model(model, "scratch", 2, 0, Path("."))


def test_a_spec_naming_an_unregistered_modality_is_refused_by_name(tmp_path):
    (tmp_path / "vector").mkdir()
    (tmp_path / "vector" / "dots.yaml").write_text(_TASK)
    with pytest.raises(SpecError) as caught:
        load_registry(tmp_path)
    assert "dots.yaml:2: field 'modality': unknown modality 'vector'; registered: audio, text, vision" in str(
        caught.value
    )


def test_an_adapter_name_is_registered_once(toy_adapters):
    with pytest.raises(ValueError, match="modality 'vector' is already registered"):
        MODALITIES.register(toy_adapters.VectorModality())


@pytest.mark.integration
def test_a_modality_and_a_library_added_in_one_module_run_through_the_suite(toy_adapters, tmp_path, capsys):
    tasks, assets, output = _toy_registry(tmp_path), _toy_data(tmp_path / "assets"), tmp_path / "results"
    locations = ["--tasks-dir", str(tasks), "--assets-dir", str(assets)]
    assert main(["--validate", "--deep", *locations]) == 0
    assert "MLP of input width 4" in capsys.readouterr().out
    assert main([*locations, "--output-dir", str(output), "--suite", "toy", "--no-similarity"]) == 0
    results = [read_result(path) for path in sorted((output / "toy").rglob("*-seed0.json"))]
    assert {(r.model, r.init, r.protocol) for r in results} == {
        (model, init, protocol)
        for model, init in (("mlp", "pretrained"), ("4", "scratch"))
        for protocol in ("finetune", "linear_probe")
    }
    assert all(r.status == "ok" and r.modality == "vector" for r in results)
    rates = {r.init: r.fingerprint.settings["grid.learning_rate"] for r in results if r.protocol == "finetune"}
    assert rates == {"pretrained": [0.01], "scratch": [0.03]}  # the toy library's default grids


_TASK = """\
task: dots
modality: vector
dataset:
  path: json
  data_files: {train: "{assets}/dots/train.jsonl", test: "{assets}/dots/test.jsonl"}
  input_column: vector
"""


def _toy_registry(root: Path) -> Path:
    (root / "tasks" / "vector").mkdir(parents=True)
    (root / "tasks" / "suites").mkdir()
    (root / "tasks" / "vector" / "dots.yaml").write_text(_TASK)
    suite = """\
        suite: toy
        models: [{id: mlp, library: torch_mlp, checkpoint: "4", modality: vector}]
        tasks: [dots]
        seeds: [0]
        training: {epochs: 2, probe_epochs: 3, batch_size: 8, evals_per_epoch: 1}
    """
    (root / "tasks" / "suites" / "toy.yaml").write_text(textwrap.dedent(suite))
    return root / "tasks"


def _toy_data(root: Path) -> Path:
    """Two classes of 4-float vectors: the class is the sign of their first coordinate."""
    (root / "dots").mkdir(parents=True)
    for split, count in (("train", 40), ("test", 20)):
        rows = [
            {"vector": [(1.0 if i % 2 else -1.0) * (1 + i % 5), 0.1 * i, -0.2, 0.3], "label": i % 2}
            for i in range(count)
        ]
        (root / "dots" / f"{split}.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return root
