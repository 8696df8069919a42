"""What `--log-samples` records of a cell's test split: class probabilities beside the predictions, and each
example's row in the task's test split.

The predictions are the argmax of the same logits the metrics are computed from, in the same pass over the test
split, so logging samples changes no metric; the probabilities are the softmax of those logits in float32.
"""

from __future__ import annotations

from collections.abc import Callable

import datasets
import torch
from accelerate import Accelerator
from torch import nn
from torch.utils.data import DataLoader, Dataset

from benchmark.data.batch import LABEL, model_inputs
from benchmark.results.schema import SampleLog


def split_rows(split: datasets.Dataset) -> list[int]:
    """Each example's row in the split it was selected from: a capped subset (shuffled, then its first rows
    selected) keeps the positions of its rows in the full split in datasets' indices mapping; an uncapped split
    is its own rows in order."""
    if split._indices is None:
        return list(range(len(split)))
    return split._indices.column(0).to_pylist()


def sample_log(test: datasets.Dataset, label_names: list[str], probabilities: torch.Tensor) -> SampleLog:
    """The sample log of a test split as a cell scored it: `test` is the split before any model-specific transform
    (which may drop its indices mapping), `probabilities` one row per example in its order."""
    return SampleLog(
        example_ids=split_rows(test),
        label_names=list(label_names),
        probabilities=probabilities.float().cpu().tolist(),
    )


def predict_with_probabilities(
    accelerator: Accelerator, model: nn.Module, dataset: Dataset, collate_fn: Callable, batch_size: int
) -> tuple[list[int], list[int], torch.Tensor]:
    """Predicted and true labels of a whole split, as `benchmark.engine.loop.predict_split` gives them, and each
    example's class probabilities (gathered from every process without duplicates)."""
    loader = accelerator.prepare(DataLoader(dataset, batch_size=batch_size, collate_fn=collate_fn))
    model.eval()
    predictions, references, probabilities = [], [], []
    with torch.inference_mode():
        for batch in loader:
            logits = model(model_inputs(batch))
            gathered = accelerator.gather_for_metrics((logits.argmax(dim=-1), batch[LABEL], logits.float().softmax(-1)))
            predictions += gathered[0].tolist()
            references += gathered[1].tolist()
            probabilities.append(gathered[2].cpu())
    return predictions, references, torch.cat(probabilities) if probabilities else torch.empty(0, 0)
