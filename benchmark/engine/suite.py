"""Run the cells of a suite in order, skipping finished ones, recording failures, then build the leaderboard.

Only the main process writes files or prints; every process runs every cell (Accelerate splits the batches).
A cell whose result file exists with status `ok` or `diverged` is finished and skipped; a `failed` one is tried
again, since failures such as a missing file or a full disk are usually fixed between runs. A cell that
raises is recorded as `failed` with its message and the suite goes on; a diverging one as `diverged`.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import traceback
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.utils import DistributedDataParallelKwargs
from tqdm.auto import tqdm

from benchmark.engine.cell import run_cell
from benchmark.engine.context import RunContext
from benchmark.engine.features import FeatureCache
from benchmark.engine.interruption import StopFlag, StopRequested
from benchmark.engine.loop import DivergedError
from benchmark.engine.plan import Cell, Selection, parse_shard, plan_cells, shard
from benchmark.engine.task_similarity import measure_suite_similarity
from benchmark.results.schema import CellResult, ResultFileError
from benchmark.results.store import read_result, result_path, similarity_path, write_result
from benchmark.specs.registry import Registry
from benchmark.specs.schema import TrainingSpec

FINISHED = ("ok", "diverged")
FEATURE_CACHE_DIRNAME = ".feature_cache"
CHECKPOINTS_DIRNAME = ".checkpoints"


def run_suite(registry: Registry, args: argparse.Namespace) -> int:
    """Run (this shard of) a suite; return the process exit status."""
    suite = registry.resolve(args.suite, skip_unknown_tasks=args.keep_going)
    selection = Selection(
        models=args.models,
        tasks=args.tasks,
        protocols=args.protocols,
        seeds=args.seeds,
        include_scratch=False if args.no_scratch else None,
    )
    cells = shard(plan_cells(suite, selection), *parse_shard(args.shard))
    # Some backbones skip layers at random while training (Wav2Vec2's layerdrop), so under DDP a step may
    # leave parameters without gradients; let DDP look for them rather than fail.
    ddp = DistributedDataParallelKwargs(find_unused_parameters=True)
    accelerator = Accelerator(mixed_precision=args.mixed_precision, kwargs_handlers=[ddp])
    if accelerator.device.type == "cpu":
        torch.set_num_threads(args.cpu_threads or default_cpu_threads())
    context = RunContext(
        accelerator=accelerator,
        assets_dir=args.assets_dir,
        feature_cache=None if args.no_feature_cache else FeatureCache(args.output_dir / FEATURE_CACHE_DIRNAME),
        suite_training=suite.training,
        overrides=TrainingSpec(
            epochs=args.epochs,
            probe_epochs=args.probe_epochs,
            batch_size=args.batch_size,
            learning_rate=args.learning_rate,
            gradient_accumulation_steps=args.gradient_accumulation_steps,
        ),
        max_train_samples=args.max_train_samples or suite.spec.max_train_samples,
        max_eval_samples=args.max_eval_samples or suite.spec.max_eval_samples,
        trust_remote_code=args.trust_remote_code,
        num_workers=args.num_workers,
        compile=args.compile,
        checkpoint_root=args.output_dir / CHECKPOINTS_DIRNAME,
        checkpoint_interval_s=args.checkpoint_interval,
        score_weights=suite.score_weights.model_dump(),
    )
    # Everything alive now (imported modules, the registry) lives for the whole run; freezing it keeps the
    # garbage collection after each cell from walking millions of long-lived objects.
    gc.collect()
    gc.freeze()
    try:
        return _run_and_report(suite, cells, context, args)
    finally:
        gc.unfreeze()


def _run_and_report(suite, cells: list[Cell], context: RunContext, args: argparse.Namespace) -> int:
    """The cells, then task similarity, the summary and the leaderboard; the process exit status."""
    accelerator = context.accelerator
    try:
        with StopFlag() as context.stop_flag:
            outcomes = _run_cells(cells, context, args.output_dir, args.overwrite)
    except StopRequested as stop:
        if accelerator.is_main_process:
            print(
                f"\n{stop}: finished cells are saved and the fine-tune in progress is checkpointed; "
                "run the same command again to resume.",
                file=sys.stderr,
            )
        return stop.exit_code
    if not args.no_similarity:
        _record_similarity(suite, context, args.output_dir)
    if accelerator.is_main_process:
        _print_summary(outcomes)
        _publish_leaderboard(args)
    return 1 if any(status == "failed" for status, _ in outcomes.values()) else 0


def default_cpu_threads() -> int:
    """The cores this process may run on, shared evenly by the processes launched on this machine.

    `accelerate launch` starts every process with OMP_NUM_THREADS=1 unless told otherwise, which on a CPU-only
    machine would leave all but one core idle; a run on the CPU uses its share of the cores instead.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, cores // int(os.environ.get("LOCAL_WORLD_SIZE", "1")))


