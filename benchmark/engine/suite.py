"""Run the groups of a suite in order, skipping finished ones, recording failures, then build the leaderboard.

A group is a (model, init, task, protocol) with all its seeds: its configuration is chosen on their mean
validation score, then each seed's final run writes one result file. Only the main process writes files or
prints; every process runs every group (Accelerate splits the batches). A group whose seeds all have a result
file with status `ok` or `diverged` and the fingerprint its cell would get now (`benchmark.engine.fingerprints`:
the same resolved specs, caps, budget, grid, seeds and code version) is finished and skipped; a group whose files
answer another question (other settings, or written before fingerprints were recorded) is named with what changed
and run again; otherwise it runs (resuming its search where it stopped, unless its settings changed since) and
rewrites every seed's file, so a group's files always come from one search. A group that raises
is recorded as `failed`, for each of its seeds, with its message, and the suite goes on.

Shards that share one output folder coordinate through it (`benchmark.engine.shared_output`): each group is
claimed before it runs, so no two shards run the same group, and task similarity and the leaderboard are built
once, by whichever shard finishes last. A result that cannot be written (a full disk, a lost permission) fails
its cell with the reason and leaves every earlier file intact; on a full or read-only disk the suite stops
with one line and skips its final stage. Every write of the final stage (shard marks, task similarity, the
leaderboard) goes through the same guard: one line, exit status 1, every result file kept. An output folder that
cannot be written at all is refused before any work (`benchmark.engine.output_guard`).

Result files are written as they may be shared (`benchmark.results.publish`): no local absolute path, no
impossible value. A task whose data is bad fails its cells with one located line (no traceback), and the other
tasks' similarity is still measured.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gc
import os
import shutil
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.utils import DistributedDataParallelKwargs, ProjectConfiguration, broadcast_object_list
from tqdm.auto import tqdm

from benchmark.assets.missing import missing_assets, prepare_hint
from benchmark.data.loading import DataError
from benchmark.engine.context import RunContext
from benchmark.engine.features import FeatureCache
from benchmark.engine.finetune import run_finetune_group, work_dir
from benchmark.engine.fingerprints import group_fingerprints, group_settings
from benchmark.engine.interruption import StopFlag, StopRequested
from benchmark.engine.options import RunOptions
from benchmark.engine.output_guard import (
    EXIT_UNWRITABLE,
    OutputGone,
    is_disk_gone,
    publication_roots,
    unwritable,
    write_failure,
)
from benchmark.engine.plan import Cell, Group, describe_ad_hoc, plan_groups, shard
from benchmark.engine.pretrain import PRETRAINED_DIRNAME, run_pretraining
from benchmark.engine.probe import run_probe_group
from benchmark.engine.records import provenance
from benchmark.engine.settings import Layer, RunSettings
from benchmark.engine.shared_output import Claim, ShardJob, SharedOutput, job_key, read_claim
from benchmark.engine.speedups import accelerator_options, use_tf32
from benchmark.engine.task_similarity import measure_suite_similarity
from benchmark.engine.trackers import default_logging_dir, is_tracking, log_with, report_cell
from benchmark.metrics.compute import MetricCodeRefused, trust_task_code
from benchmark.results.fingerprint import differences, make_fingerprint, summarise
from benchmark.results.publish import publishable
from benchmark.results.samples import samples_path, write_samples
from benchmark.results.schema import CellResult, ResultFileError
from benchmark.results.store import find_result_files, read_result, result_path, similarity_path, write_result
from benchmark.specs.registry import Registry, ResolvedSuite
from benchmark.specs.schema import ModelSpec
from benchmark.utils.console import configure_console, progress_bars_drawn
from benchmark.utils.naming import safe_component

FINISHED = ("ok", "diverged")
FEATURE_CACHE_DIRNAME = ".feature_cache"
WORK_DIRNAME = ".searches"  # search states and checkpoints of unfinished groups
EXIT_MISSING_ASSETS = 2
SEARCH_FINGERPRINT_FILE = "fingerprint.txt"  # in a group's work folder: the settings its saved search ran with


def run_suite(registry: Registry, options: RunOptions) -> int:
    """Run (this shard of) a suite; return the process exit status."""
    configure_console(verbose=options.verbose)
    suite = registry.resolve(
        options.suite,
        skip_unknown_tasks=options.keep_going,
        requested_tasks=options.selection.tasks,
        extra_models=options.extra_models,
    )
    index, count = options.shard
    planned = plan_groups(suite, options.selection)
    groups = shard(planned, index, count)
    if missing := _missing_assets(suite, groups, options.assets_dir):  # before any work, not a traceback per cell
        if os.environ.get("RANK", "0") == "0":
            print(f"error: {len(missing)} offline asset(s) this run needs are missing:", file=sys.stderr)
            print("\n".join(f"  {line}" for line in missing), file=sys.stderr)
            print(f"  {prepare_hint(options.assets_dir, missing)}", file=sys.stderr)
        return EXIT_MISSING_ASSETS
    if problem := unwritable(options.output_dir):  # before any work: one line, not a skipped group per claim
        if os.environ.get("RANK", "0") == "0":
            print(f"error: {problem}", file=sys.stderr)
        return EXIT_UNWRITABLE
    trust_task_code(options.trust_task_code)
    # Some backbones skip layers at random while training (Wav2Vec2's layerdrop), so under DDP a step may
    # leave parameters without gradients; let DDP look for them rather than fail.
    ddp = DistributedDataParallelKwargs(find_unused_parameters=True)
    accelerator = Accelerator(
        **accelerator_options(options.mixed_precision), kwargs_handlers=[ddp], **_tracking(options)
    )
    use_tf32(accelerator.device)
    if accelerator.is_main_process:
        for line in describe_ad_hoc(suite, planned):
            print(line)
    if accelerator.device.type == "cpu":
        torch.set_num_threads(options.cpu_threads or default_cpu_threads())
    feature_cache = None if options.no_feature_cache else FeatureCache(options.output_dir / FEATURE_CACHE_DIRNAME)
    context = RunContext(accelerator, run_settings(suite, options), feature_cache)
    # Models named with --model make a different job; without them the key stays what it was.
    ad_hoc = [model.model_dump() for model in suite.models if model.id in suite.ad_hoc_models]
    narrowing = options.selection  # the key's parts as they always were: the parsed lists, --no-scratch a flag
    no_scratch = narrowing.include_scratch is False
    key = job_key(
        options.suite, narrowing.models, narrowing.tasks, narrowing.protocols, narrowing.seeds, no_scratch, *ad_hoc
    )
    job = SharedOutput(options.output_dir).job(key, index, count)
    if accelerator.is_main_process:
        job.start()
    # Everything alive now (imported modules, the registry) lives for the whole run; freezing it keeps the
    # garbage collection after each cell from walking millions of long-lived objects.
    gc.collect()
    gc.freeze()
    try:
        status = _run_and_report(suite, groups, context, options, job)
    finally:
        gc.unfreeze()
    _close_process_group(accelerator)  # after a clean finish only: a barrier after one rank's error would hang
    return status


def _close_process_group(accelerator: Accelerator) -> None:
    """Tear down the process group before exit: gloo's threads left to the interpreter's exit can abort a rank."""
    if accelerator.num_processes > 1 and torch.distributed.is_initialized():
        accelerator.wait_for_everyone()
        torch.distributed.destroy_process_group()


def run_settings(suite: ResolvedSuite, options: RunOptions) -> RunSettings:
    """The settings of a run of `suite`: its layer and the command line's, and the run-wide options."""
    roots = publication_roots(options.assets_dir, options.tasks_dir, options.output_dir, options.include_path)
    return RunSettings(
        suite=Layer.of_suite(suite),
        command_line=options.command_line,
        assets_dir=options.assets_dir,
        work_dir=options.output_dir / WORK_DIRNAME,
        trust_remote_code=options.trust_remote_code,
        num_workers=options.num_workers,
        compile=options.compile,
        checkpoint_interval_s=options.checkpoint_interval,
        log_samples=options.log_samples,
        score_weights=suite.score_weights.model_dump(),
        publication_roots=tuple(roots),
    )


