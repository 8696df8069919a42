"""Analysis sections and plots on hand-made results: 3 models x 2 tasks, scratch twins, linear-probe estimators.

Every cell's curve is one evaluation at its final score, so a cell reaches the time-to-target threshold (95 % of
the task's best mean score) exactly when its final score does. Fine-tune scores, two seeds each at +-0.01:

    t1 (chance 0.5, best 0.9, target 0.855): A 0.9 (10 s)  B 0.7  C 0.6          scratch A 0.55 B 0.6 C 0.5
    t2 (chance 0.3, best 0.8, target 0.76):  A 0.5  B 0.8 (20 s)  C 0.78 (10 s)  scratch A 0.4 B 0.5 C 0.45
    FLOPs / params: A 4e9 / 4e6, B 1e9 / 1e6, C 1e9 / 4e6  ->  E_c: A 0.25, B 1, C 0.5

    A: Q = (1 + 0.4) / 2 = 0.7,     E_t = (1 + 0) / 2 = 0.5,   composite = 0.42 + 0.1 + 0.05 = 0.570
    B: Q = (0.5 + 1) / 2 = 0.75,    E_t = (0 + 0.5) / 2 = 0.25, composite = 0.45 + 0.05 + 0.2 = 0.700
    C: Q = (0.25 + 0.96) / 2 = 0.605, E_t = (0 + 1) / 2 = 0.5, composite = 0.363 + 0.1 + 0.1 = 0.563

Scratch twins never reach the target (E_t = 0) and share their twin's E_c, each scored against the pretrained
field: B 0.6 * (0.25 + 0.4) / 2 + 0.2 = 0.395, C 0.6 * (0 + 0.3) / 2 + 0.1 = 0.190,
A 0.6 * (0.125 + 0.2) / 2 + 0.05 = 0.1475.
"""

from __future__ import annotations

import random

import pytest

from benchmark.report.plots import estimator_vs_finetune, pareto_front, quality_vs_flops, similarity_heatmaps
from benchmark.report.sections import (
    finetune_summaries,
    prediction_section,
    reusability_section,
    similarity_section,
)
from benchmark.results.schema import CellResult, CurvePoint, SimilarityResult

SUITE = "s"
COST = {"A": (4e9, 4_000_000), "B": (1e9, 1_000_000), "C": (1e9, 4_000_000)}
CHANCE = {"t1": 0.5, "t2": 0.3}
FINETUNE = {"t1": {"A": 0.9, "B": 0.7, "C": 0.6}, "t2": {"A": 0.5, "B": 0.8, "C": 0.78}}
TRAIN_S = {
    ("t1", "A"): 10.0,
    ("t1", "B"): 30.0,
    ("t1", "C"): 30.0,
    ("t2", "A"): 30.0,
    ("t2", "B"): 20.0,
    ("t2", "C"): 10.0,
}
SCRATCH = {"t1": {"A": 0.55, "B": 0.6, "C": 0.5}, "t2": {"A": 0.4, "B": 0.5, "C": 0.45}}
PROBE = {"t1": {"A": 0.8, "B": 0.65, "C": 0.6}, "t2": {"A": 0.45, "B": 0.7, "C": 0.72}}
KNN = {"t1": {"A": 0.9, "B": 0.5, "C": 0.7}, "t2": {"A": 0.3, "B": 0.6, "C": 0.5}}
N_BOOT = 50


def _cell(model, init, task, protocol, seed, score, train_s=30.0, estimators=None) -> CellResult:
    flops, params = COST[model]
    return CellResult(
        suite=SUITE,
        model=model,
        init=init,
        task=task,
        modality="vision",
        protocol=protocol,
        seed=seed,
        status="ok",
        main_metric="accuracy",
        metrics={"accuracy": score},
        chance={"accuracy": CHANCE[task]},
        curve=[CurvePoint(step=10, epoch=1.0, train_elapsed_s=train_s, score=score, metrics={"accuracy": score})],
        timing={"train_wall_s": train_s},
        complexity={
            "params_total": params,
            "params_trainable": params,
            "flops_per_example": flops,
            "flops_counter": "test",
        },
        estimators=estimators or {},
        specs={"model": {"id": model}},
    )


def _estimators(task: str, model: str) -> dict[str, float]:
    """logme = the fine-tuned score (perfect), h_score its negative (reversed), leep only for A and B on t1."""
    values = {"logme": FINETUNE[task][model], "h_score": -FINETUNE[task][model], "knn_loo_acc": KNN[task][model]}
    return values | ({"leep": -1.0 if model == "A" else -2.0} if task == "t1" and model != "C" else {})


def _results() -> list[CellResult]:
    results = []
    for task, scores in FINETUNE.items():
        for model, score in scores.items():
            for seed, offset in ((0, -0.01), (1, 0.01)):
                results.append(_cell(model, "pretrained", task, "finetune", seed, score + offset, TRAIN_S[task, model]))
            results.append(_cell(model, "scratch", task, "finetune", 0, SCRATCH[task][model]))
            estimators = _estimators(task, model)
            results.append(_cell(model, "pretrained", task, "linear_probe", 0, PROBE[task][model], 5.0, estimators))
    return results


def _similarity() -> SimilarityResult:
    return SimilarityResult(
        suite=SUITE,
        modality="vision",
        encoder="enc-small",
        tasks=["t1", "t2", "t3"],
        distances={"bures": [[0.0, 0.2, 0.5], [0.2, 0.0, 0.1], [0.5, 0.1, 0.0]]},
        source_to_target={"A": {"t1": {"bures": 0.25}, "t2": {"bures": 0.75}}},
    )


