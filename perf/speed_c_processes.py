"""Part c of `perf/speed.py`: two CPU processes (gloo, through `accelerate launch`) against one, fine-tuning the
tiny ResNet of testkit/fixtures.py on its colours imagefolder: throughput and metric difference from the result
records.
"""

from __future__ import annotations

import os
import statistics
import subprocess
from dataclasses import dataclass
from pathlib import Path

from benchmark.results.schema import CellResult
from benchmark.results.store import read_result, result_path
from perf.speed_common import Sizes, cores_used, print_table, spread, timed
from testkit.fixtures import (
    cpu_launch_command,
    make_image_folder,
    make_timm_checkpoint,
    tiny_run_args,
    write_tiny_registry,
)


@dataclass(frozen=True)
class Launch:
    """One `accelerate launch` of a fine-tune: its result record and the command's wall-clock seconds."""

    processes: int
    result: CellResult
    wall_s: float


def build_distributed_fixtures(root: Path, per_class: int) -> tuple[Path, Path]:
    """The tiny ResNet checkpoint, a colours imagefolder of `per_class` training images per class, and the
    tiny task registry (testkit/fixtures.py), under `root`; returns (tasks dir, assets dir)."""
    assets = root / "assets"
    make_timm_checkpoint(assets / "tiny-resnet")
    make_image_folder(assets / "colours", per_class=per_class)
    return write_tiny_registry(root / "tasks"), assets


def launch_finetune(tasks: Path, assets: Path, output: Path, processes: int, epochs: float, init: str) -> Launch:
    """Fine-tune the tiny ResNet on colours through `accelerate launch`, as tests/test_distributed.py does.

    The global batch is 16 in both modes (16 on one process, 8 per process on two); `benchmark/run.py` splits
    the machine's cores between the processes. `init="scratch"` runs only the from-scratch twin: without
    `--no-scratch` the plan is [pretrained, scratch], and `--shard 1/2` keeps its second cell.
    A failed cell is returned like any other (the runner records it); no result file at all raises.
    """
    narrowing = ["--shard", "1/2"] if init == "scratch" else ["--no-scratch"]
    command = [
        *cpu_launch_command(processes),
        *tiny_run_args(tasks, assets, output, "--models", "tiny-resnet", "--tasks", "colours", *narrowing),
        *("--protocols", "finetune", "--epochs", str(epochs), "--batch-size", str(16 // processes)),
    ]
    env = {
        **os.environ,
        "ACCELERATE_USE_CPU": "true",
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    completed, wall_s = timed(subprocess.run, command, capture_output=True, text=True, env=env, timeout=900)
    path = result_path(output, "tiny", "tiny-resnet", init, "colours", "finetune", 0)
    if not path.exists():
        raise RuntimeError(
            f"accelerate launch with {processes} process(es) wrote no result:\n{completed.stderr[-3000:]}"
        )
    return Launch(processes, read_result(path), wall_s)


def compare_processes(tasks: Path, assets: Path, work_dir: Path, sizes: Sizes, init: str) -> list[Launch]:
    """One and two processes, `sizes.repeats` times each in alternating order; stops at the first failed cell."""
    launches = []
    for repeat in range(sizes.repeats):
        for processes in (1, 2) if repeat % 2 == 0 else (2, 1):
            output = work_dir / f"{init}-{processes}-{repeat}"
            launches.append(launch_finetune(tasks, assets, output, processes, sizes.distributed_epochs, init))
            if launches[-1].result.status != "ok":
                return launches
    return launches


def report_distributed(sizes: Sizes, work_dir: Path) -> None:
    print("\n## c. Two CPU processes (gloo) vs one: tiny ResNet fine-tuned on the colours fixture")
    tasks, assets = build_distributed_fixtures(work_dir, sizes.distributed_per_class)
    with cores_used("c"):
        launches = compare_processes(tasks, assets, work_dir, sizes, "pretrained")
        failed = next((launch for launch in launches if launch.result.status != "ok"), None)
        if failed:
            reason = (failed.result.error or "").splitlines()[0][:300]
            print(f"the pretrained cell {failed.result.status} with {failed.processes} process(es): {reason}")
            print("so the comparison below uses its from-scratch twin (same architecture, random initialisation)")
            launches = compare_processes(tasks, assets, work_dir, sizes, "scratch")
    if any(launch.result.status != "ok" for launch in launches):
        raise RuntimeError(f"the from-scratch twin failed too: {launches[-1].result.error}")
    by_processes = {p: [launch for launch in launches if launch.processes == p] for p in (1, 2)}
    speed = {
        p: statistics.median(launch.result.timing.samples_per_s for launch in done) for p, done in by_processes.items()
    }
    metrics = {p: done[0].result.metrics for p, done in by_processes.items()}
    print(
        f"{sizes.distributed_per_class * 3} training and {sizes.distributed_per_class // 2 * 3} eval images, "
        f"{sizes.distributed_epochs:g} epochs, global batch 16; samples_per_s and metrics from the result JSONs "
        f"(median of {sizes.repeats} launches; metrics of the first)"
    )
    print_table(
        ["processes", "hardware (threads per process)", "samples_per_s", "launch wall s", "metrics"],
        [
            [
                str(p),
                str(done[0].result.setup.hardware),
                spread([launch.result.timing.samples_per_s for launch in done]),
                f"{statistics.median(launch.wall_s for launch in done):.1f}",
                ", ".join(f"{k}={v:.4f}" for k, v in sorted(metrics[p].items())),
            ]
            for p, done in by_processes.items()
        ],
    )
    print(f"throughput ratio 2 processes / 1 process: {speed[2] / speed[1]:.3f}")
    print(
        "metric difference (2 - 1): "
        + ", ".join(f"{k} {metrics[2][k] - metrics[1][k]:+.4f}" for k in sorted(metrics[1]))
    )
