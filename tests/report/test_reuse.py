"""The reuse ranking, what reuse buys and the cards, on the hand-made suite of `tests.report.suite_records`,
and the ranking's properties on the committed leaderboards.

Composite by hand (ceiling 1, weights 0.6 / 0.2 / 0.2; E_t = log10(1e5 / T) / 6 with T the time to the final
validation score, E_c = log10(1e12 / F) / 6):

    A: q (0.8 + 1/3) / 2 = 0.56667, T 10 s and 80 s -> E_t 0.59141, E_c log10(250) / 6 = 0.39966 -> 0.53821
    B: q (0.4 + 11/15) / 2 = 0.56667, T 20 s and 10 s -> E_t 0.64158, E_c 0.5 -> 0.56832
    C: q (0.2 + 0.70667) / 2 = 0.45333, T 40 s and 20 s -> E_t 0.59141, E_c 5/6 -> 0.55695

Scratch twins (T = 40 s on both tasks, E_t 0.56632): B 0.37327, C 0.35993, A 0.28320.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmark.engine.plan import plan_groups
from benchmark.estimators.reusability import dominated_above
from benchmark.report.leaderboard import load_results
from benchmark.report.reuse import finetune_summaries, reuse_sections
from benchmark.results.aggregate import group_results, scratch_twin
from benchmark.specs.registry import load_registry
from testkit.markdown import table_rows
from tests.report.suite_records import SUITE, similarity, suite_results

REPO = Path(__file__).resolve().parents[2]


def _ranking(results) -> dict[str, list[str]]:
    lines = reuse_sections(results, SUITE)
    return {row[1]: row for row in table_rows(lines, "Rank")}


def test_ranking_and_parts_match_hand_computation():
    rows = table_rows(reuse_sections(suite_results(), SUITE), "Rank")
    assert [row[1] for row in rows] == ["B", "C", "A", "B (scratch)", "C (scratch)", "A (scratch)"]
    assert [row[0] for row in rows] == ["1", "2", "3", "ref", "ref", "ref"]
    by_model = {row[1]: row for row in rows}
    expected = {"A": 0.53821, "B": 0.56832, "C": 0.55695, "B (scratch)": 0.37327, "A (scratch)": 0.28320}
    for model, value in expected.items():
        assert float(by_model[model][2]) == pytest.approx(value, abs=6e-4)  # printed with 3 decimals
    assert by_model["A"][3] == "0.567" and by_model["A"][4] == "0.7000"  # q and the mean test score
    assert float(by_model["B"][5]) == pytest.approx(0.64158, abs=6e-4) and by_model["B"][6] == "15.0 s"
    assert by_model["C"][7] == "0.833" and by_model["A"][8] == "4.000" and by_model["A"][10] == "2"


def test_the_ranking_reads_no_scratch_twin():
    """A checkpoint's row is the same with its twin's results gone, or with a twin that trains much better."""
    full = _ranking(suite_results())
    no_twins = _ranking([r for r in suite_results() if r.init == "pretrained"])
    assert all(no_twins[m] == full[m] for m in ("A", "B", "C"))
    boosted = [
        r.model_copy(update={"metrics": {"accuracy": 0.99}}) if r.init == "scratch" else r for r in suite_results()
    ]
    assert all(_ranking(boosted)[m] == full[m] for m in ("A", "B", "C"))


def test_removing_any_checkpoint_changes_no_other_row_of_any_section():
    """Property (a) on the report: every other checkpoint's ranking row, what-reuse-buys row and card stay."""
    shared = _sharing_one_architecture(suite_results())
    full = reuse_sections(shared, SUITE)
    for removed in ("A", "B", "C"):
        fewer = reuse_sections([r for r in shared if r.model != removed], SUITE)
        for kept in {"A", "B", "C"} - {removed}:
            assert _rows_of(fewer, kept) == _rows_of(full, kept)


def _sharing_one_architecture(results):
    """B and C as two checkpoints of one architecture ('arch-bc'): one twin, written under the architecture's
    name as the plan writes it (B's twin results kept, C's dropped)."""
    kept = []
    for r in results:
        if r.model in ("B", "C"):
            if r.init == "scratch" and r.model == "C":
                continue
            spec = {**r.specs["model"], "checkpoint": "{assets}/arch-bc"}
            r = r.model_copy(update={"specs": {**r.specs, "model": spec}})
            r = r.model_copy(update={"model": "arch-bc"}) if r.init == "scratch" else r
        kept.append(r)
    return kept


