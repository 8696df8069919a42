"""The run's options are typed once at the entry point: every option of the parser lands in `RunOptions`, and
`run_suite` and the functions below it take those, never an argparse object."""

from __future__ import annotations

import argparse
import inspect
import typing
from pathlib import Path

from benchmark.data.loading import SplitCaps
from benchmark.engine import suite as suite_module
from benchmark.engine.options import RunOptions
from benchmark.engine.plan import Selection
from benchmark.engine.settings import Layer
from benchmark.run import ENTRY_POINT_ONLY, build_parser, main, run_options
from benchmark.specs.adhoc import parse_model
from benchmark.specs.schema import TrainingSpec
from testkit.fixtures import tiny_run_args

EVERY_OPTION = [
    "--suite", "s", "--tasks-dir", "T", "--include-path", "I", "--assets-dir", "A", "--output-dir", "O",
    "--leaderboard-dir", "B", "--tasks", "a,b", "--models", "m", "--model", "timm:resnet18", "--model-args",
    "dtype=bfloat16", "--protocols", "finetune", "--seeds", "1,2", "--no-scratch", "--shard", "1/3",
    "--max-train-samples", "5", "--max-validation-samples", "6", "--max-eval-samples", "7", "--epochs", "2",
    "--scratch-epochs", "3", "--max-steps", "4", "--budget-doublings", "1", "--probe-epochs", "5", "--batch-size", "8",
    "--learning-rate", "0.1",
    "--probe-learning-rate", "0.2", "--gradient-accumulation-steps", "2", "--mixed-precision", "bf16",
    "--num-workers", "2", "--compile", "--cpu-threads", "3", "--overwrite", "--keep-going", "--trust-remote-code",
    "--trust-task-code", "--no-feature-cache", "--checkpoint-interval", "5", "--no-similarity", "--similarity-only",
    "--similarity-encoder", "timm:resnet50", "--log-samples", "--verbose", "--report-to", "tensorboard",
    "--logging-dir", "L",
]  # fmt: skip


def test_every_run_option_of_the_parser_is_given_above():
    parser = build_parser()
    args = parser.parse_args(EVERY_OPTION)
    unset = {action.dest for action in parser._actions if getattr(args, action.dest, None) == action.default}
    assert unset <= ENTRY_POINT_ONLY, f"give {unset - ENTRY_POINT_ONLY} above, and a place in RunOptions"


def test_the_options_are_what_the_command_line_said():
    options = run_options(build_parser().parse_args(EVERY_OPTION))
    assert options == RunOptions(
        suite="s",
        tasks_dir=Path("T"),
        include_path=(Path("I"),),
        assets_dir=Path("A"),
        output_dir=Path("O"),
        leaderboard_dir=Path("B"),
        selection=Selection(["m"], ["a", "b"], ["finetune"], [1, 2], include_scratch=False),
        extra_models=(parse_model("timm:resnet18", "dtype=bfloat16"),),
        shard=(1, 3),
        command_line=Layer(
            training=TrainingSpec(
                epochs=2,
                scratch_epochs=3,
                max_steps=4,
                budget_doublings=1,
                probe_epochs=5,
                batch_size=8,
                gradient_accumulation_steps=2,
            ),
            caps=SplitCaps(5, 6, 7),
            learning_rate=0.1,
            probe_learning_rate=0.2,
        ),
        mixed_precision="bf16",
        num_workers=2,
        compile=True,
        cpu_threads=3,
        overwrite=True,
        keep_going=True,
        trust_remote_code=True,
        trust_task_code=True,
        no_feature_cache=True,
        checkpoint_interval=5.0,
        no_similarity=True,
        similarity_only=True,
        similarity_encoder=(parse_model("timm:resnet50"),),
        log_samples=True,
        verbose=True,
        report_to="tensorboard",
        logging_dir=Path("L"),
    )
    assert options.leaderboard == Path("B")


def test_the_defaults_are_the_parsers():
    options = run_options(build_parser().parse_args(["--suite", "s"]))
    assert options == RunOptions(suite="s")
    assert options.leaderboard == Path("results/leaderboard")


def test_a_zero_cap_or_learning_rate_is_unset_as_it_always_was():
    argv = ["--suite", "s", "--max-train-samples", "0", "--learning-rate", "0"]
    assert run_options(build_parser().parse_args(argv)).command_line == Layer()


def test_run_suite_and_the_functions_below_it_take_typed_options(tiny_tasks, tmp_path, monkeypatch):
    hints = typing.get_type_hints(suite_module.run_suite)
    assert hints["options"] is RunOptions
    for name, function in inspect.getmembers(suite_module, inspect.isfunction):
        if function.__module__ == suite_module.__name__:
            assert argparse.Namespace not in typing.get_type_hints(function).values(), name
    received = []
    monkeypatch.setattr(suite_module, "run_suite", lambda registry, options: received.append(options) or 0)
    assert main(tiny_run_args(tiny_tasks, tmp_path / "assets", tmp_path / "out", "--epochs", "2")) == 0
    (options,) = received
    assert isinstance(options, RunOptions) and options.command_line.training.epochs == 2
