"""The Accelerate loop: learns a separable problem, keeps a validation curve, stops on a diverging loss, stops at
a rung and continues the same schedule from there."""

from __future__ import annotations

import pytest
import torch
from accelerate import Accelerator

from benchmark.engine.loop import DivergedError, TrainConfig, make_optimizer, predict_split, train_and_evaluate
from benchmark.engine.rung_states import RungStates
from benchmark.metrics.compute import metric_fn
from testkit.loop_models import LinearHead, batch_as_is, blobs


def run(config: TrainConfig, model: torch.nn.Module | None = None):
    torch.manual_seed(0)
    return train_and_evaluate(
        Accelerator(),
        model or LinearHead(8, 3),
        blobs(96, 0),
        blobs(31, 1),
        batch_as_is,
        config,
        metric_fn(["accuracy"]),
        "accuracy",
    )


def test_learns_separable_blobs_and_records_curve():
    outcome = run(TrainConfig(epochs=3, batch_size=16, learning_rate=0.05, evals_per_epoch=2))
    assert outcome.metrics["accuracy"] > 0.95
    assert [p["step"] for p in outcome.curve] == [3, 6, 9, 12, 15, 18]
    assert outcome.optimizer_steps == 18 and outcome.train_examples_seen == 3 * 96
    assert outcome.finished and outcome.total_steps == 18
    elapsed = [p["train_elapsed_s"] for p in outcome.curve]
    assert elapsed == sorted(elapsed)


def test_budget_in_optimizer_steps_overrides_epochs():
    outcome = run(TrainConfig(epochs=3, max_steps=7, batch_size=16, learning_rate=0.05))
    assert outcome.optimizer_steps == 7 and outcome.total_steps == 7 and outcome.curve[-1]["step"] == 7


def test_gradient_accumulation_counts_optimizer_steps():
    outcome = run(TrainConfig(epochs=1, batch_size=16, learning_rate=0.05, gradient_accumulation_steps=2))
    assert outcome.optimizer_steps == 3


def test_diverging_loss_raises_with_step():
    with pytest.raises(DivergedError) as caught:
        run(TrainConfig(epochs=3, batch_size=16, learning_rate=1e30, warmup_ratio=0.0))
    assert caught.value.step >= 1 and "loss became" in str(caught.value)


class DropoutHead(LinearHead):
    """A linear head with dropout: its training draws from torch's random generator every step."""

    def forward(self, inputs):
        return self.linear(torch.nn.functional.dropout(inputs["features"], p=0.3, training=self.training))


@pytest.mark.parametrize("in_memory", [False, True])
@pytest.mark.parametrize("head", [LinearHead, DropoutHead])
def test_a_run_stopped_at_rungs_ends_exactly_as_an_uninterrupted_one(tmp_path, head, in_memory):
    base = dict(epochs=3, batch_size=16, learning_rate=0.05, evals_per_epoch=2, checkpoint_dir=tmp_path / "ckpt")
    if in_memory:  # rung states kept in memory: nothing is written to disk for these short runs
        base["rung_states"] = RungStates()
    torch.manual_seed(0)  # the same initial weights as the runs `run` builds
    whole_model = head(8, 3)
    whole = run(TrainConfig(**{**base, "checkpoint_dir": None}), whole_model)
    for stop in (5, 11):  # rungs inside the first and the second epoch (6 steps each)
        torch.manual_seed(0)
        partial = run(TrainConfig(**base, stop_at_step=stop), head(8, 3))
        assert partial.optimizer_steps == stop and not partial.finished
        assert partial.curve[-1]["step"] == stop  # a rung is always evaluated where it stops
        assert (tmp_path / "ckpt").exists() != in_memory
    final_model = head(8, 3)
    final = run(TrainConfig(**base), final_model)
    assert final.finished and final.metrics == whole.metrics
    # every epoch after a resume sees the data order of an uninterrupted run: the weights are the same
    for resumed, uninterrupted in zip(final_model.parameters(), whole_model.parameters(), strict=True):
        torch.testing.assert_close(resumed, uninterrupted)
    at_whole_evals = [p for p in final.curve if p["step"] in {q["step"] for q in whole.curve}]
    assert [p["score"] for p in at_whole_evals] == [p["score"] for p in whole.curve]


