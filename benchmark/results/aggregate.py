"""Aggregate result records over seeds: mean ± std, validation quality and speed-up over the scratch twin,
convergence and search summaries, and bootstrap replicates of each group's mean test score.

Pure functions over `CellResult`s, shared by the leaderboard tables, the reusability score and the plots. The
test split enters only through `metrics` and `predictions`; everything about training progress (time to a
quality, convergence, the search) is read from the validation side, as the protocol requires.
"""

from __future__ import annotations

import math
import statistics
import zlib
from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from benchmark.estimators.resampling import (
    EXAMPLE_RESAMPLING,
    SEED_RESAMPLING,
    Difference,
    bootstrap_difference,
    example_weights,
    mean_score_replicates,
    seed_metric_replicates,
    welch_difference,
)
from benchmark.results.schema import CellResult
from benchmark.utils.naming import architecture_name

DEFAULT_TOLERANCE = 0.01  # when a record carries no convergence tolerance: the protocol's floor
REPRODUCE_TOLERANCE = 1e-6  # predictions must give back the recorded test metric to this precision


@dataclass(frozen=True)
class GroupKey:
    suite: str
    modality: str
    task: str
    model: str
    init: str
    protocol: str


@dataclass
class Group:
    """Every seed of one (suite, task, model, init, protocol); summaries are computed once, on first use."""

    key: GroupKey
    results: list[CellResult]

    @cached_property
    def ok(self) -> list[CellResult]:
        return [r for r in self.results if r.status == "ok"]

    @cached_property
    def scored(self) -> list[CellResult]:
        """The finished seeds that have a main test score."""
        return [r for r in self.ok if r.main_score is not None]

    @cached_property
    def scores(self) -> list[float]:
        return [r.main_score for r in self.scored]

    @cached_property
    def mean(self) -> float | None:
        return statistics.fmean(self.scores) if self.scores else None

    @cached_property
    def std(self) -> float:
        return statistics.stdev(self.scores) if len(self.scores) > 1 else 0.0

    @property
    def chance(self) -> float | None:
        values = [r.chance.get(r.main_metric) for r in self.ok if r.main_metric in r.chance]
        return statistics.fmean(values) if values else None

    @property
    def validation_chance(self) -> float | None:
        """The majority class of train scored on validation (None for files written before it was recorded)."""
        values = [r.validation_chance[r.main_metric] for r in self.ok if r.main_metric in r.validation_chance]
        return statistics.fmean(values) if values else None

    def mean_of(self, section: str, name: str) -> float | None:
        parts = [getattr(r, section) for r in self.ok]
        values = [part.get(name) if isinstance(part, dict) else getattr(part, name, None) for part in parts]
        values = [float(v) for v in values if isinstance(v, int | float)]
        return statistics.fmean(values) if values else None

    # --- validation side -------------------------------------------------------------------------------

    @cached_property
    def validation_scores(self) -> list[float]:
        """Each finished seed's final validation score: `validation_metrics`, else the curve's last point."""
        scores = []
        for r in self.ok:
            if r.main_metric in r.validation_metrics:
                scores.append(r.validation_metrics[r.main_metric])
            elif r.curve:
                scores.append(r.curve[-1].score)
        return scores

    @cached_property
    def validation_mean(self) -> float | None:
        return statistics.fmean(self.validation_scores) if self.validation_scores else None

    @cached_property
    def quality_every_seed_reached(self) -> float | None:
        """The lowest over seeds of each seed's best validation score; None unless every seed has a curve."""
        if not self.ok or any(not r.curve for r in self.ok):
            return None
        return min(max(point.score for point in r.curve) for r in self.ok)

    def time_to_reach(self, target: float) -> float | None:
        """Mean over seeds of the training time until the validation curve first reaches `target`; None when a
        seed never does or has no curve."""
        times = [next((p.train_elapsed_s for p in r.curve if p.score >= target), None) for r in self.ok]
        if not times or any(t is None for t in times):
            return None
        return statistics.fmean(times)

    @cached_property
    def time_to_final_quality(self) -> float | None:
        """Mean over seeds of the training seconds until the validation curve first came within the tolerance of
        the score it ends at (the cost of reaching what the run reaches); None unless every seed has a curve."""
        if not self.ok or any(not r.curve for r in self.ok):
            return None
        tolerance = self.tolerance
        times = [next(p.train_elapsed_s for p in r.curve if p.score >= r.curve[-1].score - tolerance) for r in self.ok]
        return statistics.fmean(times)

    @cached_property
    def unflattened(self) -> int:
        """Seeds whose validation curve had not flattened (`convergence.flattened` False)."""
        return sum(r.convergence is not None and not r.convergence.flattened for r in self.ok)

    @cached_property
    def tolerance(self) -> float:
        """The largest convergence tolerance recorded over seeds (one validation example or 0.01)."""
        recorded = [r.convergence.tolerance for r in self.ok if r.convergence is not None]
        return max(recorded, default=DEFAULT_TOLERANCE)

    @cached_property
    def chosen_configs(self) -> list[dict[str, float]]:
        """The distinct configurations the search chose, in seed order (usually one: the search is per group)."""
        configs: list[dict[str, float]] = []
        for r in self.ok:
            if r.search is not None and r.search.chosen_config not in configs:
                configs.append(r.search.chosen_config)
        return configs

    @cached_property
    def edge_choices(self) -> list[str]:
        """The searched dimensions whose chosen value lies at an edge of its (possibly extended) grid, so the best
        value may lie beyond it: as the search recorded it, else (older files) read from its candidates, where a
        dimension with two or more values counts."""
        search = next((r.search for r in self.ok if r.search is not None), None)
        if search is None or not search.candidates:
            return []
        if search.chosen_at_edge is not None:
            return list(search.chosen_at_edge)
        chosen = search.chosen_config
        edges = []
        for name in sorted(chosen):
            values = sorted({c.config[name] for c in search.candidates if name in c.config})
            if len(values) >= 2 and chosen[name] in (values[0], values[-1]):
                edges.append(name)
        return edges

    @cached_property
    def search_spread(self) -> tuple[int, float] | None:
        """(candidates, max - min of their mean validation scores at the first rung): how much the choice mattered."""
        search = next((r.search for r in self.ok if r.search is not None), None)
        if search is None or not search.candidates:
            return None
        first = [c.mean_scores[0] for c in search.candidates if c.scores]
        return len(search.candidates), (max(first) - min(first)) if first else math.nan


