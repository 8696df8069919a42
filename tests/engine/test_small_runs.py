"""Small runs stay small: task similarity over the tasks run into the output folder (not every task of the
suite), and a log without progress-bar redraws or library load reports."""

from __future__ import annotations

import io

import pytest
import transformers

from benchmark.results.store import find_similarity_files, read_similarity
from benchmark.run import main
from benchmark.utils.console import configure_console
from testkit.fixtures import tiny_run_args

pytestmark = pytest.mark.integration  # runs the suite

PROBES_ONLY = ["--models", "tiny-bert", "--protocols", "linear_probe", "--no-scratch", "--probe-epochs", "2"]


def test_similarity_covers_the_tasks_run_into_the_folder(tiny_tasks, tiny_assets, tmp_path, capfd):
    assert main(tiny_run_args(tiny_tasks, tiny_assets, tmp_path, "--tasks", "topics", *PROBES_ONLY)) == 0
    (path,) = find_similarity_files(tmp_path)  # text only: no other modality's encoder was loaded
    first = read_similarity(path)
    # The suite's other text task (topics_relabelled) was not run, so it is not embedded; the declared
    # pretraining sample still gives the one task a distance to its source.
    assert first.modality == "text" and first.tasks == ["topics"] and first.source_to_target
    out, err = capfd.readouterr()
    log = out + err
    assert "LOAD REPORT" not in log and "\r" not in log  # no load reports, no bar redraws in a log
    assert "  ok  tiny-bert/topics/linear_probe-seed0" in log  # a line per finished cell
    assert transformers.logging.get_verbosity() == transformers.logging.ERROR
    # A later run of another task into the same folder measures both: the earlier one's features are cached.
    assert main(tiny_run_args(tiny_tasks, tiny_assets, tmp_path, "--tasks", "topics_relabelled", *PROBES_ONLY)) == 0
    assert read_similarity(path).tasks == ["topics", "topics_relabelled"]


def test_a_run_of_several_groups_logs_a_line_per_finished_group(tiny_tasks, tiny_assets, tmp_path, capfd):
    extra = ["--tasks", "topics", "--models", "tiny-bert", "--protocols", "linear_probe", "--probe-epochs", "2"]
    assert main(tiny_run_args(tiny_tasks, tiny_assets, tmp_path, *extra, "--no-similarity")) == 0
    out, err = capfd.readouterr()
    assert "groups: 1/2 done in" in out + err  # the pretrained probe, then its scratch twin's


def test_bars_are_drawn_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert configure_console(verbose=True, stream=Terminal()) is True
    assert configure_console(verbose=True, stream=io.StringIO()) is False


def test_a_check_encoder_measures_the_same_distances_in_a_file_of_its_own(tiny_tasks, tiny_assets, tmp_path):
    check = ["--similarity-encoder", f"copy={tiny_assets / 'tiny-bert'}"]
    assert main(tiny_run_args(tiny_tasks, tiny_assets, tmp_path, "--tasks", "topics", *PROBES_ONLY, *check)) == 0
    records = {path.name: read_similarity(path) for path in find_similarity_files(tmp_path)}
    assert sorted(records) == ["text.json", "text@copy.json"]
    primary, copy = records["text.json"], records["text@copy.json"]
    assert (primary.role, copy.role, copy.encoder) == ("primary", "check", "copy")
    assert copy.source_to_target == primary.source_to_target  # the same weights give the same distances


def test_a_check_encoder_that_is_not_a_model_stops_the_run_before_any_work(tiny_tasks, tiny_assets, tmp_path, capsys):
    missing = ["--similarity-encoder", str(tmp_path / "nowhere")]
    assert main(tiny_run_args(tiny_tasks, tiny_assets, tmp_path / "out", *missing)) == 2
    assert "--similarity-encoder" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_similarity_only_measures_over_the_finished_cells_and_runs_none(tiny_tasks, tiny_assets, tmp_path, capfd):
    assert (
        main(tiny_run_args(tiny_tasks, tiny_assets, tmp_path, "--tasks", "topics", *PROBES_ONLY, "--no-similarity"))
        == 0
    )
    assert find_similarity_files(tmp_path) == []
    written = {path: path.stat().st_mtime_ns for path in tmp_path.rglob("linear_probe-seed*.json")}
    capfd.readouterr()
    assert main(tiny_run_args(tiny_tasks, tiny_assets, tmp_path, *PROBES_ONLY, "--similarity-only")) == 0
    (path,) = find_similarity_files(tmp_path)
    assert read_similarity(path).tasks == ["topics"]  # the folder's finished task only, not the suite's others
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("linear_probe-seed*.json")} == written
    out, err = capfd.readouterr()
    assert "  ok  " not in out + err
