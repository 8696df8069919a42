"""The figures a README quotes about a suite, generated from its result files so that they cannot drift from them.

`python -m benchmark.report.summary --results leaderboard/zoo/results --suite zoo_disjoint` prints a short
markdown block: where and how the cells ran (machine, commit, cell count, wall time), and per modality the
similarity-predicts-reuse verdict with its interval, p, pairs, the design's detectable ρ, the leave-one-target-out
range and where the negative controls landed, and the method `recommend` uses per modality with its held-out
record. With `--readme README.md` it replaces the block between
``<!-- summary:<block> -->`` and ``<!-- /summary:<block> -->`` in that file instead (`--block`, by default the
suite's name: two runs of one suite, such as a rerun under way beside the run it replaces, need two blocks); a test
compares the committed README with a fresh summary of the committed results.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from benchmark.estimators.resampling import ALPHA
from benchmark.recommend.evaluation import (
    LEARNED,
    NEAR_BEST,
    MethodSummary,
    evaluate_shelf,
    preferred_method,
    shelf_targets,
)
from benchmark.report import similarity_reuse as sr
from benchmark.report.recommend_section import MIN_CHECKPOINTS
from benchmark.report.similarity_checks import POWER, detectable_rho, leave_one_out, verdict_label
from benchmark.results.aggregate import group_results, stable_seed, suite_replicates
from benchmark.results.schema import CellResult, SimilarityResult

SUMMARY_RESAMPLES = 500


def markers(block: str) -> tuple[str, str]:
    return f"<!-- summary:{block} -->", f"<!-- /summary:{block} -->"


PRETRAINING_RECORDS = ".pretrained/*/pretrain.json"  # beside the result files; their checkpoints stay out of git


def load_pretraining(results_dir: Path) -> list[dict]:
    """The pretraining stages' records (`engine.pretrain.PretrainRecord` as JSON) under a results folder."""
    return [
        json.loads(path.read_text(encoding="utf-8")) for path in sorted(Path(results_dir).glob(PRETRAINING_RECORDS))
    ]


def suite_summary(
    results: list[CellResult], similarities: list[SimilarityResult], suite: str, pretraining: list[dict] = ()
) -> list[str]:
    """The block's lines: provenance, how far the ground truth can be trusted (flattened curves, budgets, edge
    choices) and pretraining first, then one bullet per modality with a similarity analysis."""
    mine = [r for r in results if r.suite == suite]
    if not mine:
        raise ValueError(f"no result files of suite {suite!r}")
    return [
        *_provenance(mine),
        *_ground_truth(mine),
        *_pretraining(pretraining),
        *_verdicts(mine, similarities, suite),
        *_recommending(mine),
    ]


FLATTENED_TARGETS = {"pretrained": 0.90, "scratch": 0.75}  # issue #23's targets for fine-tune seeds
MODALITY_ORDER = ("vision", "text", "audio")


def _in_modality_order(modalities: Iterable[str]) -> list[str]:
    """`modalities` sorted as the README lists them (vision, text, audio), any other after them by name."""
    order = {modality: index for index, modality in enumerate(MODALITY_ORDER)}
    return sorted(modalities, key=lambda m: (order.get(m, len(order)), m))


def _ground_truth(results: list[CellResult]) -> list[str]:
    """How far the suite's ground truth can be trusted: fine-tune seeds whose validation curve flattened, per
    modality and init against the targets; the fine-tune budgets per init; and the groups whose choice lies at an
    edge of its grid."""
    tunes = [r for r in results if r.status == "ok" and r.protocol == "finetune" and r.convergence is not None]
    if not tunes:
        return []
    parts = []
    for modality in _in_modality_order({r.modality for r in tunes}):
        counts = []
        for init in ("pretrained", "scratch"):
            mine = [r for r in tunes if (r.modality, r.init) == (modality, init)]
            if mine:
                flat = sum(r.convergence.flattened for r in mine)
                longer = [r for r in mine if r.budget_extensions]
                rescued = sum(r.convergence.flattened for r in longer)
                retrained = f", {len(longer)} retrained longer, {rescued} of them flattened" if longer else ""
                counts.append(f"{init} {flat} of {len(mine)} ({flat / len(mine):.0%}{retrained})")
        parts.append(f"{modality} {', '.join(counts)}")
    targets = " and ".join(f"{share:.0%} {init}" for init, share in FLATTENED_TARGETS.items())
    groups = group_results(results).values()
    edges = Counter(g.key.protocol for g in groups if g.ok and g.edge_choices)
    searched = Counter(g.key.protocol for g in groups if g.ok)
    edge_text = "; ".join(f"{protocol} {edges[protocol]} of {searched[protocol]}" for protocol in sorted(searched))
    return [
        f"- **Flattened** (fine-tune seeds whose validation curve flattened by the end of its budget; targets "
        f"{targets}): {'; '.join(parts)}.",
        f"- **Fine-tune budgets** (declared optimizer steps, checkpoints / scratch twins): {_budgets(tunes)}.",
        f"- **Choices at a grid's edge** after the search's extensions (groups; ⊣ on the page): {edge_text}.",
    ]


