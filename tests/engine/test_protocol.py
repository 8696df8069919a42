"""The protocol: three disjoint splits, every choice made on validation, the test split read once per final run."""

from __future__ import annotations

import pytest
from accelerate import Accelerator

from benchmark.data.loading import LABEL
from benchmark.engine import finetune, probe
from benchmark.engine.context import RunContext
from benchmark.engine.settings import RunSettings
from benchmark.metrics.compute import chance_level
from benchmark.results.store import find_result_files, read_result
from benchmark.run import main
from benchmark.specs.registry import collect_registry
from testkit.fixtures import tiny_run_args

pytestmark = pytest.mark.integration  # runs the suite end to end


def _identity(split) -> str:
    """The fingerprint of a split, or of the split a preprocessed one was computed from."""
    return getattr(split, "source", split)._fingerprint


def test_selection_never_reads_the_test_split(tiny_tasks, tiny_assets, tmp_path, monkeypatch):
    events: list[tuple[str, str, int | None]] = []  # (what, which split, the run's stopping step)
    real_train, real_predict = finetune.train_and_evaluate, finetune.predict_split
    real_heads, real_predict_heads = probe.train_heads, probe.predict_heads

    def train_spy(accelerator, model, train_data, validation_data, collate_fn, config, *args, **kwargs):
        events.append(("train", _identity(validation_data), config.stop_at_step))
        return real_train(accelerator, model, train_data, validation_data, collate_fn, config, *args, **kwargs)

    def predict_spy(accelerator, model, dataset, *args, **kwargs):
        events.append(("test", _identity(dataset), None))
        return real_predict(accelerator, model, dataset, *args, **kwargs)

    def heads_spy(*args, **kwargs):
        events.append(("heads", "", None))
        return real_heads(*args, **kwargs)

    def heads_test_spy(*args, **kwargs):
        events.append(("heads-test", "", None))
        return real_predict_heads(*args, **kwargs)

    monkeypatch.setattr(finetune, "train_and_evaluate", train_spy)
    monkeypatch.setattr(finetune, "predict_split", predict_spy)
    monkeypatch.setattr(probe, "train_heads", heads_spy)
    monkeypatch.setattr(probe, "predict_heads", heads_test_spy)
    args = tiny_run_args(tiny_tasks, tiny_assets, tmp_path, "--models", "tiny-resnet", "--no-scratch", "--seeds", "0,1")
    assert main([*args, "--no-similarity"]) == 0

    tests = [split for kind, split, _ in events if kind == "test"]
    validations = {split for kind, split, _ in events if kind == "train"}
    assert len(tests) == 2  # the fine-tune group: once per seed, after its search
    assert not validations & set(tests)  # no training run was ever traced on the test split
    # test is read only once the choice is made: after the first read, the only training is another seed's final run
    first_test = next(i for i, (kind, _, _) in enumerate(events) if kind == "test")
    full_budget = max(stop for kind, _, stop in events if kind == "train")
    assert all(stop == full_budget for kind, _, stop in events[first_test:] if kind == "train")
    # probes: every grid head is trained and chosen before any head sees test, once per seed
    kinds = [kind for kind, _, _ in events if kind.startswith("heads")]
    assert kinds == ["heads", "heads", "heads-test", "heads-test"]

    results = {(r.protocol, r.seed): r for r in map(read_result, find_result_files(tmp_path / "tiny"))}
    context = RunContext(Accelerator(cpu=True), RunSettings(assets_dir=tiny_assets))
    task = collect_registry(tiny_tasks)[0].tasks["colours"]
    for result in results.values():
        setup = result.setup
        assert setup.num_train + setup.num_validation == 36 and setup.num_test == 18  # validation carved from train
        assert result.search.seeds == [0, 1]
        # chance beside each split's scores: train's majority class scored on validation and on test
        data = context.task_data(task, result.seed)
        assert result.validation_chance == chance_level(task.metrics, data.train[LABEL], data.validation[LABEL])
        assert result.chance == chance_level(task.metrics, data.train[LABEL], data.test[LABEL])
    # one search per group: both seeds carry the same record and the same choice
    assert results["finetune", 0].search == results["finetune", 1].search