def group_results(results: list[CellResult]) -> dict[GroupKey, Group]:
    """Results grouped over seeds, keyed and ordered deterministically. A scratch result is keyed by its
    architecture (`architecture_of`), so files that named a twin after the checkpoint owning it fall into the same
    group as files of the architecture-keyed plan. Two results of one group and seed are an error."""
    grouped: dict[GroupKey, list[CellResult]] = defaultdict(list)
    for result in results:
        model = architecture_of(result) if result.init == "scratch" else result.model
        key = GroupKey(result.suite, result.modality, result.task, model, result.init, result.protocol)
        grouped[key].append(result)
    for key, members in grouped.items():
        seeds = [r.seed for r in members]
        if len(set(seeds)) != len(seeds):
            owners = sorted({r.model for r in members})
            raise ValueError(
                f"two results of {key.model} ({key.init}) on {key.task} ({key.protocol}) share a seed, from "
                f"models {owners}: keep one result folder per architecture"
            )
    return {key: Group(key, sorted(grouped[key], key=lambda r: r.seed)) for key in sorted(grouped, key=_order)}


def _order(key: GroupKey) -> tuple:
    return (key.suite, key.modality, key.task, key.protocol, key.model, key.init)


def architecture_of(result: CellResult) -> str:
    """The architecture a result's model spec names (`ModelSpec.architecture_id`): its `architecture` field, else
    its checkpoint's last path component and revision; the record's model id when the spec is not recorded."""
    spec = result.specs.get("model") or {}
    if spec.get("architecture"):
        return spec["architecture"]
    if spec.get("checkpoint"):
        return architecture_name(spec["checkpoint"], spec.get("revision"), spec.get("dtype"))
    return result.model


