"""A run's settings, frozen: the suite's and the command line's layers over each task's, and the run-wide options.

Every per-task setting (training, sample caps, grids, search rules) is resolved by `benchmark.specs.layers.layered`
with one precedence, command line > suite > task > defaults; a `Layer` says what one of them sets, per kind of
setting. `RunSettings` holds the run's layers and answers for a task: `training`, `caps`, `grid`, `search_rules`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from benchmark.data.loading import NO_CAPS, SplitCaps
from benchmark.engine.search import default_grid
from benchmark.specs.layers import layered
from benchmark.specs.registry import ResolvedSuite
from benchmark.specs.schema import GridSpec, Init, ModelSpec, Protocol, SearchSpec, TaskSpec, TrainingSpec

DEFAULT_TRAINING = TrainingSpec(
    epochs=3,
    batch_size=32,
    probe_epochs=30,
    warmup_ratio=0.1,
    gradient_accumulation_steps=1,
    evals_per_epoch=2,
)
SEARCH_RULES = ("halving_rate", "selection", "noise_z", "noise_cap", "max_extensions")
DEFAULT_RULES = SearchSpec().model_dump(include=set(SEARCH_RULES))


def grid_name(protocol: Protocol, init: Init) -> str:
    """The `SearchSpec` field that holds a group's grid."""
    return "linear_probe" if protocol == "linear_probe" else "finetune_scratch" if init == "scratch" else "finetune"


@dataclass(frozen=True)
class Layer:
    """What one layer of settings sets: a task file, a suite or the command line. A training field, cap, grid or
    pinned learning rate left None, or a search rule the layer's `search` block does not name, is left to the
    layers below."""

    training: TrainingSpec = TrainingSpec()
    caps: SplitCaps = SplitCaps()
    search: SearchSpec | None = None
    learning_rate: float | None = None  # replaces the learning rates of every fine-tune grid below
    probe_learning_rate: float | None = None  # likewise for probe grids

    @classmethod
    def of_task(cls, task: TaskSpec) -> Layer:
        return cls(training=task.training, caps=SplitCaps.of_task(task), search=task.search)

    @classmethod
    def of_suite(cls, suite: ResolvedSuite) -> Layer:
        spec = suite.spec
        caps = SplitCaps(spec.max_train_samples, spec.max_validation_samples, spec.max_eval_samples)
        return cls(training=suite.training, caps=caps, search=spec.search)

    def training_values(self) -> dict[str, Any]:
        """The training fields this layer sets; `epochs` alone sets the scratch twins' budget too."""
        values = {name: value for name, value in self.training.model_dump().items() if value is not None}
        if "epochs" in values and "scratch_epochs" not in values:
            values["scratch_epochs"] = None
        return values

    def cap_values(self) -> dict[str, int]:
        return self.caps.values()

    def grid_values(self, protocol: Protocol, init: Init) -> dict[str, Any]:
        """A grid this layer sets, every field of it (a grid is replaced whole), then its pinned learning rate."""
        grid = getattr(self.search, grid_name(protocol, init)) if self.search is not None else None
        values = grid.model_dump() if grid is not None else {}
        pinned = self.probe_learning_rate if protocol == "linear_probe" else self.learning_rate
        if pinned is not None:
            values["learning_rate"] = [pinned]
        return values

    def rule_values(self) -> dict[str, Any]:
        """The search rules this layer's `search` block names."""
        if self.search is None:
            return {}
        return {name: getattr(self.search, name) for name in SEARCH_RULES if name in self.search.model_fields_set}


NO_LAYER = Layer()


@dataclass(frozen=True)
class RunSettings:
    """Everything a run decides before it starts, and the per-task settings resolved from its layers."""

    suite: Layer = NO_LAYER
    command_line: Layer = NO_LAYER
    assets_dir: Path | None = None  # offline assets, substituted for {assets} in specs
    work_dir: Path | None = None  # checkpoints and search states of unfinished groups
    trust_remote_code: bool = False
    num_workers: int = 0
    compile: bool = False
    checkpoint_interval_s: float = 60.0
    log_samples: bool = False  # --log-samples: keep each test example's class probabilities for its sample file
    score_weights: Mapping[str, Any] = field(default_factory=dict)
    # (absolute folder, public name) pairs that paths in written results are shown relative to
    publication_roots: tuple[tuple[str, str], ...] = ()

    def _layered(self, task: TaskSpec, defaults: Mapping[str, Any], values: Callable[[Layer], Mapping]) -> dict:
        return layered(
            defaults,
            task=values(Layer.of_task(task)),
            suite=values(self.suite),
            command_line=values(self.command_line),
        )

    def training(self, task: TaskSpec, init: Init = "pretrained") -> TrainingSpec:
        """The training settings of `task` for `init`: for a scratch twin, `scratch_epochs` (when set) is its
        `epochs`. The result has no `scratch_epochs`: it is the budget this init trains with."""
        merged = self._layered(task, DEFAULT_TRAINING.model_dump(), Layer.training_values)
        scratch_epochs = merged.pop("scratch_epochs")
        if init == "scratch" and scratch_epochs is not None:
            merged["epochs"] = scratch_epochs
        return TrainingSpec(**merged)

    def caps(self, task: TaskSpec) -> SplitCaps:
        """The sample caps in effect for `task`, per split."""
        return SplitCaps(**self._layered(task, NO_CAPS, Layer.cap_values))

    def grid(self, model: ModelSpec, init: Init, task: TaskSpec, protocol: Protocol) -> GridSpec:
        """The hyper-parameter grid of a group; the library's default where no layer sets one."""
        defaults = default_grid(model.library, init, protocol).model_dump()
        return GridSpec(**self._layered(task, defaults, lambda layer: layer.grid_values(protocol, init)))

    def search_rules(self, task: TaskSpec) -> SearchSpec:
        """The search rules of `task`'s searches (grids left unset: `grid` has them)."""
        return SearchSpec(**self._layered(task, DEFAULT_RULES, Layer.rule_values))

    def pretraining_caps(self, source: TaskSpec, stage: SplitCaps) -> SplitCaps:
        """The caps of a pretraining stage on `source`: the stage's own (its block's train cap, one test example,
        which keeps the split structure without decoding more) over the run's validation caps (the run's train
        and test caps are the targets') over the source task's."""
        validation = SplitCaps(validation=self.command_line.caps.validation)
        top = SplitCaps(**layered(validation.values(), command_line=stage.values()))
        stage_settings = replace(
            self,
            suite=Layer(caps=SplitCaps(validation=self.suite.caps.validation)),
            command_line=Layer(caps=top),
        )
        return stage_settings.caps(source)
