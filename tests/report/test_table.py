"""The results table: one row per cell, a fixed documented schema, readable by datasets and pandas, stable bytes."""

from __future__ import annotations

import json
import math

import pandas as pd
import pyarrow.parquet as pq
import pytest

from benchmark.report.table import (
    COLUMN_NAMES,
    COLUMNS,
    CSV_NAME,
    IDENTITY,
    PARQUET_NAME,
    VERSION_KEY,
    TableVersionError,
    read_results_table,
    schema_markdown,
    summarise,
    table_rows,
    table_schema,
    write_results_table,
)
from benchmark.results.aggregate import group_results, scratch_twin, speed_up
from benchmark.utils.naming import architecture_name
from testkit.records import make_result
from testkit.suite_records import CHECKPOINTS, synthetic_score, synthetic_suite

VIT_ARCHITECTURE = architecture_name(CHECKPOINTS["vit_tiny"])  # a local folder: its name and a hash of its path


@pytest.fixture(scope="module")
def records():
    return synthetic_suite()


@pytest.fixture()
def written(tmp_path, records):
    parquet, csv_path = write_results_table(records, tmp_path)
    return parquet, csv_path


def nan_to_none(series) -> list:
    return [None if isinstance(v, float) and math.isnan(v) else v for v in series]


def cell(rows, **identity):
    """The one row whose identity columns match."""
    matches = [row for row in rows if all(row[k] == v for k, v in identity.items())]
    assert len(matches) == 1, identity
    return matches[0]


def test_one_row_per_cell_in_stable_order(records):
    rows = table_rows(reversed(records))
    assert len(rows) == len(records)
    identities = [tuple(row[name] for name in IDENTITY) for row in rows]
    assert len(set(identities)) == len(rows)
    order = [(r["suite"], r["modality"], r["task"], r["protocol"], r["model"], r["init"], r["seed"]) for r in rows]
    assert order == sorted(order)
    assert rows == table_rows(records)


def test_row_values_come_from_the_record(records):
    rows = table_rows(records)
    probe = cell(rows, model="vit_tiny", init="pretrained", task="colours", protocol="linear_probe", seed=1)
    expected = synthetic_score("vit_tiny", "pretrained", "colours", "linear_probe", 1)
    assert probe["status"] == "ok"
    assert probe["test_score"] == expected
    assert probe["validation_score"] == pytest.approx(expected - 0.01)
    assert probe["chance"] == pytest.approx(1 / 3)
    assert probe["test_metrics"] == [
        {"metric": "accuracy", "value": expected},
        {"metric": "f1_macro", "value": pytest.approx(expected - 0.03)},
    ]
    assert (probe["learning_rate"], probe["weight_decay"]) == (1e-3, 0.01)  # the search's chosen configuration
    assert (probe["search_method"], probe["search_candidates"]) == ("batched_heads", 2)
    assert probe["converged"] is False and probe["late_gain"] == 0.02
    assert probe["train_wall_s"] == 5.0 and probe["params_total"] == 5_500_000 and probe["params_trainable"] == 1000
    assert probe["flops_per_example"] == 1e9 and probe["feature_dim"] == 64
    assert probe["estimator_logme"] == pytest.approx(expected - 1.5) and probe["estimator_leep"] == -0.5
    assert (probe["hardware"], probe["world_size"], probe["num_validation"], probe["num_test"]) == (
        "AMD EPYC",
        1,
        32,
        100,
    )
    assert (probe["checkpoint"], probe["library"], probe["dataset_path"]) == ("vit_tiny", "timm", "org/colours")
    assert probe["checkpoint_spec"] == "/models/vit_tiny"
    assert [p["step"] for p in probe["validation_curve"]] == [10, 20]
    assert probe["versions"] == [{"library": "timm", "version": "1.0.15"}, {"library": "torch", "version": "2.11.0"}]


def test_a_cell_that_did_not_finish_has_status_and_reason_but_no_scores(records):
    failed = cell(table_rows(records), status="failed")
    assert failed["error"] == "CUDA out of memory"
    assert failed["test_score"] is None and failed["train_wall_s"] is None and failed["converged"] is None
    assert failed["validation_curve"] == [] and failed["test_metrics"] == []


def test_the_schema_is_fixed_typed_and_documented_even_without_results(tmp_path):
    parquet, _ = write_results_table([make_result()], tmp_path)
    table = pq.read_table(parquet)
    assert table.column_names == list(COLUMN_NAMES)
    assert table.schema.equals(table_schema(), check_metadata=False)
    assert table.schema.metadata[VERSION_KEY] == b"3"
    assert all(table.schema.field(c.name).metadata[b"description"] for c in COLUMNS)
    assert len(set(COLUMN_NAMES)) == len(COLUMN_NAMES)
    assert all(f"`{name}`" in schema_markdown() for name in COLUMN_NAMES)
    empty = pq.read_table(write_results_table([], tmp_path / "empty")[0])
    assert empty.num_rows == 0 and empty.schema.equals(table_schema(), check_metadata=False)


