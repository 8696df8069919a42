"""Text: strings (or sentence pairs) through the checkpoint's tokenizer, truncated at the task's `max_length`, built
by transformers as `AutoModelForSequenceClassification` with `AutoTokenizer`."""

from __future__ import annotations

from typing import Any

import datasets

from benchmark.adapters.base import Collate, ModalityAdapter, TransformersHead
from benchmark.checks.facts import TEXT_DTYPES
from benchmark.data.collate import TextCollator
from benchmark.specs.adapter_registry import MODALITIES
from benchmark.specs.schema import TaskSpec


class TextHead(TransformersHead):
    """Sequence classification; a tokenizer without a pad token pads with its end-of-sequence token."""

    def fit(self, network: Any, processor: Any, config: Any, clip_seconds: float | None) -> None:
        if processor.pad_token is None:
            processor.pad_token = processor.eos_token
            network.config.pad_token_id = processor.pad_token_id

    def processor_problems(self, processor: Any) -> list[str]:
        """A tokenizer can load without its files (transformers then builds an empty one), and must be able to pad."""
        problems = []
        if len(processor) <= len(set(processor.all_special_tokens)):
            problems.append(
                f"{type(processor).__name__} has no vocabulary beyond its special tokens (no tokenizer files?)"
            )
        if processor.pad_token is None and processor.eos_token is None:
            problems.append("the tokenizer has neither a pad token nor an eos token to pad with")
        return problems


class TextModality(ModalityAdapter):
    """Text classification; the preprocessing field it reads is `max_length`."""

    name = "text"
    input_needs = "a text task needs a string column"
    transformers = TextHead(
        "AutoModelForSequenceClassification", "AutoTokenizer", "MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES"
    )

    def collator(self, task: TaskSpec, processor: Any, pad_to_max: bool = False) -> Collate:
        spec = task.dataset
        return TextCollator(
            processor, spec.input_column, spec.second_input_column, task.preprocessing.max_length, pad_to_max
        )

    def input_type_ok(self, feature: Any) -> bool:
        return isinstance(feature, datasets.Value) and feature.dtype in TEXT_DTYPES


TEXT = MODALITIES.register(TextModality())
