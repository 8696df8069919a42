"""Analysis sections of the leaderboard: which rankings survive the seed spread and which cheap signal foretold
the fine-tuned ranking (which tasks look alike: `benchmark.report.similarity_tables`).

Pure functions from result records to markdown lines, so the leaderboard stays a function of the result files:
fixed column order, stable sorts (ties broken by name), seeds derived from names and fixed float formatting make
the same files give the same bytes. The maths lives in `benchmark.results.aggregate` and
`benchmark.estimators` (`reusability`, `resampling`, `rank_agreement`, `suite_agreement`); this module only
selects, pairs and formats.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

import numpy as np

from benchmark.estimators.rank_agreement import (
    MAX_EXACT_ITEMS,
    MIN_ITEMS,
    TaskAgreement,
    against_replicates,
    task_agreement,
)
from benchmark.estimators.resampling import EXAMPLE_RESAMPLING, Difference, minimum_detectable_difference, tiers
from benchmark.estimators.suite_agreement import SuiteAgreement, Verdict, best_signal, suite_agreement
from benchmark.estimators.transferability import NAMES
from benchmark.results.aggregate import (
    Group,
    GroupKey,
    ScoreReplicates,
    compare,
    group_results,
    suite_replicates,
)
from benchmark.results.schema import CellResult

ESTIMATOR_ORDER = NAMES  # the estimator catalogue's order
LINEAR_PROBE_SIGNAL = "linear_probe_score"
PARAMS_SIGNAL = "params_total"
SOURCE_SIGNAL = "source_accuracy"
BASELINE_SIGNALS = (LINEAR_PROBE_SIGNAL, PARAMS_SIGNAL, SOURCE_SIGNAL)
GROUND_TRUTH = "ground truth, resampled"
DEFAULT_RESAMPLES = 500
ALL_PAIRS_UP_TO = 6  # models per (task, protocol) whose every pair is listed; beyond, neighbours in order only
WITHIN_FLOOR = " ≈"
POWER_SCALE = (1.959964 + 0.841621) / 1.959964  # a 95 % half-width scaled to the difference detected at 80 % power


def _suite_groups(results: list[CellResult], suite: str) -> dict[GroupKey, Group]:
    return {key: group for key, group in group_results(results).items() if key.suite == suite}


# --- formats shared by the sections ---------------------------------------------------------------------


def format_speed_up(ratio: float | None) -> str:
    """'×2.50'; 'never' when the scratch twin's quality was not reached; '—' when not measured."""
    if ratio is None:
        return "—"
    if ratio == 0:
        return "never"
    return "instant" if math.isinf(ratio) else f"×{ratio:.2f}"


def format_count(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value / 1e6:.2f}M" if value >= 1e5 else f"{int(value):,}"


# --- rankings that survive another machine ---------------------------------------------------------------


@dataclass(frozen=True)
class TaskTiers:
    """The pretrained checkpoints of one (task, protocol), best mean first, their tiers, and the pair tests shown:
    every pair up to `ALL_PAIRS_UP_TO` checkpoints, neighbours in order beyond (``listed``, in display order)."""

    task: str
    protocol: str
    ordered: list[str]
    tier: dict[str, int]
    pairs: dict[tuple[str, str], Difference] = field(default_factory=dict)
    resolution: Resolution | None = None

    @property
    def paired_detectable(self) -> float | None:
        """The minimum detectable difference the pair tests themselves imply: the median half-width of their 95 %
        intervals scaled to 80 % power ((z_0.975 + z_0.8) / z_0.975); None without an interval."""
        halves = [(d.high - d.low) / 2 for d in self.pairs.values() if math.isfinite(d.low) and math.isfinite(d.high)]
        return statistics.median(halves) * POWER_SCALE if halves else None

    @property
    def listed(self) -> list[tuple[str, str]]:
        if len(self.ordered) <= ALL_PAIRS_UP_TO:
            return [(a, b) for i, a in enumerate(self.ordered) for b in self.ordered[i + 1 :]]
        return list(zip(self.ordered, self.ordered[1:], strict=False))


@dataclass(frozen=True)
class Resolution:
    """What one (task, protocol) can resolve: test examples, seeds, the pooled seed spread of its checkpoints and
    the minimum detectable difference between two of them (`resampling.minimum_detectable_difference`)."""

    n_test: int
    seeds: int
    seed_sd: float
    mean_score: float

    @property
    def detectable(self) -> float:
        return minimum_detectable_difference(self.mean_score, self.n_test, self.seed_sd, self.seeds)


