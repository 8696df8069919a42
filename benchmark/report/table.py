"""The results table: one row per cell, built from the result files alone, written as parquet and CSV.

This is the flat, documented export of a results tree: every column is declared once in `COLUMNS` with its
type and meaning, so the schema is stable whatever the results hold (a column that no cell fills is still
there, typed, and empty). `datasets.load_dataset("parquet", data_files=...)`, pandas and any SQL engine read
it directly; the HTML page and the Hub upload render from it. Rows are ordered by (suite, modality, task,
protocol, model, init, seed), and values depend only on the result files, so rebuilding gives the same table.

Every value comes from the cell's own record, never from other cells, so a row does not change when cells are
added. Metrics, the validation curve and library versions, whose names or lengths vary, are lists of structs
(`[{metric, value}]`, `[{step, epoch, train_elapsed_s, score}]`, `[{library, version}]`), which the Hub's dataset
viewer, `datasets` and pandas show as such; the CSV, which has no nesting, holds them as JSON text. The parquet file
carries pandas metadata, so `pandas.read_parquet` gives integer and boolean columns pandas' nullable `Int64` and
`boolean` (a cell that did not finish would otherwise turn them into float64).

No value depends on the machine the table is built on: `checkpoint` is the checkpoint's name (a Hub id or timm
name as given, a folder's last component), `checkpoint_spec` where the spec said to load it from (`{assets}/...`,
`<local>/...`, as the result file records it). `summarise` groups the rows over seeds (mean ± std, the scratch
twin, the speed-up over it) with the same functions as the markdown, for the HTML page and the Hub model cards.
"""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from benchmark.estimators.transferability import DISPLAY, NAMES
from benchmark.results.aggregate import Group, architecture_of, group_results, scratch_twin, speed_up
from benchmark.results.schema import CellResult
from benchmark.utils.atomic import atomic_write

# Bump when a column is renamed, removed or changes meaning or type; adding one keeps the version. 3: metrics,
# curve and versions as lists of structs (JSON text before), `checkpoint` the resolved name (the spec before).
TABLE_VERSION = 3
TABLE_STEM = "results_table"
PARQUET_NAME = f"{TABLE_STEM}.parquet"
CSV_NAME = f"{TABLE_STEM}.csv"
VERSION_KEY = b"transfer_bench.table_version"
ERROR_CHARS = 500
FOLDER_STARTS = ("{", "<", "/", "~", ".")  # a checkpoint spec that names a folder, not a Hub id or timm name

Row = dict[str, Any]


class TableVersionError(ValueError):
    """A results table written by another version of this module (its columns mean other things)."""


@dataclass(frozen=True)
class Column:
    """One column of the table: its name, arrow type, meaning, and how to read it from a record."""

    name: str
    dtype: pa.DataType
    description: str
    value: Callable[[CellResult], Any]


def _part(section: str, name: str) -> Callable[[CellResult], Any]:
    """Reader of `record.<section>.<name>`, None when the section is absent (cells that did not finish)."""
    return lambda r: getattr(getattr(r, section), name, None) if getattr(r, section) is not None else None


def _spec(*keys: str) -> Callable[[CellResult], Any]:
    """Reader of a value nested in the record's resolved specs, None when absent."""

    def read(record: CellResult) -> Any:
        value: Any = record.specs
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        return value

    return read


def _named(value: dict, key: str, item: str) -> list[dict]:
    """A mapping as a list of `{key: name, item: value}` structs in name order: a fixed arrow type for mappings
    whose names vary from task to task (the Hub's viewer and `datasets` have no map type)."""
    return [{key: name, item: value[name]} for name in sorted(value)]


def checkpoint_name(checkpoint: str | None) -> str | None:
    """The checkpoint's name, as no machine's folders spell it: a Hub id or timm name unchanged (`org/name`,
    `resnet50.a1_in1k`); a folder (a prepared asset `{assets}/checkpoints/X`, a redacted `<local>/X`, a path) by
    its last component `X`."""
    if checkpoint is None:
        return None
    text = checkpoint.replace("\\", "/").rstrip("/")
    return text.rsplit("/", 1)[-1] if text.startswith(FOLDER_STARTS) else text


