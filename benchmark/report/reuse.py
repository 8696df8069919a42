"""The leaderboard's answer to "which checkpoint should I reuse?", and, apart, to "what does reuse buy?".

Three parts per suite, each per modality (models of different modalities share no task):

- **Which checkpoint to reuse**: the composite of `benchmark.estimators.reusability` (quality against chance and
  the ceiling, then training time and FLOPs against absolute references), checkpoints best first, the scratch
  twins below as unranked reference rows, and a check that no checkpoint ranks above one that dominates it.
- **What reuse buys**: each checkpoint against its architecture's scratch twin, the seed's question: the gain in
  test score with its 95 % interval (paired bootstrap over seeds and test examples) and the speed-up to the twin's
  validation quality. These numbers never enter the ranking.
- **Reusability cards**: one per checkpoint, the seed's four indicators side by side (source-to-target
  similarity where the source is known, performance, training time, complexity), what reuse buys, and the
  composite with its parts and weights.

Pure functions of the result files, deterministic, like every other section.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from benchmark.estimators import reusability
from benchmark.estimators.reusability import (
    DEFAULT_WEIGHTS,
    CellSummary,
    ModelScore,
    dominated_above,
    reusability_scores,
)
from benchmark.estimators.task_distance import METHODS
from benchmark.report.sections import format_count, format_difference, format_speed_up
from benchmark.results.aggregate import (
    Group,
    GroupKey,
    ScoreReplicates,
    compare,
    group_results,
    scratch_twin,
    speed_up,
    suite_replicates,
)
from benchmark.results.schema import CellResult, SimilarityResult
from benchmark.specs.schema import ScoreWeights
from benchmark.utils.naming import SCRATCH_SUFFIX, variant_label

DEFAULT_RESAMPLES = 500
SCORE_HEADER = (
    "| Rank | Model | Composite | q (quality) | Mean score | E_t | Time to quality | E_c | GFLOPs/ex | Params | Tasks |"
)
BUYS_HEADER = "| Checkpoint | Scratch twin | Tasks | Mean gain | Gain above the noise | Speed-up (median) |"


@dataclass(frozen=True)
class Finetuned:
    """A fine-tuned (variant, task) group ready to score, with its label and, for a checkpoint, its twin."""

    label: str
    group: Group
    twin: Group | None
    summary: CellSummary


def finetuned(groups: dict[GroupKey, Group]) -> tuple[list[Finetuned], list[str]]:
    """Every fine-tuned (variant, task) of `groups` that can be scored, and the ones left out with the reason.
    Scoring needs a finished seed, a chance level below the ceiling, FLOPs and parameters, and validation curves
    (for the time to quality); never a scratch twin."""
    found, skipped = [], []
    for key, group in groups.items():
        if key.protocol != "finetune":
            continue
        label = variant_label(key.model, key.init)
        missing = _missing_inputs(group)
        if missing:
            skipped.append(f"{label} on {key.task}: no {', '.join(missing)}")
            continue
        summary = CellSummary(
            model=label,
            task=key.task,
            score=group.mean,
            chance=group.chance,
            time_to_quality_s=group.time_to_final_quality,
            flops_per_example=group.mean_of("complexity", "flops_per_example"),
            params=round(group.mean_of("complexity", "params_total")),
        )
        twin = scratch_twin(groups, key) if key.init == "pretrained" else None
        found.append(Finetuned(label, group, twin, summary))
    return found, skipped


def finetune_summaries(results: list[CellResult], suite: str) -> tuple[list[CellSummary], list[str]]:
    """`CellSummary`s of the suite's fine-tuned (variant, task) groups, and the ones left out with the reason."""
    found, skipped = finetuned(_suite_groups(results, suite))
    return [item.summary for item in found], skipped


def _suite_groups(results: list[CellResult], suite: str) -> dict[GroupKey, Group]:
    return {key: group for key, group in group_results(results).items() if key.suite == suite}


def _missing_inputs(group: Group) -> list[str]:
    if group.mean is None:
        return ["finished seed"]
    flops, params = group.mean_of("complexity", "flops_per_example"), group.mean_of("complexity", "params_total")
    missing = [] if group.chance is not None and group.chance < reusability.QUALITY_CEILING else ["chance level"]
    missing += ["FLOPs"] if flops is None or flops <= 0 else []
    missing += ["parameter count"] if params is None or params <= 0 else []
    return missing + (["validation curve"] if group.time_to_final_quality is None else [])


