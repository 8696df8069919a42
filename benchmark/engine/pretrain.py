"""The pretraining stage (L_pre): models whose spec has a `pretrain` block are first trained on a source task.

Each such model is trained on its source task's train split (validation read for the curve only; the test split
never), with one fixed configuration, once per pretraining seed (`pretrain.seeds`), and each run is saved as a
standard checkpoint folder: timm's `save_for_hf`
layout (`config.json` + `model.safetensors`, loaded as `local-dir:`) or transformers' `save_pretrained` with the
tokenizer or feature extractor. From then on the folder is the model's checkpoint: the factory builds it like
any other, its source classifier (over the source task's classes) feeds LEEP and NCE, and the source task is its
declared pretraining data for source-to-target similarity.

The fine-tune (and probe) of seed k starts from the run of pretraining seed `pretrain.seed_for(k)` (seed k
itself when the seeds are 0..n-1), so a gain's spread over seeds includes the pretraining run's. Each run is
cached under `<output>/.pretrained/<model>-s<seed>-<key>/`, where the key hashes everything that determines it
(base checkpoint, the `pretrain` block without its seed list, the source task's spec, and the run's seed), and
resumable: the run checkpoints into `state/` like a fine-tune, and the folder counts as finished only once
`pretrain.json` is written, after the checkpoint. A stage that fails is recorded, and only that model's groups fail.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from accelerate.utils import broadcast_object_list
from pydantic import BaseModel, ConfigDict
from tqdm.auto import tqdm

from benchmark.data.collate import make_collator
from benchmark.data.loading import SplitCaps, cap_task_data
from benchmark.engine.context import RunContext, for_model
from benchmark.engine.loop import TrainConfig, train_and_evaluate
from benchmark.engine.records import convergence
from benchmark.engine.shared_output import SharedOutput, read_claim
from benchmark.metrics.compute import metric_fn
from benchmark.models.factory import LoadedModel
from benchmark.specs.adapter_registry import library_adapter
from benchmark.specs.schema import ModelSpec, TaskSpec
from benchmark.utils.atomic import atomic_write_text
from benchmark.utils.naming import safe_component

PRETRAINED_DIRNAME = ".pretrained"
RECORD_FILE = "pretrain.json"
CHECKPOINT_DIRNAME = "checkpoint"
STATE_DIRNAME = "state"
WAIT_POLL_S = 5.0


class PretrainRecord(BaseModel):
    """What one pretraining run did: written beside its checkpoint, and the mark that the stage finished."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())
    model: str
    base_checkpoint: str
    source_task: str
    init: str
    learning_rate: float
    weight_decay: float
    batch_size: int
    optimizer_steps: int
    train_examples: int
    validation_metrics: dict[str, float]
    main_metric: str
    curve: list[dict]
    train_wall_s: float
    key: str
    seed: int = 0
    flattened: bool | None = None  # the validation curve's last quarter improved on the rest by at most the
    # records' tolerance (None: too few points to tell); a stage that had not flattened is marked, not hidden


@dataclass(frozen=True)
class Pretrained:
    """A finished pretraining stage: the checkpoint folder it saved and its record."""

    checkpoint: Path
    record: PretrainRecord


def pretrain_key(model: ModelSpec, source: TaskSpec, seed: int | None = None) -> str:
    """A short hash of everything that determines a run's result (not the model's id or notes): with a seed, that
    seed's run (the seed list left out, so adding a seed keeps the other runs); without, the whole stage."""
    block = model.pretrain.model_dump() if model.pretrain else None
    if block is not None and seed is not None:
        block = {**{k: v for k, v in block.items() if k != "seeds"}, "seed": seed}
    identity = {
        "library": model.library,
        "checkpoint": model.checkpoint,
        "revision": model.revision,
        "modality": model.modality,
        "pretrain": block,
        "source": source.model_dump(),
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:12]


def stage_dir(root: Path, model: ModelSpec, source: TaskSpec, seed: int = 0) -> Path:
    """The folder of one pretraining run (one seed) of the model."""
    return root / f"{safe_component(model.id)}-s{seed}-{pretrain_key(model, source, seed)}"


def seeds_to_run(model: ModelSpec, finetune_seeds: list[int] | None) -> list[int]:
    """The pretraining seeds the given fine-tune seeds start from (all of the model's when None), sorted."""
    spec = model.pretrain
    assert spec is not None
    if finetune_seeds is None:
        return sorted(spec.seeds)
    return sorted({spec.seed_for(seed) for seed in finetune_seeds})


def read_finished(directory: Path) -> Pretrained | None:
    """The stage saved in `directory`, or None when it has not finished there."""
    record_path = directory / RECORD_FILE
    if not record_path.exists() or not (directory / CHECKPOINT_DIRNAME).is_dir():
        return None
    record = PretrainRecord.model_validate_json(record_path.read_text(encoding="utf-8"))
    return Pretrained(directory / CHECKPOINT_DIRNAME, record)


