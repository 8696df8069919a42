"""Hyper-parameter search on the validation split: the grids, the successive-halving schedule, resumable state.

Every (model, init, task, protocol) chooses its learning rate and weight decay on validation, on the mean score
over its seeds; the test split plays no part. Fine-tunes use successive halving (Jamieson & Talwalkar 2016; Li et
al., "Hyperband", 2018): rung r trains every surviving configuration to `budgets[r]` optimizer steps of the same
decaying schedule, and only the best 1/`halving_rate` continue. A survivor is never restarted, so the one left at
the last rung has trained exactly as an uninterrupted full-budget run would, and its run is the final one. The
default rate is 3, Hyperband's: 8 configurations then cost 2.2 full runs instead of 8 (2.5 at rate 2), 3 cost
1.67 and 2 cost 1.33, in three and two rungs; fewer rungs also mean fewer runs to set up and score.

Two refinements of that schedule. A rung drops a configuration only when it is worse than the best by more than
the validation noise (`NoiseRule`: a paired interval over seeds and validation examples), never fewer than the
best 1/`halving_rate` and at most `cap` times as many; several configurations may then reach the last rung, each a
final run, and the best of them is chosen there. And a grid brackets its choice: when the chosen value of a searched
dimension lies at the edge of its grid, the grid is extended one geometric step past that edge (`grid_extension`,
at most `max_extensions` times per dimension) and a new round searches the new configurations against the choice,
whose scores at every rung it already has; a dimension whose choice still lies at an edge is recorded.

The search state (every validation score recorded so far, the rounds and extensions, and each finished final run)
is written atomically after every candidate, so an interrupted search resumes without redoing finished work.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmark.results.schema import Candidate, GridExtension
from benchmark.specs.adapter_registry import LIBRARIES, library_adapter
from benchmark.specs.schema import GridSpec, Init, Library, Protocol
from benchmark.utils.atomic import atomic_write_text

DEFAULT_GRIDS: dict[tuple[str, Init], GridSpec] = {
    (name, init): grid for name in LIBRARIES.names() for init, grid in library_adapter(name).default_grids.items()
}
"""The library adapters' default fine-tune grids by (library, init), as registered when this module was imported (the
speed script reads them; a run asks the registry, so a library registered later has its own)."""
DEFAULT_PROBE_GRID = GridSpec(learning_rate=[1e-3, 3e-3, 1e-2], weight_decay=[0.0, 0.3, 3.0, 30.0])


def default_grid(library: Library, init: Init, protocol: Protocol) -> GridSpec:
    """The grid of a group whose suite, task and command line set none (`RunSettings.grid` layers them): the
    library's default fine-tune grid for the init, or the default probe grid."""
    return DEFAULT_PROBE_GRID if protocol == "linear_probe" else library_adapter(library).default_grids[init]


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
    """How many configurations continue to the next rung under the rank rule (the best 1/rate)."""
    return max(1, math.ceil(alive / rate))


@dataclass(frozen=True)
class NoiseRule:
    """Drop a configuration at a rung only when its mean validation score is below the best one's by more than `z`
    standard errors of their paired difference; keep at least the best 1/rate and at most `cap` times as many."""

    z: float = 1.96
    cap: int = 2


def paired_standard_error(best: list[str], other: list[str]) -> float:
    """Standard error of the mean difference in per-example validation correctness between two configurations,
    paired by seed and by example: the spread over examples of the seed-averaged differences plus, with several
    seeds, the spread over seeds of each seed's mean difference. `best[j]` and `other[j]` are seed j's correctness
    strings ("1" right, "0" wrong) over the same validation examples; 0.0 where they cannot be compared."""
    pairs = list(zip(best, other, strict=True)) if len(best) == len(other) else []
    if not pairs or any(not a or len(a) != len(b) for a, b in pairs):
        return 0.0
    differences = np.stack([_bits(a) - _bits(b) for a, b in pairs])
    seeds, examples = differences.shape
    variance = differences.mean(axis=0).var(ddof=1) / examples if examples > 1 else 0.0
    if seeds > 1:
        variance += differences.mean(axis=1).var(ddof=1) / seeds
    return math.sqrt(variance)


def _bits(correct: str) -> np.ndarray:
    return np.frombuffer(correct.encode("ascii"), dtype=np.uint8).astype(float) - ord("0")


