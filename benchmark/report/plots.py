"""Leaderboard figures: task-similarity heatmaps, estimator against fine-tuned score, quality against FLOPs.

Drawn on bare matplotlib `Figure`s rather than pyplot, so there is no global figure state and no interactive
backend: PNGs are rendered by Agg. Each function writes into `out_dir` (next to the markdown) under names
built from suite, modality and method only, and returns the paths it wrote, in a stable order, so the
leaderboard can link them. A suite with nothing to draw gets no file.
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter

from benchmark.estimators.reusability import CellSummary, reusability_scores
from benchmark.estimators.source_similarity import MIN_PAIRS, spearman
from benchmark.estimators.transferability import DISPLAY
from benchmark.report.reuse import finetune_summaries
from benchmark.report.sections import BASELINE_SIGNALS, TaskSignals, task_signals
from benchmark.report.similarity_reuse import ReusePair, distance_methods, reuse_pairs
from benchmark.report.similarity_tables import noise_floor
from benchmark.results.aggregate import group_results
from benchmark.results.schema import CellResult, SimilarityResult
from benchmark.utils.atomic import atomic_write
from benchmark.utils.naming import SCRATCH_SUFFIX, safe_component

DPI = 120
PANEL_INCHES = 3.2
FONT_SMALL = 7
MAX_POINT_LABELS = 40  # per panel; beyond this, model names overlap into a blot (the tables carry them)


def _save(figure: Figure, out_dir: Path, *name_parts: str) -> Path:
    """Write `<out_dir>/<part>_<part>....png`, every part sanitised, and return the path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / ("_".join(safe_component(part) for part in name_parts) + ".png")
    atomic_write(path, lambda handle: figure.savefig(handle, format="png", dpi=DPI))
    return path


def _suites(results: list[CellResult]) -> list[str]:
    return sorted({r.suite for r in results})


# --- similarity ------------------------------------------------------------------------------------------


def similarity_heatmaps(similarities: list[SimilarityResult], out_dir: Path) -> list[Path]:
    """One annotated heatmap per (suite, modality, method): `similarity_<suite>_<modality>_<method>.png`; the noise
    floor is in the title and off-diagonal distances within it are marked with '≈'."""
    paths = []
    for sim in sorted(similarities, key=lambda s: (s.suite, s.modality)):
        for method in sorted(sim.distances):
            paths.append(_save(_heatmap(sim, method), out_dir, "similarity", sim.suite, sim.modality, method))
    return paths


def _heatmap(sim: SimilarityResult, method: str) -> Figure:
    matrix = np.array(sim.distances[method], dtype=float)
    side = max(3.6, 1.6 + 0.7 * len(sim.tasks))  # room for the three title lines and the colour bar's label
    figure = Figure(figsize=(side + 1.8, side), layout="constrained")
    axes = figure.subplots()
    image = axes.imshow(matrix, cmap="viridis_r")
    ticks = range(len(sim.tasks))
    axes.set_xticks(ticks, sim.tasks, rotation=45, ha="right", fontsize=FONT_SMALL)
    axes.set_yticks(ticks, sim.tasks, fontsize=FONT_SMALL)
    finite = matrix[np.isfinite(matrix)]
    middle = (finite.min() + finite.max()) / 2 if finite.size else 0.0
    floor = noise_floor(sim, method)
    for (row, col), value in np.ndenumerate(matrix):
        text = f"{value:.3f}" if math.isfinite(value) else "n/a"
        if floor is not None and row != col and math.isfinite(value) and value <= floor:
            text += " ≈"
        colour = "white" if math.isfinite(value) and value > middle else "black"
        axes.text(col, row, text, ha="center", va="center", fontsize=FONT_SMALL, color=colour)
    bar = figure.colorbar(image, ax=axes)
    bar.set_label("distance (smaller = more alike)", fontsize=FONT_SMALL)
    bar.ax.tick_params(labelsize=FONT_SMALL)
    floor_text = "no noise floor recorded" if floor is None else f"noise floor {floor:.3f} (≈: within it)"
    axes.set_title(f"{sim.suite} · {sim.modality} · {method}\nencoder: {sim.encoder}\n{floor_text}", fontsize=8)
    return figure