def _chosen(name: str) -> Callable[[CellResult], float | None]:
    """The chosen configuration's hyper-parameter: from the search if there was one, else what the cell ran."""

    def read(record: CellResult) -> float | None:
        if record.search is not None and name in record.search.chosen_config:
            return record.search.chosen_config[name]
        return getattr(record.setup, name, None) if record.setup is not None else None

    return read


def _curve(record: CellResult) -> list[dict]:
    """The validation curve's points (per-point metric dicts left out: the main score is what matters)."""
    return [{name: getattr(point, name) for name in CURVE_FIELDS} for point in record.curve]


def _first_line(text: str | None) -> str | None:
    return text.strip().splitlines()[0][:ERROR_CHARS] if text and text.strip() else None


STRING, INT, FLOAT, BOOL = pa.string(), pa.int64(), pa.float64(), pa.bool_()
METRICS = pa.list_(pa.struct([("metric", STRING), ("value", FLOAT)]))
CURVE_FIELDS = ("step", "epoch", "train_elapsed_s", "score")
CURVE = pa.list_(pa.struct([("step", INT), *((name, FLOAT) for name in CURVE_FIELDS[1:])]))
VERSIONS = pa.list_(pa.struct([("library", STRING), ("version", STRING)]))

COLUMNS: tuple[Column, ...] = (
    # identity: these seven columns name a cell uniquely
    Column("suite", STRING, "Suite the cell belongs to.", lambda r: r.suite),
    Column("modality", STRING, "vision, text or audio.", lambda r: r.modality),
    Column("task", STRING, "Task id (tasks/<modality>/<task>.yaml).", lambda r: r.task),
    Column(
        "model",
        STRING,
        "Model id in the suite; for a scratch twin, its architecture's name (one twin per architecture).",
        lambda r: _variant_model(r),
    ),
    Column("init", STRING, "pretrained, or scratch (same architecture, random initialisation).", lambda r: r.init),
    Column("protocol", STRING, "finetune (all weights) or linear_probe (frozen backbone).", lambda r: r.protocol),
    Column("seed", INT, "Training seed.", lambda r: r.seed),
    # what was run
    Column(
        "checkpoint",
        STRING,
        "The checkpoint's name: a Hub id or timm name as given, a folder's last component (`checkpoint_spec` says "
        "where it was loaded from); for a checkpoint the suite pretrains, the one its pretraining started from.",
        lambda r: checkpoint_name(_spec("model", "checkpoint")(r)),
    ),
    Column(
        "checkpoint_spec",
        STRING,
        "The checkpoint as the model spec gave it: a Hub id, timm name, or folder relative to a named root "
        "(`{assets}/...`: the prepared offline assets) or redacted (`<local>/...`).",
        _spec("model", "checkpoint"),
    ),
    Column(
        "pretrain_task",
        STRING,
        "Source task of a checkpoint the suite pretrains itself (its pretraining stage); empty otherwise.",
        _spec("model", "pretrain", "task"),
    ),
    Column(
        "pretrain_init",
        STRING,
        "What that pretraining started from: pretrained (`checkpoint`'s weights) or scratch (its architecture).",
        _spec("model", "pretrain", "init"),
    ),
    Column("library", STRING, "timm or transformers.", _spec("model", "library")),
    Column(
        "architecture",
        STRING,
        "The checkpoint's architecture: its scratch twin is the row of this name with init scratch.",
        architecture_of,
    ),
    Column(
        "model_revision",
        STRING,
        "Resolved revision of the checkpoint, if known.",
        lambda r: r.revisions.get("model"),
    ),
    Column("dataset_path", STRING, "`path` argument of datasets.load_dataset.", _spec("task", "dataset", "path")),
    Column("dataset_revision", STRING, "Dataset revision, if pinned.", lambda r: r.revisions.get("dataset")),
    # outcome
    Column("status", STRING, "ok, diverged or failed; only ok cells have scores.", lambda r: r.status),
    Column("error", STRING, "First line of the error of a cell that did not finish.", lambda r: _first_line(r.error)),
    Column("diverged_at_step", INT, "Optimizer step at which the loss diverged.", lambda r: r.diverged_at_step),
    # quality
    Column("main_metric", STRING, "The task's main metric.", lambda r: r.main_metric),
    Column("test_score", FLOAT, "Main metric on the test split, read once after training.", lambda r: r.main_score),
    Column(
        "validation_score",
        FLOAT,
        "Main metric of the chosen configuration on the validation split.",
        lambda r: r.validation_metrics.get(r.main_metric),
    ),
    Column(
        "chance",
        FLOAT,
        "Main metric of always predicting the majority class.",
        lambda r: r.chance.get(r.main_metric),
    ),
    Column(
        "test_metrics",
        METRICS,
        "Every test metric, as a list of {metric, value} in name order.",
        lambda r: _named(r.metrics, "metric", "value"),
    ),
    Column(
        "validation_metrics",
        METRICS,
        "Every validation metric of the chosen configuration, as a list of {metric, value} in name order.",
        lambda r: _named(r.validation_metrics, "metric", "value"),
    ),
    # selection and convergence
    Column("learning_rate", FLOAT, "Chosen learning rate (on validation).", _chosen("learning_rate")),
    Column("weight_decay", FLOAT, "Chosen weight decay (on validation).", _chosen("weight_decay")),
    Column(
        "search_method",
        STRING,
        "successive_halving or batched_heads; empty without a search.",
        lambda r: r.search.method if r.search else None,
    ),
    Column(
        "search_candidates",
        INT,
        "Configurations the search compared.",
        lambda r: len(r.search.candidates) if r.search else None,
    ),
    Column(
        "search_wall_s", FLOAT, "Wall-clock seconds of the search.", lambda r: r.search.wall_s if r.search else None
    ),
    Column(
        "converged",
        BOOL,
        "Whether the validation curve had flattened by the end of the budget.",
        lambda r: r.convergence.flattened if r.convergence else None,
    ),
    Column(
        "late_gain",
        FLOAT,
        "Validation gain in the last quarter of the budget.",
        lambda r: r.convergence.late_gain if r.convergence else None,
    ),
    Column(
        "convergence_tolerance",
        FLOAT,
        "Largest late gain still counted as flattened (0.01 or one validation example).",
        lambda r: r.convergence.tolerance if r.convergence else None,
    ),
    Column(
        "validation_curve",
        CURVE,
        "Validation evaluations during training: a list of {step, epoch, train_elapsed_s, score}.",
        _curve,
    ),
    # time
    Column("train_wall_s", FLOAT, "Training wall-clock seconds, evaluation excluded.", _part("timing", "train_wall_s")),
    Column("eval_wall_s", FLOAT, "Evaluation wall-clock seconds.", _part("timing", "eval_wall_s")),
    Column("total_wall_s", FLOAT, "Whole-cell wall-clock seconds.", _part("timing", "total_wall_s")),
    Column("samples_per_s", FLOAT, "Training throughput, examples per second.", _part("timing", "samples_per_s")),
    Column(
        "feature_wall_s", FLOAT, "Frozen-feature extraction seconds (linear probes).", _part("timing", "feature_wall_s")
    ),
    # training settings
    Column("optimizer_steps", INT, "Optimizer steps of the final run.", _part("setup", "optimizer_steps")),
    Column("epochs", FLOAT, "Epochs of the final run.", _part("setup", "epochs")),
    Column("batch_size", INT, "Batch size per step (after any out-of-memory halving).", _part("setup", "batch_size")),
    Column(
        "gradient_accumulation_steps",
        INT,
        "Gradient accumulation steps.",
        _part("setup", "gradient_accumulation_steps"),
    ),
    # complexity
    Column("params_total", INT, "Parameters of the whole network.", _part("complexity", "params_total")),
    Column("params_trainable", INT, "Parameters trained under this protocol.", _part("complexity", "params_trainable")),
    Column(
        "flops_per_example",
        FLOAT,
        "Forward FLOPs per example at the task's input size.",
        _part("complexity", "flops_per_example"),
    ),
    Column(
        "peak_memory_bytes",
        INT,
        "Peak accelerator (or process) memory of the cell.",
        _part("complexity", "peak_memory_bytes"),
    ),
    # transferability estimators (linear-probe cells, frozen features, no training)
    *(
        Column(
            f"estimator_{name}",
            FLOAT,
            f"{DISPLAY[name]} on the frozen training features; empty where undefined or not computed.",
            lambda r, name=name: r.estimators.get(name),
        )
        for name in NAMES
    ),
    # hardware and data
    Column("device", STRING, "torch device of the run.", _part("setup", "device")),
    Column("hardware", STRING, "CPU or GPU name.", _part("setup", "hardware")),
    Column("precision", STRING, "Mixed precision: no, fp16 or bf16.", _part("setup", "precision")),
    Column("world_size", INT, "Processes (devices) the run used.", _part("setup", "world_size")),
    Column("num_train", INT, "Training examples.", _part("setup", "num_train")),
    Column("num_validation", INT, "Validation examples.", _part("setup", "num_validation")),
    Column("num_test", INT, "Test examples.", _part("setup", "num_test")),
    Column("num_labels", INT, "Classes.", _part("setup", "num_labels")),
    Column("feature_dim", INT, "Width of the frozen features (linear probes).", _part("setup", "feature_dim")),
    # provenance
    Column(
        "schema_version",
        INT,
        "Version of the result-file schema the cell was written with.",
        lambda r: r.schema_version,
    ),
    Column("created_at", STRING, "When the result file was written (UTC, ISO 8601).", lambda r: r.created_at),
    Column(
        "versions",
        VERSIONS,
        "Library versions of the run, as a list of {library, version} in name order.",
        lambda r: _named(r.versions, "library", "version"),
    ),
)
COLUMN_NAMES = tuple(column.name for column in COLUMNS)
IDENTITY = COLUMN_NAMES[:7]  # these name a cell uniquely
GROUP_COLUMNS = IDENTITY[:6]  # a cell without its seed: what the leaderboard averages over


