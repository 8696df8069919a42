"""The "Does task similarity predict reuse?" section on a hand-made zoo: 4 checkpoints with known source tasks, each
fine-tuned on 3 targets beside its scratch twin, 3 seeds.

Source-to-target distances (class_gaussian_ot; random_probe_fisher is a tenth of it plus 0.01):

    target  m1    m2    m3    m4     split-half (class_gaussian_ot)
    t1      0.10  0.30  0.50  0.80   0.15  -> m1 is within the floor
    t2      1.90  1.20  1.50  1.00   0.50
    t3      0.70  0.20  0.90  0.40   0.10

Scratch twins score 0.3 (seeds +0.005 / -0.005 / 0); fine-tunes score 0.3 + gain (seeds -0.01 / 0 / +0.01), where
the gain is 0.6 - 0.25 d ("monotone": rho = 1 with similarity, -1 with distance) or, in each target, the gains of
similarity ranks (2, 4, 1, 3) ("independent": rho = 0 in every target).
"""

from __future__ import annotations

import math

import pytest

from benchmark.report import similarity_reuse as sr
from benchmark.report.leaderboard import render_markdown
from benchmark.report.plots import similarity_vs_gain
from benchmark.results.aggregate import group_results, suite_replicates
from benchmark.results.schema import SimilarityResult
from testkit.markdown import table_rows
from testkit.records import make_result

SUITE = "zoo"
TARGETS = ("t1", "t2", "t3")
MODELS = ("m1", "m2", "m3", "m4")
SOURCES = {"m1": "s_one", "m2": "s_two", "m3": "s_three", "m4": "s_four"}
DISTANCE = {
    "t1": {"m1": 0.10, "m2": 0.30, "m3": 0.50, "m4": 0.80},
    "t2": {"m1": 1.90, "m2": 1.20, "m3": 1.50, "m4": 1.00},
    "t3": {"m1": 0.70, "m2": 0.20, "m3": 0.90, "m4": 0.40},
}
SPLIT_HALF = {"class_gaussian_ot": [0.15, 0.5, 0.1], "random_probe_fisher": [0.005, 0.05, 0.01]}
SCRATCH = 0.3
PRETRAINED_SEEDS, SCRATCH_SEEDS = (-0.01, 0.0, 0.01), (0.005, -0.005, 0.0)
INDEPENDENT_GAINS = (0.2, 0.4, 0.1, 0.3)  # by similarity rank, most similar first: Spearman rho exactly 0


def monotone() -> dict[str, dict[str, float]]:
    return {t: {m: 0.6 - 0.25 * d for m, d in row.items()} for t, row in DISTANCE.items()}


def independent() -> dict[str, dict[str, float]]:
    gains = {}
    for target, row in DISTANCE.items():
        nearest_first = sorted(row, key=row.get)
        gains[target] = dict(zip(nearest_first, INDEPENDENT_GAINS, strict=True))
    return gains


def zoo_results(gains: dict[str, dict[str, float]], twin_of: dict[str, str] | None = None) -> list:
    """Fine-tunes and scratch twins; `twin_of` names a model whose architecture (checkpoint) another model has,
    so that the two share one scratch twin, filed under the first model's name as older plans did."""
    twin_of = twin_of or {}
    results = []
    for target in TARGETS:
        for model in MODELS:
            spec = {"model": {"id": model, "checkpoint": f"{{assets}}/{twin_of.get(model, model)}"}}
            for seed, (up, down) in enumerate(zip(PRETRAINED_SEEDS, SCRATCH_SEEDS, strict=True)):
                score = round(SCRATCH + gains[target][model] + up, 6)
                results.append(_cell(model, "pretrained", target, seed, score, spec))
                if model not in twin_of:
                    results.append(_cell(model, "scratch", target, seed, round(SCRATCH + down, 6), spec))
    return results


def _cell(model, init, task, seed, score, specs):
    return make_result(
        suite=SUITE, model=model, init=init, task=task, seed=seed, metrics={"accuracy": score}, specs=specs
    )


def zoo_similarity(with_sources: bool = True, models=MODELS) -> SimilarityResult:
    source_to_target = {
        m: {
            t: {"class_gaussian_ot": DISTANCE[t][m], "random_probe_fisher": DISTANCE[t][m] / 10 + 0.01} for t in TARGETS
        }
        for m in models
    }
    return SimilarityResult(
        suite=SUITE,
        modality="vision",
        encoder="enc",
        tasks=list(TARGETS),
        distances={"class_gaussian_ot": [[0.0, 1.0, 2.0], [1.0, 0.0, 1.5], [2.0, 1.5, 0.0]]},
        split_half=SPLIT_HALF,
        source_to_target=source_to_target if with_sources else {},
        source_tasks={m: SOURCES[m] for m in models} if with_sources else {},
    )


