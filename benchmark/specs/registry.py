"""Discover, load and validate task, suite and model YAML files.

Tasks live in `tasks/<modality>/<task>.yaml`, suites in `tasks/suites/<suite>.yaml` and catalogue models in
`tasks/models/<id>.yaml`; all are found by globbing, so adding a task or a model is adding a file. Unlike
registries that skip a bad file silently, every problem in every file is collected and reported together, each
naming the file, the line, the field, what was expected and, for a near-miss name, the nearest valid one.

A file that cannot be read as a spec at all is one such problem too, never a traceback, and the other files
are still checked: a directory or special file named like `*.yaml`, an unreadable or non-UTF-8 file, one
larger than `MAX_SPEC_BYTES` (1 MiB), YAML nested deeper than `MAX_YAML_DEPTH`, and a document whose aliases
expand to more than `MAX_YAML_NODES` nodes (a "billion laughs" bomb: a few hundred bytes that would expand to
10^9 values in every consumer that walks the data, such as pydantic, `model_dump` or the result JSON).
"""

from __future__ import annotations

import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel, ValidationError

from benchmark.specs.catalogue import MODELS_DIRNAME, pretraining_task_problems, resolve_entry
from benchmark.specs.schema import (
    BUILTIN_METRICS,
    EXTERNAL_METRIC_PREFIX,
    MODEL_ENTRY_TAGS,
    ModelMeta,
    ModelSpec,
    Protocol,
    ScoreWeights,
    SuiteSpec,
    TaskSpec,
    TrainingSpec,
)
from benchmark.utils.naming import suggest

SUITES_DIRNAME = "suites"
MAX_SPEC_BYTES = 1024 * 1024
"""Largest task or suite file read (1 MiB). Real specs are a few hundred bytes; a bigger file is a mistake (data
saved as `.yaml`) and would otherwise be read whole into memory and parsed by pure-Python YAML."""
MAX_YAML_NODES = 100_000
"""Most YAML nodes a spec may hold, counting each alias as a full copy of its anchor. Real specs hold under a
thousand even with anchors; a billion-laughs document of a few hundred bytes expands to 10^9."""
MAX_YAML_DEPTH = 100
"""Deepest nesting of mappings and sequences in a spec (real specs nest 3 deep). PyYAML composes and constructs
recursively, so a document of thousands of `[` would otherwise end in a RecursionError."""


