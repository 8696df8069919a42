"""The run plan: every (model, init, task, protocol) group of a suite with its seeds, narrowed and sharded.

A cell (one result file) is a (model, init, task, protocol, seed). Cells are run in groups of all their seeds,
because a group's configuration is chosen on the mean validation score over its seeds. A model only meets tasks
of its own modality. Groups are ordered so that the linear probe of a (model, init, task) comes just before its
fine-tune, and sharding (`--shard I/N`) takes every N-th group of each kind of work (protocol and init) in that
fixed order, so N machines given 0/N … N-1/N run disjoint sets, each a like mix of probes and fine-tunes, that
together cover the suite. Scratch groups belong to an architecture, not to a
checkpoint (`ModelSpec.scratch_twin`): every checkpoint of one architecture plans the same twin, once, so removing
or adding a checkpoint never removes or changes another's twin.

A suite resolved with tasks or models from the command line (`--tasks` naming a registry task the suite does not
list, `--model`) plans them like its own: such a task meets the selected models of its modality, and a model
named with `--model` always runs, whatever `--models` narrows the suite's own models to.
"""

from __future__ import annotations

from dataclasses import dataclass

from benchmark.specs.registry import ResolvedSuite, SpecError
from benchmark.specs.schema import Init, ModelSpec, Protocol, TaskSpec
from benchmark.utils.naming import suggest, variant_dirname


@dataclass(frozen=True)
class Cell:
    """One unit of work and of results: a model variant trained one way on one task with one seed."""

    suite: str
    model: ModelSpec
    init: Init
    task: TaskSpec
    protocol: Protocol
    seed: int

    def identity(self) -> dict:
        """The fields that name this cell in its result record."""
        return {
            "suite": self.suite,
            "model": self.model.id,
            "init": self.init,
            "task": self.task.task,
            "modality": self.task.modality,
            "protocol": self.protocol,
            "seed": self.seed,
            "main_metric": self.task.main_metric,
        }

    @property
    def name(self) -> str:
        return f"{variant_dirname(self.model.id, self.init)}/{self.task.task}/{self.protocol}-seed{self.seed}"


@dataclass(frozen=True)
class Group:
    """The cells of one (model, init, task, protocol), one per seed: the unit of a hyper-parameter search."""

    suite: str
    model: ModelSpec
    init: Init
    task: TaskSpec
    protocol: Protocol
    seeds: tuple[int, ...]

    def cells(self) -> list[Cell]:
        return [Cell(self.suite, self.model, self.init, self.task, self.protocol, seed) for seed in self.seeds]

    @property
    def name(self) -> str:
        return f"{variant_dirname(self.model.id, self.init)}/{self.task.task}/{self.protocol}"


@dataclass(frozen=True)
class Selection:
    """Command-line narrowing of a suite; `None` keeps the suite's own list."""

    models: list[str] | None = None
    tasks: list[str] | None = None
    protocols: list[str] | None = None
    seeds: list[int] | None = None
    include_scratch: bool | None = None


def plan_cells(suite: ResolvedSuite, selection: Selection = Selection()) -> list[Cell]:
    """All cells of a suite after narrowing, in a deterministic order (group by group)."""
    return [cell for group in plan_groups(suite, selection) for cell in group.cells()]