def _missing_assets(suite, groups: list[Group], assets_dir: Path) -> list[str]:
    """The offline assets the groups' tasks, models and pretraining source tasks name but that do not exist."""
    tasks = {group.task.task: group.task for group in groups}
    models = {group.model.id: group.model for group in groups}
    tasks |= {source.task: source for model_id, source in suite.source_tasks.items() if model_id in models}
    return missing_assets(tasks.values(), models.values(), assets_dir)


def _run_and_report(suite, groups: list[Group], context: RunContext, options: RunOptions, job: ShardJob) -> int:
    """The groups, then task similarity and the leaderboard (once per sharded job), and the summary; the process
    exit status."""
    accelerator = context.accelerator
    outcomes: dict = {}
    try:
        with StopFlag() as context.stop_flag:
            if not options.similarity_only:  # else only the final stage, over the result files already there
                _pretraining_stage(suite, groups, context, options, job.shared)
                outcomes = _run_groups(suite, groups, context, options.output_dir, options.overwrite, job.shared)
    except StopRequested as stop:
        if accelerator.is_main_process:
            print(
                f"\n{stop}: finished cells and the search in progress are saved; run the same command again to resume.",
                file=sys.stderr,
            )
        return stop.exit_code
    except OutputGone as gone:  # its line is printed; the final stage could not write either
        if accelerator.is_main_process:
            _print_summary(gone.outcomes)
        return 1
    published = _final_stage(suite, context, options, job)
    if accelerator.is_main_process:
        _print_summary(outcomes)
    return 1 if not published or any(status == "failed" for status, _ in outcomes.values()) else 0


