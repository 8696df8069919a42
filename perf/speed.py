"""Speed of the suite against simple baselines, printed side by side in one run.

`python perf/speed.py [--quick] [--parts abcdef] [--demo-tasks [--demo-seeds 0]]` measures, offline, on random
weights and synthetic data:

a. training throughput of the suite's fine-tune loop (`train_and_evaluate`) against a plain PyTorch loop written
   as a tutorial would, for one small model per modality (timm ResNet-18, a small BERT, a small Wav2Vec2), and of
   the batched probe trainer (`train_heads`) with one head against a plain loop training one `nn.Linear` on the
   same features (same epochs, batch size and AdamW), whose sub-millisecond steps expose the trainer's own cost;
b. the cost of the transferability estimators at N examples and D feature dimensions, LogME's speed-up over
   its per-class reference, and the estimators' share of a fine-tune of the same cell;
c. two CPU processes (gloo, through `accelerate launch`) against one: throughput and metric difference;
d. the leaderboard build over a synthetic grid of schema-v2 result files (curves, searches, convergence and
   per-example test predictions) and, when it misses its 2 s target, a profile of where the time goes;
e. an 8-configuration fine-tune search by successive halving (`FinetuneSearch`, the default halving rate) against one
   full fine-tune of the same model, task and budget, and the same grid trained naively (every configuration to
   the whole budget): wall-time ratio and whether both pick the same configuration, on synthetic tasks and, with
   `--demo-tasks`, on the real demo tasks (one model per task; assets from `python -m benchmark.assets.prepare`);
   then the two selection rules side by side (the rank rule, best 1/rate per rung, against the noise rule, which
   drops only configurations worse than the best by more than the paired validation noise): cost and regret
   against the full grid, and whether each choice scores within the noise of the full grid's best;
f. an 8-configuration linear-probe grid (`train_heads` with 8 heads) against one probe on the same features.

Why it exists: the suite wraps a training loop, a search, estimators and a leaderboard around the libraries;
this says what that wrapping costs on the machine at hand, with the baseline measured in the same process and
minute. Training figures are medians over repeats that alternate suite and baseline, because shared machines are
noisy; each part also prints how many cores the process actually got, which exposes contention. The GPU part is
`perf/gpu.py`, its own entry point: this script needs `datasets`, which a GPU image may lack.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import io
import os
import platform
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from unittest import mock

if __package__ in (None, ""):  # run as a script: make the repository root importable (benchmark/, testkit/)
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import numpy as np  # noqa: E402
import timm  # noqa: E402
import torch  # noqa: E402
from accelerate import Accelerator  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, Dataset, TensorDataset, default_collate  # noqa: E402

from benchmark.data.loading import LABEL, SplitCaps, expand_assets, load_encoded  # noqa: E402
from benchmark.engine import finetune as finetune_module  # noqa: E402
from benchmark.engine import loop as loop_module  # noqa: E402
from benchmark.engine.context import RunContext  # noqa: E402
from benchmark.engine.finetune import FinetuneSearch  # noqa: E402
from benchmark.engine.loop import TrainConfig, train_and_evaluate  # noqa: E402
from benchmark.engine.plan import Group  # noqa: E402
from benchmark.engine.probe_heads import HeadsOutcome, ProbeSettings, train_heads  # noqa: E402
from benchmark.engine.records import convergence  # noqa: E402
from benchmark.engine.search import (  # noqa: E402
    DEFAULT_GRIDS,
    DEFAULT_PROBE_GRID,
    NoiseRule,
    best_indices,
    expand_grid,
    halving_budgets,
    paired_standard_error,
    survivors,
)
from benchmark.estimators.transferability import (  # noqa: E402
    estimate_all,
    h_score_shrinkage,
    knn_loo_accuracy,
    logme,
)
from benchmark.metrics.compute import metric_fn  # noqa: E402
from benchmark.models.factory import HFTransferModel, TimmTransferModel  # noqa: E402
from benchmark.report.leaderboard import build_leaderboard  # noqa: E402
from benchmark.results.schema import Candidate, CellResult, SearchRecord  # noqa: E402
from benchmark.results.store import read_result, result_path, write_result  # noqa: E402
from benchmark.specs.registry import load_registry  # noqa: E402
from benchmark.specs.schema import (  # noqa: E402
    DatasetSpec,
    GridSpec,
    ModelSpec,
    SearchSpec,
    TaskSpec,
    TrainingSpec,
)
from benchmark.utils.paths import DEFAULT_TASKS_DIR, default_assets_dir  # noqa: E402
from testkit.fixtures import (  # noqa: E402
    cpu_launch_command,
    make_image_folder,
    make_timm_checkpoint,
    tiny_run_args,
    write_tiny_registry,
)
from testkit.oracles import logme_reference  # noqa: E402
from testkit.synthetic_tasks import (  # noqa: E402
    make_bert_model_checkpoint,
    make_noisy_image_task,
    make_timm_model_checkpoint,
    make_word_topic_task,
)

NUM_CLASSES = 10
LEARNING_RATE = 1e-4
FINETUNE_EPOCHS = 3
LEADERBOARD_TARGET_S = 2.0
SEARCH_TARGET_RATIO = 2.5  # the target: at most 2.5 full fine-tunes for an 8-configuration search
HALVING_RATE = SearchSpec().halving_rate  # the suite's default
PROBE_GRID_TARGET_RATIO = 1.5
PART_NAMES = "abcdef"


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


# --- machine and contention ---------------------------------------------------------------------------------


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


# --- a. training throughput ---------------------------------------------------------------------------------


class TensorRows(Dataset):
    """Rows `{input name: tensor[i], labels: labels[i]}` of pre-built tensors: what the suite's loop reads."""

    def __init__(self, inputs: dict[str, torch.Tensor], labels: torch.Tensor):
        self.inputs, self.labels = inputs, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {**{name: tensor[index] for name, tensor in self.inputs.items()}, LABEL: self.labels[index]}


@dataclass(frozen=True)
class ModelCase:
    """A small model wrapped as the suite wraps it, and synthetic, already collated inputs for it."""

    name: str
    batch_size: int
    build: Callable[[], nn.Module]
    inputs: Callable[[int, torch.Generator], dict[str, torch.Tensor]]


def _resnet(name: str) -> Callable[[], nn.Module]:
    return lambda: TimmTransferModel(timm.create_model(name, pretrained=False, num_classes=NUM_CLASSES), None)


def _bert_small() -> nn.Module:
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(
        hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024, num_labels=NUM_CLASSES
    )
    return HFTransferModel(BertForSequenceClassification(config))


def _wav2vec2_small() -> nn.Module:
    from transformers import Wav2Vec2Config, Wav2Vec2ForSequenceClassification

    config = Wav2Vec2Config(
        hidden_size=256,
        num_hidden_layers=4,
        num_attention_heads=4,
        intermediate_size=1024,
        conv_dim=(128,) * 7,
        classifier_proj_size=128,
        num_labels=NUM_CLASSES,
    )
    return HFTransferModel(Wav2Vec2ForSequenceClassification(config))