class SpecError(Exception):
    """One or more invalid spec files; `str()` gives one line per problem."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class ResolvedSuite:
    """A suite with includes merged and task ids replaced by validated task specs.

    `ad_hoc_tasks` are registry tasks outside the suite's list that the command line asked for, and
    `ad_hoc_models` models named on the command line (`--model`); both are also in `tasks` and `models`.
    """

    spec: SuiteSpec
    models: list[ModelSpec]
    tasks: list[TaskSpec]
    protocols: list[Protocol]
    seeds: list[int]
    training: TrainingSpec
    score_weights: ScoreWeights
    ad_hoc_tasks: tuple[str, ...] = ()
    ad_hoc_models: tuple[str, ...] = ()
    source_tasks: dict[str, TaskSpec] = field(default_factory=dict)  # model id -> its `pretrain` source task


@dataclass
class Registry:
    """All task, suite and catalogue model specs found under one tasks directory."""

    tasks_dir: Path
    tasks: dict[str, TaskSpec] = field(default_factory=dict)
    task_files: dict[str, Path] = field(default_factory=dict)
    suites: dict[str, SuiteSpec] = field(default_factory=dict)
    suite_files: dict[str, Path] = field(default_factory=dict)
    models: dict[str, ModelMeta] = field(default_factory=dict)
    model_files: dict[str, Path] = field(default_factory=dict)

    def catalogue_problems(self) -> list[str]:
        """Catalogue records whose pretraining tasks the registry does not hold."""
        return pretraining_task_problems(self.models, self.model_files, self.tasks)

    def resolve(
        self,
        suite_name: str,
        skip_unknown_tasks: bool = False,
        requested_tasks: Sequence[str] | None = None,
        extra_models: Sequence[ModelSpec] = (),
    ) -> ResolvedSuite:
        """Merge a suite's includes and look up its tasks; unknown names raise `SpecError` (unless
        `skip_unknown_tasks`, for `--keep-going` after invalid task files were skipped).

        `requested_tasks` (`--tasks`) may name any task of the registry: one the suite does not list joins it, to
        run with the suite's models of its modality; a name the registry does not know is an error with the
        nearest known name. `extra_models` (`--model`) join the suite's models; one whose id a different suite
        model already has is an error.
        """
        if suite_name not in self.suites:
            raise SpecError([f"unknown suite {suite_name!r}{suggest(suite_name, self.suites)}"])
        problems: list[str] = []
        spec = self.suites[suite_name]
        models, task_refs = _merged_members(self, suite_name, problems, seen=())
        tasks = [task for ref in task_refs if (task := self._lookup_task(ref, suite_name, problems))]
        if skip_unknown_tasks:
            problems = [p for p in problems if "unknown task" not in p]
        models, tasks = _unique_by(models, lambda m: m.id), _unique_by(tasks, lambda t: t.task)
        ad_hoc_tasks = self._ad_hoc_tasks(requested_tasks or [], tasks, problems)
        ad_hoc_models = _ad_hoc_models(extra_models, models, problems)
        known = {model.id for model in models}
        models = models + [model for model in ad_hoc_models if model.id not in known]
        where = self.suite_files.get(suite_name, suite_name)
        source_tasks = self._source_tasks(models, where, problems)
        problems += _architecture_problems(models, where)
        if problems:
            raise SpecError(problems)
        return ResolvedSuite(
            spec=spec,
            models=models,
            tasks=tasks + ad_hoc_tasks,
            protocols=spec.protocols,
            seeds=spec.seeds,
            training=spec.training,
            score_weights=spec.score_weights,
            ad_hoc_tasks=tuple(task.task for task in ad_hoc_tasks),
            ad_hoc_models=tuple(model.id for model in ad_hoc_models),
            source_tasks=source_tasks,
        )

    def _source_tasks(self, models: list[ModelSpec], where, problems: list[str]) -> dict[str, TaskSpec]:
        """The registry task each `pretrain` block names; an unknown id or another modality is a problem."""
        sources = {}
        for model in models:
            if model.pretrain is None:
                continue
            name = model.pretrain.task
            source = self.tasks.get(name)
            field_name = f"model {model.id!r}: field 'pretrain.task'"
            if source is None:
                problems.append(f"{where}: {field_name}: unknown task {name!r}{suggest(name, self.tasks)}")
            elif source.modality != model.modality:
                problems.append(
                    f"{where}: {field_name}: {name!r} is a {source.modality} task, the model {model.modality}"
                )
            else:
                sources[model.id] = source
        return sources

    def _ad_hoc_tasks(self, requested: Sequence[str], tasks: list[TaskSpec], problems: list[str]) -> list[TaskSpec]:
        """The registry's specs of the requested task ids that the suite does not list; unknown ids are problems."""
        listed = {task.task for task in tasks}
        added: list[TaskSpec] = []
        for name in dict.fromkeys(requested):
            if name in listed:
                continue
            if name in self.tasks:
                added.append(self.tasks[name])
                continue
            problems.append(
                f"--tasks: {name!r} is not in this suite (has {sorted(listed)}) nor in the registry"
                f"{suggest(name, [*listed, *self.tasks])}"
            )
        return added

    def _lookup_task(self, ref: str, suite_name: str, problems: list[str]) -> TaskSpec | None:
        if ref in self.tasks:
            return self.tasks[ref]
        path = Path(ref)
        if path.suffix in {".yaml", ".yml"}:
            try:
                return load_task_file(path)
            except SpecError as error:
                problems.extend(error.problems)
                return None
        where = self.suite_files.get(suite_name, suite_name)
        problems.append(f"{where}: field 'tasks': unknown task {ref!r}{suggest(ref, self.tasks)}")
        return None


def _ad_hoc_models(extra: Sequence[ModelSpec], models: list[ModelSpec], problems: list[str]) -> list[ModelSpec]:
    """The command line's models; one whose id a different model of the suite has is a problem (ids name result
    folders, so two checkpoints must never share one). A model identical to a suite model is kept: it runs."""
    by_id = {model.id: model for model in models}
    kept = []
    for model in extra:
        clash = by_id.get(model.id)
        if clash is not None and (clash.library, clash.checkpoint) != (model.library, model.checkpoint):
            problems.append(
                f"--model: id {model.id!r} is already the suite's {clash.library} model {clash.checkpoint!r}; "
                f"give yours another id: --model my-id=..."
            )
            continue
        kept.append(clash or model)
    return kept