def _pretraining_stage(suite, groups: list[Group], context: RunContext, options: RunOptions, shared) -> None:
    """Pretrain the models of this run's unfinished groups that have a `pretrain` block (cached), before any group
    runs. Scratch twins need only the architecture (built from the base checkpoint's config), and a finished group
    needs nothing: results copied without their `.pretrained` folder are not trained again."""
    output_dir = options.output_dir
    pending = [
        group
        for group in groups
        if group.init == "pretrained"
        and group.model.pretrain is not None
        and (options.overwrite or _rerun_reason(group, context, suite.source_tasks, output_dir) is not None)
    ]
    models = list({group.model.id: group.model for group in pending}.values())
    seeds = sorted({seed for group in pending for seed in group.seeds})
    stages = run_pretraining(models, suite.source_tasks, context, output_dir / PRETRAINED_DIRNAME, shared, seeds)
    context.pretrained_checkpoints = {
        model_id: {seed: run.checkpoint for seed, run in stage.items()} if isinstance(stage, dict) else stage
        for model_id, stage in stages.items()
    }


def _final_stage(suite, context: RunContext, options: RunOptions, job: ShardJob) -> bool:
    """Task similarity and the leaderboard, built by the one shard that finishes last (every run when the suite
    is not sharded); False, after one line, when any of its writes failed (shard mark, build record, similarity
    file, leaderboard): the guard result files have, so a full disk here never ends in a traceback."""
    try:
        return _build_final_stage(suite, context, options, job)
    except OSError as error:
        if context.accelerator.is_main_process:
            print(f"error: {write_failure(error, 'task similarity and leaderboard')}", file=sys.stderr)
        return False


