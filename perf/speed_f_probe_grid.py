"""Part f of `perf/speed.py`: the default linear-probe grid (`train_heads` with one head per configuration, one
batched computation) against one probe on the same features.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

import torch

from benchmark.engine.probe_heads import HeadsOutcome, ProbeSettings, train_heads
from benchmark.engine.search import DEFAULT_PROBE_GRID, expand_grid
from benchmark.metrics.compute import metric_fn
from perf.speed_common import (
    NUM_CLASSES,
    SYNTHETIC_METRICS,
    Sizes,
    alternating,
    cores_used,
    print_table,
    probe_features,
    timed,
)

PROBE_GRID_TARGET_RATIO = 1.5


@dataclass(frozen=True)
class ProbeGridRun:
    """One `train_heads` call: how many heads, its wall-clock seconds, and its own train and eval clocks."""

    heads: int
    wall_s: float
    train_s: float
    eval_s: float


def probe_grid_run(
    train: tuple[torch.Tensor, torch.Tensor],
    validation: tuple[torch.Tensor, torch.Tensor],
    configs: list[dict[str, float]],
    settings: ProbeSettings,
) -> ProbeGridRun:
    """`train_heads` over `configs`, as a probe group calls it per seed (every metric at the end, the main metric
    along the curve)."""
    outcome: HeadsOutcome
    outcome, wall = timed(
        train_heads, train, validation, configs, NUM_CLASSES, settings, metric_fn(SYNTHETIC_METRICS), "accuracy"
    )
    return ProbeGridRun(len(configs), wall, outcome.train_wall_s, outcome.eval_wall_s)


@dataclass(frozen=True)
class ProbeGridComparison:
    """The whole probe grid against one of its configurations, one run each per repeat."""

    grid: list[ProbeGridRun]
    single: list[ProbeGridRun]

    @property
    def ratio(self) -> float:
        return statistics.median(r.wall_s for r in self.grid) / statistics.median(r.wall_s for r in self.single)


def compare_probe_grid(sizes: Sizes) -> ProbeGridComparison:
    """The default probe grid and its first configuration alone on the same features,
    `sizes.repeats` times each, alternating."""
    n_train, n_validation = sizes.grid_examples
    train = probe_features(n_train, sizes.grid_dim, seed=0)
    validation = probe_features(n_validation, sizes.grid_dim, seed=1)
    settings = ProbeSettings(epochs=sizes.grid_epochs, batch_size=sizes.grid_batch_size, warmup_ratio=0.1, seed=0)
    configs = expand_grid(DEFAULT_PROBE_GRID)
    warm = ProbeSettings(epochs=1, batch_size=sizes.grid_batch_size, warmup_ratio=0.1, seed=0)
    probe_grid_run(validation, validation, configs, warm)  # first-call costs (metric modules, kernels), untimed
    grid: list[ProbeGridRun] = []
    single: list[ProbeGridRun] = []
    alternating(
        lambda: grid.append(probe_grid_run(train, validation, configs, settings)),
        lambda: single.append(probe_grid_run(train, validation, configs[:1], settings)),
        sizes.repeats,
    )
    return ProbeGridComparison(grid, single)


def report_probe_grid(sizes: Sizes) -> ProbeGridComparison:
    n_train, n_validation = sizes.grid_examples
    configurations = len(expand_grid(DEFAULT_PROBE_GRID))
    shape = " x ".join(f"{len(values)} {name.replace('_', ' ')}s" for name, values in DEFAULT_PROBE_GRID)
    print(f"\n## f. Linear-probe grid: {configurations} configurations (one batched computation) vs one, same features")
    print(
        f"train_heads on {n_train:,} training and {n_validation:,} validation features ({sizes.grid_dim}-d, "
        f"{NUM_CLASSES} classes), {sizes.grid_epochs:g} epochs in batches of {sizes.grid_batch_size}; the default "
        f"probe grid ({shape}) vs its first configuration; median [min-max] of "
        f"{sizes.repeats}; train and eval s are the trainer's own clocks"
    )
    with cores_used("f", torch.get_num_threads()):
        comparison = compare_probe_grid(sizes)
    print_table(
        ["configurations", "wall s", "train s", "eval s"],
        [
            [
                str(runs[0].heads),
                _spread_s([r.wall_s for r in runs]),
                _spread_s([r.train_s for r in runs]),
                _spread_s([r.eval_s for r in runs]),
            ]
            for runs in (comparison.single, comparison.grid)
        ],
    )
    verdict = "met" if comparison.ratio <= PROBE_GRID_TARGET_RATIO else "OVER"
    target = PROBE_GRID_TARGET_RATIO
    print(f"wall ratio {configurations} configurations / 1: {comparison.ratio:.2f}, target <= {target:g}: {verdict}")
    return comparison


def _spread_s(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} [{min(values):.3f}-{max(values):.3f}]"
