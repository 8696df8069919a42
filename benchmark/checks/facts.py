"""Shared by the parts of the deep check (and the library adapters' checkpoint checks): located problems, and what
was found about a dataset or a checkpoint."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import datasets

LOAD_ARGUMENTS = ("name", "data_dir", "data_files", "revision")


SPLIT_FIELDS = ("train_split", "validation_split", "eval_split")


TEXT_DTYPES = ("string", "large_string")


WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)


TIMM_WEIGHT_PATTERNS = ("*.safetensors", "*.pth", "*.bin")


LOCAL_PREFIXES = ("/", "./", "../", "~")


Progress = Callable[[str], None]


def looks_local(checkpoint: str) -> bool:
    """Whether a checkpoint names a folder (a path, or an existing directory) rather than a hub name."""
    return checkpoint.startswith(LOCAL_PREFIXES) or Path(checkpoint).is_dir()


class FieldProblem(Exception):
    """One mismatch between a spec field and what it names."""

    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field_name = field_name
        self.message = message


class FieldProblems(Exception):
    """Several independent mismatches found by one check (a wrong model type and a missing tokenizer, say)."""

    def __init__(self, problems: list[FieldProblem]):
        super().__init__("; ".join(problem.message for problem in problems))
        self.problems = problems


@dataclass(frozen=True)
class DatasetFacts:
    """What a dataset spec resolves to: its config, splits (rows where known without data) and columns."""

    config: str | None
    splits: dict[str, int | None]
    features: datasets.Features | None
    # problems of the whole label column (read for formats without declared features: csv, json)
    label_problems: tuple[FieldProblem, ...] = ()


@dataclass(frozen=True)
class CheckpointFacts:
    """What a checkpoint resolves to; the Whisper fields are set for Whisper encoders only."""

    description: str
    whisper_positions: int | None = None
    sampling_rate: int | None = None
    hop_length: int | None = None


def one_line(error: Exception) -> str:
    """An error's first two non-empty lines as one (library errors can run to pages)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return " ".join(lines[:2]) or type(error).__name__