def _images(n: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
    return {"pixel_values": torch.randn(n, 3, 64, 64, generator=generator)}


def _tokens(n: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
    ids = torch.randint(1000, 30_000, (n, 64), generator=generator)
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "token_type_ids": torch.zeros_like(ids)}


def _waves(n: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
    return {"input_values": torch.randn(n, 16_000, generator=generator)}


MODEL_CASES = (
    ModelCase("timm resnet18, 64x64 images", 32, _resnet("resnet18"), _images),
    ModelCase("BERT 4x256, 64 tokens", 32, _bert_small, _tokens),
    ModelCase("Wav2Vec2 4x256 (conv 128), 1 s audio", 8, _wav2vec2_small, _waves),
)
PROBE_DIM, PROBE_BATCH_SIZE = 512, 64
PROBE_CONFIG = {"learning_rate": 1e-3, "weight_decay": 0.01}  # torch.optim.AdamW's default decay, for both loops


def synthetic_batches(case: ModelCase, n: int, seed: int) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """The same `n` inputs and labels for both loops (pre-built, so data loading stays negligible)."""
    generator = torch.Generator().manual_seed(seed)
    return case.inputs(n, generator), torch.randint(0, NUM_CLASSES, (n,), generator=generator)


def seeded_model(case: ModelCase, seed: int) -> nn.Module:
    """The case's model with the same random weights every call."""
    torch.manual_seed(seed)
    return case.build()


def _accuracy(predictions: list[int], references: list[int]) -> dict[str, float]:
    return {"accuracy": float(np.mean(np.equal(predictions, references)))}


def suite_throughput(case: ModelCase, accelerator: Accelerator, warmup: int, steps: int, seed: int = 0) -> float:
    """Training examples/s of `train_and_evaluate` over `steps` optimiser steps after `warmup` ones.

    One epoch, evaluated once at its end on a single batch; the clock runs from the forward of the first
    measured step to the moment evaluation starts (the model's `eval()`), so evaluation is not counted but
    everything the loop does around each step (accumulate context, scheduler, loss bookkeeping, progress
    bar, periodic loss check) is.
    """
    model = seeded_model(case, seed)
    stamps: list[float] = []
    eval_started: list[float] = []
    model.register_forward_pre_hook(
        lambda module, args: (stamps if module.training else eval_started).append(time.perf_counter())
    )
    inputs, labels = synthetic_batches(case, (warmup + steps) * case.batch_size, seed)
    eval_inputs, eval_labels = synthetic_batches(case, case.batch_size, seed + 1)
    config = TrainConfig(
        epochs=1, batch_size=case.batch_size, learning_rate=LEARNING_RATE, evals_per_epoch=1, seed=seed
    )
    with contextlib.redirect_stderr(io.StringIO()):  # tqdm's bar still runs, it just does not print here
        train_and_evaluate(
            accelerator,
            model,
            TensorRows(inputs, labels),
            TensorRows(eval_inputs, eval_labels),
            default_collate,
            config,
            _accuracy,
            "accuracy",
        )
    accelerator.free_memory()
    return steps * case.batch_size / (eval_started[0] - stamps[warmup])


def plain_throughput(case: ModelCase, device: torch.device, warmup: int, steps: int, seed: int = 0) -> float:
    """Training examples/s of a tutorial-style PyTorch loop on the same model, data and batch size.

    Default DataLoader (shuffled), AdamW, `model.train()`, `loss.item()` every step for logging; the clock
    runs from the first measured step's start to the end of the loop.
    """
    model = seeded_model(case, seed).to(device)
    inputs, labels = synthetic_batches(case, (warmup + steps) * case.batch_size, seed)
    loader = DataLoader(TensorDataset(*inputs.values(), labels), batch_size=case.batch_size, shuffle=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE)
    model.train()
    stamps, running_loss = [], 0.0
    for *tensors, target in loader:
        stamps.append(time.perf_counter())
        batch = {name: tensor.to(device) for name, tensor in zip(inputs, tensors, strict=True)}
        loss = nn.functional.cross_entropy(model(batch), target.to(device))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        running_loss += loss.item()
    return steps * case.batch_size / (time.perf_counter() - stamps[warmup])


def probe_features(n: int, dim: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """`synthetic_features` as the tensors the probe trainer reads (float32 features, int64 labels)."""
    features, labels = synthetic_features(n, dim, seed)
    return torch.from_numpy(features), torch.from_numpy(labels.astype(np.int64))


def heads_throughput(
    train: tuple[torch.Tensor, torch.Tensor], validation: tuple[torch.Tensor, torch.Tensor], epochs: int
) -> float:
    """Training examples/s of `train_heads` with one head (`PROBE_CONFIG`): its own clock, which stops for the
    evaluations along the curve, so they are not counted."""
    settings = ProbeSettings(epochs=epochs, batch_size=PROBE_BATCH_SIZE, warmup_ratio=0.1, seed=0)
    outcome = train_heads(train, validation, [PROBE_CONFIG], NUM_CLASSES, settings, _accuracy, "accuracy")
    return outcome.examples_seen / outcome.train_wall_s


def plain_linear_throughput(train: tuple[torch.Tensor, torch.Tensor], epochs: int, seed: int = 0) -> float:
    """Training examples/s of a plain loop training one `nn.Linear` on the same features: a shuffled order per
    epoch, batches indexed out of the feature tensor, `torch.optim.AdamW` with the same rate and decay, and
    `loss.item()` every step for logging; no schedule and no evaluation."""
    features, labels = train
    torch.manual_seed(seed)
    head = nn.Linear(features.shape[1], NUM_CLASSES)
    optimizer = torch.optim.AdamW(
        head.parameters(), lr=PROBE_CONFIG["learning_rate"], weight_decay=PROBE_CONFIG["weight_decay"]
    )
    generator, seen, running_loss = torch.Generator().manual_seed(seed), 0, 0.0
    started = time.perf_counter()
    for _ in range(epochs):
        for batch in torch.randperm(len(labels), generator=generator).split(PROBE_BATCH_SIZE):
            loss = nn.functional.cross_entropy(head(features[batch]), labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
            seen += len(batch)
    return seen / (time.perf_counter() - started)


@dataclass(frozen=True)
class Throughput:
    """Examples/s of the suite's trainer and of its plain baseline on one model, one figure per repeat."""

    name: str
    params: int
    batch_size: int
    suite: list[float]
    plain: list[float]

    @property
    def ratio(self) -> float:
        return statistics.median(self.suite) / statistics.median(self.plain)


def alternating(first: Callable[[], None], second: Callable[[], None], repeats: int) -> None:
    """`first` and `second` `repeats` times each, swapping which goes first every repeat, so drifting load
    hits both alike."""
    for repeat in range(repeats):
        for run in (first, second) if repeat % 2 == 0 else (second, first):
            run()


def measure_throughput(case: ModelCase, accelerator: Accelerator, sizes: Sizes) -> Throughput:
    """Both loops on one model case, `sizes.repeats` times each, alternating."""
    suite, plain = [], []
    warmup, steps = sizes.warmup_steps, sizes.measured_steps
    alternating(
        lambda: suite.append(suite_throughput(case, accelerator, warmup, steps)),
        lambda: plain.append(plain_throughput(case, accelerator.device, warmup, steps)),
        sizes.repeats,
    )
    params = sum(p.numel() for p in seeded_model(case, 0).parameters())
    return Throughput(case.name, params, case.batch_size, suite, plain)


def measure_probe_throughput(sizes: Sizes) -> Throughput:
    """The batched probe trainer with one head against the plain `nn.Linear` loop, alternating."""
    train = probe_features(sizes.probe_examples, PROBE_DIM, seed=0)
    validation = probe_features(max(PROBE_BATCH_SIZE, sizes.probe_examples // 8), PROBE_DIM, seed=1)
    warm = (train[0][: 4 * PROBE_BATCH_SIZE], train[1][: 4 * PROBE_BATCH_SIZE])
    heads_throughput(warm, validation, 1), plain_linear_throughput(warm, 1)  # first-call costs, untimed
    suite, plain = [], []
    alternating(
        lambda: suite.append(heads_throughput(train, validation, sizes.probe_epochs)),
        lambda: plain.append(plain_linear_throughput(train, sizes.probe_epochs)),
        sizes.repeats,
    )
    name = f"linear probe, {PROBE_DIM}-d features: train_heads K=1 vs nn.Linear loop"
    return Throughput(name, (PROBE_DIM + 1) * NUM_CLASSES, PROBE_BATCH_SIZE, suite, plain)


def report_throughput(sizes: Sizes) -> list[Throughput]:
    accelerator = Accelerator()
    print(f"\n## a. Training throughput: suite loop vs plain PyTorch loop (device {accelerator.device})")
    steps = sizes.probe_epochs * -(-sizes.probe_examples // PROBE_BATCH_SIZE)
    print(
        f"train-only examples/s over {sizes.measured_steps} optimiser steps after {sizes.warmup_steps} warm-up "
        f"steps (the probe row: {steps} steps, {sizes.probe_epochs} epochs of {sizes.probe_examples:,} features, "
        f"evaluations excluded); median of {sizes.repeats} (min-max in brackets); ratio = suite / plain, "
        "< 1 means the suite is slower"
    )
    with cores_used("a", torch.get_num_threads()):
        results = [measure_throughput(case, accelerator, sizes) for case in MODEL_CASES]
        results.append(measure_probe_throughput(sizes))
    print_table(
        ["model", "params", "batch", "suite ex/s", "plain ex/s", "ratio"],
        [
            [r.name, _params(r.params), str(r.batch_size), _spread(r.suite), _spread(r.plain), f"{r.ratio:.3f}"]
            for r in results
        ],
    )
    probe = results[-1]
    overhead_us = 1e6 * probe.batch_size * (1 / statistics.median(probe.suite) - 1 / statistics.median(probe.plain))
    print(f"per-step cost of train_heads (K=1) minus the plain nn.Linear loop's: {overhead_us:+.0f} us")
    return results


def _params(count: int) -> str:
    return f"{count / 1e6:.1f}M" if count >= 100_000 else f"{count:,}"


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} [{min(values):.1f}-{max(values):.1f}]"


# --- b. estimator cost --------------------------------------------------------------------------------------


ESTIMATORS: dict[str, Callable[[np.ndarray, np.ndarray], object]] = {
    "logme": logme,
    "logme_reference": logme_reference,
    "h_score_shrinkage": h_score_shrinkage,
    "knn_loo_accuracy": knn_loo_accuracy,
    "estimate_all": estimate_all,
}
ONCE = ("logme_reference",)  # minutes at D=2048: timed once, not repeated


def synthetic_features(n: int, d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """float32 features with a weak class signal (finite LogME optimum, kNN well above chance), 10 classes."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, NUM_CLASSES, n)
    features = 0.1 * rng.normal(size=(NUM_CLASSES, d))[labels] + rng.normal(size=(n, d))
    return features.astype(np.float32), labels


def estimator_seconds(n: int, d: int, repeats: int) -> dict[str, list[float]]:
    """Seconds per call of every estimator, `repeats` calls each (one for the slow reference)."""
    features, labels = synthetic_features(n, d)
    return {
        name: [timed(estimator, features, labels)[1] for _ in range(1 if name in ONCE else repeats)]
        for name, estimator in ESTIMATORS.items()
    }


def _vit_tiny() -> nn.Module:
    return TimmTransferModel(timm.create_model("vit_tiny_patch16_224", pretrained=False, num_classes=NUM_CLASSES), None)


def _bert_base() -> nn.Module:
    from transformers import BertConfig, BertForSequenceClassification

    return HFTransferModel(BertForSequenceClassification(BertConfig(num_labels=NUM_CLASSES)))


def _images_224(n: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
    return {"pixel_values": torch.randn(n, 3, 224, 224, generator=generator)}


def _tokens_128(n: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
    ids = torch.randint(1000, 30_000, (n, 128), generator=generator)
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "token_type_ids": torch.zeros_like(ids)}


# The cell an estimator at feature dimension D belongs to: a standard backbone whose pooled features are D-d,
# fine-tuned at its usual input size. Its fine-tune time is what the estimators save; their cost is set against it.
FEATURE_BACKBONES = {
    192: ModelCase("ViT-Ti/16, 224 px", 8, _vit_tiny, _images_224),
    512: ModelCase("ResNet-18, 224 px", 8, _resnet("resnet18"), _images_224),
    768: ModelCase("BERT-base, 128 tokens", 4, _bert_base, _tokens_128),
    2048: ModelCase("ResNet-50, 224 px", 8, _resnet("resnet50"), _images_224),
}
BACKBONE_STEPS = (1, 3)  # warm-up and measured optimiser steps: these models take seconds per step here


def report_estimators(sizes: Sizes) -> None:
    n = sizes.estimator_n
    print(f"\n## b. Estimator cost at N = {n:,}, {NUM_CLASSES} classes (random float32 features)")
    print(
        f"fine-tune time of the same cell = {FINETUNE_EPOCHS} epochs x {n:,} examples at the suite loop's "
        f"throughput, measured over {BACKBONE_STEPS[1]} steps, of a backbone with D-dimensional pooled features "
        "(an estimate of the whole fine-tune from its measured speed, not a run of it)"
    )
    accelerator = Accelerator()
    for d in sizes.estimator_dims:
        backbone = FEATURE_BACKBONES[d]
        with cores_used(f"b, D={d}", torch.get_num_threads()):
            seconds = estimator_seconds(n, d, sizes.repeats)
            finetune_ex_s = suite_throughput(backbone, accelerator, *BACKBONE_STEPS)
        finetune_s = FINETUNE_EPOCHS * n / finetune_ex_s
        median = {name: statistics.median(values) for name, values in seconds.items()}
        print(f"\nD = {d}")
        print_table(
            ["estimator", "seconds", "runs"],
            [[name, f"{median[name]:.3f}", str(len(values))] for name, values in seconds.items()],
        )
        print(f"LogME speed-up over logme_reference: {median['logme_reference'] / median['logme']:.1f}x")
        print(
            f"estimate_all = {100 * median['estimate_all'] / finetune_s:.2f} % of fine-tuning {backbone.name} "
            f"({finetune_ex_s:.1f} ex/s -> {finetune_s:.0f} s)"
        )


# --- c. two CPU processes vs one ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Launch:
    """One `accelerate launch` of a fine-tune: its result record and the command's wall-clock seconds."""

    processes: int
    result: CellResult
    wall_s: float


def build_distributed_fixtures(root: Path, per_class: int) -> tuple[Path, Path]:
    """The tiny ResNet checkpoint, a colours imagefolder of `per_class` training images per class, and the
    tiny task registry (testkit/fixtures.py), under `root`; returns (tasks dir, assets dir)."""
    assets = root / "assets"
    make_timm_checkpoint(assets / "tiny-resnet")
    make_image_folder(assets / "colours", per_class=per_class)
    return write_tiny_registry(root / "tasks"), assets


def launch_finetune(tasks: Path, assets: Path, output: Path, processes: int, epochs: float, init: str) -> Launch:
    """Fine-tune the tiny ResNet on colours through `accelerate launch`, as tests/test_distributed.py does.

    The global batch is 16 in both modes (16 on one process, 8 per process on two); `benchmark/run.py` splits
    the machine's cores between the processes. `init="scratch"` runs only the from-scratch twin: without
    `--no-scratch` the plan is [pretrained, scratch], and `--shard 1/2` keeps its second cell.
    A failed cell is returned like any other (the runner records it); no result file at all raises.
    """
    narrowing = ["--shard", "1/2"] if init == "scratch" else ["--no-scratch"]
    command = [
        *cpu_launch_command(processes),
        *tiny_run_args(tasks, assets, output, "--models", "tiny-resnet", "--tasks", "colours", *narrowing),
        *("--protocols", "finetune", "--epochs", str(epochs), "--batch-size", str(16 // processes)),
    ]
    env = {
        **os.environ,
        "ACCELERATE_USE_CPU": "true",
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    completed, wall_s = timed(subprocess.run, command, capture_output=True, text=True, env=env, timeout=900)
    path = result_path(output, "tiny", "tiny-resnet", init, "colours", "finetune", 0)
    if not path.exists():
        raise RuntimeError(
            f"accelerate launch with {processes} process(es) wrote no result:\n{completed.stderr[-3000:]}"
        )
    return Launch(processes, read_result(path), wall_s)


def compare_processes(tasks: Path, assets: Path, work_dir: Path, sizes: Sizes, init: str) -> list[Launch]:
    """One and two processes, `sizes.repeats` times each in alternating order; stops at the first failed cell."""
    launches = []
    for repeat in range(sizes.repeats):
        for processes in (1, 2) if repeat % 2 == 0 else (2, 1):
            output = work_dir / f"{init}-{processes}-{repeat}"
            launches.append(launch_finetune(tasks, assets, output, processes, sizes.distributed_epochs, init))
            if launches[-1].result.status != "ok":
                return launches
    return launches


def report_distributed(sizes: Sizes, work_dir: Path) -> None:
    print("\n## c. Two CPU processes (gloo) vs one: tiny ResNet fine-tuned on the colours fixture")
    tasks, assets = build_distributed_fixtures(work_dir, sizes.distributed_per_class)
    with cores_used("c"):
        launches = compare_processes(tasks, assets, work_dir, sizes, "pretrained")
        failed = next((launch for launch in launches if launch.result.status != "ok"), None)
        if failed:
            reason = (failed.result.error or "").splitlines()[0][:300]
            print(f"the pretrained cell {failed.result.status} with {failed.processes} process(es): {reason}")
            print("so the comparison below uses its from-scratch twin (same architecture, random initialisation)")
            launches = compare_processes(tasks, assets, work_dir, sizes, "scratch")
    if any(launch.result.status != "ok" for launch in launches):
        raise RuntimeError(f"the from-scratch twin failed too: {launches[-1].result.error}")
    by_processes = {p: [launch for launch in launches if launch.processes == p] for p in (1, 2)}
    speed = {
        p: statistics.median(launch.result.timing.samples_per_s for launch in done) for p, done in by_processes.items()
    }
    metrics = {p: done[0].result.metrics for p, done in by_processes.items()}
    print(
        f"{sizes.distributed_per_class * 3} training and {sizes.distributed_per_class // 2 * 3} eval images, "
        f"{sizes.distributed_epochs:g} epochs, global batch 16; samples_per_s and metrics from the result JSONs "
        f"(median of {sizes.repeats} launches; metrics of the first)"
    )
    print_table(
        ["processes", "hardware (threads per process)", "samples_per_s", "launch wall s", "metrics"],
        [
            [
                str(p),
                str(done[0].result.setup.hardware),
                _spread([launch.result.timing.samples_per_s for launch in done]),
                f"{statistics.median(launch.wall_s for launch in done):.1f}",
                ", ".join(f"{k}={v:.4f}" for k, v in sorted(metrics[p].items())),
            ]
            for p, done in by_processes.items()
        ],
    )
    print(f"throughput ratio 2 processes / 1 process: {speed[2] / speed[1]:.3f}")
    print(
        "metric difference (2 - 1): "
        + ", ".join(f"{k} {metrics[2][k] - metrics[1][k]:+.4f}" for k in sorted(metrics[1]))
    )


# --- d. leaderboard build -----------------------------------------------------------------------------------

SYNTHETIC_METRICS = ("accuracy", "f1_macro")
SYNTHETIC_SPLITS = (10_000, 500, 200)  # train, validation, test examples of every synthetic cell
FINETUNE_STEPS, PROBE_STEPS = 469, 4690  # 3 and 30 epochs of 10,000 examples in batches of 64
CURVE_POINTS = 10


def write_synthetic_results(root: Path, models: int, tasks: int, seeds: int, seed: int = 0) -> int:
    """One suite's result files over models x {pretrained, scratch} x tasks x protocols x seeds, written with
    `write_result`: realistic schema-v2 records (curves, searches, convergence, 200 per-example test predictions,
    specs, timing, complexity, estimators; ~2 % failed)."""
    rng = np.random.default_rng(seed)
    count = 0
    for m in range(models):
        for t in range(tasks):
            for init in ("pretrained", "scratch"):
                for protocol in ("finetune", "linear_probe"):
                    for s in range(seeds):
                        result = synthetic_result(m, init, t, protocol, s, rng, seeds=seeds)
                        path = result_path(root, result.suite, result.model, init, result.task, protocol, s)
                        write_result(path, result)
                        count += 1
    return count


def synthetic_result(
    model: int, init: str, task: int, protocol: str, seed: int, rng: np.random.Generator, seeds: int = 1
) -> CellResult:
    """A plausible cell record, shaped like those `benchmark.engine.records.cell_result` writes: its group's search
    (the same for every seed), the chosen configuration's validation curve and convergence, and test metrics
    computed from its per-example predictions, so the leaderboard's example bootstrap can use them. Scores depend
    on the model; seed `seed` is the `seed`-th of the group's `seeds`."""
    model_id, task_id = f"model-{model:02d}", f"task-{task:02d}"
    common = {
        "suite": "synthetic",
        "model": model_id,
        "init": init,
        "task": task_id,
        "modality": "vision",
        "protocol": protocol,
        "seed": seed,
        "main_metric": "accuracy",
        "specs": _synthetic_specs(model_id, task_id),
    }
    if rng.random() < 0.02:
        return CellResult(**common, status="failed", error="RuntimeError: out of memory\nTraceback (most recent ...")
    final = float(np.clip(0.4 + 0.02 * model - (0.2 if init == "scratch" else 0.0) + rng.normal(0, 0.02), 0.05, 1))
    probe = protocol == "linear_probe"
    search = synthetic_search(model, init, task, protocol, seeds, final)
    validation_score = search.candidates[search.chosen].scores[-1][seed]
    steps = search.budgets[-1]
    curve = [
        {
            "step": round(steps * (i + 1) / CURVE_POINTS),
            "epoch": round((30 if probe else 3) * (i + 1) / CURVE_POINTS, 4),
            "train_elapsed_s": 12.5 * (i + 1),
            "score": validation_score * (1 - 0.5 ** (i + 1)) / (1 - 0.5**CURVE_POINTS),
            "metrics": {"accuracy": validation_score * (1 - 0.5 ** (i + 1)) / (1 - 0.5**CURVE_POINTS)},
        }
        for i in range(CURVE_POINTS)
    ]
    predicted, references = synthetic_predictions(task, final, rng)
    num_train, num_validation, num_test = SYNTHETIC_SPLITS
    return CellResult(
        **common,
        status="ok",
        metrics=classification_metrics(predicted, references),
        validation_metrics={"accuracy": validation_score, "f1_macro": validation_score - 0.02},
        chance={"accuracy": 0.1, "f1_macro": 0.018},
        curve=curve,
        convergence=convergence(curve, num_validation),
        search=search,
        predictions={"predicted": predicted, "references": references},
        timing={"train_wall_s": 125.0 + model, "eval_wall_s": 9.1, "samples_per_s": 240.2, "total_wall_s": 141.7},
        complexity={
            "params_total": 5_000_000 + 1_000_000 * model,
            "params_trainable": 5_130 if probe else 5_000_000 + 1_000_000 * model,
            "flops_per_example": 1e9 * (1 + model),
            "flops_counter": "torch.utils.flop_counter + sdpa",
            "peak_memory_bytes": 2_147_483_648,
            "peak_memory_measure": "cuda max allocated",
        },
        estimators={name: float(final + rng.normal(0, 0.1)) for name in ("logme", "h_score", "knn_loo_acc")}
        if probe
        else {},
        setup={
            "device": "cuda:0",
            "hardware": "NVIDIA A100-SXM4-80GB",
            "precision": "bf16",
            "world_size": 1,
            "batch_size": 64,
            "gradient_accumulation_steps": 1,
            "epochs": 30 if probe else 3,
            "learning_rate": search.chosen_config["learning_rate"],
            "weight_decay": search.chosen_config["weight_decay"],
            "optimizer_steps": steps,
            "num_train": num_train,
            "num_validation": num_validation,
            "num_test": num_test,
            "num_test_scored": len(predicted),
            "batch_sizes_tried": "64",
            "num_labels": NUM_CLASSES,
            "feature_dim": 512 if probe else None,
        },
        versions={
            "python": "3.11.7",
            "torch": "2.11.0",
            "timm": "1.0.31",
            "transformers": "5.24.0",
            "datasets": "5.2.0",
            "evaluate": "0.4.6",
            "accelerate": "1.15.0",
            "numpy": "2.4.6",
        },
        revisions={"model": None, "dataset": None, "dataset_fingerprint": "b785e558272408bf-fb38cf793efc2f9b"},
    )


def _synthetic_specs(model_id: str, task_id: str) -> dict:
    task_spec = TaskSpec(
        task=task_id,
        modality="vision",
        metrics=list(SYNTHETIC_METRICS),
        dataset=DatasetSpec(path=f"org/{task_id}", input_column="image"),
    )
    model_spec = ModelSpec(id=model_id, library="timm", checkpoint=f"{model_id}.in1k", modality="vision")
    return {
        "task": task_spec.model_dump(),
        "model": model_spec.model_dump(),
        "training": TrainingSpec(epochs=3, batch_size=64, probe_epochs=30, warmup_ratio=0.1).model_dump(),
        "score_weights": {"quality": 0.6, "training_efficiency": 0.2, "complexity_efficiency": 0.2},
    }


def synthetic_search(model: int, init: str, task: int, protocol: str, seeds: int, final: float) -> SearchRecord:
    """The search record of a synthetic group, the same for each of its seeds (drawn from the group's own random
    stream): successive halving over the default 8-configuration grid for fine-tunes, one rung of the 8 probe
    heads for linear probes; each configuration's scores rise towards its own quality as its budget grows."""
    rng = np.random.default_rng([model, task, int(init == "scratch"), int(protocol == "linear_probe")])
    probe = protocol == "linear_probe"
    configs = expand_grid(DEFAULT_PROBE_GRID if probe else DEFAULT_GRIDS["timm", init])
    rate = 1 if probe else HALVING_RATE
    budgets = [PROBE_STEPS] if probe else halving_budgets(FINETUNE_STEPS, len(configs), rate)
    quality = final + rng.normal(0, 0.03, len(configs))
    scores: dict[int, list[list[float]]] = {i: [] for i in range(len(configs))}
    alive = list(range(len(configs)))
    for rung, budget in enumerate(budgets):
        progress = 1 - 0.3 * (1 - budget / budgets[-1])
        for i in alive:
            scores[i].append([round(float(quality[i] * progress + rng.normal(0, 0.01)), 4) for _ in range(seeds)])
        means = {i: float(np.mean(scores[i][rung])) for i in alive}
        keep = 1 if rung == len(budgets) - 1 else survivors(len(alive), rate)
        alive = sorted(best_indices(means, keep))
    return SearchRecord(
        method="batched_heads" if probe else "successive_halving",
        seeds=list(range(seeds)),
        budgets=budgets,
        halving_rate=rate,
        candidates=[Candidate(config=config, scores=scores[i]) for i, config in enumerate(configs)],
        chosen=alive[0],
        wall_s=12.5 * len(configs) if probe else 125.0 * 2.5,
    )


def synthetic_predictions(task: int, accuracy: float, rng: np.random.Generator) -> tuple[list[int], list[int]]:
    """(predicted, references) over the task's test examples: the references are fixed per task (the same
    examples, in the same order, for every model and seed); each prediction is right with probability
    `accuracy`, else another class."""
    references = np.random.default_rng([task, 1]).integers(0, NUM_CLASSES, SYNTHETIC_SPLITS[2])
    wrong = (references + rng.integers(1, NUM_CLASSES, references.size)) % NUM_CLASSES
    predicted = np.where(rng.random(references.size) < accuracy, references, wrong)
    return predicted.tolist(), references.tolist()


def classification_metrics(predicted: list[int], references: list[int]) -> dict[str, float]:
    """Accuracy and macro F1 (over the classes present in either list, as scikit-learn averages it), in numpy:
    `compute_metrics` gives the same figures at ~4 ms a call, 40 s over 10,000 files."""
    predicted_array, reference_array = np.asarray(predicted), np.asarray(references)
    labels = np.union1d(predicted_array, reference_array)
    hits = (predicted_array[:, None] == labels) & (reference_array[:, None] == labels)
    counts = (predicted_array[:, None] == labels).sum(0) + (reference_array[:, None] == labels).sum(0)
    f1 = 2 * hits.sum(0) / counts
    return {"accuracy": float(np.mean(predicted_array == reference_array)), "f1_macro": float(f1.mean())}


def profile_call(function: Callable, *args) -> pstats.Stats:
    """cProfile statistics of one call."""
    profiler = cProfile.Profile()
    profiler.runcall(function, *args)
    return pstats.Stats(profiler)


def call_tree(stats: pstats.Stats, root: str, depth: int = 4, min_share: float = 0.03) -> list[str]:
    """Where the time under function `root` goes: callees by cumulative time, nested `depth` levels deep,
    leaving out any below `min_share` of the root's total."""
    entries = stats.stats  # {(file, line, function): (calls, ncalls, tottime, cumtime, {caller: (.., cumtime)})}
    callees: dict[tuple, list[tuple[tuple, float]]] = {}
    for key, (*_, callers) in entries.items():
        for caller, (*_, cumulative) in callers.items():
            callees.setdefault(caller, []).append((key, cumulative))
    top = next(key for key in entries if key[2] == root)
    total, lines = entries[top][3], []

    def walk(key: tuple, level: int) -> None:
        for child, seconds in sorted(callees.get(key, []), key=lambda item: -item[1]):
            if seconds >= min_share * total:
                lines.append(f"{'    ' * level}{seconds:7.2f} s {100 * seconds / total:4.0f} %  {_where(child)}")
                if level + 1 < depth:
                    walk(child, level + 1)

    lines.append(f"{total:7.2f} s  100 %  {_where(top)}")
    walk(top, 1)
    return lines


def top_self_time(stats: pstats.Stats, count: int = 10) -> list[str]:
    """The functions with the most time spent in their own code (not in callees)."""
    rows = sorted(((tt, nc, key) for key, (_, nc, tt, _, _) in stats.stats.items()), reverse=True)[:count]
    return [f"{tt:7.2f} s  {nc:>9} calls  {_where(key)}" for tt, nc, key in rows]


def _where(key: tuple) -> str:
    file, line, function = key
    return function if file == "~" else f"{function}  ({Path(file).parent.name}/{Path(file).name}:{line})"


def report_leaderboard(sizes: Sizes, work_dir: Path) -> None:
    models, tasks, seeds = sizes.leaderboard_grid
    results_dir, out_dir = work_dir / "results", work_dir / "leaderboard"
    count, write_s = timed(write_synthetic_results, results_dir, models, tasks, seeds)
    print(
        f"\n## d. Leaderboard build over {count:,} synthetic result files "
        f"({models} models x 2 inits x {tasks} tasks x 2 protocols x {seeds} seeds; written in {write_s:.1f} s)"
    )
    with cores_used("d"):
        seconds = [timed(build_leaderboard, results_dir, out_dir)[1] for _ in range(sizes.repeats)]
    over = statistics.median(seconds) > LEADERBOARD_TARGET_S
    print(
        f"build_leaderboard: {_spread(seconds)} s (median [min-max] of {sizes.repeats}); target <= "
        f"{LEADERBOARD_TARGET_S:g} s: {'OVER' if over else 'met'}"
    )
    if over:
        stats = profile_call(build_leaderboard, results_dir, out_dir)
        print("\nwhere one build's time goes (cProfile, which inflates Python-heavy code; callees >= 3 %):")
        print("\n".join(call_tree(stats, "build_leaderboard")))
        print("\nmost self time:")
        print("\n".join(top_self_time(stats)))


# --- e. fine-tune search by successive halving --------------------------------------------------------------

SEARCH_SUITE = "speed"


@dataclass(frozen=True)
class SearchSubject:
    """A model and a task to search a fine-tune grid on."""

    model: ModelSpec
    task: TaskSpec

    @property
    def name(self) -> str:
        return f"{self.model.id} on {self.task.task}"


@dataclass(frozen=True)
class SearchSetting:
    """What every search of a part-e comparison shares: assets, training settings, split caps and seeds."""

    assets_dir: Path
    suite_training: TrainingSpec
    overrides: TrainingSpec = TrainingSpec()
    suite_search: SearchSpec = SearchSpec()
    caps: SplitCaps = SplitCaps()
    seeds: tuple[int, ...] = (0,)


@dataclass(frozen=True)
class RuleRun:
    """One successive-halving search of a comparison under one selection rule (grid extensions off: the full grid
    is the reference)."""

    rule: str  # "rank" or "noise"
    wall_s: float
    chosen: int
    steps: int  # optimizer steps trained per seed, summed over configurations


@dataclass(frozen=True)
class SearchComparison:
    """One subject's successive-halving search against each grid configuration trained to the whole budget.

    Every naive run is one full fine-tune exactly as the suite runs a single-configuration grid (model built
    from its checkpoint, validation curve, test scored once), so their median wall time is the cost of "one full
    fine-tune", measured 8 times in the same minutes as the search.
    """

    name: str
    configs: list[dict[str, float]]
    budgets: list[int]
    rate: int
    search_wall_s: float
    full_wall_s: list[float]  # per configuration, in grid order
    chosen: int  # successive halving's choice
    full_scores: list[float]  # per configuration: mean validation score over seeds after the whole budget
    survivor_score: float  # the chosen configuration's mean validation score at the end of the search
    search_stages: dict[str, float]  # seconds of the search in each stage of `STAGES`
    full_stages: list[dict[str, float]]  # the same for each full fine-tune, in grid order
    rules: dict[str, RuleRun] = field(default_factory=dict)  # the search under each selection rule
    full_correct: list[list[str]] = field(default_factory=list)  # per configuration, per seed

    def rule_regret(self, rule: str) -> float:
        """The full grid's best validation score minus that of the configuration `rule` chose."""
        return self.full_scores[self.grid_chosen] - self.full_scores[self.rules[rule].chosen]

    def rule_within_noise(self, rule: str) -> bool:
        """Whether `rule`'s choice scores, after the whole budget, within the paired validation noise (`noise_z`
        standard errors over seeds and validation examples) of the full grid's best."""
        chosen, best = self.rules[rule].chosen, self.grid_chosen
        error = paired_standard_error(self.full_correct[best], self.full_correct[chosen])
        return self.rule_regret(rule) <= NoiseRule().z * error

    def rule_step_ratio(self, rule: str) -> float:
        return self.rules[rule].steps / self.budgets[-1]

    def rule_ratio(self, rule: str) -> float:
        return self.rules[rule].wall_s / statistics.median(self.full_wall_s)

    @property
    def grid_chosen(self) -> int:
        """The full grid's choice: the best mean validation score, ties to the earlier configuration."""
        return best_indices(dict(enumerate(self.full_scores)), 1)[0]

    @property
    def same(self) -> bool:
        return self.chosen == self.grid_chosen

    @property
    def regret(self) -> float:
        """How much lower the chosen configuration scores after the whole budget than the full grid's best."""
        return self.full_scores[self.grid_chosen] - self.full_scores[self.chosen]

    @property
    def survivor_gap(self) -> float:
        """The survivor's final validation score minus that of the same configuration trained uninterrupted: zero
        when resuming from each rung's checkpoint reproduces the uninterrupted run, as the engine promises."""
        return self.survivor_score - self.full_scores[self.chosen]

    @property
    def ratio(self) -> float:
        """Wall time of the search over that of one full fine-tune."""
        return self.search_wall_s / statistics.median(self.full_wall_s)

    @property
    def overhead_s(self) -> float:
        """The search's wall time beyond `step_ratio` full fine-tunes: the per-run and per-rung costs (builds,
        checkpoints, extra evaluations) that a larger budget would amortise."""
        return self.search_wall_s - self.step_ratio * statistics.median(self.full_wall_s)

    @property
    def step_ratio(self) -> float:
        """Optimizer steps the search trains over those of one full fine-tune (about 2.2 for 8 configurations at rate 3,
        2.5 at rate 2)."""
        return halving_steps(self.budgets, len(self.configs), self.rate) / self.budgets[-1]


# Where a search's time goes besides training steps: each stage is one function of the engine, timed by wrapping
# it for the duration of the measurement (none of them calls another; training is what remains of the wall time).
STAGES: dict[str, tuple[object, str]] = {
    "model builds": (RunContext, "build"),
    "FLOP count": (RunContext, "complexity"),
    "memory release (gc)": (Accelerator, "free_memory"),
    "checkpoint loads": (loop_module, "load_checkpoint"),
    "checkpoint saves": (loop_module, "save_checkpoint"),
    "validation": (loop_module, "evaluate_model"),
    "test scoring": (finetune_module, "predict_split"),
    "search-state saves": (FinetuneSearch, "_save"),
}
TRAINING_STAGE = "training and the rest"


@contextlib.contextmanager
def stage_clock() -> Iterator[dict[str, float]]:
    """Seconds spent in each of `STAGES` while the block runs (the engine's functions wrapped, then restored)."""
    seconds = dict.fromkeys(STAGES, 0.0)
    with contextlib.ExitStack() as stack:
        for name, (owner, attribute) in STAGES.items():
            clocked = _clocked(getattr(owner, attribute), seconds, name)
            stack.enter_context(mock.patch.object(owner, attribute, clocked))
        yield seconds


def _clocked(function: Callable, seconds: dict[str, float], name: str) -> Callable:
    def clocked(*args, **kwargs):
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            seconds[name] += time.perf_counter() - started

    return clocked


def halving_steps(budgets: list[int], configurations: int, rate: int) -> int:
    """Optimizer steps of a successive-halving search: each rung's survivors train only its new steps."""
    steps, previous, alive = 0, 0, configurations
    for budget in budgets:
        steps += alive * (budget - previous)
        previous, alive = budget, survivors(alive, rate)
    return steps


def search_context(
    accelerator: Accelerator,
    setting: SearchSetting,
    work_dir: Path,
    encoded: dict,
    grid: GridSpec | None = None,
    rule: str = "rank",
) -> RunContext:
    """A fresh run context (its own complexity count and work folder, as a separate run would have) over the
    already loaded datasets in `encoded`; `grid` replaces the suite's fine-tune grid, searched under the selection
    `rule` and never extended (the comparisons measure selection on one fixed grid)."""
    search = setting.suite_search.model_copy(update={"selection": rule, "max_extensions": 0})
    search = search if grid is None else search.model_copy(update={"finetune": grid})
    return RunContext(
        accelerator=accelerator,
        assets_dir=setting.assets_dir,
        feature_cache=None,
        suite_training=setting.suite_training,
        suite_search=search,
        overrides=setting.overrides,
        caps=setting.caps,
        work_dir=work_dir,
        encoded_data=encoded,
    )


@contextlib.contextmanager
def quiet_libraries() -> Iterator[None]:
    """Progress bars and library warnings (transformers' load reports of every rebuilt model) not printed."""
    from transformers.utils import logging as transformers_logging

    level = transformers_logging.get_verbosity()
    transformers_logging.set_verbosity_error()
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        transformers_logging.set_verbosity(level)


@contextlib.contextmanager
def frozen_garbage() -> Iterator[None]:
    """What `run_suite` does around a run: everything alive now is frozen out of garbage collection, so the
    collection before each (configuration, rung) does not walk every long-lived object."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def timed_search(group: Group, context: RunContext) -> tuple[FinetuneSearch, float, dict[str, float]]:
    """A group's whole search, as `run_finetune_group` runs it, its wall-clock seconds, and their split over
    `STAGES` plus `TRAINING_STAGE`."""
    with stage_clock() as stages:
        started = time.perf_counter()
        search = FinetuneSearch(group, context)
        search.run()
        wall = time.perf_counter() - started
    return search, wall, {**stages, TRAINING_STAGE: wall - sum(stages.values())}


def compare_search(
    subject: SearchSubject, setting: SearchSetting, accelerator: Accelerator, work_dir: Path
) -> SearchComparison:
    """The library's default 8-configuration grid for the subject's model (`DEFAULT_GRIDS`, whatever grid the task
    or suite names: every comparison searches the same 8) by successive halving, between the two halves of the
    naive grid (each configuration trained alone to the whole budget), so drifting load hits both alike."""
    with quiet_libraries():  # loaded once, outside the clocks
        encoded = {subject.task.task: load_encoded(subject.task, setting.assets_dir)}
    task = subject.task.model_copy(update={"search": None})  # the suite's search block (as set below) applies
    group = Group(SEARCH_SUITE, subject.model, "pretrained", task, "finetune", setting.seeds)
    default_grid = DEFAULT_GRIDS[subject.model.library, "pretrained"]
    context = search_context(accelerator, setting, work_dir / "halving", encoded, default_grid)
    configs = expand_grid(default_grid)
    full: dict[int, tuple[float, float, dict[str, float], list[str]]] = {}

    def run_alone(index: int) -> None:
        config = configs[index]
        grid = GridSpec(learning_rate=[config["learning_rate"]], weight_decay=[config["weight_decay"]])
        alone, wall, stages = timed_search(
            group, search_context(accelerator, setting, work_dir / f"alone{index}", encoded, grid)
        )
        correct = [alone.state.correct[0][0][j] for j in range(len(setting.seeds))]
        full[index] = (alone.state.mean(0, 0), wall, stages, correct)

    half = len(configs) // 2
    with quiet_libraries(), frozen_garbage():
        for index in range(half):
            run_alone(index)
        halving, search_wall, search_stages = timed_search(group, context)
        noise_context = search_context(accelerator, setting, work_dir / "noise", encoded, default_grid, "noise")
        noise, noise_wall, _ = timed_search(group, noise_context)
        for index in range(half, len(configs)):
            run_alone(index)
    last = len(halving.state.budgets) - 1
    chosen = halving.state.chosen(halving.rate)
    rules = {
        "rank": RuleRun("rank", search_wall, chosen, trained_steps(halving)),
        "noise": RuleRun("noise", noise_wall, noise.state.chosen(noise.rate, noise.noise), trained_steps(noise)),
    }
    return SearchComparison(
        name=subject.name,
        configs=configs,
        budgets=halving.state.budgets,
        rate=halving.rate,
        search_wall_s=search_wall,
        full_wall_s=[full[i][1] for i in range(len(configs))],
        chosen=chosen,
        full_scores=[full[i][0] for i in range(len(configs))],
        survivor_score=halving.state.mean(chosen, last),
        search_stages=search_stages,
        full_stages=[full[i][2] for i in range(len(configs))],
        rules=rules,
        full_correct=[full[i][3] for i in range(len(configs))],
    )


def trained_steps(search: FinetuneSearch) -> int:
    """Optimizer steps a finished search trained per seed: each configuration to the budget of the last rung it
    reached (survivors continue from their rung's state, so that is all they trained)."""
    budgets = search.state.budgets
    return sum(budgets[max(rungs)] for rungs in search.state.scores.values() if rungs)


def synthetic_subjects(scale: SearchScale, root: Path) -> list[SearchSubject]:
    """The random-weight models and noisy many-class tasks of `scale`, written under `root`."""
    subjects = []
    splits = (scale.classes, scale.train_per_class, scale.test_per_class)
    if "images" in scale.subjects:
        model = make_timm_model_checkpoint(root / "timm", scale.timm_architecture, scale.image_size)
        subjects.append(SearchSubject(model, make_noisy_image_task(root / "images", *splits, scale.image_size)))
    if "texts" in scale.subjects:
        hidden, layers, heads = scale.bert_size
        model = make_bert_model_checkpoint(root / "bert", scale.classes, hidden, layers, heads, scale.words + 2)
        subjects.append(SearchSubject(model, make_word_topic_task(root / "texts", *splits, scale.words)))
    return subjects


def synthetic_setting(scale: SearchScale, root: Path) -> SearchSetting:
    """The suite's default training settings with `scale`'s batch size and budget, one seed."""
    return SearchSetting(
        assets_dir=root,
        suite_training=TrainingSpec(batch_size=scale.batch_size, max_steps=scale.max_steps),
    )


def demo_subjects(tasks_dir: Path = DEFAULT_TASKS_DIR) -> tuple[list[SearchSubject], SearchSetting]:
    """Every task of the `demo` suite with the suite's first model of its modality, and the suite's settings
    (training, caps, seeds; no `{assets}` directory yet)."""
    suite = load_registry(tasks_dir).resolve("demo")
    first = {}
    for model in suite.models:
        first.setdefault(model.modality, model)
    subjects = [SearchSubject(first[task.modality], task) for task in suite.tasks if task.modality in first]
    setting = SearchSetting(
        assets_dir=Path(),
        suite_training=suite.training,
        suite_search=suite.spec.search,
        caps=SplitCaps(suite.spec.max_train_samples, suite.spec.max_validation_samples, suite.spec.max_eval_samples),
        seeds=tuple(suite.seeds),
    )
    return subjects, setting


def missing_assets(subject: SearchSubject, assets_dir: Path) -> list[str]:
    """The local paths a subject's checkpoint and dataset name under `assets_dir` that do not exist."""
    dataset = subject.task.dataset
    files = dataset.data_files
    named = [subject.model.checkpoint, dataset.data_dir, *(_paths(files) if files else [])]
    paths = [expand_assets(path, assets_dir) for path in named if path]
    return [path for path in paths if not Path(path).exists()]


def _paths(files: str | list | dict) -> list[str]:
    if isinstance(files, str):
        return [files]
    values = files.values() if isinstance(files, dict) else files
    return [path for value in values for path in _paths(value)]


def scaled_demo(setting: SearchSetting, scale: DemoScale, assets_dir: Path) -> SearchSetting:
    """The demo suite's setting at `assets_dir`, with `scale`'s caps, seeds and budget where it sets them."""
    return SearchSetting(
        assets_dir=assets_dir,
        suite_training=setting.suite_training,
        overrides=TrainingSpec(max_steps=scale.max_steps),
        suite_search=setting.suite_search,
        caps=scale.caps or setting.caps,
        seeds=scale.seeds or setting.seeds,
    )


def print_search_table(comparisons: list[SearchComparison]) -> None:
    print_table(
        [
            "model on task",
            "budgets (steps)",
            "steps / full",
            "halving s",
            "one full fine-tune s",
            "ratio",
            "beyond steps s",
            "full grid s",
            "halving chose",
            "full grid chose",
            "same",
            "regret",
            "survivor vs alone",
        ],
        [
            [
                c.name,
                ",".join(map(str, c.budgets)),
                f"{c.step_ratio:.2f}",
                f"{c.search_wall_s:.1f}",
                _spread(c.full_wall_s),
                f"{c.ratio:.2f}",
                f"{c.overhead_s:+.1f}",
                f"{sum(c.full_wall_s):.1f}",
                _config_name(c, c.chosen),
                _config_name(c, c.grid_chosen),
                "yes" if c.same else "no",
                f"{c.regret:.4f}",
                f"{c.survivor_gap:+.4f}",
            ]
            for c in comparisons
        ],
    )


def print_stage_table(comparisons: list[SearchComparison], what: str) -> None:
    """Where the halving searches' time went against one full fine-tune's (median over the 8), stage by stage,
    summed over `comparisons`."""
    names = [*STAGES, TRAINING_STAGE]
    halving = {name: sum(c.search_stages[name] for c in comparisons) for name in names}
    full = {name: sum(statistics.median(s[name] for s in c.full_stages) for c in comparisons) for name in names}
    step_ratio = statistics.median(c.step_ratio for c in comparisons)
    print(
        f"\nwhere the time went, {what} (seconds; extra = halving - {step_ratio:.2f} x full, what the stage adds "
        "beyond that many full runs' worth; negative for work done once per search)"
    )
    print_table(
        ["stage", "halving s", "one full fine-tune s", "extra s"],
        [
            [name, f"{halving[name]:.2f}", f"{full[name]:.2f}", f"{halving[name] - step_ratio * full[name]:+.2f}"]
            for name in names
        ],
    )


def _config_name(comparison: SearchComparison, index: int) -> str:
    config, score = comparison.configs[index], comparison.full_scores[index]
    return f"#{index} lr={config['learning_rate']:g} wd={config['weight_decay']:g} ({score:.3f})"


def print_rule_table(comparisons: list[SearchComparison], what: str) -> None:
    """The two selection rules side by side against the full grid: what each chose, its cost and its regret."""
    print(
        f"\nselection rules, {what}: rank = the best 1/rate continue (the rule before the noise rule); noise = a rung "
        f"drops only configurations worse than the best by more than {NoiseRule().z:g} paired standard errors (over "
        f"seeds and validation examples), keeping at most {NoiseRule().cap} x the rank share; within noise = the "
        "choice's full-budget validation score is within that band of the full grid's best"
    )
    rows = []
    for c in comparisons:
        row = [c.name, _config_name(c, c.grid_chosen)]
        for rule in ("rank", "noise"):
            row += [
                _config_name(c, c.rules[rule].chosen),
                f"{c.rule_step_ratio(rule):.2f}",
                f"{c.rule_ratio(rule):.2f}",
                f"{c.rule_regret(rule):.4f}",
                "yes" if c.rule_within_noise(rule) else "no",
            ]
        rows.append(row)
    header = ["model on task", "full grid chose"]
    for rule in ("rank", "noise"):
        header += [f"{rule} chose", f"{rule} steps / full", f"{rule} wall / full", f"{rule} regret", "within noise"]
    print_table(header, rows)
    for rule in ("rank", "noise"):
        within = sum(c.rule_within_noise(rule) for c in comparisons)
        print(
            f"{what}, {rule} rule: within the noise of the full grid's best on {within} of {len(comparisons)}; "
            f"median steps / full {statistics.median(c.rule_step_ratio(rule) for c in comparisons):.2f}, wall / full "
            f"{statistics.median(c.rule_ratio(rule) for c in comparisons):.2f}, mean regret "
            f"{statistics.fmean(c.rule_regret(rule) for c in comparisons):.4f}"
        )


def summarise_searches(comparisons: list[SearchComparison], what: str) -> None:
    """Agreement with the full grid, the ratio against the target, and whether each survivor ended exactly where
    its uninterrupted run did (the resume-from-checkpoint guarantee)."""
    same = sum(c.same for c in comparisons)
    as_good = sum(c.regret <= 0 for c in comparisons)
    ratio = statistics.median(c.ratio for c in comparisons)
    verdict = "met" if ratio <= SEARCH_TARGET_RATIO else "OVER"
    reproduced = sum(c.survivor_gap == 0 for c in comparisons)
    print(
        f"{what}: successive halving chose the full grid's configuration on {same} of {len(comparisons)} (one "
        f"scoring as well as the full grid's best on {as_good} of {len(comparisons)}); median wall ratio to one full "
        f"fine-tune {ratio:.2f} (steps alone: {statistics.median(c.step_ratio for c in comparisons):.2f}), target <= "
        f"{SEARCH_TARGET_RATIO:g}: {verdict}; the survivor ended with its uninterrupted run's validation score on "
        f"{reproduced} of {len(comparisons)}"
    )


def report_search(sizes: Sizes, work_dir: Path, demo_assets: Path | None = None) -> list[SearchComparison]:
    scale = sizes.search
    print(
        f"\n## e. Fine-tune search: successive halving over 8 configurations (rate {HALVING_RATE}) vs one full "
        "fine-tune and vs the full grid"
    )
    print(
        "the model library's default grid (4 learning rates x 2 weight decays); every run is `FinetuneSearch` as the "
        "suite runs it (model built per run and rung, checkpoints, resumes, validation, one test scoring); "
        "'one full fine-tune' = each configuration alone as a 1-configuration grid, median [min-max] of the 8, "
        "4 run before the halving search and 4 after; 'full grid s' = all 8 (the naive search); ratio = halving s / "
        "one full fine-tune s; beyond steps = halving s - (steps / full) x one full fine-tune s, the fixed costs of "
        "its extra runs and rungs; the figure after each choice is that configuration's mean validation score after "
        "the whole budget; regret = the full grid's best score minus the chosen one's; survivor vs alone = the "
        "chosen configuration's final validation score in the search minus in its uninterrupted run (0 expected)"
    )
    accelerator = Accelerator()
    with cores_used("e, synthetic", torch.get_num_threads()):
        root = work_dir / "synthetic"
        setting = synthetic_setting(scale, root)
        with quiet_libraries():
            subjects = synthetic_subjects(scale, root)
        comparisons = [compare_search(s, setting, accelerator, work_dir / f"runs{i}") for i, s in enumerate(subjects)]
    print(
        f"synthetic: random-weight models, {scale.classes} noisy classes, {scale.classes * scale.train_per_class} "
        f"training images/texts before a fifth is held out for validation, batch {scale.batch_size}, budget "
        f"{scale.max_steps} steps, seed 0"
    )
    print_search_table(comparisons)
    for comparison in comparisons:
        print_stage_table([comparison], comparison.name)
    summarise_searches(comparisons, "synthetic tasks")
    print_rule_table(comparisons, "synthetic tasks")
    if demo_assets is not None:
        comparisons += report_demo_search(sizes, work_dir / "demo", demo_assets, accelerator)
    return comparisons


def report_demo_search(
    sizes: Sizes, work_dir: Path, assets_dir: Path, accelerator: Accelerator
) -> list[SearchComparison]:
    """Part e on the real demo tasks, one model per task; raises when their assets are not prepared."""
    subjects, suite_setting = demo_subjects()
    missing = [path for subject in subjects for path in missing_assets(subject, assets_dir)]
    if missing:
        raise FileNotFoundError(
            f"--demo-tasks: {len(missing)} demo asset(s) missing under {assets_dir} (prepare them with "
            f"`python -m benchmark.assets.prepare`), e.g. {missing[0]}"
        )
    setting = scaled_demo(suite_setting, sizes.demo, assets_dir)
    with cores_used("e, demo tasks", torch.get_num_threads()):
        comparisons = [compare_search(s, setting, accelerator, work_dir / f"runs{i}") for i, s in enumerate(subjects)]
    caps = setting.caps
    budget = f"{setting.overrides.max_steps} steps" if setting.overrides.max_steps else "the suite's epochs"
    print(
        f"\ndemo tasks ({assets_dir}): the demo suite's training settings (its tasks' own grids replaced by the "
        f"default 8), caps train/validation/test {caps.train}/"
        f"{caps.validation}/{caps.test}, seeds {list(setting.seeds)}, budget {budget}"
    )
    print_search_table(comparisons)
    print_stage_table(comparisons, f"summed over the {len(comparisons)} demo tasks")
    summarise_searches(comparisons, "demo tasks")
    print_rule_table(comparisons, "demo tasks")
    return comparisons


# --- f. linear-probe grid -----------------------------------------------------------------------------------


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
    """The default 8-configuration probe grid and its first configuration alone on the same features,
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
    print("\n## f. Linear-probe grid: 8 configurations (one batched computation) vs one, on the same features")
    print(
        f"train_heads on {n_train:,} training and {n_validation:,} validation features ({sizes.grid_dim}-d, "
        f"{NUM_CLASSES} classes), {sizes.grid_epochs:g} epochs in batches of {sizes.grid_batch_size}; the default "
        f"probe grid (2 learning rates x 4 weight decays) vs its first configuration; median [min-max] of "
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
    print(f"wall ratio 8 configurations / 1: {comparison.ratio:.2f}, target <= {PROBE_GRID_TARGET_RATIO:g}: {verdict}")
    return comparison


def _spread_s(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} [{min(values):.3f}-{max(values):.3f}]"


# --- entry point --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python perf/speed.py", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: one repeat, toy sizes, tiny models")
    parser.add_argument(
        "--parts", default=PART_NAMES, help=f"which parts to run, e.g. 'ae' (default: all, '{PART_NAMES}')"
    )
    parser.add_argument(
        "--demo-tasks",
        action="store_true",
        help="part e also on the real demo tasks, one model per task (needs the prepared offline assets)",
    )
    parser.add_argument(
        "--demo-seeds",
        type=lambda text: tuple(int(seed) for seed in text.split(",")),
        default=None,
        help="comma-separated seeds for --demo-tasks instead of the suite's (e.g. 0: a third of the time)",
    )
    parser.add_argument(
        "--assets-dir", type=Path, default=default_assets_dir(), help="the offline assets, for --demo-tasks"
    )
    args = parser.parse_args(argv)
    unknown = set(args.parts) - set(PART_NAMES)
    if unknown:
        parser.error(f"--parts: unknown part(s) {''.join(sorted(unknown))}; choose from {', '.join(PART_NAMES)}")
    if args.demo_tasks and "e" not in args.parts:
        parser.error("--demo-tasks belongs to part e: add e to --parts")
    sizes = QUICK if args.quick else FULL
    if args.demo_seeds:
        sizes = replace(sizes, demo=replace(sizes.demo, seeds=args.demo_seeds))
    print(machine_description())
    if "a" in args.parts:
        report_throughput(sizes)
    if "b" in args.parts:
        report_estimators(sizes)
    with tempfile.TemporaryDirectory(prefix="speed-") as work_dir:
        if "c" in args.parts:
            report_distributed(sizes, Path(work_dir) / "distributed")
        if "d" in args.parts:
            report_leaderboard(sizes, Path(work_dir) / "leaderboard")
        if "e" in args.parts:
            report_search(sizes, Path(work_dir) / "search", args.assets_dir if args.demo_tasks else None)
    if "f" in args.parts:
        report_probe_grid(sizes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
