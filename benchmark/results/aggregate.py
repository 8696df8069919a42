"""Aggregate result records over seeds: mean ± std, gain over scratch, time to target quality.

Pure functions over `CellResult`s, shared by the leaderboard tables, the reusability score and the plots.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property

from benchmark.results.schema import CellResult

TARGET_FRACTION = 0.95  # time to target = first evaluation at or above 95 % of the task's best score


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
    def scores(self) -> list[float]:
        return [r.main_score for r in self.ok if r.main_score is not None]

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

    def mean_of(self, section: str, name: str) -> float | None:
        parts = [getattr(r, section) for r in self.ok]
        values = [part.get(name) if isinstance(part, dict) else getattr(part, name, None) for part in parts]
        values = [float(v) for v in values if isinstance(v, int | float)]
        return statistics.fmean(values) if values else None

    def time_to_target(self, best: float) -> float | None:
        """Mean over seeds of the training time until the first evaluation ≥ 95 % of `best`; None if a seed
        never got there."""
        times = [_first_reaching(r, TARGET_FRACTION * best) for r in self.ok]
        if not times or any(t is None for t in times):
            return None
        return statistics.fmean(times)


def _first_reaching(result: CellResult, target: float) -> float | None:
    for point in result.curve:
        if point.score >= target:
            return point.train_elapsed_s
    return None


def group_results(results: list[CellResult]) -> dict[GroupKey, Group]:
    """Results grouped over seeds, keyed and ordered deterministically."""
    grouped: dict[GroupKey, list[CellResult]] = defaultdict(list)
    for result in results:
        key = GroupKey(result.suite, result.modality, result.task, result.model, result.init, result.protocol)
        grouped[key].append(result)
    return {key: Group(key, sorted(grouped[key], key=lambda r: r.seed)) for key in sorted(grouped, key=_order)}


def _order(key: GroupKey) -> tuple:
    return (key.suite, key.modality, key.task, key.protocol, key.model, key.init)


def best_scores(groups: dict[GroupKey, Group]) -> dict[tuple[str, str], float]:
    """Best mean score per (suite, task) over every model, init and protocol: the time-to-target reference."""
    best: dict[tuple[str, str], float] = {}
    for key, group in groups.items():
        if group.mean is not None:
            slot = (key.suite, key.task)
            best[slot] = max(best.get(slot, group.mean), group.mean)
    return best


def scratch_twin(groups: dict[GroupKey, Group], key: GroupKey) -> Group | None:
    """The from-scratch group matching a pretrained one (same task, model, protocol)."""
    twin = GroupKey(key.suite, key.modality, key.task, key.model, "scratch", key.protocol)
    return groups.get(twin)
