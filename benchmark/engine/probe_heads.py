"""Linear probes of a whole grid at once: K linear heads trained as one batched computation on cached features.

Each head has its own learning rate and (decoupled, AdamW) weight decay on its weights; the heads share the
data order, so one pass over a batch serves all of them. The loss is the sum of the heads' mean cross-entropies,
whose gradient for each head is exactly its own, and AdamW's update is elementwise, so every head follows the
same trajectory as if it were trained alone (a test checks this against `torch.optim.AdamW`).
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from benchmark.engine.loop import EpochSeededSampler, schedule_factor

MetricFn = Callable[[list[int], list[int]], dict[str, float]]
BETAS = (0.9, 0.999)
EPS = 1e-8


@dataclass(frozen=True)
class ProbeSettings:
    """How the heads train: epochs over the training features, batch size, warm-up share, data-order seed."""

    epochs: float
    batch_size: int
    warmup_ratio: float
    seed: int
    max_evals: int = 10


@dataclass
class HeadsOutcome:
    """Per head: validation metrics and cross-entropy at the end and the validation curve; the trained weights;
    timings."""

    metrics: list[dict[str, float]]
    curves: list[list[dict]]
    weight: torch.Tensor
    bias: torch.Tensor
    train_wall_s: float
    eval_wall_s: float
    optimizer_steps: int
    examples_seen: int
    losses: list[float] = field(default_factory=list)

    def logits(self, features: torch.Tensor, head: int) -> torch.Tensor:
        return features @ self.weight[head] + self.bias[head]


class BatchedAdamW:
    """AdamW over stacked per-head tensors `[K, ...]`, each head with its own learning rate and weight decay.

    The same update as `torch.optim.AdamW` (decoupled decay `p *= 1 - lr * wd`, bias-corrected moments); the
    bias gets no decay.
    """

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor, lrs: torch.Tensor, decays: torch.Tensor):
        self.params = (weight, bias)
        self.lrs, self.decays = lrs, decays
        self.moments = [(torch.zeros_like(p), torch.zeros_like(p)) for p in self.params]
        self.steps = 0

    @torch.no_grad()
    def step(self, factor: float) -> None:
        """One update with every head's learning rate scaled by the schedule's `factor`."""
        self.steps += 1
        correction1, correction2 = 1 - BETAS[0] ** self.steps, 1 - BETAS[1] ** self.steps
        for index, (param, (m, v)) in enumerate(zip(self.params, self.moments, strict=True)):
            shape = (-1,) + (1,) * (param.dim() - 1)
            lr = (self.lrs * factor).view(shape)
            if index == 0:
                param.mul_(1 - lr * self.decays.view(shape))
            m.mul_(BETAS[0]).add_(param.grad, alpha=1 - BETAS[0])
            v.mul_(BETAS[1]).addcmul_(param.grad, param.grad, value=1 - BETAS[1])
            denominator = (v.sqrt() / math.sqrt(correction2)).add_(EPS)
            param.sub_(lr / correction1 * m / denominator)
            param.grad = None


def train_heads(
    train: tuple[torch.Tensor, torch.Tensor],
    validation: tuple[torch.Tensor, torch.Tensor],
    configs: list[dict[str, float]],
    num_labels: int,
    settings: ProbeSettings,
    metric_fn: MetricFn,
    main_metric: str,
    curve_metric_fn: MetricFn | None = None,
) -> HeadsOutcome:
    """Train one head per configuration on `train` (features, labels) and trace each on `validation`: every metric
    of `metric_fn` at the end, `curve_metric_fn` (by default the same) at the evaluations along the way."""
    features, labels = train
    heads, dim = len(configs), features.shape[1]
    generator = torch.Generator().manual_seed(settings.seed)
    bound = 1 / math.sqrt(dim)  # nn.Linear's default initialisation, the same for every head
    weight = ((torch.rand(dim, num_labels, generator=generator) * 2 - 1) * bound).repeat(heads, 1, 1)
    bias = ((torch.rand(num_labels, generator=generator) * 2 - 1) * bound).repeat(heads, 1)
    weight, bias = weight.to(features.device).requires_grad_(), bias.to(features.device).requires_grad_()
    optimizer = BatchedAdamW(
        weight,
        bias,
        torch.tensor([c["learning_rate"] for c in configs], device=features.device),
        torch.tensor([c["weight_decay"] for c in configs], device=features.device),
    )
    steps_per_epoch = max(1, math.ceil(len(labels) / settings.batch_size))
    total = max(1, math.ceil(settings.epochs * steps_per_epoch))
    eval_every = max(1, math.ceil(total / settings.max_evals))
    outcome = HeadsOutcome([{}] * heads, [[] for _ in configs], weight, bias, 0.0, 0.0, 0, 0)
    sampler, step, started = EpochSeededSampler(len(labels), settings.seed), 0, time.perf_counter()
    for epoch in itertools.count():
        sampler.set_epoch(epoch)
        order = torch.as_tensor(list(sampler), device=features.device)
        for batch in order.split(settings.batch_size):
            logits = torch.einsum("nd,kdc->knc", features[batch], weight) + bias[:, None, :]
            loss = nn.functional.cross_entropy(logits.flatten(0, 1), labels[batch].repeat(heads), reduction="sum")
            (loss / len(batch)).backward()
            optimizer.step(schedule_factor(step, total, settings.warmup_ratio))
            step += 1
            outcome.examples_seen += len(batch)
            if step % eval_every == 0 or step == total:
                outcome.train_wall_s += time.perf_counter() - started
                metrics = metric_fn if step == total else curve_metric_fn or metric_fn
                _record_eval(outcome, validation, step, step / steps_per_epoch, metrics, main_metric)
                started = time.perf_counter()
            if step == total:
                outcome.optimizer_steps = step
                return outcome
    raise AssertionError("unreachable: the step budget ends the loop")


def merge_heads(first: HeadsOutcome, second: HeadsOutcome) -> HeadsOutcome:
    """The heads of two `train_heads` calls on the same features and settings as one outcome, `first`'s heads then
    `second`'s: each head trained exactly as it would have in one call with all of them."""
    if first.optimizer_steps != second.optimizer_steps:
        raise ValueError("heads trained for different numbers of steps cannot be merged")
    return HeadsOutcome(
        metrics=[*first.metrics, *second.metrics],
        curves=[*first.curves, *second.curves],
        weight=torch.cat([first.weight, second.weight]),
        bias=torch.cat([first.bias, second.bias]),
        train_wall_s=first.train_wall_s + second.train_wall_s,
        eval_wall_s=first.eval_wall_s + second.eval_wall_s,
        optimizer_steps=first.optimizer_steps,
        examples_seen=first.examples_seen + second.examples_seen,
        losses=[*first.losses, *second.losses],
    )