def table_schema() -> pa.Schema:
    """The arrow schema: every column typed and described; the table version and pandas' metadata in the schema's."""
    fields = [pa.field(c.name, c.dtype, metadata={b"description": c.description.encode()}) for c in COLUMNS]
    return pa.schema(fields, metadata={VERSION_KEY: str(TABLE_VERSION).encode(), b"pandas": _pandas_metadata()})


def _pandas_metadata() -> bytes:
    """pandas' own schema metadata (the format pyarrow writes for a DataFrame), naming nullable `Int64` and `boolean`
    for the integer and boolean columns: `pandas.read_parquet` and `Table.to_pandas` then keep them integers and
    booleans where a cell left them empty. Written here rather than by pandas, so the bytes do not depend on it."""
    kinds = {
        INT: ("int64", "Int64"),
        BOOL: ("bool", "boolean"),
        FLOAT: ("float64", "float64"),
        STRING: ("unicode", "object"),
    }
    columns = []
    for column in COLUMNS:
        pandas_type, numpy_type = kinds.get(column.dtype, ("object", "object"))
        columns.append(
            {"name": column.name, "field_name": column.name, "pandas_type": pandas_type, "numpy_type": numpy_type}
        )
    metadata = {"index_columns": [], "column_indexes": [], "columns": columns}
    return json.dumps(metadata, separators=(",", ":")).encode()


