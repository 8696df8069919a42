"""The pretraining stage (L_pre) on tiny models: run once, cached, resumed after a stop, loaded by the factory,
its source recorded, and its source task measured nearest to an identical target."""

from __future__ import annotations

import shutil
import signal
import textwrap
from pathlib import Path

import pytest
import torch
from accelerate import Accelerator
from safetensors.torch import load_file

from benchmark.engine import pretrain
from benchmark.engine.context import RunContext
from benchmark.engine.interruption import StopRequested
from benchmark.engine.pretrain import PRETRAINED_DIRNAME, RECORD_FILE, read_finished, run_pretraining, stage_dir
from benchmark.engine.settings import RunSettings
from benchmark.models.factory import build_model
from benchmark.results.store import read_result, read_similarity
from benchmark.run import main
from benchmark.specs.registry import collect_registry
from benchmark.specs.schema import ModelSpec
from testkit.fixtures import make_text_csv, tiny_run_args, write_tiny_registry

pytestmark = pytest.mark.integration  # runs the suite

WEATHER = {"rain": "rain cloud storm wet grey drizzle", "sun": "sun warm bright dry clear summer"}
ZOO_SUITE = """
    suite: zoo_tiny
    models:
      - {id: tiny-bert, library: transformers, checkpoint: "{assets}/tiny-bert", modality: text}
      - id: bert-on-topics
        library: transformers
        checkpoint: "{assets}/tiny-bert"
        modality: text
        pretrain: {task: topics, init: pretrained, max_steps: 4, learning_rate: 0.003, batch_size: 8}
      - id: bert-on-weather
        library: transformers
        checkpoint: "{assets}/tiny-bert"
        modality: text
        pretrain: {task: weather, init: scratch, max_steps: 4, learning_rate: 0.003, batch_size: 8}
      - id: resnet-on-colours
        library: timm
        checkpoint: "{assets}/tiny-resnet"
        modality: vision
        pretrain: {task: colours, init: scratch, max_steps: 3, learning_rate: 0.01, batch_size: 8}
    tasks: [topics, weather, colours]
    seeds: [0]
    training: {epochs: 1, probe_epochs: 3, batch_size: 8, evals_per_epoch: 1}
    search:
      finetune: {learning_rate: [0.003]}
      finetune_scratch: {learning_rate: [0.003]}
      linear_probe: {learning_rate: [0.01], weight_decay: [0.0]}
"""
WEATHER_TASK = """
    task: weather
    modality: text
    dataset:
      path: csv
      data_files: {train: "{assets}/weather/train.csv", test: "{assets}/weather/test.csv"}
      input_column: text
    preprocessing: {max_length: 16}
"""


@pytest.fixture(scope="module")
def zoo_tasks(tmp_path_factory) -> Path:
    tasks_dir = write_tiny_registry(tmp_path_factory.mktemp("zoo_tasks"))
    (tasks_dir / "suites" / "zoo_tiny.yaml").write_text(textwrap.dedent(ZOO_SUITE).lstrip())
    (tasks_dir / "text" / "weather.yaml").write_text(textwrap.dedent(WEATHER_TASK).lstrip())
    return tasks_dir


@pytest.fixture(scope="module")
def zoo_assets(tiny_assets, tmp_path_factory) -> Path:
    """The tiny assets plus a second text dataset whose vocabulary differs from the topics'."""
    if not (tiny_assets / "weather").exists():
        make_text_csv(tiny_assets / "weather", words=WEATHER)
    return tiny_assets


@pytest.fixture(scope="module")
def zoo_run(zoo_tasks, zoo_assets, tmp_path_factory):
    output = tmp_path_factory.mktemp("zoo_results")
    args = tiny_run_args(zoo_tasks, zoo_assets, output)
    args[args.index("tiny")] = "zoo_tiny"
    assert main(args) == 0
    return output, args


def _stage(output: Path, model_id: str) -> Path:
    (directory,) = (output / PRETRAINED_DIRNAME).glob(f"{model_id}-*")
    return directory