@pytest.fixture(scope="module")
def prediction() -> list[str]:
    return prediction_section(_results(), SUITE, n_boot=N_BOOT)


def _table_rows(lines: list[str]) -> list[list[str]]:
    """Cells of every markdown table body row (header and separator rows dropped)."""
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in lines if line.startswith("| ")]
    return [row for row in rows if row[0] not in ("Rank", "Task", "Model")]


def test_summaries_aggregate_over_seeds_with_time_to_target():
    summaries, skipped = finetune_summaries(_results(), SUITE)
    by_key = {(c.model, c.task): c for c in summaries}
    assert skipped == [] and len(summaries) == 12
    assert by_key["A", "t1"].score == pytest.approx(0.9) and by_key["A", "t1"].time_to_target_s == 10.0
    assert by_key["B", "t1"].time_to_target_s is None and by_key["C", "t2"].time_to_target_s == 10.0
    assert by_key["B (scratch)", "t2"].chance == 0.3 and by_key["C", "t1"].params == 4_000_000


def test_reusability_ranking_and_parts_match_hand_computation():
    rows = _table_rows(reusability_section(_results(), SUITE))
    assert [row[1] for row in rows] == ["B", "A", "C", "B (scratch)", "C (scratch)", "A (scratch)"]
    assert [row[0] for row in rows] == ["1", "2", "3", "ref", "ref", "ref"]
    assert [int(row[6]) for row in rows] == [2] * 6
    parts = [[float(value) for value in row[2:6]] for row in rows]  # composite, Q, E_t, E_c
    expected = [
        [0.70, 0.75, 0.25, 1.0],
        [0.57, 0.7, 0.5, 0.25],
        [0.563, 0.605, 0.5, 0.5],
        [0.395, 0.325, 0.0, 1.0],
        [0.19, 0.15, 0.0, 0.5],
        [0.1475, 0.1625, 0.0, 0.25],
    ]
    for got, want in zip(parts, expected, strict=True):
        assert got == pytest.approx(want, abs=6e-4)  # printed with 3 decimals


def test_reusability_section_states_formula_and_weights():
    text = "\n".join(reusability_section(_results(), SUITE))
    assert "composite = (w_q Q + w_t E_t + w_c E_c) / (w_q + w_t + w_c)" in text
    assert "q(m, t)   = clip((score(m, t) - chance(m, t))" in text
    assert "w_q = 0.60, w_t = 0.20, w_c = 0.20" in text


def test_perfect_estimator_has_tau_one_and_reversed_minus_one(prediction):
    rows = {(row[0], row[1]): row[2:] for row in _table_rows(prediction)}
    for task in ("t1", "t2"):
        assert rows[task, "`logme`"] == ["3", "1.000 [1.000, 1.000]", "1.000 [1.000, 1.000]"]
        assert rows[task, "`h_score`"][1].startswith("-1.000 ")
        assert rows[task, "`h_score`"][2].startswith("-1.000 ")
    assert rows["t1", "`knn_loo_acc`"][1].startswith("0.333 ")
    assert rows["all tasks (pooled)", "`logme`"][:2] == ["6 in 2 task(s)", "1.000 [1.000, 1.000]"]
    assert rows["all tasks (pooled)", "`h_score`"][1].startswith("-1.000 ")
    assert rows["t2", "`linear_probe_score`"][1].startswith("0.333 ")
    assert "Highest pooled Kendall τ: `logme`" in "\n".join(prediction)


def test_fewer_than_three_models_prints_na(prediction):
    rows = {(row[0], row[1]): row[2:] for row in _table_rows(prediction)}
    assert rows["t1", "`leep`"] == ["2", "n/a (n<3)", "n/a (n<3)"]
    assert rows["all tasks (pooled)", "`leep`"] == ["2 in 1 task(s)", "n/a (n<3)", "n/a (n<3)"]
    assert ("t2", "`leep`") not in rows


def test_similarity_table_and_nearest_task():
    lines = similarity_section([_similarity()])
    assert "| t2 | 0.200 | 0.000 | 0.100 |" in lines
    assert "- `t1` is nearest to `t2` (0.200)." in lines
    assert "- `t3` is nearest to `t2` (0.100)." in lines
    assert "| A | 0.250 | 0.750 | — |" in lines
    assert any("`enc-small`" in line for line in lines)


def test_sections_are_deterministic(prediction):
    shuffled = _results()
    random.Random(1).shuffle(shuffled)
    assert reusability_section(shuffled, SUITE) == reusability_section(_results(), SUITE)
    assert prediction_section(shuffled, SUITE, n_boot=N_BOOT) == prediction
    assert similarity_section([_similarity()]) == similarity_section([_similarity()])


def test_pareto_front_keeps_only_undominated_points():
    points = [(1.0, 0.5), (2.0, 0.4), (2.0, 0.9), (4.0, 0.8), (8.0, 1.0)]
    assert pareto_front(points) == [(1.0, 0.5), (2.0, 0.9), (8.0, 1.0)]


def test_plots_write_png_files(tmp_path):
    results = _results()
    paths = (
        similarity_heatmaps([_similarity()], tmp_path)
        + estimator_vs_finetune(results, tmp_path)
        + quality_vs_flops(results, tmp_path)
    )
    names = [p.name for p in paths]
    assert names == ["similarity_s_vision_bures.png", "estimators_vs_finetune_s.png", "quality_vs_flops_s.png"]
    for path in paths:
        assert path.read_bytes().startswith(b"\x89PNG") and path.stat().st_size > 1000
