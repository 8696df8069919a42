"""GPU speed of the suite's training loop against the best plain PyTorch loops, side by side in one run (#25).

`python perf/gpu.py [--cases resnet50,vit_b16,bert_base,wav2vec2_base] [--warmup 5] [--steps 20]
[--peak-tflops 989.4] [--budget-s 360] [--json PATH]` trains four standard networks, built from their configs with
random weights (nothing is downloaded), on synthetic inputs: ResNet-50 and ViT-B/16 (timm) on 224 px images in
batches of 256, BERT-base (transformers) on 128 tokens in batches of 256, Wav2Vec2-base on 1 s of 16 kHz audio in
batches of 64. Each network trains through these loops, every one a fresh model with the same weights:

- plain eager: a hand-written loop under bf16 autocast with fused AdamW, each batch a slice of inputs already on the
  GPU, nothing read back to the host;
- plain channels_last (convolutional networks only): the same with the model and its inputs channels-last;
- plain compile: the same loop calling `torch.compile` of the model (channels-last where convolutional);
- suite: `engine.loop.train_and_evaluate` as a fine-tune runs it on CUDA: an Accelerator with the suite's defaults
  (bf16, non-blocking copies), TF32, the network placed by the suite (channels-last where convolutional), batches
  gathered on the GPU from a `ResidentSplit` (what a preprocessed split becomes on a GPU);
- suite, streamed: the same with the split on the host, its batches pinned and copied without blocking (the path of
  inputs the cache does not hold: text, Wav2Vec2's feature extractor);
- suite, compiled: the suite with `--compile`.

It prints, per loop, examples/s over `--steps` optimizer steps after `--warmup` (compilation happens in the warm-up;
its seconds are printed apart), MFU = 3 x the suite's forward FLOPs per example (`models.complexity`) x examples/s /
the peak (`--peak-tflops`, default the H200's dense bf16 989.4), and the peak GPU memory the run added above the
inputs it found there; and per network the fastest suite loop over the fastest plain loop (the issue's target is at
least 0.9). Loops start eager ones first for every network, then the compiled pairs network by network, while
`--budget-s` has not passed (those that do not start are listed as skipped), so that one run fits 8 minutes. Without
CUDA it says so and exits 0. It imports neither `datasets`, `evaluate`, `pydantic` nor `soundfile`, which a GPU image
need not have (`tests/perf/test_gpu.py` checks that).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gc
import io
import json
import platform
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import timm  # noqa: E402
import torch  # noqa: E402
from accelerate import Accelerator  # noqa: E402
from torch import nn  # noqa: E402

from benchmark.data.batch import LABEL, Batch  # noqa: E402
from benchmark.data.resident import ResidentSplit, as_batch  # noqa: E402
from benchmark.engine.loop import TrainConfig, train_and_evaluate  # noqa: E402
from benchmark.engine.speedups import accelerator_options, place_model, use_tf32  # noqa: E402
from benchmark.models.complexity import forward_flops_per_example  # noqa: E402
from benchmark.models.wrappers import HFTransferModel, TimmTransferModel, TransferModel  # noqa: E402

NUM_CLASSES = 10
LEARNING_RATE = 1e-4
H200_BF16_DENSE_TFLOPS = 989.4
TARGET_RATIO = 0.9  # the target: the suite loop at >= 0.9 x the best plain loop
PLAIN_LOOPS = ("plain eager", "plain channels_last", "plain compile")
SUITE_LOOPS = ("suite", "suite streamed", "suite compile")
EAGER_LOOPS = ("plain eager", "plain channels_last", "suite", "suite streamed")
COMPILED_LOOPS = ("plain compile", "suite compile")


@dataclass(frozen=True)
class GpuCase:
    """A network wrapped as the suite wraps it, its batch size, synthetic model inputs for it, and whether it is
    convolutional (then it also trains channels-last in a plain loop)."""

    name: str
    batch_size: int
    build: Callable[[], TransferModel]
    inputs: Callable[[int, torch.Generator, torch.device], Batch]
    convolutional: bool = False


@dataclass(frozen=True)
class Settings:
    """What every loop of a run shares."""

    warmup: int = 5
    steps: int = 20
    peak_flops: float = H200_BF16_DENSE_TFLOPS * 1e12
    bf16: bool = True  # plain loops under bf16 autocast (the suite's precision is its accelerator's)
    budget_s: float = 360.0
    compile: bool = True  # also the compiled loops


@dataclass
class Measurement:
    """One loop of one network: throughput, utilisation, memory, and the seconds spent compiling or warming up."""

    case: str
    loop: str
    examples_per_s: float | None = None
    mfu: float | None = None
    flops_per_example: float | None = None  # forward, the suite's count
    peak_bytes: int | None = None
    warmup_s: float | None = None  # plain loops: the warm-up steps, compilation included
    compile_s: float | None = None  # suite compile: what the loop counted as compilation
    skipped: str | None = None


@dataclass
class Report:
    """Every measurement of a run, written out as it grows (a run cut short keeps what it measured)."""

    machine: dict
    settings: dict
    measurements: list[Measurement] = field(default_factory=list)
    json_path: Path | None = None

    def add(self, measurement: Measurement) -> None:
        self.measurements.append(measurement)
        print(f"  {measurement.case}, {measurement.loop}: {_cell(measurement)}", flush=True)
        if self.json_path is not None:
            measured = [dataclasses.asdict(m) for m in self.measurements]
            record = {"machine": self.machine, "settings": self.settings, "measurements": measured}
            self.json_path.write_text(json.dumps(record, indent=1))


# --- the four networks ------------------------------------------------------------------------------------------


def _timm(name: str) -> Callable[[], TransferModel]:
    return lambda: TimmTransferModel(timm.create_model(name, pretrained=False, num_classes=NUM_CLASSES), None)


def _bert_base() -> TransferModel:
    from transformers import AutoModelForSequenceClassification, BertConfig

    return HFTransferModel(AutoModelForSequenceClassification.from_config(BertConfig(num_labels=NUM_CLASSES)))


def _wav2vec2_base() -> TransferModel:
    from transformers import AutoModelForAudioClassification, Wav2Vec2Config

    return HFTransferModel(AutoModelForAudioClassification.from_config(Wav2Vec2Config(num_labels=NUM_CLASSES)))


def _images(size: int) -> Callable[[int, torch.Generator, torch.device], Batch]:
    def images(n: int, generator: torch.Generator, device: torch.device) -> Batch:
        return {"pixel_values": torch.randn(n, 3, size, size, generator=generator, device=device)}

    return images


def _tokens(length: int) -> Callable[[int, torch.Generator, torch.device], Batch]:
    def tokens(n: int, generator: torch.Generator, device: torch.device) -> Batch:
        ids = torch.randint(1000, 30_000, (n, length), generator=generator, device=device)
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "token_type_ids": torch.zeros_like(ids)}

    return tokens


def _waves(samples: int) -> Callable[[int, torch.Generator, torch.device], Batch]:
    def waves(n: int, generator: torch.Generator, device: torch.device) -> Batch:
        return {"input_values": torch.randn(n, samples, generator=generator, device=device)}

    return waves


CASES = {
    "resnet50": GpuCase("ResNet-50 224 px", 256, _timm("resnet50"), _images(224), convolutional=True),
    "vit_b16": GpuCase("ViT-B/16 224 px", 256, _timm("vit_base_patch16_224"), _images(224)),
    "bert_base": GpuCase("BERT-base 128 tokens", 256, _bert_base, _tokens(128)),
    "wav2vec2_base": GpuCase("Wav2Vec2-base 1 s", 64, _wav2vec2_base, _waves(16_000)),
}


# --- data, models and the clock ---------------------------------------------------------------------------------


@dataclass
class CaseData:
    """A network's synthetic training inputs and labels on the device, validation inputs (one evaluation batch of
    the suite's loop), and the suite's forward FLOPs of one example."""

    inputs: Batch
    labels: torch.Tensor
    validation: Batch
    flops_per_example: float


def case_data(case: GpuCase, device: torch.device, settings: Settings, seed: int = 0) -> CaseData:
    """Inputs for `warmup + steps` batches and a validation set of two batches, generated on the device."""
    generator = torch.Generator(device=device).manual_seed(seed)
    n = (settings.warmup + settings.steps) * case.batch_size
    inputs, labels = case.inputs(n, generator, device), _labels(n, generator, device)
    validation = case.inputs(2 * case.batch_size, generator, device) | {
        LABEL: _labels(2 * case.batch_size, generator, device)
    }
    return CaseData(inputs, labels, validation, _flops(case, {k: v[:1] for k, v in inputs.items()}, device))


def _labels(n: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    return torch.randint(0, NUM_CLASSES, (n,), generator=generator, device=device)


def _flops(case: GpuCase, example: Batch, device: torch.device) -> float:
    """Forward FLOPs of one example, counted as the suite counts them (`RunContext.complexity`): on the inner
    network, with the pixel tensor alone for timm networks."""
    network = seeded_model(case).network.to(device)
    flops = forward_flops_per_example(network, example["pixel_values"] if "pixel_values" in example else example)
    del network
    return flops


def seeded_model(case: GpuCase, seed: int = 0) -> TransferModel:
    """The case's network with the same random weights at every call."""
    torch.manual_seed(seed)
    return case.build()


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@contextlib.contextmanager
def peak_memory(device: torch.device, measurement: Measurement):
    """Set `measurement.peak_bytes` to the most GPU memory allocated in the block above what was allocated at its
    start (the inputs already there); nothing on other devices."""
    if device.type != "cuda":
        yield
        return
    synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    baseline = torch.cuda.memory_allocated(device)
    yield
    synchronize(device)
    measurement.peak_bytes = torch.cuda.max_memory_allocated(device) - baseline


