"""Model complexity measures: parameter counts, forward FLOPs per example, and peak memory.

FLOPs are counted with ``torch.utils.flop_counter.FlopCounterMode`` (1 multiply-add = 2 FLOPs; only
matmul/conv-like ops are counted, elementwise ops such as norms and activations are not). Stock
FlopCounterMode has formulas for the CUDA fused-attention kernels but not for the CPU ones, so
``F.scaled_dot_product_attention`` on CPU (used by timm ViTs and transformers' "sdpa" attention) would
silently contribute zero FLOPs. We register torch's own SDPA formula for those ops so attention is
counted on every device and with every attention implementation (fused or eager matmuls).
"""

from __future__ import annotations

import resource
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.utils import flop_counter

FLOPS_COUNTER_NAME = "torch.utils.flop_counter + sdpa"

# Fused attention ops whose inputs are (query, key, value, ...) laid out as [batch, heads, seq, dim] and
# which FlopCounterMode has no formula for: the CPU flash kernel, and the backend-overridable kernel.
_UNCOUNTED_SDPA_OPS = (
    torch.ops.aten._scaled_dot_product_flash_attention_for_cpu,
    torch.ops.aten._scaled_dot_product_fused_attention_overrideable,
)


@dataclass(frozen=True)
class ParameterCounts:
    """Number of parameter elements in a model, all and those with ``requires_grad``."""

    total: int
    trainable: int


def count_parameters(model: nn.Module) -> ParameterCounts:
    """Count parameter elements; tied (shared) parameters are counted once, as ``parameters()`` does."""
    params = list(model.parameters())
    return ParameterCounts(
        total=sum(p.numel() for p in params),
        trainable=sum(p.numel() for p in params if p.requires_grad),
    )


def _sdpa_flop(
    query_shape: torch.Size,
    key_shape: torch.Size,
    value_shape: torch.Size,
    *args: Any,
    out_shape: Any = None,
    **kwargs: Any,
) -> int:
    """FLOPs of fused attention (QK^T and attention-weighted V), using torch's own ``sdpa_flop_count``.

    Grouped-query attention passes key/value with fewer heads than the query; each query head still
    does a full score and weighted-sum product, so key/value head counts are broadcast to the query's.
    """
    heads = query_shape[1]
    key_shape = (key_shape[0], heads, *key_shape[2:])
    value_shape = (value_shape[0], heads, *value_shape[2:])
    return flop_counter.sdpa_flop_count(query_shape, key_shape, value_shape)


def _attention_aware_counter() -> flop_counter.FlopCounterMode:
    """A silent FlopCounterMode that also counts the fused attention ops torch leaves uncounted."""
    return flop_counter.FlopCounterMode(display=False, custom_mapping={op: _sdpa_flop for op in _UNCOUNTED_SDPA_OPS})


@contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    """Put ``model`` in eval mode (no dropout, BN running stats) and restore its previous mode after."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def _batch_size(example_inputs: dict[str, torch.Tensor] | torch.Tensor) -> int:
    """Leading dimension of the (first) input tensor."""
    tensor = example_inputs if isinstance(example_inputs, torch.Tensor) else next(iter(example_inputs.values()))
    return tensor.shape[0]


def forward_flops_per_example(model: nn.Module, example_inputs: dict[str, torch.Tensor] | torch.Tensor) -> float:
    """Forward FLOPs of one example, attention included, in eval mode without autograd.

    `torch.no_grad` rather than `inference_mode`: under FlopCounterMode, inference mode breaks modules whose
    weights are parametrizations (Wav2Vec2's weight-normed positional convolution).

    ``example_inputs`` must have batch size 1 and be on the model's device: an image tensor, or a dict of
    keyword inputs (``input_ids``/``attention_mask``, ``input_values``, ``input_features``...).
    """
    if _batch_size(example_inputs) != 1:
        raise ValueError(f"example_inputs must have batch size 1, got {_batch_size(example_inputs)}")
    counter = _attention_aware_counter()
    with _eval_mode(model), torch.no_grad(), counter:
        if isinstance(example_inputs, torch.Tensor):
            model(example_inputs)
        else:
            model(**example_inputs)
    return float(counter.get_total_flops())


@dataclass
class PeakMemory:
    """Peak memory observed by :func:`track_peak_memory`; the fields are filled in when the block exits.

    ``measure`` says what the numbers mean on this device; ``peak_bytes`` and ``baseline_bytes`` are
    None where nothing meaningful can be measured.
    """

    measure: str
    peak_bytes: int | None = None
    baseline_bytes: int | None = None


def _process_peak_rss_bytes() -> int | None:
    """The process's lifetime peak resident set size (``ru_maxrss``), in bytes."""
    max_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if sys.platform == "darwin":
        return max_rss  # macOS reports bytes
    if sys.platform.startswith("linux"):
        return max_rss * 1024  # Linux reports KiB
    return None


@contextmanager
def track_peak_memory(device: torch.device | str) -> Iterator[PeakMemory]:
    """Measure peak memory over a block of code.

    - CUDA: ``peak_bytes`` is ``torch.cuda.max_memory_allocated`` over the block (stats are reset on
      entry), i.e. peak memory held by tensors on that GPU, including tensors (weights) already resident;
      ``baseline_bytes`` is ``memory_allocated`` on entry, so ``peak - baseline`` is what the block added.
    - CPU: torch has no allocator statistics, so ``peak_bytes`` is the process peak RSS (``ru_maxrss``) on
      exit. It is a lifetime high-water mark of the whole process, not specific to the block; the block
      set it only if it exceeds ``baseline_bytes`` (the same mark on entry).
    - Other devices: nothing is measured; both fields stay None.
    """
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        result = PeakMemory("cuda max_memory_allocated", baseline_bytes=torch.cuda.memory_allocated(device))
        yield result
        torch.cuda.synchronize(device)
        result.peak_bytes = torch.cuda.max_memory_allocated(device)
    elif device.type == "cpu":
        result = PeakMemory("process peak RSS (lifetime high-water mark)", baseline_bytes=_process_peak_rss_bytes())
        yield result
        result.peak_bytes = _process_peak_rss_bytes()
    else:
        yield PeakMemory(f"not measured on {device.type}")


def describe_complexity(
    model: nn.Module, example_inputs: dict[str, torch.Tensor] | torch.Tensor, device: torch.device | str
) -> dict[str, Any]:
    """JSON-able summary of parameter counts and forward FLOPs per example.

    ``example_inputs`` (batch size 1) are moved to ``device``, which must be where ``model`` lives.
    """
    if isinstance(example_inputs, torch.Tensor):
        inputs: dict[str, torch.Tensor] | torch.Tensor = example_inputs.to(device)
    else:
        inputs = {name: tensor.to(device) for name, tensor in example_inputs.items()}
    params = count_parameters(model)
    return {
        "params_total": params.total,
        "params_trainable": params.trainable,
        "flops_per_example": forward_flops_per_example(model, inputs),
        "flops_counter": FLOPS_COUNTER_NAME,
    }
