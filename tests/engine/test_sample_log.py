"""--log-samples: class probabilities from the pass the metrics come from, example ids that are rows of the test
split, one sample file per cell, and no metric changed by logging."""

from __future__ import annotations

import csv
import json

import datasets
import pytest
import torch
from accelerate import Accelerator

from benchmark.engine.loop import predict_split
from benchmark.engine.sample_log import predict_with_probabilities, split_rows
from benchmark.results.samples import samples_path
from benchmark.results.store import find_result_files, read_result
from benchmark.run import main
from testkit.fixtures import tiny_run_args
from testkit.loop_models import LinearHead, batch_as_is, blobs

TEXT_CELLS = [
    "--tasks",
    "topics",
    "--models",
    "tiny-bert",
    "--no-scratch",
    "--no-similarity",
    "--max-eval-samples",
    "8",
]
BUDGET = ["--max-steps", "2", "--probe-epochs", "2"]


def test_probabilities_come_from_the_pass_that_predicts():
    torch.manual_seed(0)
    model, data = LinearHead(8, 3), blobs(37, seed=1)
    accelerator = Accelerator(cpu=True)
    predicted, references, probabilities = predict_with_probabilities(accelerator, model, data, batch_as_is, 8)
    assert (predicted, references) == predict_split(accelerator, model, data, batch_as_is, 8)
    assert probabilities.shape == (37, 3)
    assert torch.allclose(probabilities.sum(dim=1), torch.ones(37))
    assert probabilities.argmax(dim=1).tolist() == predicted


def test_a_capped_split_keeps_the_rows_of_its_examples_in_the_full_split():
    full = datasets.Dataset.from_dict({"x": list(range(100, 120))})
    capped = full.shuffle(seed=0).select(range(5))  # as the sample caps select a subset
    assert [100 + row for row in split_rows(capped)] == capped["x"]
    assert split_rows(full) == list(range(20))


@pytest.mark.integration
def test_log_samples_writes_a_file_per_cell_and_changes_no_metric(tiny_tasks, tiny_assets, tmp_path, capfd):
    args = tiny_run_args(tiny_tasks, tiny_assets, tmp_path, *TEXT_CELLS, *BUDGET)
    assert main(args) == 0
    before = {path: read_result(path) for path in find_result_files(tmp_path)}
    assert len(before) == 2 and not any(samples_path(path).exists() for path in before)
    capfd.readouterr()

    # Finished cells without the sample files the flag asks for run again, to the same numbers.
    assert main([*args, "--log-samples"]) == 0
    assert "--log-samples and its sample files are missing" in "".join(capfd.readouterr())
    with open(tiny_assets / "topics" / "test.csv", newline="") as handle:
        test_rows = list(csv.DictReader(handle))
    for path, earlier in before.items():
        result = read_result(path)
        assert (result.metrics, result.predictions) == (earlier.metrics, earlier.predictions)
        lines = [json.loads(line) for line in samples_path(path).read_text().splitlines()]
        assert [line["prediction"] for line in lines] == result.predictions.predicted
        assert [line["reference"] for line in lines] == result.predictions.references
        ids = [line["example_id"] for line in lines]
        assert len(set(ids)) == 8 and ids != list(range(8))  # a shuffled subset of the 12 test rows
        assert [line["reference_label"] for line in lines] == [test_rows[i]["label"] for i in ids]
        for line in lines:
            assert sum(line["probabilities"]) == pytest.approx(1, abs=1e-5)
            assert line["prediction"] == max(range(2), key=line["probabilities"].__getitem__)
            assert (line["model"], line["protocol"]) == ("tiny-bert", result.protocol)

    # With their sample files present, a run with the flag reuses the cells: no file is rewritten.
    written = {path: (path.stat().st_mtime_ns, samples_path(path).stat().st_mtime_ns) for path in before}
    assert main([*args, "--log-samples"]) == 0
    assert {path: (path.stat().st_mtime_ns, samples_path(path).stat().st_mtime_ns) for path in before} == written
