"""Docs that cannot drift: every command line the README shows is parsed by the real parser, without running it.

The commands are taken from the README's fenced code blocks (and from inline code that starts like a command):
`accelerate launch [launch options] benchmark/run.py ...` (the launch options by accelerate's own parser),
`python benchmark/run.py ...`, `python -m benchmark.<module> ...`, `python <script>.py ...` of this repository
and `transfer-bench <subcommand> ...`. Each is handed to the `main` its entry point runs, with argparse's
`parse_args` replaced by one that parses and then stops, so nothing runs; an argument the parser refuses fails the
test with the README line it came from.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import re
import shlex
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from benchmark import cli
from benchmark.utils.paths import REPO_ROOT

README = REPO_ROOT / "README.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
INLINE = re.compile(r"`([^`\n]+)`")
SHELL_FENCES = {"bash", "sh", "shell", "console", ""}
COMMAND_START = re.compile(r"^(accelerate launch|python3? (-m benchmark|\S+\.py)|transfer-bench)\b")
ENV_ASSIGNMENT = re.compile(r"^[A-Z_][A-Z0-9_]*=\S*$")
SHELL_VARIABLE = re.compile(r"\$\{[A-Z_][A-Z0-9_]*\}")


class Parsed(Exception):
    """Raised by the patched `parse_args` once a command line has parsed: the run stops there."""

    def __init__(self, namespace: argparse.Namespace):
        super().__init__("parsed")
        self.namespace = namespace


def readme_commands(text: str) -> list[str]:
    """Every command line of the README: from shell code blocks (continuations joined, `&&` chains split, comments
    and environment assignments dropped) and from inline code that starts like a command."""
    commands = []
    for language, body in FENCE.findall(text):
        if language in SHELL_FENCES:
            commands += [line for line in _shell_lines(body) if COMMAND_START.match(line)]
    prose = FENCE.sub("", text)
    commands += [span for span in INLINE.findall(prose) if _inline_command(span)]
    return list(dict.fromkeys(commands))


def _inline_command(span: str) -> bool:
    """Inline code that is a whole command line: it starts like one and passes something to the program."""
    match = COMMAND_START.match(span)
    return match is not None and len(span.split()) > len(match.group(0).split()) and "..." not in span


def _shell_lines(body: str) -> Iterator[str]:
    for line in body.replace("\\\n", " ").splitlines():
        for part in re.split(r"&&|;|\|\|", line):
            words = shlex.split(part, comments=True)
            while words and ENV_ASSIGNMENT.match(words[0]):
                words = words[1:]
            if words:
                yield shlex.join(words)


def entry_point(words: list[str]) -> tuple[Callable[[list[str]], int], list[str]]:
    """The `main` a command line runs and the arguments it passes to it."""
    if words[:2] == ["accelerate", "launch"]:
        script = next(i for i, word in enumerate(words) if word.endswith(".py"))
        _parse_only(_accelerate_launch_main, words[2 : script + 1])  # the launch options parse too
        return _script_main(words[script]), words[script + 1 :]
    if words[0] == "transfer-bench":
        return cli.main, words[1:]
    if words[1] == "-m":
        return importlib.import_module(words[2]).main, words[3:]
    return _script_main(words[1]), words[2:]


def _accelerate_launch_main(argv: list[str]) -> int:
    from accelerate.commands.launch import launch_command_parser

    launch_command_parser().parse_args(argv)
    return 0


def _script_main(path: str) -> Callable[[list[str]], int]:
    """A repository script's `main` (its path relative to the repository root)."""
    relative = Path(path)
    assert (REPO_ROOT / relative).is_file(), f"the README names {path}, which is not in the repository"
    module = ".".join(relative.with_suffix("").parts)
    sys.path.insert(0, str(REPO_ROOT))
    try:
        return importlib.import_module(module).main
    finally:
        sys.path.remove(str(REPO_ROOT))


def _parse_only(main: Callable[[list[str]], int], argv: list[str]) -> None:
    """Run `main(argv)` up to its argument parsing; fail on a parse error or if it gets past parsing without one."""
    original = argparse.ArgumentParser.parse_args

    def parse_then_stop(self, args=None, namespace=None):
        raise Parsed(original(self, args, namespace))

    argparse.ArgumentParser.parse_args = parse_then_stop
    saved_argv = sys.argv
    try:
        if inspect.signature(main).parameters:
            main(argv)
        else:  # a script whose `main()` reads sys.argv
            sys.argv = [main.__module__, *argv]
            main()
    except Parsed:
        return
    except SystemExit as exit_:
        pytest.fail(f"the parser refused it (exit {exit_.code})")
    finally:
        argparse.ArgumentParser.parse_args = original
        sys.argv = saved_argv
    pytest.fail("it ran without parsing any arguments")


COMMANDS = readme_commands(README.read_text(encoding="utf-8"))


def test_the_readme_shows_commands_of_every_entry_point():
    starts = ("accelerate launch benchmark/run.py", "python -m benchmark.", "transfer-bench run", "transfer-bench push")
    for start in starts:
        assert any(command.startswith(start) for command in COMMANDS), start


@pytest.mark.parametrize("command", COMMANDS)
def test_readme_command_parses(command, capsys):
    expanded = SHELL_VARIABLE.sub("0", command)  # as a shell would: `--shard ${SLURM_ARRAY_TASK_ID}/8` -> 0/8
    main, argv = entry_point(shlex.split(expanded))
    _parse_only(main, argv)


def test_a_wrong_option_is_caught(capsys):
    """The check itself can fail: the README's former `push --results` is refused."""
    main, argv = entry_point(shlex.split("transfer-bench push --results results --repo-id me/board"))
    with pytest.raises(pytest.fail.Exception, match="refused"):
        _parse_only(main, argv)
    assert "unrecognized arguments: --results" in capsys.readouterr().err


def test_commands_are_found_in_blocks_and_inline_code():
    text = "x\n```bash\nbash setup.sh && python -m benchmark.assets.prepare \\\n  --only a  # note\n```\n"
    text += "`transfer-bench list`"
    assert readme_commands(text) == ["python -m benchmark.assets.prepare --only a", "transfer-bench list"]
