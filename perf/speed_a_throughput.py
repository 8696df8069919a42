"""Part a of `perf/speed.py`: training throughput of the suite's fine-tune loop (`train_and_evaluate`) against a
plain PyTorch loop written as a tutorial would, for one small model per modality, and of the batched probe trainer
(`train_heads`) with one head against a plain loop training one `nn.Linear` on the same features.

The model cases and `suite_throughput` also serve part b, which sets the estimators' cost against a fine-tune's.
"""

from __future__ import annotations

import contextlib
import io
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import timm
import torch
from accelerate import Accelerator
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset, default_collate

from benchmark.data.loading import LABEL
from benchmark.engine.loop import TrainConfig, train_and_evaluate
from benchmark.engine.probe_heads import ProbeSettings, train_heads
from benchmark.models.wrappers import HFTransferModel, TimmTransferModel
from perf.speed_common import NUM_CLASSES, Sizes, alternating, cores_used, print_table, probe_features, spread

LEARNING_RATE = 1e-4


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


def resnet(name: str) -> Callable[[], nn.Module]:
    """A builder of timm's `name` with random weights, wrapped as the suite wraps it."""
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
    ModelCase("timm resnet18, 64x64 images", 32, resnet("resnet18"), _images),
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
            [r.name, _params(r.params), str(r.batch_size), spread(r.suite), spread(r.plain), f"{r.ratio:.3f}"]
            for r in results
        ],
    )
    probe = results[-1]
    overhead_us = 1e6 * probe.batch_size * (1 / statistics.median(probe.suite) - 1 / statistics.median(probe.plain))
    print(f"per-step cost of train_heads (K=1) minus the plain nn.Linear loop's: {overhead_us:+.0f} us")
    return results


def _params(count: int) -> str:
    return f"{count / 1e6:.1f}M" if count >= 100_000 else f"{count:,}"
