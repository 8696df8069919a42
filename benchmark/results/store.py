"""Result files on disk: where each lives, atomic writes, and validated reads that name a bad file.

A cell's file is the unit of progress: it is written atomically (`benchmark.utils.atomic`), so a file either
exists whole or not at all, and a cell whose file exists is finished. Reads validate against
`benchmark.results.schema` and `benchmark.results.validity` (metrics in their ranges, counts that agree), so the
leaderboard can refuse a corrupt, schema-violating or impossible file by name, and a rerun redoes its cell.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from benchmark.results.schema import CellResult, ResultFileError, SimilarityResult
from benchmark.results.validity import result_problems
from benchmark.specs.schema import Init
from benchmark.utils.atomic import atomic_write_text
from benchmark.utils.naming import safe_component, variant_dirname

SIMILARITY_DIRNAME = "_similarity"


def similarity_path(root: Path, suite: str, modality: str, check_encoder: str | None = None) -> Path:
    """`<root>/<suite>/_similarity/<modality>.json`, or `<modality>@<encoder>.json` for a check encoder's."""
    name = safe_component(modality) + (f"@{safe_component(check_encoder)}" if check_encoder else "")
    return Path(root) / safe_component(suite) / SIMILARITY_DIRNAME / f"{name}.json"


def result_path(root: Path, suite: str, model: str, init: Init, task: str, protocol: str, seed: int) -> Path:
    """`<root>/<suite>/<model>[__scratch]/<task>/<protocol>-seed<k>.json`, every component sanitised."""
    return (
        Path(root)
        / safe_component(suite)
        / variant_dirname(model, init)
        / safe_component(task)
        / f"{safe_component(protocol)}-seed{int(seed)}.json"
    )


def write_result(path: Path, result: CellResult | SimilarityResult) -> None:
    """Write atomically: a temporary file in the same directory, flushed, then renamed over the target. A cell's
    sample log (`--log-samples`) is left out: it has a file of its own (`benchmark.results.samples`)."""
    exclude = {"predictions": {"samples"}} if isinstance(result, CellResult) else None
    atomic_write_text(path, result.model_dump_json(indent=2, exclude=exclude))


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
        result = CellResult.model_validate_json(text)
    except ValidationError as error:
        first = error.errors()[0]
        if first["type"] == "json_invalid":
            raise ResultFileError(f"{path}: not a readable JSON result file: {first['msg']}") from None
        field = ".".join(str(part) for part in first["loc"]) or "<root>"
        raise ResultFileError(
            f"{path}: field {field!r}: {first['msg']} ({error.error_count()} problem(s) in all)"
        ) from None
    problems = result_problems(result)
    if problems:
        raise ResultFileError(f"{path}: {problems[0]} ({len(problems)} impossible value(s) in all)")
    return result


def find_result_files(root: Path) -> list[Path]:
    """Every cell result JSON below `root`, in a stable order: similarity files, temporary files and anything
    in a hidden folder (the feature cache, unfinished searches) are left out."""
    root = Path(root)
    return sorted(
        p
        for p in root.rglob("*.json")
        if SIMILARITY_DIRNAME not in p.parts and not any(part.startswith(".") for part in p.relative_to(root).parts)
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
