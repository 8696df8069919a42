"""Build the leaderboard markdown from result files alone.

`python -m benchmark.report.leaderboard --results leaderboard/results --out leaderboard` reads every result JSON,
refuses to publish if any file is corrupt or violates the schema (naming each one), and writes
`<out>/README.md`: an overview, then per suite and per modality one table with fixed columns and a stable
order, mean ± std over seeds and the gain over the from-scratch twin. The output depends only on the result
files, so rebuilding from the same files gives the same bytes.
"""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmark.report import plots, sections
from benchmark.results.aggregate import Group, GroupKey, best_scores, group_results, scratch_twin
from benchmark.results.schema import CellResult, ResultFileError, SimilarityResult
from benchmark.results.store import find_result_files, find_similarity_files, read_result, read_similarity
from benchmark.specs.schema import ScoreWeights
from benchmark.utils.atomic import atomic_write_text

BOOTSTRAP_RESAMPLES = 200  # for the rank-agreement confidence intervals; fixed seed, so output is deterministic
PROTOCOL_ORDER = {"finetune": 0, "linear_probe": 1}
COLUMNS = (
    "Task",
    "Model",
    "Protocol",
    "Score",
    "Scratch",
    "Gain",
    "Chance",
    "Train s",
    "To target s",
    "Params",
    "GFLOPs/ex",
    "Seeds",
)


class LeaderboardError(Exception):
    """Result files that cannot be published; the message names every one."""


def load_results(results_dir: Path) -> list[CellResult]:
    """Every result file below `results_dir`; any unreadable one makes the whole load fail."""
    paths = find_result_files(results_dir)
    results, problems = [], []
    for path in paths:
        try:
            results.append(read_result(path))
        except ResultFileError as error:
            problems.append(str(error))
    if problems:
        raise LeaderboardError(
            f"refusing to publish: {len(problems)} bad result file(s) would be silently dropped:\n  "
            + "\n  ".join(problems)
        )
    return results


def load_similarities(results_dir: Path) -> list[SimilarityResult]:
    """Every task-similarity file below `results_dir`; an unreadable one makes the load fail."""
    try:
        return [read_similarity(path) for path in find_similarity_files(results_dir)]
    except ResultFileError as error:
        raise LeaderboardError(f"refusing to publish: {error}") from None


def build_leaderboard(results_dir: Path, out_dir: Path, n_boot: int = BOOTSTRAP_RESAMPLES) -> Path:
    """Write `<out_dir>/README.md` and its PNG figures from the result files; return the markdown's path."""
    with garbage_collection_paused():
        results, similarities = load_results(results_dir), load_similarities(results_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        figures = _write_figures(results, similarities, out_dir)
        path = out_dir / "README.md"
        atomic_write_text(path, render_markdown(results, similarities, figures, n_boot))
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
            *plots.similarity_heatmaps([s for s in similarities if s.suite == suite], out_dir),
        ]
        by_suite[suite] = [p.name for p in paths]
    return by_suite


def render_markdown(
    results: list[CellResult],
    similarities: list[SimilarityResult] = (),
    figures: dict[str, list[str]] | None = None,
    n_boot: int = BOOTSTRAP_RESAMPLES,
) -> str:
    """The whole leaderboard document."""
    groups = group_results(results)
    suites = sorted({r.suite for r in results})
    lines = ["# Transfer benchmark leaderboard", "", _overview(results, suites), ""]
    for suite in suites:
        mine = [r for r in results if r.suite == suite]
        lines += [f"## Suite `{suite}`", ""]
        lines += sections.reusability_section(mine, suite, _score_weights(mine))
        lines += _suite_tables({k: g for k, g in groups.items() if k.suite == suite})
        lines += sections.prediction_section(mine, suite, n_boot=n_boot)
        lines += sections.similarity_section([s for s in similarities if s.suite == suite])
        lines += [f"![{name}]({name})" for name in (figures or {}).get(suite, [])] + [""]
        lines += _unfinished({k: g for k, g in groups.items() if k.suite == suite})
    lines += _reading_guide()
    return "\n".join(lines).rstrip() + "\n"