def test_parquet_round_trips_through_datasets_and_pandas(tmp_path, written, records):
    import datasets

    parquet, _ = written
    rows = table_rows(records)
    loaded = datasets.load_dataset("parquet", data_files=str(parquet), split="train", cache_dir=str(tmp_path / "c"))
    assert loaded.column_names == list(COLUMN_NAMES)
    assert loaded.to_list() == rows
    frame = pd.read_parquet(parquet)
    assert list(frame.columns) == list(COLUMN_NAMES) and len(frame) == len(records)
    assert nan_to_none(frame["test_score"]) == [row["test_score"] for row in rows]
    # Integer and boolean columns stay so where a cell left them empty (pandas' nullable dtypes), not float64.
    assert frame["seed"].dtype == "Int64" and frame["params_total"].dtype == "Int64"
    assert frame["params_total"].isna().sum() == 1 and frame["converged"].dtype == "boolean"
    assert list(frame["test_metrics"].iloc[0]) == rows[0]["test_metrics"]
    assert read_results_table(parquet) == rows


def test_csv_holds_the_same_values(written, records):
    _, csv_path = written
    frame = pd.read_csv(csv_path, keep_default_na=False, na_values=[""])
    rows = table_rows(records)
    assert list(frame.columns) == list(COLUMN_NAMES)
    for name in ("test_score", "validation_score", "learning_rate", "flops_per_example", "estimator_logme"):
        assert nan_to_none(frame[name]) == [row[name] for row in rows], name  # floats written in round-trip form
    assert frame["converged"].dropna().tolist() == [row["converged"] for row in rows if row["converged"] is not None]
    for name in ("test_metrics", "validation_curve", "versions"):  # lists of structs as JSON text
        assert [json.loads(text) for text in frame[name]] == [row[name] for row in rows], name


def test_rebuilding_gives_identical_bytes(tmp_path, records):
    first = [path.read_bytes() for path in write_results_table(records, tmp_path / "a")]
    second = [path.read_bytes() for path in write_results_table(list(reversed(records)), tmp_path / "b")]
    assert first == second
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == sorted([CSV_NAME, PARQUET_NAME])


def test_a_table_of_another_version_is_refused(tmp_path, written):
    parquet, _ = written
    table = pq.read_table(parquet)
    pq.write_table(table.replace_schema_metadata({VERSION_KEY: b"0"}), tmp_path / "old.parquet")
    with pytest.raises(TableVersionError, match="version 0, this transfer-bench reads version 3; rebuild"):
        read_results_table(tmp_path / "old.parquet")


@pytest.mark.parametrize(
    ("spec", "name"),
    [
        ("{assets}/checkpoints/tf_efficientnet_lite0", "tf_efficientnet_lite0"),
        ("<local>/my-resnet/", "my-resnet"),
        ("/models/vit_tiny", "vit_tiny"),
        ("./runs/best", "best"),
        ("prajjwal1/bert-tiny", "prajjwal1/bert-tiny"),
        ("resnet18.a1_in1k", "resnet18.a1_in1k"),
    ],
)
def test_the_checkpoint_column_names_the_checkpoint_without_folders_or_placeholders(spec, name):
    pretrain = {"task": "digits", "init": "scratch"}
    (row,) = table_rows([make_result(specs={"model": {"checkpoint": spec, "pretrain": pretrain}})])
    assert (row["checkpoint"], row["checkpoint_spec"]) == (name, spec)
    assert (row["pretrain_task"], row["pretrain_init"]) == ("digits", "scratch")


def test_summaries_match_the_aggregation_of_the_records(records):
    summaries = summarise(table_rows(records))
    groups = group_results(records)
    assert [(s.suite, s.modality, s.task, s.model, s.init, s.protocol) for s in summaries] == [
        (k.suite, k.modality, k.task, k.model, k.init, k.protocol) for k in groups
    ]
    for summary, (key, group) in zip(summaries, groups.items(), strict=True):
        assert summary.mean == pytest.approx(group.mean) and summary.std == pytest.approx(group.std)
        assert summary.seeds_ok == len(group.scores) and summary.cells == len(group.results)
        twin = scratch_twin(groups, key) if key.init == "pretrained" else None
        if twin is None:
            assert summary.gain is None and summary.speed_up is None
            continue
        assert summary.gain == pytest.approx(group.mean - twin.mean)
        assert summary.speed_up == pytest.approx(speed_up(group, twin).ratio)


def test_a_group_with_one_failed_seed_counts_only_finished_seeds(records):
    summaries = summarise(table_rows(records))
    group = next(
        s
        for s in summaries
        if (s.model, s.init, s.task, s.protocol) == (VIT_ARCHITECTURE, "scratch", "colours", "finetune")
    )
    assert (group.seeds_ok, group.cells) == (2, 3)
    scores = [synthetic_score("vit_tiny", "scratch", "colours", "finetune", seed) for seed in (0, 1)]
    assert group.mean == pytest.approx(sum(scores) / 2)
