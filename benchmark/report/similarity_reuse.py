"""The leaderboard section "Does task similarity predict reuse?": is a checkpoint whose source task is closer to
the target the one that gains most over its scratch twin there?

A *pair* is a (pretrained checkpoint, target task) of one suite and modality with a source-to-target distance
(`SimilarityResult.source_to_target`, the checkpoint's pretraining data embedded by the modality's fixed encoder),
a finished fine-tune and a finished scratch twin (`benchmark.results.aggregate.scratch_twin`, which follows a
declared shared twin). Its gain is the fine-tuned mean test main score minus the twin's. The statistics live in
`benchmark.estimators.source_similarity`; this module pairs, selects and formats, deterministically (Monte Carlo
seeds derived from names, stable sorts, fixed float formats).

The section is omitted (no lines at all) when no modality of the suite has `MIN_PAIRS` pairs, so leaderboards
without declared sources render exactly as before.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from benchmark.estimators.resampling import ALPHA, EXAMPLE_RESAMPLING, SEED_RESAMPLING, Difference, bootstrap_difference
from benchmark.estimators.source_similarity import (
    MAX_EXACT_ORDERINGS,
    MIN_PAIRS,
    MONTE_CARLO_PERMUTATIONS,
    Correlation,
    WithinTarget,
    is_control,
    pooled_correlation,
    welch_gain_difference,
    within_target_correlation,
)
from benchmark.estimators.task_distance import METHODS
from benchmark.report import similarity_checks as checks
from benchmark.report.sections import WITHIN_FLOOR, format_difference, format_p
from benchmark.results.aggregate import (
    Group,
    GroupKey,
    ScoreReplicates,
    compare,
    family_of,
    group_results,
    scratch_twin,
    stable_seed,
    suite_replicates,
)
from benchmark.results.schema import CellResult, SimilarityResult

DEFAULT_RESAMPLES = 500
TITLE = "### Does task similarity predict reuse?"


@dataclass(frozen=True)
class ReusePair:
    """A checkpoint with a declared source, on one target: its finite source-to-target distance per method, the
    target's split-half distance per method (None where not recorded), its fine-tune and scratch-twin groups,
    and its family (`aggregate.family_of`: architecture and starting weights)."""

    model: str
    source: str | None
    target: str
    distances: dict[str, float]
    floors: dict[str, float | None]
    pretrained: Group
    scratch: Group
    family: str = ""

    @property
    def control(self) -> bool:
        """A negative control (`source_similarity.is_control`): reported, never correlated."""
        return is_control(self.source)

    @property
    def gain(self) -> float:
        return self.pretrained.mean - self.scratch.mean

    @property
    def gain_std(self) -> float:
        """The seed standard deviation of one seed's gain, sqrt(s_pretrained^2 + s_scratch^2)."""
        return math.hypot(self.pretrained.std, self.scratch.std)

    def within_floor(self, method: str) -> bool:
        """The source is no further from the target than a resample of the target is from itself."""
        floor, distance = self.floors.get(method), self.distances.get(method)
        return floor is not None and distance is not None and distance <= floor


def reuse_pairs(groups: dict[GroupKey, Group], sim: SimilarityResult) -> list[ReusePair]:
    """The pairs of one `SimilarityResult` (its suite and modality) whose fine-tune and scratch twin both have a
    score, by target then model. Source names come from `source_tasks` where the file records them."""
    sources = sim.source_tasks
    pairs = []
    for model, per_target in sim.source_to_target.items():
        for target, by_method in per_target.items():
            distances = {m: float(v) for m, v in by_method.items() if v is not None and math.isfinite(v)}
            key = GroupKey(sim.suite, sim.modality, target, model, "pretrained", "finetune")
            pretrained = groups.get(key)
            twin = scratch_twin(groups, key) if pretrained is not None else None
            if distances and pretrained is not None and pretrained.mean is not None and twin and twin.mean is not None:
                floors, family = _floors(sim, target), family_of(pretrained.results[0])
                pairs.append(ReusePair(model, sources.get(model), target, distances, floors, pretrained, twin, family))
    return sorted(pairs, key=lambda p: (p.target, p.model))


def _floors(sim: SimilarityResult, target: str) -> dict[str, float | None]:
    """The target's split-half distance per method; empty when the target is not among the file's tasks."""
    if target not in sim.tasks:
        return {}
    i = sim.tasks.index(target)
    floors = {}
    for method, values in sim.split_half.items():
        value = values[i] if i < len(values) else None
        floors[method] = float(value) if value is not None and math.isfinite(value) else None
    return floors


