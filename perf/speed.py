"""Speed of the suite against simple baselines, printed side by side in one run.

`python perf/speed.py [--quick] [--parts abcdef] [--demo-tasks [--demo-seeds 0]]` measures, offline, on random
weights and synthetic data:

a. training throughput of the suite's fine-tune loop (`train_and_evaluate`) against a plain PyTorch loop written
   as a tutorial would, for one small model per modality (timm ResNet-18, a small BERT, a small Wav2Vec2), and of
   the batched probe trainer (`train_heads`) with one head against a plain loop training one `nn.Linear` on the
   same features (same epochs, batch size and AdamW), whose sub-millisecond steps expose the trainer's own cost;
b. the cost of the transferability estimators at N examples and D feature dimensions, LogME's speed-up over
   its per-class reference, and the estimators' share of a fine-tune of the same cell;
c. two CPU processes (gloo, through `accelerate launch`) against one: throughput and metric difference;
d. the leaderboard build over a synthetic grid of schema-v2 result files (curves, searches, convergence and
   per-example test predictions) and, when it misses its 2 s target, a profile of where the time goes;
e. an 8-configuration fine-tune search by successive halving (`FinetuneSearch`, the default halving rate) against one
   full fine-tune of the same model, task and budget, and the same grid trained naively (every configuration to
   the whole budget): wall-time ratio and whether both pick the same configuration, on synthetic tasks and, with
   `--demo-tasks`, on the real demo tasks (one model per task; assets from `python -m benchmark.assets.prepare`);
   then the two selection rules side by side (the rank rule, best 1/rate per rung, against the noise rule, which
   drops only configurations worse than the best by more than the paired validation noise): cost and regret
   against the full grid, and whether each choice scores within the noise of the full grid's best;
f. the default linear-probe grid (`DEFAULT_PROBE_GRID`, 12 configurations, one `train_heads` call) against one probe
   on the same features.

Why it exists: the suite wraps a training loop, a search, estimators and a leaderboard around the libraries;
this says what that wrapping costs on the machine at hand, with the baseline measured in the same process and
minute. Training figures are medians over repeats that alternate suite and baseline, because shared machines are
noisy; each part also prints how many cores the process actually got, which exposes contention. The GPU part is
`perf/gpu.py`, its own entry point: this script needs `datasets`, which a GPU image may lack.

Each part is its own module, `perf/speed_<part>_*.py` (part e in two: `speed_e_search.py` measures,
`speed_e_report.py` prints), over what they share in `perf/speed_common.py`; this file is the entry point: the
command line, the machine header and the parts asked for, in order.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable (benchmark/, perf/, testkit/)
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from benchmark.utils.paths import default_assets_dir  # noqa: E402
from perf.speed_a_throughput import report_throughput  # noqa: E402
from perf.speed_b_estimators import report_estimators  # noqa: E402
from perf.speed_c_processes import report_distributed  # noqa: E402
from perf.speed_common import FULL, QUICK, machine_description  # noqa: E402
from perf.speed_d_leaderboard import report_leaderboard  # noqa: E402
from perf.speed_e_report import report_search  # noqa: E402
from perf.speed_f_probe_grid import report_probe_grid  # noqa: E402

PART_NAMES = "abcdef"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python perf/speed.py", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: one repeat, toy sizes, tiny models")
    parser.add_argument(
        "--parts", default=PART_NAMES, help=f"which parts to run, e.g. 'ae' (default: all, '{PART_NAMES}')"
    )
    parser.add_argument(
        "--demo-tasks",
        action="store_true",
        help="part e also on the real demo tasks, one model per task (needs the prepared offline assets)",
    )
    parser.add_argument(
        "--demo-seeds",
        type=lambda text: tuple(int(seed) for seed in text.split(",")),
        default=None,
        help="comma-separated seeds for --demo-tasks instead of the suite's (e.g. 0: a third of the time)",
    )
    parser.add_argument(
        "--assets-dir", type=Path, default=default_assets_dir(), help="the offline assets, for --demo-tasks"
    )
    args = parser.parse_args(argv)
    unknown = set(args.parts) - set(PART_NAMES)
    if unknown:
        parser.error(f"--parts: unknown part(s) {''.join(sorted(unknown))}; choose from {', '.join(PART_NAMES)}")
    if args.demo_tasks and "e" not in args.parts:
        parser.error("--demo-tasks belongs to part e: add e to --parts")
    sizes = QUICK if args.quick else FULL
    if args.demo_seeds:
        sizes = replace(sizes, demo=replace(sizes.demo, seeds=args.demo_seeds))
    print(machine_description())
    if "a" in args.parts:
        report_throughput(sizes)
    if "b" in args.parts:
        report_estimators(sizes)
    with tempfile.TemporaryDirectory(prefix="speed-") as work_dir:
        if "c" in args.parts:
            report_distributed(sizes, Path(work_dir) / "distributed")
        if "d" in args.parts:
            report_leaderboard(sizes, Path(work_dir) / "leaderboard")
        if "e" in args.parts:
            report_search(sizes, Path(work_dir) / "search", args.assets_dir if args.demo_tasks else None)
    if "f" in args.parts:
        report_probe_grid(sizes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