def _run_cells(cells: list[Cell], context: RunContext, output_dir: Path, overwrite: bool) -> dict:
    """Run each unfinished cell; returns {cell name: (status, detail)}."""
    accelerator, outcomes = context.accelerator, {}
    main = accelerator.is_main_process
    for cell in tqdm(cells, desc="cells", disable=not main):
        context.stop_flag.raise_if_set()
        path = result_path(output_dir, cell.suite, cell.model.id, cell.init, cell.task.task, cell.protocol, cell.seed)
        if not overwrite and (status := _finished_status(path)):
            outcomes[cell.name] = (status, "skipped: result file exists")
            continue
        result = _attempt(cell, context)
        if main:
            write_result(path, result)
            tqdm.write(f"{result.status:>8}  {cell.name}  {_headline(result)}")
        outcomes[cell.name] = (result.status, result.error or _headline(result))
        accelerator.wait_for_everyone()
    return outcomes


def _record_similarity(suite, context: RunContext, output_dir: Path) -> None:
    """Task-similarity files for the suite; a failure here is reported and never loses cell results."""
    try:
        records = measure_suite_similarity(suite, context)
    except Exception as error:  # similarity is an analysis on top of finished cells
        if context.accelerator.is_main_process:
            tqdm.write(f"warning: task similarity not measured: {type(error).__name__}: {error}")
        return
    if context.accelerator.is_main_process:
        for record in records:
            write_result(similarity_path(output_dir, record.suite, record.modality), record)


def _attempt(cell: Cell, context: RunContext) -> CellResult:
    try:
        return run_cell(cell, context)
    except DivergedError as error:
        return failure_result(cell, "diverged", str(error), error.step)
    except Exception as error:  # one cell's failure is recorded and must not end the suite
        if context.accelerator.is_main_process:
            traceback.print_exc(file=sys.stderr)
        return failure_result(cell, "failed", f"{type(error).__name__}: {error}")
    finally:
        context.accelerator.free_memory()


def failure_result(cell: Cell, status: str, message: str, step: int | None = None) -> CellResult:
    """The result record of a cell that did not finish: its status and why, no metrics."""
    return CellResult(
        **cell.identity(),
        status=status,
        error=message,
        diverged_at_step=step,
        specs={"task": cell.task.model_dump(), "model": cell.model.model_dump()},
    )


def _finished_status(path: Path) -> str | None:
    if not path.exists():
        return None
    try:
        status = read_result(path).status
    except ResultFileError as error:
        tqdm.write(f"warning: rerunning cell with unreadable result file: {error}")
        return None
    return status if status in FINISHED else None


def _headline(result: CellResult) -> str:
    if result.status != "ok":
        return result.error or ""
    return f"{result.main_metric}={result.main_score:.4f} in {result.timing.total_wall_s:.1f}s"


def _print_summary(outcomes: dict) -> None:
    counts: dict[str, int] = {}
    for status, _ in outcomes.values():
        counts[status] = counts.get(status, 0) + 1
    print("cells: " + ", ".join(f"{n} {status}" for status, n in sorted(counts.items())))
    problems = [(name, status, detail) for name, (status, detail) in outcomes.items() if status != "ok"]
    problems = [p for p in problems if not p[2].startswith("skipped")]
    if problems:
        print("\n| cell | status | reason |\n|---|---|---|")
        for name, status, detail in problems:
            print(f"| {name} | {status} | {detail.splitlines()[0][:200]} |")


def _publish_leaderboard(args: argparse.Namespace) -> None:
    from benchmark.report.leaderboard import build_leaderboard

    out_dir = args.leaderboard_dir or args.output_dir / "leaderboard"
    path = build_leaderboard(args.output_dir, out_dir)
    print(f"\nleaderboard: {path}\n")
    print(suite_excerpt(path.read_text(encoding="utf-8"), args.suite))


def suite_excerpt(markdown: str, suite: str, max_lines: int = 40) -> str:
    """The top of a suite's section of the leaderboard, for the end of a run."""
    lines = markdown.splitlines()
    heading = f"## Suite `{suite}`"
    if heading not in lines:
        return ""
    section = lines[lines.index(heading) :]
    end = next((i for i, line in enumerate(section[1:], 1) if line.startswith("## ")), len(section))
    excerpt = section[:end]
    return "\n".join(excerpt[:max_lines] + (["…"] if len(excerpt) > max_lines else []))
