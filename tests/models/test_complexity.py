"""Tests for benchmark.models.complexity: FLOPs against analytic counts (attention included), params, memory.

Analytic counts use the FlopCounterMode convention: a [m, k] x [k, n] matmul costs 2*m*k*n FLOPs; bias
adds, norms, activations and softmax are not counted.
"""

import json
import sys
from collections.abc import Callable

import pytest
import timm
import torch
import torch.nn.functional as F
from timm.models.vision_transformer import VisionTransformer
from torch import nn
from torch.utils.flop_counter import FlopCounterMode
from transformers import BertConfig, BertForSequenceClassification

from benchmark.models.complexity import (
    FLOPS_COUNTER_NAME,
    count_parameters,
    describe_complexity,
    forward_flops_per_example,
    track_peak_memory,
)

TOLERANCE = 0.05


def _matmul(m: int, k: int, n: int) -> int:
    """FLOPs of an [m, k] x [k, n] matmul."""
    return 2 * m * k * n


def _attention_flops(tokens: int, dim: int) -> int:
    """Scores QK^T plus attention-weighted values, summed over heads (heads * head_dim = dim)."""
    return _matmul(tokens, dim, tokens) + _matmul(tokens, tokens, dim)


def _encoder_layer_linear_flops(tokens: int, dim: int, mlp_hidden: int) -> int:
    """QKV projections, attention output projection, and the two MLP matmuls of one encoder layer."""
    qkv = 3 * _matmul(tokens, dim, dim)
    out_proj = _matmul(tokens, dim, dim)
    mlp = _matmul(tokens, dim, mlp_hidden) + _matmul(tokens, mlp_hidden, dim)
    return qkv + out_proj + mlp


def _plain_flops(model: nn.Module, inputs: dict[str, torch.Tensor] | torch.Tensor) -> int:
    """Stock FlopCounterMode count, i.e. without the fused-attention formulas."""
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        model(inputs) if isinstance(inputs, torch.Tensor) else model(**inputs)
    return counter.get_total_flops()


# ---------------------------------------------------------------- ViT (timm, F.scaled_dot_product_attention)

VIT_CONFIGS = {
    # name: (factory, architecture numbers for the analytic count)
    "vit_tiny_img64": (
        lambda: timm.create_model("vit_tiny_patch16_224", pretrained=False, img_size=64, num_classes=10),
        {"img": 64, "patch": 16, "dim": 192, "depth": 12, "mlp_hidden": 768, "classes": 10},
    ),
    "vit_small_patch4_img64": (
        lambda: VisionTransformer(img_size=64, patch_size=4, embed_dim=64, depth=2, num_heads=4, num_classes=10),
        {"img": 64, "patch": 4, "dim": 64, "depth": 2, "mlp_hidden": 256, "classes": 10},
    ),
}


