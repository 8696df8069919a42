"""The Accelerate training and evaluation loop, in the style of accelerate's `complete_nlp_example.py`.

The loop trains a whole `TransferModel` (fine-tuning). It `prepare`s everything, accumulates gradients, uses
the accelerator's mixed precision, follows a linear warm-up then linear decay over the whole budget, and
evaluates on the validation split at regular intervals through `gather_for_metrics` (so no example is counted
twice when the last batch is padded across processes). The test split is never part of the loop: the caller
scores it once, with `predict`, after the final run. A run may stop early at `stop_at_step` (a rung of a
successive-halving search): it saves its state there (in memory, given `rung_states`, else on disk) and a later
call continues the same schedule, so a configuration that survives every rung ends exactly as one uninterrupted
run would. Such a rung may skip the periodic evaluations (`periodic_evals=False`): a search reads only the score
where it stops, and evaluation never changes the training itself. Where a search stops its rungs (`rung_ends`) a run
always evaluates, and periodic evaluations start only after `periodic_after`, so a run trained through its earlier
rungs again (its state between rungs was lost to a kill) draws the curve of the run that stopped at each of them.
Losses stay on the device and are read only at logging points, so the loop never waits on the host each step;
a non-finite loss there stops the run with `DivergedError`. Each validation point also records the mean training
loss since the previous one (from those same reads, so it costs no extra synchronisation), which experiment
trackers plot beside the validation curve; its partial sums are checkpointed, so a resumed run records the same
numbers as an uninterrupted one. With `compile`, forward passes go through `torch.compile` of the prepared model
while checkpoints and rung states keep the eager module's state (`benchmark.engine.speedups`); the time spent
compiling is `compile_wall_s`, not part of the training or evaluation times.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from accelerate import Accelerator
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler
from tqdm.auto import tqdm

from benchmark.data.batch import LABEL, model_inputs
from benchmark.data.resident import on_accelerator
from benchmark.engine.interruption import StopFlag, load_checkpoint, save_checkpoint
from benchmark.engine.rung_states import RungStates
from benchmark.engine.speedups import compile_seconds, compiled, training_clock

MetricFn = Callable[[list[int], list[int]], dict[str, float]]
LOG_EVERY_STEPS = 10  # how often the loss is read back to the host and checked
FUSED_ADAMW_DEVICES = ("cpu", "cuda")


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
    checkpoint_dir: Path | None = None
    checkpoint_interval_s: float = 60.0
    stop_at_step: int | None = None  # stop (and checkpoint) here instead of at the end of the budget
    max_steps: int | None = None  # the budget in optimizer steps; overrides epochs
    rung_states: RungStates | None = None  # keeps the state at `stop_at_step` in memory rather than on disk
    periodic_evals: bool = True  # False: evaluate only where the run stops (an early rung of a search)
    rung_ends: tuple[int, ...] = ()  # steps where a search stops its earlier rungs: always evaluated
    periodic_after: int = 0  # periodic evaluations only after this step (a search's last rung starts here)
    compile: bool = False  # call the model through torch.compile (its state stays the eager module's)

    def total_steps(self, batches_per_epoch: int) -> int:
        """The whole budget in optimizer steps: `max_steps`, or `epochs` worth of accumulated batches."""
        if self.max_steps:
            return self.max_steps
        return max(1, math.ceil(self.epochs * batches_per_epoch / self.gradient_accumulation_steps))


@dataclass
class TrainOutcome:
    """What a run measured: the latest validation metrics, the validation curve, and timings."""

    metrics: dict[str, float]
    curve: list[dict] = field(default_factory=list)
    loss: float = math.nan  # the latest mean validation cross-entropy
    train_wall_s: float = 0.0
    eval_wall_s: float = 0.0
    optimizer_steps: int = 0
    train_examples_seen: int = 0
    eval_examples_scored: int = 0
    total_steps: int = 0
    batch_sizes_tried: list[int] = field(default_factory=list)
    # [sum of (mean loss x micro-batches) over the logging points since the last evaluation, micro-batches]
    loss_since_eval: list[float] = field(default_factory=lambda: [0.0, 0])
    # [device loss sum, micro-batches] not yet read at a logging point: nonzero only in a checkpoint taken at a stop
    loss_window: list[float] = field(default_factory=lambda: [0.0, 0])
    # per validation example at the latest evaluation, "1" right and "0" wrong: the paired noise of a search
    correct: str = ""
    compile_wall_s: float = 0.0  # torch.compile's compilation, counted in neither train_wall_s nor eval_wall_s

    @property
    def finished(self) -> bool:
        """Whether the whole budget was trained (not stopped at a rung)."""
        return self.optimizer_steps >= self.total_steps > 0

    @property
    def samples_per_s(self) -> float:
        return self.train_examples_seen / self.train_wall_s if self.train_wall_s > 0 else 0.0


class EpochSeededSampler(Sampler[int]):
    """A random order that depends only on (seed, epoch), so a resumed run sees the batches an uninterrupted
    run would have seen, on every process."""

    def __init__(self, size: int, seed: int):
        self.size, self.seed, self.epoch = size, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return iter(torch.randperm(self.size, generator=generator).tolist())

    def __len__(self) -> int:
        return self.size


@dataclass
class _Loop:
    """Everything the loop needs besides the batch at hand."""

    accelerator: Accelerator
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: object
    train_loader: DataLoader
    eval_loader: DataLoader
    sampler: EpochSeededSampler
    config: TrainConfig
    metric_fn: MetricFn
    main_metric: str
    stop_flag: StopFlag | None
    runner: nn.Module  # what forward passes call: the prepared model, or its compiled wrapper


def train_and_evaluate(
    accelerator: Accelerator,
    model: nn.Module,
    train_data: Dataset,
    validation_data: Dataset,
    collate_fn: Callable,
    config: TrainConfig,
    metric_fn: MetricFn,
    main_metric: str,
    description: str = "train",
    stop_flag: StopFlag | None = None,
) -> TrainOutcome:
    """Train `model` on `train_data`, evaluating on `validation_data` along the way and where it stops.

    With `config.checkpoint_dir` set, the run resumes from the checkpoint found there and saves new ones at
    evaluation points (at most every `checkpoint_interval_s` of training) and when a stop is requested.
    """
    # Accelerate checkpoints every object it has prepared: each run starts with none registered, or a checkpoint
    # would hold earlier runs' models and could not be loaded into this run's alone.
    accelerator.free_memory()
    sampler = EpochSeededSampler(len(train_data), config.seed)
    resident = on_accelerator(train_data)  # batches gathered on the device: no workers, nothing to pin
    loader_options = {
        "collate_fn": collate_fn,
        "num_workers": 0 if resident else config.num_workers,
        "pin_memory": _pin(accelerator) and not resident,
    }
    # Each loader iterator draws a seed from its generator; with their own generators they leave torch's global
    # one (dropout, saved in checkpoints) alone, so extra evaluations or a resumed iterator shift no dropout mask.
    loader_options["generator"] = torch.Generator().manual_seed(config.seed)
    train_loader = DataLoader(train_data, batch_size=config.batch_size, sampler=sampler, **loader_options)
    loader_options["generator"] = torch.Generator().manual_seed(config.seed)
    eval_loader = DataLoader(validation_data, batch_size=config.batch_size * 2, **loader_options)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = make_optimizer(trainable, config, accelerator.device, accelerator.mixed_precision)
    # Accelerate steps a prepared scheduler once per process per optimizer step, so its horizon counts them all.
    per_process = config.max_steps * accelerator.num_processes if config.max_steps else None
    horizon = per_process or config.total_steps(len(train_loader))
    scheduler = _warmup_linear_decay(optimizer, horizon, config.warmup_ratio)
    model, optimizer, train_loader, eval_loader, scheduler = accelerator.prepare(
        model, optimizer, train_loader, eval_loader, scheduler
    )
    accelerator.gradient_accumulation_steps = config.gradient_accumulation_steps
    loop = _Loop(
        accelerator,
        model,
        optimizer,
        scheduler,
        train_loader,
        eval_loader,
        sampler,
        config,
        metric_fn,
        main_metric,
        stop_flag,
        compiled(model) if config.compile else model,
    )
    return _run_loop(loop, description)


def make_optimizer(
    parameters: list[nn.Parameter], config: TrainConfig, device: torch.device, mixed_precision: str = "no"
) -> torch.optim.AdamW:
    """AdamW, with torch's fused kernel on devices that have one.

    The fused kernel updates every tensor in one call instead of a Python loop of a dozen ops per tensor; on
    CPU that is several times faster for models of many small tensors (EfficientNet has ~150), and the update
    is the same AdamW step. Not under fp16 loss scaling: the fused kernel skips overflowed steps itself, which
    would hide them from Accelerate and let the learning-rate schedule advance over them.
    """
    fused = (
        device.type in FUSED_ADAMW_DEVICES
        and mixed_precision != "fp16"
        and all(p.is_floating_point() for p in parameters)
    )
    return torch.optim.AdamW(parameters, lr=config.learning_rate, weight_decay=config.weight_decay, fused=fused or None)


def _run_loop(loop: _Loop, description: str) -> TrainOutcome:
    accelerator, config = loop.accelerator, loop.config
    steps_per_epoch = max(1, math.ceil(len(loop.train_loader) / config.gradient_accumulation_steps))
    total_steps = config.total_steps(len(loop.train_loader))
    stop_at = min(config.stop_at_step or total_steps, total_steps)
    eval_every = max(1, steps_per_epoch // config.evals_per_epoch)
    if config.max_evals:
        eval_every = max(eval_every, math.ceil(total_steps / config.max_evals))
    outcome, step = _resume(loop)
    outcome.total_steps = total_steps
    progress = tqdm(
        total=stop_at, initial=step, desc=description, disable=not accelerator.is_local_main_process, leave=False
    )
    running_loss = torch.tensor(float(outcome.loss_window[0]), device=accelerator.device)
    micro_batches, started, last_checkpoint = int(outcome.loss_window[1]), training_clock(), outcome.train_wall_s
    compiled_until = compile_seconds()
    outcome.loss_window = [0.0, 0]
    epoch, skip = divmod(step, steps_per_epoch)
    while step < stop_at:
        skipped = skip * config.gradient_accumulation_steps
        batches = accelerator.skip_first_batches(loop.train_loader, skipped) if skipped else loop.train_loader
        # Accelerate's loader sets its sampler's epoch from its own iteration count, which restarts at 0 in a
        # loader made for a resumed run: set it, so the order depends on (seed, epoch) alone.
        batches.set_epoch(epoch)
        skip = 0
        loop.model.train()
        for batch in batches:
            loss = _train_step(loop, batch)
            running_loss += loss
            micro_batches += 1
            outcome.train_examples_seen += batch[LABEL].shape[0] * accelerator.num_processes
            if not accelerator.sync_gradients:
                continue
            step += 1
            progress.update(1)
            # Evaluation points are also where a run may checkpoint; one that skips its periodic evaluations
            # (an early rung) keeps them as checkpoint points, so a long rung is not lost to a kill.
            at_point, at_eval = _evaluation_point(config, step, eval_every, stop_at)
            if step % LOG_EVERY_STEPS == 0 or at_point:
                mean_loss = _check_finite(accelerator, running_loss / micro_batches, step)
                progress.set_postfix(loss=f"{mean_loss:.4f}")
                outcome.loss_since_eval = [
                    outcome.loss_since_eval[0] + mean_loss * micro_batches,
                    outcome.loss_since_eval[1] + micro_batches,
                ]
                running_loss.zero_()
                micro_batches = 0
            if at_point:
                outcome.train_wall_s += training_clock() - started
                if at_eval:
                    _record_eval(loop, outcome, step, step / steps_per_epoch)
                if outcome.train_wall_s - last_checkpoint >= config.checkpoint_interval_s and step < stop_at:
                    _checkpoint(loop, outcome, step)
                    last_checkpoint = outcome.train_wall_s
                started = training_clock()
                loop.model.train()
            if _stop_requested(loop, step):
                outcome.train_wall_s += training_clock() - started
                compiled_until = _count_compilation(outcome, compiled_until)
                outcome.loss_window = [running_loss.item(), micro_batches]  # the resumed run continues this sum
                _checkpoint(loop, outcome, step)
                loop.stop_flag.raise_if_set()
            if step >= stop_at:
                break
        epoch += 1
    progress.close()
    _count_compilation(outcome, compiled_until)
    outcome.optimizer_steps = step
    outcome.metrics, outcome.loss = outcome.curve[-1]["metrics"], outcome.curve[-1]["loss"]
    if step < total_steps:  # a rung: the next call continues from here
        _rung_checkpoint(
            loop, outcome, step, durable=outcome.train_wall_s - last_checkpoint >= config.checkpoint_interval_s
        )
    return outcome


def _evaluation_point(config: TrainConfig, step: int, eval_every: int, stop_at: int) -> tuple[bool, bool]:
    """Whether `step` is a point (the loss is read, a checkpoint may be written) and whether it is evaluated.

    Both depend on the step and the search's rungs only, never on where this call started: a search's run that is
    trained again from an earlier step reads its losses and evaluates where the run it replaces did."""
    at_rung_end = step in config.rung_ends
    at_point = step % eval_every == 0 or step == stop_at or at_rung_end
    periodic = config.periodic_evals and step > config.periodic_after and step % eval_every == 0
    return at_point, periodic or step == stop_at or at_rung_end


def _count_compilation(outcome: TrainOutcome, since: float) -> float:
    """Add torch.compile's compilation since `since` (a `compile_seconds` reading) to the outcome; the reading now."""
    now = compile_seconds()
    outcome.compile_wall_s += now - since
    return now


