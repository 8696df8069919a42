"""Splits held as stacked tensors on one device, whose batches are gathered by index there.

A preprocessed split (`benchmark.data.preprocessed`) is a list of per-example tensors that a DataLoader stacks into
batches on the host, which the loop then copies to the GPU, batch after batch. A `ResidentSplit` holds the same
examples stacked once, on the GPU when the run has one: a DataLoader over it asks for a whole batch of indices at
once (`__getitems__`) and gets one indexing operation per tensor on the device, with `as_batch` as its collate
function. Its sampler, batch sampler and Accelerate's wrapping are the DataLoader's own, so it yields the same
batches in the same order as the per-example path, on one process or many.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.utils.data import Dataset

from benchmark.data.batch import Batch


class ResidentSplit(Dataset):
    """A split as `{input name or label: tensor whose first dimension is the example}`, all on one device."""

    def __init__(self, tensors: Batch):
        lengths = {len(tensor) for tensor in tensors.values()}
        devices = {tensor.device for tensor in tensors.values()}
        if len(lengths) != 1 or len(devices) != 1:
            raise ValueError(f"tensors of one split must share length and device, got {lengths} and {devices}")
        self.tensors = tensors
        self.device = devices.pop()

    @classmethod
    def stacked(cls, rows: Sequence[Batch], device: torch.device) -> ResidentSplit:
        """Per-example rows (batch dimension removed) stacked along a new first dimension, then moved to `device`."""
        return cls({key: torch.stack([row[key] for row in rows]).to(device) for key in rows[0]})

    def __len__(self) -> int:
        return len(next(iter(self.tensors.values())))

    def __getitem__(self, index: int) -> Batch:
        return {key: tensor[index] for key, tensor in self.tensors.items()}

    def __getitems__(self, indices: list[int]) -> Batch:
        """The batch of `indices`, in their order. The indices reach a GPU through pinned memory without blocking,
        so gathering the next batch never waits for the step in flight."""
        index = torch.tensor(indices, dtype=torch.long)
        if self.device.type == "cuda":
            index = index.pin_memory().to(self.device, non_blocking=True)
        return {key: tensor.index_select(0, index) for key, tensor in self.tensors.items()}

    @property
    def nbytes(self) -> int:
        return sum(tensor.numel() * tensor.element_size() for tensor in self.tensors.values())


def as_batch(batch: Batch) -> Batch:
    """The collate function of a `ResidentSplit`: its `__getitems__` already returns the batch."""
    return batch


def on_accelerator(dataset: Dataset) -> bool:
    """Whether a dataset's batches are gathered on an accelerator: DataLoader workers could not touch its tensors,
    and there is nothing to pin."""
    return isinstance(dataset, ResidentSplit) and dataset.device.type != "cpu"