def _architecture_problems(models: list[ModelSpec], where) -> list[str]:
    """Checkpoints that share an architecture name share one scratch twin, so they must be one architecture:
    the same library, checkpoint, revision and dtype (a checkpoint declared under the wrong modality is the deep check's
    to report). Two that are not need `architecture` names of their own.
    Removing a model can never raise this; adding one can, and the message says how to fix it."""
    first: dict[str, ModelSpec] = {}
    problems = []
    for model in models:
        seen = first.setdefault(model.architecture_id, model)
        identity = ("library", "checkpoint", "revision", "dtype")
        if any(getattr(seen, name) != getattr(model, name) for name in identity):
            problems.append(
                f"{where}: model {model.id!r}: field 'architecture': {model.architecture_id!r} is also the "
                f"architecture of {seen.id!r} ({seen.library} {seen.checkpoint!r}), a different checkpoint; "
                "give one of them an `architecture:` name of its own"
            )
    return problems


def _merged_members(
    registry: Registry, suite_name: str, problems: list[str], seen: tuple[str, ...]
) -> tuple[list[ModelSpec], list[str]]:
    """Models and task references of a suite and, recursively, of the suites it includes."""
    spec = registry.suites[suite_name]
    models, tasks = [], []
    for included in spec.include:
        if included in seen or included == suite_name:
            problems.append(f"{registry.suite_files[suite_name]}: field 'include': cycle through {included!r}")
        elif included not in registry.suites:
            problems.append(
                f"{registry.suite_files[suite_name]}: field 'include': unknown suite {included!r}"
                f"{suggest(included, registry.suites)}"
            )
        else:
            sub_models, sub_tasks = _merged_members(registry, included, problems, (*seen, suite_name))
            models += sub_models
            tasks += sub_tasks
    where = registry.suite_files.get(suite_name, suite_name)
    own = [resolve_entry(entry, registry.models, where, index, problems) for index, entry in enumerate(spec.models)]
    return models + [model for model in own if model is not None], tasks + list(spec.tasks)


def _unique_by(items: list, key) -> list:
    seen: dict = {}
    for item in items:
        seen.setdefault(key(item), item)
    return list(seen.values())


def load_registry(tasks_dir: Path) -> Registry:
    """Load every task and suite YAML under `tasks_dir`; raise `SpecError` listing every problem found."""
    registry, problems = collect_registry(tasks_dir)
    problems += registry.catalogue_problems()
    if problems:
        raise SpecError(problems)
    return registry


def collect_registry(tasks_dir: Path) -> tuple[Registry, list[str]]:
    """Every valid spec under `tasks_dir`, and one message per invalid one (for `--keep-going`); references between
    files (a catalogue model's pretraining tasks) are checked once every folder is read (`catalogue_problems`)."""
    tasks_dir = Path(tasks_dir)
    if not tasks_dir.is_dir():
        raise SpecError([f"{tasks_dir}: tasks directory not found"])
    registry, problems = Registry(tasks_dir=tasks_dir), []
    for path in sorted(tasks_dir.rglob("*.y*ml")):
        loader = {SUITES_DIRNAME: load_suite_file, MODELS_DIRNAME: load_model_file}.get(
            path.parent.name, load_task_file
        )
        try:
            spec = loader(path)
        except SpecError as error:
            problems.extend(error.problems)
            continue
        except Exception as error:  # a defect in one file's handling must not hide the other files' problems
            problems.append(f"{path}: could not be loaded: {type(error).__name__}: {error}")
            continue
        _register(registry, spec, path, problems)
    return registry, problems


def _register(registry: Registry, spec: TaskSpec | SuiteSpec | ModelMeta, path: Path, problems: list[str]) -> None:
    if isinstance(spec, SuiteSpec):
        specs, files, key = registry.suites, registry.suite_files, spec.suite
    elif isinstance(spec, ModelMeta):
        specs, files, key = registry.models, registry.model_files, spec.id
    else:
        specs, files, key = registry.tasks, registry.task_files, spec.task
    if key in specs:
        problems.append(f"{path}: duplicate id {key!r}, already defined in {files[key]}")
        return
    specs[key], files[key] = spec, path


def load_task_file(path: Path) -> TaskSpec:
    """Parse and validate one task YAML file."""
    task = _load_spec(Path(path), TaskSpec)
    problems = [
        f"{path}: field 'metrics': unknown metric {name!r}; expected one of {list(BUILTIN_METRICS)} or "
        f"'{EXTERNAL_METRIC_PREFIX}<name>' for a module from the evaluate library{suggest(name, BUILTIN_METRICS)}"
        for name in task.metrics
        if name not in BUILTIN_METRICS and not name.startswith(EXTERNAL_METRIC_PREFIX)
    ]
    if problems:
        raise SpecError(problems)
    return task


