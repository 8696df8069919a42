"""Part b of `perf/speed.py`: the cost of the transferability estimators at N examples and D feature dimensions,
LogME's speed-up over its per-class reference, and the estimators' share of a fine-tune of the same cell (a
backbone with D-dimensional pooled features, its fine-tune time estimated from part a's loop throughput).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from functools import partial

import numpy as np
import timm
import torch
from accelerate import Accelerator
from torch import nn

from benchmark.estimators.transferability import CATALOGUE, estimate_all
from benchmark.models.wrappers import HFTransferModel, TimmTransferModel
from perf.speed_a_throughput import ModelCase, resnet, suite_throughput
from perf.speed_common import NUM_CLASSES, Sizes, cores_used, print_table, synthetic_features, timed
from testkit.oracles import logme_reference

FINETUNE_EPOCHS = 3

# every estimator of the catalogue that reads the features alone (the suite's own list), the slow reference LogME
# beside the suite's, and all of them at once as a probe cell computes them
ESTIMATORS: dict[str, Callable[[np.ndarray, np.ndarray], object]] = {
    **{e.name: partial(e.compute, P=None) for e in CATALOGUE if not e.needs_source_head},
    "logme_reference": logme_reference,
    "estimate_all": estimate_all,
}
ONCE = ("logme_reference",)  # minutes at D=2048: timed once, not repeated


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
    512: ModelCase("ResNet-18, 224 px", 8, resnet("resnet18"), _images_224),
    768: ModelCase("BERT-base, 128 tokens", 4, _bert_base, _tokens_128),
    2048: ModelCase("ResNet-50, 224 px", 8, resnet("resnet50"), _images_224),
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
