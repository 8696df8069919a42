"""Analysis sections of the leaderboard: which checkpoint to reuse, which cheap signal foretold it, which tasks
look alike.

Pure functions from result records to markdown lines, so the leaderboard stays a function of the result files:
fixed column order, stable sorts (ties broken by name) and fixed float formatting make the same files give
the same bytes. The maths lives in `benchmark.results.aggregate`, `benchmark.estimators.reusability` and
`benchmark.estimators.rank_agreement`; this module only selects, pairs and formats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats

from benchmark.estimators import reusability
from benchmark.estimators.rank_agreement import MIN_ITEMS_FOR_CI, rank_agreement
from benchmark.estimators.reusability import DEFAULT_WEIGHTS, CellSummary, ModelScore, reusability_scores
from benchmark.results.aggregate import Group, best_scores, group_results
from benchmark.results.schema import CellResult, SimilarityResult
from benchmark.specs.schema import ScoreWeights

SCRATCH_SUFFIX = " (scratch)"
ESTIMATOR_ORDER = ("logme", "h_score", "knn_loo_acc", "leep", "nce")
LINEAR_PROBE_SIGNAL = "linear_probe_score"
PARAMS_SIGNAL = "params_total"
SOURCE_SIGNAL = "source_accuracy"
POOLED = "all tasks (pooled)"
SIMILARITY_METHODS = {
    "bures": "class-conditional Bures-Wasserstein optimal-transport distance",
    "task2vec": "Task2Vec cosine distance of Fisher embeddings",
}


def variant_label(model: str, init: str) -> str:
    """A model variant's display name: the pretrained checkpoint keeps its id, its twin gets ' (scratch)'."""
    return model + (SCRATCH_SUFFIX if init == "scratch" else "")


# --- which checkpoint to reuse ---------------------------------------------------------------------------


def finetune_summaries(results: list[CellResult], suite: str) -> tuple[list[CellSummary], list[str]]:
    """One `CellSummary` per fine-tuned (variant, task) of `suite`, aggregated over seeds, and the variants
    left out with the reason (no finished seed, or no chance level, FLOPs or parameter count recorded).

    Scratch twins are labelled with `variant_label`. Time to target is measured against the best mean score
    any model, init or protocol reached on the task (`benchmark.aggregate.best_scores`).
    """
    groups = {key: group for key, group in group_results(results).items() if key.suite == suite}
    best = best_scores(groups)
    summaries, skipped = [], []
    for key, group in groups.items():
        if key.protocol != "finetune":
            continue
        label = variant_label(key.model, key.init)
        missing = _missing_inputs(group)
        if missing:
            skipped.append(f"{label} on {key.task}: no {', '.join(missing)}")
            continue
        train_s = group.mean_of("timing", "train_wall_s")
        summaries.append(
            CellSummary(
                model=label,
                task=key.task,
                score=group.mean,
                chance=group.chance,
                time_to_target_s=group.time_to_target(best[(suite, key.task)]),
                train_time_s=math.nan if train_s is None else train_s,
                flops_per_example=group.mean_of("complexity", "flops_per_example"),
                params=round(group.mean_of("complexity", "params_total")),
            )
        )
    return summaries, skipped


def _missing_inputs(group: Group) -> list[str]:
    """What a group lacks to be scored: a finished seed, a chance level, positive FLOPs and parameter counts."""
    if group.mean is None:
        return ["finished seed"]
    flops, params = group.mean_of("complexity", "flops_per_example"), group.mean_of("complexity", "params_total")
    missing = ["chance level"] if group.chance is None else []
    missing += ["FLOPs"] if flops is None or flops <= 0 else []
    return missing + (["parameter count"] if params is None or params <= 0 else [])


