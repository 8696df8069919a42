"""`transfer-bench recommend`: rank a shelf of checkpoints for a new task before fine-tuning any of them.

    transfer-bench recommend --task my_task.yaml --suite vision [--models a,b] [--model hf:org/name]

It computes every checkpoint's cheap signals on the task (`benchmark.recommend.signals`: frozen features of the
train and validation splits, estimators, a linear probe; the test split is never read), combines them with the
combination that did best on the committed zoo under leave-one-target-out (`benchmark.recommend.evaluation`,
fitted on the zoo's targets of the task's modality, never on the task at hand), and prints a ranked shortlist, how
often that combination's top pick was right on held-out zoo targets, its own wall time and an estimate of what
fine-tuning the whole shelf under the protocol would cost instead. `recommend(...)` returns the same as a pandas
DataFrame.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from benchmark.estimators.transferability import NAMES
from benchmark.recommend.evaluation import (
    LEARNED,
    PROBE_SIGNAL,
    MethodSummary,
    Target,
    common_signals,
    evaluate_shelf,
    learned_scorer,
    preferred_method,
    ranking,
    shelf_targets,
    signal_scorer,
)
from benchmark.recommend.signals import CheckpointSignals
from benchmark.specs.registry import SpecError
from benchmark.specs.schema import ModelSpec, TaskSpec
from benchmark.utils.paths import REPO_ROOT

DEFAULT_ZOO_RESULTS = REPO_ROOT / "leaderboard" / "zoo" / "results"  # the checkout's committed zoo, from any folder
PROTOCOL_SEEDS = 3  # the protocol's seeds per fine-tune group
HALVING_RATE = 3
DEFAULT_GRID_SIZE = 8  # the default fine-tune grid: 4 learning rates x 2 weight decays
BACKWARD_FACTOR = 3  # a training step costs about three forward passes


@dataclass(frozen=True)
class Calibration:
    """How the signals are combined for one modality, and how that combination fared on held-out zoo targets."""

    method: str
    fitted_on: list[str]
    record: MethodSummary | None
    note: str

    def statement(self) -> str:
        if self.record is None:
            return self.note
        r = self.record
        return (
            f"On {r.n} held-out zoo target(s) of this modality, {r.method}'s top pick was the best fine-tuned "
            f"checkpoint on {r.top1:g}, within 0.02 of it on {r.near_best:g}, with mean regret {r.mean_regret:.4f} "
            f"(leave-one-target-out; {self.note})."
        )


def calibrate(zoo: list[Target], modality: str, available: set[str]) -> tuple[Calibration, object]:
    """The preferred combination of `modality` on the zoo, refitted on all its zoo targets with the signals the
    shelf has; the linear probe score alone (uncalibrated) where the zoo cannot judge a combination."""
    mine = [t for t in zoo if t.modality == modality]
    rows = evaluate_shelf(mine).get(modality, []) if mine else []
    preferred = preferred_method(rows)
    names = [n for n in common_signals(mine) if n in available]
    if preferred is None or not names:
        why = (
            f"no committed zoo result judges a combination for {modality} (need two targets with three checkpoints)"
            if preferred is None
            else "the zoo's signals and the shelf's have none in common"
        )
        probe = next((s for s, _ in rows if s.method == "linear probe score"), None)
        return Calibration("linear probe score", [], probe, f"uncalibrated: {why}"), signal_scorer(PROBE_SIGNAL)
    if preferred.method not in LEARNED:
        note = "no learned combination beat the linear probe score alone on held-out zoo targets"
        return Calibration(preferred.method, [t.task for t in mine], preferred, note), signal_scorer(PROBE_SIGNAL)
    scorer, fitted = learned_scorer(preferred.method, mine, names)
    note = f"refitted on all {len(mine)} zoo targets as {fitted}"
    return Calibration(preferred.method, [t.task for t in mine], preferred, note), scorer


def search_cost_factor(configurations: int = DEFAULT_GRID_SIZE, rate: int = HALVING_RATE) -> float:
    """Full fine-tunes' worth of steps that successive halving spends (rank rule, rung states kept)."""
    from benchmark.engine.search import halving_budgets, survivors

    budgets, alive, spent, previous = halving_budgets(1000, configurations, rate), configurations, 0.0, 0
    for budget in budgets:
        spent += alive * (budget - previous)
        previous, alive = budget, survivors(alive, rate)
    return spent / budgets[-1]


def full_grid_seconds(shelf: list[CheckpointSignals], train_examples: int, epochs: float) -> float | None:
    """Estimated seconds to fine-tune every checkpoint under the protocol on this machine: 3 x forward time per
    example x training examples x epochs x successive halving's cost x 3 seeds (scratch twins not counted)."""
    per_example = [s.forward_s_per_example for s in shelf if s.forward_s_per_example]
    if not per_example:
        return None
    factor = BACKWARD_FACTOR * train_examples * epochs * search_cost_factor() * PROTOCOL_SEEDS
    return factor * sum(per_example)


