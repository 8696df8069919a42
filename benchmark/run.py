"""Command-line entry point: `accelerate launch benchmark/run.py --suite vision` (plain `python` works too).

Runs every cell of a suite that has no result file yet, writes one result JSON per cell, then rebuilds the
leaderboard from the result files. `--list` shows what exists, `--validate` checks every YAML file, and
`--include-path DIR` adds a folder of the user's own task and suite YAML to the built-in ones. The installed
`transfer-bench run` command calls `main` here.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if __package__ in (None, ""):  # run as a script: make the repository root importable, not benchmark/ itself
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from benchmark.engine.trackers import LOGGING_DIRNAME, REPORT_TO_CHOICES, missing_tracker  # noqa: E402
from benchmark.specs.adhoc import ModelArgsAction  # noqa: E402
from benchmark.specs.registry import SpecError  # noqa: E402
from benchmark.specs.sources import collect_sources, unique_folders  # noqa: E402
from benchmark.specs.trust import code_problems  # noqa: E402
from benchmark.utils.paths import DEFAULT_TASKS_DIR, default_assets_dir  # noqa: E402

if TYPE_CHECKING:
    from benchmark.engine.options import RunOptions

EXIT_SPEC_ERROR = 2
EXIT_CELLS_FAILED = 1
ENTRY_POINT_ONLY = frozenset({"help", "list", "validate", "deep"})  # modes `main` handles itself: no run options


def build_parser(prog: str = "benchmark/run.py") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Measure what reusing pretrained checkpoints buys: fine-tune, linear-probe and scratch "
        "baselines for every (model, task) of a suite, written as result files and a leaderboard.",
    )
    parser.add_argument("--suite", help="suite to run (see --list)")
    parser.add_argument("--list", action="store_true", help="list suites, tasks and models, then exit")
    parser.add_argument("--validate", action="store_true", help="check every task and suite YAML, then exit")
    parser.add_argument(
        "--deep",
        action="store_true",
        help="with --validate: also resolve the datasets and checkpoints of --suite (default: all) on the Hub or "
        "on disk, without downloading data, and report every mismatch",
    )
    parser.add_argument("--tasks-dir", type=Path, default=DEFAULT_TASKS_DIR, help="where task/suite YAML live")
    parser.add_argument(
        "--include-path",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="another folder of task/suite YAML (laid out like --tasks-dir) to use beside it; repeatable",
    )
    parser.add_argument(
        "--assets-dir",
        type=Path,
        default=default_assets_dir(),
        help="offline assets, substituted for {assets} in specs (env TRANSFER_BENCH_ASSETS)",
    )
    parser.add_argument("--output-dir", type=Path, default=Path("results"), help="result files go here")
    parser.add_argument(
        "--leaderboard-dir",
        type=Path,
        default=None,
        help="where to write the leaderboard (default: <output-dir>/leaderboard)",
    )
    narrow = parser.add_argument_group("narrowing")
    narrow.add_argument(
        "--tasks",
        type=_names,
        help="comma-separated task ids; a task of the registry that the suite does not list runs with the suite's "
        "models of its modality",
    )
    narrow.add_argument("--models", type=_names, help="comma-separated model ids")
    narrow.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="MODEL",
        help="also run this model: timm:<name>, hf:<hub id>[@<revision>] or a checkpoint folder (timm or "
        "transformers; library and modality read from its config.json), optionally as ID=MODEL; repeatable. It always "
        "runs; to run only such models, pass --models with their ids",
    )
    narrow.add_argument(
        "--model-args",
        action=ModelArgsAction,
        default=[],
        metavar="KEY=VALUE,...",
        help="options of the --model just before it, the fields of a suite's model entry: revision=<branch, tag or "
        "commit> (transformers), dtype=float32|bfloat16|float16, trust_remote_code=true (off unless asked)",
    )
    narrow.add_argument("--protocols", type=_names, help="finetune,linear_probe")
    narrow.add_argument("--seeds", type=_ints, help="comma-separated seeds")
    narrow.add_argument("--no-scratch", action="store_true", help="skip the from-scratch twins")
    narrow.add_argument(
        "--shard",
        type=_shard,
        default=(0, 1),
        metavar="I/N",
        help="run the I-th (0-based) of N disjoint slices of the (model, init, task, protocol) groups",
    )
    narrow.add_argument("--max-train-samples", type=int, help="cap on training examples per task")
    narrow.add_argument("--max-validation-samples", type=int, help="cap on validation examples per task")
    narrow.add_argument("--max-eval-samples", type=int, help="cap on test examples per task")
    train = parser.add_argument_group("training overrides")
    train.add_argument("--epochs", type=float, help="fine-tune budget in epochs (both inits, unless --scratch-epochs)")
    train.add_argument("--scratch-epochs", type=float, help="the scratch twins' fine-tune budget in epochs")
    train.add_argument("--max-steps", type=int, help="fine-tune budget in optimizer steps (instead of epochs)")
    train.add_argument(
        "--budget-doublings",
        type=int,
        help="retrain a chosen fine-tune run whose validation curve has not flattened at twice its budget, up to "
        "this many times (0: only mark it)",
    )
    train.add_argument("--probe-epochs", type=float)
    train.add_argument("--batch-size", type=int)
    train.add_argument("--learning-rate", type=float, help="pin every fine-tune grid to this one learning rate")
    train.add_argument("--probe-learning-rate", type=float, help="pin every probe grid to this one learning rate")
    train.add_argument("--gradient-accumulation-steps", type=int)
    train.add_argument(
        "--mixed-precision",
        choices=["no", "fp16", "bf16"],
        help="default: what `accelerate launch` configured (fp16 or bf16), else bf16 on a CUDA GPU that has it "
        "(with TF32 for what stays fp32) and no on the CPU",
    )
    train.add_argument("--num-workers", type=int, default=0, help="DataLoader worker processes")
    train.add_argument(
        "--compile",
        action="store_true",
        help="call the model through torch.compile in fine-tunes and pretraining (checkpoints keep the eager "
        "module's state; compilation is timed apart as compile_wall_s); off unless given",
    )
    train.add_argument(
        "--cpu-threads",
        type=_positive_int,
        help="intra-op threads per process when running on the CPU (default: the cores available to the "
        "process divided by the processes on this machine; `accelerate launch` alone would give each one)",
    )
    behaviour = parser.add_argument_group("behaviour")
    behaviour.add_argument("--overwrite", action="store_true", help="rerun cells whose result file exists")
    behaviour.add_argument(
        "--keep-going",
        action="store_true",
        help="skip invalid task files instead of stopping, and report them at the end",
    )
    behaviour.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="allow checkpoints that ship their own model code (off unless given)",
    )
    behaviour.add_argument(
        "--trust-task-code",
        action="store_true",
        help="allow the `evaluate:<module>` metrics that task files name: Python that evaluate imports and runs "
        "(off unless given; a task folder shared with you should not run code on your machine)",
    )
    behaviour.add_argument("--no-feature-cache", action="store_true", help="recompute frozen features")
    behaviour.add_argument(
        "--checkpoint-interval",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="save a resumable fine-tune checkpoint at evaluations this often (0: every one)",
    )
    behaviour.add_argument("--no-similarity", action="store_true", help="skip the task-similarity analysis")
    behaviour.add_argument(
        "--similarity-only",
        action="store_true",
        help="run no cell: measure task similarity (with any --similarity-encoder) over the tasks that already have "
        "result files in --output-dir, then rebuild the leaderboard",
    )
    behaviour.add_argument(
        "--similarity-encoder",
        action="append",
        default=[],
        metavar="MODEL",
        help="also measure task similarity in this fixed encoder's features (a --model value; its modality is read "
        "from it), written beside the suite encoder's as a check: how much the encoder choice moves the distances "
        "and the similarity-predicts-reuse verdict; repeatable",
    )
    behaviour.add_argument(
        "--log-samples",
        action="store_true",
        help="write each cell's test predictions (example id, prediction, reference, label names, class "
        "probabilities) to <protocol>-seed<k>.samples.jsonl beside its result file; finished cells without one rerun",
    )
    behaviour.add_argument(
        "--verbose",
        action="store_true",
        help="show the libraries' warnings (transformers' load reports of replaced heads); progress bars are drawn "
        "on a terminal only, a log gets a line per finished cell and group",
    )
    tracking = parser.add_argument_group("experiment tracking")
    tracking.add_argument(
        "--report-to",
        choices=REPORT_TO_CHOICES,
        default="none",
        help="log every cell to a tracker through Accelerate (one run per cell: the suite is the project, the cell "
        "the run): training loss, validation curve, test metrics; 'all' uses every installed tracker",
    )
    tracking.add_argument(
        "--logging-dir",
        type=Path,
        help=f"where file-based trackers (TensorBoard) write (default: <output-dir>/{LOGGING_DIRNAME})",
    )
    return parser


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return int(text)


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _ints(text: str) -> list[int]:
    try:
        return [int(part) for part in _names(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def _shard(text: str) -> tuple[int, int]:
    from benchmark.engine.plan import parse_shard

    try:
        return parse_shard(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def main(argv: list[str] | None = None, prog: str = "benchmark/run.py") -> int:
    args = build_parser(prog).parse_args(argv)
    folders = unique_folders([args.tasks_dir, *args.include_path])
    try:
        registry, problems = collect_sources(folders)
    except SpecError as error:
        return _report_spec_error(error)
    # code named by task files is refused whatever --keep-going says: everywhere for --validate, else in what runs
    listing = args.list and not args.validate  # listing runs nothing: it shows such tasks like any other
    used = None if args.validate else _used_ids(registry, args)
    refused = [] if listing else code_problems(registry, args.assets_dir, args.trust_task_code, only=used)
    if problems and (args.validate or not args.keep_going):
        return _report_spec_error(SpecError(problems + refused))
    if refused and not args.validate:
        return _report_spec_error(SpecError(refused))
    for problem in problems:
        print(f"warning: skipped (--keep-going): {problem}", file=sys.stderr)
    if args.validate:
        found = refused + selection_problems(registry, args)
        if args.deep:
            return _deep_validate(registry, args, found)
        if found:
            return _report_spec_error(SpecError(found))
        where = ", ".join(str(folder) for folder in folders)
        counts = f"{len(registry.tasks)} tasks and {len(registry.suites)} suites in {where}"
        print(f"ok: {counts} are valid, with {len(registry.models)} catalogue models")
        return 0
    if args.deep:
        return _deep_validate(registry, args, refused)
    if args.list:
        from benchmark.specs.listing import describe_registry

        print(describe_registry(registry))
        return 0
    if not args.suite:
        print(
            "error: --suite is required (or --list / --validate); suites: " + ", ".join(sorted(registry.suites)),
            file=sys.stderr,
        )
        return EXIT_SPEC_ERROR
    if problem := missing_tracker(args.report_to):
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_SPEC_ERROR
    if found := _similarity_encoder_problems(args.similarity_encoder):
        return _report_spec_error(SpecError(found))
    from benchmark.engine.suite import run_suite

    try:
        options = run_options(args)  # past this line, typed options only
    except SpecError as error:
        return _report_spec_error(error)
    try:
        return run_suite(registry, options)
    except SpecError as error:
        return _report_spec_error(error)


def run_options(args: argparse.Namespace) -> RunOptions:
    """The typed options of a run from what `build_parser` parsed: the one place an argparse object becomes them.
    `SpecError` for a `--model` or `--similarity-encoder` value that cannot be used. A cap or pinned learning rate
    of 0 is unset, as it always was."""
    from benchmark.data.loading import SplitCaps
    from benchmark.engine.options import RunOptions
    from benchmark.engine.plan import Selection
    from benchmark.engine.settings import Layer
    from benchmark.specs.adhoc import parse_model, parse_models
    from benchmark.specs.schema import TrainingSpec

    selection = Selection(
        models=args.models,
        tasks=args.tasks,
        protocols=args.protocols,
        seeds=args.seeds,
        include_scratch=False if args.no_scratch else None,
    )
    command_line = Layer(
        training=TrainingSpec(
            epochs=args.epochs,
            scratch_epochs=args.scratch_epochs,
            max_steps=args.max_steps,
            budget_doublings=args.budget_doublings,
            probe_epochs=args.probe_epochs,
            batch_size=args.batch_size,
            gradient_accumulation_steps=args.gradient_accumulation_steps,
        ),
        caps=SplitCaps(
            train=args.max_train_samples or None,
            validation=args.max_validation_samples or None,
            test=args.max_eval_samples or None,
        ),
        learning_rate=args.learning_rate or None,
        probe_learning_rate=args.probe_learning_rate or None,
    )
    return RunOptions(
        suite=args.suite,
        tasks_dir=args.tasks_dir,
        include_path=tuple(args.include_path),
        assets_dir=args.assets_dir,
        output_dir=args.output_dir,
        leaderboard_dir=args.leaderboard_dir,
        selection=selection,
        extra_models=tuple(parse_models(args.model, args.model_args)),
        shard=args.shard,
        command_line=command_line,
        mixed_precision=args.mixed_precision,
        num_workers=args.num_workers,
        compile=args.compile,
        cpu_threads=args.cpu_threads,
        overwrite=args.overwrite,
        keep_going=args.keep_going,
        trust_remote_code=args.trust_remote_code,
        trust_task_code=args.trust_task_code,
        no_feature_cache=args.no_feature_cache,
        checkpoint_interval=args.checkpoint_interval,
        no_similarity=args.no_similarity,
        similarity_only=args.similarity_only,
        similarity_encoder=tuple(parse_model(value) for value in args.similarity_encoder),
        log_samples=args.log_samples,
        verbose=args.verbose,
        report_to=args.report_to,
        logging_dir=args.logging_dir,
    )


def _similarity_encoder_problems(values: list[str]) -> list[str]:
    """What is wrong with the `--similarity-encoder` values, before any work."""
    from benchmark.specs.adhoc import parse_model

    problems = []
    for value in values:
        try:
            parse_model(value)
        except SpecError as error:
            problems += [f"--similarity-encoder {value!r}: {problem}" for problem in error.problems]
    return problems


def _used_ids(registry, args: argparse.Namespace) -> set[str]:
    """The ids of the suite a run uses and of the tasks it runs (`--tasks`, else the suite's); empty when the suite
    does not resolve, whose problems the run reports itself."""
    if not args.suite or args.suite not in registry.suites:
        return set()
    try:
        suite = registry.resolve(args.suite, skip_unknown_tasks=args.keep_going, requested_tasks=args.tasks)
    except SpecError:
        return set()
    return {args.suite, *(args.tasks or (task.task for task in suite.tasks))}


def selection_problems(registry, args: argparse.Namespace) -> list[str]:
    """What a run would refuse before any work, found by `--validate` instead: every suite's task, include and
    model references (or only `--suite`'s), resolved with `--tasks` and `--model`, and the cells planned with the
    narrowing flags, so a task or model id outside the suite or the registry is named now, not at run time."""
    from benchmark.engine.plan import Selection, plan_groups
    from benchmark.specs.adhoc import parse_models

    problems: list[str] = []
    try:
        extra_models = parse_models(args.model, args.model_args)
    except SpecError as error:
        return error.problems
    if args.suite is None and args.tasks:
        problems += [f"--tasks: unknown task {name!r}" for name in args.tasks if name not in registry.tasks]
    selection = Selection(models=args.models, tasks=args.tasks, protocols=args.protocols, seeds=args.seeds)
    for name in [args.suite] if args.suite else sorted(registry.suites):
        try:
            requested = args.tasks if args.suite else None
            suite = registry.resolve(name, requested_tasks=requested, extra_models=extra_models)
            if args.suite:
                plan_groups(suite, selection)
        except SpecError as error:
            problems += [problem for problem in error.problems if problem not in problems]
    return problems


def _deep_validate(registry, args: argparse.Namespace, found: list[str]) -> int:
    """`--validate --deep`: every dataset and checkpoint of the selection resolved; exit 2 on any mismatch, with
    the problems `--validate` `found` already (refused code, references) reported in the same list."""
    from benchmark.checks.deep_check import deep_check

    try:
        report = deep_check(registry, args.assets_dir, args.suite, args.tasks, args.models)
    except SpecError as error:
        return _report_spec_error(SpecError(found + [p for p in error.problems if p not in found]))
    if found or report.problems:
        return _report_spec_error(SpecError(found + [p for p in report.problems if p not in found]))
    print(report.summary())
    return 0


def _report_spec_error(error: SpecError) -> int:
    print(f"error: {len(error.problems)} problem(s) in the specs:", file=sys.stderr)
    for problem in error.problems:
        print(f"  {problem}", file=sys.stderr)
    return EXIT_SPEC_ERROR


if __name__ == "__main__":
    sys.exit(main())
