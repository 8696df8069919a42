"""Complete, schema-valid result records of a small synthetic suite, for tests of the table, the HTML page and
the Hub upload (every section filled, as a real run writes it, but built in microseconds).

`synthetic_suite()` gives one suite's cells: vision and text tasks, two pretrained models with their
scratch twins, both protocols, two seeds, plus one failed cell. Scores are a fixed function of the cell, so
tests can recompute every expected value.
"""

from __future__ import annotations

from benchmark.results.schema import CellResult

MODELS = {"vision": ("resnet_tiny", "vit_tiny"), "text": ("bert_tiny", "roberta_tiny")}
TASKS = {"vision": ("colours", "shapes"), "text": ("topics",)}
CHECKPOINTS = {
    "resnet_tiny": "timm/resnet18.a1_in1k",
    "vit_tiny": "/models/vit_tiny",
    "bert_tiny": "prajjwal1/bert-tiny",
    "roberta_tiny": "{assets}/checkpoints/roberta_tiny",
}
MODEL_BASE = {"resnet_tiny": 0.6, "vit_tiny": 0.65, "bert_tiny": 0.55, "roberta_tiny": 0.62}
TASK_OFFSET = {"colours": 0.0, "shapes": -0.1, "topics": 0.05}
DATASETS = {"colours": "org/colours", "shapes": "imagefolder", "topics": "org/topics"}


def synthetic_score(model: str, init: str, task: str, protocol: str, seed: int) -> float:
    """The test accuracy the synthetic cell reports: pretrained beats scratch, fine-tune beats probe."""
    pretrained, finetune = 0.2 * (init == "pretrained"), 0.05 * (protocol == "finetune")
    return round(MODEL_BASE[model] + TASK_OFFSET[task] + pretrained + finetune + 0.01 * seed, 6)


def full_result(
    *, suite: str = "synth", model: str, init: str, task: str, modality: str, protocol: str, seed: int
) -> CellResult:
    """One `ok` record with timing, complexity, setup, search, convergence, curve, estimators and specs."""
    score = synthetic_score(model, init, task, protocol, seed)
    params = 11_000_000 if model.startswith(("resnet", "bert")) else 5_500_000
    lr = 1e-3 if protocol == "linear_probe" else 3e-4
    wd = 0.1 if init == "scratch" else 0.01
    estimators = {}
    if protocol == "linear_probe":
        estimators = {"logme": score - 1.5, "h_score": score * 2, "knn_loo_acc": score - 0.05}
        estimators |= {"leep": -0.5, "nce": -0.4} if modality == "vision" else {"leep": None, "nce": None}
    return CellResult(
        suite=suite,
        model=model,
        init=init,
        task=task,
        modality=modality,
        protocol=protocol,
        seed=seed,
        status="ok",
        main_metric="accuracy",
        metrics={"accuracy": score, "f1_macro": round(score - 0.03, 6)},
        validation_metrics={"accuracy": round(score - 0.01, 6)},
        chance={"accuracy": 0.5 if modality == "text" else 1 / 3},
        curve=[
            {"step": 10, "epoch": 1.0, "train_elapsed_s": 2.0, "score": round(score * 0.8, 6), "metrics": {}},
            {"step": 20, "epoch": 2.0, "train_elapsed_s": 4.0, "score": round(score - 0.01, 6), "metrics": {}},
        ],
        convergence={"flattened": seed == 0, "late_gain": 0.0 if seed == 0 else 0.02, "tolerance": 0.01},
        search={
            "method": "batched_heads" if protocol == "linear_probe" else "successive_halving",
            "seeds": [0],
            "budgets": [20] if protocol == "linear_probe" else [10, 20],
            "halving_rate": 2,
            "candidates": [
                {"config": {"learning_rate": lr, "weight_decay": wd}, "scores": [[score - 0.02]]},
                {"config": {"learning_rate": lr * 10, "weight_decay": wd}, "scores": [[score - 0.1]]},
            ],
            "chosen": 0,
            "wall_s": 3.5,
        },
        predictions={"predicted": [0, 1, 1], "references": [0, 1, 0]},
        timing={"train_wall_s": 4.0 + seed, "eval_wall_s": 0.5, "samples_per_s": 64.0, "total_wall_s": 8.0},
        complexity={
            "params_total": params,
            "params_trainable": params if protocol == "finetune" else 1_000,
            "flops_per_example": 2.0e9 if model.startswith(("resnet", "bert")) else 1.0e9,
            "flops_counter": "torch.utils.flop_counter",
            "peak_memory_bytes": 123_456_789,
        },
        estimators=estimators,
        setup={
            "device": "cpu",
            "hardware": "AMD EPYC",
            "precision": "no",
            "world_size": 1,
            "batch_size": 16,
            "gradient_accumulation_steps": 1,
            "epochs": 2.0,
            "learning_rate": lr,
            "weight_decay": wd,
            "optimizer_steps": 20,
            "num_train": 128,
            "num_validation": 32,
            "num_test": 100,
            "num_test_scored": 100,
            "num_labels": 3 if modality == "vision" else 2,
            "feature_dim": 64 if protocol == "linear_probe" else None,
        },
        versions={"torch": "2.11.0", "timm": "1.0.15"},
        revisions={"model": "abc123" if init == "pretrained" else None, "dataset": "main"},
        specs={
            "model": {
                "id": model,
                "library": "timm" if modality == "vision" else "transformers",
                "checkpoint": CHECKPOINTS[model],
            },
            "task": {"task": task, "dataset": {"path": DATASETS[task], "revision": "main"}},
        },
        created_at="2026-01-01T00:00:00+00:00",
    )


def synthetic_suite(suite: str = "synth") -> list[CellResult]:
    """Every cell of the synthetic suite, plus one failed scratch cell."""
    results = [
        full_result(suite=suite, model=model, init=init, task=task, modality=modality, protocol=protocol, seed=seed)
        for modality, models in MODELS.items()
        for model in models
        for task in TASKS[modality]
        for init in ("pretrained", "scratch")
        for protocol in ("finetune", "linear_probe")
        for seed in (0, 1)
    ]
    failed = CellResult(
        suite=suite,
        model="vit_tiny",
        init="scratch",
        task="colours",
        modality="vision",
        protocol="finetune",
        seed=2,
        status="failed",
        error="CUDA out of memory\nTraceback ...",
        main_metric="accuracy",
        specs={"model": {"id": "vit_tiny", "library": "timm", "checkpoint": CHECKPOINTS["vit_tiny"]}},
        created_at="2026-01-01T00:00:00+00:00",
    )
    return [*results, failed]
