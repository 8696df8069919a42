"""The installed `transfer-bench` command: one entry point with a subcommand per job, usable from any folder.

    transfer-bench run --suite demo            run a suite (every flag of `benchmark/run.py`)
    transfer-bench list [--include-path DIR]   suites, tasks and models
    transfer-bench validate [--include-path DIR]
    transfer-bench leaderboard --results results --out leaderboard
    transfer-bench prepare-assets [--assets-dir DIR]
    transfer-bench push --repo-id user/name [--out leaderboard]
    transfer-bench recommend --task my_task.yaml --suite S [--model ...]

Each subcommand hands its arguments to the module that owns the job, so `accelerate launch benchmark/run.py`,
`python -m benchmark.report.leaderboard` and `python -m benchmark.assets.prepare` keep working unchanged and
accept the same flags. The built-in tasks ship inside the package; `--include-path DIR` (repeatable) adds the
user's own task and suite folders. Called with a flag first (`transfer-bench --suite demo`, `transfer-bench
--list`), the command behaves as `run`, as the earlier single-command version did.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version

from benchmark.utils.naming import suggest

PROG = "transfer-bench"


def _run(argv: list[str]) -> int:
    from benchmark.run import main

    return main(argv, prog=f"{PROG} run")


def _list(argv: list[str]) -> int:
    from benchmark.run import main

    return main(["--list", *argv], prog=f"{PROG} list")


def _validate(argv: list[str]) -> int:
    from benchmark.run import main

    return main(["--validate", *argv], prog=f"{PROG} validate")


def _leaderboard(argv: list[str]) -> int:
    from benchmark.report.leaderboard import main

    return main(argv, prog=f"{PROG} leaderboard")


def _prepare_assets(argv: list[str]) -> int:
    from benchmark.assets.prepare import main

    return main(argv)


def _recommend(argv: list[str]) -> int:
    from benchmark.recommend.command import main

    return main(argv, prog=f"{PROG} recommend")


def _push(argv: list[str]) -> int:
    from benchmark.report.hub import main

    return main(argv)


COMMANDS: dict[str, tuple[Callable[[list[str]], int], str]] = {
    "run": (_run, "run a suite's cells and rebuild its leaderboard (accelerate launch works too)"),
    "list": (_list, "list suites, tasks and models (built-in and --include-path folders)"),
    "validate": (_validate, "check every task and suite YAML; exit 2 on any problem"),
    "leaderboard": (_leaderboard, "rebuild the leaderboard from result files only"),
    "prepare-assets": (_prepare_assets, "prepare the offline demo's checkpoints and datasets once"),
    "recommend": (_recommend, "rank checkpoints for a new task from cheap signals, before fine-tuning any"),
    "push": (_push, "publish the results table and leaderboard to a Hub dataset repository"),
}


def usage() -> str:
    """The top-level help: one line per subcommand."""
    width = max(map(len, COMMANDS))
    lines = [f"usage: {PROG} <command> [options]   ({PROG} <command> --help for its options)", "", "commands:"]
    lines += [f"  {name:<{width}}  {summary}" for name, (_, summary) in COMMANDS.items()]
    return "\n".join(lines)


def _version() -> str:
    try:
        return version("transfer-bench")
    except PackageNotFoundError:  # running from a checkout that was never installed
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    """Dispatch to a subcommand; a first argument that is a flag means `run` (the former single command)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        print(usage(), file=sys.stderr)
        return 2
    if argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    if argv[0] == "--version":
        print(f"{PROG} {_version()}")
        return 0
    if argv[0].startswith("-"):
        return _run(argv)
    command, *rest = argv
    if command not in COMMANDS:
        print(f"{PROG}: unknown command {command!r}{suggest(command, COMMANDS)}\n\n{usage()}", file=sys.stderr)
        return 2
    return COMMANDS[command][0](rest)


if __name__ == "__main__":
    sys.exit(main())
