"""Speed of the suite against simple baselines, printed side by side in one run.

`python perf/speed.py [--quick] [--parts abcd]` measures, offline, on random weights and synthetic data:

a. training throughput of the suite's loop (`train_and_evaluate`) against a plain PyTorch loop written as a
   tutorial would, for one small model per modality (timm ResNet-18, a small BERT, a small Wav2Vec2) and for
   the linear-probe head, whose millisecond steps expose the loop's own per-step cost;
b. the cost of the transferability estimators at N examples and D feature dimensions, LogME's speed-up over
   its per-class reference, and the estimators' share of a fine-tune of the same cell;
c. two CPU processes (gloo, through `accelerate launch`) against one: throughput and metric difference;
d. the leaderboard build over a synthetic grid of result files and, when it misses its 2 s target, a profile
   of where the time goes.

Why it exists: the suite wraps a training loop, estimators and a leaderboard around the libraries; this says
what that wrapping costs on the machine at hand, with the baseline measured in the same process and minute.
Training figures are medians over repeats that alternate suite and baseline, because shared machines are
noisy; each part also prints how many cores the process actually got, which exposes contention.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
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
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable (benchmark/, tests/)
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import numpy as np  # noqa: E402
import timm  # noqa: E402
import torch  # noqa: E402
from accelerate import Accelerator  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, Dataset, TensorDataset, default_collate  # noqa: E402

from benchmark.data.loading import LABEL  # noqa: E402
from benchmark.engine.features import FeatureDataset, batch_as_is  # noqa: E402
from benchmark.engine.loop import LinearHead, TrainConfig, train_and_evaluate  # noqa: E402
from benchmark.estimators.transferability import (  # noqa: E402
    estimate_all,
    h_score_shrinkage,
    knn_loo_accuracy,
    logme,
)
from benchmark.models.factory import HFTransferModel, TimmTransferModel  # noqa: E402
from benchmark.report.leaderboard import build_leaderboard  # noqa: E402
from benchmark.results.schema import CellResult  # noqa: E402
from benchmark.results.store import read_result, result_path, write_result  # noqa: E402
from benchmark.specs.schema import DatasetSpec, ModelSpec, TaskSpec, TrainingSpec  # noqa: E402
from testkit.fixtures import (  # noqa: E402
    cpu_launch_command,
    make_image_folder,
    make_timm_checkpoint,
    tiny_run_args,
    write_tiny_registry,
)
from testkit.oracles import logme_reference  # noqa: E402

NUM_CLASSES = 10
LEARNING_RATE = 1e-4
FINETUNE_EPOCHS = 3
LEADERBOARD_TARGET_S = 2.0


@dataclass(frozen=True)
class Sizes:
    """How big each part runs: the full benchmark or the `--quick` smoke run."""

    repeats: int
    warmup_steps: int  # optimiser steps left out of the throughput (allocator, autograd and BLAS warm-up)
    measured_steps: int
    estimator_n: int
    estimator_dims: tuple[int, ...]
    distributed_per_class: int  # training images per colour; the eval split gets half as many
    distributed_epochs: float
    leaderboard_grid: tuple[int, int, int]  # models, tasks, seeds (each x 2 inits x 2 protocols)


FULL = Sizes(
    repeats=3,
    warmup_steps=3,
    measured_steps=15,
    estimator_n=10_000,
    estimator_dims=(768, 2048),
    distributed_per_class=96,
    distributed_epochs=2,
    leaderboard_grid=(25, 20, 5),
)
QUICK = Sizes(
    repeats=1,
    warmup_steps=2,
    measured_steps=4,
    estimator_n=2_000,
    estimator_dims=(192, 512),  # the full run's N/D ratios; D > N would make the reference interpolate
    distributed_per_class=24,
    distributed_epochs=1,
    leaderboard_grid=(5, 10, 2),
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


def tensor_rows(inputs: dict[str, torch.Tensor], labels: torch.Tensor) -> tuple[Dataset, Callable]:
    """Per-example rows collated by `default_collate`, as a fine-tune's collator hands them to the loop."""
    return TensorRows(inputs, labels), default_collate