def reusability_section(results: list[CellResult], suite: str, weights: ScoreWeights = DEFAULT_WEIGHTS) -> list[str]:
    """Composite reusability ranking of the suite's pretrained checkpoints, one table per modality.

    Only pretrained fine-tune cells are ranked: the question is which checkpoint to reuse. Each scratch twin
    is shown below the ranking as an unranked reference row, scored as one extra candidate against the
    pretrained field (pretrained cells plus that twin's), so the twins never change the pretrained scores
    and the row shows where training from scratch would have landed. Models from different modalities share
    no task, so each modality gets its own table.
    """
    mine = [r for r in results if r.suite == suite]
    lines = ["### Which checkpoint to reuse", "", *_formula_lines(weights), ""]
    for modality in sorted({r.modality for r in mine}):
        summaries, skipped = finetune_summaries([r for r in mine if r.modality == modality], suite)
        lines += [f"#### {modality}", "", *_ranking_table(summaries, weights), ""]
        lines += [f"- left out: {reason}" for reason in skipped] + ([""] if skipped else [])
    return lines


def _formula_lines(weights: ScoreWeights) -> list[str]:
    """The composite's formula, quoted from `benchmark.estimators.reusability`'s docstring, and the weights used."""
    formula = [line[4:] for line in (reusability.__doc__ or "").splitlines() if line.startswith("    ")]
    return [
        "Composite reusability score of each pretrained checkpoint (fine-tune protocol, mean over seeds). For every "
        "task t, over the models m fine-tuned on it:",
        "",
        "```text",
        *formula,
        "```",
        "",
        f"Q, E_t and E_c are the parts averaged over the model's tasks. Weights used: w_q = {weights.quality:.2f}, "
        f"w_t = {weights.training_efficiency:.2f}, w_c = {weights.complexity_efficiency:.2f}. Time to target: first "
        "evaluation at or above 95 % of the best mean score any model, init or protocol reached on the task. "
        "Rows ranked `ref` are scratch twins, each scored against the pretrained field; they are not ranked.",
    ]


def _ranking_table(summaries: list[CellSummary], weights: ScoreWeights) -> list[str]:
    """Ranked pretrained rows, then the scratch twins' reference rows."""
    pretrained = [c for c in summaries if not c.model.endswith(SCRATCH_SUFFIX)]
    if not pretrained:
        return ["No finished pretrained fine-tune cell to rank."]
    rows = [_score_row(str(rank), score) for rank, score in enumerate(reusability_scores(pretrained, weights), 1)]
    rows += [_score_row("ref", score) for score in scratch_reference_scores(summaries, weights)]
    header = "| Rank | Model | Composite | Quality Q | Training eff. E_t | Complexity eff. E_c | Tasks |"
    return [header, "|---|---|---|---|---|---|---|", *rows]


def scratch_reference_scores(summaries: list[CellSummary], weights: ScoreWeights = DEFAULT_WEIGHTS) -> list[ModelScore]:
    """Each scratch twin's score against the pretrained field plus itself, best first, ties by name."""
    pretrained = [c for c in summaries if not c.model.endswith(SCRATCH_SUFFIX)]
    twins = sorted({c.model for c in summaries if c.model.endswith(SCRATCH_SUFFIX)})
    scores = []
    for twin in twins:
        field = pretrained + [c for c in summaries if c.model == twin]
        scores += [s for s in reusability_scores(field, weights) if s.model == twin]
    return sorted(scores, key=lambda s: (-s.composite, s.model))


def _score_row(rank: str, score: ModelScore) -> str:
    parts = (score.composite, score.quality, score.training_efficiency, score.complexity_efficiency)
    return f"| {rank} | {score.model} | " + " | ".join(f"{v:.3f}" for v in parts) + f" | {score.n_tasks} |"


# --- which cheap signal predicted reuse ------------------------------------------------------------------


@dataclass(frozen=True)
class TaskSignals:
    """For one task, the pretrained models' mean fine-tuned score and each cheap signal's value per model."""

    task: str
    finetune: dict[str, float]
    signals: dict[str, dict[str, float]]


