"""The Accelerate training and evaluation loop, in the style of accelerate's `complete_nlp_example.py`.

One loop serves both protocols: fine-tuning trains a whole `TransferModel`, linear probing trains a
`LinearHead` on cached frozen features. The loop `prepare`s everything, accumulates gradients, uses the
accelerator's mixed precision, follows a linear warm-up then linear decay, and evaluates at regular intervals
through `gather_for_metrics` (so no example is counted twice when the last batch is padded across processes).
Losses stay on the device and are read only at logging points, so the loop never waits on the host each step;
a non-finite loss there stops the run with `DivergedError`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from accelerate import Accelerator
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from benchmark.data import LABEL
from benchmark.preprocess import model_inputs

MetricFn = Callable[[list[int], list[int]], dict[str, float]]
LOG_EVERY_STEPS = 10  # how often the loss is read back to the host and checked


class DivergedError(RuntimeError):
    """The training loss became NaN or infinite."""

    def __init__(self, step: int, loss: float):
        self.step, self.loss = step, loss
        super().__init__(f"loss became {loss} at optimizer step {step}")


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one training run."""

    epochs: float
    batch_size: int
    learning_rate: float
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    gradient_accumulation_steps: int = 1
    evals_per_epoch: int = 2
    max_evals: int | None = None  # caps the curve's length for long, cheap runs (linear probes)
    num_workers: int = 0
    seed: int = 0


@dataclass
class TrainOutcome:
    """What a run measured: final metrics, the evaluation curve, and timings."""

    metrics: dict[str, float]
    curve: list[dict] = field(default_factory=list)
    train_wall_s: float = 0.0
    eval_wall_s: float = 0.0
    optimizer_steps: int = 0
    train_examples_seen: int = 0
    eval_examples_scored: int = 0

    @property
    def samples_per_s(self) -> float:
        return self.train_examples_seen / self.train_wall_s if self.train_wall_s > 0 else 0.0


class LinearHead(nn.Module):
    """A linear classifier over precomputed features: the trainable part of a linear probe."""

    def __init__(self, in_features: int, num_labels: int):
        super().__init__()
        self.linear = nn.Linear(in_features, num_labels)

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.linear(inputs["features"])


def train_and_evaluate(
    accelerator: Accelerator,
    model: nn.Module,
    train_data: Dataset,
    eval_data: Dataset,
    collate_fn: Callable,
    config: TrainConfig,
    metric_fn: MetricFn,
    main_metric: str,
    description: str = "train",
) -> TrainOutcome:
    """Train `model` on `train_data`, evaluating on `eval_data` along the way and at the end."""
    generator = torch.Generator().manual_seed(config.seed)
    loader_options = {"collate_fn": collate_fn, "num_workers": config.num_workers, "pin_memory": _pin(accelerator)}
    train_loader = DataLoader(
        train_data, batch_size=config.batch_size, shuffle=True, generator=generator, **loader_options
    )
    eval_loader = DataLoader(eval_data, batch_size=config.batch_size * 2, **loader_options)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=config.learning_rate, weight_decay=config.weight_decay)
    global_steps = max(1, math.ceil(config.epochs * len(train_loader) / config.gradient_accumulation_steps))
    scheduler = _warmup_linear_decay(optimizer, global_steps, config.warmup_ratio)
    model, optimizer, train_loader, eval_loader, scheduler = accelerator.prepare(
        model, optimizer, train_loader, eval_loader, scheduler
    )
    accelerator.gradient_accumulation_steps = config.gradient_accumulation_steps
    return _run_loop(
        accelerator,
        model,
        optimizer,
        scheduler,
        train_loader,
        eval_loader,
        config,
        metric_fn,
        main_metric,
        description,
    )


def _run_loop(
    accelerator, model, optimizer, scheduler, train_loader, eval_loader, config, metric_fn, main_metric, description
) -> TrainOutcome:
    batches_per_epoch = len(train_loader)
    steps_per_epoch = max(1, batches_per_epoch // config.gradient_accumulation_steps)
    total_steps = max(1, math.ceil(config.epochs * steps_per_epoch))
    eval_every = max(1, steps_per_epoch // config.evals_per_epoch)
    if config.max_evals:
        eval_every = max(eval_every, math.ceil(total_steps / config.max_evals))
    outcome = TrainOutcome(metrics={})
    running_loss = torch.zeros((), device=accelerator.device)
    progress = tqdm(total=total_steps, desc=description, disable=not accelerator.is_local_main_process, leave=False)
    step, micro_batches, started = 0, 0, time.perf_counter()
    while step < total_steps:
        model.train()
        for batch in train_loader:
            with accelerator.accumulate(model):
                loss = nn.functional.cross_entropy(model(model_inputs(batch)), batch[LABEL])
                accelerator.backward(loss)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
            running_loss += loss.detach()
            micro_batches += 1
            outcome.train_examples_seen += batch[LABEL].shape[0] * accelerator.num_processes
            if not accelerator.sync_gradients:
                continue
            step += 1
            progress.update(1)
            if step % LOG_EVERY_STEPS == 0 or step % eval_every == 0 or step == total_steps:
                mean_loss = _check_finite(accelerator, running_loss / micro_batches, step)
                progress.set_postfix(loss=f"{mean_loss:.4f}")
                running_loss.zero_()
                micro_batches = 0
            if step % eval_every == 0 or step == total_steps:
                outcome.train_wall_s += time.perf_counter() - started
                epoch = step / steps_per_epoch
                _record_eval(accelerator, model, eval_loader, metric_fn, main_metric, outcome, step, epoch)
                started = time.perf_counter()
                model.train()
            if step >= total_steps:
                break
    progress.close()
    outcome.optimizer_steps = step
    outcome.metrics = outcome.curve[-1]["metrics"]
    return outcome


def _record_eval(accelerator, model, eval_loader, metric_fn, main_metric, outcome: TrainOutcome, step, epoch):
    started = time.perf_counter()
    metrics, outcome.eval_examples_scored = evaluate_model(accelerator, model, eval_loader, metric_fn)
    outcome.eval_wall_s += time.perf_counter() - started
    outcome.curve.append(
        {
            "step": step,
            "epoch": round(epoch, 4),
            "train_elapsed_s": round(outcome.train_wall_s, 4),
            "score": metrics[main_metric],
            "metrics": metrics,
        }
    )


def evaluate_model(
    accelerator: Accelerator, model: nn.Module, eval_loader, metric_fn: MetricFn
) -> tuple[dict[str, float], int]:
    """Metrics of `model` over the whole evaluation set, gathered from every process without duplicates,
    and how many examples were scored (the evaluation set's size when nothing is duplicated or lost)."""
    model.eval()
    predictions, references = [], []
    with torch.inference_mode():
        for batch in eval_loader:
            logits = model(model_inputs(batch))
            predicted, labels = accelerator.gather_for_metrics((logits.argmax(dim=-1), batch[LABEL]))
            predictions += predicted.tolist()
            references += labels.tolist()
    return metric_fn(predictions, references), len(predictions)


def _check_finite(accelerator: Accelerator, running_loss: torch.Tensor, step: int) -> float:
    """Mean loss since the last check, the same on every process; raise if it is not finite."""
    mean = accelerator.reduce(running_loss.clone(), reduction="mean").item()
    if not math.isfinite(mean):
        raise DivergedError(step, mean)
    return mean


def _warmup_linear_decay(optimizer, total_steps: int, warmup_ratio: float):
    warmup = int(total_steps * warmup_ratio)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _pin(accelerator: Accelerator) -> bool:
    return accelerator.device.type == "cuda"
