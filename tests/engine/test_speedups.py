"""The fast defaults apply on CUDA only, and channels-last gives the eager network's predictions.

Tolerance of channels-last against the contiguous layout in fp32 on the CPU: logits within 1e-5 relative to their
largest magnitude (the layouts sum the same products in another order), and the same predicted class.
"""

from __future__ import annotations

import pytest
import timm
import torch

from benchmark.engine.speedups import (
    ACCELERATE_PRECISION_ENV,
    accelerator_options,
    compile_seconds,
    default_mixed_precision,
    place_model,
    resident_device,
    use_tf32,
)
from benchmark.models.wrappers import TimmTransferModel

pytestmark = pytest.mark.unit

CPU = torch.device("cpu")
CHANNELS_LAST_TOLERANCE = 1e-5


@pytest.mark.parametrize(
    ("requested", "on_cuda", "bf16", "configured", "expected"),
    [
        (None, True, True, None, "bf16"),  # the GPU default
        ("no", True, True, None, "no"),  # asked for explicitly
        ("fp16", True, True, None, "fp16"),
        (None, True, True, "fp16", None),  # `accelerate launch` configured fp16: Accelerate reads it itself
        (None, True, True, "no", "bf16"),  # Accelerate's own default is not a choice
        (None, True, False, None, None),  # a GPU without bf16 kernels
        (None, False, True, None, None),  # the CPU: as before
        ("bf16", False, True, None, "bf16"),
    ],
)
def test_bf16_is_the_default_on_a_cuda_gpu_only(monkeypatch, requested, on_cuda, bf16, configured, expected):
    if configured is None:
        monkeypatch.delenv(ACCELERATE_PRECISION_ENV, raising=False)
    else:
        monkeypatch.setenv(ACCELERATE_PRECISION_ENV, configured)
    assert default_mixed_precision(requested, on_cuda, bf16) == expected


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks what a CPU run gets")
def test_a_cpu_run_gets_the_accelerator_tf32_setting_and_data_path_it_always_had(monkeypatch):
    monkeypatch.delenv(ACCELERATE_PRECISION_ENV, raising=False)
    assert accelerator_options(None) == {"mixed_precision": None}
    assert accelerator_options("bf16") == {"mixed_precision": "bf16"}
    precision = torch.get_float32_matmul_precision()
    use_tf32(CPU)
    assert torch.get_float32_matmul_precision() == precision
    assert resident_device(CPU) is None


def _tiny_resnet() -> TimmTransferModel:
    """A timm ResNet-10-T of 4 to 16 channels with random weights, from its config."""
    network = timm.create_model(
        "resnet10t", pretrained=False, num_classes=3, layers=(1, 1, 1, 1), channels=(8, 8, 16, 16), stem_width=4
    )
    return TimmTransferModel(network, None)


def test_channels_last_gives_the_eager_layouts_predictions():
    torch.manual_seed(0)
    eager = _tiny_resnet().eval()
    fast = place_model(_tiny_resnet().eval(), CPU)
    fast.load_state_dict(eager.state_dict())
    assert fast.network.conv1[0].weight.is_contiguous(memory_format=torch.channels_last)
    pixels = torch.randn(4, 3, 24, 24)
    with torch.no_grad():
        expected = eager({"pixel_values": pixels})
        got = fast({"pixel_values": pixels.contiguous(memory_format=torch.channels_last)})
    assert (got - expected).abs().max() <= CHANNELS_LAST_TOLERANCE * expected.abs().max()
    assert torch.equal(got.argmax(dim=-1), expected.argmax(dim=-1))


def test_a_network_without_2d_convolutions_keeps_its_layout():
    network = place_model(torch.nn.Sequential(torch.nn.Conv1d(2, 2, 3), torch.nn.Linear(4, 2)), CPU)
    assert network[0].weight.is_contiguous()


def test_nothing_is_counted_as_compilation_without_torch_compile():
    before = compile_seconds()
    torch.nn.Linear(3, 2)(torch.randn(4, 3)).sum().backward()
    assert compile_seconds() == before
