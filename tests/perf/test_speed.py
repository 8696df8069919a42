"""Smoke test of `perf/speed.py`: each part runs at toy sizes and gives positive, finite figures.

No timing thresholds: the figures depend on the machine and its load, so only their sanity is checked. The
two-process launch of part c is not repeated here (one `accelerate launch` alone takes longer than this
test's budget; tests/test_distributed.py covers launching), only the fixtures it launches on.
"""

from __future__ import annotations

import math

import pytest
import torch
from accelerate import Accelerator

from benchmark.engine.loop import LinearHead
from benchmark.report.leaderboard import build_leaderboard
from perf import speed

TINY_CASE = speed.ModelCase(
    "linear head",
    4,
    lambda: LinearHead(8, speed.NUM_CLASSES),
    lambda n, g: {"features": torch.randn(n, 8, generator=g)},
)

pytestmark = pytest.mark.integration  # runs the suite, launches processes or builds real assets


def positive_finite(*values: float) -> bool:
    return all(math.isfinite(value) and value > 0 for value in values)


def test_both_training_loops_report_throughput():
    accelerator = Accelerator()
    suite = speed.suite_throughput(TINY_CASE, accelerator, warmup=1, steps=3)
    plain = speed.plain_throughput(TINY_CASE, accelerator.device, warmup=1, steps=3)
    assert positive_finite(suite, plain)


def test_every_model_case_builds_and_gives_class_logits():
    for case in (*speed.MODEL_CASES, speed.PROBE_CASE):
        inputs, labels = speed.synthetic_batches(case, 2, seed=0)
        with torch.inference_mode():
            logits = speed.seeded_model(case, 0).eval()(inputs)
        assert logits.shape == (2, speed.NUM_CLASSES) and labels.shape == (2,)


def test_every_estimator_dimension_has_a_backbone_with_features_of_that_size():
    for d in (*speed.FULL.estimator_dims, *speed.QUICK.estimator_dims):
        model = speed.seeded_model(speed.FEATURE_BACKBONES[d], 0).eval()
        inputs, _ = speed.synthetic_batches(speed.FEATURE_BACKBONES[d], 1, seed=0)
        with torch.inference_mode():
            assert model.features(inputs).shape == (1, d)


def test_estimators_are_timed():
    seconds = speed.estimator_seconds(n=300, d=16, repeats=2)
    assert set(seconds) == set(speed.ESTIMATORS)
    assert all(len(runs) == (1 if name in speed.ONCE else 2) for name, runs in seconds.items())
    assert all(positive_finite(*runs) for runs in seconds.values())


def test_distributed_fixtures_are_built(tmp_path):
    tasks, assets = speed.build_distributed_fixtures(tmp_path, per_class=2)
    assert (tasks / "suites" / "tiny.yaml").is_file()
    assert len(list((assets / "colours" / "train").rglob("*.png"))) == 2 * 3


def test_leaderboard_build_is_profiled(tmp_path):
    results, out = tmp_path / "results", tmp_path / "leaderboard"
    assert speed.write_synthetic_results(results, models=2, tasks=2, seeds=1) == 2 * 2 * 2 * 2
    stats = speed.profile_call(build_leaderboard, results, out)
    assert positive_finite(stats.total_tt)
    assert "build_leaderboard" in speed.call_tree(stats, "build_leaderboard")[0]
    assert len(speed.top_self_time(stats, count=3)) == 3