def release(device: torch.device) -> None:
    """Free what the previous loop left: compiled code, cached blocks."""
    torch._dynamo.reset()
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


# --- the loops ----------------------------------------------------------------------------------------------------


def plain_loop(case: GpuCase, data: CaseData, device: torch.device, settings: Settings, loop: str) -> Measurement:
    """A hand-written training loop, as fast as plain PyTorch gets it: the inputs sliced on the device, bf16
    autocast, fused AdamW, gradients set to None, no host synchronisation until the clock stops."""
    measurement = Measurement(case.name, loop)
    with peak_memory(device, measurement):
        model = seeded_model(case).to(device)
        inputs = data.inputs
        if loop != "plain eager" and case.convolutional:
            model.to(memory_format=torch.channels_last)
            inputs = {
                k: v.contiguous(memory_format=torch.channels_last) if v.dim() == 4 else v for k, v in inputs.items()
            }
        runner = torch.compile(model) if loop == "plain compile" else model
        optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, fused=True)
        model.train()

        def step(index: int) -> None:
            rows = slice(index * case.batch_size, (index + 1) * case.batch_size)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=settings.bf16):
                logits = runner({name: tensor[rows] for name, tensor in inputs.items()})
            nn.functional.cross_entropy(logits.float(), data.labels[rows]).backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

        measurement.warmup_s = _timed(device, lambda: [step(i) for i in range(settings.warmup)])
        seconds = _timed(device, lambda: [step(i) for i in range(settings.warmup, settings.warmup + settings.steps)])
    measurement.examples_per_s = settings.steps * case.batch_size / seconds
    return measurement


