"""The leaderboard section "Recommending before training": how often cheap signals, alone or combined, would have
picked the checkpoint that fine-tunes best, measured by leave-one-target-out (`benchmark.recommend.evaluation`).

Omitted (no lines) when no target has `MIN_CHECKPOINTS` checkpoints with both a probe and a fine-tune, so small
suites render as before.
"""

from __future__ import annotations

import math

from benchmark.recommend.evaluation import (
    LEARNED,
    NEAR_BEST,
    HeldOut,
    MethodSummary,
    evaluate_shelf,
    preferred_method,
    shelf_targets,
)
from benchmark.results.schema import CellResult

MIN_CHECKPOINTS = 3
HEADER = (
    "| Method | Held-out targets | Top-1 hit [95 % CI] | Top-3 hit [95 % CI] | Within 0.02 of the best | "
    "Mean regret [95 % CI] |"
)


def recommend_section(results: list[CellResult], suite: str) -> list[str]:
    """Per modality: every method's held-out record, then each held-out target's pick under the preferred one."""
    targets = shelf_targets([r for r in results if r.suite == suite], MIN_CHECKPOINTS)
    if not targets:
        return []
    lines = ["### Recommending before training", "", *_intro(), ""]
    for modality, rows in evaluate_shelf(targets).items():
        lines += [f"#### {modality}", "", HEADER, "|" + "---|" * (HEADER.count(" | ") + 1)]
        lines += [_row(summary) for summary, _ in rows]
        preferred = preferred_method(rows)
        lines.append("")
        if preferred is None:
            lines += ["- One target only: nothing can be learned and judged on another target; baselines only.", ""]
            continue
        outcomes = next(outs for summary, outs in rows if summary is preferred)
        lines.append(
            f"- Preferred (lowest held-out regret of the learned combinations and the linear probe score, which a "
            f"combination must beat to be used): **{preferred.method}**."
        )
        lines += [f"- {_pick(outcome)}" for outcome in outcomes] + [""]
    return lines


def _intro() -> list[str]:
    return [
        "Could the cheap signals have picked the checkpoint to fine-tune without fine-tuning any? For each target, "
        "each method ranks the pretrained checkpoints from what `transfer-bench recommend` computes without "
        "training anything but linear heads (the estimators and the linear probe's validation score on frozen "
        "features, the parameter count, the declared source accuracy); the truth is the fine-tunes' mean test "
        "score. Learned combinations (best single signal by mean Kendall tau, a rank average, a ridge regression "
        "on target-wise z-scores) are fitted on the other targets of the modality and judged on the held-out one "
        "(leave-one-target-out), so no target's fine-tuned results enter its own recommendation. Top-1: the pick "
        f"is the best fine-tuned checkpoint; top-3: the best is among the first three; within {NEAR_BEST}: the "
        "pick's score is that close to the best's; regret: best score minus the pick's. Where a method's scores "
        "tie, outcomes are averaged over a random order of the tied checkpoints (hence fractions). Hit rates carry "
        "Wilson intervals over held-out targets, regret a t interval from three targets on: with one or two "
        "targets per modality these are anecdotes, not rates.",
    ]


def _row(summary: MethodSummary) -> str:
    top1, top3 = summary.rate(summary.top1), summary.rate(summary.top3)
    cells = [
        summary.method + (" (combined)" if summary.method in LEARNED else " (baseline)"),
        str(summary.n),
        _rate(summary.top1, summary.n, top1),
        _rate(summary.top3, summary.n, top3),
        f"{_count(summary.near_best)} of {summary.n}",
        f"{summary.mean_regret:.4f} {_interval(summary.regret_interval)}",
    ]
    return "| " + " | ".join(cells) + " |"


def _rate(hits: float, n: int, rate: tuple[float, float, float]) -> str:
    value, low, high = rate
    return f"{_count(hits)} of {n} ({value:.2f} [{low:.2f}, {high:.2f}])"


def _count(value: float) -> str:
    return f"{value:.0f}" if math.isclose(value, round(value)) else f"{value:.2f}"


def _interval(bounds: tuple[float, float] | None) -> str:
    return "[n < 3]" if bounds is None else f"[{bounds[0]:.4f}, {bounds[1]:.4f}]"


def _pick(outcome: HeldOut) -> str:
    verdict = "the best" if outcome.top1 == 1 else f"regret {outcome.regret:.4f}"
    return (
        f"{outcome.task}: picks `{outcome.ranked[0]}` ({verdict}; best `{outcome.best}`), fitted as "
        f"{outcome.fitted or 'nothing'}"
    )
