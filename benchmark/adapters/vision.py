"""Images: decoded PIL images through timm's evaluation transform for the model's data config, optionally at the
task's square `image_size`. transformers builds no image classifiers here (vision models come from timm)."""

from __future__ import annotations

from typing import Any

import datasets

from benchmark.adapters.base import Collate, ModalityAdapter
from benchmark.data.collate import VisionCollator, vision_transform
from benchmark.specs.adapter_registry import MODALITIES
from benchmark.specs.schema import TaskSpec


class VisionModality(ModalityAdapter):
    """Image classification; the preprocessing field it reads is `image_size`."""

    name = "vision"
    input_needs = "a vision task needs an Image column"

    def collator(self, task: TaskSpec, processor: Any, pad_to_max: bool = False) -> Collate:
        transform = vision_transform(processor, task.preprocessing.image_size)
        return VisionCollator(transform, task.dataset.input_column)

    def input_type_ok(self, feature: Any) -> bool:
        return isinstance(feature, datasets.Image)


VISION = MODALITIES.register(VisionModality())