def _unpaired(groups: dict[GroupKey, Group], sim: SimilarityResult, pairs: list[ReusePair]) -> list[str]:
    """Declared (model, target) distances left out, with the reason."""
    paired = {(p.model, p.target) for p in pairs}
    reasons = []
    for model, per_target in sorted(sim.source_to_target.items()):
        for target in sorted(per_target):
            if (model, target) in paired:
                continue
            key = GroupKey(sim.suite, sim.modality, target, model, "pretrained", "finetune")
            pretrained = groups.get(key)
            twin = scratch_twin(groups, key) if pretrained is not None else None
            if pretrained is None or pretrained.mean is None:
                reason = "no finished fine-tune"
            elif twin is None or twin.mean is None:
                reason = "no finished scratch twin"
            else:
                reason = "no finite distance"
            reasons.append(f"`{model}` on {target}: {reason}")
    return reasons


def distance_methods(pairs: list[ReusePair]) -> list[str]:
    """The methods measured for some pair: `task_distance.METHODS` order first (the first leads), then others."""
    found = {m for p in pairs for m in p.distances}
    return [m for m in METHODS if m in found] + sorted(found - set(METHODS))


# --- statistics ------------------------------------------------------------------------------------------


def gain_replicates(pairs: list[ReusePair], replicates: dict[GroupKey, ScoreReplicates]) -> dict:
    """Bootstrap replicates of each pair's gain, ``{(model, target): (values, method)}``: the fine-tune's replicates
    minus its twin's (on one task the example resamples are shared, so the difference is paired)."""
    found = {}
    for p in pairs:
        a, b = replicates[p.pretrained.key], replicates[p.scratch.key]
        both = a.method == b.method == EXAMPLE_RESAMPLING
        found[p.model, p.target] = (a.values - b.values, EXAMPLE_RESAMPLING if both else SEED_RESAMPLING)
    return found


@dataclass(frozen=True)
class MethodAnalysis:
    """Both correlations of one distance method over the pairs that have it."""

    method: str
    pairs: tuple[ReusePair, ...]
    pooled: Correlation
    within: WithinTarget
    within_family: WithinTarget  # strata: a target and one family (an architecture and its starting weights)

    @property
    def leads_within(self) -> bool:
        """The within-target mean leads wherever it is defined; the pooled rho only where it is not."""
        return self.within.correlation.defined

    @property
    def lead(self) -> Correlation:
        return self.within.correlation if self.leads_within else self.pooled

    @property
    def lead_name(self) -> str:
        return "within-target mean ρ" if self.leads_within else "pooled ρ"


def analyse(pairs: list[ReusePair], method: str, replicated: dict | None = None, seed: int = 0) -> MethodAnalysis:
    """Pooled, within-target and within-family Spearman rho between similarity (minus the distance) and gain over
    the pairs with a `method` distance, negative controls left out; intervals from ``replicated``
    (`gain_replicates`) when given."""
    mine = tuple(p for p in pairs if method in p.distances and not p.control)
    similarity = [-p.distances[method] for p in mine]
    gains = [p.gain for p in mine]
    rows = None
    if replicated and mine:
        rows = np.stack([replicated[p.model, p.target][0] for p in mine], axis=1)
    pooled = pooled_correlation(similarity, gains, rows, seed)
    within = within_target_correlation(similarity, gains, [p.target for p in mine], rows, seed + 1)
    # Within one family (architecture and starting weights) gains differ by what was trained on alone.
    strata = [f"{p.target} × {p.family}" for p in mine]
    within_family = within_target_correlation(similarity, gains, strata, rows, seed + 2)
    return MethodAnalysis(method, mine, pooled, within, within_family)


@dataclass(frozen=True)
class TargetChoice:
    """On one target under one method: the checkpoint whose source is nearest, the runner-up, the checkpoint with
    the largest gain and, when they differ, the difference of their gains with its 95 % interval."""

    target: str
    method: str
    floor: float | None
    checkpoints: int
    most_similar: ReusePair
    runner_up: ReusePair | None
    best_gain: ReusePair
    difference: Difference | None

    @property
    def coincide(self) -> bool:
        return self.most_similar is self.best_gain

    @property
    def runner_up_within_floor(self) -> bool:
        """The runner-up is no further beyond the nearest source than the target's split-half distance: the data
        cannot tell which of the two sources is nearer."""
        if self.runner_up is None or self.floor is None:
            return False
        gap = self.runner_up.distances[self.method] - self.most_similar.distances[self.method]
        return gap <= self.floor