def task_signals(results: list[CellResult], suite: str) -> list[TaskSignals]:
    """Per task of `suite` (sorted): fine-tuned scores and cheap signals of the pretrained models, means over
    finished seeds.

    Signals, in this order: the transferability estimators of the linear-probe cells (`ESTIMATOR_ORDER`, then
    any other name alphabetically), the linear-probe score, the parameter count (more = better) and, when any
    model spec declares `source_accuracy`, that. A signal recorded for no model of a task is omitted.
    """
    mine = [r for r in results if r.suite == suite and r.init == "pretrained"]
    groups = group_results(mine)
    source = _source_accuracy(mine)
    per_task: dict[str, TaskSignals] = {}
    for key, group in groups.items():
        entry = per_task.setdefault(key.task, TaskSignals(key.task, {}, {}))
        for name, value in _group_signals(group).items():
            entry.signals.setdefault(name, {})[key.model] = value
        if key.protocol == "finetune" and group.mean is not None:
            entry.finetune[key.model] = group.mean
            if key.model in source:
                entry.signals.setdefault(SOURCE_SIGNAL, {})[key.model] = source[key.model]
    return [_ordered(per_task[task]) for task in sorted(per_task)]


def _group_signals(group: Group) -> dict[str, float]:
    """The signals one group contributes: estimators and score of a linear probe, parameters of a fine-tune."""
    if group.key.protocol == "linear_probe":
        names = {name for r in group.ok for name in r.estimators}
        values = {name: group.mean_of("estimators", name) for name in names}
        values[LINEAR_PROBE_SIGNAL] = group.mean
    else:
        values = {PARAMS_SIGNAL: group.mean_of("complexity", "params_total")}
    return {name: value for name, value in values.items() if value is not None}


def _source_accuracy(results: list[CellResult]) -> dict[str, float]:
    """`source_accuracy` per model, from the first result (in model, task, seed order) whose spec declares it."""
    found: dict[str, float] = {}
    for r in sorted(results, key=lambda r: (r.model, r.task, r.protocol, r.seed)):
        value = (r.specs.get("model") or {}).get(SOURCE_SIGNAL)
        if isinstance(value, int | float) and r.model not in found:
            found[r.model] = float(value)
    return found


def _ordered(entry: TaskSignals) -> TaskSignals:
    estimators = [n for n in ESTIMATOR_ORDER if n in entry.signals]
    fixed = set(ESTIMATOR_ORDER) | {LINEAR_PROBE_SIGNAL, PARAMS_SIGNAL, SOURCE_SIGNAL}
    extra = sorted(n for n in entry.signals if n not in fixed)
    tail = [n for n in (LINEAR_PROBE_SIGNAL, PARAMS_SIGNAL, SOURCE_SIGNAL) if n in entry.signals]
    return TaskSignals(entry.task, entry.finetune, {n: entry.signals[n] for n in estimators + extra + tail})


def within_task_ranks(values: dict[str, float]) -> dict[str, float]:
    """Ranks scaled to [0, 1] (lowest 0, highest 1, ties share their average rank); needs two or more values."""
    models = sorted(values)
    ranks = stats.rankdata([values[m] for m in models])
    return {m: float((r - 1) / (len(models) - 1)) for m, r in zip(models, ranks, strict=True)}


def pooled_agreement(entries: list[TaskSignals], signal: str, n_boot: int = 1000) -> tuple[dict[str, float], int]:
    """Rank agreement of `signal` with the fine-tuned score pooled over tasks, and the number of tasks used.

    Within each task, both sides become `within_task_ranks` of the models scored on both (tasks with fewer
    than two such models add nothing); the (task, model) items are then pooled into one `rank_agreement`,
    whose bootstrap resamples (task, model) items. Ranking first removes each task's scale (LogME of one
    task is not comparable with another's), so the pooled tau is +1 when every task is ordered right and -1
    when every task is ordered backwards; pairs across tasks count as well, comparing standings.
    """
    pred, true, tasks = {}, {}, 0
    for entry in entries:
        values = entry.signals.get(signal, {})
        common = [m for m in values if m in entry.finetune and math.isfinite(values[m] + entry.finetune[m])]
        if len(common) < 2:
            continue
        tasks += 1
        pred.update({f"{entry.task}/{m}": r for m, r in within_task_ranks({m: values[m] for m in common}).items()})
        true.update(
            {f"{entry.task}/{m}": r for m, r in within_task_ranks({m: entry.finetune[m] for m in common}).items()}
        )
    return rank_agreement(pred, true, n_boot=n_boot), tasks