# --- the section -----------------------------------------------------------------------------------------


def reuse_sections(
    results: list[CellResult],
    suite: str,
    weights: ScoreWeights = DEFAULT_WEIGHTS,
    replicates: dict[GroupKey, ScoreReplicates] | None = None,
    similarities: list[SimilarityResult] = (),
) -> list[str]:
    """The ranking, what reuse buys and the cards of one suite, per modality."""
    groups = _suite_groups(results, suite)
    replicates = replicates if replicates is not None else suite_replicates(groups, DEFAULT_RESAMPLES)
    found, skipped = finetuned(groups)
    modalities = sorted({item.group.key.modality for item in found} | {k.modality for k in groups})
    ranking = ["### Which checkpoint to reuse", "", *formula_lines(weights), ""]
    buys = ["### What reuse buys", "", *_buys_intro(), ""]
    cards = ["### Reusability cards", "", *_cards_intro(weights), ""]
    for modality in modalities:
        mine = [item for item in found if item.group.key.modality == modality]
        ranking += [f"#### {modality}", "", *ranking_table([item.summary for item in mine], weights), ""]
        ranking += [f"- left out: {r}" for r in skipped if _modality_of(r, groups) == modality]
        ranking += [""] if ranking[-1] else []
        buys += [f"#### {modality}", "", *_buys_table(mine, replicates), ""]
        sims = [s for s in similarities if s.suite == suite and s.modality == modality]
        cards += _cards(mine, weights, replicates, sims)
    return ranking + buys + cards


def _modality_of(reason: str, groups: dict[GroupKey, Group]) -> str | None:
    """The modality of a left-out line ('<label> on <task>: ...'), through its task."""
    task = reason.split(" on ", 1)[1].split(":", 1)[0]
    return next((k.modality for k in groups if k.task == task), None)


def formula_lines(weights: ScoreWeights) -> list[str]:
    """The composite's formula, quoted from `benchmark.estimators.reusability`'s docstring, and the weights used."""
    formula = [line[4:] for line in (reusability.__doc__ or "").splitlines() if line.startswith("    ")]
    return [
        "Each pretrained checkpoint by what a user gets from it on the suite's targets: the quality its fine-tune "
        "reaches, then what reaching it costs (fine-tune protocol, means over seeds). For every task t:",
        "",
        "```text",
        *formula,
        "```",
        "",
        f"Weights used: w_q = {weights.quality:.2f}, w_t = {weights.training_efficiency:.2f}, "
        f"w_c = {weights.complexity_efficiency:.2f}. Every part is measured against fixed references (chance, the "
        "ceiling, absolute seconds and FLOPs), never against the checkpoint's own scratch twin or the other "
        "models, so adding or removing a model changes no other row. Ties on the composite go to the higher "
        "quality, then the lower cost. Training seconds are this run's hardware's (see the results' provenance). "
        "Which score differences exceed the seed spread is in the tiers below; what reuse buys over training the "
        "same architecture from scratch is in its own section. Rows marked `ref` are the scratch twins, scored by "
        "the same formula and not ranked: a checkpoint below them buys nothing over training from scratch.",
    ]


def ranking_table(summaries: list[CellSummary], weights: ScoreWeights) -> list[str]:
    """Ranked checkpoint rows, then the scratch twins' reference rows, then the dominance check."""
    pretrained = [c for c in summaries if not c.model.endswith(SCRATCH_SUFFIX)]
    if not pretrained:
        return ["No finished pretrained fine-tune cell to rank."]
    rows = [_score_row(str(rank), score) for rank, score in enumerate(reusability_scores(pretrained, weights), 1)]
    twins = [c for c in summaries if c.model.endswith(SCRATCH_SUFFIX)]
    rows += [_score_row("ref", score) for score in reusability_scores(twins, weights)]
    table = [SCORE_HEADER, "|" + "---|" * (SCORE_HEADER.count(" | ") + 1), *rows]
    return [*table, "", _dominance_line(pretrained, weights)]


