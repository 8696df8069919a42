"""What every part of `perf/speed.py` shares: how big each part runs (`FULL`, or `QUICK` for `--quick`), the
machine header, the contention meter (`cores_used`), markdown tables, wall-clock timing, alternation of a suite
run with its baseline, and the synthetic class-signal features that parts a, b and f train and estimate on.
"""

from __future__ import annotations

import contextlib
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from benchmark.data.loading import SplitCaps
from benchmark.specs.schema import SearchSpec

NUM_CLASSES = 10
SYNTHETIC_METRICS = ("accuracy", "f1_macro")  # of part d's synthetic result files and part f's probe grid
HALVING_RATE = SearchSpec().halving_rate  # the suite's default


@dataclass(frozen=True)
class SearchScale:
    """The synthetic models and tasks of part e: which subjects, how big, and the fine-tune budget."""

    subjects: tuple[str, ...]  # "images" (a timm model on an imagefolder), "texts" (a BERT on csv texts)
    timm_architecture: str
    image_size: int
    bert_size: tuple[int, int, int]  # hidden size, layers, attention heads
    words: int  # per text
    classes: int
    train_per_class: int  # before a fifth is held out as validation
    test_per_class: int
    batch_size: int
    max_steps: int  # the whole budget; a multiple of 8 makes the halving rungs exact


@dataclass(frozen=True)
class DemoScale:
    """How part e runs the real demo tasks: the demo suite's own settings, or smaller ones for `--quick`."""

    caps: SplitCaps | None = None  # None: the suite's caps
    seeds: tuple[int, ...] | None = None  # None: the suite's seeds
    max_steps: int | None = None  # None: the suite's epochs


@dataclass(frozen=True)
class Sizes:
    """How big each part runs: the full benchmark or the `--quick` smoke run."""

    repeats: int
    warmup_steps: int  # optimiser steps left out of the throughput (allocator, autograd and BLAS warm-up)
    measured_steps: int
    probe_examples: int  # part a's probe row: training features (512-d) ...
    probe_epochs: int  # ... and epochs over them
    estimator_n: int
    estimator_dims: tuple[int, ...]
    distributed_per_class: int  # training images per colour; the eval split gets half as many
    distributed_epochs: float
    leaderboard_grid: tuple[int, int, int]  # models, tasks, seeds (each x 2 inits x 2 protocols)
    search: SearchScale
    demo: DemoScale
    grid_examples: tuple[int, int]  # part f: training and validation features ...
    grid_dim: int  # ... of this dimension, ...
    grid_epochs: float  # ... probed for this many epochs ...
    grid_batch_size: int  # ... in batches of this size


FULL = Sizes(
    repeats=3,
    warmup_steps=3,
    measured_steps=15,
    probe_examples=4096,
    probe_epochs=5,
    estimator_n=10_000,
    estimator_dims=(768, 2048),
    distributed_per_class=96,
    distributed_epochs=2,
    leaderboard_grid=(25, 20, 5),
    search=SearchScale(
        subjects=("images", "texts"),
        timm_architecture="resnet18",
        image_size=64,
        bert_size=(256, 4, 4),
        words=62,
        classes=10,
        train_per_class=40,
        test_per_class=20,
        batch_size=32,
        max_steps=32,
    ),
    demo=DemoScale(),
    grid_examples=(4096, 1024),
    grid_dim=768,
    grid_epochs=30,
    grid_batch_size=32,
)
QUICK = Sizes(
    repeats=1,
    warmup_steps=2,
    measured_steps=4,
    probe_examples=512,
    probe_epochs=2,
    estimator_n=2_000,
    estimator_dims=(192, 512),  # the full run's N/D ratios; D > N would make the reference interpolate
    distributed_per_class=24,
    distributed_epochs=1,
    leaderboard_grid=(5, 10, 2),
    search=SearchScale(
        subjects=("images", "texts"),
        timm_architecture="test_resnet",
        image_size=32,
        bert_size=(32, 2, 2),
        words=14,
        classes=4,
        train_per_class=12,
        test_per_class=4,
        batch_size=8,
        max_steps=8,
    ),
    demo=DemoScale(caps=SplitCaps(train=32, validation=16, test=16), seeds=(0,), max_steps=8),
    grid_examples=(256, 64),
    grid_dim=64,
    grid_epochs=3,
    grid_batch_size=32,
)


def machine_description() -> str:
    """CPU model, cores, torch's intra-op threads, and the load average before anything here ran."""
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return (
        f"machine: {_cpu_model()}; {os.cpu_count()} logical cores; torch {torch.__version__} with "
        f"{torch.get_num_threads()} intra-op threads; numpy {np.__version__}\n"
        f"load average (1, 5, 15 min) before the run: {load}"
    )


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


@contextlib.contextmanager
def cores_used(label: str, expected: int | None = None) -> Iterator[None]:
    """Print the average number of cores this process and its children kept busy during the block.

    For compute-bound work that should keep `expected` cores busy, far fewer means other jobs took the cores:
    the block's absolute figures are then pessimistic (ratios measured in alternation suffer less), and a
    warning says so.
    """
    wall, cpu = time.perf_counter(), _cpu_seconds()
    yield
    wall, cpu = time.perf_counter() - wall, _cpu_seconds() - cpu
    print(
        f"[{label}: {wall:.1f} s wall, {cpu:.1f} CPU-s = {cpu / wall:.2f} cores busy of {os.cpu_count()}; "
        f"load average now {os.getloadavg()[0]:.2f}]"
    )
    if expected and cpu / wall < 0.75 * expected:
        print(f"WARNING: {expected} busy cores expected; other jobs competed for the CPU, so these figures are noisy")


def _cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def print_table(header: list[str], rows: list[list[str]]) -> None:
    """A markdown table with columns padded to their widest cell."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, ["-" * w for w in widths], *rows]:
        print("| " + " | ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)) + " |")


def timed(function: Callable, *args, **kwargs) -> tuple[object, float]:
    """`function`'s result and the wall-clock seconds it took."""
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - started


def spread(values: list[float]) -> str:
    """The median of `values` and, in brackets, their range: how the parts print repeated figures."""
    return f"{statistics.median(values):.1f} [{min(values):.1f}-{max(values):.1f}]"


def alternating(first: Callable[[], None], second: Callable[[], None], repeats: int) -> None:
    """`first` and `second` `repeats` times each, swapping which goes first every repeat, so drifting load
    hits both alike."""
    for repeat in range(repeats):
        for run in (first, second) if repeat % 2 == 0 else (second, first):
            run()


def synthetic_features(n: int, d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """float32 features with a weak class signal (finite LogME optimum, kNN well above chance), 10 classes."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, NUM_CLASSES, n)
    features = 0.1 * rng.normal(size=(NUM_CLASSES, d))[labels] + rng.normal(size=(n, d))
    return features.astype(np.float32), labels


def probe_features(n: int, dim: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """`synthetic_features` as the tensors the probe trainer reads (float32 features, int64 labels)."""
    features, labels = synthetic_features(n, dim, seed)
    return torch.from_numpy(features), torch.from_numpy(labels.astype(np.int64))