def suite_loop(case: GpuCase, data: CaseData, accelerator: Accelerator, settings: Settings, loop: str) -> Measurement:
    """`train_and_evaluate` for `warmup + steps` optimizer steps, evaluated after the warm-up and at the end only.

    Its own clock, which leaves out evaluation and compilation, times the steps between those two points (the loop
    reads the loss back at each, so the GPU has finished them): everything the loop does around a step counts.
    """
    measurement = Measurement(case.name, loop)
    device = accelerator.device
    with peak_memory(device, measurement):
        model = place_model(seeded_model(case), device)
        train = ResidentSplit(data.inputs | {LABEL: data.labels})
        validation = ResidentSplit(data.validation)
        if loop == "suite streamed":
            train, validation = (ResidentSplit({k: v.cpu() for k, v in s.tensors.items()}) for s in (train, validation))
        config = TrainConfig(
            epochs=1,
            max_steps=settings.warmup + settings.steps,
            batch_size=case.batch_size,
            learning_rate=LEARNING_RATE,
            periodic_evals=False,
            rung_ends=(settings.warmup,),
            compile=loop == "suite compile",
        )
        with contextlib.redirect_stderr(io.StringIO()):  # the progress bar
            outcome = train_and_evaluate(
                accelerator, model, train, validation, as_batch, config, _accuracy, "accuracy", description=loop
            )
        accelerator.free_memory()
    warm, end = (point["train_elapsed_s"] for point in outcome.curve)
    measurement.examples_per_s = settings.steps * case.batch_size / (end - warm)
    measurement.compile_s = outcome.compile_wall_s if config.compile else None
    return measurement


def run_loop(case: GpuCase, data: CaseData, accelerator: Accelerator, settings: Settings, loop: str) -> Measurement:
    """One loop of one network, with its MFU."""
    if loop in PLAIN_LOOPS:
        measurement = plain_loop(case, data, accelerator.device, settings, loop)
    else:
        measurement = suite_loop(case, data, accelerator, settings, loop)
    measurement.flops_per_example = data.flops_per_example
    measurement.mfu = 3 * data.flops_per_example * measurement.examples_per_s / settings.peak_flops
    return measurement


def _timed(device: torch.device, work: Callable[[], object]) -> float:
    synchronize(device)
    started = time.perf_counter()
    work()
    synchronize(device)
    return time.perf_counter() - started


def _accuracy(predictions: list[int], references: list[int]) -> dict[str, float]:
    return {"accuracy": sum(p == r for p, r in zip(predictions, references, strict=True)) / len(references)}


# --- the run ------------------------------------------------------------------------------------------------------


def planned_runs(cases: dict[str, GpuCase], compile: bool = True) -> list[tuple[str, str]]:
    """(case, loop) in the order they run: every eager loop of every network first, then compiled pairs."""
    eager = [(name, loop) for name in cases for loop in EAGER_LOOPS]
    compiled = [(name, loop) for name in cases for loop in COMPILED_LOOPS] if compile else []
    return [
        (name, loop) for name, loop in eager + compiled if loop != "plain channels_last" or cases[name].convolutional
    ]


def measure(
    cases: dict[str, GpuCase], accelerator: Accelerator, settings: Settings, report: Report
) -> list[Measurement]:
    """Every planned loop of `cases` that starts within the budget; the others are recorded as skipped, and so is a
    loop that fails (its traceback on stderr), so that one run on a borrowed GPU brings back all it can."""
    device, started = accelerator.device, time.perf_counter()
    data: dict[str, CaseData] = {}
    for name, loop in planned_runs(cases, settings.compile):
        case = cases[name]
        if time.perf_counter() - started > settings.budget_s:
            report.add(
                Measurement(case.name, loop, skipped=f"not started: the {settings.budget_s:g} s budget had passed")
            )
            continue
        release(device)
        try:
            if name not in data:
                data = {name: case_data(case, device, settings)}  # one network's inputs on the device at a time
            measurement = run_loop(case, data[name], accelerator, settings, loop)
        except Exception as error:  # any failure of one loop (out of memory, a compiler error) must not end the run
            traceback.print_exc()
            measurement = Measurement(case.name, loop, skipped=f"failed: {type(error).__name__}: {error}"[:300])
            accelerator.free_memory()
        report.add(measurement)
    release(device)
    return report.measurements


