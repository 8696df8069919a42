"""Build models through each library's own factory, pretrained or from scratch.

The spec's library adapter (`benchmark.adapters`: timm's `create_model`, transformers' Auto classes of the task's
modality) builds the network and its preprocessing object; this module seeds it, casts it to the spec's dtype and
names the checkpoint in any error. A Whisper checkpoint (`model_type` "whisper") becomes the encoder of
`WhisperForAudioClassification`; given the task's `clip_seconds`, its positional table and its feature extractor
are cut from 30 s to the clip (the encoder accepts exactly its table's length, helpers below), as the offline demo
does when it prepares its Whisper asset (`benchmark.assets.whisper_ct2`). `scratch` builds the same architecture
from its config with random weights (seeded), so reuse is measured as gain over an identical network trained under
the identical budget.

Every model is wrapped (`benchmark.models.wrappers`) so the loop sees one interface: `forward(inputs) -> logits` and
`features(inputs) -> pooled embedding` (what a linear probe and the transferability estimators read).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from benchmark.data.loading import expand_assets
from benchmark.models.wrappers import TransferModel
from benchmark.specs.adapter_registry import library_adapter
from benchmark.specs.schema import Init, ModelSpec

WHISPER_MODEL_TYPE = "whisper"


class ModelError(Exception):
    """A model spec names a checkpoint that cannot be built."""


@dataclass
class LoadedModel:
    """A wrapped model with its preprocessing object and what it was built from.

    `processor` is the timm data config (a dict) for timm models, else the tokenizer or feature extractor.
    """

    network: TransferModel
    processor: Any
    checkpoint: str
    revision: str | None


def build_model(
    spec: ModelSpec,
    init: Init,
    num_labels: int,
    seed: int,
    assets_dir: Path,
    trust_remote_code: bool = False,
    clip_seconds: float | None = None,
) -> LoadedModel:
    """The model of a spec with a fresh `num_labels` head; `init='scratch'` gives random weights.

    `clip_seconds` is the audio task's clip length: models with a fixed input length (Whisper) are fitted to it.
    Checkpoint code runs when the run (`--trust-remote-code`) or the model's spec asks for it; the weights are cast
    to the spec's `dtype`, if any.
    """
    library = library_adapter(spec.library)
    checkpoint = expand_assets(spec.checkpoint, assets_dir)
    trust_remote_code = trust_remote_code or spec.trust_remote_code
    torch.manual_seed(seed)
    try:
        network, processor = library.build(spec, checkpoint, init, num_labels, trust_remote_code, clip_seconds)
    except (OSError, RuntimeError, ValueError, KeyError) as error:
        raise ModelError(
            f"model {spec.id!r}: cannot build {spec.library} checkpoint {checkpoint!r}: {error}"
        ) from error
    if spec.dtype is not None:
        network.to(getattr(torch, spec.dtype))
    return LoadedModel(network=network, processor=processor, checkpoint=checkpoint, revision=spec.revision)


def whisper_clip_positions(clip_seconds: float, sampling_rate: int = 16000, hop_length: int = 160) -> int:
    """Whisper encoder positions for a clip of `clip_seconds`, padded as the audio collator pads it.

    The feature extractor gives one log-mel frame per `hop_length` samples (100 per second) and the encoder's
    stride-2 convolution halves them, so 1 s needs 50 positions (of the 1,500 for Whisper's 30 s); the frame
    count must be even, since the encoder checks that frames equal exactly twice its positions.
    """
    frames = int(round(clip_seconds * sampling_rate)) // hop_length
    if frames < 2 or frames % 2:
        raise ValueError(
            f"clip_seconds={clip_seconds} gives {frames} log-mel frames; a Whisper encoder needs an even number "
            f"(clip lengths in steps of {2 * hop_length / sampling_rate:g} s)"
        )
    return frames // 2


def cut_whisper_positions(network: nn.Module, positions: int) -> None:
    """Keep the first `positions` rows of a Whisper encoder's (fixed, sinusoidal) positional table, in place.

    `config.max_source_positions` follows, which is the input length the encoder's forward then requires.
    """
    encoder = network.encoder
    table = encoder.embed_positions.weight
    if positions > table.shape[0]:
        raise ValueError(
            f"the clip needs {positions} Whisper encoder positions; this checkpoint has only {table.shape[0]}"
        )
    if positions < table.shape[0]:
        cut = nn.Embedding(positions, table.shape[1], device=table.device, dtype=table.dtype)
        with torch.no_grad():
            cut.weight.copy_(table[:positions])
        encoder.embed_positions = cut.requires_grad_(False)
    encoder.max_source_positions = positions
    for config in {id(c): c for c in (network.config, encoder.config)}.values():
        config.max_source_positions = positions


def fit_whisper_feature_extractor(feature_extractor: Any, clip_seconds: float) -> None:
    """Make a WhisperFeatureExtractor pad or cut to `clip_seconds` instead of its 30 s window, in place."""
    seconds = int(clip_seconds) if float(clip_seconds).is_integer() else clip_seconds
    feature_extractor.chunk_length = seconds
    feature_extractor.n_samples = int(round(clip_seconds * feature_extractor.sampling_rate))
    feature_extractor.nb_max_frames = feature_extractor.n_samples // feature_extractor.hop_length
