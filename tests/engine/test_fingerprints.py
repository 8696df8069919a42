"""A result is reused only if it answers the same question: a rerun with other settings reruns exactly the cells
whose settings changed, names them and what changed, and leaves the others' files untouched."""

from __future__ import annotations

import json

import pytest

from benchmark.results.fingerprint import CODE_VERSION
from benchmark.results.store import find_result_files, read_result
from benchmark.run import main
from testkit.fixtures import tiny_run_args

pytestmark = pytest.mark.integration  # runs the suite

NARROW = ["--tasks", "colours", "--models", "tiny-resnet", "--no-similarity", "--probe-epochs", "2"]
FIRST = ["--max-steps", "4", "--max-train-samples", "16"]  # colours has 30 training examples


@pytest.fixture(scope="module")
def first_run(tiny_tasks, tiny_assets, tmp_path_factory):
    output = tmp_path_factory.mktemp("results")
    assert main(tiny_run_args(tiny_tasks, tiny_assets, output, *NARROW, *FIRST)) == 0
    return output


def _snapshot(output) -> dict:
    return {path.relative_to(output).as_posix(): path.read_bytes() for path in find_result_files(output / "tiny")}


def _rerun(tiny_tasks, tiny_assets, output, capsys, *extra: str) -> tuple[dict, dict, str]:
    before = _snapshot(output)
    capsys.readouterr()
    assert main(tiny_run_args(tiny_tasks, tiny_assets, output, *NARROW, *extra)) == 0
    after = _snapshot(output)
    changed = {name for name in before if after[name] != before[name]}
    return before, changed, capsys.readouterr().out


def test_results_record_their_settings(first_run):
    result = read_result(first_run / "tiny" / "tiny-resnet" / "colours" / "finetune-seed0.json")
    settings = result.fingerprint.settings
    assert result.fingerprint.code_version == CODE_VERSION
    assert settings["training.max_steps"] == 4 and settings["caps.train"] == 16 and settings["seed"] == 0
    assert settings["task.dataset.data_dir"] == "{assets}/colours"  # not where the assets happen to live
    assert settings["grid.learning_rate"] == [0.001, 0.003] and settings["protocol"] == "finetune"
    probe = read_result(first_run / "tiny" / "tiny-resnet" / "colours" / "linear_probe-seed0.json")
    assert "training.max_steps" not in probe.fingerprint.settings  # a probe does not read it


def test_rerun_with_other_settings_reruns_exactly_the_changed_cells(first_run, tiny_tasks, tiny_assets, capsys):
    # The same settings: nothing reruns.
    before, changed, out = _rerun(tiny_tasks, tiny_assets, first_run, capsys, *FIRST)
    assert len(before) == 4 and not changed and "rerunning" not in out
    # Another fine-tune budget only: the fine-tunes rerun (named, with what changed); the probes are kept.
    more_steps = ["--max-steps", "8", "--max-train-samples", "16"]
    _, changed, out = _rerun(tiny_tasks, tiny_assets, first_run, capsys, *more_steps)
    assert changed == {
        "tiny/tiny-resnet/colours/finetune-seed0.json",
        "tiny/tiny-resnet__scratch/colours/finetune-seed0.json",
    }
    assert "rerunning tiny-resnet__scratch/colours/finetune: its result files answer another question" in out
    assert "training.max_steps: 4 -> 8" in out
    # The scenario: more steps and more examples: every cell reruns, and the files record the new settings.
    more_of_both = ["--max-steps", "16", "--max-train-samples", "24"]
    _, changed, out = _rerun(tiny_tasks, tiny_assets, first_run, capsys, *more_of_both)
    assert len(changed) == 4 and "caps.train: 16 -> 24" in out
    for path in find_result_files(first_run / "tiny"):
        result = read_result(path)
        assert result.fingerprint.settings["caps.train"] == 24 and result.setup.num_train == 24


def test_a_file_without_fingerprint_is_rerun_and_said_so(first_run, tiny_tasks, tiny_assets, capsys):
    path = first_run / "tiny" / "tiny-resnet" / "colours" / "linear_probe-seed0.json"
    record = json.loads(path.read_text())
    settings = record.pop("fingerprint")["settings"]
    path.write_text(json.dumps(record))  # as written before fingerprints were recorded
    caps = ["--max-steps", str(16), "--max-train-samples", str(settings["caps.train"])]
    _, changed, out = _rerun(tiny_tasks, tiny_assets, first_run, capsys, *caps)
    assert changed == {"tiny/tiny-resnet/colours/linear_probe-seed0.json"}
    assert "written before fingerprints were recorded" in out
    assert read_result(path).fingerprint is not None


def test_a_saved_search_with_other_settings_is_discarded(tiny_tasks, tiny_assets, tmp_path):
    from accelerate import Accelerator

    from benchmark.engine.context import RunContext
    from benchmark.engine.finetune import work_dir
    from benchmark.engine.plan import Selection, plan_groups
    from benchmark.engine.settings import RunSettings
    from benchmark.engine.suite import SEARCH_FINGERPRINT_FILE, _discard_stale_search
    from benchmark.specs.sources import collect_sources

    registry, _ = collect_sources([tiny_tasks])
    suite = registry.resolve("tiny")
    (group,) = [
        g
        for g in plan_groups(suite, Selection(models=["tiny-resnet"], tasks=["colours"], protocols=["finetune"]))
        if g.init == "pretrained"
    ]
    context = RunContext(Accelerator(cpu=True), RunSettings(assets_dir=tiny_assets, work_dir=tmp_path))
    folder = work_dir(context, group)
    folder.mkdir(parents=True)
    (folder / SEARCH_FINGERPRINT_FILE).write_text("another-digest\n")
    (folder / "state.json").write_text("{}")  # searched with other settings: must not be resumed
    _discard_stale_search(group, context, suite.source_tasks)
    assert sorted(p.name for p in folder.iterdir()) == [SEARCH_FINGERPRINT_FILE]
    (folder / "state.json").write_text("{}")  # the same settings: resumed as it is
    _discard_stale_search(group, context, suite.source_tasks)
    assert (folder / "state.json").exists()