def _section(gains, twin_of=None, sim=None) -> list[str]:
    return sr.similarity_reuse_section(zoo_results(gains, twin_of), SUITE, [sim or zoo_similarity()], n_boot=200)


@pytest.fixture(scope="module")
def monotone_section() -> list[str]:
    return _section(monotone())


def test_monotone_gain_correlates_perfectly_and_says_so(monotone_section):
    lines = monotone_section
    assert lines[0] == sr.TITLE and "#### vision" in lines
    verdict = next(line for line in lines if line.startswith("**"))
    assert verdict.startswith("**Similar sources gave larger gains.** With `class_gaussian_ot` distances")
    assert "within-target ρ averaged over 3 target(s) (12 pairs)" in verdict and "ρ = 1.000 (p<0.001" in verdict
    rows = {(r[0], r[1]): r for r in table_rows(lines, "Distance")}
    lead = rows["`class_gaussian_ot`", "**within-target mean** (leads)"]
    assert lead[2:5] == ["1.000", "12", "3"] and lead[7] == "13,824 (all)"
    pooled = rows["`class_gaussian_ot`", "pooled"]
    assert pooled[2] == "1.000" and pooled[5] == "p<0.001"
    assert pooled[7] == "10,000 random"
    assert rows["`random_probe_fisher`", "**within-target mean** (leads)"][2] == "1.000"


def test_rho_against_distance_is_minus_one():
    pairs = sr.reuse_pairs(group_results(zoo_results(monotone())), zoo_similarity())
    analysis = sr.analyse(pairs, "class_gaussian_ot")
    assert len(pairs) == 12 and analysis.pooled.rho == pytest.approx(1.0)  # similarity = minus the distance
    assert analysis.pooled.p_greater < 0.001 and analysis.within.correlation.p_greater < 0.001


def test_every_target_picks_the_most_similar_source_as_the_best(monotone_section):
    choices = [r for r in table_rows(monotone_section, "Target") if r[1] == "`class_gaussian_ot`"]
    assert [(r[0], r[5].split()[0], r[6].split()[0], r[7]) for r in choices] == [
        ("t1", "`m1`", "`m1`", "yes"),
        ("t2", "`m4`", "`m4`", "yes"),
        ("t3", "`m2`", "`m2`", "yes"),
    ]
    assert (
        "also gained most on 3 of 3 target(s)"
        in monotone_section[next(i for i, line in enumerate(monotone_section) if line.startswith("**"))]
    )


def test_pairs_within_the_targets_split_half_are_marked(monotone_section):
    pairs = {(r[0], r[2]): r for r in table_rows(monotone_section, "Model")}
    assert pairs["`m1`", "t1"][1] == "s_one" and pairs["`m1`", "t1"][3] == "0.100 ≈"
    assert pairs["`m2`", "t1"][3] == "0.300"  # above t1's 0.15
    assert pairs["`m1`", "t1"][4] == "0.020"  # random_probe_fisher 0.02 > t1's 0.005
    gain, std = 0.6 - 0.25 * 0.1, math.hypot(0.01, 0.005)
    assert pairs["`m1`", "t1"][5] == f"{gain:+.4f} ± {std:.4f}" and pairs["`m1`", "t1"][6] == "3 / 3"
    verdict = next(line for line in monotone_section if line.startswith("**"))
    assert "1 of 12 pair(s) have a source within the target's split-half distance" in verdict
    t1 = next(r for r in table_rows(monotone_section, "Target") if r[0] == "t1" and r[1] == "`class_gaussian_ot`")
    assert t1[2] == "0.150" and t1[5].startswith("`m1` (0.100 ≈)")


def test_independent_gains_give_a_plain_null_result():
    lines = _section(independent())
    verdict = next(line for line in lines if line.startswith("**"))
    assert verdict.startswith("**No evidence that task similarity predicts reuse here.**")
    lead = table_rows(lines, "Distance")[0]
    assert lead[1] == "**within-target mean** (leads)" and lead[2] == "0.000"
    p = float(lead[5].removeprefix("p="))
    assert p > 0.3
    assert "also gained most on 0 of 3 target(s)" in verdict