def _build_final_stage(suite, context: RunContext, options: RunOptions, job: ShardJob) -> bool:
    accelerator = context.accelerator
    with contextlib.ExitStack() as stack:
        needed = [False]
        if accelerator.is_main_process:
            inputs = functools.partial(find_result_files, options.output_dir)
            stage = stack.enter_context(job.final_stage(inputs, force=job.count == 1))
            needed = [stage.needed]
        if accelerator.num_processes > 1:
            needed = broadcast_object_list(needed)
        if not needed[0]:
            if accelerator.is_main_process:
                waiting = f"waiting for shards {stage.pending} (the last to finish builds it)"
                print(f"leaderboard: {waiting if stage.pending else 'already up to date'}")
            return True
        if not options.no_similarity:
            _record_similarity(suite, context, options.output_dir, options.similarity_encoder)
        if accelerator.is_main_process:
            from benchmark.report.leaderboard import LeaderboardError

            try:
                _publish_leaderboard(options)
            except (OSError, LeaderboardError) as error:
                print(f"error: leaderboard not written: {error}", file=sys.stderr)
                return False
    return True


def _tracking(options: RunOptions) -> dict:
    """`Accelerator` arguments for `--report-to` (none by default, so a run without trackers is unchanged)."""
    trackers = log_with(options.report_to)
    if trackers is None:
        return {}
    logging_dir = options.logging_dir or default_logging_dir(options.output_dir)
    return {"log_with": trackers, "project_config": ProjectConfiguration(logging_dir=str(logging_dir))}


def default_cpu_threads() -> int:
    """The cores this process may run on, shared evenly by the processes launched on this machine.

    `accelerate launch` starts every process with OMP_NUM_THREADS=1 unless told otherwise, which on a CPU-only
    machine would leave all but one core idle; a run on the CPU uses its share of the cores instead.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, cores // int(os.environ.get("LOCAL_WORLD_SIZE", "1")))


def _run_groups(suite, groups: list[Group], context: RunContext, output_dir: Path, overwrite: bool, shared) -> dict:
    """Run each group without reusable results that no other shard holds; returns {cell name: (status, detail)}."""
    accelerator, outcomes = context.accelerator, {}
    main = accelerator.is_main_process
    started = time.perf_counter()
    for number, group in enumerate(tqdm(groups, desc="groups", disable=not main), 1):
        if main and number > 1 and not progress_bars_drawn():  # the bar's place in a log: a line per group
            tqdm.write(f"groups: {number - 1}/{len(groups)} done in {time.perf_counter() - started:.0f} s")
        context.stop_flag.raise_if_set()
        cells = group.cells()
        paths = [_path(output_dir, cell) for cell in cells]
        reason = _rerun_reason(group, context, suite.source_tasks, output_dir)
        if not overwrite and reason is None:
            skipped = [(cell, read_result(path).status) for cell, path in zip(cells, paths, strict=True)]
            outcomes.update({cell.name: (status, "skipped: result file exists") for cell, status in skipped})
            continue
        if main and reason and not overwrite:
            tqdm.write(f"rerunning {group.name}: {reason}")
        claim, decision = _claim(shared, paths[0].parent / group.protocol, main)
        if accelerator.num_processes > 1:
            decision = broadcast_object_list([decision])[0]
        if decision != "run":
            outcomes.update({cell.name: ("elsewhere", f"skipped: {decision}") for cell in cells})
            continue
        try:
            fingerprints = group_fingerprints(group, context, suite.source_tasks)
            _discard_stale_search(group, context, suite.source_tasks)
            results = [
                result.model_copy(update={"fingerprint": fingerprint})
                for result, fingerprint in zip(_attempt(group, context), fingerprints, strict=True)
            ]
            disk_gone = main and _write_results(results, cells, paths, outcomes, context.settings.publication_roots)
        finally:
            if claim is not None:
                claim.release()  # only once the results are written
        for result, cell in zip(results, cells, strict=True):
            outcomes.setdefault(cell.name, (result.status, result.error or _headline(result)))
            if main and is_tracking(accelerator):
                _report(accelerator, result, cell)
        if accelerator.num_processes > 1:
            disk_gone = broadcast_object_list([disk_gone])[0]
        accelerator.wait_for_everyone()
        if disk_gone:
            if main:  # through tqdm, so the line is not glued to the progress bar's
                tqdm.write("error: the output folder cannot take more files; stopping (finished results are kept)")
            raise OutputGone(outcomes)
    return outcomes


def _report(accelerator: Accelerator, result: CellResult, cell: Cell) -> None:
    """A cell's tracker run; a tracker that fails is reported and never fails the cell (its file is written)."""
    try:
        report_cell(accelerator, result, cell.name)
    except Exception as error:  # a tracker service down or misconfigured must not stop the suite
        tqdm.write(f"warning: {cell.name} not logged to the trackers: {type(error).__name__}: {error}")