def load_suite_file(path: Path) -> SuiteSpec:
    """Parse and validate one suite YAML file."""
    return _load_spec(Path(path), SuiteSpec)


def load_model_file(path: Path) -> ModelMeta:
    """Parse and validate one catalogue model YAML file."""
    return _load_spec(Path(path), ModelMeta)


LOADERS = {SUITES_DIRNAME: load_suite_file, MODELS_DIRNAME: load_model_file}
"""The loader of the files in each specially named folder; every other YAML file is a task."""


def _load_spec(path: Path, schema: type[BaseModel]):
    text = _read_text(path)
    root, data = _parse_yaml(path, text)
    if data is None:
        raise SpecError([f"{path}: file is empty; expected a mapping of {schema.__name__} fields"])
    if not isinstance(data, dict):
        raise SpecError([f"{path}: expected a mapping of {schema.__name__} fields, got a {_yaml_kind(data)}"])
    try:
        return schema.model_validate(data)
    except ValidationError as error:
        raise SpecError([_describe(path, root, schema, e) for e in error.errors()]) from None


def compose_spec(path: Path) -> yaml.Node | None:
    """The composed YAML node tree of a spec file (for line numbers), with every check of `load_task_file` on
    reading and parsing; `SpecError` names the file otherwise. For callers that look at a file's YAML again."""
    return _parse_yaml(Path(path), _read_text(Path(path)))[0]


def _read_text(path: Path) -> str:
    """The file's text, or `SpecError` with one line saying why it is not a readable UTF-8 spec file."""
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise SpecError(
                [f"{path}: is a directory, not a YAML file; rename it or move it out of the tasks directory"]
            )
        if not stat.S_ISREG(info.st_mode):  # a FIFO would block the read forever, a device never end
            raise SpecError([f"{path}: not a regular file (a FIFO, socket or device); expected a YAML file"])
        if info.st_size > MAX_SPEC_BYTES:
            raise SpecError([_too_large(path, info.st_size)])
        with path.open("rb") as handle:
            data = handle.read(MAX_SPEC_BYTES + 1)  # bounded even if the file grows after the stat
    except OSError as error:
        raise SpecError([f"{path}: cannot read file: {error.strerror or error}"]) from None
    if len(data) > MAX_SPEC_BYTES:
        raise SpecError([_too_large(path, len(data))])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        hint = " (it looks like UTF-16)" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
        raise SpecError(
            [
                f"{path}:{line}: not UTF-8 text: byte 0x{data[error.start]:02x} at offset {error.start}{hint}; "
                "save the file as UTF-8"
            ]
        ) from None


def _too_large(path: Path, size: int) -> str:
    return f"{path}: file is {size:,} bytes; spec files are limited to {MAX_SPEC_BYTES:,} bytes (1 MiB)"


class _Refused(Exception):
    """A well-formed YAML document refused before construction, with the 1-based line it concerns."""

    def __init__(self, line: int, message: str):
        self.line = line
        super().__init__(message)


