"""Frozen features: one backbone pass per example, cached on disk, shared by every frozen-feature analysis.

The linear probe, the transferability estimators and the task embeddings all read the same pooled features
(and, where the checkpoint keeps its source classifier, the source-class probabilities computed in that same
pass). The cache key covers everything that determines the features, so a rerun or a second analysis of the
same cell reads the file instead of running the backbone again.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from benchmark.data.collate import model_inputs
from benchmark.data.loading import LABEL, SPLITS, TaskData
from benchmark.engine.environment import FEATURE_LIBRARIES, versions_of
from benchmark.models.factory import TransferModel
from benchmark.utils.atomic import atomic_write


@dataclass(frozen=True)
class SplitFeatures:
    """Pooled features of one split, its labels and (optionally) source-classifier probabilities."""

    features: np.ndarray
    labels: np.ndarray
    source_probs: np.ndarray | None = None


@dataclass(frozen=True)
class FrozenFeatures:
    """The features of a task's three splits in one backbone."""

    train: SplitFeatures
    validation: SplitFeatures
    test: SplitFeatures


def feature_cache_key(**parts) -> str:
    """A stable hash of everything that determines a split's features, including the versions of the libraries
    that compute them (kernels, model code, preprocessing and decoding change between releases), so upgrading
    one recomputes the features instead of mixing old ones into new results."""
    text = json.dumps({**parts, "libraries": feature_library_versions()}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@functools.lru_cache(maxsize=1)
def feature_library_versions() -> dict[str, str]:
    """The installed versions of `FEATURE_LIBRARIES` (read once per process)."""
    return versions_of(FEATURE_LIBRARIES)


class FeatureCache:
    """Feature arrays on disk, one `.npz` per key, written atomically by the main process."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, key: str) -> Path:
        return self.root / f"{key}.npz"

    def load(self, key: str) -> SplitFeatures | None:
        path = self.path(key)
        if not path.exists():
            return None
        with np.load(path) as stored:
            probs = stored["source_probs"] if "source_probs" in stored else None
            return SplitFeatures(stored["features"], stored["labels"], probs)

    def save(self, key: str, split: SplitFeatures) -> None:
        arrays = {"features": split.features, "labels": split.labels}
        if split.source_probs is not None:
            arrays["source_probs"] = split.source_probs
        atomic_write(self.path(key), lambda handle: np.savez(handle, **arrays))


def extract_split(
    accelerator: Accelerator, model: TransferModel, dataset, collate_fn, batch_size: int, description: str
) -> SplitFeatures:
    """One inference pass over a split: pooled features (and source probabilities), gathered in order."""
    loader = accelerator.prepare(DataLoader(dataset, batch_size=batch_size, collate_fn=collate_fn))
    model = model.to(accelerator.device).eval()
    features, labels, probs = [], [], []
    with torch.inference_mode(), accelerator.autocast():
        for batch in tqdm(loader, desc=description, disable=not accelerator.is_local_main_process, leave=False):
            pooled = model.features(model_inputs(batch))
            outputs = [pooled.float(), batch[LABEL]]
            if model.source_classifier is not None:
                outputs.append(model.source_classifier(pooled).float().softmax(dim=-1))
            gathered = accelerator.gather_for_metrics(tuple(outputs))
            features.append(gathered[0].cpu())
            labels.append(gathered[1].cpu())
            if len(gathered) == 3:
                probs.append(gathered[2].cpu())
    return SplitFeatures(
        features=torch.cat(features).numpy(),
        labels=torch.cat(labels).numpy(),
        source_probs=torch.cat(probs).numpy() if probs else None,
    )


def cached_split(accelerator: Accelerator, cache: FeatureCache | None, key: str, compute) -> tuple[SplitFeatures, bool]:
    """The cached features under `key`, or `compute()` stored there; also says whether the cache was hit."""
    if cache is not None and (hit := cache.load(key)) is not None:
        return hit, True
    split = compute()
    if cache is not None and accelerator.is_main_process:
        cache.save(key, split)
    accelerator.wait_for_everyone()
    return split, False


def frozen_features(
    accelerator: Accelerator,
    cache: FeatureCache | None,
    network: TransferModel,
    data: TaskData,
    collate_fn,
    batch_size: int,
    identity: dict,
    description: str,
) -> tuple[FrozenFeatures, int]:
    """The features of every split of `data` in `network`, from the cache where they were computed before, and
    how many splits came from the cache. `identity` names what determines the features besides the examples
    (checkpoint, revision, init and its seed, dataset and preprocessing specs); each split's fingerprint is added.
    """
    splits, hits = {}, 0
    for name in SPLITS:
        dataset = data.split(name)
        key = feature_cache_key(**identity, split=name, fingerprint=data.split_fingerprint(name))
        splits[name], hit = cached_split(
            accelerator,
            cache,
            key,
            lambda ds=dataset, n=name: extract_split(
                accelerator, network, ds, collate_fn, batch_size, f"{description} {n}"
            ),
        )
        hits += int(hit)
    return FrozenFeatures(**splits), hits