def similarity_vs_gain(results: list[CellResult], similarities: list[SimilarityResult], out_dir: Path) -> list[Path]:
    """Per (suite, modality) with `MIN_PAIRS` or more (checkpoint, target) pairs with a declared source and finished
    fine-tunes (`benchmark.report.similarity_reuse`), one panel per distance method: x = source-to-target distance,
    y = gain over the scratch twin (mean over seeds, bars ± the seed std of one seed's gain), one colour per target,
    negative controls as hollow squares (outside the ρ in the title), each target's split-half distance as a
    dotted vertical line of its colour (points left of it: source indistinguishable from the target).
    `similarity_vs_gain_<suite>_<modality>.png`."""
    paths = []
    for sim in sorted(similarities, key=lambda s: (s.suite, s.modality)):
        if not sim.source_to_target:
            continue
        groups = group_results([r for r in results if r.suite == sim.suite and r.modality == sim.modality])
        pairs = reuse_pairs(groups, sim)
        if len(pairs) >= MIN_PAIRS:
            figure = _similarity_gain_figure(sim, pairs)
            paths.append(_save(figure, out_dir, "similarity_vs_gain", sim.suite, sim.modality))
    return paths


def _similarity_gain_figure(sim: SimilarityResult, pairs: list[ReusePair]) -> Figure:
    methods = distance_methods(pairs)
    targets = sorted({p.target for p in pairs})
    figure = Figure(figsize=(PANEL_INCHES * 1.3 * len(methods), PANEL_INCHES * 1.1), layout="constrained")
    panels = np.atleast_1d(figure.subplots(1, len(methods)))
    label_points = len(pairs) <= MAX_POINT_LABELS
    for axes, method in zip(panels, methods, strict=True):
        for index, target in enumerate(targets):
            mine = [p for p in pairs if p.target == target and method in p.distances]
            colour = f"C{index % 10}"
            for control, marker in ((False, "o"), (True, "s")):
                shown = [p for p in mine if p.control == control]
                xs, ys = [p.distances[method] for p in shown], [p.gain for p in shown]
                style = {"mfc": "none"} if control else {}
                label = None if control else target
                axes.errorbar(
                    xs,
                    ys,
                    yerr=[p.gain_std for p in shown],
                    fmt=marker,
                    color=colour,
                    label=label,
                    ms=4,
                    capsize=2,
                    **style,
                )
            floor = mine[0].floors.get(method) if mine else None
            if floor is not None:
                axes.axvline(floor, color=colour, linestyle=":", linewidth=1)
            for p in mine if label_points else ():
                axes.annotate(
                    p.model,
                    (p.distances[method], p.gain),
                    xytext=(3, 3),
                    textcoords="offset points",
                    fontsize=FONT_SMALL - 1,
                )
        axes.axhline(0.0, color="grey", linewidth=0.8)
        axes.set_xlabel(f"{method} distance, source to target\n(smaller = more similar)", fontsize=8)
        axes.set_ylabel("gain over scratch twin (fine-tune)", fontsize=8)
        axes.set_title(
            f"{method}\n{_rho_text(pairs, method)}\ndotted: each target's split-half; hollow square: control",
            fontsize=8,
        )
        axes.tick_params(labelsize=FONT_SMALL)
    panels[0].legend(title="target", fontsize=FONT_SMALL, title_fontsize=FONT_SMALL)
    figure.suptitle(f"{sim.suite} · {sim.modality}: source similarity vs gain over scratch", fontsize=10)
    return figure


def _rho_text(pairs: list[ReusePair], method: str) -> str:
    """'ρ(similarity, gain): within-target mean 0.800, pooled 0.650' (the section gives their p-values)."""
    measured = [p for p in pairs if method in p.distances and not p.control]
    pooled = spearman([-p.distances[method] for p in measured], [p.gain for p in measured])
    per_target = []
    for target in sorted({p.target for p in measured}):
        mine = [p for p in measured if p.target == target]
        rho = spearman([-p.distances[method] for p in mine], [p.gain for p in mine]) if len(mine) >= MIN_PAIRS else None
        per_target += [rho] if rho is not None and math.isfinite(rho) else []
    within = f"within-target mean {statistics.fmean(per_target):.3f}" if per_target else "within-target n/a"
    return f"ρ(similarity, gain): {within}, pooled " + (f"{pooled:.3f}" if math.isfinite(pooled) else "n/a")


# --- estimators ------------------------------------------------------------------------------------------


def estimator_vs_finetune(results: list[CellResult], out_dir: Path) -> list[Path]:
    """Per suite, one panel per transferability estimator: x = the estimator on a pretrained model's linear-probe
    cells, y = the same model's fine-tuned score on that task (both means over seeds), points coloured by task
    and labelled by model when there are at most `MAX_POINT_LABELS` points per panel.
    `estimators_vs_finetune_<suite>.png`."""
    paths = []
    for suite in _suites(results):
        entries = task_signals(results, suite)
        names = list(dict.fromkeys(name for entry in entries for name in entry.signals))
        estimators = [name for name in names if name not in BASELINE_SIGNALS]
        if estimators and any(entry.finetune for entry in entries):
            paths.append(_save(_estimator_figure(suite, entries, estimators), out_dir, "estimators_vs_finetune", suite))
    return paths


