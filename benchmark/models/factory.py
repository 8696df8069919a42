"""Build models through each library's own factory, pretrained or from scratch.

- timm: `timm.create_model` (a local directory is read as `local-dir:<path>`); the model's resolved data config
  gives the image transform. A pretrained checkpoint keeps its source classifier aside, so LEEP and NCE can use
  its source-class predictions, and gets a new head with the task's class count.
- transformers: `AutoModelForSequenceClassification` for text and `AutoModelForAudioClassification` for audio,
  with the checkpoint's tokenizer or feature extractor.
- `scratch` builds the same architecture from its config with random weights (seeded), so reuse is measured as
  gain over an identical network trained under the identical budget.

Every model is wrapped so the loop sees one interface: `forward(inputs) -> logits` and
`features(inputs) -> pooled embedding` (what a linear probe and the transferability estimators read).
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import timm
import torch
from torch import nn

from benchmark.data.loading import expand_assets
from benchmark.specs.schema import Init, ModelSpec


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


class TransferModel(nn.Module):
    """One interface over timm and transformers classifiers.

    `source_classifier` is the checkpoint's own head over its source classes (for LEEP/NCE), or None.
    """

    def features(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

    def is_convolutional(self) -> bool:
        return any(isinstance(m, nn.Conv2d) for m in self.modules())


class TimmTransferModel(TransferModel):
    """A timm classifier; `features` are the pre-logits its head reads."""

    def __init__(self, network: nn.Module, source_classifier: nn.Module | None):
        super().__init__()
        self.network = network
        self.source_classifier = source_classifier

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.network(inputs["pixel_values"])

    def features(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        feature_map = self.network.forward_features(inputs["pixel_values"])
        return self.network.forward_head(feature_map, pre_logits=True)


class HFTransferModel(TransferModel):
    """A transformers `...ForSequenceClassification` / `...ForAudioClassification` model.

    `features` are the last hidden states mean-pooled over real tokens (audio frames are all real: clips have a
    fixed length), the usual embedding for sentence encoders and speech encoders alike.
    """

    def __init__(self, network: nn.Module):
        super().__init__()
        self.network = network
        self.source_classifier = None

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.network(**inputs).logits

    def features(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        hidden = self.network(**inputs, output_hidden_states=True).hidden_states[-1]
        mask = inputs.get("attention_mask")
        if mask is None or mask.shape[1] != hidden.shape[1]:
            return hidden.mean(dim=1)
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


def build_model(
    spec: ModelSpec, init: Init, num_labels: int, seed: int, assets_dir: Path, trust_remote_code: bool = False
) -> LoadedModel:
    """The model of a spec with a fresh `num_labels` head; `init='scratch'` gives random weights."""
    checkpoint = expand_assets(spec.checkpoint, assets_dir)
    torch.manual_seed(seed)
    try:
        if spec.library == "timm":
            network, processor = _build_timm(checkpoint, init, num_labels)
        else:
            network, processor = _build_transformers(spec, checkpoint, init, num_labels, trust_remote_code)
    except (OSError, RuntimeError, ValueError, KeyError) as error:
        raise ModelError(
            f"model {spec.id!r}: cannot build {spec.library} checkpoint {checkpoint!r}: {error}"
        ) from error
    return LoadedModel(network=network, processor=processor, checkpoint=checkpoint, revision=spec.revision)


def _build_timm(checkpoint: str, init: Init, num_labels: int) -> tuple[TransferModel, Any]:
    name = f"local-dir:{checkpoint}" if os.path.isdir(checkpoint) else checkpoint
    if init == "scratch":
        network = timm.create_model(name, pretrained=False, num_classes=num_labels)
        source_classifier = None
    else:
        network = timm.create_model(name, pretrained=True)
        source_classifier = copy.deepcopy(network.get_classifier()) if network.num_classes > 0 else None
        network.reset_classifier(num_labels)
    return TimmTransferModel(network, source_classifier), timm.data.resolve_data_config(model=network)


def _build_transformers(
    spec: ModelSpec, checkpoint: str, init: Init, num_labels: int, trust_remote_code: bool
) -> tuple[TransferModel, Any]:
    import transformers

    if spec.modality == "vision":
        raise ModelError(f"model {spec.id!r}: vision models are built with library 'timm'")
    text = spec.modality == "text"
    auto_model = (
        transformers.AutoModelForSequenceClassification if text else transformers.AutoModelForAudioClassification
    )
    auto_processor = transformers.AutoTokenizer if text else transformers.AutoFeatureExtractor
    options = {"revision": spec.revision, "trust_remote_code": trust_remote_code}
    processor = auto_processor.from_pretrained(checkpoint, **options)
    if init == "scratch":
        config = transformers.AutoConfig.from_pretrained(checkpoint, num_labels=num_labels, **options)
        network = auto_model.from_config(config, trust_remote_code=trust_remote_code)
    else:
        network = auto_model.from_pretrained(checkpoint, num_labels=num_labels, ignore_mismatched_sizes=True, **options)
    if text and processor.pad_token is None:
        processor.pad_token = processor.eos_token
        network.config.pad_token_id = processor.pad_token_id
    return HFTransferModel(network), processor