def target_choices(
    pairs: list[ReusePair], method: str, replicates: dict[GroupKey, ScoreReplicates]
) -> list[TargetChoice]:
    """Per target with two or more checkpoints measured by `method`: most similar source against largest gain."""
    by_target: dict[str, list[ReusePair]] = {}
    for p in pairs:
        if method in p.distances:
            by_target.setdefault(p.target, []).append(p)
    choices = []
    for target, mine in sorted(by_target.items()):
        if len(mine) < 2:
            continue
        nearest = sorted(mine, key=lambda p: (p.distances[method], p.model))
        best = min(mine, key=lambda p: (-p.gain, p.model))
        difference = None if best is nearest[0] else gain_difference(best, nearest[0], replicates)
        floor = nearest[0].floors.get(method)
        choices.append(TargetChoice(target, method, floor, len(mine), nearest[0], nearest[1], best, difference))
    return choices


def gain_difference(a: ReusePair, b: ReusePair, replicates: dict[GroupKey, ScoreReplicates]) -> Difference:
    """gain(a) - gain(b) with its 95 % interval. With one shared scratch twin the gain difference is the fine-tunes'
    difference, tested as the separability section tests it (`aggregate.compare`); with two twins, a paired
    bootstrap of the gain replicates when all four groups resample test examples, else Welch over seeds."""
    if a.scratch.key == b.scratch.key:
        return compare(a.pretrained, b.pretrained, replicates)
    groups = (a.pretrained, a.scratch, b.pretrained, b.scratch)
    found = [replicates.get(g.key) for g in groups]
    if all(r is not None and r.method == EXAMPLE_RESAMPLING for r in found):
        gain_a, gain_b = found[0].values - found[1].values, found[2].values - found[3].values
        return bootstrap_difference(a.gain - b.gain, gain_a, gain_b, EXAMPLE_RESAMPLING)
    return welch_gain_difference(*(g.scores for g in groups))


# --- the section -----------------------------------------------------------------------------------------


def similarity_reuse_section(
    results: list[CellResult],
    suite: str,
    similarities: list[SimilarityResult],
    replicates: dict[GroupKey, ScoreReplicates] | None = None,
    n_boot: int = DEFAULT_RESAMPLES,
) -> list[str]:
    """ "Does task similarity predict reuse?" for `suite`: per modality with `MIN_PAIRS` or more pairs, a verdict,
    the correlations of every distance method, the per-target choice and every pair. ``replicates`` are the suite's
    score replicates (`aggregate.suite_replicates`), computed with `n_boot` resamples for the groups needed when
    not given. No lines at all when no modality has enough pairs."""
    groups = group_results([r for r in results if r.suite == suite])
    mine = sorted((s for s in similarities if s.suite == suite), key=lambda s: (s.modality, s.encoder))
    primary = [s for s in mine if s.role == "primary"]
    found = {sim.modality: (sim, reuse_pairs(groups, sim)) for sim in primary if sim.source_to_target}
    if not any(len(_transfer(pairs)) >= MIN_PAIRS for _, pairs in found.values()):
        return []
    lines = [TITLE, "", _intro(), ""]
    for modality, (sim, pairs) in found.items():
        lines += [f"#### {modality}", ""]
        if len(_transfer(pairs)) < MIN_PAIRS:
            lines += [
                f"Only {len(_transfer(pairs))} pair(s) with a declared source (not a control) and finished "
                f"fine-tunes: needs {MIN_PAIRS}.",
                "",
            ]
            lines += [f"- left out: {reason}" for reason in _unpaired(groups, sim, pairs)] + [""]
            continue
        needed = {g.key: g for p in pairs for g in (p.pretrained, p.scratch)}
        if replicates is None or any(key not in replicates for key in needed):
            replicates = {**(replicates or {}), **suite_replicates(needed, n_boot)}
        checks_of = [s for s in mine if s.role == "check" and s.modality == modality and s.source_to_target]
        lines += _modality_lines(groups, sim, pairs, replicates, checks_of)
    return lines


def _transfer(pairs: list[ReusePair]) -> list[ReusePair]:
    return [p for p in pairs if not p.control]


