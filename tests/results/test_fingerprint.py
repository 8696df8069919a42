"""Fingerprints: stable digests, readable differences, and the leaderboard's refusal to compare other questions."""

from __future__ import annotations

from benchmark.results.fingerprint import CODE_VERSION, differences, make_fingerprint, mixed_fingerprints
from benchmark.results.schema import CellResult
from testkit.records import make_result

SETTINGS = {"task": {"dataset": {"path": "csv"}}, "caps": {"train": 32}, "training": {"max_steps": 4}, "seed": 0}


def _with(settings: dict, **overrides) -> CellResult:
    seed = settings.get("seed", 0)
    return make_result(seed=seed, fingerprint=make_fingerprint(settings), **overrides)


def test_digest_depends_on_settings_and_code_version_only():
    same = make_fingerprint({"seed": 0, "training": {"max_steps": 4}, "task": {"dataset": {"path": "csv"}}, **SETTINGS})
    assert same.digest == make_fingerprint(SETTINGS).digest  # key order does not matter
    assert make_fingerprint({**SETTINGS, "caps": {"train": 64}}).digest != same.digest
    assert make_fingerprint(SETTINGS, code_version=CODE_VERSION + 1).digest != same.digest
    assert same.settings["task.dataset.path"] == "csv"  # flattened to dotted names


def test_differences_name_each_changed_setting():
    old = make_fingerprint(SETTINGS)
    new = make_fingerprint({**SETTINGS, "caps": {"train": 64}, "training": {"max_steps": 8}})
    assert differences(old, new) == ["caps.train: 32 -> 64", "training.max_steps: 4 -> 8"]
    assert differences(old, old) == []
    assert differences(None, new) == ["written before fingerprints were recorded"]
    assert differences(make_fingerprint(SETTINGS, code_version=0), old) == [f"code version 0 -> {CODE_VERSION}"]


def test_a_consistent_board_passes_and_files_without_fingerprints_are_not_checked():
    results = [
        _with(SETTINGS),
        _with({**SETTINGS, "seed": 1}),
        _with({**SETTINGS, "model": {"checkpoint": "other"}}, model="other"),  # another model: its own settings
        make_result(model="legacy"),  # no fingerprint: written before they were recorded
    ]
    assert mixed_fingerprints(results) == []


def test_seeds_of_one_group_with_other_settings_are_refused():
    (problem,) = mixed_fingerprints([_with(SETTINGS), _with({**SETTINGS, "seed": 1, "seeds": [1]})])
    assert problem.startswith("s/m/t/finetune: its seeds ran with different settings")
    assert "seeds: unset -> [1]" in problem


def test_cells_of_one_table_with_other_budgets_are_refused():
    results = [_with(SETTINGS), _with({**SETTINGS, "training": {"max_steps": 8}}, model="other")]
    (problem,) = mixed_fingerprints(results)
    assert "task 't', finetune: its cells ran with different settings" in problem
    assert "training.max_steps: 4 -> 8" in problem


def test_scratch_twins_may_train_longer_than_their_tables_checkpoints_but_not_differ_otherwise():
    epochs = {**SETTINGS, "training": {"epochs": 12}}
    twin = {**SETTINGS, "training": {"epochs": 20}}
    results = [_with(epochs), _with(twin, model="m__scratch", init="scratch")]
    assert mixed_fingerprints(results) == []  # scratch_epochs: the twins' own budget
    other_caps = {**twin, "caps": {"train": 64}}
    (problem,) = mixed_fingerprints([_with(epochs), _with(other_caps, model="m__scratch", init="scratch")])
    assert "caps.train: 32 -> 64" in problem
    two_twins = [_with(twin, model="a__scratch", init="scratch"), _with(epochs, model="b__scratch", init="scratch")]
    (problem,) = mixed_fingerprints([_with(epochs), *two_twins])  # within an init the budget must agree
    assert "training.epochs: 20 -> 12" in problem


def test_one_cell_twice_with_two_fingerprints_is_refused():
    problems = mixed_fingerprints([_with(SETTINGS), _with({**SETTINGS, "caps": {"train": 64}})])
    assert "s/m/t/finetune seed 0: 2 result files with different fingerprints" in problems