def predict_heads(outcome: HeadsOutcome, features: torch.Tensor, head: int) -> list[int]:
    """Predicted labels of one trained head."""
    with torch.no_grad():
        return outcome.logits(features, head).argmax(dim=-1).tolist()


def _record_eval(outcome: HeadsOutcome, validation, step: int, epoch: float, metric_fn, main_metric: str) -> None:
    started = time.perf_counter()
    features, labels = validation
    references = labels.tolist()
    with torch.no_grad():
        logits = torch.einsum("nd,kdc->knc", features, outcome.weight) + outcome.bias[:, None, :]
        predictions = logits.argmax(dim=-1).tolist()
        losses = nn.functional.cross_entropy(logits.transpose(1, 2), labels.expand(len(logits), -1), reduction="none")
        outcome.losses = losses.mean(dim=1).tolist()
    for head, predicted in enumerate(predictions):
        metrics = metric_fn(predicted, references)
        outcome.metrics[head] = metrics
        outcome.curves[head].append(
            {
                "step": step,
                "epoch": round(epoch, 4),
                "train_elapsed_s": round(outcome.train_wall_s, 4),
                "score": metrics[main_metric],
                "metrics": metrics,
                "loss": outcome.losses[head],
            }
        )
    outcome.eval_wall_s += time.perf_counter() - started