def prediction_section(results: list[CellResult], suite: str, n_boot: int = 1000) -> list[str]:
    """The "which cheap signal predicted reuse" section: Kendall and weighted tau, with bootstrap 95 % intervals,
    between each signal and the fine-tuned score of the same pretrained models, per task and pooled over the suite.

    n is printed beside every tau; below `MIN_ITEMS_FOR_CI` models a tau says nothing and prints
    "n/a (n<3)", and an undefined tau (a constant side) prints "n/a (tied)". The pooled row ranks within
    each task and pools the (task, model) items (`pooled_agreement`). `n_boot` bootstrap resamples per
    interval, all computed at once from draw counts (`benchmark.estimators.rank_agreement`).
    """
    entries = task_signals(results, suite)
    signals = list(dict.fromkeys(name for entry in entries for name in entry.signals))
    lines = ["### Which cheap signal predicted reuse", "", *_prediction_intro(), ""]
    if not signals or not any(entry.finetune for entry in entries):
        return lines + ["No pretrained model has both a fine-tune result and a cheap signal yet.", ""]
    rows, pooled = [], {}
    for entry in entries:
        for signal in entry.signals:
            agreement = rank_agreement(entry.signals[signal], entry.finetune, n_boot=n_boot)
            rows.append(_agreement_row(entry.task, signal, agreement, f"{agreement['n']}"))
    for signal in signals:
        agreement, tasks = pooled_agreement(entries, signal, n_boot=n_boot)
        pooled[signal] = agreement
        rows.append(_agreement_row(POOLED, signal, agreement, f"{agreement['n']} in {tasks} task(s)"))
    header = ["| Task | Signal | n | Kendall τ [95 % CI] | Weighted τ [95 % CI] |", "|---|---|---|---|---|"]
    return lines + header + rows + ["", _best_signal_sentence(pooled), ""]


def _prediction_intro() -> list[str]:
    return [
        "Rank agreement between a cheap signal, measured on the pretrained model before or without fine-tuning, "
        "and the model's fine-tuned main metric on the same task (both means over seeds; higher = better on both "
        "sides). Signals: the transferability estimators of the linear-probe cells, the linear-probe score, "
        f"`{PARAMS_SIGNAL}` (naive baseline: more parameters = better) and `{SOURCE_SIGNAL}` where declared. "
        "n is the number of models compared; the pooled rows rank the models within each task and pool the "
        "(task, model) items. With two or three models per task a tau is coarse: read n and the interval.",
    ]


def _agreement_row(task: str, signal: str, agreement: dict[str, float], n: str) -> str:
    cells = [task, f"`{signal}`", n, _tau(agreement, "kendall_tau"), _tau(agreement, "weighted_tau")]
    return "| " + " | ".join(cells) + " |"


def _tau(agreement: dict[str, float], name: str) -> str:
    """'0.333 [-0.333, 1.000]', or why there is no number."""
    if agreement["n"] < MIN_ITEMS_FOR_CI:
        return f"n/a (n<{MIN_ITEMS_FOR_CI})"
    if not math.isfinite(agreement[name]):
        return "n/a (tied)"
    low, high = agreement[f"{name}_low"], agreement[f"{name}_high"]
    interval = f"[{low:.3f}, {high:.3f}]" if math.isfinite(low) and math.isfinite(high) else "[n/a]"
    return f"{agreement[name]:.3f} {interval}"