def _dominance_line(summaries: list[CellSummary], weights: ScoreWeights) -> str:
    wrong = dominated_above(summaries, weights)
    if wrong:
        pairs = ", ".join(f"`{low}` above `{high}`" for low, high in wrong)
        return f"- Pareto check FAILED: ranked above a checkpoint that dominates it: {pairs}."
    return (
        "- Pareto check: no checkpoint ranks above one that dominates it (at least its score on every task at no "
        "higher time or FLOPs)."
    )


def _score_row(rank: str, score: ModelScore) -> str:
    cells = [rank, score.model, f"{score.composite:.3f}", f"{score.quality:.3f}", f"{score.mean_score:.4f}"]
    cells += [f"{score.training_efficiency:.3f}", format_seconds(score.time_to_quality_s)]
    cells += [f"{score.complexity_efficiency:.3f}", f"{score.flops_per_example / 1e9:.3f}"]
    cells += [format_count(score.params), str(score.n_tasks)]
    return "| " + " | ".join(cells) + " |"


def format_seconds(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 600 else f"{seconds / 60:.1f} min"


# --- what reuse buys -------------------------------------------------------------------------------------


def _buys_intro() -> list[str]:
    return [
        "The seed's question, kept out of the ranking: each checkpoint against the same architecture trained from "
        "random weights under the identical protocol (one twin per architecture, shared by all its checkpoints). "
        "Gain: mean test score minus the twin's, in metric points; above the noise where its 95 % interval "
        "(paired bootstrap over seeds and test examples) excludes zero. Speed-up: the twin's training time to "
        "the validation quality every twin seed reached, over the checkpoint's time to the same score (`never`: "
        "some seed did not get there). An architecture that trains badly from scratch makes every checkpoint of it "
        "look good here; the ranking above does not read these columns.",
    ]


def _buys_table(items: list[Finetuned], replicates: dict[GroupKey, ScoreReplicates]) -> list[str]:
    by_model: dict[str, list[Finetuned]] = {}
    for item in items:
        if item.group.key.init == "pretrained":
            by_model.setdefault(item.label, []).append(item)
    rows = [_buys_row(label, mine, replicates) for label, mine in sorted(by_model.items())]
    rows = [row for row in rows if row]
    if not rows:
        return ["No checkpoint has a finished scratch twin to compare with."]
    return [BUYS_HEADER, "|" + "---|" * (BUYS_HEADER.count(" | ") + 1), *rows]


def _buys_row(label: str, items: list[Finetuned], replicates: dict[GroupKey, ScoreReplicates]) -> str | None:
    paired = [item for item in items if item.twin is not None and item.twin.mean is not None]
    if not paired:
        return None
    differences = [compare(item.group, item.twin, replicates) for item in paired]
    above = sum(d.separable is True and d.estimate > 0 for d in differences)
    below = sum(d.separable is True and d.estimate < 0 for d in differences)
    ratios = [r for item in paired if (r := _speed_up_ratio(item)) is not None]
    twins = sorted({variant_label(item.twin.key.model, "scratch") for item in paired})
    cells = [label, ", ".join(twins), str(len(paired)), f"{statistics.fmean(d.estimate for d in differences):+.4f}"]
    cells.append(f"{above} of {len(paired)} above, {below} below")
    cells.append(format_speed_up(statistics.median(ratios)) if ratios else "—")
    return "| " + " | ".join(cells) + " |"


def _speed_up_ratio(item: Finetuned) -> float | None:
    measured = speed_up(item.group, item.twin) if item.twin is not None else None
    return None if measured is None else measured.ratio


# --- cards -----------------------------------------------------------------------------------------------


def _cards_intro(weights: ScoreWeights) -> list[str]:
    return [
        "One card per checkpoint, the four indicators side by side: source-to-target similarity (where the "
        "checkpoint's source data is known; distance in the modality's fixed embedding, ≈ marks one within the "
        "target's own split-half distance), performance (test, mean ± std over seeds), training time to the quality "
        "reached, and complexity; then what reuse buys and how the composite is made "
        f"(w_q = {weights.quality:.2f}, w_t = {weights.training_efficiency:.2f}, "
        f"w_c = {weights.complexity_efficiency:.2f}).",
    ]


def _cards(
    items: list[Finetuned],
    weights: ScoreWeights,
    replicates: dict[GroupKey, ScoreReplicates],
    similarities: list[SimilarityResult],
) -> list[str]:
    pretrained = [item for item in items if item.group.key.init == "pretrained"]
    scores = reusability_scores([item.summary for item in pretrained], weights)
    lines = []
    for rank, score in enumerate(scores, 1):
        mine = sorted((i for i in pretrained if i.label == score.model), key=lambda i: i.group.key.task)
        heading = f"#### {rank}. `{score.model}` ({mine[0].group.key.modality}): composite {score.composite:.3f}"
        lines += [heading, "", "| Indicator | Value |", "|---|---|"]
        lines += [f"| {name} | {value} |" for name, value in _card_rows(score, mine, weights, replicates, similarities)]
        lines.append("")
    return lines


def _card_rows(
    score: ModelScore,
    items: list[Finetuned],
    weights: ScoreWeights,
    replicates: dict[GroupKey, ScoreReplicates],
    similarities: list[SimilarityResult],
) -> list[tuple[str, str]]:
    spec = items[0].group.results[0].specs.get("model") or {}
    complexity = f"{format_count(score.params)} parameters, {score.flops_per_example / 1e9:.3f} GFLOPs/example"
    peak = items[0].group.mean_of("complexity", "peak_memory_bytes")
    complexity += f", peak memory {peak / 2**20:.0f} MiB" if peak else ""
    return [
        ("Source data", spec.get("pretraining_data") or "not declared"),
        ("Source-to-target distance", _similarity(score.model, items, similarities)),
        ("Performance", _joined(f"{i.group.key.task} {i.group.mean:.4f} ± {i.group.std:.4f}" for i in items)),
        ("Training time to quality", _times(items)),
        ("Complexity", complexity),
        ("What reuse buys", _joined(_buys_cell(i, replicates) for i in items)),
        ("Composite", _composite_cell(score, weights)),
    ]


def _times(items: list[Finetuned]) -> str:
    return _joined(f"{i.group.key.task} {format_seconds(i.summary.time_to_quality_s)}" for i in items)


def _joined(parts) -> str:
    return " · ".join(parts)


def _similarity(model: str, items: list[Finetuned], similarities: list[SimilarityResult]) -> str:
    """The source-to-target distance per target under the first recorded method, or why there is none."""
    for sim in similarities:
        per_target = sim.source_to_target.get(model)
        if not per_target:
            continue
        methods = [m for m in METHODS if any(m in v for v in per_target.values())]
        if not methods:
            continue
        method = methods[0]
        parts = [
            _distance(sim, item.group.key.task, per_target.get(item.group.key.task, {}).get(method), method)
            for item in items
        ]
        return f"{method}: {_joined(parts)}"
    return "source unknown (no sample of its pretraining data declared)"


def _distance(sim: SimilarityResult, target: str, value: float | None, method: str) -> str:
    if value is None or not math.isfinite(value):
        return f"{target} —"
    floors = sim.split_half.get(method, [])
    i = sim.tasks.index(target) if target in sim.tasks else None
    floor = floors[i] if i is not None and i < len(floors) else None
    near = " ≈" if floor is not None and math.isfinite(floor) and value <= floor else ""
    return f"{target} {value:.3f}{near}"


def _buys_cell(item: Finetuned, replicates: dict[GroupKey, ScoreReplicates]) -> str:
    if item.twin is None or item.twin.mean is None:
        return f"{item.group.key.task}: no scratch twin"
    difference = format_difference(compare(item.group, item.twin, replicates))
    return f"{item.group.key.task} {difference}, {format_speed_up(_speed_up_ratio(item))}"


def _composite_cell(score: ModelScore, weights: ScoreWeights) -> str:
    total = weights.quality + weights.training_efficiency + weights.complexity_efficiency
    return (
        f"({weights.quality:.2f} × q {score.quality:.3f} + {weights.training_efficiency:.2f} × E_t "
        f"{score.training_efficiency:.3f} + {weights.complexity_efficiency:.2f} × E_c "
        f"{score.complexity_efficiency:.3f}) / {total:.2f} = {score.composite:.3f}"
    )
