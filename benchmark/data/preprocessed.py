"""Model inputs computed once per split, for the many short runs of a search.

A fine-tune search trains every configuration and seed for several rungs, and every epoch of every run decodes
each image or audio clip again and pushes it through the same deterministic transform (timm's evaluation
transform; the feature extractor at a fixed clip length). For images, and for audio through Whisper's feature
extractor, one example's result does not depend on the rest of its batch (bit for bit), so `PreprocessCache`
computes each split once as a list of per-example tensors that a DataLoader indexes like the split itself, with
`stack_rows` as its collate function. Text keeps its collator (tokenising is cheap and its padding depends on the
batch), and so do feature extractors that normalise a batch at once (Wav2Vec2's differs in the last bits from one
clip at a time).

The cache holds at most `max_bytes` of tensors (the first example's size times the split's length is checked
before anything is computed); a split that would not fit is read the usual way. A run on a GPU also asks for the
splits on its device (`inputs(..., device)`): they are stacked there once, while all of them fit `max_device_bytes`,
and their batches are gathered by index on the device (`benchmark.data.resident`), the same batches in the same
order; a CPU run never asks, and reads the per-example rows as before.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import datasets
import torch

from benchmark.data.collate import AudioCollator, Batch, VisionCollator
from benchmark.data.resident import ResidentSplit, as_batch

DEFAULT_MAX_BYTES = 1 << 30  # 1 GiB of preprocessed inputs per run
DEVICE_SHARE = 0.25  # of a GPU's memory, for resident splits; the rest is the model's, its optimizer's, activations'
# Feature extractors whose output for one clip does not depend on the rest of its batch, bit for bit. Wav2Vec2's
# normalises in batched numpy, which differs in the last bits from one clip at a time: it keeps its collator.
PER_EXAMPLE_FEATURE_EXTRACTORS = ("WhisperFeatureExtractor",)


class PreprocessedSplit(torch.utils.data.Dataset):
    """A split's examples as model-ready tensors (one dict per example, batch dimension removed); `source` is the
    split they were computed from."""

    def __init__(self, rows: list[dict[str, torch.Tensor]], source: datasets.Dataset):
        self.rows, self.source = rows, source

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return self.rows[index]


def stack_rows(rows: list[dict[str, torch.Tensor]]) -> Batch:
    """The collate function of a `PreprocessedSplit`: every key stacked along a new batch dimension."""
    return {key: torch.stack([row[key] for row in rows]) for key in rows[0]}


@dataclass
class PreprocessCache:
    """Preprocessed splits by (split fingerprint, transform), within a memory budget shared by the run."""

    max_bytes: int = DEFAULT_MAX_BYTES
    splits: dict[tuple[str, str], PreprocessedSplit] = field(default_factory=dict)
    used_bytes: int = 0
    max_device_bytes: int | None = None  # None: DEVICE_SHARE of a CUDA device's memory, `max_bytes` elsewhere
    resident: dict[tuple[tuple[str, str], str], ResidentSplit] = field(default_factory=dict)
    device_bytes: int = 0

    def inputs(
        self, splits: list[datasets.Dataset], collate: Callable, device: torch.device | None = None
    ) -> tuple[list, Callable]:
        """(datasets, collate function) for the loop: the preprocessed splits when the collator's output is per
        example and they all fit, else the splits as given (one collate function must serve them all). With
        `device`, preprocessed splits that all fit its budget come stacked on it (`ResidentSplit`)."""
        if not cacheable(collate) or any(len(split) == 0 for split in splits):
            return splits, collate
        keys = [(split._fingerprint, transform_key(collate)) for split in splits]
        missing = [(key, split) for key, split in zip(keys, splits, strict=True) if key not in self.splits]
        if missing:
            firsts = [_one(collate, split[0]) for _, split in missing]
            sizes = [_bytes(first) * len(split) for first, (_, split) in zip(firsts, missing, strict=True)]
            if self.used_bytes + sum(sizes) > self.max_bytes:
                return splits, collate
            for first, size, (key, split) in zip(firsts, sizes, missing, strict=True):
                rows = [first] + [_one(collate, split[i]) for i in range(1, len(split))]
                self.splits[key] = PreprocessedSplit(rows, split)
                self.used_bytes += size
        preprocessed = [self.splits[key] for key in keys]
        resident = self._on_device(keys, preprocessed, device) if device is not None else None
        return (resident, as_batch) if resident else (preprocessed, stack_rows)

    def _on_device(
        self, keys: list[tuple[str, str]], preprocessed: list[PreprocessedSplit], device: torch.device
    ) -> list[ResidentSplit] | None:
        """The splits stacked on `device` (once per run), or None when those not there yet would overrun its
        budget."""
        missing = [
            (key, split)
            for key, split in zip(keys, preprocessed, strict=True)
            if (key, str(device)) not in self.resident
        ]
        size = sum(_bytes(split.rows[0]) * len(split) for _, split in missing)
        if self.device_bytes + size > self._device_budget(device):
            return None
        for key, split in missing:
            self.resident[key, str(device)] = ResidentSplit.stacked(split.rows, device)
            self.device_bytes += self.resident[key, str(device)].nbytes
        return [self.resident[key, str(device)] for key in keys]

    def _device_budget(self, device: torch.device) -> int:
        if self.max_device_bytes is not None:
            return self.max_device_bytes
        if device.type == "cuda":
            return int(DEVICE_SHARE * torch.cuda.get_device_properties(device).total_memory)
        return self.max_bytes


def cacheable(collate: Callable) -> bool:
    """Whether a collator's output for an example is the same alone as in any batch: timm's evaluation transform
    and the per-example feature extractors."""
    if isinstance(collate, VisionCollator):
        return True
    return (
        isinstance(collate, AudioCollator)
        and type(collate.feature_extractor).__name__ in PER_EXAMPLE_FEATURE_EXTRACTORS
    )


def transform_key(collate: VisionCollator | AudioCollator) -> str:
    """What determines a cacheable collator's output besides the example."""
    if isinstance(collate, VisionCollator):
        return f"vision:{collate.image_column}:{collate.transform!r}"
    extractor = collate.feature_extractor
    return (
        f"audio:{collate.audio_column}:{collate.clip_samples}:{type(extractor).__name__}:{extractor.to_json_string()}"
    )


def _one(collate: Callable, row: dict) -> dict[str, torch.Tensor]:
    return {key: value[0] for key, value in collate([row]).items()}


def _bytes(row: dict[str, torch.Tensor]) -> int:
    return sum(tensor.numel() * tensor.element_size() for tensor in row.values())
