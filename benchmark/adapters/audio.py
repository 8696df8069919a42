"""Audio: waveforms decoded at the feature extractor's sampling rate and cut or padded to the task's
`clip_seconds`, built by transformers as `AutoModelForAudioClassification` with `AutoFeatureExtractor`. A Whisper
encoder (fixed input length) has its positional table and its feature extractor cut to the clip."""

from __future__ import annotations

from typing import Any

import datasets

from benchmark.adapters.base import Collate, ModalityAdapter, TransformersHead
from benchmark.checks.facts import CheckpointFacts
from benchmark.data.collate import AudioCollator
from benchmark.data.loading import TaskData, with_sampling_rate
from benchmark.models.factory import (
    WHISPER_MODEL_TYPE,
    cut_whisper_positions,
    fit_whisper_feature_extractor,
    whisper_clip_positions,
)
from benchmark.specs.adapter_registry import MODALITIES
from benchmark.specs.schema import TaskSpec


class AudioHead(TransformersHead):
    """Audio classification; Whisper's encoder is fitted to the clip, and the deep check records its positions."""

    def fit(self, network: Any, processor: Any, config: Any, clip_seconds: float | None) -> None:
        if config.model_type == WHISPER_MODEL_TYPE and clip_seconds is not None:
            positions = whisper_clip_positions(clip_seconds, processor.sampling_rate, processor.hop_length)
            cut_whisper_positions(network, positions)
            fit_whisper_feature_extractor(processor, clip_seconds)

    def facts(self, description: str, config: Any, processor: Any) -> CheckpointFacts:
        if config.model_type != WHISPER_MODEL_TYPE:
            return CheckpointFacts(description)
        return CheckpointFacts(
            description,
            whisper_positions=config.max_source_positions,
            sampling_rate=processor.sampling_rate,
            hop_length=processor.hop_length,
        )


class AudioModality(ModalityAdapter):
    """Audio classification; the preprocessing field it reads is `clip_seconds`."""

    name = "audio"
    input_needs = "an audio task needs an Audio column"
    transformers = AudioHead(
        "AutoModelForAudioClassification", "AutoFeatureExtractor", "MODEL_FOR_AUDIO_CLASSIFICATION_MAPPING_NAMES"
    )

    def collator(self, task: TaskSpec, processor: Any, pad_to_max: bool = False) -> Collate:
        return AudioCollator(processor, task.dataset.input_column, task.preprocessing.clip_seconds)

    def input_type_ok(self, feature: Any) -> bool:
        return isinstance(feature, datasets.Audio)

    def clip_seconds(self, task: TaskSpec) -> float | None:
        return task.preprocessing.clip_seconds

    def for_model(self, data: TaskData, task: TaskSpec, processor: Any) -> TaskData:
        """Audio decoded (and resampled) at the feature extractor's sampling rate."""
        return with_sampling_rate(data, task.dataset.input_column, processor.sampling_rate)


AUDIO = MODALITIES.register(AudioModality())
