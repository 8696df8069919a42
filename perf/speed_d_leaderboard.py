"""Part d of `perf/speed.py`: the leaderboard build over a synthetic grid of schema-v2 result files (curves,
searches, convergence and per-example test predictions) and, when it misses its 2 s target, a profile of where
the time goes.
"""

from __future__ import annotations

import cProfile
import pstats
import statistics
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmark.engine.records import convergence
from benchmark.engine.search import (
    DEFAULT_GRIDS,
    DEFAULT_PROBE_GRID,
    best_indices,
    expand_grid,
    halving_budgets,
    survivors,
)
from benchmark.report.leaderboard import build_leaderboard
from benchmark.results.schema import Candidate, CellResult, SearchRecord
from benchmark.results.store import result_path, write_result
from benchmark.specs.schema import DatasetSpec, ModelSpec, TaskSpec, TrainingSpec
from perf.speed_common import HALVING_RATE, NUM_CLASSES, SYNTHETIC_METRICS, Sizes, cores_used, spread, timed

LEADERBOARD_TARGET_S = 2.0

SYNTHETIC_SPLITS = (10_000, 500, 200)  # train, validation, test examples of every synthetic cell
FINETUNE_STEPS, PROBE_STEPS = 469, 4690  # 3 and 30 epochs of 10,000 examples in batches of 64
CURVE_POINTS = 10


def write_synthetic_results(root: Path, models: int, tasks: int, seeds: int, seed: int = 0) -> int:
    """One suite's result files over models x {pretrained, scratch} x tasks x protocols x seeds, written with
    `write_result`: realistic schema-v2 records (curves, searches, convergence, 200 per-example test predictions,
    specs, timing, complexity, estimators; ~2 % failed)."""
    rng = np.random.default_rng(seed)
    count = 0
    for m in range(models):
        for t in range(tasks):
            for init in ("pretrained", "scratch"):
                for protocol in ("finetune", "linear_probe"):
                    for s in range(seeds):
                        result = synthetic_result(m, init, t, protocol, s, rng, seeds=seeds)
                        path = result_path(root, result.suite, result.model, init, result.task, protocol, s)
                        write_result(path, result)
                        count += 1
    return count


def synthetic_result(
    model: int, init: str, task: int, protocol: str, seed: int, rng: np.random.Generator, seeds: int = 1
) -> CellResult:
    """A plausible cell record, shaped like those `benchmark.engine.records.cell_result` writes: its group's search
    (the same for every seed), the chosen configuration's validation curve and convergence, and test metrics
    computed from its per-example predictions, so the leaderboard's example bootstrap can use them. Scores depend
    on the model; seed `seed` is the `seed`-th of the group's `seeds`."""
    model_id, task_id = f"model-{model:02d}", f"task-{task:02d}"
    common = {
        "suite": "synthetic",
        "model": model_id,
        "init": init,
        "task": task_id,
        "modality": "vision",
        "protocol": protocol,
        "seed": seed,
        "main_metric": "accuracy",
        "specs": _synthetic_specs(model_id, task_id),
    }
    if rng.random() < 0.02:
        return CellResult(**common, status="failed", error="RuntimeError: out of memory\nTraceback (most recent ...")
    final = float(np.clip(0.4 + 0.02 * model - (0.2 if init == "scratch" else 0.0) + rng.normal(0, 0.02), 0.05, 1))
    probe = protocol == "linear_probe"
    search = synthetic_search(model, init, task, protocol, seeds, final)
    validation_score = search.candidates[search.chosen].scores[-1][seed]
    steps = search.budgets[-1]
    curve = [
        {
            "step": round(steps * (i + 1) / CURVE_POINTS),
            "epoch": round((30 if probe else 3) * (i + 1) / CURVE_POINTS, 4),
            "train_elapsed_s": 12.5 * (i + 1),
            "score": validation_score * (1 - 0.5 ** (i + 1)) / (1 - 0.5**CURVE_POINTS),
            "metrics": {"accuracy": validation_score * (1 - 0.5 ** (i + 1)) / (1 - 0.5**CURVE_POINTS)},
        }
        for i in range(CURVE_POINTS)
    ]
    predicted, references = synthetic_predictions(task, final, rng)
    num_train, num_validation, num_test = SYNTHETIC_SPLITS
    return CellResult(
        **common,
        status="ok",
        metrics=classification_metrics(predicted, references),
        validation_metrics={"accuracy": validation_score, "f1_macro": validation_score - 0.02},
        chance={"accuracy": 0.1, "f1_macro": 0.018},
        curve=curve,
        convergence=convergence(curve, num_validation),
        search=search,
        predictions={"predicted": predicted, "references": references},
        timing={"train_wall_s": 125.0 + model, "eval_wall_s": 9.1, "samples_per_s": 240.2, "total_wall_s": 141.7},
        complexity={
            "params_total": 5_000_000 + 1_000_000 * model,
            "params_trainable": 5_130 if probe else 5_000_000 + 1_000_000 * model,
            "flops_per_example": 1e9 * (1 + model),
            "flops_counter": "torch.utils.flop_counter + sdpa",
            "peak_memory_bytes": 2_147_483_648,
            "peak_memory_measure": "cuda max allocated",
        },
        estimators={name: float(final + rng.normal(0, 0.1)) for name in ("logme", "h_score", "knn_loo_acc")}
        if probe
        else {},
        setup={
            "device": "cuda:0",
            "hardware": "NVIDIA A100-SXM4-80GB",
            "precision": "bf16",
            "world_size": 1,
            "batch_size": 64,
            "gradient_accumulation_steps": 1,
            "epochs": 30 if probe else 3,
            "learning_rate": search.chosen_config["learning_rate"],
            "weight_decay": search.chosen_config["weight_decay"],
            "optimizer_steps": steps,
            "num_train": num_train,
            "num_validation": num_validation,
            "num_test": num_test,
            "num_test_scored": len(predicted),
            "batch_sizes_tried": "64",
            "num_labels": NUM_CLASSES,
            "feature_dim": 512 if probe else None,
        },
        versions={
            "python": "3.11.7",
            "torch": "2.11.0",
            "timm": "1.0.31",
            "transformers": "5.24.0",
            "datasets": "5.2.0",
            "evaluate": "0.4.6",
            "accelerate": "1.15.0",
            "numpy": "2.4.6",
        },
        revisions={"model": None, "dataset": None, "dataset_fingerprint": "b785e558272408bf-fb38cf793efc2f9b"},
    )


