"""What stands beside a similarity-predicts-reuse verdict so that a reader can judge it: the design's power, the
verdict with each target left out, and where the negative controls landed.

* **Power.** The smallest true within-target ρ the test detects with 80 % power at 5 % one-sided, for the pairs
  the verdict was computed on (`benchmark.estimators.power`, simulated with the test the report runs). A null
  verdict below that size says "not detectable here", not "absent".
* **Leave one target out.** The within-target mean ρ and its permutation p recomputed without each target in
  turn: a finding that one target carries changes sign or loses its p.
* **Another encoder.** The distances come from one fixed encoder per modality; the same analysis on a check
  encoder's distances (`--similarity-encoder`) shows how much that choice moves the distances (their rank
  agreement within each target) and the verdict.
* **Controls.** A checkpoint whose source task is a negative control (`source_similarity.is_control`, e.g. the
  same inputs with shuffled labels) measures what pretraining buys without the source's labels. It enters no
  correlation; its gain over the untrained architecture (the zero of every gain) and its rank among its family's
  checkpoints on each target are shown here.
"""

from __future__ import annotations

import math
import statistics

from benchmark.estimators.power import min_detectable_rho_simulated
from benchmark.estimators.resampling import ALPHA
from benchmark.estimators.source_similarity import Correlation, leave_one_target_out, spearman
from benchmark.report.sections import format_difference, format_p
from benchmark.results.aggregate import compare

POWER = 0.8
MIN_POWER_PAIRS = 4  # the power simulation's smallest target


def detectable_rho(analysis) -> float | None:
    """The smallest within-target ρ the design detects for the pairs of a `similarity_reuse.MethodAnalysis`; None
    when no target has the pairs the power simulation needs."""
    sizes = [analysis.within.sizes[t] for t in analysis.within.used]
    if not sizes or min(sizes) < MIN_POWER_PAIRS:
        return None
    return min_detectable_rho_simulated(sizes, ALPHA, POWER)


def leave_one_out(analysis, seed: int) -> dict[str, Correlation]:
    """The lead method's within-target mean ρ without each target in turn (defined ones only)."""
    pairs, method = analysis.pairs, analysis.method
    similarity = [-p.distances[method] for p in pairs]
    found = leave_one_target_out(similarity, [p.gain for p in pairs], [p.target for p in pairs], seed)
    return {t: c for t, c in found.items() if c.defined}


def power_sentence(analysis) -> str:
    """The design's detectable within-target ρ as a sentence; empty when it cannot be computed."""
    detectable = detectable_rho(analysis)
    if detectable is None:
        return ""
    within = analysis.within
    sizes = [within.sizes[t] for t in within.used]
    shape = f"{len(sizes)} target(s) of {_sizes(sizes)} pairs"
    return (
        f"**Power.** With {shape}, the smallest true within-target ρ this test detects with {POWER * 100:.0f} % power "
        f"(5 % one-sided, permutation) is {detectable:.2f} (simulated, `python -m benchmark.estimators.power`): a "
        "smaller effect may exist and still come out null here."
    )


def _sizes(sizes: list[int]) -> str:
    return str(sizes[0]) if len(set(sizes)) == 1 else "/".join(map(str, sizes))


def leave_one_out_lines(analysis, seed: int) -> list[str]:
    """A sentence and a table: the lead method's within-target mean ρ without each target; none with fewer than
    two targets in the mean."""
    method = analysis.method
    defined = leave_one_out(analysis, seed)
    if not defined:
        return []
    rhos = [c.rho for c in defined.values()]
    below = sum(c.p_greater < ALPHA for c in defined.values())
    sign = "keeps its sign" if min(rhos) > 0 or max(rhos) < 0 else "changes sign"
    lines = [
        f"**Leave one target out** (`{method}`): without any one target the within-target mean ρ lies between "
        f"{min(rhos):.3f} and {max(rhos):.3f} ({sign}); its one-sided p is below {ALPHA:g} in {below} of "
        f"{len(defined)}.",
        "",
        "| Target left out | Within-target mean ρ | Targets | Pairs | p one-sided |",
        "|---|---|---|---|---|",
    ]
    for target, c in defined.items():
        lines.append(f"| {target} | {c.rho:.3f} | {len(defined) - 1} | {c.n} | {format_p(c.p_greater, c.exact)} |")
    return lines + [""]