def table_rows(results: Iterable[CellResult]) -> list[Row]:
    """One row per cell, in the table's stable order."""
    return [{c.name: _cast(c, c.value(record)) for c in COLUMNS} for record in sorted(results, key=_order)]


def _order(record: CellResult) -> tuple:
    return (
        record.suite,
        record.modality,
        record.task,
        record.protocol,
        _variant_model(record),
        record.init,
        record.seed,
    )


def _variant_model(record: CellResult) -> str:
    """The model column: the checkpoint's id, or for a scratch twin its architecture (as `group_results` keys it)."""
    return architecture_of(record) if record.init == "scratch" else record.model


def _cast(column: Column, value: Any) -> Any:
    """Values as the column's Python type, so that ints read from floats or bools stay one type per column (lists
    of structs are built typed)."""
    if value is None or pa.types.is_list(column.dtype):
        return value
    if column.dtype == FLOAT:
        return float(value)
    if column.dtype == INT:
        return int(value)
    if column.dtype == BOOL:
        return bool(value)
    return str(value)


def results_table(results: Iterable[CellResult]) -> pa.Table:
    """The results as an arrow table with the documented schema."""
    return pa.Table.from_pylist(table_rows(results), schema=table_schema())


def write_results_table(results: Iterable[CellResult], out_dir: Path) -> tuple[Path, Path]:
    """Write `<out_dir>/results_table.parquet` and `.csv` atomically; return both paths."""
    rows = table_rows(results)
    table = pa.Table.from_pylist(rows, schema=table_schema())
    out_dir = Path(out_dir)
    parquet = atomic_write(out_dir / PARQUET_NAME, lambda handle: pq.write_table(table, handle, compression="zstd"))
    text = to_csv(rows)
    csv_path = atomic_write(out_dir / CSV_NAME, lambda handle: handle.write(text.encode("utf-8")))
    return parquet, csv_path


