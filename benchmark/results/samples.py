"""Per-example sample logs (`--log-samples`): one JSON Lines file per cell, beside its result file.

`<protocol>-seed<k>.samples.jsonl` holds a line per scored test example, in the order the cell scored them: the
cell (`suite`, `model`, `init`, `task`, `protocol`, `seed`), `example_id` (the example's row in the task's test
split before the sample cap, so the lines of every seed and model of a task join on it), `reference` and
`prediction` (class indices) with their names `reference_label` and `prediction_label`, and `probabilities` (the
predicted class probabilities in class order, rounded to `PROBABILITY_DECIMALS`; `prediction` is their argmax).
`datasets.load_dataset("json", data_files=...)` and pandas read it. It is written atomically, only for the
finished cells of a run with `--log-samples`; a rerun without the flag removes it, since it would no longer
describe the cell's result. Result files never hold the probabilities (`benchmark.results.store.write_result`).
"""

from __future__ import annotations

import json
from pathlib import Path

from benchmark.results.schema import CellResult
from benchmark.utils.atomic import atomic_write_text

SAMPLES_SUFFIX = ".samples.jsonl"
PROBABILITY_DECIMALS = 6


def samples_path(result_path: Path) -> Path:
    """The sample file of the cell whose result file is `result_path`: `<protocol>-seed<k>.samples.jsonl`."""
    return Path(result_path).with_suffix(SAMPLES_SUFFIX)


def sample_rows(result: CellResult) -> list[dict]:
    """One row per test example of a record that carries a sample log, in the order the cell scored them."""
    predictions = result.predictions
    if predictions is None or predictions.samples is None:
        raise ValueError(f"{result.model}/{result.task}/{result.protocol}-seed{result.seed}: no sample log")
    log = predictions.samples
    cell = {name: getattr(result, name) for name in ("suite", "model", "init", "task", "protocol", "seed")}
    columns = (log.example_ids, predictions.references, predictions.predicted, log.probabilities)
    return [
        {
            **cell,
            "example_id": example_id,
            "reference": reference,
            "reference_label": log.label_names[reference],
            "prediction": predicted,
            "prediction_label": log.label_names[predicted],
            "probabilities": [round(p, PROBABILITY_DECIMALS) for p in probabilities],
        }
        for example_id, reference, predicted, probabilities in zip(*columns, strict=True)
    ]


def write_samples(result_path: Path, result: CellResult) -> Path | None:
    """Write the cell's sample file when its record is finished and carries a sample log; otherwise remove a sample
    file left by an earlier run (it describes another result). Returns the file written, or None."""
    path = samples_path(result_path)
    if result.status != "ok" or result.predictions is None or result.predictions.samples is None:
        path.unlink(missing_ok=True)
        return None
    lines = (json.dumps(row, separators=(",", ":")) for row in sample_rows(result))
    return atomic_write_text(path, "".join(f"{line}\n" for line in lines))