def noise_survivors(
    ranked: list[int], means: dict[int, float], correct: dict[int, list[str]], keep: int, rule: NoiseRule
) -> list[int]:
    """The configurations of `ranked` (best first) that continue: every one within the noise of the best, the best
    `keep` in any case, at most `rule.cap * keep`."""
    best = ranked[0]

    def within_noise(i: int) -> bool:
        gap = means[best] - means[i]
        return gap == 0 or (math.isfinite(gap) and gap <= rule.z * paired_standard_error(correct[best], correct[i]))

    kept = ranked[:keep] + [i for i in ranked[keep:] if within_noise(i)]
    return kept[: rule.cap * keep]


# --- grids that bracket the choice ---------------------------------------------------------------------------

DIMENSIONS = ("learning_rate", "weight_decay")


def grid_values(configs: list[dict[str, float]]) -> dict[str, list[float]]:
    """Each dimension's values over a (possibly extended) grid, ascending."""
    return {name: sorted({config[name] for config in configs}) for name in DIMENSIONS}


def chosen_edges(configs: list[dict[str, float]], chosen: int) -> list[tuple[str, str]]:
    """(dimension, "lower" or "upper") for each searched dimension (two values or more) whose chosen value is the
    grid's smallest or largest. A weight decay of 0 is no edge: there is nothing weaker to try."""
    edges = []
    for name, values in grid_values(configs).items():
        value = configs[chosen][name]
        if len(values) < 2:
            continue
        if value == values[-1]:
            edges.append((name, "upper"))
        elif value == values[0] and value > 0:
            edges.append((name, "lower"))
    return edges


def step_past(values: list[float], edge: str) -> float:
    """One geometric step of the grid past its `edge`: the ratio between the edge value and its neighbour (a decade
    where that neighbour is 0), rounded to three significant digits."""
    if edge == "upper":
        inner, outer = values[-2], values[-1]
        ratio = outer / inner if inner > 0 else 10.0
    else:  # the lower edge is positive (`chosen_edges`), and so is its neighbour
        inner, outer = values[1], values[0]
        ratio = outer / inner
    return float(f"{outer * ratio:.3g}")


def grid_extension(
    configs: list[dict[str, float]], chosen: int, extensions: list[GridExtension], max_extensions: int
) -> tuple[list[GridExtension], list[dict[str, float]]]:
    """The values that extend the grid past each edge the choice lies on (dimensions extended fewer than
    `max_extensions` times), and the configurations they add: every new value with every value of the other
    dimension, as a grid row or column, in grid order after the existing ones."""
    done = {name: sum(e.dimension == name for e in extensions) for name in DIMENSIONS}
    values = grid_values(configs)
    added = [
        GridExtension(dimension=name, edge=edge, value=step_past(values[name], edge))
        for name, edge in chosen_edges(configs, chosen)
        if done[name] < max_extensions
    ]
    for extension in added:
        values[extension.dimension] = sorted({*values[extension.dimension], extension.value})
    existing = {(c["learning_rate"], c["weight_decay"]) for c in configs}
    new = [
        {"learning_rate": lr, "weight_decay": wd}
        for lr, wd in itertools.product(values["learning_rate"], values["weight_decay"])
        if (lr, wd) not in existing
    ]
    return added, new


