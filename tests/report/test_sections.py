"""Analysis sections and plots on the hand-made suite of `tests.report.suite_records` (the reuse ranking and
cards: `tests/report/test_reuse.py`)."""

from __future__ import annotations

import math
import random

import pytest

from benchmark.estimators.resampling import minimum_detectable_difference
from benchmark.report.plots import estimator_vs_finetune, pareto_front, quality_vs_flops, similarity_heatmaps
from benchmark.report.reuse import reuse_sections
from benchmark.report.sections import (
    prediction_section,
    ranking_tiers,
    separability_section,
)
from benchmark.report.similarity_tables import similarity_section
from benchmark.results.aggregate import group_results, suite_replicates
from testkit.markdown import table_rows
from tests.report.suite_records import SUITE, similarity, suite_results

N_BOOT = 200


@pytest.fixture(scope="module")
def prediction() -> list[str]:
    return prediction_section(suite_results(), SUITE, n_boot=N_BOOT)


def test_tiers_separate_only_what_exceeds_the_spread():
    groups = group_results(suite_results())
    found = {(t.task, t.protocol): t for t in ranking_tiers(groups, suite_replicates(groups, N_BOOT))}
    t1, t2 = found["t1", "finetune"], found["t2", "finetune"]
    assert t1.ordered == ["A", "B", "C"] and t1.tier == {"A": 1, "B": 2, "C": 3}
    assert t2.ordered == ["B", "C", "A"] and t2.tier == {"B": 1, "C": 1, "A": 2}
    assert t2.pairs["B", "C"].separable is False and t2.pairs["B", "C"].low < 0 < t2.pairs["B", "C"].high
    probe = found["t1", "linear_probe"]  # one seed each: example resampling alone decides
    assert probe.pairs["A", "B"].method == "seeds × test examples"


def test_separability_section_lists_tiers_and_pairs():
    lines = separability_section(suite_results(), SUITE)
    assert "- **t2**, finetune: tier 1: `B`, `C`; tier 2: `A`." in lines
    rows = {row[2]: row for row in table_rows(lines, "Task") if row[0] == "t2" and row[1] == "finetune"}
    assert set(rows) == {"B − C", "B − A", "C − A"}
    assert rows["B − C"][5] == "no" and rows["B − A"][5] == "yes"
    assert rows["B − C"][3].startswith("+0.0200 [") and rows["B − C"][4] == "seeds × test examples"


def test_per_task_agreement_prints_exact_p_values_not_degenerate_intervals(prediction):
    rows = {(row[0], row[1]): row[2:] for row in table_rows(prediction, "Task")}
    for task in ("t1", "t2"):
        assert rows[task, "`logme`"][:3] == ["3", "1.000 (p=0.167)", "1.000 (p=0.167)"]
        assert rows[task, "`h_score`"][1] == "-1.000 (p=1.000)"
    assert rows["t1", "`knn_loo_acc`"][1] == "0.333 (p=0.500)"
    assert rows["t1", "`source_accuracy`"][1] == "1.000 (p=0.167)"
    assert rows["t2", "`source_accuracy`"][1] == "-0.333 (p=0.833)"
    assert rows["t1", "`leep`"] == ["2", "n/a (n<3)", "n/a (n<3)", "—"]
    assert ("t2", "`leep`") not in rows


def test_ground_truth_noise_enters_the_agreement(prediction):
    rows = {(row[0], row[1]): row[2:] for row in table_rows(prediction, "Task")}
    assert rows["t1", "`logme`"][3] == "[1.000, 1.000]"  # t1's models are far apart: resampling never swaps them
    low, high = (float(v) for v in rows["t2", "`logme`"][3].strip("[]").split(", "))
    assert low < 1.0 and high == 1.0  # B 0.8 and C 0.78 swap in some replicates
    assert rows["t2", "ground truth, resampled"][3].startswith("median ")


def test_a_task_with_fewer_than_three_checkpoints_gets_one_row_and_no_pair_table_without_pairs():
    only_a = [r for r in suite_results() if r.model == "A"]
    rows = table_rows(prediction_section(only_a, SUITE, n_boot=50), "Task")
    assert rows == [
        ["t1", "every signal", "1", "n/a (n<3)", "n/a (n<3)", "—"],
        ["t2", "every signal", "1", "n/a (n<3)", "n/a (n<3)", "—"],
    ]
    lines = separability_section(only_a, SUITE)
    assert "- **t1**, finetune: tier 1: `A`." in lines
    assert "No task has two checkpoints under one protocol: there is no pair to test." in lines


def test_no_noise_interval_is_claimed_where_the_noise_was_not_measured():
    one_seed = [r.model_copy(update={"predictions": None}) for r in suite_results() if r.seed == 0]
    rows = {(row[0], row[1]): row[2:] for row in table_rows(prediction_section(one_seed, SUITE, n_boot=50), "Task")}
    assert rows["t2", "`logme`"][:3] == ["3", "1.000 (p=0.167)", "1.000 (p=0.167)"]
    assert rows["t2", "`logme`"][3] == "[n/a]" and rows["t2", "ground truth, resampled"][3] == "—"