def _check_analyses(groups, check_sims: list[SimilarityResult], replicates) -> list[tuple[str, MethodAnalysis]]:
    """The same analyses on each check encoder's distances: (encoder, analysis) per method it measured."""
    found = []
    for check in check_sims:
        transfer = [
            p
            for p in _transfer(reuse_pairs(groups, check))
            if p.pretrained.key in replicates and p.scratch.key in replicates
        ]
        if len(transfer) < MIN_PAIRS:
            continue
        replicated = gain_replicates(transfer, replicates)
        for method in distance_methods(transfer):
            seed = stable_seed(check.suite, check.modality, check.encoder, method)
            found.append((check.encoder, analyse(transfer, method, replicated, seed)))
    return found


def _modality_lines(groups, sim: SimilarityResult, pairs: list[ReusePair], replicates, check_sims) -> list[str]:
    transfer = _transfer(pairs)
    replicated = gain_replicates(transfer, replicates)
    methods = distance_methods(transfer)
    analyses = [
        analyse(transfer, method, replicated, stable_seed(sim.suite, sim.modality, method)) for method in methods
    ]
    choices = {method: target_choices(transfer, method, replicates) for method in methods}
    how = {method for _, method in replicated.values()}
    lines = [verdict(analyses, choices[methods[0]]), ""]
    if power := checks.power_sentence(analyses[0]):
        lines += [power, ""]
    lines += checks.leave_one_out_lines(analyses[0], stable_seed(sim.suite, sim.modality, methods[0], "loto"))
    lines += checks.encoder_lines(sim.encoder, analyses, _check_analyses(groups, check_sims, replicates))
    lines += _correlation_table(analyses, how)
    lines += _choice_table(analyses, choices)
    lines += checks.control_lines(pairs, replicates)
    lines += _pair_table(pairs, methods, replicates)
    left_out = _unpaired(groups, sim, pairs)
    return lines + [f"- left out: {reason}" for reason in left_out] + ([""] if left_out else [])


def _intro() -> str:
    return (
        "Does a checkpoint whose source task (its pretraining data, embedded by the modality's fixed encoder) is "
        "closer to the target gain more over its scratch twin there? A pair is a checkpoint with a declared source "
        "and a target it was fine-tuned on; its gain is the mean test main score minus its scratch twin's "
        "(fine-tune protocol, means over seeds). ρ is Spearman's rank correlation between similarity (minus the "
        "source-to-target distance) and gain: **ρ > 0 means more similar sources gave larger gains**. The "
        f"*within-target* ρ is computed over each target's checkpoints (targets with {MIN_PAIRS} or more) and "
        "averaged over targets; the *pooled* ρ over all pairs at once. The within-target mean leads: distances and "
        "gains have target-specific scales, and pooling can turn differences between targets into a correlation "
        "that no target shows among its own checkpoints; the pooled ρ leads only where no target has "
        f"{MIN_PAIRS} checkpoints. *Within target and family* averages ρ over the checkpoints of one "
        "target that share a family (one architecture and the weights its training started from), so that a family "
        "of strong checkpoints cannot make the correlation on its own; negative controls (source tasks named "
        "`ctl_…`, e.g. shuffled labels) are reported apart and enter no correlation; *Strata* counts the targets or "
        "groups averaged. "
        "p is a permutation p-value, one-sided for the hypothesis (similar sources gain "
        "more) and two-sided: gains permuted over all pairs (pooled) or within each target (within-target), every "
        f"ordering when there are at most {MAX_EXACT_ORDERINGS:,}, else {MONTE_CARLO_PERMUTATIONS:,} seeded random "
        "ones (≈); the verdict counts a one-sided p below 0.05 as evidence. The interval is the central 95 % of ρ "
        "recomputed on bootstrap replicates of every gain (seeds, and test examples where per-example predictions "
        "exist; distances held fixed): how far the gains' measurement noise moves ρ. The distances' own noise is "
        "each target's split-half distance: a source at or below it is marked"
        f"{WITHIN_FLOOR}, indistinguishable from the target itself. Gains are shown ± the seed standard deviation of "
        "one seed's gain, √(s_pretrained² + s_scratch²)."
    )


def _statistic(c: Correlation) -> str:
    return f"ρ = {c.rho:.3f} ({format_p(c.p_greater, c.exact)} one-sided, {format_p(c.p_two_sided, c.exact)} two-sided)"


