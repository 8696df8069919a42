"""A result record as it may be written and shared: paths redacted, impossible values refused.

The suite passes every record through `publishable` just before writing it, and the leaderboard passes every
record it reads through `public_result`, so files written by older versions or edited by hand are published
without local paths too.
"""

from __future__ import annotations

from benchmark.results.schema import CellResult
from benchmark.results.validity import result_problems
from benchmark.utils.public import redact_data, redact_text


def public_result(result: CellResult, roots: list[tuple[str, str]] = ()) -> CellResult:
    """The record with every absolute path in it (error, specs, fingerprint settings, command line, revisions,
    metric names) rewritten relative to `roots` or redacted (`benchmark.utils.public`).

    Only the fields that hold free text are walked, so the leaderboard can pass 10,000 records through it; a
    record whose metric names hold a path (`evaluate:/a/folder`) is walked whole.
    """
    if any("/" in name for name in (result.main_metric, *result.metrics, *result.validation_metrics)):
        return CellResult.model_validate(redact_data(result.model_dump(mode="json"), roots))
    update = {
        "error": redact_text(result.error, roots) if result.error else result.error,
        "specs": redact_data(result.specs, roots),
        "revisions": redact_data(result.revisions, roots),
    }
    if result.fingerprint is not None:  # the digest (what reuse compares) is kept; the settings are shown
        update["fingerprint"] = result.fingerprint.model_copy(
            update={"settings": redact_data(result.fingerprint.settings, roots)}
        )
    if result.provenance is not None:
        update["provenance"] = result.provenance.model_copy(
            update={"command": redact_data(result.provenance.command, roots)}
        )
    return result.model_copy(update=update)


def publishable(result: CellResult, roots: list[tuple[str, str]] = ()) -> CellResult:
    """`public_result`, and a finished record with impossible values (`result_problems`) turned into a failed one
    that says why, so no such number is ever written."""
    problems = result_problems(result)
    if problems and result.status != "failed":
        result = result.model_copy(
            update={
                "status": "failed",
                "error": f"impossible result, not published: {problems[0]} ({len(problems)} in all)",
                "metrics": {},
                "validation_metrics": {},
                "chance": {},
                "validation_chance": {},
                "curve": [],
                "predictions": None,
            }
        )
    return public_result(result, roots)