def _train_step(loop: _Loop, batch) -> torch.Tensor:
    """One micro-batch: forward, backward, and (when accumulation is complete) an optimizer step."""
    with loop.accelerator.accumulate(loop.model):
        loss = nn.functional.cross_entropy(loop.runner(model_inputs(batch)), batch[LABEL])
        loop.accelerator.backward(loss)
        loop.optimizer.step()
        loop.scheduler.step()
        loop.optimizer.zero_grad(set_to_none=True)
    return loss.detach()


def _resume(loop: _Loop) -> tuple[TrainOutcome, int]:
    """The outcome so far and the optimizer step to continue from (0 without a checkpoint): from the state kept in
    memory at the previous rung when there is one (always the newest), else from the disk checkpoint."""
    directory, memory = loop.config.checkpoint_dir, loop.config.rung_states
    progress = None
    if directory and memory is not None:
        progress = memory.restore(directory, loop.accelerator, loop.model, loop.optimizer, loop.scheduler)
    if progress is None and directory:
        progress = load_checkpoint(loop.accelerator, directory)
    if progress is None:
        return TrainOutcome(metrics={}), 0
    outcome = TrainOutcome(metrics={}, **progress["outcome"])
    return outcome, progress["step"]


def _rung_checkpoint(loop: _Loop, outcome: TrainOutcome, step: int, durable: bool) -> None:
    """The state at a rung's end: in memory when the run keeps rung states (and on disk too when `durable`: the
    run trained long enough since its last disk checkpoint that a kill should not cost it), else on disk."""
    memory = loop.config.rung_states
    if memory is None or loop.config.checkpoint_dir is None:
        _checkpoint(loop, outcome, step)
        return
    progress = {"step": step, "outcome": _saved(outcome)}
    memory.save(loop.config.checkpoint_dir, loop.accelerator, loop.model, loop.optimizer, loop.scheduler, progress)
    if durable:
        _checkpoint(loop, outcome, step)