def control_lines(pairs, replicates) -> list[str]:
    """Where the negative controls landed: per (control, target), its gain over the untrained architecture with
    its interval, its rank among the checkpoints of its family on that target, and the family's source gains."""
    controls = [p for p in pairs if p.control]
    if not controls:
        return []
    rows, ranks = [], []
    for control in controls:
        family = [p for p in pairs if p.target == control.target and p.family == control.family]
        sources = sorted((p.gain for p in family if not p.control), reverse=True)
        rank = 1 + sum(p.gain > control.gain for p in family)
        ranks.append((rank, len(family)))
        difference = compare(control.pretrained, control.scratch, replicates)
        verdict = {True: "yes", False: "no", None: "cannot tell"}[difference.separable]
        spread = f"{sources[-1]:+.4f} / {statistics.median(sources):+.4f} / {sources[0]:+.4f}" if sources else "—"
        rows.append(
            f"| `{control.model}` | {control.target} | {format_difference(difference)} | {verdict} | "
            f"{rank} of {len(family)} | {spread} |"
        )
    gains = [c.gain for c in controls]
    last = sum(rank == size for rank, size in ranks)
    first = sum(rank == 1 for rank, _ in ranks)
    lines = [
        f"**Controls.** The negative control(s) gained {statistics.fmean(gains):+.4f} on average over the untrained "
        f"architecture ({len(controls)} target(s), from {min(gains):+.4f} to {max(gains):+.4f}); among their "
        f"family's checkpoints they ranked last on {last} and first on {first} of {len(controls)} target(s). A "
        "control that gains like the real sources says that the sources' gains come from their inputs or from "
        "pretraining at all, not from what their labels teach.",
        "",
        "| Control | Target | Gain over scratch [95 % CI] | Above the noise | Rank in its family (by gain) | "
        "Family's source gains (min / median / max) |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
    ]
    return lines


def verdict_label(c: Correlation) -> str:
    """The verdict a correlation supports, in the words of the section's lead paragraph."""
    if not c.defined:
        return "no verdict"
    if c.p_greater < ALPHA:
        return "similar sources gained more"
    if c.p_two_sided < ALPHA and c.rho < 0:
        return "similar sources gained less"
    return "no evidence"


def encoder_lines(encoder: str, analyses, check_analyses) -> list[str]:
    """The lead correlation in the suite's encoder and in each check encoder, per distance method, with how well
    each check encoder's distances agree with the suite encoder's (mean over targets of the Spearman ρ between
    the two encoders' source-to-target distances); none without check encoders."""
    if not check_analyses:
        return []
    by_method = {a.method: a for a in analyses}
    rows = [_encoder_row(encoder, a, None) for a in analyses]
    sentences = []
    for name, check in check_analyses:
        own = by_method.get(check.method)
        agreement = _distance_agreement(own, check) if own is not None else float("nan")
        rows.append(_encoder_row(name, check, agreement))
        if own is not None:
            same = "as" if verdict_label(own.lead) == verdict_label(check.lead) else "unlike"
            sentences.append(
                f"with `{name}` (`{check.method}`) the {check.lead_name} is {check.lead.rho:.3f} "
                f"({format_p(check.lead.p_greater, check.lead.exact)} one-sided): {verdict_label(check.lead)}, "
                f"{same} in the suite encoder; its distances order each target's sources like the suite "
                f"encoder's at a mean ρ of {agreement:.3f}"
            )
    text = "; ".join(sentences)
    lines = [f"**Another encoder.** {text[:1].upper()}{text[1:]}." if text else "**Another encoder.**"]
    lines += [
        "",
        "| Encoder | Distance | Summary | ρ (similarity, gain) | Pairs | p one-sided | 95 % under gain noise | "
        "Verdict | Distances vs the suite encoder's (within-target mean ρ) |",
        "|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
    ]
    return lines


def _encoder_row(encoder: str, analysis, agreement: float | None) -> str:
    c = analysis.lead
    low, high = c.noise
    interval = f"[{low:.3f}, {high:.3f}]" if math.isfinite(low) and math.isfinite(high) else "[n/a]"
    rho = f"{c.rho:.3f}" if c.defined else "n/a"
    p = format_p(c.p_greater, c.exact) if c.defined else "—"
    agree = "(the suite encoder)" if agreement is None else f"{agreement:.3f}" if math.isfinite(agreement) else "n/a"
    cells = [f"`{encoder}`", f"`{analysis.method}`", analysis.lead_name, rho, str(c.n), p, interval]
    return "| " + " | ".join([*cells, verdict_label(c), agree]) + " |"


def _distance_agreement(own, check) -> float:
    """Mean over targets of Spearman's ρ between the two encoders' distances from the sources to that target."""
    mine = {(p.model, p.target): p.distances[own.method] for p in own.pairs}
    theirs = {(p.model, p.target): p.distances[check.method] for p in check.pairs}
    per_target = []
    for target in sorted({t for _, t in mine}):
        common = sorted(k for k in mine if k[1] == target and k in theirs)
        rho = spearman([mine[k] for k in common], [theirs[k] for k in common]) if len(common) >= 3 else math.nan
        per_target += [rho] if math.isfinite(rho) else []
    return statistics.fmean(per_target) if per_target else math.nan