def test_stage_records_its_source_and_the_cells_transfer_from_it(zoo_run):
    output, _ = zoo_run
    record = read_finished(_stage(output, "bert-on-topics")).record
    assert (record.source_task, record.init, record.optimizer_steps) == ("topics", "pretrained", 4)
    assert read_finished(_stage(output, "bert-on-weather")).record.source_task == "weather"
    result = read_result(output / "zoo_tiny" / "bert-on-topics" / "weather" / "finetune-seed0.json")
    assert result.status == "ok" and result.specs["model"]["pretrain"]["task"] == "topics"
    # the architecture's scratch twin is trained once, shared by its three checkpoints
    assert not (output / "zoo_tiny" / "bert-on-topics__scratch").exists()
    assert (output / "zoo_tiny" / "tiny-bert__scratch" / "weather" / "finetune-seed0.json").exists()


def test_saved_checkpoints_load_through_the_model_factory(zoo_run, zoo_assets):
    output, _ = zoo_run
    checkpoint = read_finished(_stage(output, "resnet-on-colours")).checkpoint
    spec = ModelSpec(id="reloaded", library="timm", checkpoint=str(checkpoint), modality="vision")
    loaded = build_model(spec, "pretrained", 5, 0, zoo_assets)
    assert loaded.network.source_classifier.out_features == 3  # the source task's classes: LEEP/NCE use them
    saved = load_file(checkpoint / "model.safetensors")
    built = loaded.network.network.state_dict()
    assert all(torch.equal(built[name], tensor) for name, tensor in saved.items() if not name.startswith("fc."))
    text = ModelSpec(
        id="text",
        library="transformers",
        checkpoint=str(_stage(output, "bert-on-topics") / "checkpoint"),
        modality="text",
    )
    assert build_model(text, "pretrained", 2, 0, zoo_assets).network.network.config.num_labels == 2


def test_identical_source_is_measured_nearest(zoo_run):
    output, _ = zoo_run
    record = read_similarity(output / "zoo_tiny" / "_similarity" / "text.json")
    assert record.encoder == "tiny-bert"  # a real checkpoint, not one the suite pretrained
    assert record.source_tasks == {"bert-on-topics": "topics", "bert-on-weather": "weather"}
    for model, source, other in (("bert-on-topics", "topics", "weather"), ("bert-on-weather", "weather", "topics")):
        for method, distance in record.source_to_target[model][source].items():
            assert distance == pytest.approx(0.0, abs=1e-6)
            assert distance < record.source_to_target[model][other][method]
    # one vision target, but a checkpoint with a known source: its similarity is measured too
    vision = read_similarity(output / "zoo_tiny" / "_similarity" / "vision.json")
    assert vision.tasks == ["colours"] and vision.source_tasks == {"resnet-on-colours": "colours"}
    assert vision.source_to_target["resnet-on-colours"]["colours"]["class_gaussian_ot"] == pytest.approx(0.0, abs=1e-6)


def test_second_run_reads_the_cached_stage(zoo_run, monkeypatch):
    output, args = zoo_run
    before = {path: path.stat().st_mtime_ns for path in (output / PRETRAINED_DIRNAME).glob(f"*/{RECORD_FILE}")}

    def must_not_train(*_args, **_kwargs):
        raise AssertionError("a finished pretraining stage ran again")

    monkeypatch.setattr(pretrain, "_pretrain", must_not_train)
    assert main([*args, "--overwrite", "--no-similarity", "--models", "bert-on-topics"]) == 0
    after = {path: path.stat().st_mtime_ns for path in (output / PRETRAINED_DIRNAME).glob(f"*/{RECORD_FILE}")}
    assert after == before


def test_finished_cells_need_no_pretraining_stage(zoo_run, tmp_path, monkeypatch):
    """Results copied without their `.pretrained` folder: a rerun finds every cell finished and trains nothing."""
    output, args = zoo_run
    copied = tmp_path / "copied"
    shutil.copytree(output / "zoo_tiny", copied / "zoo_tiny")

    trained = []
    monkeypatch.setattr(pretrain, "_pretrain", lambda model, *_args: trained.append(model.id))
    rerun = [*args, "--no-similarity"]
    rerun[rerun.index("--output-dir") + 1] = str(copied)
    assert main(rerun) == 0
    assert trained == [] and not (copied / PRETRAINED_DIRNAME).exists()