def test_suite_level_mean_over_tasks_and_a_tie_instead_of_a_best(prediction):
    rows = {row[0]: row[1:] for row in table_rows(prediction, "Signal")}
    assert rows["`logme`"][:4] == ["1.000", "2", "3", "0 / 0"]
    assert rows["`h_score`"][0] == "-1.000"
    assert rows["`leep`"][:4] == ["n/a", "0", "—", "1 / 0"]
    assert float(rows["`logme`"][4].removeprefix("p≈")) == pytest.approx(1 / 36, abs=0.015)  # two tasks: 1/6 each
    verdict = prediction[-2]
    assert "`logme` has the highest mean weighted τ (1.000 over 2 task(s)" in verdict
    assert "No single best signal" in verdict and "(with T tasks the smallest possible p is 2^-T)" in verdict


def test_similarity_table_marks_distances_within_the_noise_floor():
    lines = similarity_section([similarity()])
    assert "| t2 | 0.200 | 0.000 | 0.100 ≈ | 0.150 |" in lines
    assert "- Noise floor: 0.150." in lines
    assert "- `t1` is nearest to `t2` (0.200)." in lines
    assert "- `t3`: `t2` (0.100) is within the noise floor, no further than a resample of `t3` itself." in lines
    # a source-to-target distance is marked against that target's own split-half (t1 0.05, t2 0.15)
    assert "| A | — | 0.250 | 0.120 ≈ | — |" in lines
    assert any("`enc-small`" in line for line in lines)


def test_two_tasks_make_no_nearest_task_statement_and_no_floor_is_said_plainly():
    two = similarity().model_copy(
        update={"tasks": ["t1", "t2"], "distances": {"bures": [[0.0, 0.3], [0.3, 0.0]]}, "split_half": {}}
    )
    lines = similarity_section([two])
    assert "- With 2 tasks the nearest task is the only other one: no nearest-task statement." in lines
    assert "- No split-half distances recorded: these distances have no noise floor and cannot be judged." in lines
    assert not any("is nearest to" in line for line in lines)


def test_sections_are_deterministic(prediction):
    shuffled = suite_results()
    random.Random(1).shuffle(shuffled)
    assert reuse_sections(shuffled, SUITE) == reuse_sections(suite_results(), SUITE)
    assert prediction_section(shuffled, SUITE, n_boot=N_BOOT) == prediction
    assert separability_section(shuffled, SUITE) == separability_section(suite_results(), SUITE)
    assert similarity_section([similarity()]) == similarity_section([similarity()])


def test_pareto_front_keeps_only_undominated_points():
    points = [(1.0, 0.5), (2.0, 0.4), (2.0, 0.9), (4.0, 0.8), (8.0, 1.0)]
    assert pareto_front(points) == [(1.0, 0.5), (2.0, 0.9), (8.0, 1.0)]


def test_plots_write_png_files(tmp_path):
    results = suite_results()
    paths = (
        similarity_heatmaps([similarity()], tmp_path)
        + estimator_vs_finetune(results, tmp_path)
        + quality_vs_flops(results, tmp_path)
    )
    names = [p.name for p in paths]
    assert names == [
        "similarity_s_vision_class_gaussian_ot.png",
        "estimators_vs_finetune_s.png",
        "quality_vs_flops_s.png",
    ]
    for path in paths:
        assert path.read_bytes().startswith(b"\x89PNG") and path.stat().st_size > 1000


def test_each_slot_states_the_difference_it_can_resolve():
    lines = separability_section(suite_results(), SUITE)
    rows = {row[0]: row[1:] for row in table_rows(lines, "Task, protocol")}
    t1 = rows["t1, finetune"]
    assert t1[0:2] == ["200", "3"] and float(t1[2]) == pytest.approx(0.01)  # seeds at -0.01 / 0 / +0.01
    p = (0.9 + 0.7 + 0.6) / 3  # unpaired: 2.8016 * sqrt(2 * (0.01^2 / 3 + p (1 - p) / 200))
    assert float(t1[4]) == pytest.approx(2.8016 * math.sqrt(2 * (0.01**2 / 3 + p * (1 - p) / 200)), abs=6e-4)
    assert 0 < float(t1[3]) < float(t1[4])  # pairing on the test examples resolves more than the bound
    assert rows["t1, linear_probe"][1] == "1"


def test_minimum_detectable_difference_by_hand():
    expected = 2.8016 * math.sqrt(2 * 0.25 / 200)
    assert minimum_detectable_difference(0.5, 200, 0.0, 3) == pytest.approx(expected, abs=1e-3)
    assert minimum_detectable_difference(0.5, 10_000, 0.0, 3) < minimum_detectable_difference(0.5, 200, 0.0, 3)
    with pytest.raises(ValueError):
        minimum_detectable_difference(0.5, 0, 0.0, 3)