def _synthetic_specs(model_id: str, task_id: str) -> dict:
    task_spec = TaskSpec(
        task=task_id,
        modality="vision",
        metrics=list(SYNTHETIC_METRICS),
        dataset=DatasetSpec(path=f"org/{task_id}", input_column="image"),
    )
    model_spec = ModelSpec(id=model_id, library="timm", checkpoint=f"{model_id}.in1k", modality="vision")
    return {
        "task": task_spec.model_dump(),
        "model": model_spec.model_dump(),
        "training": TrainingSpec(epochs=3, batch_size=64, probe_epochs=30, warmup_ratio=0.1).model_dump(),
        "score_weights": {"quality": 0.6, "training_efficiency": 0.2, "complexity_efficiency": 0.2},
    }


def synthetic_search(model: int, init: str, task: int, protocol: str, seeds: int, final: float) -> SearchRecord:
    """The search record of a synthetic group, the same for each of its seeds (drawn from the group's own random
    stream): successive halving over the default 8-configuration grid for fine-tunes, one rung of the 8 probe
    heads for linear probes; each configuration's scores rise towards its own quality as its budget grows."""
    rng = np.random.default_rng([model, task, int(init == "scratch"), int(protocol == "linear_probe")])
    probe = protocol == "linear_probe"
    configs = expand_grid(DEFAULT_PROBE_GRID if probe else DEFAULT_GRIDS["timm", init])
    rate = 1 if probe else HALVING_RATE
    budgets = [PROBE_STEPS] if probe else halving_budgets(FINETUNE_STEPS, len(configs), rate)
    quality = final + rng.normal(0, 0.03, len(configs))
    scores: dict[int, list[list[float]]] = {i: [] for i in range(len(configs))}
    alive = list(range(len(configs)))
    for rung, budget in enumerate(budgets):
        progress = 1 - 0.3 * (1 - budget / budgets[-1])
        for i in alive:
            scores[i].append([round(float(quality[i] * progress + rng.normal(0, 0.01)), 4) for _ in range(seeds)])
        means = {i: float(np.mean(scores[i][rung])) for i in alive}
        keep = 1 if rung == len(budgets) - 1 else survivors(len(alive), rate)
        alive = sorted(best_indices(means, keep))
    return SearchRecord(
        method="batched_heads" if probe else "successive_halving",
        seeds=list(range(seeds)),
        budgets=budgets,
        halving_rate=rate,
        candidates=[Candidate(config=config, scores=scores[i]) for i, config in enumerate(configs)],
        chosen=alive[0],
        wall_s=12.5 * len(configs) if probe else 125.0 * 2.5,
    )