def _budgets(tunes: list[CellResult]) -> str:
    steps: dict[str, dict[str, set[int]]] = {}
    for r in tunes:
        if r.setup is not None:
            steps.setdefault(r.task, {}).setdefault(r.init, set()).add(r.declared_steps)

    def listed(found: set[int]) -> str:
        return "-".join(map(str, sorted(found))) or "none"

    return ", ".join(
        f"{task} {' / '.join(listed(inits.get(init, set())) for init in ('pretrained', 'scratch'))}"
        for task, inits in sorted(steps.items())
    )


def _pretraining(records: list[dict]) -> list[str]:
    """One line: stages per base checkpoint, how many flattened, and their summed training time."""
    if not records:
        return []
    by_base: dict[str, list[dict]] = {}
    for record in records:
        by_base.setdefault(Path(record["base_checkpoint"]).name, []).append(record)
    parts = [
        f"{base} {len(mine)} ({sum(bool(r.get('flattened')) for r in mine)} flattened)"
        for base, mine in sorted(by_base.items())
    ]
    minutes = sum(r["train_wall_s"] for r in records) / 60
    return [
        f"- **Pretraining:** {len(records)} stages: {', '.join(parts)}; their training time sums to {minutes:.0f} "
        "min. A stage whose validation curve had not flattened is recorded as such, not extended."
    ]


def _provenance(results: list[CellResult]) -> list[str]:
    machines = Counter(r.provenance.cpu for r in results if r.provenance)
    commits = Counter(
        f"{r.provenance.code_commit[:7]}{' (dirty)' if r.provenance.code_dirty else ''}"
        for r in results
        if r.provenance and r.provenance.code_commit
    )
    finished = sum(r.status == "ok" for r in results)
    planned = planned_cells(results[0].suite)
    of = f" of the {planned} the suite plans" if planned else ""
    seconds = sum(r.timing.total_wall_s for r in results if r.timing)
    stamps = sorted(datetime.fromisoformat(r.created_at) for r in results)
    span = f"{stamps[0]:%Y-%m-%d %H:%M} to {stamps[-1]:%Y-%m-%d %H:%M} UTC"
    return [
        f"- **Cells:** {len(results)} result files{of} ({finished} finished) on {_listing(machines)}, code "
        f"{_listing(commits)}; the cells' own wall time sums to {seconds / 60:.0f} min (pretraining stages and "
        f"the similarity analysis not included); files written {span}.",
    ]


def planned_cells(suite: str, modality: str | None = None) -> int | None:
    """How many cells the built-in registry's suite of that name plans (of one modality, when given); None where
    there is no such suite."""
    from benchmark.engine.plan import plan_groups
    from benchmark.specs.registry import load_registry
    from benchmark.utils.paths import DEFAULT_TASKS_DIR

    registry = load_registry(DEFAULT_TASKS_DIR)
    if suite not in registry.suites:
        return None
    groups = plan_groups(registry.resolve(suite))
    return sum(len(group.seeds) for group in groups if modality is None or group.task.modality == modality)


def _listing(counts: Counter) -> str:
    if not counts:
        return "unrecorded"
    return ", ".join(f"{name} ({count})" if len(counts) > 1 else name for name, count in counts.most_common())


def _verdicts(results: list[CellResult], similarities: list[SimilarityResult], suite: str) -> list[str]:
    groups = group_results(results)
    lines = []
    for sim in sorted((s for s in similarities if s.suite == suite and s.role == "primary"), key=lambda s: s.modality):
        pairs = sr.reuse_pairs(groups, sim)
        transfer = [p for p in pairs if not p.control]
        methods = sr.distance_methods(transfer)
        if not transfer:  # no checkpoint pretrained here on the modality's sources: nothing to judge
            continue
        if len(transfer) < sr.MIN_PAIRS or not methods:
            lines.append(f"- **{sim.modality}:** {len(transfer)} pair(s) so far; no verdict.")
            continue
        needed = {g.key: g for p in pairs for g in (p.pretrained, p.scratch)}
        replicates = suite_replicates(needed, SUMMARY_RESAMPLES)
        replicated = sr.gain_replicates(transfer, replicates)
        analysis = sr.analyse(transfer, methods[0], replicated, stable_seed(sim.suite, sim.modality, methods[0]))
        done = sum(r.modality == sim.modality for r in results)
        lines.append(_modality_line(sim, analysis, [p for p in pairs if p.control], done))
    return lines