def family_of(result: CellResult) -> str:
    """The family of a result's checkpoint: its architecture and the weights its own training started from
    (random weights, the base checkpoint it continued from, or published weights). Checkpoints of one family
    differ only in what they were trained on, which is what a similarity-predicts-reuse test must compare."""
    spec = result.specs.get("model") or {}
    pretrain = spec.get("pretrain") or {}
    if not pretrain:
        start = "published weights"
    elif pretrain.get("init") == "scratch":
        start = "random weights"
    else:
        start = f"{architecture_of(result)}'s weights"
    return f"{architecture_of(result)} from {start}"


def scratch_twin(groups: dict[GroupKey, Group], key: GroupKey) -> Group | None:
    """The from-scratch group of a pretrained one (same task and protocol): its architecture's, shared by every
    checkpoint of that architecture."""
    group = groups.get(key)
    architecture = architecture_of(group.results[0]) if group is not None and group.results else key.model
    return groups.get(GroupKey(key.suite, key.modality, key.task, architecture, "scratch", key.protocol))


def learned_something(scratch: Group) -> bool | None:
    """Whether a group's validation score beats chance by more than its tolerance; None without both numbers.

    Chance is the majority class of train scored on the split compared with, validation; files written before
    that was recorded fall back to the test split's chance.
    """
    chance = scratch.validation_chance if scratch.validation_chance is not None else scratch.chance
    if scratch.validation_mean is None or chance is None:
        return None
    return scratch.validation_mean > chance + scratch.tolerance


# --- speed-up over the scratch twin ----------------------------------------------------------------------


@dataclass(frozen=True)
class SpeedUp:
    """Time to the validation quality every scratch seed reached: the twin's (`scratch_s`) and the model's
    (`model_s`, None when a seed never got there)."""

    target: float
    scratch_s: float
    model_s: float | None

    @property
    def ratio(self) -> float:
        """scratch_s / model_s: 0 when never reached, infinite when reached at once while the twin took time."""
        if self.model_s is None:
            return 0.0
        if self.model_s == 0:
            return 1.0 if self.scratch_s == 0 else math.inf
        return self.scratch_s / self.model_s


def speed_up(model: Group, scratch: Group) -> SpeedUp | None:
    """How much faster `model` reaches its scratch twin's validation quality; None without validation curves."""
    target = scratch.quality_every_seed_reached
    if target is None or not model.ok or any(not r.curve for r in model.ok):
        return None
    scratch_s = scratch.time_to_reach(target)
    return None if scratch_s is None else SpeedUp(target, scratch_s, model.time_to_reach(target))


# --- noise of the measured scores ------------------------------------------------------------------------


def stable_seed(*parts: str) -> int:
    """A seed that depends only on the names given (not on Python's per-process string hashing)."""
    return zlib.crc32("\x1f".join(parts).encode("utf-8"))


@dataclass(frozen=True)
class ScoreReplicates:
    """Bootstrap replicates of a group's mean test score and how they were drawn (`EXAMPLE_RESAMPLING`: seeds
    and test examples; `SEED_RESAMPLING`: seeds only, for groups without usable per-example predictions)."""

    values: np.ndarray
    method: str


def _references(groups: list[Group]) -> np.ndarray | None:
    """The task's test references: those of the first seed with predictions, in group order."""
    for group in groups:
        for r in group.scored:
            if r.predictions is not None and r.predictions.references:
                return np.asarray(r.predictions.references, dtype=np.int64)
    return None


def _over_references(group: Group, references: np.ndarray) -> bool:
    """Every scored seed has predictions over the task's test examples, in the task's order."""
    return all(
        r.predictions is not None and np.array_equal(np.asarray(r.predictions.references), references)
        for r in group.scored
    )


