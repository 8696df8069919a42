"""Batched probe heads: each head trains exactly as it would alone with torch's AdamW, and the grid's heads are
independent of each other."""

from __future__ import annotations

import pytest
import torch

from benchmark.engine.probe_heads import BatchedAdamW, ProbeSettings, predict_heads, train_heads
from benchmark.metrics.compute import metric_fn
from testkit.loop_models import blobs


def test_batched_adamw_equals_torch_adamw_for_every_head():
    torch.manual_seed(0)
    weight, bias = torch.randn(3, 5, 4), torch.randn(3, 4)
    lrs, decays = torch.tensor([0.1, 0.01, 0.3]), torch.tensor([0.0, 0.5, 2.0])
    batched_w, batched_b = weight.clone().requires_grad_(), bias.clone().requires_grad_()
    optimizer = BatchedAdamW(batched_w, batched_b, lrs, decays)
    alone = []
    for k in range(3):
        w, b = weight[k].clone().requires_grad_(), bias[k].clone().requires_grad_()
        groups = [{"params": [w], "weight_decay": float(decays[k])}, {"params": [b], "weight_decay": 0.0}]
        alone.append((w, b, torch.optim.AdamW(groups, lr=float(lrs[k]))))
    x = torch.randn(7, 5)
    for step in range(4):
        factor = [1.0, 0.5, 0.25, 0.125][step]
        (torch.einsum("nd,kdc->knc", x, batched_w) + batched_b[:, None]).square().sum().backward()
        optimizer.step(factor)
        for w, b, opt in alone:
            for group in opt.param_groups:
                group["lr"] = group.setdefault("initial_lr", group["lr"]) * factor
            (x @ w + b).square().sum().backward()
            opt.step()
            opt.zero_grad()
    for k, (w, b, _) in enumerate(alone):
        torch.testing.assert_close(batched_w[k], w)
        torch.testing.assert_close(batched_b[k], b)


def _train(configs):
    train, validation = blobs(60, 0), blobs(30, 1)
    settings = ProbeSettings(epochs=4, batch_size=16, warmup_ratio=0.1, seed=3, max_evals=4)
    return train_heads(
        (train.features, train.labels),
        (validation.features, validation.labels),
        configs,
        3,
        settings,
        metric_fn(["accuracy", "f1_macro"]),
        "accuracy",
        curve_metric_fn=metric_fn(["accuracy"]),
    )


def test_each_head_is_independent_of_the_others_in_the_grid():
    grid = [{"learning_rate": lr, "weight_decay": wd} for lr in (0.01, 0.1) for wd in (0.0, 1.0)]
    together = _train(grid)
    alone = _train([grid[2]])
    torch.testing.assert_close(together.weight[2], alone.weight[0])
    assert together.metrics[2] == alone.metrics[0]
    without_time = [
        [{k: v for k, v in point.items() if k not in ("train_elapsed_s", "loss")} for point in run.curves[i]]
        for run, i in ((together, 2), (alone, 0))
    ]
    assert without_time[0] == without_time[1]
    # the losses as closely as the weights (the batched product rounds differently in the last bits)
    assert [p["loss"] for p in together.curves[2]] == pytest.approx([p["loss"] for p in alone.curves[0]], rel=1e-5)
    assert len(together.curves[0]) == 4 and set(together.curves[0][-1]["metrics"]) == {"accuracy", "f1_macro"}
    assert set(together.curves[0][0]["metrics"]) == {"accuracy"}  # the main metric along the way
    assert max(m["accuracy"] for m in together.metrics) > 0.9
    test = blobs(20, 2)
    assert len(predict_heads(together, test.features, 1)) == 20


def test_each_heads_validation_loss_is_its_cross_entropy_on_validation():
    grid = [{"learning_rate": lr, "weight_decay": 0.0} for lr in (0.001, 0.1)]
    outcome = _train(grid)
    validation = blobs(30, 1)  # the split `_train` validates on
    for head in range(len(grid)):
        expected = torch.nn.functional.cross_entropy(outcome.logits(validation.features, head), validation.labels)
        assert outcome.losses[head] == outcome.curves[head][-1]["loss"]
        assert abs(outcome.losses[head] - expected.item()) < 1e-5
    assert outcome.losses[1] < outcome.losses[0]  # the faster rate has fitted more after the same steps
