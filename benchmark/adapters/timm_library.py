"""timm: image classifiers through `timm.create_model` (a local folder read as `local-dir:<path>`), with the image
transform from the model's resolved data config.

A pretrained checkpoint keeps its source classifier aside, so LEEP and NCE can use its source-class predictions, and
gets a new head with the task's class count; `scratch` builds the same architecture with random weights. Trained
networks are saved with `timm.models.save_for_hf`. The deep check resolves a name against the installed timm's
pretrained configs, or reads a folder's (or hub repository's) config.json.
"""

from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path
from typing import Any

import timm
import timm.data
import timm.models
import torch

from benchmark.adapters.base import LibraryAdapter
from benchmark.adapters.vision import VISION
from benchmark.checks.facts import TIMM_WEIGHT_PATTERNS, CheckpointFacts, FieldProblem, looks_local, one_line
from benchmark.models.wrappers import TimmTransferModel, TransferModel
from benchmark.specs.adapter_registry import LIBRARIES
from benchmark.specs.adhoc import FLAG, derive_id
from benchmark.specs.registry import SpecError
from benchmark.specs.schema import GridSpec, Init, ModelSpec
from benchmark.utils.naming import suggest

HUB_PREFIXES = ("hf-hub:", "hf_hub:")
TAGGED_NAME = re.compile(r"^[a-z0-9_]+\.[\w]+$")  # architecture.pretrained_tag


class TimmLibrary(LibraryAdapter):
    """timm image models (vision only)."""

    name = "timm"
    cli_form = "timm:<name>"
    folder_marker = "a timm `architecture`"
    # AdamW rates around conv nets' usual fine-tuning rate (a decade above transformers', as SFDA's grid for them),
    # higher again from scratch, and decoupled weight decay at two strengths.
    default_grids = {
        "pretrained": GridSpec(learning_rate=[1e-4, 3e-4, 1e-3, 3e-3], weight_decay=[0.01, 0.1]),
        "scratch": GridSpec(learning_rate=[3e-4, 1e-3, 3e-3, 1e-2], weight_decay=[0.01, 0.1]),
    }

    def build(
        self,
        spec: ModelSpec,
        checkpoint: str,
        init: Init,
        num_labels: int,
        trust_remote_code: bool,
        clip_seconds: float | None,
    ) -> tuple[TransferModel, Any]:
        name = f"local-dir:{checkpoint}" if os.path.isdir(checkpoint) else checkpoint
        if init == "scratch":
            network = timm.create_model(name, pretrained=False, num_classes=num_labels)
            source_classifier = None
        else:
            network = timm.create_model(name, pretrained=True)
            source_classifier = copy.deepcopy(network.get_classifier()) if network.num_classes > 0 else None
            network.reset_classifier(num_labels)
        return TimmTransferModel(network, source_classifier), timm.data.resolve_data_config(model=network)

    def save(self, network: Any, processor: Any, target: Path) -> None:
        network.to(memory_format=torch.contiguous_format)  # safetensors stores contiguous tensors only
        timm.models.save_for_hf(network, str(target), safe_serialization=True)

    def hub_repo(self, checkpoint: str) -> str | None:
        """`hf-hub:org/name` names its repository; a timm name is looked up in its pretrained config
        (`resnet18.a1_in1k` lives in `timm/resnet18.a1_in1k`)."""
        for prefix in HUB_PREFIXES:
            if checkpoint.startswith(prefix):
                return checkpoint.removeprefix(prefix).split("@")[0]
        try:
            config = timm.models.get_pretrained_cfg(checkpoint)
        except Exception:  # an unknown name or an older timm: no hub id to report
            return None
        return getattr(config, "hf_hub_id", None) if config is not None else None

    def repo_by_convention(self, name: str) -> str | None:
        """A tagged timm name (`resnet50.a1_in1k`) lives in `timm/<name>`; an untagged one names no weights."""
        return f"timm/{name}" if TAGGED_NAME.match(name) else None

    def inspect_checkpoint(self, checkpoint: str, revision: str | None, modality: str) -> CheckpointFacts:
        """A timm registry name with pretrained weights, or a local timm folder (config.json + weights)."""
        if looks_local(checkpoint):
            return _timm_folder(Path(checkpoint).expanduser())
        if checkpoint.startswith(HUB_PREFIXES):
            return _timm_hub_repo(checkpoint.split(":", 1)[1])
        if "/" in checkpoint:
            raise FieldProblem("checkpoint", f"{checkpoint!r} is neither a timm model name nor an existing folder")
        return _timm_name(checkpoint)

    def hub_model(self, value: str, model_id: str | None, name: str, options: dict) -> ModelSpec:
        hub_id = name
        for prefix in HUB_PREFIXES:
            hub_id = hub_id.removeprefix(prefix)
        if hub_id == name and not timm.is_model(name):
            raise SpecError([f"{FLAG} {value!r}: timm has no model {name!r}{suggest(name, timm.list_models())}"])
        return ModelSpec(id=model_id or derive_id(hub_id), library=self.name, checkpoint=name, modality=VISION.name)

    def folder_model(self, folder: Path, config: dict, model_id: str) -> ModelSpec | None:
        if "architecture" not in config:
            return None
        return ModelSpec(id=model_id, library=self.name, checkpoint=str(folder), modality=VISION.name)


