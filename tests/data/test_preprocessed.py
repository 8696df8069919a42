"""Inputs preprocessed once per split give the batches the collator gives, within a memory budget."""

from __future__ import annotations

import datasets
import numpy as np
import pytest
import torch
from transformers import Wav2Vec2FeatureExtractor, WhisperFeatureExtractor

from benchmark.data.collate import AudioCollator, TextCollator, VisionCollator, vision_transform
from benchmark.data.preprocessed import PreprocessCache, stack_rows
from testkit.fixtures import SAMPLING_RATE

pytestmark = pytest.mark.unit

DATA_CONFIG = {
    "input_size": (3, 32, 32),
    "interpolation": "bilinear",
    "mean": (0.5, 0.5, 0.5),
    "std": (0.5, 0.5, 0.5),
    "crop_pct": 1.0,
    "crop_mode": "center",
}


def _images(n: int = 6) -> datasets.Dataset:
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (12, 12, 3), dtype=np.uint8) for _ in range(n)]
    features = datasets.Features({"image": datasets.Image(), "labels": datasets.Value("int64")})
    return datasets.Dataset.from_dict({"image": images, "labels": [i % 3 for i in range(n)]}, features=features)


def _clips(n: int = 5) -> datasets.Dataset:
    rng = np.random.default_rng(0)
    audio = [
        {"array": rng.normal(0, 0.1, SAMPLING_RATE // 4 + 100 * i), "sampling_rate": SAMPLING_RATE} for i in range(n)
    ]
    features = datasets.Features(
        {"audio": datasets.Audio(sampling_rate=SAMPLING_RATE), "labels": datasets.Value("int64")}
    )
    return datasets.Dataset.from_dict({"audio": audio, "labels": [i % 2 for i in range(n)]}, features=features)


def _batches_equal(split, collate, cached, stacked, indices) -> None:
    expected = collate([split[i] for i in indices])
    got = stacked([cached[i] for i in indices])
    assert expected.keys() == got.keys()
    for key in expected:
        torch.testing.assert_close(got[key], expected[key], rtol=1e-6, atol=1e-6)


def test_vision_inputs_are_computed_once_and_batch_like_the_collator():
    split, validation = _images(6), _images(4)
    collate = VisionCollator(vision_transform(DATA_CONFIG, None), "image")
    cache = PreprocessCache()
    (train, held_out), stacked = cache.inputs([split, validation], collate)
    assert stacked is stack_rows and len(train) == 6 and len(held_out) == 4
    _batches_equal(split, collate, train, stacked, [4, 0, 2])
    again, _ = cache.inputs([split], collate)
    assert again[0] is train  # the same split and transform: read from the cache
    other_size = VisionCollator(vision_transform(DATA_CONFIG, 16), "image")
    (resized,), _ = cache.inputs([split], other_size)
    assert resized is not train and resized[0]["pixel_values"].shape == (3, 16, 16)


def test_whisper_inputs_batch_like_the_collator_bit_for_bit():
    split = _clips()
    extractor = WhisperFeatureExtractor(feature_size=80, sampling_rate=SAMPLING_RATE)
    collate = AudioCollator(extractor, "audio", clip_seconds=0.5)
    (cached,), stacked = PreprocessCache().inputs([split], collate)
    assert stacked is stack_rows
    expected = collate([split[i] for i in (3, 1, 4, 0)])
    got = stacked([cached[i] for i in (3, 1, 4, 0)])
    assert all(torch.equal(got[key], expected[key]) for key in expected)


def test_batch_normalising_feature_extractors_keep_their_collator():
    split = _clips()
    collate = AudioCollator(Wav2Vec2FeatureExtractor(sampling_rate=SAMPLING_RATE), "audio", clip_seconds=0.5)
    assert PreprocessCache().inputs([split], collate) == ([split], collate)


def test_splits_over_the_budget_and_text_keep_their_collator():
    split = _images(6)
    collate = VisionCollator(vision_transform(DATA_CONFIG, None), "image")
    one_example = 3 * 32 * 32 * 4 + 8
    cache = PreprocessCache(max_bytes=5 * one_example)
    assert cache.inputs([split], collate) == ([split], collate) and cache.used_bytes == 0
    text = datasets.Dataset.from_dict({"text": ["a b", "c"], "labels": [0, 1]})
    text_collate = TextCollator(tokenizer=None, text_column="text", pair_column=None, max_length=8)
    assert cache.inputs([text], text_collate) == ([text], text_collate)
