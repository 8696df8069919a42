"""The README's generated figures: a suite's summary block is built from result files alone, replaces exactly its
marked block, and the committed README holds what the committed results give."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmark.report import summary
from benchmark.report.leaderboard import load_results, load_similarities
from benchmark.results.schema import Convergence
from benchmark.results.store import result_path, write_result
from testkit.records import make_result, make_setup
from tests.report.test_budget_line import _extended
from tests.report.test_similarity_reuse import SUITE, monotone, zoo_results, zoo_similarity

REPO = Path(__file__).resolve().parents[2]
COMMITTED = {  # README blocks that are generated: block -> (suite, its committed result files)
    "demo": ("demo", REPO / "leaderboard" / "results"),
    "zoo_disjoint": ("zoo_disjoint", REPO / "leaderboard" / "zoo" / "results"),
}


def test_a_summary_names_the_machine_and_the_verdict_with_its_interval():
    lines = summary.suite_summary(zoo_results(monotone()), [zoo_similarity()], SUITE)
    planned = summary.planned_cells(SUITE)  # the registry's suite of that name, whatever it plans
    assert lines[0].startswith(f"- **Cells:** 72 result files of the {planned} the suite plans (72 finished)")
    assert summary.planned_cells("no-such-suite") is None
    (vision,) = [line for line in lines if line.startswith("- **vision**")]
    assert "similar sources gained more; within-target mean ρ = 1.00 (95 % under gain noise [" in vision
    assert "12 pairs on 3 targets" in vision and "detectable at 80 % power: ρ ≥ " in vision
    assert "leaving one target out: 1.00 to 1.00" in vision
    with pytest.raises(ValueError, match="no result files of suite 'other'"):
        summary.suite_summary(zoo_results(monotone()), [zoo_similarity()], "other")


def test_pretraining_stages_are_counted_by_base_checkpoint_with_how_many_flattened(tmp_path):
    for index, (base, flat) in enumerate([("{assets}/checkpoints/a", True), ("a", False), ("b", None)]):
        folder = tmp_path / ".pretrained" / f"s{index}"
        folder.mkdir(parents=True)
        record = {"base_checkpoint": base, "flattened": flat, "train_wall_s": 60.0}
        (folder / "pretrain.json").write_text(json.dumps(record))
    records = summary.load_pretraining(tmp_path)
    (line,) = [x for x in summary.suite_summary(zoo_results(monotone()), [], SUITE, records) if "Pretraining" in x]
    assert line.startswith("- **Pretraining:** 3 stages: a 2 (1 flattened), b 1 (0 flattened); their training time")
    assert "sums to 3 min" in line


def test_ground_truth_lines_count_flattened_seeds_per_modality_and_init_budgets_and_edge_choices():
    def tune(init: str, seed: int, flat: bool, steps: int):
        return make_result(
            model="m" if init == "pretrained" else "m__scratch",
            init=init,
            seed=seed,
            convergence=Convergence(flattened=flat, late_gain=0.0, tolerance=0.01),
            setup=make_setup(steps),
        )

    results = [tune("pretrained", s, s < 2, 96) for s in range(3)] + [tune("scratch", s, True, 160) for s in range(3)]
    flattened, budgets, edges = summary._ground_truth(results)
    assert "vision pretrained 2 of 3 (67%), scratch 3 of 3 (100%)" in flattened
    assert "targets 90% pretrained and 75% scratch" in flattened
    assert budgets.endswith("t 96 / 160.")
    assert edges.endswith("finetune 0 of 2.")  # no search recorded: nothing at an edge
    assert summary._ground_truth([make_result(protocol="linear_probe")]) == []


def test_only_the_marked_block_is_replaced():
    start, end = summary.markers("s")
    text = f"before\n{start}\nold\n{end}\nafter\n"
    assert summary.replace_block(text, "s", ["new", "lines"]) == f"before\n{start}\nnew\nlines\n{end}\nafter\n"
    with pytest.raises(ValueError, match="summary:t"):
        summary.replace_block(text, "t", ["x"])


@pytest.mark.parametrize("name", sorted(COMMITTED))
def test_the_readme_block_is_what_the_committed_results_give(name):
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    start, end = summary.markers(name)
    block = readme.split(start, 1)[1].split(end, 1)[0].strip("\n").splitlines()
    suite, results = COMMITTED[name]
    found = load_results(results), load_similarities(results), suite
    expected = summary.suite_summary(*found, summary.load_pretraining(results))
    command = f"python -m benchmark.report.summary --results {results.relative_to(REPO)} --suite {suite}"
    assert block == expected, f"regenerate: {command} --block {name} --readme README.md"


def test_the_command_line_writes_the_named_block_and_leaves_the_suites_own(tmp_path):
    results = tmp_path / "results"
    for r in zoo_results(monotone()):
        write_result(result_path(results, r.suite, r.model, r.init, r.task, r.protocol, r.seed), r)
    own, rerun = summary.markers(SUITE), summary.markers("rerun")
    readme = tmp_path / "README.md"
    readme.write_text(f"{own[0]}\nold\n{own[1]}\n{rerun[0]}\nold\n{rerun[1]}\n")
    argv = ["--results", str(results), "--suite", SUITE, "--readme", str(readme)]
    assert summary.main([*argv, "--block", "rerun"]) == 0
    text = readme.read_text()
    assert text.startswith(f"{own[0]}\nold\n{own[1]}\n{rerun[0]}\n- **Cells:** 72 result files")
    assert summary.main([*argv, "--block", "missing"]) == 2


def test_ground_truth_counts_retrained_seeds_and_those_that_flattened_at_their_declared_budget():
    results = [_extended(0, doublings=1, flattened=True), _extended(1, doublings=0, flattened=False)]
    results.append(_extended(2, doublings=2, flattened=False))  # retrained to the maximum, still not flat
    flattened, budgets, _ = summary._ground_truth(results)
    assert "vision pretrained 1 of 3 (33%, 2 retrained longer, 1 of them flattened)" in flattened
    assert budgets.endswith("t 96 / none.")  # declared, not the 192 steps the retrained seed ran


def test_the_recommend_line_names_the_method_recommend_uses_with_its_held_out_record():
    from tests.report.suite_records import suite_results

    (line,) = summary._recommending(suite_results())
    # the probe score misorders t2 (regret 0.01); fitted on the other target, the best single signal picks both bests
    assert line.startswith("- **Recommending before training**")
    assert line.endswith("vision best single signal, top-1 2 of 2, within 0.02 2 of 2, regret 0.0000.")
    assert summary._recommending(suite_results()[:4]) == []  # too few checkpoints: no line