def to_csv(rows: list[Row]) -> str:
    """CSV text with a header row: empty for null, `true`/`false` for booleans, floats in shortest round-trip
    form (so `float(text)` gives back the stored value exactly), lists of structs as compact JSON text."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMN_NAMES)
    for row in rows:
        writer.writerow([_csv_cell(row[name]) for name in COLUMN_NAMES])
    return buffer.getvalue()


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def read_results_table(path: Path) -> list[Row]:
    """The rows of a parquet results table written by this module, checked against the current schema."""
    table = pq.read_table(path)
    version = (table.schema.metadata or {}).get(VERSION_KEY)
    if version != str(TABLE_VERSION).encode():
        found = version.decode() if version else "unknown"
        raise TableVersionError(
            f"{path}: results table version {found}, this transfer-bench reads version {TABLE_VERSION}; rebuild "
            "it from its result files: transfer-bench leaderboard --results RESULTS --out FOLDER"
        )
    missing = [name for name in COLUMN_NAMES if name not in table.column_names]
    if missing:
        raise ValueError(f"{path}: results table lacks columns {missing}")
    return table.select(list(COLUMN_NAMES)).to_pylist()


def schema_markdown() -> str:
    """The column reference as a markdown table (for the dataset card and the docs)."""
    lines = ["| Column | Type | Meaning |", "|---|---|---|"]
    lines += [f"| `{c.name}` | {c.dtype} | {c.description} |" for c in COLUMNS]
    return "\n".join(lines)


@dataclass(frozen=True)
class Summary:
    """The seeds of one (suite, modality, task, model, init, protocol), summarised from table rows.

    Means are over the seeds whose status is ok. For a pretrained group, `scratch_mean` and `gain` compare it with
    its scratch twin, and `speed_up` is how much faster it reached the validation quality every scratch seed
    reached (`benchmark.results.aggregate.speed_up`: 0 when it never did); None where there is nothing to compare.
    """

    suite: str
    modality: str
    task: str
    model: str
    init: str
    protocol: str
    main_metric: str
    checkpoint: str | None
    checkpoint_spec: str | None
    library: str | None
    dataset_path: str | None
    dataset_revision: str | None
    cells: int
    seeds_ok: int
    mean: float | None
    std: float | None
    chance: float | None
    validation_mean: float | None
    learning_rates: tuple[float, ...]
    weight_decays: tuple[float, ...]
    converged: int | None  # seeds whose curve had flattened; None when no seed recorded convergence
    train_wall_s: float | None
    params_total: float | None
    flops_per_example: float | None
    estimators: dict[str, float | None]
    scratch_mean: float | None
    gain: float | None
    speed_up: float | None


def summarise(rows: Iterable[Row]) -> list[Summary]:
    """Table rows grouped over seeds, in the table's group order (suite, modality, task, protocol, model, init)."""
    rows = list(rows)
    groups = group_results([row_record(row) for row in rows])
    members: dict[tuple, list[Row]] = {}
    for row in rows:
        members.setdefault(tuple(row[name] for name in GROUP_COLUMNS), []).append(row)
    summaries = []
    for key, group in groups.items():
        twin = scratch_twin(groups, key) if key.init == "pretrained" else None
        mine = members[(key.suite, key.modality, key.task, key.model, key.init, key.protocol)]
        summaries.append(_summary(group, twin, mine))
    return summaries