def resolution(members: list[Group]) -> Resolution | None:
    """The slot's resolution from its checkpoints' groups: the smallest test size (`_test_size`), the fewest finished
    seeds, the root-mean-square seed spread, the mean score; None without a recorded test size."""
    sizes = [_test_size(r) for g in members for r in g.scored]
    sizes = [size for size in sizes if size is not None]
    if not sizes or min(sizes) < 1:
        return None
    spread = math.sqrt(statistics.fmean(g.std**2 for g in members))
    return Resolution(
        min(sizes), min(len(g.scores) for g in members), spread, statistics.fmean(g.mean for g in members)
    )


def _test_size(result: CellResult) -> int | None:
    """The test examples a result's score was computed on: its kept predictions, else its recorded setup."""
    if result.predictions is not None:
        return len(result.predictions.references)
    return result.setup.num_test_scored if result.setup is not None else None


def ranking_tiers(groups: dict[GroupKey, Group], replicates: dict[GroupKey, ScoreReplicates]) -> list[TaskTiers]:
    """Per (suite, task, protocol), the pretrained checkpoints' tiers: a checkpoint opens a new tier only when it
    is separable from the leader of the tier above (`benchmark.results.aggregate.compare`). Only the pairs the
    tiers and the listing need are tested. Ordered by task, then protocol."""
    by_slot: dict[tuple[str, str], list[Group]] = {}
    for key, group in groups.items():
        if key.init == "pretrained" and group.mean is not None:
            by_slot.setdefault((key.task, key.protocol), []).append(group)
    result = []
    for (task, protocol), members in sorted(by_slot.items()):
        members.sort(key=lambda g: (-g.mean, g.key.model))
        by_model = {g.key.model: g for g in members}
        pairs: dict[tuple[str, str], Difference] = {}

        def tested(a: str, b: str, by_model=by_model, pairs=pairs) -> Difference:
            if (a, b) not in pairs:
                pairs[a, b] = compare(by_model[a], by_model[b], replicates)
            return pairs[a, b]

        ordered = list(by_model)
        found = tiers(ordered, lambda a, b: tested(a, b).separable)
        entry = TaskTiers(task, protocol, ordered, found, pairs, resolution(members))
        for a, b in entry.listed:
            tested(a, b)
        result.append(entry)
    return result


def separability_section(
    results: list[CellResult],
    suite: str,
    replicates: dict[GroupKey, ScoreReplicates] | None = None,
    found: list[TaskTiers] | None = None,
) -> list[str]:
    """ "Rankings that survive another machine": for each task and protocol, the checkpoints' tiers and the pair
    tests behind them. ``found`` (from `ranking_tiers`) and ``replicates`` are computed when not given."""
    if found is None:
        groups = _suite_groups(results, suite)
        replicates = replicates if replicates is not None else suite_replicates(groups, DEFAULT_RESAMPLES)
        found = ranking_tiers(groups, replicates)
    lines = ["### Rankings that survive another machine", "", *_separability_intro(), ""]
    if not found:
        return lines + ["No pretrained checkpoint has a finished seed yet.", ""]
    rows = []
    for entry in found:
        lines.append(f"- **{entry.task}**, {entry.protocol}: {_tier_sentence(entry)}")
        rows += [_pair_row(entry, pair, entry.pairs[pair]) for pair in entry.listed]
    lines += ["", *_resolution_table(found)]
    if not rows:
        return lines + ["No task has two checkpoints under one protocol: there is no pair to test.", ""]
    header = ["| Task | Protocol | Pair | Difference [95 % CI] | How | Separable |", "|---|---|---|---|---|---|"]
    return lines + [*header, *rows, ""]