def _estimator_figure(suite: str, entries: list[TaskSignals], estimators: list[str]) -> Figure:
    figure = Figure(figsize=(PANEL_INCHES * len(estimators), PANEL_INCHES), layout="constrained")
    panels = np.atleast_1d(figure.subplots(1, len(estimators)))
    for axes, estimator in zip(panels, estimators, strict=True):
        points = [_estimator_points(entry, estimator) for entry in entries]
        label_points = sum(map(len, points)) <= MAX_POINT_LABELS
        for index, (entry, task_points) in enumerate(zip(entries, points, strict=True)):
            xs, ys = [p[1] for p in task_points], [p[2] for p in task_points]
            axes.scatter(xs, ys, color=f"C{index % 10}", label=entry.task, s=18)
            for model, x, y in task_points if label_points else ():
                axes.annotate(model, (x, y), xytext=(3, 3), textcoords="offset points", fontsize=FONT_SMALL - 1)
        axes.set_xlabel(DISPLAY.get(estimator, estimator), fontsize=8)
        axes.set_ylabel("fine-tuned main metric", fontsize=8)
        axes.set_title(estimator, fontsize=9)
        axes.tick_params(labelsize=FONT_SMALL)
    panels[0].legend(title="task", fontsize=FONT_SMALL, title_fontsize=FONT_SMALL)
    figure.suptitle(
        f"{suite}: estimator (x, mean over seeds; higher = predicted better) vs fine-tuned score (y)",
        fontsize=10,
    )
    return figure


def _estimator_points(entry: TaskSignals, estimator: str) -> list[tuple[str, float, float]]:
    """(model, estimator value, fine-tuned score) of the models with both on one task."""
    values = entry.signals.get(estimator, {})
    return [(model, value, entry.finetune[model]) for model, value in values.items() if model in entry.finetune]


# --- quality against cost -------------------------------------------------------------------------------


def quality_vs_flops(results: list[CellResult], out_dir: Path) -> list[Path]:
    """Per suite, every fine-tuned variant (pretrained and scratch): x = forward GFLOPs per example (log, mean
    over its tasks), y = mean quality q of `benchmark.estimators.reusability` (chance = 0, the metric's ceiling = 1:
    fixed references, so a point does not move when another variant is added), with the Pareto front (no other
    variant both cheaper and better). `quality_vs_flops_<suite>.png`."""
    paths = []
    for suite in _suites(results):
        summaries, _ = finetune_summaries([r for r in results if r.suite == suite], suite)
        if summaries:
            paths.append(_save(_quality_figure(suite, summaries), out_dir, "quality_vs_flops", suite))
    return paths


def _quality_figure(suite: str, summaries: list[CellSummary]) -> Figure:
    quality = {score.model: score.quality for score in reusability_scores(summaries)}
    gflops = {
        label: statistics.fmean(c.flops_per_example for c in summaries if c.model == label) / 1e9 for label in quality
    }
    figure = Figure(figsize=(4.5, 3.4), layout="constrained")
    axes = figure.subplots()
    for init, marker, colour in (("pretrained", "o", "C0"), ("scratch", "s", "C1")):
        labels = sorted(label for label in quality if label.endswith(SCRATCH_SUFFIX) == (init == "scratch"))
        axes.scatter([gflops[m] for m in labels], [quality[m] for m in labels], marker=marker, color=colour, label=init)
        for label in labels:
            name = label.removesuffix(SCRATCH_SUFFIX)
            axes.annotate(name, (gflops[label], quality[label]), xytext=(3, 3), textcoords="offset points", fontsize=6)
    front = pareto_front([(gflops[m], quality[m]) for m in sorted(quality)])
    axes.plot(
        *zip(*front, strict=True),
        drawstyle="steps-post",
        linestyle="--",
        color="grey",
        marker="o",
        markersize=11,
        markerfacecolor="none",
        label="Pareto front",
    )
    axes.set_xscale("log")
    plain = FuncFormatter(lambda value, _: f"{value:g}")
    axes.xaxis.set_major_formatter(plain)
    axes.xaxis.set_minor_formatter(NullFormatter())  # labelled minor ticks overlap on a log axis
    axes.set_xlabel("forward GFLOPs per example (log scale)", fontsize=8)
    axes.set_ylabel("mean quality q\n(0 = chance, 1 = ceiling)", fontsize=8)
    axes.set_title(f"{suite}: quality vs compute (fine-tune)", fontsize=9)
    axes.tick_params(which="both", labelsize=FONT_SMALL)
    axes.legend(fontsize=FONT_SMALL)
    return figure


def pareto_front(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Points no other point beats on both cost (x, lower is better) and quality (y, higher is better),
    ordered by cost."""
    front: list[tuple[float, float]] = []
    for x, y in sorted(points, key=lambda p: (p[0], -p[1])):
        if not front or y > front[-1][1]:
            front.append((x, y))
    return front