def row_record(row: Row) -> CellResult:
    """The parts of a cell's record that grouping needs (scores, chance, curve, convergence), from its row."""
    main = row["main_metric"]
    convergence = None
    if row["converged"] is not None:
        convergence = {
            "flattened": row["converged"],
            "late_gain": row["late_gain"] or 0.0,
            "tolerance": row["convergence_tolerance"] or 0.0,
        }
    return CellResult(
        **{name: row[name] for name in (*GROUP_COLUMNS, "seed", "status")},
        main_metric=main,
        metrics={} if row["test_score"] is None else {main: row["test_score"]},
        validation_metrics={} if row["validation_score"] is None else {main: row["validation_score"]},
        chance={} if row["chance"] is None else {main: row["chance"]},
        curve=[{**point, "metrics": {}} for point in row["validation_curve"] or []],
        convergence=convergence,
        specs={"model": {"architecture": row["architecture"]}} if row["architecture"] else {},
    )


def _summary(group: Group, twin: Group | None, rows: list[Row]) -> Summary:
    ok = [row for row in rows if row["status"] == "ok"]
    up = speed_up(group, twin) if twin is not None else None
    key, first = group.key, rows[0]
    has_twin = twin is not None and twin.mean is not None and group.mean is not None
    return Summary(
        key.suite,
        key.modality,
        key.task,
        key.model,
        key.init,
        key.protocol,
        main_metric=first["main_metric"],
        checkpoint=first["checkpoint"],
        checkpoint_spec=first["checkpoint_spec"],
        library=first["library"],
        dataset_path=first["dataset_path"],
        dataset_revision=first["dataset_revision"],
        cells=len(rows),
        seeds_ok=len(group.scores),
        mean=group.mean,
        std=group.std if group.scores else None,
        chance=group.chance,
        validation_mean=group.validation_mean,
        learning_rates=_distinct(row["learning_rate"] for row in ok),
        weight_decays=_distinct(row["weight_decay"] for row in ok),
        converged=_count_true(row["converged"] for row in ok),
        train_wall_s=_mean(row["train_wall_s"] for row in ok),
        params_total=_mean(row["params_total"] for row in ok),
        flops_per_example=_mean(row["flops_per_example"] for row in ok),
        estimators={name: _mean(row[f"estimator_{name}"] for row in ok) for name in NAMES},
        scratch_mean=twin.mean if has_twin else None,
        gain=group.mean - twin.mean if has_twin else None,
        speed_up=up.ratio if up is not None else None,
    )


def _count_true(flags: Iterable[bool | None]) -> int | None:
    """How many flags are set, or None when none was recorded."""
    recorded = [flag for flag in flags if flag is not None]
    return sum(recorded) if recorded else None


def _distinct(values: Iterable[float | None]) -> tuple[float, ...]:
    return tuple(sorted({v for v in values if v is not None}))


def _mean(values: Iterable[float | None]) -> float | None:
    present = [float(v) for v in values if v is not None and not math.isnan(v)]
    return statistics.fmean(present) if present else None