def _checkpoint(loop: _Loop, outcome: TrainOutcome, step: int) -> None:
    if loop.config.checkpoint_dir is None:
        return
    save_checkpoint(loop.accelerator, loop.config.checkpoint_dir, {"step": step, "outcome": _saved(outcome)})


def _saved(outcome: TrainOutcome) -> dict:
    """What a checkpoint keeps of the outcome so far: all but what the next evaluation sets again."""
    return {k: v for k, v in asdict(outcome).items() if k not in ("metrics", "correct")}


def _stop_requested(loop: _Loop, step: int) -> bool:
    """Whether every process should stop now; with several processes, decided together at logging points."""
    if loop.stop_flag is None:
        return False
    if loop.accelerator.num_processes == 1:
        return loop.stop_flag.signum is not None
    if step % LOG_EVERY_STEPS:
        return False
    flag = torch.tensor(float(loop.stop_flag.signum is not None), device=loop.accelerator.device)
    return loop.accelerator.reduce(flag, reduction="sum").item() > 0


def _record_eval(loop: _Loop, outcome: TrainOutcome, step: int, epoch: float) -> None:
    started = training_clock()
    metrics, loss, outcome.eval_examples_scored, outcome.correct = evaluate_model(
        loop.accelerator, loop.runner, loop.eval_loader, loop.metric_fn
    )
    outcome.eval_wall_s += training_clock() - started
    loss_sum, loss_batches = outcome.loss_since_eval
    outcome.loss_since_eval = [0.0, 0]
    outcome.curve.append(
        {
            "step": step,
            "epoch": round(epoch, 4),
            "train_elapsed_s": round(outcome.train_wall_s, 4),
            "score": metrics[loop.main_metric],
            "metrics": metrics,
            "loss": loss,
            "train_loss": loss_sum / loss_batches if loss_batches else None,
        }
    )


