"""Build the leaderboard markdown from result files alone.

`python -m benchmark.report.leaderboard --results leaderboard/results --out leaderboard` reads every result JSON,
refuses to publish if any file is corrupt or violates the schema (naming each one), and writes
`<out>/README.md`: an overview, then per suite the reusability score, per modality one table with fixed columns
and a stable order (mean ± std over n seeds, the gain over the from-scratch twin with its 95 % interval, the
tier of each checkpoint among those separable from each other, the chosen configuration of the search, and
marks for curves that had not flattened and scratch twins that learned nothing), then the analysis sections.
The output depends only on the result files (every resampling seed is derived from names), so rebuilding from
the same files gives the same bytes.
"""

from __future__ import annotations

import argparse
import gc
import math
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from benchmark.report import plots, reuse, sections, similarity_reuse, similarity_tables
from benchmark.report.html import write_html
from benchmark.report.recommend_section import recommend_section
from benchmark.report.table import write_results_table
from benchmark.report.task_metadata import task_metadata_section
from benchmark.results.aggregate import (
    Group,
    GroupKey,
    ScoreReplicates,
    architecture_of,
    compare,
    group_results,
    learned_something,
    scratch_twin,
    speed_up,
    suite_replicates,
)
from benchmark.results.fingerprint import mixed_fingerprints
from benchmark.results.publish import public_result
from benchmark.results.schema import CellResult, ResultFileError, SimilarityResult
from benchmark.results.store import find_result_files, find_similarity_files, read_result, read_similarity
from benchmark.specs.schema import ScoreWeights
from benchmark.utils.atomic import atomic_write_text
from benchmark.utils.naming import variant_label

BOOTSTRAP_RESAMPLES = 500  # replicates of each group's mean score; seeds derived from names, so deterministic
PROTOCOL_ORDER = {"finetune": 0, "linear_probe": 1}
COLUMNS = (
    "Task",
    "Model",
    "Protocol",
    "Tier",
    "Score (mean ± std)",
    "Seeds",
    "Scratch",
    "Gain [95 % CI]",
    "Chance",
    "Train s",
    "Speed-up",
    "Params",
    "GFLOPs/ex",
    "Chosen config",
    "Scratch config",
)
RUN_COMMAND = "python -m benchmark.run"  # works from a checkout and after a wheel install alike
NOT_FLATTENED = " †"
LEARNED_NOTHING = " ‡"
AT_EDGE = " ⊣"
CONFIG_NAMES = {"learning_rate": "lr", "weight_decay": "wd"}


def missing_results(results_dir: Path, prog: str) -> str | None:
    """Why there is no leaderboard to build from `results_dir` (no such folder, or no result file in it), with the
    command that makes one in the context `prog` runs in (the installed command, or `python -m`); None if there
    are result files."""
    if results_dir.is_dir() and find_result_files(results_dir):
        return None
    what = "is not a folder" if not results_dir.is_dir() else "holds no result files"
    run = "transfer-bench run" if prog.startswith("transfer-bench") else RUN_COMMAND
    return f"{results_dir} {what}: run a suite into it first, e.g. `{run} --suite demo --output-dir {results_dir}`"


class LeaderboardError(Exception):
    """Result files that cannot be published; the message names every one."""


def load_results(results_dir: Path) -> list[CellResult]:
    """Every result file below `results_dir`, as it may be published (local absolute paths redacted); any
    unreadable or impossible one (a metric outside its range, counts that disagree) makes the whole load fail."""
    paths = find_result_files(results_dir)
    results, problems = [], []
    for path in paths:
        try:
            results.append(public_result(read_result(path)))
        except ResultFileError as error:
            problems.append(str(error))
    if problems:
        raise LeaderboardError(
            f"refusing to publish: {len(problems)} bad result file(s) would be silently dropped:\n  "
            + "\n  ".join(problems)
        )
    if mixed := mixed_fingerprints(results):
        raise LeaderboardError(
            f"refusing to publish: result files under {results_dir} answer different questions where they are "
            f"compared ({len(mixed)} problem(s)):\n  " + "\n  ".join(mixed)
        )
    return results


def load_similarities(results_dir: Path) -> list[SimilarityResult]:
    """Every task-similarity file below `results_dir`; an unreadable one makes the load fail."""
    try:
        return [read_similarity(path) for path in find_similarity_files(results_dir)]
    except ResultFileError as error:
        raise LeaderboardError(f"refusing to publish: {error}") from None


