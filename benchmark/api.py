"""The Python API: `from benchmark import evaluate`, the command line's run as a function returning a DataFrame.

    import benchmark

    table = benchmark.evaluate("demo", tasks=["digits"], models=["efficientnet_lite0"], overrides={"max_steps": 8})
    table.groupby(["model", "init", "protocol"])["main_score"].mean()

`evaluate` takes the same options as `transfer-bench run` (it builds that command line and runs it through the
same parser, so an option means the same thing in both and is validated the same way): the suite, the tasks and
models to narrow it to, models to add (`--model` values), the output folder, and any other run option by its
name in `overrides` (`max_steps`, `max_train_samples`, `seeds`, `no_scratch`, ...). Finished cells whose settings
match are reused, as on the command line. It returns the suite's rows of the results table
(`benchmark.report.table`: one row per cell, the columns documented in the leaderboard's table schema).
"""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmark.utils.naming import suggest

if TYPE_CHECKING:
    import pandas

EXIT_CELLS_FAILED = 1
# evaluate's own arguments, not overrides
NAMED_ARGUMENTS = {"suite", "tasks", "models", "model", "output_dir", "log_samples"}


class EvaluationError(RuntimeError):
    """A run that could not start or finish: bad specs or options (exit status 2), or an interrupted run."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


def evaluate(
    suite: str,
    *,
    tasks: Iterable[str] | None = None,
    models: Iterable[str] | None = None,
    add_models: Iterable[str] = (),
    output_dir: str | Path = "results",
    log_samples: bool = False,
    overrides: Mapping[str, Any] | None = None,
) -> pandas.DataFrame:
    """Run (or reuse) every cell of `suite`, narrowed to `tasks` and `models` (ids) and joined by `add_models`
    (`--model` values: `timm:NAME`, `hf:ID[@REVISION]`, a folder), into `output_dir`; return the suite's results
    table as a pandas DataFrame. `log_samples` writes each cell's per-example test predictions to its own file
    (`--log-samples`: `benchmark.results.samples`).

    `overrides` holds any other option of `transfer-bench run` under its Python name (`max_steps=8`,
    `tasks_dir=...`, `no_scratch=True`, `seeds=[0, 1]`); an unknown name is an error naming the nearest one.
    Failed cells are rows with status `failed` (and a warning); a run that cannot start raises `EvaluationError`.
    """
    argv = command_line(
        suite, tasks=tasks, models=models, add_models=add_models, output_dir=output_dir, log_samples=log_samples
    )
    argv += override_arguments(overrides or {})
    from benchmark.run import main

    exit_code = main(argv, prog="benchmark.evaluate")
    if exit_code not in (0, EXIT_CELLS_FAILED):
        raise EvaluationError(
            f"benchmark.evaluate({suite!r}) stopped with exit status {exit_code}; the reason is printed above",
            exit_code,
        )
    table = results_frame(Path(output_dir), suite)
    if exit_code == EXIT_CELLS_FAILED:
        failed = int((table["status"] == "failed").sum()) if len(table) else 0
        warnings.warn(f"{failed} cell(s) of suite {suite!r} failed; see their `error` column", stacklevel=2)
    return table


def command_line(
    suite: str,
    *,
    tasks: Iterable[str] | None = None,
    models: Iterable[str] | None = None,
    add_models: Iterable[str] = (),
    output_dir: str | Path = "results",
    log_samples: bool = False,
) -> list[str]:
    """The `transfer-bench run` arguments of the named options."""
    argv = ["--suite", suite, "--output-dir", str(output_dir), *(["--log-samples"] if log_samples else [])]
    if tasks is not None:
        argv += ["--tasks", _joined(tasks)]
    if models is not None:
        argv += ["--models", _joined(models)]
    for model in _as_list(add_models):
        argv += ["--model", model]
    return argv


def override_arguments(overrides: Mapping[str, Any]) -> list[str]:
    """Command-line arguments for options given by their Python names, checked against the run's parser."""
    actions = _run_options()
    argv: list[str] = []
    for name, value in overrides.items():
        action = actions.get(name)
        if action is None or name in NAMED_ARGUMENTS:
            where = f"; pass it as evaluate(..., {name}=...)" if name in NAMED_ARGUMENTS else ""
            raise ValueError(f"evaluate: unknown run option {name!r}{where}{suggest(name, actions)}")
        argv += _arguments(action, name, value)
    return argv


def results_frame(output_dir: Path, suite: str) -> pandas.DataFrame:
    """The rows of `suite` in the results table of every result file under `output_dir`, as a DataFrame whose
    integer and boolean columns keep their types (pandas' nullable `Int64` and `boolean`)."""
    import pandas as pd
    import pyarrow as pa

    from benchmark.report.leaderboard import load_results
    from benchmark.report.table import results_table

    results = [result for result in load_results(output_dir) if result.suite == suite]
    # Nullable integer and boolean columns: a cell that did not finish has no step count, which would otherwise
    # turn every integer column into float64.
    nullable = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}
    return results_table(results).to_pandas(types_mapper=nullable.get)


def _run_options() -> dict[str, argparse.Action]:
    """The run parser's options by destination name (`max_steps`), without help and the exit-early modes."""
    from benchmark.run import build_parser

    early = {"help", "list", "validate", "deep"}
    return {action.dest: action for action in build_parser()._actions if action.dest not in early}


def _arguments(action: argparse.Action, name: str, value: Any) -> list[str]:
    """One option's arguments: a flag for `True`, nothing for `False`/`None`, repeated for `--model`-like lists."""
    flag = action.option_strings[-1]
    if isinstance(action, argparse._StoreTrueAction):
        if not isinstance(value, bool):
            raise ValueError(f"evaluate: option {name!r} is on or off: pass True or False, not {value!r}")
        return [flag] if value else []
    if value is None:
        return []
    if isinstance(action, argparse._AppendAction):
        return [part for item in _as_list(value) for part in (flag, str(item))]
    if isinstance(value, list | tuple):
        return [flag, ",".join(str(item) for item in value)]
    return [flag, str(value)]


def _as_list(values: Iterable[str] | str) -> list[str]:
    if isinstance(values, str):  # a lone string would otherwise be read as its characters
        return [values]
    return [str(value) for value in values]


def _joined(values: Iterable[str] | str) -> str:
    return ",".join(_as_list(values))