class _SpecLoader(yaml.SafeLoader):
    """PyYAML's safe loader that refuses nesting deeper than `MAX_YAML_DEPTH` while composing."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self.depth = 0

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node:
        self.depth += 1
        try:
            if self.depth > MAX_YAML_DEPTH:
                line = self.peek_event().start_mark.line + 1
                raise _Refused(line, f"YAML nested more than {MAX_YAML_DEPTH} levels deep")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _parse_yaml(path: Path, text: str) -> tuple[yaml.Node | None, Any]:
    """The composed node tree (for line numbers) and the constructed data of a single-document YAML text.

    Composition keeps each alias as a reference to its anchor's node, so the size check runs on a graph whose
    size is bounded by the text; only a document that passes it is constructed.
    """
    loader = None
    try:
        loader = _SpecLoader(text)  # checks for unprintable characters already
        root = loader.get_single_node()
        if root is None:
            return None, None
        _check_expansion(root)
        return root, loader.construct_document(root)
    except _Refused as refused:
        raise SpecError([f"{path}:{refused.line}: {refused}"]) from None
    except yaml.YAMLError as error:
        raise SpecError([f"{path}{_yaml_error_line(error, text)}: YAML syntax error: {_yaml_reason(error)}"]) from None
    finally:
        if loader is not None:
            loader.dispose()


def _yaml_error_line(error: yaml.YAMLError, text: str) -> str:
    mark = getattr(error, "problem_mark", None)
    if mark is not None:
        return f":{mark.line + 1}"
    if isinstance(error, yaml.reader.ReaderError):  # a control character: the reader knows only its offset
        return f":{text.count(chr(10), 0, error.position) + 1}"
    return ""


def _yaml_reason(error: yaml.YAMLError) -> str:
    if isinstance(error, yaml.reader.ReaderError):
        return f"unacceptable character #x{error.character:04x}: {error.reason}"
    return getattr(error, "problem", None) or str(error).splitlines()[0]


def _check_expansion(root: yaml.Node) -> None:
    """Refuse a node graph that contains itself or expands, aliases copied out, to over `MAX_YAML_NODES` nodes.

    Depth-first with memoised subtree sizes, so the check costs one visit per distinct node however often an
    alias repeats it; `on_path` holds the nodes being expanded, so meeting one again is a recursive alias.
    """
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        key = id(node)
        if expanded:
            on_path.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in _children(node))
            if sizes[key] > MAX_YAML_NODES:
                raise _Refused(
                    node.start_mark.line + 1,
                    f"YAML document expands to more than {MAX_YAML_NODES:,} values, counting each alias as a copy "
                    "of its anchor (a 'billion laughs' document?); spec files must stay small",
                )
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise _Refused(node.start_mark.line + 1, "recursive YAML alias: a node that contains itself")
        on_path.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _yaml_kind(value: Any) -> str:
    return {list: "list", str: "string", int: "number", float: "number", bool: "boolean"}.get(
        type(value), type(value).__name__
    )


def _describe(path: Path, root: yaml.Node | None, schema: type[BaseModel], error: dict) -> str:
    """One line for one pydantic error: file:line, dotted field, what was expected, a suggestion."""
    tagged = tuple(error["loc"])
    loc = _without_entry_tags(tagged)
    field_name = ".".join(str(part) for part in loc) or "<root>"
    line = _line_of(root, loc)
    where = f"{path}:{line}" if line else str(path)
    kind = error["type"]
    if kind == "extra_forbidden":
        allowed = _fields_at(schema, tagged[:-1])
        return f"{where}: field {field_name!r}: unknown key; expected one of {sorted(allowed)}" + suggest(
            str(loc[-1]), allowed
        )
    if kind == "missing":
        return f"{where}: field {field_name!r}: required field is missing"
    if kind == "literal_error":
        expected = error["ctx"]["expected"]
        choices = [c.strip(" '") for c in expected.replace(" or ", ",").split(",")]
        return f"{where}: field {field_name!r}: got {error['input']!r}, expected {expected}" + suggest(
            str(error["input"]), choices
        )
    got = error.get("input")
    got_text = f" (got {_yaml_kind(got)} {got!r})" if not isinstance(got, dict | list) else ""
    message = error["msg"].removeprefix("Value error, ")
    return f"{where}: field {field_name!r}: {message}{got_text}"


def _without_entry_tags(loc: tuple) -> tuple:
    """`loc` without the union tag pydantic puts after a suite's `models[i]` (which kind of entry it was read as)."""
    return tuple(
        part
        for index, part in enumerate(loc)
        if not (
            index >= 2 and loc[index - 2] == "models" and isinstance(loc[index - 1], int) and part in MODEL_ENTRY_TAGS
        )
    )


def _fields_at(schema: type[BaseModel], loc: tuple) -> list[str]:
    """Field names of the nested model reached by following `loc` (union tags included) from `schema`."""
    model: type[BaseModel] | None = schema
    for part in loc:
        if isinstance(part, int):
            continue
        if MODEL_ENTRY_TAGS.get(part) is not None:  # the tag says which member of a suite entry's union it was
            model = MODEL_ENTRY_TAGS[part]
            continue
        if model is None:
            return []
        annotation = model.model_fields[part].annotation
        nested = [a for a in (annotation, *get_args(annotation)) if _is_model(a)]
        for arg in get_args(annotation):
            nested += [a for a in get_args(arg) if _is_model(a)]
        model = nested[0] if nested else None
    return list(model.model_fields) if model is not None else []


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _line_of(root: yaml.Node | None, loc: tuple) -> int | None:
    """1-based line of the YAML key at `loc` (or of its deepest existing parent)."""
    node, line = root, (root.start_mark.line + 1 if root else None)
    for part in loc:
        found = _child(node, part)
        if found is None:
            break
        marker, node = found
        line = marker.start_mark.line + 1
    return line


def _child(node: yaml.Node | None, part: str | int) -> tuple[yaml.Node, yaml.Node] | None:
    """(node whose line to report, node to descend into) for one step of a location."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == part:
                return key, value
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        return node.value[part], node.value[part]
    return None
