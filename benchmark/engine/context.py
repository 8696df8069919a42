"""The services every group of a run shares: the accelerator, the run's frozen settings, caches and the stop flag."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from accelerate import Accelerator

from benchmark.data.collate import make_collator, model_inputs
from benchmark.data.loading import TaskData, cap_task_data, load_encoded
from benchmark.data.preprocessed import PreprocessCache
from benchmark.engine.features import FeatureCache, FrozenFeatures, frozen_features
from benchmark.engine.interruption import StopFlag
from benchmark.engine.settings import RunSettings
from benchmark.engine.speedups import place_model
from benchmark.models.complexity import describe_complexity
from benchmark.models.factory import LoadedModel, ModelError, build_model
from benchmark.specs.adapter_registry import modality_adapter
from benchmark.specs.schema import Init, ModelSpec, TaskSpec

FEATURE_BATCH_SIZE = 64


@dataclass
class RunContext:
    """What every group of a run uses: the accelerator, the settings (`context.settings.training(task)`, ...), the
    feature cache, the stop flag, and what the run loads or computes once (data, FLOP counts, preprocessed inputs,
    the checkpoints its pretraining stages saved)."""

    accelerator: Accelerator
    settings: RunSettings = RunSettings()
    feature_cache: FeatureCache | None = None
    stop_flag: StopFlag | None = None
    encoded_data: dict[str, TaskData] = field(default_factory=dict)
    complexity_cache: dict[tuple, dict] = field(default_factory=dict)
    preprocessed: PreprocessCache = field(default_factory=PreprocessCache)  # image and audio inputs, once per split
    # model id -> {pretraining seed: the checkpoint folder that run saved}, or why the stage failed
    pretrained_checkpoints: dict[str, dict[int, Path] | str] = field(default_factory=dict)

    def encoded(self, task: TaskSpec) -> TaskData:
        """A task's full splits, loaded and label-encoded once per run."""
        if task.task not in self.encoded_data:
            self.encoded_data[task.task] = load_encoded(task, self.settings.assets_dir)
        return self.encoded_data[task.task]

    def task_data(self, task: TaskSpec, seed: int) -> TaskData:
        """A task's splits for a seed, under the caps in effect for it."""
        return cap_task_data(self.encoded(task), seed, self.settings.caps(task))

    def resolve(self, model: ModelSpec, seed: int | None = None) -> ModelSpec:
        """The spec to build pretrained: a model with a finished pretraining stage points at the checkpoint its
        run for `seed` saved (pretraining seed `pretrain.seed_for(seed)`; None: its first seed). Its scratch twin
        is built from the base checkpoint's config, the same architecture."""
        saved = self.pretrained_checkpoints.get(model.id)
        if isinstance(saved, str):
            raise ModelError(f"model {model.id!r}: {saved}")
        if saved is None or model.pretrain is None:
            return model
        wanted = model.pretrain.seed_for(seed) if seed is not None else min(saved)
        if wanted not in saved:
            raise ModelError(f"model {model.id!r}: pretraining seed {wanted} (for seed {seed}) did not run")
        return model.model_copy(update={"checkpoint": str(saved[wanted])})

    def depends_on_seed(self, model: ModelSpec, init: Init) -> bool:
        """Whether the model built for another seed is another network: scratch twins, and checkpoints pretrained
        here with several seeds."""
        return init == "scratch" or (model.pretrain is not None and len(model.pretrain.seeds) > 1)

    def build(self, model: ModelSpec, init: Init, task: TaskSpec, num_labels: int, seed: int) -> LoadedModel:
        """A model variant for a task on the run's device (channels-last for convolutional nets); audio models
        are told the task's clip length (Whisper encoders cut their positional table to it)."""
        clip_seconds = modality_adapter(task.modality).clip_seconds(task)
        loaded = build_model(
            self.resolve(model, seed) if init == "pretrained" else model,
            init,
            num_labels,
            seed,
            self.settings.assets_dir,
            self.settings.trust_remote_code,
            clip_seconds=clip_seconds,
        )
        place_model(loaded.network, self.accelerator.device)
        return loaded

    def features(
        self, task: TaskSpec, model: ModelSpec, init: Init, seed: int, loaded: LoadedModel, data: TaskData
    ) -> tuple[FrozenFeatures, int]:
        """Frozen features of every split of `data` (already `for_model`) in `loaded`, through the cache."""
        identity = feature_identity(task, init, seed, loaded)
        collate = make_collator(task, loaded.processor)
        description = f"features {model.id} {task.task}"
        return frozen_features(
            self.accelerator,
            self.feature_cache,
            loaded.network,
            data,
            collate,
            FEATURE_BATCH_SIZE,
            identity,
            description,
        )

    def complexity(self, model: ModelSpec, task: TaskSpec, loaded: LoadedModel, data: TaskData) -> dict:
        """Parameters and forward FLOPs of one example at the task's input size (text padded to max_length).

        Both depend only on the architecture, its head and the input size, so they are counted once per
        (model, task) and shared by the pair's seeds, protocols and scratch twin.
        """
        key = (model.id, task.task)
        if key not in self.complexity_cache:
            example = make_collator(task, loaded.processor, pad_to_max=True)([data.test[0]])
            inputs = model_inputs(example)
            self.complexity_cache[key] = describe_complexity(
                loaded.network.network,
                inputs["pixel_values"] if "pixel_values" in inputs else inputs,
                self.accelerator.device,
            )
        return dict(self.complexity_cache[key])


def feature_identity(task: TaskSpec, init: Init, seed: int, loaded: LoadedModel) -> dict:
    """What determines a split's frozen features besides its examples: the cache key's parts, shared by the
    suite's probes and `recommend` so that each reuses the other's features."""
    return {
        "checkpoint": loaded.checkpoint,
        "revision": loaded.revision,
        "init": init,
        "init_seed": seed if init == "scratch" else None,
        "dataset": task.dataset.model_dump(),
        "preprocessing": task.preprocessing.model_dump(),
    }


def for_model(data: TaskData, task: TaskSpec, loaded: LoadedModel) -> TaskData:
    """A task's data as a model reads it (audio decoded at the model's sampling rate: the modality adapter says)."""
    return modality_adapter(task.modality).for_model(data, task, loaded.processor)
