"""The model catalogue: one `ModelMeta` per checkpoint in `tasks/models/<id>.yaml`, and the `ModelSpec`s a suite's
`models` entries stand for.

A suite names a catalogue model by its id, as it names tasks, or builds on one (`base:`, a `DerivedModel`: the
checkpoint trained further by the suite's `pretrain` stage); a whole model block inline keeps working. Every
reference is checked where the suite is resolved: an unknown id names the suite file, the entry and the nearest
known id. A catalogue record's `pretraining_data.tasks` must be tasks of the registry.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from benchmark.specs.schema import DerivedModel, ModelEntry, ModelMeta, ModelSpec
from benchmark.utils.naming import suggest

MODELS_DIRNAME = "models"


def resolve_entry(
    entry: ModelEntry, catalogue: Mapping[str, ModelMeta], where: Path | str, index: int, problems: list[str]
) -> ModelSpec | None:
    """The model a suite's `models[index]` entry stands for; None, with a problem, when it names an unknown id."""
    if isinstance(entry, ModelSpec):
        return entry
    name = entry.base if isinstance(entry, DerivedModel) else entry
    record = catalogue.get(name)
    if record is None:
        field_name = f"models[{index}]" + (".base" if isinstance(entry, DerivedModel) else "")
        problems.append(
            f"{where}: field {field_name!r}: unknown model {name!r}; catalogue models live in "
            f"{MODELS_DIRNAME}/<id>.yaml{suggest(name, catalogue)}"
        )
        return None
    return entry.spec(record) if isinstance(entry, DerivedModel) else record.spec()


def pretraining_task_problems(
    catalogue: Mapping[str, ModelMeta], files: Mapping[str, Path], tasks: Mapping[str, object]
) -> list[str]:
    """One problem per catalogue record's `pretraining_data.tasks` id that is not a task of the registry."""
    return [
        f"{files[model_id]}: field 'pretraining_data.tasks': unknown task {name!r}{suggest(name, tasks)}"
        for model_id, record in sorted(catalogue.items())
        if record.pretraining_data is not None
        for name in record.pretraining_data.tasks
        if name not in tasks
    ]
