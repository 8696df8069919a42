"""Result files: one JSON per (suite, model, init, task, protocol, seed), written atomically.

A cell's file is the unit of progress: it is written to a temporary file in the same directory and renamed,
so a file either exists whole or not at all, and a cell whose file exists is finished. The schema is a
pydantic model so the leaderboard can refuse a corrupt or schema-violating file by name.
"""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from benchmark.naming import safe_component
from benchmark.specs import Init, Modality, Protocol

SCHEMA_VERSION = 1
Status = Literal["ok", "diverged", "failed"]


class ResultFileError(Exception):
    """A result file cannot be read or does not match the schema."""


class CurvePoint(BaseModel):
    """One evaluation during training."""

    model_config = ConfigDict(extra="forbid")
    step: int
    epoch: float
    train_elapsed_s: float
    score: float
    metrics: dict[str, float]


class CellResult(BaseModel):
    """Everything measured for one cell, plus what it was run with."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())
    schema_version: int = SCHEMA_VERSION
    suite: str
    model: str
    init: Init
    task: str
    modality: Modality
    protocol: Protocol
    seed: int
    status: Status
    error: str | None = None
    diverged_at_step: int | None = None
    main_metric: str
    metrics: dict[str, float] = Field(default_factory=dict)
    chance: dict[str, float] = Field(default_factory=dict)
    curve: list[CurvePoint] = Field(default_factory=list)
    timing: dict[str, float] = Field(default_factory=dict)
    complexity: dict[str, float | int | str | None] = Field(default_factory=dict)
    estimators: dict[str, float | None] = Field(default_factory=dict)  # None: undefined for these features
    setup: dict[str, str | int | float | bool | None] = Field(default_factory=dict)
    versions: dict[str, str] = Field(default_factory=dict)
    revisions: dict[str, str | None] = Field(default_factory=dict)
    specs: dict = Field(default_factory=dict)
    created_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def main_score(self) -> float | None:
        return self.metrics.get(self.main_metric)


class SimilarityResult(BaseModel):
    """Task-to-task distances of one suite and modality, measured in one fixed encoder's feature space.

    `distances[method]` is a symmetric matrix over `tasks` (zero diagonal; smaller = more similar), for the
    methods of `benchmark.similarity` ("bures": class-conditional Fréchet/Bures optimal transport distance,
    "task2vec": Task2Vec cosine distance of Fisher embeddings). `source_to_target[model][task]` holds, per
    method, the distance from a model's declared pretraining sample to each task.
    """

    model_config = ConfigDict(extra="forbid", protected_namespaces=())
    schema_version: int = SCHEMA_VERSION
    suite: str
    modality: Modality
    encoder: str
    tasks: list[str]
    distances: dict[str, list[list[float | None]]]
    source_to_target: dict[str, dict[str, dict[str, float]]] = Field(default_factory=dict)


SIMILARITY_DIRNAME = "_similarity"


def similarity_path(root: Path, suite: str, modality: str) -> Path:
    """`<root>/<suite>/_similarity/<modality>.json`."""
    return Path(root) / safe_component(suite) / SIMILARITY_DIRNAME / f"{safe_component(modality)}.json"


def model_dirname(model: str, init: Init) -> str:
    """Directory name of a model variant: the pretrained model keeps its id, its twin gets `__scratch`."""
    return safe_component(model) + ("__scratch" if init == "scratch" else "")


def result_path(root: Path, suite: str, model: str, init: Init, task: str, protocol: str, seed: int) -> Path:
    """`<root>/<suite>/<model>[__scratch]/<task>/<protocol>-seed<k>.json`, every component sanitised."""
    return (
        Path(root)
        / safe_component(suite)
        / model_dirname(model, init)
        / safe_component(task)
        / f"{safe_component(protocol)}-seed{int(seed)}.json"
    )


def write_result(path: Path, result: CellResult | SimilarityResult) -> None:
    """Write atomically: a temporary file in the same directory, flushed, then renamed over the target."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(result.model_dump_json(indent=2))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def read_result(path: Path) -> CellResult:
    """Parse and validate one result file; any problem raises `ResultFileError` naming the file.

    pydantic parses the JSON text itself (no intermediate dicts), which halves the load time of a large
    results tree.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ResultFileError(f"{path}: not a readable JSON result file: {error}") from None
    try:
        return CellResult.model_validate_json(text)
    except ValidationError as error:
        first = error.errors()[0]
        if first["type"] == "json_invalid":
            raise ResultFileError(f"{path}: not a readable JSON result file: {first['msg']}") from None
        field = ".".join(str(part) for part in first["loc"]) or "<root>"
        raise ResultFileError(
            f"{path}: field {field!r}: {first['msg']} ({error.error_count()} problem(s) in all)"
        ) from None


def find_result_files(root: Path) -> list[Path]:
    """Every cell result JSON below `root`, in a stable order (temporary and similarity files excluded)."""
    return sorted(
        p for p in Path(root).rglob("*.json") if not p.name.startswith(".") and SIMILARITY_DIRNAME not in p.parts
    )


def find_similarity_files(root: Path) -> list[Path]:
    """Every similarity JSON below `root`, in a stable order."""
    return sorted(p for p in Path(root).rglob(f"{SIMILARITY_DIRNAME}/*.json") if not p.name.startswith("."))


def read_similarity(path: Path) -> SimilarityResult:
    """Parse and validate one similarity file; any problem raises `ResultFileError` naming the file."""
    try:
        return SimilarityResult.model_validate_json(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValidationError) as error:
        raise ResultFileError(f"{path}: not a valid similarity file: {str(error).splitlines()[0]}") from None