def _noise_clause(c: Correlation) -> str:
    low, high = c.noise
    if not (math.isfinite(low) and math.isfinite(high)):
        return ""
    sign = "its sign survives that noise" if low > 0 or high < 0 else "that noise can flip its sign"
    return f"; the gains' measurement noise moves it within [{low:.3f}, {high:.3f}] ({sign})"


def verdict(analyses: list[MethodAnalysis], choices: list[TargetChoice]) -> str:
    """One plain paragraph from the numbers: the leading method's leading statistic and what it says, the other
    summary, the per-target agreement, the noise floor, and the other methods in a sentence each."""
    lead = analyses[0]
    c = lead.lead
    targets = sorted({p.target for p in lead.pairs})
    if lead.leads_within:
        what = f"the within-target ρ averaged over {len(lead.within.used)} target(s) ({c.n} pairs)"
    else:
        what = f"the pooled ρ over {c.n} pairs on {len(targets)} target(s)"
    if not c.defined:
        text = (
            f"**No verdict**: with `{lead.method}` distances no rank correlation is defined over {len(lead.pairs)} "
            "pair(s) (too few pairs, or constant distances or gains)."
        )
    elif c.p_greater < ALPHA:
        text = f"**Similar sources gave larger gains.** With `{lead.method}` distances, {what} between source-target "
        text += f"similarity and gain over scratch is {_statistic(c)}{_noise_clause(c)}."
    elif c.p_two_sided < ALPHA and c.rho < 0:
        text = f"**The opposite of the hypothesis: more similar sources gave smaller gains.** With `{lead.method}` "
        text += f"distances, {what} between source-target similarity and gain is {_statistic(c)}{_noise_clause(c)}."
    else:
        text = "**No evidence that task similarity predicts reuse here.** With "
        text += f"`{lead.method}` distances, {what} between source-target similarity and gain is "
        text += f"{_statistic(c)}{_noise_clause(c)}."
        if math.isfinite(c.smallest_p) and c.smallest_p >= ALPHA:
            text += (
                f" With these pairs even a perfect ordering could not reach p below {c.smallest_p:.3f}: this test "
                "cannot show an effect at 5 %."
            )
    text += " " + _second_sentence(lead)
    if lead.leads_within and c.defined and c.p_greater >= ALPHA and lead.pooled.p_greater < ALPHA:
        text += (
            " The pooled correlation without a within-target one may come from differences between the targets "
            "(their scales) rather than from which checkpoint each target should reuse."
        )
    family = lead.within_family.correlation
    if family.defined:
        text += (
            f" Among checkpoints of one family (architecture and starting weights) on each target, averaged over "
            f"{len(lead.within_family.used)} such group(s), {_statistic(family)}."
        )
    text += _choice_sentence(choices)
    floor = sum(p.within_floor(lead.method) for p in lead.pairs)
    text += (
        f" {floor} of {len(lead.pairs)} pair(s) have a source within the target's split-half distance "
        "(indistinguishable from the target itself)."
    )
    for other in analyses[1:]:
        o = other.lead
        value = f"= {_statistic(o).removeprefix('ρ = ')}" if o.defined else "is undefined"
        text += f" With `{other.method}` distances the {other.lead_name} {value}."
    return text


def _second_sentence(lead: MethodAnalysis) -> str:
    if lead.leads_within:
        pooled = lead.pooled
        value = _statistic(pooled) if pooled.defined else "undefined"
        return f"Pooled over all {pooled.n} pairs, ignoring the targets' scales, {value}."
    return (
        f"No target has {MIN_PAIRS} checkpoints with distinct distances and gains, so the pooled ρ leads; it mixes "
        "targets whose distances and gains have different scales: read it with care."
    )


def _choice_sentence(choices: list[TargetChoice]) -> str:
    if not choices:
        return ""
    same = sum(c.coincide for c in choices)
    text = f" The checkpoint with the most similar source also gained most on {same} of {len(choices)} target(s)"
    differ = [c for c in choices if not c.coincide]
    if differ:
        separable = sum(c.difference.separable is True for c in differ)
        text += (
            f"; where it did not, the largest gain exceeded the most similar source's gain beyond the seed spread on "
            f"{separable} of {len(differ)}"
        )
    return text + "."


