"""A modality and a library that the suite does not ship, added as one module: the proof that adding either is a
module plus its registration (the two `register` calls at the bottom), with no edit anywhere else.

- modality `vector`: each example is a list of floats; the collator stacks them as `vector`.
- library `torch_mlp`: a one-hidden-layer MLP whose checkpoint name is its input width ("4"); its "pretrained"
  weights are those of a fixed seed, its scratch twin's those of the run's seed.
"""

from __future__ import annotations

from typing import Any

import datasets
import torch
from torch import nn

from benchmark.adapters.base import Collate, LibraryAdapter, ModalityAdapter
from benchmark.checks.facts import CheckpointFacts, FieldProblem
from benchmark.data.batch import LABEL
from benchmark.models.wrappers import TransferModel
from benchmark.specs.adapter_registry import LIBRARIES, MODALITIES
from benchmark.specs.schema import GridSpec, Init, ModelSpec, TaskSpec

HIDDEN = 16
PRETRAINED_SEED = 1234


class VectorCollator:
    """Rows of float lists -> a `vector` tensor and the labels."""

    def __init__(self, column: str):
        self.column = column

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        vectors = torch.tensor([row[self.column] for row in rows], dtype=torch.float32)
        return {"vector": vectors, LABEL: torch.tensor([row[LABEL] for row in rows], dtype=torch.long)}


class VectorModality(ModalityAdapter):
    name = "vector"
    input_needs = "a vector task needs a column of float lists"

    def collator(self, task: TaskSpec, processor: Any, pad_to_max: bool = False) -> Collate:
        return VectorCollator(task.dataset.input_column)

    def input_type_ok(self, feature: Any) -> bool:
        return isinstance(feature, datasets.Sequence | datasets.List)


class MLP(nn.Module):
    def __init__(self, width: int, num_labels: int):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(width, HIDDEN), nn.ReLU())
        self.head = nn.Linear(HIDDEN, num_labels)

    def forward(self, vector: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(vector))


class MLPTransferModel(TransferModel):
    def __init__(self, network: MLP):
        super().__init__()
        self.network = network
        self.source_classifier = None

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.network(**inputs)

    def features(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.network.body(inputs["vector"])


class TorchMLPLibrary(LibraryAdapter):
    name = "torch_mlp"
    cli_form = "mlp:<width>"
    folder_marker = "an MLP `width`"
    default_grids = {"pretrained": GridSpec(learning_rate=[0.01]), "scratch": GridSpec(learning_rate=[0.03])}

    def build(
        self,
        spec: ModelSpec,
        checkpoint: str,
        init: Init,
        num_labels: int,
        trust_remote_code: bool,
        clip_seconds: float | None,
    ) -> tuple[TransferModel, Any]:
        if init == "scratch":
            return MLPTransferModel(MLP(int(checkpoint), num_labels)), None
        with torch.random.fork_rng():
            torch.manual_seed(PRETRAINED_SEED)
            return MLPTransferModel(MLP(int(checkpoint), num_labels)), None

    def inspect_checkpoint(self, checkpoint: str, revision: str | None, modality: str) -> CheckpointFacts:
        if not checkpoint.isdigit():
            raise FieldProblem("checkpoint", f"{checkpoint!r} is not an input width")
        return CheckpointFacts(f"MLP of input width {checkpoint}")


VECTOR = MODALITIES.register(VectorModality())
TORCH_MLP = LIBRARIES.register(TorchMLPLibrary())
