"""One interface over timm and transformers classifiers: `forward(inputs) -> logits` and `features(inputs) ->
pooled embedding`, whatever library built the network.

Apart from `benchmark.models.factory` (which reads the specs and the data layout) so that code that only runs a built
network, such as the GPU speed script on a machine without `datasets` or `pydantic`, imports torch alone.
"""

from __future__ import annotations

import torch
from torch import nn


class TransferModel(nn.Module):
    """One interface over timm and transformers classifiers.

    `source_classifier` is the checkpoint's own head over its source classes (for LEEP/NCE), or None.
    """

    def features(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

    def matching(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Floating-point inputs in the weights' dtype (a model loaded in bfloat16 reads bfloat16 pixels or
        waveforms; token ids and masks stay as they are)."""
        dtype = next(self.parameters()).dtype
        return {
            name: value.to(dtype) if value.is_floating_point() and value.dtype != dtype else value
            for name, value in inputs.items()
        }


class TimmTransferModel(TransferModel):
    """A timm classifier; `features` are the pre-logits its head reads."""

    def __init__(self, network: nn.Module, source_classifier: nn.Module | None):
        super().__init__()
        self.network = network
        self.source_classifier = source_classifier

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.network(self.matching(inputs)["pixel_values"])

    def features(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        feature_map = self.network.forward_features(self.matching(inputs)["pixel_values"])
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
        return self.network(**self.matching(inputs)).logits

    def features(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        hidden = self.network(**self.matching(inputs), output_hidden_states=True).hidden_states[-1]
        mask = inputs.get("attention_mask")
        if mask is None or mask.shape[1] != hidden.shape[1]:
            return hidden.mean(dim=1)
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)