def feature_batches(inputs: dict[str, torch.Tensor], labels: torch.Tensor) -> tuple[Dataset, Callable]:
    """The linear probe's `FeatureDataset`, fetched a batch at a time, exactly as the suite's probe uses it."""
    return FeatureDataset(inputs["features"], labels), batch_as_is


@dataclass(frozen=True)
class ModelCase:
    """A small model wrapped as the suite wraps it, and synthetic, already collated inputs for it."""

    name: str
    batch_size: int
    build: Callable[[], nn.Module]
    inputs: Callable[[int, torch.Generator], dict[str, torch.Tensor]]
    step_multiplier: int = 1  # a tiny model's step takes about a millisecond: run this many times more steps
    dataset: Callable[[dict[str, torch.Tensor], torch.Tensor], tuple[Dataset, Callable]] = tensor_rows


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


def _features(n: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
    return {"features": torch.randn(n, 512, generator=generator)}


MODEL_CASES = (
    ModelCase("timm resnet18, 64x64 images", 32, _resnet("resnet18"), _images),
    ModelCase("BERT 4x256, 64 tokens", 32, _bert_small, _tokens),
    ModelCase("Wav2Vec2 4x256 (conv 128), 1 s audio", 8, _wav2vec2_small, _waves),
)
# What the linear-probe protocol trains; its steps are so short that the loop's own per-step cost shows.
PROBE_CASE = ModelCase(
    "linear-probe head, 512-d features",
    64,
    lambda: LinearHead(512, NUM_CLASSES),
    _features,
    step_multiplier=20,
    dataset=feature_batches,
)


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
    train_data, collate = case.dataset(inputs, labels)
    eval_data, _ = case.dataset(eval_inputs, eval_labels)
    with contextlib.redirect_stderr(io.StringIO()):  # tqdm's bar still runs, it just does not print here
        train_and_evaluate(
            accelerator,
            model,
            train_data,
            eval_data,
            collate,
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


@dataclass(frozen=True)
class Throughput:
    """Examples/s of both loops on one model, one figure per repeat."""

    case: ModelCase
    params: int
    suite: list[float]
    plain: list[float]

    @property
    def ratio(self) -> float:
        return statistics.median(self.suite) / statistics.median(self.plain)


def measure_throughput(case: ModelCase, accelerator: Accelerator, sizes: Sizes) -> Throughput:
    """Both loops `sizes.repeats` times, alternating which goes first so drifting load hits both alike."""
    suite, plain = [], []
    warmup, steps = sizes.warmup_steps * case.step_multiplier, sizes.measured_steps * case.step_multiplier
    for repeat in range(sizes.repeats):
        runs = [
            lambda: suite.append(suite_throughput(case, accelerator, warmup, steps)),
            lambda: plain.append(plain_throughput(case, accelerator.device, warmup, steps)),
        ]
        for run in runs if repeat % 2 == 0 else runs[::-1]:
            run()
    params = sum(p.numel() for p in seeded_model(case, 0).parameters())
    return Throughput(case, params, suite, plain)


def report_throughput(sizes: Sizes) -> None:
    accelerator = Accelerator()
    print(f"\n## a. Training throughput: suite loop vs plain PyTorch loop (device {accelerator.device})")
    print(
        f"train-only examples/s over {sizes.measured_steps} optimiser steps after {sizes.warmup_steps} warm-up "
        f"steps ({PROBE_CASE.step_multiplier}x as many for the linear-probe head); median of {sizes.repeats} "
        "(min-max in brackets); ratio = suite / plain, < 1 means the suite's loop is slower"
    )
    with cores_used("a", torch.get_num_threads()):
        results = [measure_throughput(case, accelerator, sizes) for case in (*MODEL_CASES, PROBE_CASE)]
    print_table(
        ["model", "params", "batch", "suite ex/s", "plain ex/s", "ratio"],
        [
            [
                r.case.name,
                f"{r.params / 1e6:.1f}M",
                str(r.case.batch_size),
                _spread(r.suite),
                _spread(r.plain),
                f"{r.ratio:.3f}",
            ]
            for r in results
        ],
    )
    probe = results[-1]
    overhead_us = (
        1e6 * probe.case.batch_size * (1 / statistics.median(probe.suite) - 1 / statistics.median(probe.plain))
    )
    print(f"per-step cost of the suite loop minus plain PyTorch's (linear-probe head row): {overhead_us:+.0f} us")


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


def write_synthetic_results(root: Path, models: int, tasks: int, seeds: int, seed: int = 0) -> int:
    """One suite's result files over models x {pretrained, scratch} x tasks x protocols x seeds, written with
    `write_result`: realistic records (10-point curves, specs, timing, complexity, estimators; ~2 % failed)."""
    rng = np.random.default_rng(seed)
    count = 0
    for m in range(models):
        for t in range(tasks):
            for init in ("pretrained", "scratch"):
                for protocol in ("finetune", "linear_probe"):
                    for s in range(seeds):
                        result = synthetic_result(m, init, t, protocol, s, rng)
                        path = result_path(root, result.suite, result.model, init, result.task, protocol, s)
                        write_result(path, result)
                        count += 1
    return count


def synthetic_result(
    model: int, init: str, task: int, protocol: str, seed: int, rng: np.random.Generator
) -> CellResult:
    """A plausible cell record, shaped like those `benchmark.engine.cell` writes; scores depend on the model."""
    model_id, task_id = f"model-{model:02d}", f"task-{task:02d}"
    task_spec = TaskSpec(
        task=task_id,
        modality="vision",
        metrics=["accuracy", "f1_macro"],
        dataset=DatasetSpec(path=f"org/{task_id}", input_column="image"),
    )
    model_spec = ModelSpec(id=model_id, library="timm", checkpoint=f"{model_id}.in1k", modality="vision")
    specs = {
        "task": task_spec.model_dump(),
        "model": model_spec.model_dump(),
        "training": TrainingSpec(epochs=3, batch_size=64, learning_rate=1e-4).model_dump(),
    }
    common = {
        "suite": "synthetic",
        "model": model_id,
        "init": init,
        "task": task_id,
        "modality": "vision",
        "protocol": protocol,
        "seed": seed,
        "main_metric": "accuracy",
        "specs": specs,
    }
    if rng.random() < 0.02:
        return CellResult(**common, status="failed", error="RuntimeError: out of memory\nTraceback (most recent ...")
    final = float(np.clip(0.4 + 0.02 * model - (0.2 if init == "scratch" else 0.0) + rng.normal(0, 0.02), 0.05, 1))
    curve = [
        {
            "step": 50 * (i + 1),
            "epoch": 0.3 * (i + 1),
            "train_elapsed_s": 12.5 * (i + 1),
            "score": final * (1 - 0.5 ** (i + 1)),
            "metrics": {"accuracy": final * (1 - 0.5 ** (i + 1)), "f1_macro": final * (0.98 - 0.5 ** (i + 1))},
        }
        for i in range(10)
    ]
    probe = protocol == "linear_probe"
    return CellResult(
        **common,
        status="ok",
        metrics=curve[-1]["metrics"],
        chance={"accuracy": 0.1, "f1_macro": 0.018},
        curve=curve,
        timing={"train_wall_s": 125.0 + model, "eval_wall_s": 9.1, "samples_per_s": 240.2, "total_wall_s": 141.7},
        complexity={
            "params_total": 5_000_000 + 1_000_000 * model,
            "params_trainable": 5_000_000 + 1_000_000 * model,
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
            "learning_rate": 1e-2 if probe else 1e-4,
            "num_train": 10_000,
            "num_eval": 2_000,
            "num_eval_scored": 2_000,
            "batch_sizes_tried": "64",
            "num_labels": 10,
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


# --- entry point --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python perf/speed.py", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: one repeat, fewer steps, N=2000")
    parser.add_argument("--parts", default="abcd", help="which parts to run, e.g. 'ad' (default: all four, 'abcd')")
    args = parser.parse_args(argv)
    unknown = set(args.parts) - set("abcd")
    if unknown:
        parser.error(f"--parts: unknown part(s) {''.join(sorted(unknown))}; choose from a, b, c, d")
    sizes = QUICK if args.quick else FULL
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