def _correlation_table(analyses: list[MethodAnalysis], how: set[str]) -> list[str]:
    noise = " and ".join(sorted(how))
    lines = [
        f"| Distance | Summary | ρ (similarity, gain) | Pairs | Strata | p one-sided | p two-sided | Orderings | "
        f"Smallest p possible | 95 % under gain noise ({noise}) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for a in analyses:
        rows = [("within-target mean", a.within.correlation, len(a.within.used)), ("pooled", a.pooled, None)]
        if not a.leads_within:
            rows.reverse()
        rows.append(("within target and family", a.within_family.correlation, len(a.within_family.used)))
        for index, (name, c, used) in enumerate(rows):
            targets = used if used is not None else len({p.target for p in a.pairs})
            label = f"**{name}** (leads)" if index == 0 else name
            lines.append("| " + " | ".join([f"`{a.method}`", label, *_correlation_cells(c, targets)]) + " |")
    return lines + [""]


def _correlation_cells(c: Correlation, targets: int) -> list[str]:
    if not c.defined:
        return ["n/a", str(c.n), str(targets), "—", "—", "—", "—", "—"]
    orderings = f"{c.orderings:,} {'(all)' if c.exact else 'random'}"
    low, high = c.noise
    interval = f"[{low:.3f}, {high:.3f}]" if math.isfinite(low) and math.isfinite(high) else "[n/a]"
    cells = [f"{c.rho:.3f}", str(c.n), str(targets), format_p(c.p_greater, c.exact)]
    return cells + [format_p(c.p_two_sided, c.exact), orderings, format_p(c.smallest_p, c.exact), interval]


def _choice_table(analyses: list[MethodAnalysis], choices: dict[str, list[TargetChoice]]) -> list[str]:
    if not any(choices.values()):
        return ["No target has two checkpoints with a declared source: there is no choice to compare.", ""]
    lines = [
        "Per target: the checkpoint whose source is most similar against the checkpoint that gained most.",
        "",
        "| Target | Distance | Split-half | Checkpoints | Within-target ρ | Most similar source | Largest gain | "
        "Same | Largest − most similar's gain [95 % CI] | How | Separable |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    within = {a.method: a.within.per_target for a in analyses}
    for method, entries in choices.items():
        for c in entries:
            rho = within[method].get(c.target, math.nan)
            nearest = c.most_similar
            near = f"`{nearest.model}` ({_distance(nearest.distances[method], c.floor)})"
            if c.runner_up_within_floor:
                runner = c.runner_up
                near += (
                    f"; runner-up `{runner.model}` ({runner.distances[method]:.3f}) not separated (gap ≤ split-half)"
                )
            best = f"`{c.best_gain.model}` ({c.best_gain.gain:+.4f})"
            cells = [c.target, f"`{method}`", _distance(c.floor), str(c.checkpoints)]
            cells += [f"{rho:.3f}" if math.isfinite(rho) else "n/a", near, best, "yes" if c.coincide else "no"]
            if c.difference is None:
                cells += ["—", "—", "—"]
            else:
                verdict_cell = {True: "yes", False: "no", None: "cannot tell"}[c.difference.separable]
                cells += [format_difference(c.difference), c.difference.method, verdict_cell]
            lines.append("| " + " | ".join(cells) + " |")
    return lines + [""]


def _pair_table(pairs: list[ReusePair], methods: list[str], replicates) -> list[str]:
    lines = [
        f"Every pair ({WITHIN_FLOOR.strip()}: at or below the target's split-half distance).",
        "",
        "| Model | Source task | Target | " + " | ".join(f"`{m}`" for m in methods) + " | Gain ± seed std | Seeds | "
        "Gain [95 % CI] |",
        "|---|---|---|" + "---|" * len(methods) + "---|---|---|",
    ]
    for p in pairs:
        distances = [_distance(p.distances.get(m), p.floors.get(m)) for m in methods]
        seeds = f"{len(p.pretrained.scores)} / {len(p.scratch.scores)}"
        gain = format_difference(compare(p.pretrained, p.scratch, replicates))
        source = f"{p.source} (control)" if p.control else p.source or "—"
        cells = [f"`{p.model}`", source, p.target, *distances, f"{p.gain:+.4f} ± {p.gain_std:.4f}", seeds]
        lines.append("| " + " | ".join([*cells, gain]) + " |")
    return lines + [""]


def _distance(value: float | None, floor: float | None = None) -> str:
    if value is None:
        return "—"
    return f"{value:.3f}" + (WITHIN_FLOOR if floor is not None and value <= floor else "")