def _modality_line(sim: SimilarityResult, analysis, controls, done: int) -> str:
    c = analysis.lead
    low, high = c.noise
    targets = len(analysis.within.used) if analysis.leads_within else len({p.target for p in analysis.pairs})
    planned = planned_cells(sim.suite, sim.modality)
    status = f"; **in progress, {done} of {planned} cells: not yet a verdict**" if planned and done < planned else ""
    text = (
        f"- **{sim.modality}** (`{analysis.method}` in `{sim.encoder}`{status}): {verdict_label(c)}; "
        f"{analysis.lead_name} = {c.rho:.2f} (95 % under gain noise [{low:.2f}, {high:.2f}], "
        f"p = {c.p_greater:.3f} one-sided, {c.n} pairs on {targets} targets)"
    )
    if (detectable := detectable_rho(analysis)) is not None:
        text += f"; detectable at {POWER * 100:.0f} % power: ρ ≥ {detectable:.2f}"
    # the page's seed, so that the two give the same permutation p-values
    left_out = leave_one_out(analysis, stable_seed(sim.suite, sim.modality, analysis.method, "loto"))
    rhos = [x.rho for x in left_out.values()]
    if rhos:
        held = sum(x.p_greater < ALPHA for x in left_out.values())
        text += f"; leaving one target out: {min(rhos):.2f} to {max(rhos):.2f} (p < {ALPHA:g} in {held} of {len(rhos)})"
    if controls:
        mean = statistics.fmean(p.gain for p in controls)
        text += f"; shuffled-label control: mean gain {mean:+.3f} over {len(controls)} target(s)"
    return text + "."


def _recommending(results: list[CellResult]) -> list[str]:
    """One line: per modality, the method `recommend` would use (the page's "Recommending before training") with
    its held-out record, beside the best learned combination; nothing where no target has enough checkpoints."""
    shelves = evaluate_shelf(shelf_targets(results, MIN_CHECKPOINTS))
    parts = []
    for modality in _in_modality_order(shelves):
        rows = shelves[modality]
        preferred = preferred_method(rows)
        if preferred is None:
            continue
        learned = min((s for s, _ in rows if s.method in LEARNED), key=lambda s: s.mean_regret)
        beside = "" if learned is preferred else f"; best learned combination {_held_out(learned)}"
        parts.append(f"{modality} {_held_out(preferred)}{beside}")
    if not parts:
        return []
    return [
        "- **Recommending before training** (the method `recommend` uses per modality, judged leave-one-target-out "
        f"on held-out targets: top-1 hits, picks within {NEAR_BEST} of the best, mean test-score regret with its "
        f"95 % t interval): {'; '.join(parts)}."
    ]


def _held_out(summary: MethodSummary) -> str:
    interval = summary.regret_interval
    spread = f" [{interval[0]:.4f}, {interval[1]:.4f}]" if interval else ""
    return (
        f"{summary.method}, top-1 {summary.top1:g} of {summary.n}, within {NEAR_BEST} {summary.near_best:g} of "
        f"{summary.n}, regret {summary.mean_regret:.4f}{spread}"
    )


def replace_block(text: str, block: str, lines: list[str]) -> str:
    """`text` with its summary block named `block` replaced by `lines`; a ValueError names missing markers."""
    start, end = markers(block)
    if start not in text or end not in text:
        raise ValueError(f"no {start} ... {end} block to replace")
    before, rest = text.split(start, 1)
    _, after = rest.split(end, 1)
    return before + start + "\n" + "\n".join(lines) + "\n" + end + after


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmark.report.summary", description=__doc__.split("\n")[0])
    parser.add_argument("--results", type=Path, required=True, help="result files root")
    parser.add_argument("--suite", required=True)
    parser.add_argument("--readme", type=Path, help="replace the suite's summary block in this file")
    parser.add_argument("--block", help="the name in the README's summary markers (default: the suite's)")
    args = parser.parse_args(argv)
    block = args.block or args.suite
    from benchmark.report.leaderboard import load_results, load_similarities

    try:
        found = load_results(args.results), load_similarities(args.results), args.suite
        lines = suite_summary(*found, load_pretraining(args.results))
        if args.readme is None:
            print("\n".join(lines))
            return 0
        args.readme.write_text(replace_block(args.readme.read_text(encoding="utf-8"), block, lines))
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{args.readme}: summary block {block} of {args.suite} replaced ({len(lines)} lines)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
