"""Hyper-parameter search on the validation split: the grids, the successive-halving schedule, resumable state.

Every (model, init, task, protocol) chooses its learning rate and weight decay on validation, on the mean score
over its seeds; the test split plays no part. Fine-tunes use successive halving (Jamieson & Talwalkar 2016; Li et
al., "Hyperband", 2018): rung r trains every surviving configuration to `budgets[r]` optimizer steps of the same
decaying schedule, and only the best 1/`halving_rate` continue. A survivor is never restarted, so the one left at
the last rung has trained exactly as an uninterrupted full-budget run would, and its run is the final one. The
default rate is 3, Hyperband's: 8 configurations then cost 2.2 full runs instead of 8 (2.5 at rate 2), 3 cost
1.67 and 2 cost 1.33, in three and two rungs; fewer rungs also mean fewer runs to set up and score.

The search state (every validation score recorded so far, and each seed's finished final run) is written
atomically after every candidate, so an interrupted search resumes without redoing finished work.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from benchmark.results.schema import Candidate
from benchmark.specs.schema import GridSpec, Init, Library, Protocol, SearchSpec
from benchmark.utils.atomic import atomic_write_text

# Library defaults when a suite names no grid: AdamW rates around each family's usual fine-tuning rate (the
# transformers literature's 1e-5..1e-4; a decade higher for conv nets, as SFDA's grid for them), higher again
# for from-scratch training, and decoupled weight decay at two strengths.
DEFAULT_GRIDS: dict[tuple[Library, Init], GridSpec] = {
    ("timm", "pretrained"): GridSpec(learning_rate=[1e-4, 3e-4, 1e-3, 3e-3], weight_decay=[0.01, 0.1]),
    ("timm", "scratch"): GridSpec(learning_rate=[3e-4, 1e-3, 3e-3, 1e-2], weight_decay=[0.01, 0.1]),
    ("transformers", "pretrained"): GridSpec(learning_rate=[1e-5, 3e-5, 1e-4, 3e-4], weight_decay=[0.01, 0.1]),
    ("transformers", "scratch"): GridSpec(learning_rate=[1e-4, 3e-4, 1e-3, 3e-3], weight_decay=[0.01, 0.1]),
}
DEFAULT_PROBE_GRID = GridSpec(learning_rate=[1e-3, 1e-2], weight_decay=[0.0, 0.3, 3.0, 30.0])


def resolve_grid(
    suite_search: SearchSpec, task_search: SearchSpec | None, library: Library, init: Init, protocol: Protocol
) -> GridSpec:
    """The grid of one group: the task's own grid, else the suite's, else the library default."""
    attribute = (
        "linear_probe" if protocol == "linear_probe" else "finetune_scratch" if init == "scratch" else "finetune"
    )
    for search in (task_search, suite_search):
        if search is not None and getattr(search, attribute) is not None:
            return getattr(search, attribute)
    return DEFAULT_PROBE_GRID if protocol == "linear_probe" else DEFAULT_GRIDS[library, init]


def expand_grid(grid: GridSpec) -> list[dict[str, float]]:
    """Every configuration of a grid, learning rate outermost, in a fixed order (ties go to the earlier one)."""
    return [
        {"learning_rate": float(lr), "weight_decay": float(wd)}
        for lr, wd in itertools.product(grid.learning_rate, grid.weight_decay)
    ]


def halving_budgets(total_steps: int, configurations: int, rate: int) -> list[int]:
    """Optimizer steps at the end of each rung: enough rungs for one configuration to remain, the last one the
    whole budget and each earlier one `rate` times smaller (at least one step, strictly increasing)."""
    rungs = 1 if configurations <= 1 else math.ceil(math.log(configurations, rate) - 1e-9) + 1
    budgets: list[int] = []
    for r in range(rungs):
        steps = max(1, round(total_steps / rate ** (rungs - 1 - r)))
        budgets.append(max(steps, budgets[-1] + 1) if budgets else steps)
    budgets[-1] = max(total_steps, budgets[-1])
    return budgets


def survivors(alive: int, rate: int) -> int:
    """How many configurations continue to the next rung."""
    return max(1, math.ceil(alive / rate))


def best_indices(mean_scores: dict[int, float], keep: int, mean_losses: dict[int, float] | None = None) -> list[int]:
    """The `keep` configuration indices with the highest mean scores. Ties go to the lower mean validation loss
    when losses are given (a metric flat at chance says nothing, the loss still does), then to the earlier
    configuration."""
    losses = mean_losses or {}

    def loss(i: int) -> float:
        value = losses.get(i, math.inf)
        return value if math.isfinite(value) else math.inf

    return sorted(mean_scores, key=lambda i: (-mean_scores[i], loss(i), i))[:keep]


@dataclass
class SearchState:
    """What a search has done so far, saved after every step so that it resumes where it stopped.

    `scores[i][r][j]` is configuration i's validation score after rung r for the j-th seed and `losses[i][r][j]`
    its validation loss (the tie-break); `finals[seed]` holds each seed's final result record (JSON) once its
    last-rung run and its single test evaluation are done.
    """

    configs: list[dict[str, float]]
    seeds: list[int]
    budgets: list[int]
    scores: dict[int, dict[int, dict[int, float]]] = field(default_factory=dict)
    losses: dict[int, dict[int, dict[int, float]]] = field(default_factory=dict)
    finals: dict[int, str] = field(default_factory=dict)
    batch_sizes: dict[str, list[int]] = field(default_factory=dict)
    wall_s: float = 0.0

    def score(self, config: int, rung: int, seed_index: int) -> float | None:
        return self.scores.get(config, {}).get(rung, {}).get(seed_index)

    def record(self, config: int, rung: int, seed_index: int, value: float, loss: float = math.inf) -> None:
        self.scores.setdefault(config, {}).setdefault(rung, {})[seed_index] = value
        self.losses.setdefault(config, {}).setdefault(rung, {})[seed_index] = loss

    def alive(self, rung: int, rate: int) -> list[int]:
        """The configurations that train at `rung`: all at rung 0, then the best of the previous rung's."""
        alive = list(range(len(self.configs)))
        for r in range(rung):
            means = {i: self.mean(i, r) for i in alive}
            losses = {i: self.mean_loss(i, r) for i in alive}
            alive = sorted(best_indices(means, survivors(len(alive), rate), losses))
        return alive

    def mean(self, config: int, rung: int) -> float:
        values = self.scores[config][rung]
        return sum(values.values()) / len(values)

    def mean_loss(self, config: int, rung: int) -> float:
        """Mean validation loss over seeds (infinite where a seed diverged or had none recorded)."""
        values = self.losses[config][rung]
        return sum(values.values()) / len(values)

    def candidates(self) -> list[Candidate]:
        """The record of every configuration: its scores and losses per rung reached, per seed in seed order."""
        records = []
        for i, config in enumerate(self.configs):
            rungs = [r for r in sorted(self.scores.get(i, {})) if len(self.scores[i][r]) == len(self.seeds)]
            seeds = range(len(self.seeds))
            records.append(
                Candidate(
                    config=config,
                    scores=[[_finite_or_none(self.scores[i][r][j]) for j in seeds] for r in rungs],
                    losses=[[_finite_or_none(self.losses[i][r][j]) for j in seeds] for r in rungs],
                )
            )
        return records

    def save(self, path: Path) -> None:
        atomic_write_text(path, json.dumps(self._as_json(), indent=1))

    def _as_json(self) -> dict:
        return {
            "configs": self.configs,
            "seeds": self.seeds,
            "budgets": self.budgets,
            "scores": [  # [configuration, rung, seed index, validation score, validation loss]
                [i, r, j, value, self.losses[i][r][j]]
                for i, rungs in self.scores.items()
                for r, seeds in rungs.items()
                for j, value in seeds.items()
            ],
            "finals": {str(seed): text for seed, text in self.finals.items()},
            "batch_sizes": self.batch_sizes,
            "wall_s": self.wall_s,
        }

    @classmethod
    def load_or_new(
        cls, path: Path, configs: list[dict[str, float]], seeds: list[int], budgets: list[int]
    ) -> SearchState:
        """The saved state of this exact search (same grid, seeds and budgets), or a fresh one."""
        fresh = cls(configs=configs, seeds=seeds, budgets=budgets)
        try:
            saved = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return fresh
        if (saved.get("configs"), saved.get("seeds"), saved.get("budgets")) != (configs, seeds, budgets):
            return fresh
        for i, r, j, value, *loss in saved["scores"]:  # states saved before losses were recorded have none
            fresh.record(int(i), int(r), int(j), float(value), float(loss[0]) if loss else math.inf)
        fresh.finals = {int(seed): text for seed, text in saved["finals"].items()}
        fresh.batch_sizes = saved.get("batch_sizes", {})
        fresh.wall_s = float(saved.get("wall_s", 0.0))
        return fresh


def _finite_or_none(value: float) -> float | None:
    """A recorded score or loss for the result schema: a diverged run's -inf (inf) becomes None."""
    return value if math.isfinite(value) else None