def _claim(shared: SharedOutput, target: Path, main: bool) -> tuple[Claim | None, str]:
    """Claim a group for this shard (main process only): (claim, "run"), or (None, why it is not ours)."""
    if not main:
        return None, "run"
    try:
        claim = shared.try_claim(target)
    except OSError as error:
        return None, f"cannot claim the group: {error}"
    if claim is None:
        holder = read_claim(target)
        return None, f"running in another shard ({holder.describe() if holder else 'unknown'})"
    return claim, "run"


def _write_results(
    results: list[CellResult], cells: list[Cell], paths: list[Path], outcomes: dict, roots: list | None = None
) -> bool:
    """Write a group's result files as they may be shared (`publishable`: paths relative to `roots` or redacted,
    impossible values refused); a write that fails fails its cell. True when the disk is full or read-only
    (every later write would fail too)."""
    disk_gone = False
    for index, (cell, path) in enumerate(zip(cells, paths, strict=True)):
        result = results[index] = publishable(results[index], roots or [])
        try:
            write_samples(path, result)  # first: a cell whose result file exists has its sample file
            write_result(path, result)
        except OSError as error:
            outcomes[cell.name] = ("failed", write_failure(error, "result"))
            disk_gone = disk_gone or is_disk_gone(error)
            continue
        tqdm.write(f"{result.status:>8}  {cell.name}  {_headline(result)}")
    return disk_gone


def _path(output_dir: Path, cell: Cell) -> Path:
    return result_path(output_dir, cell.suite, cell.model.id, cell.init, cell.task.task, cell.protocol, cell.seed)


def _record_similarity(suite, context: RunContext, output_dir: Path, check_encoders: Sequence[ModelSpec]) -> None:
    """Task-similarity files for the suite's tasks that have result files in the output folder (this run's and
    earlier runs', whose features are cached), in the suite's encoder per modality and in each check encoder
    (`--similarity-encoder`); a failure here is reported and never loses cell results."""
    try:
        records = measure_suite_similarity(with_result_tasks(suite, output_dir), context, check_encoders)
    except OSError as error:
        if is_disk_gone(error):
            raise  # the final stage's guard reports it in one line
        if context.accelerator.is_main_process:
            tqdm.write(f"warning: task similarity not measured: {type(error).__name__}: {error}")
        return
    except Exception as error:  # similarity is an analysis on top of finished cells
        if context.accelerator.is_main_process:
            tqdm.write(f"warning: task similarity not measured: {type(error).__name__}: {error}")
        return
    if context.accelerator.is_main_process:
        for record in records:
            check = record.encoder if record.role == "check" else None
            write_result(similarity_path(output_dir, record.suite, record.modality, check), record)


def with_result_tasks(suite, output_dir: Path):
    """The suite narrowed to the tasks with a result file under `<output_dir>/<suite>/`: a one-task run measures
    similarity among the tasks it and earlier runs into the folder ran, not over every task of the suite (which
    would load every modality's encoder and embed tasks nobody asked for)."""
    root = output_dir / safe_component(suite.spec.suite)
    ran = {path.parent.name for path in find_result_files(root)} if root.is_dir() else set()
    return dataclasses.replace(suite, tasks=[task for task in suite.tasks if safe_component(task.task) in ran])