def task_replicates(groups: list[Group], n_boot: int, seed: int = 0) -> dict[GroupKey, ScoreReplicates]:
    """Replicates of each group's mean test score, for the groups of one (suite, task) that have a score.

    Example resamples are drawn once for the task (seeded by suite and task names), so every group's replicates
    are paired on the examples; seeds are resampled per group (seeded by the group's names). A group uses the
    example resamples when every scored seed's predictions are over the task's test examples and give back its
    recorded main metric; otherwise its seeds alone are resampled. The replicates of a group never depend on
    which other groups are passed.
    """
    scored = [g for g in groups if g.scores]
    if not scored:
        return {}
    suite, task = scored[0].key.suite, scored[0].key.task
    if any((g.key.suite, g.key.task) != (suite, task) for g in scored):
        raise ValueError("task_replicates takes the groups of one (suite, task)")
    per_seed = {g.key: (np.asarray(g.scores, dtype=float)[:, None], SEED_RESAMPLING) for g in scored}
    references = _references(scored)
    if references is not None:
        weights = example_weights(references.size, n_boot, stable_seed(suite, task, str(seed)))
        per_seed.update(_example_scores([g for g in scored if _over_references(g, references)], references, weights))
    replicates = {}
    for group in scored:
        key = group.key
        group_seed = stable_seed(key.suite, key.task, key.model, key.init, key.protocol, str(seed))
        scores, method = per_seed[key]
        replicates[key] = ScoreReplicates(mean_score_replicates(scores, n_boot, group_seed), method)
    return replicates


def _example_scores(groups: list[Group], references: np.ndarray, weights: np.ndarray) -> dict:
    """``(seeds, n_boot)`` scores on each example resample of the groups whose predictions reproduce their
    recorded metric, from one batch of products per metric (row 0 of the weights: the test set as it is)."""
    found = {}
    for metric in sorted({g.scored[0].main_metric for g in groups}):
        mine = [g for g in groups if g.scored[0].main_metric == metric]
        predicted = np.array([r.predictions.predicted for g in mine for r in g.scored], dtype=np.int64)
        values = seed_metric_replicates(metric, predicted, references, np.vstack([np.ones(references.size), weights]))
        if values is None:
            continue
        start = 0
        for group in mine:
            rows = values[start : start + len(group.scored)]
            start += len(group.scored)
            if np.all(np.abs(rows[:, 0] - np.asarray(group.scores)) <= REPRODUCE_TOLERANCE):
                found[group.key] = (rows[:, 1:], EXAMPLE_RESAMPLING)
    return found


def suite_replicates(groups: dict[GroupKey, Group], n_boot: int, seed: int = 0) -> dict[GroupKey, ScoreReplicates]:
    """`task_replicates` of every (suite, task) among `groups`."""
    by_task: dict[tuple[str, str], list[Group]] = defaultdict(list)
    for key, group in groups.items():
        by_task[key.suite, key.task].append(group)
    replicates: dict[GroupKey, ScoreReplicates] = {}
    for task_groups in by_task.values():
        replicates.update(task_replicates(task_groups, n_boot, seed))
    return replicates


def compare(a: Group, b: Group, replicates: dict[GroupKey, ScoreReplicates]) -> Difference:
    """mean(a) - mean(b) with its 95 % interval: a paired bootstrap over seeds and test examples when both
    groups have per-example replicates, otherwise Welch's interval over seeds."""
    estimate = (a.mean - b.mean) if a.mean is not None and b.mean is not None else math.nan
    rep_a, rep_b = replicates.get(a.key), replicates.get(b.key)
    if rep_a and rep_b and rep_a.method == rep_b.method == EXAMPLE_RESAMPLING:
        return bootstrap_difference(estimate, rep_a.values, rep_b.values, EXAMPLE_RESAMPLING)
    return welch_difference(a.scores, b.scores)