def test_a_larger_gain_elsewhere_is_tested_against_the_seed_spread():
    gains = monotone()
    gains["t1"]["m4"] = 0.9  # far source, much larger gain: separable
    gains["t3"]["m4"] = gains["t3"]["m2"] + 0.002  # a hair above the most similar: within the seed spread
    lines = _section(gains)
    rows = {r[0]: r for r in table_rows(lines, "Target") if r[1] == "`class_gaussian_ot`"}
    assert rows["t1"][6].startswith("`m4`") and rows["t1"][7] == "no" and rows["t1"][10] == "yes"
    assert rows["t1"][9] == "Welch over seeds"  # no per-example predictions, two different twins
    assert rows["t3"][6].startswith("`m4`") and rows["t3"][7] == "no" and rows["t3"][10] == "no"
    assert rows["t2"][7] == "yes" and rows["t2"][8:] == ["—", "—", "—"]
    verdict = next(line for line in lines if line.startswith("**"))
    assert "also gained most on 1 of 3 target(s); where it did not" in verdict and "on 1 of 2." in verdict


def test_a_shared_scratch_twin_is_followed_and_compared_as_fine_tunes():
    twin_of = {"m2": "m1", "m3": "m1", "m4": "m1"}
    gains = monotone()
    gains["t1"]["m4"] = 0.9
    results = zoo_results(gains, twin_of)
    groups = group_results(results)
    pairs = sr.reuse_pairs(groups, zoo_similarity())
    assert len(pairs) == 12 and {p.scratch.key.model for p in pairs} == {"m1"}
    by = {(p.model, p.target): p for p in pairs}
    replicates = suite_replicates(groups, 100)
    difference = sr.gain_difference(by["m4", "t1"], by["m1", "t1"], replicates)
    assert difference.estimate == pytest.approx(0.9 - (0.6 - 0.025)) and difference.separable is True


def test_checkpoints_of_one_family_are_also_correlated_among_themselves(monotone_section):
    rows = {(r[0], r[1]): r for r in table_rows(monotone_section, "Distance")}
    alone = rows["`class_gaussian_ot`", "within target and family"]
    assert alone[2] == "n/a"  # every checkpoint is its own architecture: no family of 3 on a target
    shared = _section(monotone(), twin_of={"m2": "m1", "m3": "m1", "m4": "m1"})
    rows = {(r[0], r[1]): r for r in table_rows(shared, "Distance")}
    assert rows["`class_gaussian_ot`", "within target and family"][2:5] == ["1.000", "12", "3"]
    verdict = next(line for line in shared if line.startswith("**"))
    assert "Among checkpoints of one family (architecture and starting weights)" in verdict


def test_no_declared_sources_means_no_section():
    results = zoo_results(monotone())
    assert sr.similarity_reuse_section(results, SUITE, [zoo_similarity(with_sources=False)]) == []
    assert sr.similarity_reuse_section(results, SUITE, []) == []
    assert sr.similarity_reuse_section(results, "other", [zoo_similarity()]) == []
    # Two pairs with a finished twin (m1's on t1 and t2 when only m1 declared a source and t3 is unfinished).
    partial = [r for r in results if not (r.model == "m1" and r.task == "t3")]
    sim = zoo_similarity(models=("m1",))
    assert sr.similarity_reuse_section(partial, SUITE, [sim]) == []


def test_the_leaderboard_renders_it_after_the_similarity_matrices_only_with_sources():
    results = zoo_results(monotone())
    with_sources = render_markdown(results, [zoo_similarity()], n_boot=100)
    without = render_markdown(results, [zoo_similarity(with_sources=False)], n_boot=100)
    assert sr.TITLE not in without
    assert with_sources.index("### Which tasks look alike") < with_sources.index(sr.TITLE)
    assert with_sources.index(sr.TITLE) < with_sources.index("## How to read this")


def test_the_scatter_is_drawn_only_with_enough_pairs(tmp_path):
    results = zoo_results(monotone())
    paths = similarity_vs_gain(results, [zoo_similarity()], tmp_path)
    assert [p.name for p in paths] == ["similarity_vs_gain_zoo_vision.png"] and paths[0].stat().st_size > 0
    assert similarity_vs_gain(results, [zoo_similarity(with_sources=False)], tmp_path / "none") == []


def test_one_architecture_from_two_starting_weights_is_two_families():
    twin_of = {"m2": "m1", "m3": "m1", "m4": "m1"}
    results = zoo_results(monotone(), twin_of)
    for r in results:  # m1 and m2 continued from random weights, m3 and m4 from the published checkpoint
        init = "scratch" if r.model in ("m1", "m2") else "pretrained"
        r.specs["model"] = {**r.specs["model"], "pretrain": {"task": SOURCES[r.model], "init": init}}
    pairs = sr.reuse_pairs(group_results(results), zoo_similarity())
    families = {p.model: p.family for p in pairs}
    assert families["m1"] == families["m2"] == "m1 from random weights"
    assert families["m3"] == families["m4"] == "m1 from m1's weights"
    within = sr.analyse(pairs, "class_gaussian_ot").within_family
    assert within.used == () and set(within.sizes.values()) == {2}  # pairs of two: no rank correlation