def _attempt(group: Group, context: RunContext) -> list[CellResult]:
    """The group's result per seed; an exception fails every seed of the group, with its message."""
    run = run_probe_group if group.protocol == "linear_probe" else run_finetune_group
    try:
        results = run(group, context)
    except StopRequested:
        raise
    except Exception as error:  # one group's failure is recorded and must not end the suite
        if context.accelerator.is_main_process and not _expected(error):
            traceback.print_exc(file=sys.stderr)
        results = [failure_result(cell, "failed", f"{type(error).__name__}: {error}") for cell in group.cells()]
    finally:
        context.accelerator.free_memory()
    return [  # failed and diverged cells say what produced them too
        result if result.provenance else result.model_copy(update={"provenance": provenance(cell, context.accelerator)})
        for result, cell in zip(results, group.cells(), strict=True)
    ]


def _expected(error: Exception) -> bool:
    """A failure whose one line says it all (bad data, refused task code, a full disk): no traceback."""
    return isinstance(error, DataError | MetricCodeRefused) or is_disk_gone(error)


def failure_result(cell: Cell, status: str, message: str, step: int | None = None) -> CellResult:
    """The result record of a cell that did not finish: its status and why, no metrics."""
    return CellResult(
        **cell.identity(),
        status=status,
        error=message,
        diverged_at_step=step,
        specs={"task": cell.task.model_dump(), "model": cell.model.model_dump()},
    )


def _rerun_reason(group: Group, context: RunContext, source_tasks: dict, output_dir: Path) -> str | None:
    """None when every seed of the group has a finished result answering the same question (its fingerprint is the
    one the cell would get now); else why the group must run: missing or unfinished results (an empty reason),
    result files with other settings (what changed), or, with --log-samples, finished cells without a sample file."""
    fingerprints = group_fingerprints(group, context, source_tasks)
    changes: list[str] = []
    unlogged = False  # a finished cell without the sample file --log-samples asks for
    for cell, fingerprint in zip(group.cells(), fingerprints, strict=True):
        path = _path(output_dir, cell)
        result = _finished_result(path)
        if result is None:
            return ""
        if result.fingerprint is None or result.fingerprint.digest != fingerprint.digest:
            changes += [change for change in differences(result.fingerprint, fingerprint) if change not in changes]
        logged = not context.settings.log_samples or result.status != "ok" or samples_path(path).exists()
        unlogged = unlogged or not logged
    if changes:
        return f"its result files answer another question ({summarise(changes)})"
    return "--log-samples and its sample files are missing" if unlogged else None


def _discard_stale_search(group: Group, context: RunContext, source_tasks: dict) -> None:
    """Start a fine-tune search afresh when its saved state (from an interrupted run) was searched with other
    settings: the work folder records the group's fingerprint, and one that differs is deleted."""
    if group.protocol != "finetune":
        return
    if context.accelerator.is_main_process:
        folder = work_dir(context, group)
        marker = folder / SEARCH_FINGERPRINT_FILE
        digest = make_fingerprint(group_settings(group, context, source_tasks)).digest
        recorded = marker.read_text(encoding="utf-8").strip() if marker.exists() else None
        if folder.exists() and recorded != digest:
            tqdm.write(f"discarding the saved search of {group.name}: it was searched with other settings")
            shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True, exist_ok=True)
        marker.write_text(digest + "\n", encoding="utf-8")
    context.accelerator.wait_for_everyone()  # no process reads the saved state before a stale one is gone


def _finished_result(path: Path) -> CellResult | None:
    """The result in `path` when it exists, reads and finished (`ok` or `diverged`); else None."""
    if not path.exists():
        return None
    try:
        result = read_result(path)
    except ResultFileError as error:
        tqdm.write(f"warning: rerunning cell with unreadable result file: {error}")
        return None
    return result if result.status in FINISHED else None


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


def _publish_leaderboard(options: RunOptions) -> None:
    from benchmark.report.leaderboard import build_leaderboard

    path = build_leaderboard(options.output_dir, options.leaderboard)
    print(f"\nleaderboard: {path}\n")
    print(suite_excerpt(path.read_text(encoding="utf-8"), options.suite))


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