def evaluate_model(
    accelerator: Accelerator, model: nn.Module, eval_loader, metric_fn: MetricFn
) -> tuple[dict[str, float], float, int, str]:
    """Metrics of `model` over the whole evaluation set, gathered from every process without duplicates, its
    mean cross-entropy there (what a search compares where the metric ties, e.g. every run still at chance), how
    many examples were scored (the evaluation set's size when nothing is duplicated or lost), and which were right
    ("1") or wrong ("0"), in order (what a search pairs to tell a difference from noise)."""
    predictions, references, losses = predict(accelerator, model, eval_loader)
    loss = math.fsum(losses) / len(losses) if losses else math.nan
    correct = "".join("1" if p == r else "0" for p, r in zip(predictions, references, strict=True))
    return metric_fn(predictions, references), loss, len(predictions), correct


def predict(accelerator: Accelerator, model: nn.Module, loader) -> tuple[list[int], list[int], list[float]]:
    """Predicted and true labels of every example of a prepared loader, in order, from every process, and each
    example's cross-entropy."""
    model.eval()
    predictions, references, losses = [], [], []
    with torch.inference_mode():
        for batch in loader:
            logits = model(model_inputs(batch))
            loss = nn.functional.cross_entropy(logits.float(), batch[LABEL], reduction="none")
            predicted, labels, loss = accelerator.gather_for_metrics((logits.argmax(dim=-1), batch[LABEL], loss))
            predictions += predicted.tolist()
            references += labels.tolist()
            losses += loss.tolist()
    return predictions, references, losses


