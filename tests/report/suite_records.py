"""A hand-made suite for the report tests: 3 checkpoints x 2 tasks, 3 seeds, scratch twins, linear probes.

Test scores are exact on 200 test examples (the predictions reproduce them), seeds at -0.01 / 0 / +0.01 around:

    fine-tune          t1 (chance 0.5)         t2 (chance 0.25)
    pretrained         A 0.9  B 0.7  C 0.6     A 0.5  B 0.8  C 0.78
    scratch            A 0.55 B 0.6  C 0.5     A 0.4  B 0.5  C 0.45

Validation curves: every scratch seed reaches its final score (= its test score) at 40 s; a pretrained seed reaches
its own score at `TIME_TO_SCORE` seconds, always above its twin's, so the speed-up is 40 / that time. FLOPs / params:
A 4e9 / 4e6, B 1e9 / 1e6, C 1e7 / 4e6. A's t2 seed 2 has a curve that had not flattened; C's scratch twin on t1
scores exactly chance on validation (learned nothing). Linear probes (pretrained, one seed): logme = the fine-tuned
score (perfect), h_score its negative (reversed), knn_loo_acc mixed, leep only for A and B on t1. Model specs
declare source_accuracy A 0.8, B 0.75, C 0.7.
"""

from __future__ import annotations

import zlib

import numpy as np

from benchmark.results.schema import (
    Candidate,
    CellResult,
    Convergence,
    CurvePoint,
    Predictions,
    SearchRecord,
    SimilarityResult,
)

SUITE = "s"
N_TEST = 200
COST = {"A": (4e9, 4_000_000), "B": (1e9, 1_000_000), "C": (1e7, 4_000_000)}
CHANCE = {"t1": 0.5, "t2": 0.25}
FINETUNE = {"t1": {"A": 0.9, "B": 0.7, "C": 0.6}, "t2": {"A": 0.5, "B": 0.8, "C": 0.78}}
SCRATCH = {"t1": {"A": 0.55, "B": 0.6, "C": 0.5}, "t2": {"A": 0.4, "B": 0.5, "C": 0.45}}
TIME_TO_SCORE = {("t1", "A"): 10.0, ("t1", "B"): 20.0, ("t1", "C"): 40.0}
TIME_TO_SCORE |= {("t2", "A"): 80.0, ("t2", "B"): 10.0, ("t2", "C"): 20.0}
SCRATCH_TIME = 40.0
PROBE = {"t1": {"A": 0.8, "B": 0.65, "C": 0.6}, "t2": {"A": 0.45, "B": 0.7, "C": 0.72}}
KNN = {"t1": {"A": 0.9, "B": 0.5, "C": 0.7}, "t2": {"A": 0.3, "B": 0.6, "C": 0.5}}
SOURCE_ACCURACY = {"A": 0.8, "B": 0.75, "C": 0.7}
SEED_OFFSETS = (-0.01, 0.0, 0.01)
CHOSEN = {
    "pretrained": {"learning_rate": 1e-4, "weight_decay": 0.01},
    "scratch": {"learning_rate": 1e-3, "weight_decay": 0.0},
}


def references(task: str) -> list[int]:
    return [(i * 7 + len(task)) % 4 for i in range(N_TEST)]


def predictions(task: str, score: float, salt: str) -> Predictions:
    """Predictions with exactly round(score * N_TEST) right; which examples are wrong depends on `salt`."""
    truth = references(task)
    rng = np.random.default_rng(zlib.crc32(salt.encode()))
    wrong = rng.choice(N_TEST, size=N_TEST - round(score * N_TEST), replace=False)
    guessed = list(truth)
    for i in wrong:
        guessed[i] = (guessed[i] + 1) % 4
    return Predictions(predicted=guessed, references=truth)


def _curve(points: list[tuple[float, float]]) -> list[CurvePoint]:
    return [
        CurvePoint(step=i + 1, epoch=float(i + 1), train_elapsed_s=t, score=s, metrics={"accuracy": s})
        for i, (t, s) in enumerate(points)
    ]


def _search(init: str) -> SearchRecord:
    other = {"learning_rate": 1e-2, "weight_decay": 0.0}
    return SearchRecord(
        method="successive_halving",
        seeds=[0],
        budgets=[10, 20],
        halving_rate=2,
        candidates=[Candidate(config=CHOSEN[init], scores=[[0.7], [0.8]]), Candidate(config=other, scores=[[0.6]])],
        chosen=0,
        wall_s=1.0,
    )


def cell(model, init, task, protocol, seed, score, curve, estimators=None, validation=None, flattened=True):
    flops, params = COST[model]
    salt = f"{model}/{init}/{task}/{protocol}/{seed}"
    return CellResult(
        suite=SUITE,
        model=model,
        init=init,
        task=task,
        modality="vision",
        protocol=protocol,
        seed=seed,
        status="ok",
        main_metric="accuracy",
        metrics={"accuracy": score},
        validation_metrics={"accuracy": curve[-1][1] if validation is None else validation},
        chance={"accuracy": CHANCE[task]},
        curve=_curve(curve),
        convergence=Convergence(flattened=flattened, late_gain=0.0 if flattened else 0.05, tolerance=0.01),
        search=_search(init),
        predictions=predictions(task, score, salt),
        timing={"train_wall_s": curve[-1][0]},
        complexity={
            "params_total": params,
            "params_trainable": params,
            "flops_per_example": flops,
            "flops_counter": "t",
        },
        estimators=estimators or {},
        specs={"model": {"id": model, "source_accuracy": SOURCE_ACCURACY[model]}},
    )


def estimators(task: str, model: str) -> dict[str, float]:
    values = {"logme": FINETUNE[task][model], "h_score": -FINETUNE[task][model], "knn_loo_acc": KNN[task][model]}
    return values | ({"leep": -1.0 if model == "A" else -2.0} if task == "t1" and model != "C" else {})


def suite_results() -> list[CellResult]:
    results = []
    for task, scores in FINETUNE.items():
        for model, score in scores.items():
            twin = SCRATCH[task][model]
            for seed, offset in enumerate(SEED_OFFSETS):
                mine = round(score + offset, 3)
                reach = TIME_TO_SCORE[task, model]
                flattened = not (task == "t2" and model == "A" and seed == 2)
                curve = [(reach / 2, CHANCE[task]), (reach, mine)]
                results.append(cell(model, "pretrained", task, "finetune", seed, mine, curve, flattened=flattened))
                scratch_curve = [(SCRATCH_TIME / 2, CHANCE[task]), (SCRATCH_TIME, twin)]
                results.append(cell(model, "scratch", task, "finetune", seed, round(twin + offset, 3), scratch_curve))
            probe_curve = [(5.0, PROBE[task][model])]
            results.append(
                cell(
                    model,
                    "pretrained",
                    task,
                    "linear_probe",
                    0,
                    PROBE[task][model],
                    probe_curve,
                    estimators(task, model),
                )
            )
    return results


def similarity() -> SimilarityResult:
    return SimilarityResult(
        suite=SUITE,
        modality="vision",
        encoder="enc-small",
        tasks=["t1", "t2", "t3"],
        distances={"class_gaussian_ot": [[0.0, 0.2, 0.5], [0.2, 0.0, 0.1], [0.5, 0.1, 0.0]]},
        split_half={"class_gaussian_ot": [0.05, 0.15, 0.08]},
        source_to_target={"A": {"t1": {"class_gaussian_ot": 0.25}, "t2": {"class_gaussian_ot": 0.12}}},
    )