class _StopAfter:
    """A stop flag that turns on after `checks` looks at it, as if SIGTERM arrived mid-run."""

    def __init__(self, checks: int):
        self.checks = checks

    @property
    def signum(self) -> int | None:
        self.checks -= 1
        return signal.SIGTERM if self.checks < 0 else None

    def raise_if_set(self) -> None:
        if self.checks < 0:
            raise StopRequested(signal.SIGTERM)


def _context(assets: Path, stop_flag=None) -> RunContext:
    settings = RunSettings(assets_dir=assets, checkpoint_interval_s=0.0)
    return RunContext(Accelerator(cpu=True), settings, stop_flag=stop_flag)


def test_a_stopped_stage_resumes_to_the_uninterrupted_weights(zoo_tasks, zoo_assets, tmp_path):
    registry, problems = collect_registry(zoo_tasks)
    assert not problems
    suite = registry.resolve("zoo_tiny")
    model = next(m for m in suite.models if m.id == "bert-on-weather")
    sources = {model.id: suite.source_tasks[model.id]}

    uninterrupted = run_pretraining([model], sources, _context(zoo_assets), tmp_path / "a")[model.id][0]
    with pytest.raises(StopRequested):
        run_pretraining([model], sources, _context(zoo_assets, _StopAfter(checks=2)), tmp_path / "b")
    directory = stage_dir(tmp_path / "b", model, sources[model.id])
    assert (directory / pretrain.STATE_DIRNAME).is_dir() and read_finished(directory) is None
    resumed = run_pretraining([model], sources, _context(zoo_assets), tmp_path / "b")[model.id][0]

    assert resumed.record.optimizer_steps == uninterrupted.record.optimizer_steps == 4
    assert [p["step"] for p in resumed.record.curve] == [p["step"] for p in uninterrupted.record.curve]
    first, second = (load_file(stage.checkpoint / "model.safetensors") for stage in (uninterrupted, resumed))
    assert first.keys() == second.keys()
    assert all(torch.allclose(first[name], second[name], atol=1e-6) for name in first)
    assert not (directory / pretrain.STATE_DIRNAME).exists()


def test_a_failed_stage_fails_only_its_model(zoo_tasks, zoo_assets, tmp_path, monkeypatch):
    registry, _ = collect_registry(zoo_tasks)
    suite = registry.resolve("zoo_tiny")
    models = [m for m in suite.models if m.id in ("bert-on-topics", "bert-on-weather")]

    def broken(model, *args):
        if model.id == "bert-on-topics":
            raise RuntimeError("source data unreadable")
        return original(model, *args)

    original = pretrain._pretrain
    monkeypatch.setattr(pretrain, "_pretrain", broken)
    stages = run_pretraining(models, suite.source_tasks, _context(zoo_assets), tmp_path)
    assert "source data unreadable" in stages["bert-on-topics"]
    assert stages["bert-on-weather"][0].record.source_task == "weather"