def _timm_name(checkpoint: str) -> CheckpointFacts:
    architecture = checkpoint.split(".", 1)[0]
    if not timm.is_model(architecture):
        raise FieldProblem(
            "checkpoint", f"timm has no model {architecture!r}" + suggest(architecture, timm.list_models())
        )
    try:
        config = timm.models.get_pretrained_cfg(checkpoint)
    except RuntimeError:
        config = None
    if config is None:
        tags = timm.list_pretrained(f"{architecture}.*")
        raise FieldProblem(
            "checkpoint",
            f"timm {timm.__version__} has no pretrained config {checkpoint!r}; {architecture} has {tags[:8]}"
            + suggest(checkpoint, tags),
        )
    if not (config.hf_hub_id or config.url or config.file):
        raise FieldProblem("checkpoint", f"timm's pretrained config {checkpoint!r} names no weights to load")
    size = "x".join(str(s) for s in config.input_size[1:])
    return CheckpointFacts(f"timm {checkpoint} ({config.hf_hub_id or config.url}), {size} px")


def _timm_folder(folder: Path) -> CheckpointFacts:
    if not folder.is_dir():
        raise FieldProblem("checkpoint", f"folder {str(folder)!r} does not exist")
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise FieldProblem("checkpoint", f"{str(folder)!r} has no config.json (a timm folder needs one)")
    try:
        architecture = json.loads(config_file.read_text())["architecture"]
    except (ValueError, KeyError, TypeError):
        raise FieldProblem("checkpoint", f"{str(config_file)!r} does not name a timm 'architecture'") from None
    if not timm.is_model(architecture):
        raise FieldProblem("checkpoint", f"{str(config_file)!r}: timm has no model {architecture!r}")
    if not any(any(folder.glob(pattern)) for pattern in TIMM_WEIGHT_PATTERNS):
        raise FieldProblem("checkpoint", f"{str(folder)!r} has no weights file (.safetensors, .pth or .bin)")
    return CheckpointFacts(f"timm {architecture} from folder {folder}")


def _timm_hub_repo(repo: str) -> CheckpointFacts:
    from huggingface_hub import hf_hub_download

    try:
        architecture = json.loads(Path(hf_hub_download(repo, "config.json")).read_text())["architecture"]
    except Exception as error:
        raise FieldProblem("checkpoint", f"cannot read config.json of hub repo {repo!r}: {one_line(error)}") from None
    if not timm.is_model(architecture):
        raise FieldProblem("checkpoint", f"hub repo {repo!r}: timm has no model {architecture!r}")
    return CheckpointFacts(f"timm {architecture} from hub repo {repo}")


TIMM = LIBRARIES.register(TimmLibrary())