def synthetic_predictions(task: int, accuracy: float, rng: np.random.Generator) -> tuple[list[int], list[int]]:
    """(predicted, references) over the task's test examples: the references are fixed per task (the same
    examples, in the same order, for every model and seed); each prediction is right with probability
    `accuracy`, else another class."""
    references = np.random.default_rng([task, 1]).integers(0, NUM_CLASSES, SYNTHETIC_SPLITS[2])
    wrong = (references + rng.integers(1, NUM_CLASSES, references.size)) % NUM_CLASSES
    predicted = np.where(rng.random(references.size) < accuracy, references, wrong)
    return predicted.tolist(), references.tolist()


def classification_metrics(predicted: list[int], references: list[int]) -> dict[str, float]:
    """Accuracy and macro F1 (over the classes present in either list, as scikit-learn averages it), in numpy:
    `compute_metrics` gives the same figures at ~4 ms a call, 40 s over 10,000 files."""
    predicted_array, reference_array = np.asarray(predicted), np.asarray(references)
    labels = np.union1d(predicted_array, reference_array)
    hits = (predicted_array[:, None] == labels) & (reference_array[:, None] == labels)
    counts = (predicted_array[:, None] == labels).sum(0) + (reference_array[:, None] == labels).sum(0)
    f1 = 2 * hits.sum(0) / counts
    return {"accuracy": float(np.mean(predicted_array == reference_array)), "f1_macro": float(f1.mean())}


def profile_call(function: Callable, *args) -> pstats.Stats:
    """cProfile statistics of one call."""
    profiler = cProfile.Profile()
    profiler.runcall(function, *args)
    return pstats.Stats(profiler)


def call_tree(stats: pstats.Stats, root: str, depth: int = 4, min_share: float = 0.03) -> list[str]:
    """Where the time under function `root` goes: callees by cumulative time, nested `depth` levels deep,
    leaving out any below `min_share` of the root's total."""
    entries = stats.stats  # {(file, line, function): (calls, ncalls, tottime, cumtime, {caller: (.., cumtime)})}
    callees: dict[tuple, list[tuple[tuple, float]]] = {}
    for key, (*_, callers) in entries.items():
        for caller, (*_, cumulative) in callers.items():
            callees.setdefault(caller, []).append((key, cumulative))
    top = next(key for key in entries if key[2] == root)
    total, lines = entries[top][3], []

    def walk(key: tuple, level: int) -> None:
        for child, seconds in sorted(callees.get(key, []), key=lambda item: -item[1]):
            if seconds >= min_share * total:
                lines.append(f"{'    ' * level}{seconds:7.2f} s {100 * seconds / total:4.0f} %  {_where(child)}")
                if level + 1 < depth:
                    walk(child, level + 1)

    lines.append(f"{total:7.2f} s  100 %  {_where(top)}")
    walk(top, 1)
    return lines


def top_self_time(stats: pstats.Stats, count: int = 10) -> list[str]:
    """The functions with the most time spent in their own code (not in callees)."""
    rows = sorted(((tt, nc, key) for key, (_, nc, tt, _, _) in stats.stats.items()), reverse=True)[:count]
    return [f"{tt:7.2f} s  {nc:>9} calls  {_where(key)}" for tt, nc, key in rows]


def _where(key: tuple) -> str:
    file, line, function = key
    return function if file == "~" else f"{function}  ({Path(file).parent.name}/{Path(file).name}:{line})"


def report_leaderboard(sizes: Sizes, work_dir: Path) -> None:
    models, tasks, seeds = sizes.leaderboard_grid
    results_dir, out_dir = work_dir / "results", work_dir / "leaderboard"
    count, write_s = timed(write_synthetic_results, results_dir, models, tasks, seeds)
    print(
        f"\n## d. Leaderboard build over {count:,} synthetic result files "
        f"({models} models x 2 inits x {tasks} tasks x 2 protocols x {seeds} seeds; written in {write_s:.1f} s)"
    )
    with cores_used("d"):
        seconds = [timed(build_leaderboard, results_dir, out_dir)[1] for _ in range(sizes.repeats)]
    over = statistics.median(seconds) > LEADERBOARD_TARGET_S
    print(
        f"build_leaderboard: {spread(seconds)} s (median [min-max] of {sizes.repeats}); target <= "
        f"{LEADERBOARD_TARGET_S:g} s: {'OVER' if over else 'met'}"
    )
    if over:
        stats = profile_call(build_leaderboard, results_dir, out_dir)
        print("\nwhere one build's time goes (cProfile, which inflates Python-heavy code; callees >= 3 %):")
        print("\n".join(call_tree(stats, "build_leaderboard")))
        print("\nmost self time:")
        print("\n".join(top_self_time(stats)))
