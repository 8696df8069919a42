"""Compare two result folders of the same suite: per (task, protocol), did the order of the model variants by mean
test score change, and did any order the leaderboard states (separable pairs) flip?

    python scripts/compare_runs.py results_a results_b
"""

from __future__ import annotations

import argparse
import statistics
from collections import defaultdict
from pathlib import Path

from benchmark.report.leaderboard import BOOTSTRAP_RESAMPLES, load_results
from benchmark.report.sections import ranking_tiers
from benchmark.results.aggregate import group_results, suite_replicates


def orders(results) -> dict[tuple, list[str]]:
    """(suite, task, protocol) -> variants sorted by mean test score (ties by name)."""
    scores: dict[tuple, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in results:
        if r.status == "ok":
            scores[r.suite, r.task, r.protocol][f"{r.model}/{r.init}"].append(r.main_score)
    return {
        key: sorted(by_model, key=lambda m: (-statistics.fmean(by_model[m]), m)) for key, by_model in scores.items()
    }


def stated_pairs(results) -> set[tuple]:
    """(suite, task, protocol, better, worse) for every pair of pretrained checkpoints the leaderboard orders:
    the better one sits in a higher tier."""
    groups = group_results(results)
    pairs = set()
    for suite in sorted({key.suite for key in groups}):
        mine = {key: group for key, group in groups.items() if key.suite == suite}
        for entry in ranking_tiers(mine, suite_replicates(mine, BOOTSTRAP_RESAMPLES)):
            for better in entry.ordered:
                for worse in entry.ordered:
                    if entry.tier[better] < entry.tier[worse]:
                        pairs.add((suite, entry.task, entry.protocol, better, worse))
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first", type=Path)
    parser.add_argument("second", type=Path)
    args = parser.parse_args()
    first, second = load_results(args.first), load_results(args.second)
    a, b = orders(first), orders(second)
    changed = [key for key in sorted(a) if key in b and a[key] != b[key]]
    print(f"per-(task, protocol) orders of all variants by mean test score: {len(changed)} of {len(a)} changed")
    for key in changed:
        print(f"  {key}: {a[key]} -> {b[key]}")
    stated_a, stated_b = stated_pairs(first), stated_pairs(second)
    flipped = {(s, t, p, x, y) for s, t, p, x, y in stated_a if (s, t, p, y, x) in stated_b}
    counts = f"{len(stated_a)} in the first run, {len(stated_b)} in the second, {len(flipped)} reversed"
    print(f"pairs of checkpoints ordered by tiers: {counts}")
    second_metrics = {_cell(q): q.metrics for q in second}
    identical = sum(1 for r in first if second_metrics.get(_cell(r)) == r.metrics)
    print(f"cells with identical test metrics: {identical} of {len(first)}")


def _cell(result) -> tuple:
    return result.suite, result.model, result.init, result.task, result.protocol, result.seed


if __name__ == "__main__":
    main()