def _score_weights(results: list[CellResult]) -> ScoreWeights:
    """The suite's composite-score weights, recorded in its result files (defaults if none were)."""
    recorded = next((r.specs["score_weights"] for r in results if "score_weights" in r.specs), None)
    return ScoreWeights(**recorded) if recorded else ScoreWeights()


def _overview(results: list[CellResult], suites: list[str]) -> str:
    if not results:
        return "No result files yet: run `python benchmark/run.py --suite demo` first."
    rows = ["| Suite | Models | Tasks | Cells | ok | diverged | failed |", "|---|---|---|---|---|---|---|"]
    for suite in suites:
        mine = [r for r in results if r.suite == suite]
        status = {s: sum(r.status == s for r in mine) for s in ("ok", "diverged", "failed")}
        rows.append(
            f"| {suite} | {len({r.model for r in mine})} | {len({r.task for r in mine})} | {len(mine)} | "
            f"{status['ok']} | {status['diverged']} | {status['failed']} |"
        )
    return "\n".join(rows)


def _suite_tables(groups: dict[GroupKey, Group]) -> list[str]:
    """One results table per modality: pretrained rows with their scratch twin beside them."""
    lines = ["### Results", ""]
    best = best_scores(groups)
    for modality in sorted({k.modality for k in groups}):
        lines += [f"#### {modality}", "", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
        rows = [_row(g, groups, best) for k, g in groups.items() if k.modality == modality and k.init == "pretrained"]
        lines += [row for _, row in sorted(rows, key=lambda item: item[0])]
        lines.append("")
    return lines


def _row(group: Group, groups: dict[GroupKey, Group], best: dict) -> tuple[tuple, str]:
    key = group.key
    twin = scratch_twin(groups, key)
    target = best.get((key.suite, key.task))
    gain = group.mean - twin.mean if group.mean is not None and twin and twin.mean is not None else None
    to_target = group.time_to_target(target) if target is not None else None
    cells = [
        key.task,
        key.model,
        key.protocol,
        _score(group),
        _score(twin) if twin else "—",
        _signed(gain),
        _number(group.chance, 4),
        _number(group.mean_of("timing", "train_wall_s"), 1),
        _number(to_target, 1) if to_target is not None else "not reached",
        _count(group.mean_of("complexity", "params_total")),
        _number(_giga(group.mean_of("complexity", "flops_per_example")), 3),
        f"{len(group.scores)}/{len(group.results)}",
    ]
    order = (
        key.task,
        PROTOCOL_ORDER.get(key.protocol, 9),
        -(group.mean if group.mean is not None else -1e9),
        key.model,
    )
    return order, "| " + " | ".join(cells) + " |"


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
        "- **Score**: the task's main metric on its evaluation split after training, mean ± std over seeds.",
        "- **Scratch**: the same architecture from random initialisation, trained with the identical budget; "
        "**Gain** = Score − Scratch, the measured value of reuse.",
        "- **Chance**: the main metric of always predicting the training set's majority class.",
        "- **Train s**: wall-clock training time (evaluation excluded); **To target s**: training time until the "
        "first evaluation at or above 95 % of the best score any model reached on that task.",
        "- **Params** and **GFLOPs/ex**: the whole network's parameters and forward FLOPs per example at the "
        "task's input size (attention included; 1 multiply-add = 2 FLOPs).",
        "- **Seeds**: seeds that finished / seeds run; unfinished cells are listed with their reason.",
        "",
    ]


def _score(group: Group | None) -> str:
    if group is None or group.mean is None:
        return "—"
    return f"{group.mean:.4f} ± {group.std:.4f}"


def _signed(value: float | None) -> str:
    return "—" if value is None else f"{value:+.4f}"


def _number(value: float | None, digits: int) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _giga(value: float | None) -> float | None:
    return None if value is None else value / 1e9


def _count(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value / 1e6:.2f}M" if value >= 1e5 else f"{int(value):,}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmark.report.leaderboard", description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=Path("leaderboard/results"), help="result files root")
    parser.add_argument("--out", type=Path, default=Path("leaderboard"), help="where README.md is written")
    args = parser.parse_args(argv)
    try:
        path = build_leaderboard(args.results, args.out)
    except LeaderboardError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"leaderboard: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