def _vit_analytic(img: int, patch: int, dim: int, depth: int, mlp_hidden: int, classes: int) -> tuple[int, int]:
    """(total, attention-only) forward FLOPs of a class-token ViT on one image."""
    patches = (img // patch) ** 2
    tokens = patches + 1  # + class token
    patch_embed = _matmul(patches, 3 * patch * patch, dim)  # the stride-patch conv is a per-patch matmul
    attention = depth * _attention_flops(tokens, dim)
    layers = depth * _encoder_layer_linear_flops(tokens, dim, mlp_hidden) + attention
    head = _matmul(1, dim, classes)  # token pooling: only the class token reaches the head
    return patch_embed + layers + head, attention


@pytest.fixture(scope="module", params=sorted(VIT_CONFIGS))
def vit_case(request: pytest.FixtureRequest) -> tuple[nn.Module, torch.Tensor, int, int]:
    """(model, image, analytic total, analytic attention) for each ViT configuration."""
    factory, spec = VIT_CONFIGS[request.param]
    torch.manual_seed(0)
    total, attention = _vit_analytic(**spec)
    return factory().eval(), torch.randn(1, 3, spec["img"], spec["img"]), total, attention


def test_vit_flops_match_analytic(vit_case: tuple[nn.Module, torch.Tensor, int, int]) -> None:
    model, image, analytic, _ = vit_case
    assert forward_flops_per_example(model, image) == pytest.approx(analytic, rel=TOLERANCE)


def test_vit_attention_is_what_stock_counter_misses(vit_case: tuple[nn.Module, torch.Tensor, int, int]) -> None:
    """On CPU timm's fused attention is invisible to stock FlopCounterMode; the fix adds exactly it back."""
    model, image, analytic, attention = vit_case
    plain = _plain_flops(model, image)
    assert plain == pytest.approx(analytic - attention, rel=TOLERANCE)
    assert forward_flops_per_example(model, image) - plain == attention


def test_stock_counter_fails_the_tolerance_when_attention_is_large() -> None:
    """With 257 tokens attention is ~40 % of the ViT's FLOPs, so the uncounted version is far off."""
    factory, spec = VIT_CONFIGS["vit_small_patch4_img64"]
    analytic, _ = _vit_analytic(**spec)
    plain = _plain_flops(factory().eval(), torch.randn(1, 3, spec["img"], spec["img"]))
    assert plain < (1 - TOLERANCE) * analytic


# ---------------------------------------------------------------- BERT (transformers, sdpa and eager)

BERT_DIM, BERT_LAYERS, BERT_HEADS, BERT_MLP, BERT_VOCAB, BERT_SEQ, BERT_LABELS = 64, 2, 4, 128, 1000, 32, 2


def _bert_analytic() -> int:
    """Forward FLOPs of BertForSequenceClassification on one sequence (embedding lookups are free)."""
    layers = BERT_LAYERS * (
        _encoder_layer_linear_flops(BERT_SEQ, BERT_DIM, BERT_MLP) + _attention_flops(BERT_SEQ, BERT_DIM)
    )
    pooler = _matmul(1, BERT_DIM, BERT_DIM)  # dense on the [CLS] token
    classifier = _matmul(1, BERT_DIM, BERT_LABELS)
    return layers + pooler + classifier


@pytest.mark.parametrize("attn_implementation", ["sdpa", "eager"])
def test_bert_flops_match_analytic(attn_implementation: str) -> None:
    config = BertConfig(
        hidden_size=BERT_DIM,
        num_hidden_layers=BERT_LAYERS,
        num_attention_heads=BERT_HEADS,
        intermediate_size=BERT_MLP,
        vocab_size=BERT_VOCAB,
        num_labels=BERT_LABELS,
        attn_implementation=attn_implementation,
    )
    torch.manual_seed(0)
    model = BertForSequenceClassification(config)
    attention_mask = torch.ones(1, BERT_SEQ, dtype=torch.long)
    attention_mask[:, 20:] = 0  # padded to max length, as a tokenizer would
    inputs = {"input_ids": torch.randint(0, BERT_VOCAB, (1, BERT_SEQ)), "attention_mask": attention_mask}
    assert forward_flops_per_example(model, inputs) == pytest.approx(_bert_analytic(), rel=TOLERANCE)


# ---------------------------------------------------------------- attention ops directly


class _GroupedQueryAttention(nn.Module):
    """Bare SDPA with fewer key/value heads than query heads."""

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
        return F.scaled_dot_product_attention(query, key, value, enable_gqa=True)


class _FusedOverrideableAttention(nn.Module):
    """The backend-overridable fused attention op (XPU/HPU/out-of-tree backends)."""

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
        return torch.ops.aten._scaled_dot_product_fused_attention_overrideable(query, key, value)[0]


@pytest.mark.parametrize(
    ("module", "kv_heads", "device"),
    [(_GroupedQueryAttention(), 2, "cpu"), (_FusedOverrideableAttention(), 8, "meta")],
)
def test_fused_attention_ops_are_counted(module: nn.Module, kv_heads: int, device: str) -> None:
    heads, seq, head_dim = 8, 16, 32
    inputs = {
        "query": torch.randn(1, heads, seq, head_dim, device=device),
        "key": torch.randn(1, kv_heads, seq, head_dim, device=device),
        "value": torch.randn(1, kv_heads, seq, head_dim, device=device),
    }
    assert forward_flops_per_example(module, inputs) == heads * _attention_flops(seq, head_dim)


# ---------------------------------------------------------------- ResNet (convs)


def _conv_and_linear_analytic(model: nn.Module, image: torch.Tensor) -> int:
    """Sum over Conv2d/Linear layers of 2 * output elements * multiply-adds per output element."""
    total = 0

    def conv_hook(module: nn.Conv2d, _: tuple[torch.Tensor], out: torch.Tensor) -> None:
        nonlocal total
        kernel_h, kernel_w = module.kernel_size
        total += 2 * out.numel() * (module.in_channels // module.groups) * kernel_h * kernel_w

    def linear_hook(module: nn.Linear, _: tuple[torch.Tensor], out: torch.Tensor) -> None:
        nonlocal total
        total += 2 * out.numel() * module.in_features

    hooks: dict[type[nn.Module], Callable[..., None]] = {nn.Conv2d: conv_hook, nn.Linear: linear_hook}
    handles = [m.register_forward_hook(hooks[type(m)]) for m in model.modules() if type(m) in hooks]
    with torch.inference_mode():
        model(image)
    for handle in handles:
        handle.remove()
    return total


@pytest.fixture(scope="module")
def resnet() -> nn.Module:
    torch.manual_seed(0)
    return timm.create_model("resnet18", pretrained=False, num_classes=10).eval()


def test_resnet_flops_match_conv_analytic_and_stock_counter(resnet: nn.Module) -> None:
    image = torch.randn(1, 3, 64, 64)
    flops = forward_flops_per_example(resnet, image)
    assert flops == _plain_flops(resnet, image)  # no attention: identical to stock FlopCounterMode
    assert flops == pytest.approx(_conv_and_linear_analytic(resnet, image), rel=TOLERANCE)


def test_resnet_flops_scale_with_input_area(resnet: nn.Module) -> None:
    small = forward_flops_per_example(resnet, torch.randn(1, 3, 32, 32))
    large = forward_flops_per_example(resnet, torch.randn(1, 3, 64, 64))
    assert large / small == pytest.approx(4.0, rel=TOLERANCE)


# ---------------------------------------------------------------- API behaviour


def test_flops_require_batch_size_one_and_restore_training_mode(resnet: nn.Module) -> None:
    with pytest.raises(ValueError, match="batch size 1"):
        forward_flops_per_example(resnet, torch.randn(2, 3, 32, 32))
    resnet.train()
    forward_flops_per_example(resnet, torch.randn(1, 3, 32, 32))
    assert resnet.training
    resnet.eval()


def test_parameter_counts_and_frozen_backbone() -> None:
    model = timm.create_model("resnet18", pretrained=False, num_classes=10)
    total = sum(p.numel() for p in model.parameters())
    assert count_parameters(model).total == count_parameters(model).trainable == total

    model.requires_grad_(False)
    model.get_classifier().requires_grad_(True)
    counts = count_parameters(model)
    assert counts.total == total
    assert counts.trainable == sum(p.numel() for p in model.get_classifier().parameters()) == 512 * 10 + 10


def test_describe_complexity_is_json_able(vit_case: tuple[nn.Module, torch.Tensor, int, int]) -> None:
    model, image, analytic, _ = vit_case
    summary = json.loads(json.dumps(describe_complexity(model, image, "cpu")))
    assert summary == {
        "params_total": sum(p.numel() for p in model.parameters()),
        "params_trainable": sum(p.numel() for p in model.parameters()),
        "flops_per_example": pytest.approx(analytic, rel=TOLERANCE),
        "flops_counter": FLOPS_COUNTER_NAME,
    }


# ---------------------------------------------------------------- peak memory


@pytest.mark.skipif(sys.platform not in ("linux", "darwin"), reason="ru_maxrss units known only here")
def test_cpu_peak_memory_is_process_peak_rss() -> None:
    with track_peak_memory("cpu") as peak:
        block = torch.ones(32 * 2**20)  # 128 MiB, touched
    assert "process peak RSS" in peak.measure
    assert peak.peak_bytes is not None and peak.baseline_bytes is not None
    assert peak.peak_bytes >= max(peak.baseline_bytes, block.nbytes)


def test_peak_memory_unmeasured_device_is_none() -> None:
    with track_peak_memory("meta") as peak:
        torch.ones(4, device="meta")
    assert peak.peak_bytes is None and peak.baseline_bytes is None


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_peak_memory_covers_block_allocation() -> None:
    with track_peak_memory("cuda") as peak:
        block = torch.ones(16 * 2**20, device="cuda")  # 64 MiB
        del block
    assert peak.measure == "cuda max_memory_allocated"
    assert peak.peak_bytes - peak.baseline_bytes >= 64 * 2**20