def predict_split(
    accelerator: Accelerator, model: nn.Module, dataset: Dataset, collate_fn: Callable, batch_size: int
) -> tuple[list[int], list[int]]:
    """Predicted and true labels of a whole split (the test split, read once after the final run)."""
    loader = accelerator.prepare(DataLoader(dataset, batch_size=batch_size, collate_fn=collate_fn))
    predictions, references, _ = predict(accelerator, model, loader)
    return predictions, references


def _check_finite(accelerator: Accelerator, running_loss: torch.Tensor, step: int) -> float:
    """Mean loss since the last check, the same on every process; raise if it is not finite."""
    mean = accelerator.reduce(running_loss.clone(), reduction="mean").item()
    if not math.isfinite(mean):
        raise DivergedError(step, mean)
    return mean


def schedule_factor(step: int, total_steps: int, warmup_ratio: float) -> float:
    """The learning-rate multiplier at `step`: linear warm-up over `warmup_ratio` of the steps, then linear
    decay to zero at `total_steps`."""
    warmup = int(total_steps * warmup_ratio)
    if step < warmup:
        return (step + 1) / (warmup + 1)
    return max(0.0, (total_steps - step) / max(1, total_steps - warmup))


def _warmup_linear_decay(optimizer, total_steps: int, warmup_ratio: float):
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: schedule_factor(step, total_steps, warmup_ratio))


def _pin(accelerator: Accelerator) -> bool:
    return accelerator.device.type == "cuda"