def _rows_of(lines: list[str], model: str) -> list[str]:
    """The table rows naming `model` (the ranking row without its rank, which moves by design) and its card
    (below its heading, which holds the rank)."""
    rows = [line for line in lines if line.startswith(f"| {model} |")]
    rows += [line.split(" | ", 1)[1] for line in lines if line.startswith("| ") and f" | {model} | " in line]
    start = next(i for i, line in enumerate(lines) if line.startswith("#### ") and f"`{model}`" in line)
    card = lines[start + 1 : lines.index("", start + 2)]
    return rows + card


def test_checkpoints_of_one_architecture_share_its_twin_whatever_owned_it():
    shared = _sharing_one_architecture(suite_results())
    groups = group_results(shared)
    for model in ("B", "C"):
        key = next(k for k in groups if k.model == model and k.task == "t1" and k.protocol == "finetune")
        assert scratch_twin(groups, key).key.model == "arch-bc"
    old_style = [r.model_copy(update={"model": "B"}) if r.model == "arch-bc" else r for r in shared]
    assert set(group_results(old_style)) == set(groups)  # a twin filed under its owner's name: same group


def test_two_twins_of_one_architecture_and_seed_are_an_error():
    shared = _sharing_one_architecture(suite_results())
    duplicated = shared + [r.model_copy(update={"model": "C"}) for r in shared if r.model == "arch-bc"]
    with pytest.raises(ValueError, match="share a seed"):
        group_results(duplicated)


def test_what_reuse_buys_is_its_own_table_against_the_twin():
    lines = reuse_sections(suite_results(), SUITE)
    rows = {row[0]: row for row in table_rows(lines, "Checkpoint")}
    assert set(rows) == {"A", "B", "C"}
    assert rows["A"][1] == "A (scratch)" and rows["A"][2] == "2"
    assert rows["A"][3] == "+0.2250"  # (0.9 - 0.55 + 0.5 - 0.4) / 2
    assert rows["B"][5] == "×3.00"  # median of 40 / 20 and 40 / 10 over the twin's time to its quality


def test_cards_show_the_four_indicators_and_the_composite():
    lines = reuse_sections(suite_results(), SUITE, similarities=[similarity()])
    start = lines.index("#### 3. `A` (vision): composite 0.538")
    card = {row[0]: row[1] for row in table_rows(lines[start:], "Indicator")}
    assert card["Source-to-target distance"] == "class_gaussian_ot: t1 0.250 · t2 0.120 ≈"
    assert card["Performance"] == "t1 0.9000 ± 0.0100 · t2 0.5000 ± 0.0100"
    assert card["Training time to quality"] == "t1 10.0 s · t2 80.0 s"
    assert card["Complexity"].startswith("4.00M parameters, 4.000 GFLOPs/example")
    assert card["What reuse buys"].startswith("t1 +0.3500 [")
    assert card["Composite"].endswith("/ 1.00 = 0.538")
    b_card = {
        row[0]: row[1] for row in table_rows(lines[lines.index("#### 1. `B` (vision): composite 0.568") :], "Indicator")
    }
    assert b_card["Source-to-target distance"].startswith("source unknown")


def test_a_suite_stays_valid_and_other_groups_stay_planned_when_any_model_is_removed():
    """Property (a) on the plan: in the zoo, removing any checkpoint (twin owner or not) leaves the suite valid
    and every other group, twins included, planned exactly as before."""
    registry = load_registry(REPO / "tasks")
    full = registry.resolve("zoo")
    planned = {group.name for group in plan_groups(full)}
    for model in full.models:
        others = [m for m in full.models if m.id != model.id]
        registry.suites["zoo_without"] = full.spec.model_copy(update={"suite": "zoo_without", "models": others})
        fewer = {group.name for group in plan_groups(registry.resolve("zoo_without"))}
        gone = {f"{model.id}/"} | {f"{model.architecture_id}__scratch/"} - {
            f"{m.architecture_id}__scratch/" for m in others
        }
        assert fewer == {name for name in planned if not name.startswith(tuple(gone))}
    assert "resnet10t__scratch/digits/finetune" in planned and not any(
        n.startswith("resnet10t-") and "scratch" in n for n in planned
    )


@pytest.mark.parametrize("folder", ["leaderboard/results", "leaderboard/zoo/results", "leaderboard/zoo_old/results"])
def test_no_committed_checkpoint_ranks_above_one_that_dominates_it(folder):
    """Property (c) on the committed demo, zoo and old zoo result files."""
    results = load_results(REPO / folder)
    for suite in sorted({r.suite for r in results}):
        for modality in sorted({r.modality for r in results}):
            summaries, _ = finetune_summaries([r for r in results if r.modality == modality], suite)
            pretrained = [c for c in summaries if not c.model.endswith("(scratch)")]
            assert pretrained and dominated_above(pretrained) == []
