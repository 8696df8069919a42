"""What a batch is, for every part of the suite that reads one: a dict of tensors whose `LABEL` entry holds the
targets and whose other entries are the model's keyword inputs.

Kept apart from the loading and collation code (which need `datasets` and the specs' pydantic models) so that the
training loop, and the GPU speed script that drives it on a machine without those packages, import only torch.
"""

from __future__ import annotations

import torch

LABEL = "labels"

Batch = dict[str, torch.Tensor]


def model_inputs(batch: Batch) -> Batch:
    """The batch without its labels: what the model's forward takes."""
    return {key: value for key, value in batch.items() if key != LABEL}
