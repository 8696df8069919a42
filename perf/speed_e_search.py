"""Part e of `perf/speed.py`, the measurement: an 8-configuration fine-tune search by successive halving
(`FinetuneSearch`, the default halving rate) against the same grid trained naively (every configuration to the
whole budget, each run being one full fine-tune), under the rank and the noise selection rules, with the search's
time split over the engine's stages; on synthetic subjects or on the real demo tasks. `perf/speed_e_report.py`
prints it.

Two couplings to the engine live here and nowhere else: `STAGES`, the engine functions the stage clock wraps by
name, and `search_context`, the one place that builds a `RunContext`.
"""

from __future__ import annotations

import contextlib
import gc
import io
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

from accelerate import Accelerator

from benchmark.data.loading import SplitCaps, expand_assets, load_encoded
from benchmark.engine import finetune as finetune_module
from benchmark.engine import loop as loop_module
from benchmark.engine.context import RunContext
from benchmark.engine.finetune import FinetuneSearch
from benchmark.engine.plan import Group
from benchmark.engine.search import (
    DEFAULT_GRIDS,
    NoiseRule,
    best_indices,
    expand_grid,
    paired_standard_error,
    survivors,
)
from benchmark.engine.settings import Layer, RunSettings
from benchmark.specs.registry import load_registry
from benchmark.specs.schema import GridSpec, ModelSpec, SearchSpec, TaskSpec, TrainingSpec
from benchmark.utils.paths import DEFAULT_TASKS_DIR
from perf.speed_common import DemoScale, SearchScale
from testkit.synthetic_tasks import (
    make_bert_model_checkpoint,
    make_noisy_image_task,
    make_timm_model_checkpoint,
    make_word_topic_task,
)

SEARCH_SUITE = "speed"


@dataclass(frozen=True)
class SearchSubject:
    """A model and a task to search a fine-tune grid on."""

    model: ModelSpec
    task: TaskSpec

    @property
    def name(self) -> str:
        return f"{self.model.id} on {self.task.task}"


@dataclass(frozen=True)
class SearchSetting:
    """What every search of a part-e comparison shares: assets, training settings, split caps and seeds."""

    assets_dir: Path
    suite_training: TrainingSpec
    overrides: TrainingSpec = TrainingSpec()
    suite_search: SearchSpec = SearchSpec()
    caps: SplitCaps = SplitCaps()
    seeds: tuple[int, ...] = (0,)


@dataclass(frozen=True)
class RuleRun:
    """One successive-halving search of a comparison under one selection rule (grid extensions off: the full grid
    is the reference)."""

    rule: str  # "rank" or "noise"
    wall_s: float
    chosen: int
    steps: int  # optimizer steps trained per seed, summed over configurations


@dataclass(frozen=True)
class SearchComparison:
    """One subject's successive-halving search against each grid configuration trained to the whole budget.

    Every naive run is one full fine-tune exactly as the suite runs a single-configuration grid (model built
    from its checkpoint, validation curve, test scored once), so their median wall time is the cost of "one full
    fine-tune", measured 8 times in the same minutes as the search.
    """

    name: str
    configs: list[dict[str, float]]
    budgets: list[int]
    rate: int
    search_wall_s: float
    full_wall_s: list[float]  # per configuration, in grid order
    chosen: int  # successive halving's choice
    full_scores: list[float]  # per configuration: mean validation score over seeds after the whole budget
    survivor_score: float  # the chosen configuration's mean validation score at the end of the search
    search_stages: dict[str, float]  # seconds of the search in each stage of `STAGES`
    full_stages: list[dict[str, float]]  # the same for each full fine-tune, in grid order
    rules: dict[str, RuleRun] = field(default_factory=dict)  # the search under each selection rule
    full_correct: list[list[str]] = field(default_factory=list)  # per configuration, per seed

    def rule_regret(self, rule: str) -> float:
        """The full grid's best validation score minus that of the configuration `rule` chose."""
        return self.full_scores[self.grid_chosen] - self.full_scores[self.rules[rule].chosen]

    def rule_within_noise(self, rule: str) -> bool:
        """Whether `rule`'s choice scores, after the whole budget, within the paired validation noise (`noise_z`
        standard errors over seeds and validation examples) of the full grid's best."""
        chosen, best = self.rules[rule].chosen, self.grid_chosen
        error = paired_standard_error(self.full_correct[best], self.full_correct[chosen])
        return self.rule_regret(rule) <= NoiseRule().z * error

    def rule_step_ratio(self, rule: str) -> float:
        return self.rules[rule].steps / self.budgets[-1]

    def rule_ratio(self, rule: str) -> float:
        return self.rules[rule].wall_s / statistics.median(self.full_wall_s)

    @property
    def grid_chosen(self) -> int:
        """The full grid's choice: the best mean validation score, ties to the earlier configuration."""
        return best_indices(dict(enumerate(self.full_scores)), 1)[0]

    @property
    def same(self) -> bool:
        return self.chosen == self.grid_chosen

    @property
    def regret(self) -> float:
        """How much lower the chosen configuration scores after the whole budget than the full grid's best."""
        return self.full_scores[self.grid_chosen] - self.full_scores[self.chosen]

    @property
    def survivor_gap(self) -> float:
        """The survivor's final validation score minus that of the same configuration trained uninterrupted: zero
        when resuming from each rung's checkpoint reproduces the uninterrupted run, as the engine promises."""
        return self.survivor_score - self.full_scores[self.chosen]

    @property
    def ratio(self) -> float:
        """Wall time of the search over that of one full fine-tune."""
        return self.search_wall_s / statistics.median(self.full_wall_s)

    @property
    def overhead_s(self) -> float:
        """The search's wall time beyond `step_ratio` full fine-tunes: the per-run and per-rung costs (builds,
        checkpoints, extra evaluations) that a larger budget would amortise."""
        return self.search_wall_s - self.step_ratio * statistics.median(self.full_wall_s)

    @property
    def step_ratio(self) -> float:
        """Optimizer steps the search trains over those of one full fine-tune (about 2.2 for 8 configurations at rate 3,
        2.5 at rate 2)."""
        return halving_steps(self.budgets, len(self.configs), self.rate) / self.budgets[-1]


# Where a search's time goes besides training steps: each stage is one function of the engine, timed by wrapping
# it for the duration of the measurement (none of them calls another; training is what remains of the wall time).
# This table is the only place that names engine functions. Each (owner, attribute) is where the engine looks the
# function up when it calls it (a class, or the module that imported the function: `loop` imports
# `load_checkpoint` from `interruption` and calls it from there), so a renamed or moved function fails
# tests/perf/test_speed.py, which checks that every pair exists and that a search calls every one (disk checkpoint
# saves aside: they come only every `checkpoint_interval_s` of training), rather than timing nothing. The rung
# states a search keeps in memory (`benchmark.engine.rung_states`) are in no stage: their copies count as training.
STAGES: dict[str, tuple[object, str]] = {
    "model builds": (RunContext, "build"),
    "FLOP count": (RunContext, "complexity"),
    "memory release (gc)": (Accelerator, "free_memory"),
    "checkpoint loads": (loop_module, "load_checkpoint"),
    "checkpoint saves": (loop_module, "save_checkpoint"),
    "validation": (loop_module, "evaluate_model"),
    "test scoring": (finetune_module, "predict_split"),
    "search-state saves": (FinetuneSearch, "_save"),
}
TRAINING_STAGE = "training and the rest"


@contextlib.contextmanager
def stage_clock() -> Iterator[dict[str, float]]:
    """Seconds spent in each of `STAGES` while the block runs (the engine's functions wrapped, then restored)."""
    seconds = dict.fromkeys(STAGES, 0.0)
    with contextlib.ExitStack() as stack:
        for name, (owner, attribute) in STAGES.items():
            clocked = _clocked(getattr(owner, attribute), seconds, name)
            stack.enter_context(mock.patch.object(owner, attribute, clocked))
        yield seconds


def _clocked(function: Callable, seconds: dict[str, float], name: str) -> Callable:
    def clocked(*args, **kwargs):
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            seconds[name] += time.perf_counter() - started

    return clocked


def halving_steps(budgets: list[int], configurations: int, rate: int) -> int:
    """Optimizer steps of a successive-halving search: each rung's survivors train only its new steps."""
    steps, previous, alive = 0, 0, configurations
    for budget in budgets:
        steps += alive * (budget - previous)
        previous, alive = budget, survivors(alive, rate)
    return steps


def search_context(
    accelerator: Accelerator,
    setting: SearchSetting,
    work_dir: Path,
    encoded: dict,
    grid: GridSpec | None = None,
    rule: str = "rank",
) -> RunContext:
    """A fresh run context (its own complexity count and work folder, as a separate run would have) over the
    already loaded datasets in `encoded`; `grid` replaces the suite's fine-tune grid, searched under the selection
    `rule` and never extended (the comparisons measure selection on one fixed grid)."""
    search = setting.suite_search.model_copy(update={"selection": rule, "max_extensions": 0})
    search = search if grid is None else search.model_copy(update={"finetune": grid})
    settings = RunSettings(
        suite=Layer(training=setting.suite_training, caps=setting.caps, search=search),
        command_line=Layer(training=setting.overrides),
        assets_dir=setting.assets_dir,
        work_dir=work_dir,
    )
    return RunContext(accelerator, settings, encoded_data=encoded)


@contextlib.contextmanager
def quiet_libraries() -> Iterator[None]:
    """Progress bars and library warnings (transformers' load reports of every rebuilt model) not printed."""
    from transformers.utils import logging as transformers_logging

    level = transformers_logging.get_verbosity()
    transformers_logging.set_verbosity_error()
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        transformers_logging.set_verbosity(level)


@contextlib.contextmanager
def frozen_garbage() -> Iterator[None]:
    """What `run_suite` does around a run: everything alive now is frozen out of garbage collection, so the
    collection before each (configuration, rung) does not walk every long-lived object."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def timed_search(group: Group, context: RunContext) -> tuple[FinetuneSearch, float, dict[str, float]]:
    """A group's whole search, as `run_finetune_group` runs it, its wall-clock seconds, and their split over
    `STAGES` plus `TRAINING_STAGE`."""
    with stage_clock() as stages:
        started = time.perf_counter()
        search = FinetuneSearch(group, context)
        search.run()
        wall = time.perf_counter() - started
    return search, wall, {**stages, TRAINING_STAGE: wall - sum(stages.values())}


def compare_search(
    subject: SearchSubject, setting: SearchSetting, accelerator: Accelerator, work_dir: Path
) -> SearchComparison:
    """The library's default 8-configuration grid for the subject's model (`DEFAULT_GRIDS`, whatever grid the task
    or suite names: every comparison searches the same 8) by successive halving, between the two halves of the
    naive grid (each configuration trained alone to the whole budget), so drifting load hits both alike."""
    with quiet_libraries():  # loaded once, outside the clocks
        encoded = {subject.task.task: load_encoded(subject.task, setting.assets_dir)}
    task = subject.task.model_copy(update={"search": None})  # the suite's search block (as set below) applies
    group = Group(SEARCH_SUITE, subject.model, "pretrained", task, "finetune", setting.seeds)
    default_grid = DEFAULT_GRIDS[subject.model.library, "pretrained"]
    context = search_context(accelerator, setting, work_dir / "halving", encoded, default_grid)
    configs = expand_grid(default_grid)
    full: dict[int, tuple[float, float, dict[str, float], list[str]]] = {}

    def run_alone(index: int) -> None:
        config = configs[index]
        grid = GridSpec(learning_rate=[config["learning_rate"]], weight_decay=[config["weight_decay"]])
        alone, wall, stages = timed_search(
            group, search_context(accelerator, setting, work_dir / f"alone{index}", encoded, grid)
        )
        correct = [alone.state.correct[0][0][j] for j in range(len(setting.seeds))]
        full[index] = (alone.state.mean(0, 0), wall, stages, correct)

    half = len(configs) // 2
    with quiet_libraries(), frozen_garbage():
        for index in range(half):
            run_alone(index)
        halving, search_wall, search_stages = timed_search(group, context)
        noise_context = search_context(accelerator, setting, work_dir / "noise", encoded, default_grid, "noise")
        noise, noise_wall, _ = timed_search(group, noise_context)
        for index in range(half, len(configs)):
            run_alone(index)
    last = len(halving.state.budgets) - 1
    chosen = halving.state.chosen(halving.rate)
    rules = {
        "rank": RuleRun("rank", search_wall, chosen, trained_steps(halving)),
        "noise": RuleRun("noise", noise_wall, noise.state.chosen(noise.rate, noise.noise), trained_steps(noise)),
    }
    return SearchComparison(
        name=subject.name,
        configs=configs,
        budgets=halving.state.budgets,
        rate=halving.rate,
        search_wall_s=search_wall,
        full_wall_s=[full[i][1] for i in range(len(configs))],
        chosen=chosen,
        full_scores=[full[i][0] for i in range(len(configs))],
        survivor_score=halving.state.mean(chosen, last),
        search_stages=search_stages,
        full_stages=[full[i][2] for i in range(len(configs))],
        rules=rules,
        full_correct=[full[i][3] for i in range(len(configs))],
    )


def trained_steps(search: FinetuneSearch) -> int:
    """Optimizer steps a finished search trained per seed: each configuration to the budget of the last rung it
    reached (survivors continue from their rung's state, so that is all they trained)."""
    budgets = search.state.budgets
    return sum(budgets[max(rungs)] for rungs in search.state.scores.values() if rungs)


def synthetic_subjects(scale: SearchScale, root: Path) -> list[SearchSubject]:
    """The random-weight models and noisy many-class tasks of `scale`, written under `root`."""
    subjects = []
    splits = (scale.classes, scale.train_per_class, scale.test_per_class)
    if "images" in scale.subjects:
        model = make_timm_model_checkpoint(root / "timm", scale.timm_architecture, scale.image_size)
        subjects.append(SearchSubject(model, make_noisy_image_task(root / "images", *splits, scale.image_size)))
    if "texts" in scale.subjects:
        hidden, layers, heads = scale.bert_size
        model = make_bert_model_checkpoint(root / "bert", scale.classes, hidden, layers, heads, scale.words + 2)
        subjects.append(SearchSubject(model, make_word_topic_task(root / "texts", *splits, scale.words)))
    return subjects


def synthetic_setting(scale: SearchScale, root: Path) -> SearchSetting:
    """The suite's default training settings with `scale`'s batch size and budget, one seed."""
    return SearchSetting(
        assets_dir=root,
        suite_training=TrainingSpec(batch_size=scale.batch_size, max_steps=scale.max_steps),
    )


def demo_subjects(tasks_dir: Path = DEFAULT_TASKS_DIR) -> tuple[list[SearchSubject], SearchSetting]:
    """Every task of the `demo` suite with the suite's first model of its modality, and the suite's settings
    (training, caps, seeds; no `{assets}` directory yet)."""
    suite = load_registry(tasks_dir).resolve("demo")
    first = {}
    for model in suite.models:
        first.setdefault(model.modality, model)
    subjects = [SearchSubject(first[task.modality], task) for task in suite.tasks if task.modality in first]
    setting = SearchSetting(
        assets_dir=Path(),
        suite_training=suite.training,
        suite_search=suite.spec.search,
        caps=SplitCaps(suite.spec.max_train_samples, suite.spec.max_validation_samples, suite.spec.max_eval_samples),
        seeds=tuple(suite.seeds),
    )
    return subjects, setting


def missing_assets(subject: SearchSubject, assets_dir: Path) -> list[str]:
    """The local paths a subject's checkpoint and dataset name under `assets_dir` that do not exist."""
    dataset = subject.task.dataset
    files = dataset.data_files
    named = [subject.model.checkpoint, dataset.data_dir, *(_paths(files) if files else [])]
    paths = [expand_assets(path, assets_dir) for path in named if path]
    return [path for path in paths if not Path(path).exists()]


def _paths(files: str | list | dict) -> list[str]:
    if isinstance(files, str):
        return [files]
    values = files.values() if isinstance(files, dict) else files
    return [path for value in values for path in _paths(value)]


def scaled_demo(setting: SearchSetting, scale: DemoScale, assets_dir: Path) -> SearchSetting:
    """The demo suite's setting at `assets_dir`, with `scale`'s caps, seeds and budget where it sets them."""
    return SearchSetting(
        assets_dir=assets_dir,
        suite_training=setting.suite_training,
        overrides=TrainingSpec(max_steps=scale.max_steps),
        suite_search=setting.suite_search,
        caps=scale.caps or setting.caps,
        seeds=scale.seeds or setting.seeds,
    )