def test_an_early_rung_without_periodic_evals_is_scored_only_where_it_stops_and_trains_the_same(tmp_path):
    base = dict(epochs=3, batch_size=16, learning_rate=0.05, evals_per_epoch=2, rung_states=RungStates())
    base["checkpoint_dir"] = tmp_path / "ckpt"
    torch.manual_seed(0)
    whole_model = LinearHead(8, 3)
    whole = run(TrainConfig(**{**base, "checkpoint_dir": None, "rung_states": None}), whole_model)
    torch.manual_seed(0)
    rung = run(TrainConfig(**base, stop_at_step=11, periodic_evals=False), LinearHead(8, 3))
    assert [p["step"] for p in rung.curve] == [11]  # not 3, 6 and 9
    torch.manual_seed(0)
    final_model = LinearHead(8, 3)
    final = run(TrainConfig(**base), final_model)
    assert [p["step"] for p in final.curve] == [11, 12, 15, 18]
    assert final.metrics == whole.metrics
    assert final.curve[-1]["train_loss"] == pytest.approx(whole.curve[-1]["train_loss"])
    for resumed, uninterrupted in zip(final_model.parameters(), whole_model.parameters(), strict=True):
        torch.testing.assert_close(resumed, uninterrupted)


def test_a_final_run_trained_again_through_its_rungs_draws_the_curve_of_the_run_that_stopped_at_them(tmp_path):
    rungs = dict(rung_ends=(5, 11), periodic_after=11)  # a search stopping at steps 5 and 11 of 18
    base = dict(epochs=3, batch_size=16, learning_rate=0.05, evals_per_epoch=2, **rungs)
    stopped = dict(base, rung_states=RungStates(), checkpoint_dir=tmp_path / "ckpt")
    for stop in (5, 11):  # the uninterrupted search: early rungs scored where they stop, kept in memory
        torch.manual_seed(0)
        run(TrainConfig(**stopped, stop_at_step=stop, periodic_evals=False), DropoutHead(8, 3))
    torch.manual_seed(0)
    continued = run(TrainConfig(**stopped), DropoutHead(8, 3))
    torch.manual_seed(0)  # after a kill: the rung states are gone, the final run trains from the first step
    again = run(TrainConfig(**base), DropoutHead(8, 3))
    assert [p["step"] for p in continued.curve] == [5, 11, 12, 15, 18]  # not 3, 6 and 9 in the early rungs
    drop_timing = [{k: v for k, v in p.items() if k != "train_elapsed_s"} for p in continued.curve]
    assert [{k: v for k, v in p.items() if k != "train_elapsed_s"} for p in again.curve] == drop_timing


def test_predict_split_returns_every_example_in_order():
    accelerator, model = Accelerator(), LinearHead(8, 3)
    data = blobs(13, 2)
    predicted, references = predict_split(accelerator, model, data, batch_as_is, batch_size=4)
    assert references == data.labels.tolist() and len(predicted) == 13


def test_optimizer_is_fused_adamw_on_cpu_and_takes_the_same_step():
    weights = [torch.nn.Parameter(torch.randn(5, 3, generator=torch.Generator().manual_seed(0))) for _ in range(2)]
    config = TrainConfig(epochs=1, batch_size=1, learning_rate=0.1)
    fused = make_optimizer([weights[0]], config, torch.device("cpu"))
    plain = torch.optim.AdamW([weights[1]], lr=0.1, weight_decay=config.weight_decay)
    assert fused.defaults["fused"] is True
    assert not make_optimizer([weights[0]], config, torch.device("cpu"), mixed_precision="fp16").defaults["fused"]
    for optimizer, weight in ((fused, weights[0]), (plain, weights[1])):
        weight.grad = torch.ones_like(weight)
        optimizer.step()
    torch.testing.assert_close(weights[0], weights[1])


def test_a_run_after_another_on_one_accelerator_resumes_from_its_checkpoint_in_a_fresh_process(tmp_path):
    """A pretraining stage after another one (other label count) was stopped; a new process resumes it."""
    accelerator, data = Accelerator(), blobs(96, 0, classes=4)
    config = dict(epochs=2, batch_size=16, learning_rate=0.05, evals_per_epoch=2, checkpoint_dir=None)
    scoring = (metric_fn(["accuracy"]), "accuracy")
    train_and_evaluate(
        accelerator, LinearHead(8, 3), blobs(96, 0), blobs(31, 1), batch_as_is, TrainConfig(**config), *scoring
    )
    stopped = TrainConfig(**{**config, "checkpoint_dir": tmp_path / "ckpt"}, stop_at_step=5)
    train_and_evaluate(accelerator, LinearHead(8, 4), data, data, batch_as_is, stopped, *scoring)
    resumed = TrainConfig(**{**config, "checkpoint_dir": tmp_path / "ckpt"})
    outcome = train_and_evaluate(Accelerator(), LinearHead(8, 4), data, data, batch_as_is, resumed, *scoring)
    assert outcome.finished and outcome.optimizer_steps == 12 and outcome.curve[0]["step"] <= 5