def plan_groups(suite: ResolvedSuite, selection: Selection = Selection()) -> list[Group]:
    """All groups of a suite after narrowing, in a deterministic order."""
    wanted_models = selection.models
    if wanted_models is not None:  # models named with --model run whatever --models keeps of the suite's own
        wanted_models = [*wanted_models, *(m for m in suite.ad_hoc_models if m not in wanted_models)]
    models = _narrow(suite.models, wanted_models, lambda m: m.id, "--models")
    tasks = _narrow(suite.tasks, selection.tasks, lambda t: t.task, "--tasks")
    protocols = _narrow(suite.protocols, selection.protocols, str, "--protocols")
    seeds = selection.seeds if selection.seeds is not None else suite.seeds
    scratch = suite.spec.include_scratch if selection.include_scratch is None else selection.include_scratch
    inits: list[Init] = ["pretrained", "scratch"] if scratch else ["pretrained"]
    groups, planned = [], set()
    for model in models:
        for task in (task for task in tasks if task.modality == model.modality):
            for init in inits:
                # A scratch twin is an architecture, planned once however many of its checkpoints are selected.
                owner = model.scratch_twin() if init == "scratch" else model
                for protocol in sorted(protocols, key=lambda p: p != "linear_probe"):
                    if (owner.id, init, task.task, protocol) not in planned:
                        planned.add((owner.id, init, task.task, protocol))
                        groups.append(Group(suite.spec.suite, owner, init, task, protocol, tuple(seeds)))
    _check_ad_hoc_tasks_have_models(suite, tasks, groups)
    return groups


def describe_ad_hoc(suite: ResolvedSuite, groups: list[Group]) -> list[str]:
    """One line per command-line task and model of a plan: which models an added task runs with, and which
    library, modality and tasks a `--model` got (inferred, so worth saying)."""
    lines = []
    for name in suite.ad_hoc_tasks:
        task = next(t for t in suite.tasks if t.task == name)
        models = list(dict.fromkeys(g.model.id for g in groups if g.task.task == name))
        if models:
            lines.append(
                f"task {name!r} is not in suite {suite.spec.suite!r}: running it with its {task.modality} "
                f"models {', '.join(models)}"
            )
    for model_id in suite.ad_hoc_models:
        model = next(m for m in suite.models if m.id == model_id)
        tasks = list(dict.fromkeys(g.task.task for g in groups if g.model.id == model_id))
        where = f"on {', '.join(tasks)}" if tasks else f"on nothing: no {model.modality} task is selected"
        lines.append(f"model {model_id!r} ({model.library} {model.checkpoint}, {model.modality}): running it {where}")
    return lines


def _check_ad_hoc_tasks_have_models(suite: ResolvedSuite, tasks: list[TaskSpec], groups: list[Group]) -> None:
    """A task added from the command line that no selected model can run is an error, not an empty plan."""
    planned = {group.task.task for group in groups}
    selected = {task.task: task for task in tasks}
    problems = [
        f"--tasks: {name!r} is not in suite {suite.spec.suite!r}, and none of its selected models is "
        f"{selected[name].modality} to run it with; add one with --model"
        for name in suite.ad_hoc_tasks
        if name in selected and name not in planned
    ]
    if problems:
        raise SpecError(problems)


def shard(items: list, index: int, count: int) -> list:
    """The `index`-th of `count` disjoint, deterministic slices of a plan (of groups or cells), in plan order.

    Every N-th item is taken within each kind of work, (protocol, init), not over the whole plan: the plan
    alternates a probe with its fine-tune, so a plain stride of an even N would hand one shard every probe (seconds
    each) and the next every fine-tune (minutes each)."""
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"--shard {index}/{count}: expected I/N with 0 <= I < N")
    kinds: dict[tuple, list[int]] = {}
    for position, item in enumerate(items):
        kinds.setdefault((item.protocol, item.init), []).append(position)
    mine = {position for positions in kinds.values() for position in positions[index::count]}
    return [item for position, item in enumerate(items) if position in mine]


def parse_shard(text: str) -> tuple[int, int]:
    """'I/N' -> (I, N)."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard {text!r}: expected I/N, e.g. 0/4") from None
    shard([], index, count)
    return index, count


def _narrow(items: list, wanted: list[str] | None, key, flag: str) -> list:
    if wanted is None:
        return list(items)
    by_key = {str(key(item)): item for item in items}
    unknown = [name for name in wanted if name not in by_key]
    if unknown:
        raise SpecError(
            [f"{flag}: {name!r} is not in this suite (has {sorted(by_key)}){suggest(name, by_key)}" for name in unknown]
        )
    return [by_key[name] for name in wanted]