def _best_signal_sentence(pooled: dict[str, dict[str, float]]) -> str:
    """The signal with the highest pooled Kendall tau (first in signal order on a tie)."""
    usable = {s: a for s, a in pooled.items() if a["n"] >= MIN_ITEMS_FOR_CI and math.isfinite(a["kendall_tau"])}
    if not usable:
        return f"No signal has a defined pooled tau yet (needs {MIN_ITEMS_FOR_CI} or more items, not all tied)."
    best = max(usable, key=lambda s: usable[s]["kendall_tau"])
    return (
        f"Highest pooled Kendall τ: `{best}` ({usable[best]['kendall_tau']:.3f} over {usable[best]['n']} "
        "(task, model) items)."
    )


# --- which tasks look alike ------------------------------------------------------------------------------


def similarity_section(similarities: list[SimilarityResult]) -> list[str]:
    """Every task-to-task distance matrix as a table (3 decimals), per modality and method, naming the encoder;
    each followed by one sentence per task naming its nearest other task; then source-to-target distances."""
    lines = ["### Which tasks look alike", ""]
    if not similarities:
        return lines + ["No similarity file yet.", ""]
    for sim in sorted(similarities, key=lambda s: (s.suite, s.modality)):
        lines += [
            f"#### {sim.modality} (suite `{sim.suite}`)",
            "",
            f"Distances in the feature space of the fixed encoder `{sim.encoder}` (0 = same task, smaller = more "
            "alike).",
            "",
        ]
        for method in sorted(sim.distances):
            lines += [f"**{_method_name(method)}**", "", *_matrix_table(sim.tasks, sim.distances[method]), ""]
            lines += [*_nearest_sentences(sim.tasks, sim.distances[method]), ""]
        lines += _source_tables(sim)
    return lines


def _method_name(method: str) -> str:
    description = SIMILARITY_METHODS.get(method)
    return f"{method}: {description}" if description else method


def _matrix_table(tasks: list[str], matrix: list[list[float]]) -> list[str]:
    rows = [
        f"| {task} | " + " | ".join(_distance(v) for v in row) + " |" for task, row in zip(tasks, matrix, strict=True)
    ]
    return ["| Task | " + " | ".join(tasks) + " |", "|---|" + "---|" * len(tasks), *rows]


def _distance(value: float | None) -> str:
    """3 decimals; '—' for a pair not measured, 'n/a' for a measurement that came out undefined."""
    if value is None:
        return "—"
    return f"{value:.3f}" if math.isfinite(value) else "n/a"


def nearest_tasks(tasks: list[str], matrix: list[list[float]]) -> dict[str, tuple[str, float] | None]:
    """Each task's nearest other task and its distance (first in task order on a tie); None without one."""
    nearest = {}
    for i, task in enumerate(tasks):
        others = [(matrix[i][j], j) for j in range(len(tasks)) if j != i and math.isfinite(matrix[i][j])]
        best = min(others, default=None)
        nearest[task] = None if best is None else (tasks[best[1]], best[0])
    return nearest


def _nearest_sentences(tasks: list[str], matrix: list[list[float]]) -> list[str]:
    return [
        f"- `{task}` has no other task measured."
        if hit is None
        else f"- `{task}` is nearest to `{hit[0]}` ({hit[1]:.3f})."
        for task, hit in nearest_tasks(tasks, matrix).items()
    ]


def _source_tables(sim: SimilarityResult) -> list[str]:
    """Per method, each model's pretraining sample to every task; empty when no model declared a sample."""
    if not sim.source_to_target:
        return []
    models = sorted(sim.source_to_target)
    methods = sorted({m for per_task in sim.source_to_target.values() for d in per_task.values() for m in d})
    lines = []
    for method in methods:
        lines += [f"**Source to target, {_method_name(method)}**", "", "| Model | " + " | ".join(sim.tasks) + " |"]
        lines.append("|---|" + "---|" * len(sim.tasks))
        for model in models:
            per_task = sim.source_to_target[model]
            cells = [_distance(per_task.get(task, {}).get(method)) for task in sim.tasks]
            lines.append(f"| {model} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines
