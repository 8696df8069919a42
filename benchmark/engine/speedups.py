"""The fast defaults of a run on a CUDA GPU, and `torch.compile` inside the training loop.

On a CUDA GPU a run trains under bf16 autocast unless `--mixed-precision` (or `accelerate launch`'s fp16 or bf16
configuration) says otherwise, lets fp32 matmuls use TF32, copies pinned batches to the device without blocking,
and keeps preprocessed splits on the device (`benchmark.data.resident`). None of this applies on the CPU, so a CPU
run computes exactly what it computed before these defaults existed. Convolutional networks are channels-last on
every device, as the suite has always built them.

`--compile` compiles the model inside the loop, after Accelerate has prepared it (`compiled`): the loop calls the
compiled wrapper, while the module it wraps (whose parameters it shares) is what checkpoints, in-memory rung
states, copies and the test pass read, so their state dicts keep the eager module's keys. Compilation happens once
per architecture and input shape in a process (later copies of a model reuse the compiled code), and the loop
counts its time apart from training and evaluation (`training_clock`, `compile_seconds`).
"""

from __future__ import annotations

import os
import sys
import time

import torch
from accelerate import DataLoaderConfiguration
from accelerate.utils import parse_flag_from_env
from torch import nn

ACCELERATE_PRECISION_ENV = "ACCELERATE_MIXED_PRECISION"  # what `accelerate launch` sets from its configuration
# dynamo's own timers: whole-frame compilations, and the backward graphs compiled at a frame's first backward
COMPILE_TIMERS = ("entire_frame_compile", "entire_backward_compile")


def default_mixed_precision(requested: str | None, on_cuda: bool, bf16_supported: bool) -> str | None:
    """The precision to give Accelerate: `requested` (the command line) when given; else, on a CUDA GPU with bf16
    kernels and no fp16 or bf16 configured by `accelerate launch`, "bf16"; else None, which leaves the choice to
    Accelerate (its configuration, or no autocast) exactly as before."""
    if requested is not None or not (on_cuda and bf16_supported):
        return requested
    return None if os.environ.get(ACCELERATE_PRECISION_ENV, "no") != "no" else "bf16"


def accelerator_options(requested_precision: str | None) -> dict:
    """Keyword arguments for the run's `Accelerator`: its mixed precision, and on CUDA non-blocking copies of the
    (pinned) batches to the device."""
    # Not `PartialState().device`: creating the process state before the Accelerator made a CPU run launched
    # with several processes fall back to one (world size 1), so the device is read from torch and the env.
    on_cuda = torch.cuda.is_available() and not parse_flag_from_env("ACCELERATE_USE_CPU")
    bf16 = on_cuda and torch.cuda.is_bf16_supported()
    options: dict = {"mixed_precision": default_mixed_precision(requested_precision, on_cuda, bf16)}
    if on_cuda:
        options["dataloader_config"] = DataLoaderConfiguration(non_blocking=True)
    return options


def use_tf32(device: torch.device) -> None:
    """On CUDA, let fp32 matmuls run as TF32 (cuDNN convolutions already do by default); nothing elsewhere."""
    if device.type == "cuda":
        torch.set_float32_matmul_precision("high")


def place_model(network: nn.Module, device: torch.device) -> nn.Module:
    """The network on `device`, channels-last when it is convolutional (faster convolutions on GPUs and CPUs)."""
    network.to(device)
    if any(isinstance(module, nn.Conv2d) for module in network.modules()):
        network.to(memory_format=torch.channels_last)
    return network


def resident_device(device: torch.device) -> torch.device | None:
    """Where preprocessed splits should live for a run on `device`: the device itself on CUDA, else None (the
    host, read through the DataLoader as before)."""
    return device if device.type == "cuda" else None


def compiled(model: nn.Module) -> nn.Module:
    """`torch.compile` of a prepared model, for the loop to call. The compiled wrapper shares the model's
    parameters; the model itself stays eager, so its state dict has no `_orig_mod.` prefix and deep copies of it
    are plain modules."""
    return torch.compile(model)


def compile_seconds() -> float:
    """Seconds `torch.compile` has spent compiling in this process so far, from dynamo's own timers (0 before
    dynamo is first imported; its timers are internal, so a torch that lacks them reads 0)."""
    dynamo_utils = sys.modules.get("torch._dynamo.utils")
    spent = getattr(dynamo_utils, "cumulative_time_spent_ns", None) or {}
    return sum(spent.get(timer, 0.0) for timer in COMPILE_TIMERS) / 1e9


def training_clock() -> float:
    """A clock in seconds that stands still while `torch.compile` compiles, so training and evaluation times leave
    compilation out; without compilation it is `time.perf_counter`."""
    return time.perf_counter() - compile_seconds()
