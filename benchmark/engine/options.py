"""The options of one run, typed and frozen: built once from the command line (`benchmark.run.run_options`),
then handed to `run_suite` and everything below it, which never see an argparse object.

The options that set a per-task setting (sample caps, training fields, pinned learning rates) form the command
line's `Layer`, the top one of the precedence every setting follows (`benchmark.specs.layers`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from benchmark.engine.plan import Selection
from benchmark.engine.settings import NO_LAYER, Layer
from benchmark.specs.schema import ModelSpec
from benchmark.utils.paths import DEFAULT_TASKS_DIR, default_assets_dir


@dataclass(frozen=True)
class RunOptions:
    """What the command line asked of one run of a suite: each field is the flag of the same name (`--no-x` flags
    keep their name) but for the narrowing (`selection`), the `--model`s (`extra_models`, parsed with their
    `--model-args`), `--shard` (parsed) and the settings of the command line's layer (`command_line`: sample caps,
    training overrides, pinned learning rates); the defaults are the parser's."""

    suite: str
    # folders
    tasks_dir: Path = DEFAULT_TASKS_DIR
    include_path: tuple[Path, ...] = ()
    assets_dir: Path = field(default_factory=default_assets_dir)
    output_dir: Path = Path("results")
    leaderboard_dir: Path | None = None  # None: <output_dir>/leaderboard
    # what runs
    selection: Selection = Selection()  # --models, --tasks, --protocols, --seeds, --no-scratch
    extra_models: tuple[ModelSpec, ...] = ()  # --model, with its --model-args
    shard: tuple[int, int] = (0, 1)  # (I, N) of --shard I/N
    command_line: Layer = NO_LAYER  # sample caps, training overrides, pinned learning rates
    # how it runs
    mixed_precision: str | None = None  # None: what `accelerate launch` configured, else the device's default
    num_workers: int = 0
    compile: bool = False
    cpu_threads: int | None = None  # None: this process's share of the cores
    # behaviour
    overwrite: bool = False
    keep_going: bool = False
    trust_remote_code: bool = False
    trust_task_code: bool = False
    no_feature_cache: bool = False
    checkpoint_interval: float = 60.0  # seconds
    no_similarity: bool = False
    similarity_only: bool = False
    similarity_encoder: tuple[ModelSpec, ...] = ()
    log_samples: bool = False
    verbose: bool = False
    # experiment tracking
    report_to: str = "none"
    logging_dir: Path | None = None  # None: the trackers' folder under output_dir

    @property
    def leaderboard(self) -> Path:
        """Where the leaderboard is written."""
        return self.leaderboard_dir or self.output_dir / "leaderboard"