def still_at_edge(configs: list[dict[str, float]], chosen: int) -> list[str]:
    """The searched dimensions whose chosen value still lies at an edge of the (extended) grid."""
    return [name for name, _ in chosen_edges(configs, chosen)]


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

    `scores[i][r][j]` is configuration i's validation score after rung r for the j-th seed, `losses[i][r][j]` its
    validation loss (the tie-break) and `correct[i][r][j]` its per-example validation correctness ("0"/"1" per
    example, for the noise rule). `rounds[k]` lists the configurations round k searches: the whole grid first, then
    after each extension the previous round's choice and the configurations the extension added (`extensions`);
    `configs` grows with them. `finals[(i, seed)]` holds the final result record (JSON) of configuration i's seed
    once its last-rung run and its single test evaluation are done.
    """

    configs: list[dict[str, float]]
    seeds: list[int]
    budgets: list[int]
    scores: dict[int, dict[int, dict[int, float]]] = field(default_factory=dict)
    losses: dict[int, dict[int, dict[int, float]]] = field(default_factory=dict)
    correct: dict[int, dict[int, dict[int, str]]] = field(default_factory=dict)
    finals: dict[tuple[int, int], str] = field(default_factory=dict)
    batch_sizes: dict[str, list[int]] = field(default_factory=dict)
    wall_s: float = 0.0
    rounds: list[list[int]] = field(default_factory=list)
    extensions: list[GridExtension] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.rounds:
            self.rounds = [list(range(len(self.configs)))]

    def score(self, config: int, rung: int, seed_index: int) -> float | None:
        return self.scores.get(config, {}).get(rung, {}).get(seed_index)

    def record(
        self, config: int, rung: int, seed_index: int, value: float, loss: float = math.inf, correct: str = ""
    ) -> None:
        self.scores.setdefault(config, {}).setdefault(rung, {})[seed_index] = value
        self.losses.setdefault(config, {}).setdefault(rung, {})[seed_index] = loss
        self.correct.setdefault(config, {}).setdefault(rung, {})[seed_index] = correct

    def alive(self, rung: int, rate: int, noise: NoiseRule | None = None, round_index: int = -1) -> list[int]:
        """The configurations that train at `rung` in a round (the latest by default): all of the round's at rung 0,
        then those the previous rung kept, by the rank rule (the best 1/rate) or, given `noise`, the noise rule.
        The rank rule sends one configuration to the last rung."""
        alive = sorted(self.rounds[round_index])
        last, keep = len(self.budgets) - 1, len(alive)
        for r in range(rung):
            means = {i: self.mean(i, r) for i in alive}
            ranked = best_indices(means, len(alive), {i: self.mean_loss(i, r) for i in alive})
            # the rank rule's share, counted from the round's size: the noise rule keeps at most `cap` times as many
            # at every rung, so its cost stays within `cap` times the rank rule's
            keep = 1 if r + 1 == last else survivors(keep, rate)
            if noise is None:
                alive = sorted(ranked[:keep])
            else:
                correct = {i: [self.correct[i][r].get(j, "") for j in range(len(self.seeds))] for i in alive}
                alive = sorted(noise_survivors(ranked, means, correct, keep, noise))
        return alive

    def chosen(self, rate: int, noise: NoiseRule | None = None, round_index: int = -1) -> int:
        """A round's choice: the best of the configurations that reached its last rung."""
        last = len(self.budgets) - 1
        finalists = self.alive(last, rate, noise, round_index)
        means = {i: self.mean(i, last) for i in finalists}
        return best_indices(means, 1, {i: self.mean_loss(i, last) for i in finalists})[0]

    def extend(self, added: list[GridExtension], configs: list[dict[str, float]], incumbent: int) -> None:
        """A new round: the configurations an extension adds, searched against the last round's choice."""
        first = len(self.configs)
        self.configs = [*self.configs, *configs]
        self.extensions = [*self.extensions, *(e.model_copy(update={"round": len(self.rounds)}) for e in added)]
        self.rounds = [*self.rounds, [incumbent, *range(first, len(self.configs))]]

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
            "scores": [  # [configuration, rung, seed index, validation score, validation loss, correctness]
                [i, r, j, value, self.losses[i][r][j], self.correct[i][r][j]]
                for i, rungs in self.scores.items()
                for r, seeds in rungs.items()
                for j, value in seeds.items()
            ],
            "finals": {f"{i}/{seed}": text for (i, seed), text in self.finals.items()},
            "batch_sizes": self.batch_sizes,
            "wall_s": self.wall_s,
            "rounds": self.rounds,
            "extensions": [e.model_dump() for e in self.extensions],
        }

    @classmethod
    def load_or_new(
        cls, path: Path, configs: list[dict[str, float]], seeds: list[int], budgets: list[int]
    ) -> SearchState:
        """The saved state of this exact search (same grid, perhaps extended since, seeds and budgets), or a
        fresh one."""
        fresh = cls(configs=configs, seeds=seeds, budgets=budgets)
        try:
            saved = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return fresh
        saved_configs = saved.get("configs") or []
        if (saved_configs[: len(configs)], saved.get("seeds"), saved.get("budgets")) != (configs, seeds, budgets):
            return fresh
        fresh.configs = saved_configs
        fresh.rounds = saved.get("rounds") or [list(range(len(saved_configs)))]
        fresh.extensions = [GridExtension.model_validate(e) for e in saved.get("extensions", [])]
        for i, r, j, value, *rest in saved["scores"]:  # states saved before losses were recorded have none
            loss, correct = (list(rest) + [math.inf, ""])[:2]
            fresh.record(int(i), int(r), int(j), float(value), float(loss), str(correct))
        # finals saved by seed alone, before several configurations could reach the last rung, are trained again
        fresh.finals = {_final_key(key): text for key, text in saved["finals"].items() if "/" in key}
        fresh.batch_sizes = saved.get("batch_sizes", {})
        fresh.wall_s = float(saved.get("wall_s", 0.0))
        return fresh


def _final_key(key: str) -> tuple[int, int]:
    config, seed = key.split("/")
    return int(config), int(seed)


def _finite_or_none(value: float) -> float | None:
    """A recorded score or loss for the result schema: a diverged run's -inf (inf) becomes None."""
    return value if math.isfinite(value) else None
