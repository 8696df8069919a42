"""Per-modality collate functions: raw dataset rows in, model-ready tensors out (each modality's adapter in
`benchmark.adapters` picks and configures its own).

Preprocessing follows each library's own convention: images use the transform from the timm data config
resolved from the model, text uses the checkpoint's tokenizer (dynamic padding, truncation at the task's
`max_length`, sentence pairs supported), audio uses the checkpoint's feature extractor at its sampling rate with
clips cut or padded to the task's `clip_seconds`. Collators are plain picklable classes so DataLoader worker
processes can use them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import timm.data
import torch

from benchmark.data.batch import LABEL, Batch
from benchmark.data.batch import model_inputs as model_inputs  # re-exported: callers import it from here
from benchmark.specs.adapter_registry import modality_adapter
from benchmark.specs.schema import TaskSpec


class VisionCollator:
    """Decoded PIL images -> normalised `pixel_values` via a timm transform."""

    def __init__(self, transform, image_column: str):
        self.transform = transform
        self.image_column = image_column

    def __call__(self, rows: list[dict[str, Any]]) -> Batch:
        images = [self.transform(row[self.image_column].convert("RGB")) for row in rows]
        return {"pixel_values": torch.stack(images), LABEL: _labels(rows)}


class TextCollator:
    """Strings (or sentence pairs) -> token ids, padded to the longest in the batch or to `max_length`."""

    def __init__(self, tokenizer, text_column: str, pair_column: str | None, max_length: int, pad_to_max=False):
        self.tokenizer = tokenizer
        self.text_column = text_column
        self.pair_column = pair_column
        self.max_length = max_length
        self.padding = "max_length" if pad_to_max else "longest"

    def __call__(self, rows: list[dict[str, Any]]) -> Batch:
        texts = [str(row[self.text_column]) for row in rows]
        pairs = [str(row[self.pair_column]) for row in rows] if self.pair_column else None
        encoded = self.tokenizer(
            texts, pairs, truncation=True, max_length=self.max_length, padding=self.padding, return_tensors="pt"
        )
        batch = {key: encoded[key] for key in ("input_ids", "attention_mask", "token_type_ids") if key in encoded}
        return {**batch, LABEL: _labels(rows)}


class AudioCollator:
    """Decoded waveforms -> the feature extractor's inputs, every clip cut or padded to the same length."""

    def __init__(self, feature_extractor, audio_column: str, clip_seconds: float):
        self.feature_extractor = feature_extractor
        self.audio_column = audio_column
        self.sampling_rate = feature_extractor.sampling_rate
        self.clip_samples = int(round(clip_seconds * self.sampling_rate))

    def __call__(self, rows: list[dict[str, Any]]) -> Batch:
        waves = [self._mono(row[self.audio_column]) for row in rows]
        encoded = self.feature_extractor(
            waves,
            sampling_rate=self.sampling_rate,
            padding="max_length",
            max_length=self.clip_samples,
            truncation=True,
            return_tensors="pt",
        )
        key = "input_features" if "input_features" in encoded else "input_values"
        return {key: encoded[key], LABEL: _labels(rows)}

    def _mono(self, audio) -> np.ndarray:
        if audio["sampling_rate"] != self.sampling_rate:
            raise ValueError(f"audio at {audio['sampling_rate']} Hz; expected {self.sampling_rate} Hz")
        wave = np.asarray(audio["array"], dtype=np.float32)
        return wave.mean(axis=0) if wave.ndim > 1 else wave


def make_collator(task: TaskSpec, processor, pad_to_max: bool = False):
    """The collator for a task's modality (its adapter chooses and configures it), given the model's preprocessing
    object; `pad_to_max` pads variable-length inputs to the task's maximum."""
    return modality_adapter(task.modality).collator(task, processor, pad_to_max)


def vision_transform(data_config: dict, image_size: int | None):
    """timm's evaluation transform for a model's data config, optionally at another square input size."""
    config = dict(data_config)
    if image_size:
        config["input_size"] = (config["input_size"][0], image_size, image_size)
    return timm.data.create_transform(**config, is_training=False)


def _labels(rows: list[dict[str, Any]]) -> torch.Tensor:
    return torch.tensor([row[LABEL] for row in rows], dtype=torch.long)
