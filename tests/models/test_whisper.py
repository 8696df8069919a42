"""Tests for Whisper checkpoints in benchmark.models.factory: the encoder is fitted to the task's clip length.

A hub Whisper (openai/whisper-base) is a `WhisperForConditionalGeneration` whose encoder takes exactly 30 s of
log-mel frames. The factory builds `WhisperForAudioClassification` from it and, for a task's `clip_seconds`,
cuts the positional table and the feature extractor to the clip. A tiny random Whisper saved with
`save_pretrained` stands in for the hub checkpoint; the demo's asset converter gives the reference behaviour.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import (
    WhisperConfig,
    WhisperFeatureExtractor,
    WhisperForAudioClassification,
    WhisperForConditionalGeneration,
)
from transformers.models.whisper.modeling_whisper import sinusoids

from benchmark.assets.whisper_ct2 import clip_positions, derive_whisper_encoder_for_clips
from benchmark.data.collate import make_collator
from benchmark.data.loading import LABEL
from benchmark.models.factory import ModelError, build_model, whisper_clip_positions
from benchmark.specs.schema import DatasetSpec, ModelSpec, PreprocessingSpec, TaskSpec

SAMPLING_RATE = 16000
MEL_BINS = 16
D_MODEL = 16
FULL_POSITIONS = 1500  # 30 s, as in every released Whisper


@pytest.fixture(scope="module")
def whisper_dir(tmp_path_factory) -> Path:
    """A tiny random Whisper (encoder-decoder, 30 s positional table) and its feature extractor."""
    directory = tmp_path_factory.mktemp("tiny-whisper")
    config = WhisperConfig(
        vocab_size=64,
        num_mel_bins=MEL_BINS,
        d_model=D_MODEL,
        encoder_layers=2,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_source_positions=FULL_POSITIONS,
        max_target_positions=16,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
        classifier_proj_size=8,
    )
    torch.manual_seed(1234)  # not a seed the factory uses, so the scratch twin cannot equal the "pretrained" weights
    WhisperForConditionalGeneration(config).save_pretrained(directory)
    WhisperFeatureExtractor(feature_size=MEL_BINS, sampling_rate=SAMPLING_RATE).save_pretrained(directory)
    return directory


def _spec(checkpoint: Path) -> ModelSpec:
    return ModelSpec(id="tiny-whisper", library="transformers", checkpoint=str(checkpoint), modality="audio")


def _task(clip_seconds: float) -> TaskSpec:
    dataset = DatasetSpec(path="audiofolder", input_column="audio")
    return TaskSpec(
        task="clips", modality="audio", dataset=dataset, preprocessing=PreprocessingSpec(clip_seconds=clip_seconds)
    )


def _rows(seconds: list[float]) -> list[dict]:
    """Audio rows as the collator reads them: clips shorter and longer than the task's clip length."""
    rng = np.random.default_rng(0)
    return [
        {"audio": {"array": rng.normal(0, 0.1, int(s * SAMPLING_RATE)), "sampling_rate": SAMPLING_RATE}, LABEL: i % 3}
        for i, s in enumerate(seconds)
    ]


def _encoder_state(path: Path) -> dict[str, torch.Tensor]:
    return WhisperForConditionalGeneration.from_pretrained(path).model.encoder.state_dict()


def test_hub_whisper_is_cut_to_a_one_second_clip(whisper_dir, tmp_path):
    loaded = build_model(_spec(whisper_dir), "pretrained", 3, 0, tmp_path, clip_seconds=1.0)
    network = loaded.network.network
    assert isinstance(network, WhisperForAudioClassification)
    assert network.encoder.embed_positions.num_embeddings == 50
    assert network.config.max_source_positions == 50
    assert not network.encoder.embed_positions.weight.requires_grad  # Whisper's table is fixed, as before the cut
    original = _encoder_state(whisper_dir)
    cut = network.encoder.state_dict()
    torch.testing.assert_close(cut["embed_positions.weight"], original["embed_positions.weight"][:50])
    assert all(torch.equal(cut[name], tensor) for name, tensor in original.items() if "embed_positions" not in name)

    extractor = loaded.processor
    assert (extractor.chunk_length, extractor.n_samples, extractor.nb_max_frames) == (1, 16000, 100)
    alone = extractor(_rows([2.5])[0]["audio"]["array"], sampling_rate=SAMPLING_RATE, return_tensors="pt")
    assert alone["input_features"].shape == (1, MEL_BINS, 100)  # without the collator's max_length too

    batch = make_collator(_task(1.0), extractor)(_rows([0.4, 1.0, 1.7]))
    assert batch["input_features"].shape == (3, MEL_BINS, 100)
    inputs = {"input_features": batch["input_features"]}
    with torch.no_grad():
        assert loaded.network(inputs).shape == (3, 3)
        assert loaded.network.features(inputs).shape == (3, D_MODEL)