def ranked_frame(shelf: list[CheckpointSignals], scorer) -> pd.DataFrame:
    """One row per checkpoint, best first: its combined score and every signal (skipped ones last, with why)."""
    scored = [s for s in shelf if s.skipped is None]
    scores = scorer({s.model: s.signals for s in scored}) if scored else {}
    rows = []
    for rank, model in enumerate(ranking(scores), 1):
        signals = next(s for s in scored if s.model == model)
        rows.append({"rank": rank, "model": model, "score": scores[model], **_row(signals)})
    rows += [{"rank": None, "model": s.model, "score": None, "skipped": s.skipped} for s in shelf if s.skipped]
    return pd.DataFrame(rows)


def _row(signals: CheckpointSignals) -> dict:
    return {
        **signals.signals,
        "gflops_per_example": signals.flops_per_example / 1e9 if signals.flops_per_example else None,
        "validation_chance": signals.validation_chance,
        "wall_s": signals.wall_s,
    }


def recommend(
    task: str | Path | TaskSpec,
    models: list[str] | None = None,
    suite: str | None = None,
    *,
    extra_models: list[str] = (),
    include_paths: list[Path] = (),
    tasks_dir: Path | None = None,
    assets_dir: Path | None = None,
    output_dir: Path = Path("results"),
    zoo_results: Path = DEFAULT_ZOO_RESULTS,
    max_train_samples: int | None = None,
    max_validation_samples: int | None = None,
    verbose: bool = True,
) -> pd.DataFrame:
    """The ranked shortlist as a DataFrame (its `attrs` hold the calibration statement, the wall time and the
    full-grid estimate). `task` is a registry id, a task YAML path or a `TaskSpec`; the shelf is `suite`'s models
    (narrowed to `models`) plus `extra_models` (`--model` syntax)."""
    started = time.perf_counter()
    registry = _registry(tasks_dir, include_paths)
    task_spec = _task(registry, task)
    shelf_models = _shelf(registry, suite, models, extra_models, task_spec)
    context = _context(assets_dir, output_dir, max_train_samples, max_validation_samples)
    from benchmark.recommend.signals import load_train_and_validation, shelf_signals

    say = (lambda text: print(text, file=sys.stderr)) if verbose else (lambda text: None)
    data = load_train_and_validation(task_spec, context)
    shelf = shelf_signals(shelf_models, task_spec, data, context, progress=lambda m: say(f"recommend: signals of {m}"))
    scored = [set(s.signals) for s in shelf if s.skipped is None]
    available = set.intersection(*scored) if scored else set()
    zoo = _zoo_targets(zoo_results)
    calibration, scorer = calibrate(zoo, task_spec.modality, available)
    frame = ranked_frame(shelf, scorer)
    train_examples = len(data.train)
    frame.attrs.update(
        task=task_spec.task,
        method=calibration.method,
        calibration=calibration.statement(),
        wall_s=time.perf_counter() - started,
        full_grid_s=full_grid_seconds(shelf, train_examples, context.settings.training(task_spec).epochs or 1.0),
    )
    return frame


def _zoo_targets(zoo_results: Path) -> list[Target]:
    if not Path(zoo_results).is_dir():
        return []
    from benchmark.report.leaderboard import load_results

    return shelf_targets(load_results(Path(zoo_results)))


def _registry(tasks_dir: Path | None, include_paths: list[Path]):
    from benchmark.specs.sources import collect_sources, unique_folders
    from benchmark.utils.paths import DEFAULT_TASKS_DIR

    registry, problems = collect_sources(unique_folders([tasks_dir or DEFAULT_TASKS_DIR, *include_paths]))
    if problems:
        raise SpecError(problems)
    return registry


def _task(registry, task: str | Path | TaskSpec) -> TaskSpec:
    """A `TaskSpec` given, a registry id, or a task YAML file."""
    from benchmark.specs.registry import load_task_file

    if isinstance(task, TaskSpec):
        return task
    if str(task) in registry.tasks:
        return registry.tasks[str(task)]
    if Path(task).suffix in (".yaml", ".yml"):
        return load_task_file(Path(task))
    raise SpecError([f"--task: {task!r} is neither a task of the registry nor a task YAML file"])