def run_pretraining(
    models: list[ModelSpec],
    sources: dict[str, TaskSpec],
    context: RunContext,
    root: Path,
    shared: SharedOutput | None = None,
    finetune_seeds: list[int] | None = None,
) -> dict[str, dict[int, Pretrained] | str]:
    """Run (or read from the cache) the stage of every model with a `pretrain` block: one run per pretraining
    seed that `finetune_seeds` start from (every seed of the block when None).

    Shards sharing the output folder claim each run as they claim groups: one trains it, the others wait for
    its checkpoint. Returns {model id: {pretraining seed: Pretrained}, or the error message of a run that failed}.
    """
    wanted = [(m, seed) for m in models if m.pretrain is not None for seed in seeds_to_run(m, finetune_seeds)]
    done: dict[str, dict[int, Pretrained] | str] = {}
    main = context.accelerator.is_main_process
    for model, seed in tqdm(wanted, desc="pretraining", disable=not main or not wanted):
        if context.stop_flag is not None:
            context.stop_flag.raise_if_set()
        if isinstance(done.get(model.id), str):
            continue  # an earlier seed failed: the model's groups fail anyway
        directory = stage_dir(root, model, sources[model.id], seed)
        try:
            run = _finished_or_run(model, sources[model.id], context, directory, shared, seed)
            done.setdefault(model.id, {})[seed] = run  # type: ignore[index]
        except Exception as error:  # one stage failing fails only its model's groups (a stop is a BaseException)
            source = sources[model.id].task
            done[model.id] = f"pretraining on {source!r} (seed {seed}) failed: {type(error).__name__}: {error}"
            if main:
                tqdm.write(f"  failed  pretraining of {model.id}: {done[model.id]}")
    return done


def _finished_or_run(
    model: ModelSpec, source: TaskSpec, context: RunContext, directory: Path, shared: SharedOutput | None, seed: int
) -> Pretrained:
    """The cached stage, else this shard's run of it; while another shard holds its claim, wait for that run."""
    accelerator = context.accelerator
    while (finished := read_finished(directory)) is None:
        claim = shared.try_claim(directory) if shared is not None and accelerator.is_main_process else None
        ours = [shared is None or claim is not None]
        if accelerator.num_processes > 1:
            ours = broadcast_object_list(ours)
        if ours[0]:
            try:
                return read_finished(directory) or _pretrain(model, source, context, directory, seed)
            finally:
                if claim is not None:
                    claim.release()
        if accelerator.is_main_process:
            tqdm.write(f"pretraining of {model.id}: running in another shard; waiting for its checkpoint")
            while read_claim(directory) is not None and read_finished(directory) is None:
                if context.stop_flag is not None:
                    context.stop_flag.raise_if_set()
                time.sleep(WAIT_POLL_S)
        accelerator.wait_for_everyone()
    return finished


def _pretrain(model: ModelSpec, source: TaskSpec, context: RunContext, directory: Path, seed: int) -> Pretrained:
    """Train the model on its source task with one seed, save the checkpoint, then the record (which marks the
    run done)."""
    spec = model.pretrain
    assert spec is not None
    encoded = context.encoded(source)
    # The stage never reads the source's test split: one example keeps the split structure without decoding more.
    caps = context.settings.pretraining_caps(source, SplitCaps(train=spec.max_train_samples, test=1))
    raw = cap_task_data(encoded, seed, caps)
    loaded = context.build(model, spec.init, source, raw.num_labels, seed)
    loaded.network.source_classifier = None  # the base's own source head is not trained here
    data = for_model(raw, source, loaded)
    training = context.settings.training(source)
    config = TrainConfig(
        epochs=spec.epochs or 1.0,
        max_steps=spec.max_steps,
        batch_size=spec.batch_size,
        learning_rate=spec.learning_rate,
        weight_decay=spec.weight_decay,
        warmup_ratio=training.warmup_ratio,
        evals_per_epoch=training.evals_per_epoch,
        seed=seed,
        checkpoint_dir=directory / STATE_DIRNAME,
        checkpoint_interval_s=context.settings.checkpoint_interval_s,
        compile=context.settings.compile,
    )
    started = time.perf_counter()
    outcome = train_and_evaluate(
        context.accelerator,
        loaded.network,
        data.train,
        data.validation,
        make_collator(source, loaded.processor),
        config,
        metric_fn(source.metrics),
        source.main_metric,
        description=f"pretrain {model.id} on {source.task}",
        stop_flag=context.stop_flag,
    )
    record = PretrainRecord(
        model=model.id,
        base_checkpoint=model.checkpoint,
        source_task=source.task,
        init=spec.init,
        learning_rate=spec.learning_rate,
        weight_decay=spec.weight_decay,
        batch_size=spec.batch_size,
        optimizer_steps=outcome.optimizer_steps,
        train_examples=len(data.train),
        validation_metrics=outcome.metrics,
        main_metric=source.main_metric,
        curve=[dict(point) for point in outcome.curve],
        train_wall_s=time.perf_counter() - started,
        key=directory.name,
        seed=seed,
        flattened=convergence([dict(p) for p in outcome.curve], len(data.validation)).flattened,
    )
    if context.accelerator.is_main_process:
        _save_checkpoint(model, loaded, directory / CHECKPOINT_DIRNAME)
        atomic_write_text(directory / RECORD_FILE, record.model_dump_json(indent=2))
        shutil.rmtree(directory / STATE_DIRNAME, ignore_errors=True)
    context.accelerator.wait_for_everyone()
    return Pretrained(directory / CHECKPOINT_DIRNAME, record)


def _save_checkpoint(model: ModelSpec, loaded: LoadedModel, target: Path) -> None:
    """Save the trained network in its library's standard folder layout, swapped into place whole."""
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    library_adapter(model.library).save(loaded.network.network, loaded.processor, staging)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