def test_a_negative_control_is_reported_apart_and_enters_no_correlation():
    gains = monotone()
    for target in TARGETS:  # the control gains most everywhere: in the correlation it would break the monotone rho
        gains[target]["m5"] = 0.9
    sources = {**SOURCES, "m5": "ctl_s_one_shuffled"}
    distance = {t: {**row, "m5": DISTANCE[t]["m4"] + 0.05} for t, row in DISTANCE.items()}
    results = zoo_results(gains) + [
        _cell("m5", init, t, seed, round(SCRATCH + (gains[t]["m5"] if init == "pretrained" else 0) + up, 6), {})
        for t in TARGETS
        for seed, up in enumerate(PRETRAINED_SEEDS)
        for init in ("pretrained", "scratch")
    ]
    sim = zoo_similarity().model_copy(
        update={
            "source_tasks": sources,
            "source_to_target": {
                m: {t: {"class_gaussian_ot": distance[t][m]} for t in TARGETS} for m in (*MODELS, "m5")
            },
        }
    )
    lines = sr.similarity_reuse_section(results, SUITE, [sim], n_boot=200)
    verdict = next(line for line in lines if line.startswith("**"))
    assert "(12 pairs)" in verdict and "ρ = 1.000" in verdict
    controls = table_rows(lines, "Control")
    assert [(r[0], r[1], r[3], r[4]) for r in controls] == [("`m5`", t, "yes", "1 of 1") for t in TARGETS]
    summary = next(line for line in lines if line.startswith("**Controls.**"))
    assert "gained +0.9000 on average" in summary
    pair_rows = [r for r in table_rows(lines, "Model") if r[0] == "`m5`"]
    assert len(pair_rows) == 3 and pair_rows[0][1] == "ctl_s_one_shuffled (control)"


def test_power_and_leave_one_target_out_stand_beside_the_verdict(monotone_section):
    from benchmark.estimators.power import min_detectable_rho_simulated

    power = next(line for line in monotone_section if line.startswith("**Power.**"))
    assert "3 target(s) of 4 pairs" in power
    assert f"is {min_detectable_rho_simulated([4, 4, 4]):.2f} (simulated" in power
    loo = next(line for line in monotone_section if line.startswith("**Leave one target out**"))
    assert "between 1.000 and 1.000 (keeps its sign)" in loo
    rows = table_rows(monotone_section, "Target left out")
    assert [r[0] for r in rows] == list(TARGETS) and {r[1] for r in rows} == {"1.000"}
    assert {(r[2], r[3]) for r in rows} == {("2", "8")}


def test_a_finding_one_target_carries_is_shown_leaving_it_out():
    gains = independent()
    gains["t2"] = monotone()["t2"]  # only t2 orders its gains by similarity
    lines = _section(gains)
    rows = {r[0]: r for r in table_rows(lines, "Target left out")}
    assert rows["t2"][1] == "0.000" and float(rows["t1"][1]) == pytest.approx(0.5)


def test_a_check_encoder_is_set_beside_the_suite_encoder_with_its_own_verdict():
    reversed_distance = {t: {m: 2.0 - d for m, d in row.items()} for t, row in DISTANCE.items()}
    check = zoo_similarity().model_copy(
        update={
            "encoder": "enc2",
            "role": "check",
            "source_to_target": {
                m: {t: {"class_gaussian_ot": reversed_distance[t][m]} for t in TARGETS} for m in MODELS
            },
        }
    )
    results = zoo_results(monotone())
    lines = sr.similarity_reuse_section(results, SUITE, [zoo_similarity(), check], n_boot=200)
    assert lines.count("#### vision") == 1  # the check encoder adds rows, not a second analysis
    rows = {(r[0], r[1]): r for r in table_rows(lines, "Encoder")}
    assert rows["`enc`", "`class_gaussian_ot`"][3] == "1.000"
    assert rows["`enc`", "`class_gaussian_ot`"][7:] == ["similar sources gained more", "(the suite encoder)"]
    assert rows["`enc2`", "`class_gaussian_ot`"][3] == "-1.000"
    assert rows["`enc2`", "`class_gaussian_ot`"][7:] == ["similar sources gained less", "-1.000"]
    sentence = next(line for line in lines if line.startswith("**Another encoder.**"))
    assert "With `enc2` (`class_gaussian_ot`) the within-target mean ρ is -1.000" in sentence
    assert "unlike in the suite encoder" in sentence
    # the rest of the page reads the suite encoder's records only
    page = render_markdown(results, [zoo_similarity(), check])
    assert "fixed encoder `enc`" in page and "fixed encoder `enc2`" not in page