def build_leaderboard(results_dir: Path, out_dir: Path, n_boot: int = BOOTSTRAP_RESAMPLES) -> Path:
    """Write `<out_dir>/README.md`, its PNG figures, the results table (parquet, CSV) and the HTML page from the
    result files; return the markdown's path."""
    with garbage_collection_paused():
        results, similarities = load_results(results_dir), load_similarities(results_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        figures = _write_figures(results, similarities, out_dir)
        reports = suite_reports(results, similarities, n_boot)
        path = out_dir / "README.md"
        atomic_write_text(path, render_markdown(results, similarities, figures, n_boot, reports))
        table, *_ = write_results_table(results, out_dir)
        write_html(table, out_dir, figures, {suite: report.answers for suite, report in reports.items()})
    return path


@contextmanager
def garbage_collection_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a build creates ~100 objects per result file.

    Each automatic collection walks every live object, and a build of 10,000 files triggers enough of them
    to spend about as long collecting as parsing. The parsed results live until the build ends anyway; the
    few cycles matplotlib leaves behind are collected once collection resumes.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _write_figures(results, similarities, out_dir: Path) -> dict[str, list[str]]:
    """PNG plots beside the markdown, drawn per suite so each suite links exactly its own figures."""
    by_suite: dict[str, list[str]] = {}
    for suite in sorted({r.suite for r in results}):
        mine = [r for r in results if r.suite == suite]
        paths = [
            *plots.quality_vs_flops(mine, out_dir),
            *plots.estimator_vs_finetune(mine, out_dir),
            *plots.similarity_heatmaps(_primary(similarities, suite), out_dir),
            *plots.similarity_vs_gain(mine, _primary(similarities, suite), out_dir),
        ]
        by_suite[suite] = [p.name for p in paths]
    return by_suite


def _primary(similarities: list[SimilarityResult], suite: str) -> list[SimilarityResult]:
    """A suite's similarity records in its own encoders; check encoders' records feed only the similarity-predicts-
    reuse section, which sets them beside these."""
    return [s for s in similarities if s.suite == suite and s.role == "primary"]


@dataclass(frozen=True)
class SuiteReport:
    """One suite's markdown parts: the reuse answer, the results tables, and the analyses after them."""

    reuse: list[str]
    tables: list[str]
    analyses: list[str]
    unfinished: list[str]

    @property
    def answers(self) -> list[str]:
        """Everything but the results tables (which the HTML page renders itself, sortable)."""
        return [*self.reuse, *self.analyses]


def suite_reports(
    results: list[CellResult], similarities: list[SimilarityResult] = (), n_boot: int = BOOTSTRAP_RESAMPLES
) -> dict[str, SuiteReport]:
    """Every suite's sections, computed once for the markdown and the HTML page."""
    groups = group_results(results)
    reports = {}
    for suite in sorted({r.suite for r in results}):
        mine = [r for r in results if r.suite == suite]
        suite_groups = {k: g for k, g in groups.items() if k.suite == suite}
        replicates = suite_replicates(suite_groups, n_boot)
        found = sections.ranking_tiers(suite_groups, replicates)
        tiers = {(t.task, t.protocol): t for t in found}
        suite_similarities = _primary(similarities, suite)
        analyses = [
            *sections.separability_section(mine, suite, replicates, found),
            *sections.prediction_section(mine, suite, replicates=replicates),
            *similarity_tables.similarity_section(suite_similarities),
            *similarity_reuse.similarity_reuse_section(mine, suite, similarities, replicates),
            *recommend_section(mine, suite),
            *task_metadata_section(mine, suite),
        ]
        reports[suite] = SuiteReport(
            reuse=reuse.reuse_sections(mine, suite, _score_weights(mine), replicates, suite_similarities),
            tables=_suite_tables(suite_groups, replicates, tiers),
            analyses=analyses,
            unfinished=_unfinished(suite_groups),
        )
    return reports


def render_markdown(
    results: list[CellResult],
    similarities: list[SimilarityResult] = (),
    figures: dict[str, list[str]] | None = None,
    n_boot: int = BOOTSTRAP_RESAMPLES,
    reports: dict[str, SuiteReport] | None = None,
) -> str:
    """The whole leaderboard document (`reports` from `suite_reports`, computed when not given)."""
    reports = reports if reports is not None else suite_reports(results, similarities, n_boot)
    lines = ["# Transfer benchmark leaderboard", "", _overview(results, sorted(reports)), ""]
    for suite, report in reports.items():
        lines += [f"## Suite `{suite}`", "", *report.reuse, *report.tables, *report.analyses]
        lines += [f"![{name}]({name})" for name in (figures or {}).get(suite, [])] + [""]
        lines += report.unfinished
    lines += _reading_guide()
    return "\n".join(lines).rstrip() + "\n"


def _score_weights(results: list[CellResult]) -> ScoreWeights:
    """The suite's composite-score weights, recorded in its result files (defaults if none were)."""
    recorded = next((r.specs["score_weights"] for r in results if "score_weights" in r.specs), None)
    return ScoreWeights(**recorded) if recorded else ScoreWeights()


def _overview(results: list[CellResult], suites: list[str]) -> str:
    if not results:
        return f"No result files yet: run `{RUN_COMMAND} --suite demo` first."
    rows = [
        "| Suite | Checkpoints | Scratch twins | Tasks | Cells | ok | diverged | failed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for suite in suites:
        mine = [r for r in results if r.suite == suite]
        status = {s: sum(r.status == s for r in mine) for s in ("ok", "diverged", "failed")}
        checkpoints = len({r.model for r in mine if r.init == "pretrained"})
        twins = len({architecture_of(r) for r in mine if r.init == "scratch"})
        rows.append(
            f"| {suite} | {checkpoints} | {twins} | {len({r.task for r in mine})} | {len(mine)} | "
            f"{status['ok']} | {status['diverged']} | {status['failed']} |"
        )
    return "\n".join(rows)


def _suite_tables(groups: dict[GroupKey, Group], replicates: dict[GroupKey, ScoreReplicates], tiers: dict) -> list[str]:
    """One results table per modality: pretrained rows with their scratch twin beside them, then the footnotes."""
    lines = ["### Results", ""]
    for modality in sorted({k.modality for k in groups}):
        lines += [f"#### {modality}", "", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
        mine = [g for k, g in groups.items() if k.modality == modality and k.init == "pretrained"]
        rows = [_row(g, groups, replicates, tiers) for g in mine]
        lines += [row for _, row in sorted(rows, key=lambda item: item[0])]
        lines += ["", *_footnotes([g for k, g in groups.items() if k.modality == modality]), ""]
    return lines


def _row(group: Group, groups: dict[GroupKey, Group], replicates, tiers: dict) -> tuple[tuple, str]:
    key = group.key
    twin = scratch_twin(groups, key)
    entry = tiers.get((key.task, key.protocol))
    tier = entry.tier.get(key.model) if entry else None
    measured = speed_up(group, twin) if twin is not None else None
    cells = [
        key.task,
        key.model,
        key.protocol,
        "—" if tier is None else str(tier),
        _score(group),
        f"{len(group.scores)}/{len(group.results)}",
        _score(twin, scratch=True) if twin else "—",
        _gain(group, twin, replicates),
        _number(group.chance, 4),
        _number(group.mean_of("timing", "train_wall_s"), 1),
        sections.format_speed_up(measured.ratio if measured is not None else None),
        sections.format_count(group.mean_of("complexity", "params_total")),
        _number(_giga(group.mean_of("complexity", "flops_per_example")), 3),
        _config(group),
        _config(twin) if twin else "—",
    ]
    order = (
        key.task,
        PROTOCOL_ORDER.get(key.protocol, 9),
        -(group.mean if group.mean is not None else -1e9),
        key.model,
    )
    return order, "| " + " | ".join(cells) + " |"


def _score(group: Group | None, scratch: bool = False) -> str:
    """'0.8500 ± 0.0707', marked † when a seed's validation curve had not flattened and, for a scratch twin, ‡
    when it learned nothing measurable on validation."""
    if group is None or group.mean is None:
        return "—"
    marks = NOT_FLATTENED if group.unflattened else ""
    marks += LEARNED_NOTHING if scratch and learned_something(group) is False else ""
    return f"{group.mean:.4f} ± {group.std:.4f}{marks}"


def _gain(group: Group, twin: Group | None, replicates) -> str:
    if twin is None or group.mean is None or twin.mean is None:
        return "—"
    return sections.format_difference(compare(group, twin, replicates))


def _config(group: Group) -> str:
    """The search's chosen configuration ('lr 0.0003, wd 0.01'), with how many were tried and the spread of their
    validation scores at the first rung; several choices over seeds are joined with ' / '."""
    if not group.chosen_configs:
        return "—"
    chosen = " / ".join(
        ", ".join(f"{CONFIG_NAMES.get(name, name)} {value:g}" for name, value in sorted(config.items()))
        for config in group.chosen_configs
    )
    chosen += AT_EDGE if group.edge_choices else ""
    spread = group.search_spread
    if spread is None:
        return chosen
    tried, width = spread
    return f"{chosen} (of {tried}; val spread {width:.3f})" if math.isfinite(width) else f"{chosen} (of {tried})"


def _chance_compared(group: Group) -> str:
    """The chance level the learned-nothing flag compared with: validation's, or test's in older files."""
    if group.validation_chance is not None:
        return f"validation chance {group.validation_chance:.4f}"
    return f"chance {group.chance:.4f} (test split: recorded before validation chance was)"


def _flattened_line(groups: list[Group]) -> str:
    """Seeds whose validation curve flattened, per init and protocol, over the table's groups."""
    parts = []
    for init in ("pretrained", "scratch"):
        for protocol in ("finetune", "linear_probe"):
            mine = [g for g in groups if (g.key.init, g.key.protocol) == (init, protocol)]
            judged = [r for g in mine for r in g.ok if r.convergence is not None]
            if judged:
                flat = sum(r.convergence.flattened for r in judged)
                parts.append(f"{init} {protocol} {flat} of {len(judged)} ({flat / len(judged):.0%})")
    return "- Seeds whose validation curve flattened: " + ("; ".join(parts) if parts else "none recorded") + "."


def _budget_line(groups: list[Group]) -> str | None:
    """Where scratch twins fine-tuned with another budget than the checkpoints of their task (`scratch_epochs`):
    the optimizer steps of each, per task; None when no fine-tune was recorded."""
    steps: dict[str, dict[str, set[int]]] = {}
    for group in groups:
        if group.key.protocol == "finetune":
            found = steps.setdefault(group.key.task, {}).setdefault(group.key.init, set())
            found.update(r.declared_steps for r in group.ok if r.setup is not None)
    if not any(steps.values()):
        return None
    differing = {task: inits for task, inits in steps.items() if len(set().union(*inits.values())) > 1}
    if not differing:
        return "- Fine-tune budgets: every scratch twin trained as many optimizer steps as the checkpoints of its task."
    described = "; ".join(
        f"{task}: " + ", ".join(f"{init} {'/'.join(map(str, sorted(found)))}" for init, found in sorted(inits.items()))
        for task, inits in sorted(differing.items())
    )
    return (
        "- Fine-tune budgets differ by init (optimizer steps; a scratch twin may need longer to flatten, and its "
        f"speed-up is read on its own curve): {described}."
    )


def _extension_line(groups: list[Group]) -> str | None:
    """How many fine-tune seeds were retrained at a longer budget because their curve had not flattened, and how
    many of those then flattened, per init; None when none was."""
    parts = []
    for init in ("pretrained", "scratch"):
        seeds = [r for g in groups if (g.key.init, g.key.protocol) == (init, "finetune") for r in g.ok]
        extended = [r for r in seeds if r.budget_extensions]
        if extended:
            flat = sum(r.convergence is not None and r.convergence.flattened for r in extended)
            longest = max(2 ** len(r.budget_extensions) for r in extended)
            parts.append(
                f"{init} {len(extended)} of {len(seeds)} seeds (up to {longest}x the budget; {flat} then flattened)"
            )
    if not parts:
        return None
    return (
        "- Budgets extended: a chosen fine-tune run whose curve had not flattened was trained again from its start at "
        "twice the budget, up to the task's `budget_doublings`, and tested after the last retraining: "
        + "; ".join(parts)
        + "."
    )


def _footnotes(groups: list[Group]) -> list[str]:
    """What the marks of a table mean, how many seeds flattened per init, the budgets where twins trained longer,
    which choices lie at a grid's edge, and plainly which scratch twins learned nothing measurable."""
    notes = [_flattened_line(groups)]
    if budgets := _budget_line(groups):
        notes.append(budgets)
    if extensions := _extension_line(groups):
        notes.append(extensions)
    unflattened = [g for g in groups if g.unflattened]
    if unflattened:
        cells = ", ".join(
            f"{variant_label(g.key.model, g.key.init)} on {g.key.task} ({g.key.protocol}, "
            f"{g.unflattened} of {len(g.ok)} seeds)"
            for g in unflattened
        )
        notes.append(
            f"- {NOT_FLATTENED.strip()} The validation curve had not flattened (the last quarter of the budget still "
            f"gained more than the tolerance): a longer budget could change the score. {cells}."
        )
    at_edge = [g for g in groups if g.edge_choices]
    if at_edge:
        cells = ", ".join(
            f"{variant_label(g.key.model, g.key.init)} on {g.key.task} ({g.key.protocol}: {', '.join(g.edge_choices)})"
            for g in at_edge
        )
        notes.append(
            f"- {AT_EDGE.strip()} The chosen value lies at an edge of its grid, after any extension the search made: "
            f"the best value may lie beyond it. {cells}."
        )
    scratch = [g for g in groups if g.key.init == "scratch"]
    nothing = [g for g in scratch if learned_something(g) is False]
    unknown = [g for g in scratch if learned_something(g) is None]
    if nothing:
        cells = ", ".join(
            f"{g.key.model} on {g.key.task} ({g.key.protocol}: validation {g.validation_mean:.4f}, "
            f"{_chance_compared(g)}, tolerance {g.tolerance:.4f})"
            for g in nothing
        )
        notes.append(
            f"- {LEARNED_NOTHING.strip()} These scratch twins learned nothing measurable: their validation score is "
            f"not above chance by more than the tolerance, so their gain measures nothing but chance. {cells}."
        )
    elif scratch and not unknown:
        notes.append("- Every scratch twin scored above chance by more than the tolerance on validation.")
    if unknown:
        cells = ", ".join(f"{g.key.model} on {g.key.task} ({g.key.protocol})" for g in unknown)
        notes.append(
            f"- Scratch twins without a validation score or chance level (cannot tell what they learned): {cells}."
        )
    return notes


def _unfinished(groups: dict[GroupKey, Group]) -> list[str]:
    rows = [
        f"| {r.model}{' (scratch)' if r.init == 'scratch' else ''} | {r.task} | {r.protocol} | {r.seed} | {r.status} | "
        f"{(r.error or '').splitlines()[0][:160] if r.error else ''} |"
        for g in groups.values()
        for r in g.results
        if r.status != "ok"
    ]
    if not rows:
        return []
    header = [
        "### Cells that did not finish",
        "",
        "| Model | Task | Protocol | Seed | Status | Reason |",
        "|---|---|---|---|---|---|",
    ]
    return header + rows + [""]


def _reading_guide() -> list[str]:
    return [
        "## How to read this",
        "",
        "- **Score**: the task's main metric on its test split, read once per final configuration and seed: mean ± "
        "standard deviation over the finished seeds; **Seeds**: seeds that finished / seeds run (unfinished cells "
        f"are listed with their reason). {NOT_FLATTENED.strip()}: a seed's validation curve had not flattened.",
        "- **Tier**: checkpoints of a task and protocol in tier 1 are not separable from the best by more than the "
        "seed and test-set spread; a new tier starts at the first checkpoint separable from its tier's leader.",
        "- **Scratch**: the same architecture from random initialisation, searched and trained with the same "
        "budget unless the notes under a table say its twins trained longer; "
        f"{LEARNED_NOTHING.strip()}: it learned nothing measurable on validation. **Gain** = Score − "
        "Scratch with a 95 % interval (paired bootstrap over seeds and test examples, or Welch over seeds).",
        "- **Chance**: the main metric of always predicting the training set's majority class.",
        "- **Train s**: wall-clock training time of the final run (evaluation excluded); **Speed-up**: the scratch "
        "twin's training time to the validation quality all its seeds reached, over this model's time to the same "
        "validation score ('never': not reached in every seed).",
        "- **Params** and **GFLOPs/ex**: the whole network's parameters and forward FLOPs per example at the "
        "task's input size (attention included; 1 multiply-add = 2 FLOPs).",
        "- **Chosen config**: the configuration the validation search chose, how many were tried and the spread of "
        "their validation scores at the first rung (how much the choice mattered).",
        "",
    ]


def _number(value: float | None, digits: int) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _giga(value: float | None) -> float | None:
    return None if value is None else value / 1e9


def main(argv: list[str] | None = None, prog: str = "python -m benchmark.report.leaderboard") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=Path("leaderboard/results"), help="result files root")
    parser.add_argument("--out", type=Path, default=Path("leaderboard"), help="where README.md is written")
    args = parser.parse_args(argv)
    if problem := missing_results(args.results, prog):
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        path = build_leaderboard(args.results, args.out)
    except LeaderboardError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"leaderboard: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