def _context(assets_dir: Path | None, output_dir: Path, max_train: int | None, max_validation: int | None):
    """A run context on the visible accelerator (else the CPU), with the output folder's feature cache."""
    from accelerate import Accelerator

    from benchmark.data.loading import SplitCaps
    from benchmark.engine.context import RunContext
    from benchmark.engine.settings import Layer, RunSettings
    from benchmark.recommend.signals import default_cache
    from benchmark.utils.paths import default_assets_dir

    caps = SplitCaps(max_train or None, max_validation or None, None)  # 0 or None: the task's own cap
    settings = RunSettings(
        command_line=Layer(caps=caps),
        assets_dir=Path(assets_dir or default_assets_dir()),
    )
    return RunContext(Accelerator(cpu=not _has_accelerator()), settings, default_cache(Path(output_dir)))


def _has_accelerator() -> bool:
    import torch

    return torch.cuda.is_available()


def _shelf(registry, suite, models, extra_models: list[str], task: TaskSpec) -> list[ModelSpec]:
    """The suite's (narrowed) models and the extra ones, of the task's modality, without pretraining stages."""
    from benchmark.specs.adhoc import parse_model

    extra = [parse_model(text) for text in extra_models]
    listed = list(registry.resolve(suite).models) if suite else []
    if models:
        unknown = [m for m in models if m not in {s.id for s in listed}]
        if unknown:
            raise SpecError([f"--models: {', '.join(unknown)} not in suite {suite!r}"])
        listed = [m for m in listed if m.id in models]
    shelf = [m for m in [*listed, *extra] if m.modality == task.modality]
    staged = [m.id for m in shelf if m.pretrain is not None]
    shelf = [m for m in shelf if m.pretrain is None]
    if staged:
        print(
            f"recommend: left out {', '.join(staged)}: a pretraining stage runs only in a suite run; point --model "
            "at the checkpoint folder it saved to include it",
            file=sys.stderr,
        )
    if not shelf:
        raise SpecError([f"no {task.modality} checkpoint to rank for task {task.task!r}: give --suite or --model"])
    return shelf


# --- command line ----------------------------------------------------------------------------------------


def build_parser(prog: str = "transfer-bench recommend") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("--task", required=True, help="task id of the registry, or a task YAML file")
    parser.add_argument("--suite", help="rank this suite's checkpoints of the task's modality")
    parser.add_argument("--models", type=lambda t: [p for p in t.split(",") if p], help="narrow the suite's models")
    parser.add_argument("--model", action="append", default=[], help="another checkpoint (run's --model syntax)")
    parser.add_argument("--include-path", type=Path, action="append", default=[], metavar="DIR")
    parser.add_argument("--assets-dir", type=Path, help="offline assets (default: env TRANSFER_BENCH_ASSETS)")
    parser.add_argument("--output-dir", type=Path, default=Path("results"), help="its feature cache lives here")
    parser.add_argument(
        "--zoo-results",
        type=Path,
        default=DEFAULT_ZOO_RESULTS,
        help="zoo result files to calibrate on (default: the checkout's leaderboard/zoo/results)",
    )
    parser.add_argument("--max-train-samples", type=int)
    parser.add_argument("--max-validation-samples", type=int)
    parser.add_argument("--top", type=int, default=5, help="rows of the shortlist to print")
    return parser


def main(argv: list[str] | None = None, prog: str = "transfer-bench recommend") -> int:
    args = build_parser(prog).parse_args(argv)
    try:
        frame = recommend(
            args.task,
            args.models,
            args.suite,
            extra_models=args.model,
            include_paths=args.include_path,
            assets_dir=args.assets_dir,
            output_dir=args.output_dir,
            zoo_results=args.zoo_results,
            max_train_samples=args.max_train_samples,
            max_validation_samples=args.max_validation_samples,
        )
    except SpecError as error:
        print("error: " + "\n  ".join(error.problems), file=sys.stderr)
        return 2
    print(render(frame, args.top))
    return 0 if frame["rank"].notna().any() else 1  # every checkpoint failed: nothing was recommended


def render(frame: pd.DataFrame, top: int = 5) -> str:
    """The shortlist as text: ranked rows with their signals, the calibration and the time saved."""
    attrs = frame.attrs
    shown = frame.head(top) if "rank" in frame else frame
    columns = ["rank", "model", "score", PROBE_SIGNAL, *NAMES]
    columns += [c for c in ("gflops_per_example", "skipped") if c in frame]
    lines = [
        f"Shortlist for {attrs['task']} ({attrs['method']}):",
        shown[[c for c in columns if c in shown]].to_string(index=False, float_format=lambda v: f"{v:.4g}"),
        "",
        attrs["calibration"],
        f"recommend took {attrs['wall_s']:.1f} s; " + _grid_sentence(attrs.get("full_grid_s")),
    ]
    return "\n".join(lines)


def _grid_sentence(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "no estimate of the full grid's cost."
    return (
        f"fine-tuning the whole shelf under the protocol (3 seeds, successive halving over the default grid) would "
        f"take about {seconds / 60:.1f} min here (an estimate from the measured forward time, twins not counted)."
    )