def print_table(cases: dict[str, GpuCase], measurements: list[Measurement], settings: Settings) -> None:
    """One row per network: each loop's examples/s (MFU, peak memory added), then the best suite loop over the best
    plain loop."""
    loops = [loop for loop in PLAIN_LOOPS + SUITE_LOOPS if any(m.loop == loop for m in measurements)]
    print(f"\n| network (batch) | {' | '.join(loops)} | suite / best plain |")
    print("|---" * (len(loops) + 2) + "|")
    for case in cases.values():
        mine = {m.loop: m for m in measurements if m.case == case.name}
        cells = [_cell(mine[loop]) if loop in mine else "—" for loop in loops]
        print(f"| {case.name} ({case.batch_size}) | {' | '.join(cells)} | {_ratio(mine)} |")
    print(
        f"\nexamples/s over {settings.steps} optimizer steps after {settings.warmup} warm-up steps (MFU at "
        f"{settings.peak_flops / 1e12:g} TFLOP/s, peak GPU memory the loop added above its inputs); target: suite / "
        f"best plain >= {TARGET_RATIO:g}"
    )
    for m in measurements:
        if m.loop == "plain compile" and m.warmup_s is not None:
            print(f"{m.case}, {m.loop}: {settings.warmup} warm-up steps, compilation included, {m.warmup_s:.1f} s")
        if m.compile_s is not None:
            print(f"{m.case}, {m.loop}: compilation {m.compile_s:.1f} s (the loop's own count)")


def _cell(m: Measurement) -> str:
    if m.skipped:
        return f"skipped ({m.skipped})"
    memory = f", {m.peak_bytes / 2**30:.1f} GiB" if m.peak_bytes is not None else ""
    return f"{m.examples_per_s:,.0f} ({100 * m.mfu:.1f} %{memory})"


def _ratio(mine: dict[str, Measurement]) -> str:
    def best(loops: tuple[str, ...]) -> Measurement | None:
        done = [mine[loop] for loop in loops if loop in mine and mine[loop].examples_per_s]
        return max(done, key=lambda m: m.examples_per_s, default=None)

    suite, plain = best(SUITE_LOOPS), best(PLAIN_LOOPS)
    if suite is None or plain is None:
        return "—"
    ratio = suite.examples_per_s / plain.examples_per_s
    verdict = "met" if ratio >= TARGET_RATIO else "not met"
    return f"{ratio:.2f} ({suite.loop} / {plain.loop}: {verdict})"


def machine() -> dict:
    """What ran: the GPU, CUDA and the libraries' versions."""
    import accelerate
    import transformers

    return {
        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "cuda": torch.version.cuda,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "timm": timm.__version__,
        "transformers": transformers.__version__,
        "accelerate": accelerate.__version__,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python perf/gpu.py", description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, of {', '.join(CASES)}")
    parser.add_argument("--warmup", type=int, default=Settings.warmup, help="optimizer steps before the clock")
    parser.add_argument("--steps", type=int, default=Settings.steps, help="optimizer steps timed")
    parser.add_argument("--peak-tflops", type=float, default=H200_BF16_DENSE_TFLOPS, help="the GPU's peak, for MFU")
    parser.add_argument("--budget-s", type=float, default=Settings.budget_s, help="no loop starts after this")
    parser.add_argument("--no-compile", action="store_true", help="the eager loops only")
    parser.add_argument("--json", type=Path, help="also write the measurements here, after each loop")
    args = parser.parse_args(argv)
    unknown = [name for name in args.cases.split(",") if name not in CASES]
    if unknown:
        parser.error(f"--cases: unknown {', '.join(unknown)}; choose from {', '.join(CASES)}")
    if not torch.cuda.is_available():
        print("no CUDA: skipped (the GPU part of the speed benchmark needs a CUDA device)")
        return 0
    settings = Settings(
        args.warmup, args.steps, args.peak_tflops * 1e12, budget_s=args.budget_s, compile=not args.no_compile
    )
    cases = {name: CASES[name] for name in args.cases.split(",")}
    accelerator = Accelerator(**accelerator_options(None))
    use_tf32(accelerator.device)
    report = Report(machine() | {"mixed_precision": accelerator.mixed_precision}, dataclasses.asdict(settings))
    report.json_path = args.json
    print(json.dumps(report.machine))
    print_table(cases, measure(cases, accelerator, settings, report), settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