def _resolution_table(found: list[TaskTiers]) -> list[str]:
    """Per (task, protocol), the smallest difference its test size and seed spread can resolve."""
    known = [entry for entry in found if entry.resolution is not None]
    if not known:
        return []
    lines = [
        "What each (task, protocol) can resolve: the minimum detectable difference between two checkpoints' mean "
        "test scores at 80 % power and 5 % two-sided, from the pair tests' own intervals (median half-width, "
        "paired on test examples) and, as a planning bound, from the test size and pooled seed spread alone "
        "(taken as independent, so conservative). Smaller differences are likely to share a tier.",
        "",
        "| Task, protocol | Test examples | Seeds | Seed sd (pooled) | Detectable, paired | Detectable, unpaired |",
        "|---|---|---|---|---|---|",
    ]
    for entry in known:
        r, paired = entry.resolution, entry.paired_detectable
        cells = [f"{entry.task}, {entry.protocol}", str(r.n_test), str(r.seeds), f"{r.seed_sd:.4f}"]
        cells += ["—" if paired is None else f"{paired:.3f}", f"{r.detectable:.3f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, ""]


def _separability_intro() -> list[str]:
    return [
        "Two checkpoints are ranked apart only when the difference of their mean test scores is larger than what "
        "rerunning would move: the 95 % interval of the difference excludes zero. The interval comes from a "
        "paired bootstrap over seeds and test examples (each final run's per-example predictions; example "
        "resamples shared by both models), or, where predictions are missing, from Welch's t interval over "
        "seeds. A tier is a checkpoint and everything below it that is not separable from it; tiers are ordered, "
        "checkpoints within a tier are not.",
    ]


def _tier_sentence(entry: TaskTiers) -> str:
    members: dict[int, list[str]] = {}
    for model in entry.ordered:
        members.setdefault(entry.tier[model], []).append(f"`{model}`")
    if len(members) == 1 and len(entry.ordered) > 1:
        return "no pair is separable: " + ", ".join(members[1]) + " form one tier."
    return "; ".join(f"tier {tier}: {', '.join(names)}" for tier, names in sorted(members.items())) + "."


def _pair_row(entry: TaskTiers, pair: tuple[str, str], difference: Difference) -> str:
    verdict = {True: "yes", False: "no", None: "cannot tell (one seed, no predictions)"}[difference.separable]
    cells = [entry.task, entry.protocol, f"{pair[0]} − {pair[1]}", format_difference(difference)]
    return "| " + " | ".join(cells + [difference.method, verdict]) + " |"


def format_difference(difference: Difference) -> str:
    """'+0.0300 [+0.0100, +0.0500]', or the estimate alone with '[no interval]'."""
    if not math.isfinite(difference.low):
        return f"{difference.estimate:+.4f} [no interval]"
    return f"{difference.estimate:+.4f} [{difference.low:+.4f}, {difference.high:+.4f}]"


# --- which cheap signal predicted reuse ------------------------------------------------------------------


@dataclass(frozen=True)
class TaskSignals:
    """For one task, the pretrained models' mean fine-tuned score, bootstrap replicates of it, and each cheap
    signal's value per model."""

    task: str
    finetune: dict[str, float]
    signals: dict[str, dict[str, float]]
    truth_replicates: dict[str, np.ndarray] = field(default_factory=dict)


def task_signals(
    results: list[CellResult], suite: str, replicates: dict[GroupKey, ScoreReplicates] | None = None
) -> list[TaskSignals]:
    """Per task of `suite` (sorted): fine-tuned scores and cheap signals of the pretrained models, means over
    finished seeds, with the fine-tuned scores' replicates when given (and only where they measure noise: test
    examples resampled, or two or more seeds).

    Signals, in this order: the transferability estimators of the linear-probe cells (`ESTIMATOR_ORDER`, then
    any other name alphabetically), the linear-probe score, the parameter count (more = better) and, when a
    model spec declares it, `source_accuracy` (the checkpoint's published accuracy on its pretraining task). A
    signal recorded for no model of a task is omitted.
    """
    mine = [r for r in results if r.suite == suite and r.init == "pretrained"]
    source = _source_accuracy(mine)
    per_task: dict[str, TaskSignals] = {}
    for key, group in group_results(mine).items():
        entry = per_task.setdefault(key.task, TaskSignals(key.task, {}, {}, {}))
        for name, value in _group_signals(group).items():
            entry.signals.setdefault(name, {})[key.model] = value
        if key.protocol == "finetune" and group.mean is not None:
            entry.finetune[key.model] = group.mean
            if replicates is not None and key in replicates and _noise_measured(group, replicates[key]):
                entry.truth_replicates[key.model] = replicates[key].values
            if key.model in source:
                entry.signals.setdefault(SOURCE_SIGNAL, {})[key.model] = source[key.model]
    return [_ordered(per_task[task]) for task in sorted(per_task)]


def _noise_measured(group: Group, replicates: ScoreReplicates) -> bool:
    """Replicates say something about noise only over test examples or over two or more seeds."""
    return replicates.method == EXAMPLE_RESAMPLING or len(group.scores) >= 2


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
    extra = sorted(n for n in entry.signals if n not in set(ESTIMATOR_ORDER) | set(BASELINE_SIGNALS))
    tail = [n for n in BASELINE_SIGNALS if n in entry.signals]
    signals = {n: entry.signals[n] for n in estimators + extra + tail}
    return TaskSignals(entry.task, entry.finetune, signals, entry.truth_replicates)


def prediction_section(
    results: list[CellResult],
    suite: str,
    n_boot: int = DEFAULT_RESAMPLES,
    replicates: dict[GroupKey, ScoreReplicates] | None = None,
) -> list[str]:
    """ "Which cheap signal predicted reuse": per task, Kendall and weighted tau between each signal and the
    fine-tuned score with exact permutation p-values and their range under ground-truth noise, the truth's
    agreement with itself; then the mean over tasks of per-task weighted tau and which signal, if any, is best.

    `replicates` are the fine-tuned groups' score replicates (`benchmark.results.aggregate.suite_replicates`),
    computed with `n_boot` resamples when not given.
    """
    if replicates is None:
        replicates = suite_replicates(_suite_groups(results, suite), n_boot)
    entries = task_signals(results, suite, replicates)
    signals = list(dict.fromkeys(name for entry in entries for name in entry.signals))
    lines = ["### Which cheap signal predicted reuse", "", *_prediction_intro(), ""]
    if not signals or not any(entry.finetune for entry in entries):
        return lines + ["No pretrained model has both a fine-tune result and a cheap signal yet.", ""]
    per_signal: dict[str, dict[str, TaskAgreement]] = {signal: {} for signal in signals}
    rows = []
    for entry in entries:
        for signal, values in entry.signals.items():
            per_signal[signal][entry.task] = task_agreement(values, entry.finetune, entry.truth_replicates)
        if len(entry.finetune) < MIN_ITEMS:  # nothing to rank on this task, whatever the signal
            cells = [entry.task, "every signal", str(len(entry.finetune)), *[f"n/a (n<{MIN_ITEMS})"] * 2, "—"]
            rows.append("| " + " | ".join(cells) + " |")
            continue
        rows += [_agreement_row(entry.task, f"`{s}`", per_signal[s][entry.task]) for s in entry.signals]
        rows.append(_ground_truth_row(entry))
    header = [
        "| Task | Signal | n | Kendall τ (p) | Weighted τ (p) | Weighted τ under ground-truth noise [95 %] |",
        "|---|---|---|---|---|---|",
    ]
    suite_rows = [suite_agreement(signal, per_signal[signal]) for signal in signals]
    lines += header + rows + ["", *_suite_table(suite_rows), "", _verdict_sentence(best_signal(suite_rows)), ""]
    return lines


def _prediction_intro() -> list[str]:
    return [
        "Rank agreement between a cheap signal, measured on the pretrained model before or without fine-tuning, "
        "and the model's fine-tuned main metric on the same task (means over seeds; higher = better on both "
        "sides). Signals: the transferability estimators of the linear-probe cells, the linear-probe score, "
        f"`{PARAMS_SIGNAL}` (naive baseline: more parameters = better) and `{SOURCE_SIGNAL}` (the checkpoint's "
        "published accuracy on its pretraining task) where declared. p is the one-sided permutation p-value: the "
        f"share of all orderings of the n models (Monte Carlo beyond {MAX_EXACT_ITEMS} models, marked ≈) that agree "
        "at least as "
        "well; three models can never reach p < 1/6. The last column is the weighted τ against bootstrap "
        "replicates of the fine-tuned scores (seeds and test examples), and the "
        f"`{GROUND_TRUTH}` row is the measured ranking against its own replicates: a ceiling set by the noise.",
    ]


def _agreement_row(task: str, signal: str, agreement: TaskAgreement) -> str:
    cells = [task, signal, str(agreement.n)]
    if agreement.n < MIN_ITEMS:
        return "| " + " | ".join(cells + [f"n/a (n<{MIN_ITEMS})"] * 2 + ["—"]) + " |"
    taus = [
        _tau_with_p(agreement.kendall_tau, agreement.kendall_p, agreement.exact),
        _tau_with_p(agreement.weighted_tau, agreement.weighted_p, agreement.exact),
    ]
    noise = _interval(agreement.weighted_noise) if math.isfinite(agreement.weighted_tau) else "—"
    return "| " + " | ".join(cells + taus + [noise]) + " |"


def _tau_with_p(tau: float, p: float, exact: bool) -> str:
    if not math.isfinite(tau):
        return "n/a (tied)"
    return f"{tau:.3f} ({format_p(p, exact)})"


def format_p(p: float, exact: bool = True) -> str:
    """'p=0.167'; Monte Carlo values as 'p≈0.012'; below 0.001 as 'p<0.001'."""
    if not math.isfinite(p):
        return "p n/a"
    if p < 0.001:
        return "p<0.001"
    return f"p{'=' if exact else '≈'}{p:.3f}"


def _interval(bounds: tuple[float, float]) -> str:
    low, high = bounds
    return f"[{low:.3f}, {high:.3f}]" if math.isfinite(low) and math.isfinite(high) else "[n/a]"


def _ground_truth_row(entry: TaskSignals) -> str:
    """The fine-tuned ranking's weighted tau against its own replicates: median and 95 % interval."""
    models = sorted(m for m in entry.finetune if m in entry.truth_replicates)
    cells = [entry.task, GROUND_TRUTH, str(len(models)), "—", "—"]
    if len(models) < MIN_ITEMS or len(models) < len(entry.finetune):
        return "| " + " | ".join(cells + ["—"]) + " |"
    truth = np.array([entry.finetune[m] for m in models])
    values = against_replicates(truth, np.stack([entry.truth_replicates[m] for m in models], axis=1))["weighted_tau"]
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return "| " + " | ".join(cells + ["n/a (tied)"]) + " |"
    low, high = np.quantile(finite, [0.025, 0.975])
    return "| " + " | ".join(cells + [f"median {np.median(finite):.3f} [{low:.3f}, {high:.3f}]"]) + " |"


def _suite_table(rows: list[SuiteAgreement]) -> list[str]:
    header = [
        "**Over the suite** (mean over tasks of per-task weighted τ; tasks with fewer than "
        f"{MIN_ITEMS} models, or a constant side, are left out and counted):",
        "",
        "| Signal | Mean weighted τ | Tasks | Models per task | Left out: <3 models / tied | p (random orderings) "
        "| Under ground-truth noise [95 %] |",
        "|---|---|---|---|---|---|---|",
    ]
    body = []
    for row in rows:
        counts = sorted(row.models_per_task.values())
        models = "—" if not counts else str(counts[0]) if counts[0] == counts[-1] else f"{counts[0]}–{counts[-1]}"
        mean = f"{row.mean_weighted_tau:.3f}" if math.isfinite(row.mean_weighted_tau) else "n/a"
        cells = [f"`{row.signal}`", mean, str(row.n_tasks), models, f"{row.too_few_models} / {row.undefined}"]
        cells += [format_p(row.p_value, exact=False) if math.isfinite(row.p_value) else "—", _interval(row.noise)]
        body.append("| " + " | ".join(cells) + " |")
    return header + body


def _verdict_sentence(verdict: Verdict | None) -> str:
    """Name a best signal only when it is separated from every other; otherwise report the tie."""
    if verdict is None:
        return f"No signal has a defined mean weighted τ yet (needs a task with {MIN_ITEMS} or more models)."
    leader = verdict.leader
    chance = (
        f"against random orderings {format_p(leader.p_value, exact=False)}"
        if math.isfinite(leader.p_value)
        else "no p-value"
    )
    summary = f"`{leader.signal}` has the highest mean weighted τ ({leader.mean_weighted_tau:.3f} over "
    summary += f"{leader.n_tasks} task(s); {chance})"
    if not verdict.comparisons:
        return summary + "; it is the only signal with a defined value, so there is nothing to separate it from."
    if verdict.best is not None:
        return summary + ", and is separated from every other signal (sign-flip test over tasks, p < 0.05): best."
    tied = [c for c in verdict.comparisons if not c.separated]
    details = ", ".join(
        f"`{c.other}` ({format_p(c.p_value)} over {c.common_tasks} common task(s))"
        if math.isfinite(c.p_value)
        else f"`{c.other}` (no common task)"
        for c in tied
    )
    return (
        summary + f", but it is tied with {details}: the sign-flip test over tasks does not separate them at 5 % "
        "(with T tasks the smallest possible p is 2^-T). No single best signal."
    )


# --- which tasks look alike ------------------------------------------------------------------------------
