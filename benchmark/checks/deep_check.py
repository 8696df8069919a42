"""`--validate --deep`: check that the datasets and checkpoints the specs name exist and match them.

`--validate` checks the YAML alone; this resolves what it names, for users who have the Hugging Face Hub (or
local folders), without downloading any data:

- datasets, through `datasets.load_dataset_builder` and the builder's split listing with a streaming download
  manager (which lists files instead of downloading them): the config, every split name and slice, the input,
  second input and label columns, the input's type for the modality, and the label's type (ClassLabel,
  integers or strings; `label_names` against the ClassLabel). Columns come from the dataset card metadata or
  the builder's own inference (folder labels, parquet schemas); only for formats with neither (csv, json) is the
  first row of the train split streamed. Row counts (metadata, parquet footers) catch empty and overlapping
  slices.
- checkpoints: timm names against the installed timm's pretrained configs (a local folder: its config.json and
  weights); transformers checkpoints through `AutoConfig`, the tokenizer or feature extractor, the weights file
  and the Auto mapping for the modality (sequence or audio classification), and, for Whisper, whether each audio
  task's clip fits the encoder.
- labels, for formats without declared features (csv, json): the whole label column of every split the spec
  reads is streamed (never only its first row) and checked as a run would check it: no missing label, at least
  two classes in train, no class only validation or test holds, every value among `label_names`.

Remote code is never run. Every problem of every file is collected and reported together, in the YAML check's
form `file:line: field 'dataset.label_column': ...`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from benchmark.checks.dataset_check import (
    column_problems,
    describe_dataset,
    inspect_dataset,
    split_problems,
)
from benchmark.checks.facts import (
    LOAD_ARGUMENTS,
    CheckpointFacts,
    DatasetFacts,
    FieldProblem,
    FieldProblems,
    Progress,
)
from benchmark.data.loading import expand_assets
from benchmark.specs.adapter_registry import library_adapter
from benchmark.specs.catalogue import resolve_entry
from benchmark.specs.registry import Registry, SpecError
from benchmark.specs.schema import DatasetSpec, ModelSpec, TaskSpec


@dataclass
class DeepReport:
    """Every problem found, and one line per dataset and checkpoint that resolved."""

    problems: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    datasets_checked: int = 0
    checkpoints_checked: int = 0

    def summary(self) -> str:
        lines = [f"  {line}" for line in self.resolved]
        lines.append(
            f"ok: {self.datasets_checked} dataset(s) and {self.checkpoints_checked} checkpoint(s) match their specs "
            "(metadata only: no dataset was downloaded or prepared)"
        )
        return "\n".join(lines)


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def deep_check(
    registry: Registry,
    assets_dir: Path,
    suite: str | None = None,
    tasks: Iterable[str] | None = None,
    models: Iterable[str] | None = None,
    progress: Progress | None = _stderr,
) -> DeepReport:
    """Resolve the datasets and checkpoints of `suite` (every suite and task when None), narrowed to `tasks` and
    `models` ids when given. Raises `SpecError` for an unknown suite; everything else lands in the report."""
    checker = _Checker(registry, Path(assets_dir), progress or (lambda _: None))
    tasks = list(tasks) if tasks is not None else None
    selected_tasks, selected_models, pairs = _select(registry, suite, checker.unplaced, tasks)
    if tasks is not None:
        wanted = set(tasks)
        selected_tasks = [t for t in selected_tasks if t.task in wanted]
    if models is not None:
        wanted = set(models)
        selected_models = [m for m in selected_models if m.id in wanted]
    for task in selected_tasks:
        checker.check_task(task)
    for model in selected_models:
        checker.check_model(model)
    task_ids, model_ids = {t.task for t in selected_tasks}, {m.id for m in selected_models}
    for model, task in pairs:
        if model.id in model_ids and task.task in task_ids:
            checker.check_pair(model, task)
    return checker.finish()


def _select(
    registry: Registry, suite: str | None, problems: list[str], requested: list[str] | None = None
) -> tuple[list[TaskSpec], list[ModelSpec], list[tuple[ModelSpec, TaskSpec]]]:
    """Tasks, models and the (model, task) pairs that will run together, of one suite or of all of them; with a
    suite, the `requested` (`--tasks`) ids it does not list join it as they would in a run, so none is dropped."""
    names = [suite] if suite else sorted(registry.suites)
    tasks: dict[str, TaskSpec] = {} if suite else dict(sorted(registry.tasks.items()))
    models: dict[str, ModelSpec] = {}
    pairs: list[tuple[ModelSpec, TaskSpec]] = []
    for name in names:
        try:
            resolved = registry.resolve(name, requested_tasks=requested if suite else None)
        except SpecError as error:
            if suite:
                raise
            problems.extend(error.problems)
            continue
        tasks.update({t.task: t for t in resolved.tasks if t.task not in tasks})
        models.update({m.id: m for m in resolved.models if m.id not in models})
        pairs += [(m, t) for m in resolved.models for t in resolved.tasks if m.modality == t.modality]
    return list(tasks.values()), list(models.values()), pairs


class _Checker:
    """Runs the checks once per distinct dataset and checkpoint, and places every problem in its file."""

    def __init__(self, registry: Registry, assets_dir: Path, progress: Progress):
        self.registry = registry
        self.assets_dir = assets_dir
        self.progress = progress
        self.report = DeepReport()
        self._datasets: dict[str, DatasetFacts | FieldProblem] = {}
        self._checkpoints: dict[tuple, CheckpointFacts | list[FieldProblem]] = {}
        self._yaml_roots: dict[Path, yaml.Node | None] = {}
        self._pairs_seen: set[tuple] = set()
        self._found: list[tuple[str, int, str]] = []  # (file, line, message), sorted into the report at the end
        self.unplaced: list[str] = []  # problems that already name their file (suites that do not resolve)

    def finish(self) -> DeepReport:
        """The report, with problems in file and line order."""
        self.report.problems = self.unplaced + [message for *_, message in sorted(self._found)]
        return self.report

    # datasets ------------------------------------------------------------------------------------------------

    def check_task(self, task: TaskSpec) -> None:
        facts, problems = self._dataset_problems(task.dataset, task.modality, f"task {task.task!r}")
        self._add(self.registry.task_files.get(task.task), ("dataset",), problems, f"task {task.task!r}")
        if facts is not None and not problems:
            self.report.resolved.append(f"dataset  {task.task}: {describe_dataset(task.dataset, facts)}")

    def _dataset_problems(
        self, spec: DatasetSpec, modality: str, label: str
    ) -> tuple[DatasetFacts | None, list[FieldProblem]]:
        """The dataset's facts (None when it does not resolve) and every mismatch with the spec."""
        arguments = [spec.path] + [getattr(spec, k) for k in LOAD_ARGUMENTS]
        key = json.dumps(expand_assets(arguments, self.assets_dir), sort_keys=True)
        if key not in self._datasets:
            self.progress(f"deep check: dataset {spec.path!r} ({label})")
            self.report.datasets_checked += 1
            try:
                self._datasets[key] = inspect_dataset(spec, self.assets_dir)
            except FieldProblem as problem:
                self._datasets[key] = problem
        facts = self._datasets[key]
        if isinstance(facts, FieldProblem):
            return None, [facts]
        return facts, split_problems(spec, facts) + column_problems(spec, modality, facts) + list(facts.label_problems)

    # checkpoints ---------------------------------------------------------------------------------------------

    def check_model(self, model: ModelSpec) -> None:
        result = self._checkpoint(model)
        locations = self._model_locations(model)
        problems = result if isinstance(result, list) else []
        if model.pretraining_sample is not None:
            _, sample = self._dataset_problems(model.pretraining_sample, model.modality, f"model {model.id!r} sample")
            problems = problems + [FieldProblem(f"pretraining_sample.{p.field_name}", p.message) for p in sample]
        for path, loc in locations or [(None, ())]:
            self._add(path, loc, problems, f"model {model.id!r}")
        if not problems and isinstance(result, CheckpointFacts):
            self.report.resolved.append(f"model    {model.id}: {result.description}")

    def _checkpoint(self, model: ModelSpec) -> CheckpointFacts | list[FieldProblem]:
        checkpoint = expand_assets(model.checkpoint, self.assets_dir)
        key = (model.library, checkpoint, model.revision, model.modality)
        if key not in self._checkpoints:
            self.progress(f"deep check: {model.library} checkpoint {checkpoint!r} (model {model.id!r})")
            self.report.checkpoints_checked += 1
            try:
                library = library_adapter(model.library)
                self._checkpoints[key] = library.inspect_checkpoint(checkpoint, model.revision, model.modality)
            except FieldProblem as problem:
                self._checkpoints[key] = [problem]
            except FieldProblems as found:
                self._checkpoints[key] = found.problems
        return self._checkpoints[key]

    def check_pair(self, model: ModelSpec, task: TaskSpec) -> None:
        """Whisper encoders take clips of a fixed length: each audio task's clip must fit the checkpoint."""
        facts = self._checkpoint(model)
        if not isinstance(facts, CheckpointFacts) or facts.whisper_positions is None:
            return
        clip = task.preprocessing.clip_seconds
        if (model.id, task.task) in self._pairs_seen:  # a pair can come from several suites
            return
        self._pairs_seen.add((model.id, task.task))
        from benchmark.models.factory import whisper_clip_positions

        try:
            positions = whisper_clip_positions(clip, facts.sampling_rate, facts.hop_length)
        except ValueError as error:
            message = f"does not fit Whisper model {model.id!r}: {error}"
        else:
            if positions <= facts.whisper_positions:
                return
            message = (
                f"clip of {clip} s needs {positions} encoder positions; Whisper model {model.id!r} has "
                f"{facts.whisper_positions}"
            )
        problem = FieldProblem("clip_seconds", message)
        self._add(self.registry.task_files.get(task.task), ("preprocessing",), [problem], f"task {task.task!r}")

    def _model_locations(self, model: ModelSpec) -> list[tuple[Path, tuple]]:
        """Every place that defines this exact model spec: its catalogue file (fields at the top level) and each
        (suite file, ('models', index)) whose entry is the model inline or builds it on a catalogue model."""
        registry = self.registry
        meta = registry.models.get(model.id)
        locations = [(registry.model_files[model.id], ())] if meta is not None and meta.spec() == model else []
        for name, suite in sorted(registry.suites.items()):
            for index, entry in enumerate(suite.models):
                if not isinstance(entry, str) and resolve_entry(entry, registry.models, name, index, []) == model:
                    locations.append((registry.suite_files[name], ("models", index)))
        return locations

    # reporting -----------------------------------------------------------------------------------------------

    def _add(self, path: Path | None, prefix: tuple, problems: list[FieldProblem], fallback: str) -> None:
        for problem in problems:
            loc = (*prefix, *problem.field_name.split("."))
            dotted = ".".join(str(part) for part in loc)
            field_text = f"models[{loc[1]}].{'.'.join(loc[2:])}" if loc[:1] == ("models",) else dotted
            line = self._line(path, loc) if path else None
            where = f"{path}:{line}" if line else str(path or fallback)
            self._found.append((str(path or fallback), line or 0, f"{where}: field {field_text!r}: {problem.message}"))

    def _line(self, path: Path, loc: tuple) -> int | None:
        if path not in self._yaml_roots:
            try:
                self._yaml_roots[path] = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
            except (OSError, yaml.YAMLError):
                self._yaml_roots[path] = None
        return yaml_line(self._yaml_roots[path], loc)


def yaml_line(root: yaml.Node | None, loc: tuple) -> int | None:
    """1-based line of the YAML key at `loc`, or of its deepest existing parent."""
    node, line = root, (root.start_mark.line + 1 if root else None)
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            match = (node.value[part], node.value[part])
        else:
            match = None
        if match is None:
            break
        line, node = match[0].start_mark.line + 1, match[1]
    return line