def test_scratch_twin_has_the_same_cut_architecture(whisper_dir, tmp_path):
    pretrained = build_model(_spec(whisper_dir), "pretrained", 3, 0, tmp_path, clip_seconds=2.0).network.network
    scratch = build_model(_spec(whisper_dir), "scratch", 3, 0, tmp_path, clip_seconds=2.0).network.network
    assert scratch.config.max_source_positions == pretrained.config.max_source_positions == 100
    shapes = {name: tensor.shape for name, tensor in pretrained.state_dict().items()}
    assert {name: tensor.shape for name, tensor in scratch.state_dict().items()} == shapes
    # The table is sinusoidal in both: cutting it and building it short give the same rows.
    torch.testing.assert_close(scratch.encoder.embed_positions.weight, sinusoids(100, D_MODEL))
    assert not torch.equal(scratch.encoder.conv1.weight, pretrained.encoder.conv1.weight)
    with torch.no_grad():
        assert scratch(input_features=torch.zeros(2, MEL_BINS, 200)).logits.shape == (2, 3)


def test_factory_matches_the_demo_converter(whisper_dir, tmp_path):
    """The demo cuts at asset-preparation time, the factory at load time: the same encoder and inputs."""
    demo_dir = derive_whisper_encoder_for_clips(whisper_dir, tmp_path / "encoder-1s", clip_seconds=1)
    from_hub = build_model(_spec(whisper_dir), "pretrained", 3, 0, tmp_path, clip_seconds=1.0)
    from_demo = build_model(_spec(demo_dir), "pretrained", 3, 0, tmp_path, clip_seconds=1.0)
    hub_encoder = from_hub.network.network.encoder.state_dict()
    demo_encoder = from_demo.network.network.encoder.state_dict()
    assert hub_encoder.keys() == demo_encoder.keys()
    assert all(torch.equal(hub_encoder[name], demo_encoder[name]) for name in hub_encoder)
    assert from_hub.network.network.config.max_source_positions == from_demo.network.network.config.max_source_positions
    for attribute in ("chunk_length", "n_samples", "nb_max_frames", "feature_size", "sampling_rate"):
        assert getattr(from_hub.processor, attribute) == getattr(from_demo.processor, attribute), attribute
    rows = _rows([0.6, 1.3])
    hub_batch = make_collator(_task(1.0), from_hub.processor)(rows)
    demo_batch = make_collator(_task(1.0), from_demo.processor)(rows)
    torch.testing.assert_close(hub_batch["input_features"], demo_batch["input_features"])
    with torch.no_grad():
        torch.testing.assert_close(
            from_hub.network.features({"input_features": hub_batch["input_features"]}),
            from_demo.network.features({"input_features": demo_batch["input_features"]}),
        )


@pytest.mark.parametrize("seconds", [1, 2, 10, 30])
def test_positions_agree_with_the_demo_for_whole_seconds(seconds):
    assert whisper_clip_positions(seconds) == clip_positions(seconds)


def test_half_seconds_work_and_odd_frame_counts_are_refused():
    assert whisper_clip_positions(0.5) == 25
    assert whisper_clip_positions(1.5) == 75
    with pytest.raises(ValueError, match="even number"):
        whisper_clip_positions(1.01)  # 101 frames


def test_a_clip_longer_than_the_table_is_a_model_error(whisper_dir, tmp_path):
    with pytest.raises(ModelError, match="1550 Whisper encoder positions; this checkpoint has only 1500"):
        build_model(_spec(whisper_dir), "pretrained", 3, 0, tmp_path, clip_seconds=31.0)


def test_without_a_clip_length_the_checkpoint_is_left_whole(whisper_dir, tmp_path):
    loaded = build_model(_spec(whisper_dir), "pretrained", 3, 0, tmp_path)
    assert loaded.network.network.encoder.embed_positions.num_embeddings == FULL_POSITIONS
    assert loaded.processor.n_samples == 30 * SAMPLING_RATE
