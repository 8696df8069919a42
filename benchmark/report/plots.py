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
from benchmark.report.sections import (
    BASELINE_SIGNALS,
    TaskSignals,
    finetune_summaries,
    noise_floor,
    task_signals,
)
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
    side = 1.6 + 0.7 * len(sim.tasks)
    figure = Figure(figsize=(side + 1.2, side), layout="constrained")
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
    figure.colorbar(image, ax=axes, label=f"{method} distance (smaller = more alike)")
    floor_text = "no noise floor recorded" if floor is None else f"noise floor {floor:.3f} (≈: within it)"
    axes.set_title(f"{sim.suite} · {sim.modality} · {method}\nencoder: {sim.encoder}; {floor_text}", fontsize=8)
    return figure


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
        axes.set_xlabel(f"{estimator} (mean over seeds; higher = predicted better)", fontsize=8)
        axes.set_ylabel("fine-tuned main metric", fontsize=8)
        axes.set_title(estimator, fontsize=9)
        axes.tick_params(labelsize=FONT_SMALL)
    panels[0].legend(title="task", fontsize=FONT_SMALL, title_fontsize=FONT_SMALL)
    figure.suptitle(f"{suite}: estimator vs fine-tuned score (pretrained models)", fontsize=10)
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
    quality = {score.model: score.absolute_quality for score in reusability_scores(summaries)}
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