def test_each_pretraining_seed_is_its_own_run_and_fine_tune_seed_k_starts_from_run_k(zoo_tasks, zoo_assets, tmp_path):
    """Three pretraining seeds give three checkpoints with different weights; a run asked only for fine-tune seed 1
    trains only pretraining seed 1; the context builds seed k's model from run k (seed 4 wraps round to run 1)."""
    registry, _ = collect_registry(zoo_tasks)
    suite = registry.resolve("zoo_tiny")
    base = next(m for m in suite.models if m.id == "bert-on-weather")
    model = base.model_copy(update={"pretrain": base.pretrain.model_copy(update={"seeds": [0, 1, 2]})})
    sources = {model.id: suite.source_tasks[base.id]}

    only_one = run_pretraining([model], sources, _context(zoo_assets), tmp_path / "one", finetune_seeds=[1])
    assert sorted(only_one[model.id]) == [1]
    runs = run_pretraining([model], sources, _context(zoo_assets), tmp_path / "all")[model.id]
    assert sorted(runs) == [0, 1, 2] and [runs[s].record.seed for s in (0, 1, 2)] == [0, 1, 2]
    assert len({runs[s].checkpoint for s in runs}) == 3
    weights = [load_file(runs[s].checkpoint / "model.safetensors") for s in (0, 1, 2)]
    name = next(n for n in weights[0] if "embeddings.word_embeddings" in n)
    assert not torch.equal(weights[0][name], weights[1][name]) and not torch.equal(weights[1][name], weights[2][name])
    assert all(isinstance(runs[s].record.flattened, bool) for s in runs)

    context = _context(zoo_assets)
    context.pretrained_checkpoints = {model.id: {s: run.checkpoint for s, run in runs.items()}}
    assert context.resolve(model, 1).checkpoint == str(runs[1].checkpoint)
    assert context.resolve(model, 4).checkpoint == str(runs[1].checkpoint)  # seeds[4 % 3]
    assert context.resolve(model).checkpoint == str(runs[0].checkpoint)
    assert context.depends_on_seed(model, "pretrained") and not context.depends_on_seed(base, "pretrained")


def test_adding_a_pretraining_seed_keeps_the_other_runs(zoo_tasks):
    """A run's folder is keyed by its own seed, not the seed list: growing the list trains only the new seed."""
    registry, _ = collect_registry(zoo_tasks)
    suite = registry.resolve("zoo_tiny")
    base = next(m for m in suite.models if m.id == "bert-on-weather")
    two = base.model_copy(update={"pretrain": base.pretrain.model_copy(update={"seeds": [0, 1]})})
    source = suite.source_tasks[base.id]
    assert stage_dir(Path("r"), base, source, 0) == stage_dir(Path("r"), two, source, 0)
    assert stage_dir(Path("r"), two, source, 0) != stage_dir(Path("r"), two, source, 1)


SEEDED_SUITE = """
    suite: zoo_seeded
    models:
      - id: bert-seeded
        library: transformers
        checkpoint: "{assets}/tiny-bert"
        modality: text
        pretrain: {task: weather, init: pretrained, max_steps: 3, learning_rate: 0.01, batch_size: 8, seeds: [0, 1]}
      - id: bert-once
        library: transformers
        checkpoint: "{assets}/tiny-bert"
        modality: text
        pretrain: {task: weather, init: pretrained, max_steps: 3, learning_rate: 0.01, batch_size: 8}
    tasks: [topics]
    protocols: [linear_probe]
    seeds: [0, 1]
    include_scratch: false
    training: {probe_epochs: 3, batch_size: 8}
    search:
      linear_probe: {learning_rate: [0.01], weight_decay: [0.0]}
"""


def test_probe_seed_k_reads_the_backbone_of_pretraining_seed_k(zoo_tasks, zoo_assets, tmp_path):
    """Through the suite: a model with two pretraining seeds trains two runs, and its probes of seeds 0 and 1 embed
    the same training examples in two different backbones (their LogME differs); a model pretrained once gives
    both seeds the same backbone (equal LogME)."""
    (zoo_tasks / "suites" / "zoo_seeded.yaml").write_text(textwrap.dedent(SEEDED_SUITE).lstrip())
    output = tmp_path / "out"
    args = tiny_run_args(zoo_tasks, zoo_assets, output, "--no-similarity")
    args[args.index("tiny")] = "zoo_seeded"
    assert main(args) == 0
    runs = sorted(p.name.split("-")[2] for p in (output / PRETRAINED_DIRNAME).glob("bert-seeded-*"))
    assert runs == ["s0", "s1"] and len(list((output / PRETRAINED_DIRNAME).glob("bert-once-*"))) == 1

    def logme(model: str, seed: int) -> float:
        result = read_result(output / "zoo_seeded" / model / "topics" / f"linear_probe-seed{seed}.json")
        assert result.status == "ok"
        return result.estimators["logme"]

    assert logme("bert-seeded", 0) != logme("bert-seeded", 1)
    assert logme("bert-once", 0) == logme("bert-once", 1)
