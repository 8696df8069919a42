"""Two CPU processes (gloo) give the same metric as one, with no evaluation example counted twice.

Why the comparison is fair and the tolerance tight: the linear probe has no dropout or batch norm, features
come from one deterministic eval-mode pass, and the one-process run uses the two-process run's global batch
(2 x 8 = 16; the probe heads train on every process with that global batch), so both follow the same
optimisation path up to floating-point reduction order. The metric may
then differ only where a borderline example flips, so we allow one example's worth (1 / num_test).
The evaluation set size is odd (17), so the last batch is padded across processes: `gather_for_metrics` must
drop the duplicates, which `num_test_scored == num_test` checks.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from benchmark.results.store import read_result
from testkit.fixtures import cpu_launch_command, tiny_run_args

pytestmark = pytest.mark.integration  # runs the suite, launches processes or builds real assets

NUM_EVAL = 17


def run(tiny_tasks, tiny_assets, output, processes: int, batch_size: int) -> None:
    command = [
        *cpu_launch_command(processes),
        *tiny_run_args(tiny_tasks, tiny_assets, output, "--models", "tiny-resnet", "--no-scratch"),
        *("--protocols", "linear_probe,finetune", "--epochs", "1", "--probe-epochs", "5"),
        *("--max-eval-samples", str(NUM_EVAL), "--batch-size", str(batch_size)),
    ]
    env = {**os.environ, "ACCELERATE_USE_CPU": "true"}  # run.py gives each process its share of the cores
    completed = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, check=False)
    assert completed.returncode == 0, completed.stderr[-3000:]


def test_two_processes_match_one(tiny_tasks, tiny_assets, tmp_path):
    run(tiny_tasks, tiny_assets, tmp_path / "one", processes=1, batch_size=16)
    run(tiny_tasks, tiny_assets, tmp_path / "two", processes=2, batch_size=8)
    relative = "tiny/tiny-resnet/colours/linear_probe-seed0.json"
    one, two = read_result(tmp_path / "one" / relative), read_result(tmp_path / "two" / relative)
    assert two.setup.world_size == 2 and one.setup.world_size == 1
    assert one.setup.num_test_scored == two.setup.num_test_scored == NUM_EVAL
    assert abs(one.metrics["accuracy"] - two.metrics["accuracy"]) <= 1 / NUM_EVAL + 1e-9
    assert len(one.curve) == len(two.curve)
    # The pretrained model keeps its unused source classifier aside: DDP must still fine-tune it.
    finetune = read_result(tmp_path / "two" / "tiny/tiny-resnet/colours/finetune-seed0.json")
    assert finetune.status == "ok", finetune.error
