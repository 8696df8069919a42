"""A fine-tune group: successive halving over the grid on validation, every seed in step, then each seed's surviving
run scored once on test.

Rung r trains every surviving configuration, for every seed, to `budgets[r]` optimizer steps of its full-budget
schedule, resuming from the state its previous rung left (kept in memory: `benchmark.engine.rung_states`); the best
1/`halving_rate` by mean validation score over seeds go on (ties, such as runs all still at chance, by mean
validation loss), and under the `noise` selection also those within the paired validation noise of the best (up to
a cap). A configuration that reaches the last rung has then trained exactly as one uninterrupted full run: a final
run. The best final run by validation is the cell's, and the test split is read once per seed, for that run only,
once the whole search has chosen: final runs keep their trained weights (on the CPU) until then, and one lost to a
kill is trained again, to the same weights and curve. When the choice lies at an edge of its grid, a new round
searches the grid's extension past that edge against it (`benchmark.engine.search.grid_extension`). A configuration
that diverges scores lowest and drops out; if the chosen one diverges, that seed's cell is recorded as diverged.
A chosen final run whose validation curve has not flattened is trained again from its start at twice the budget,
up to the task's `budget_doublings` times (0 by default: it is only marked); the search chose at the declared
budget, each retraining is recorded in the cell, and the last finite run is the one tested.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from benchmark.data.collate import make_collator
from benchmark.data.loading import LABEL, TaskData
from benchmark.engine.context import RunContext, for_model
from benchmark.engine.loop import DivergedError, TrainConfig, TrainOutcome, predict_split, train_and_evaluate
from benchmark.engine.oom import halving_batch_on_oom
from benchmark.engine.plan import Cell, Group
from benchmark.engine.records import CellOutcome, cell_result, convergence, group_specs
from benchmark.engine.rung_states import RungStates, cpu_copy
from benchmark.engine.sample_log import predict_with_probabilities, sample_log
from benchmark.engine.search import NoiseRule, SearchState, expand_grid, grid_extension, halving_budgets, still_at_edge
from benchmark.engine.speedups import resident_device
from benchmark.metrics.compute import chance_level, metric_fn
from benchmark.models.complexity import track_peak_memory
from benchmark.models.factory import LoadedModel
from benchmark.results.schema import BudgetExtension, CellResult, SampleLog, SearchRecord
from benchmark.specs.schema import TrainingSpec
from benchmark.utils.naming import safe_component

STATE_FILE = "search.json"
DIVERGED_SCORE = -math.inf  # a diverged configuration ranks below every finite score


@dataclass
class _FinalRun:
    """A run that trained the whole budget, kept until the search has chosen: its trained weights (on the CPU),
    what it measured, and what scoring it on test needs."""

    weights: dict
    outcome: TrainOutcome
    data: TaskData
    collate: Callable
    tried: list[int]
    budget_factor: int = 1  # times the declared budget it trained
    extensions: list[BudgetExtension] = dataclasses.field(default_factory=list)  # retrainings that led to it


class FinetuneSearch:
    """The state of one group's search and how to train one (configuration, seed) to a rung."""

    def __init__(self, group: Group, context: RunContext):
        self.group, self.context = group, context
        self.training = context.settings.training(group.task, group.init)
        rules = context.settings.search_rules(group.task)
        self.rate, self.max_extensions = rules.halving_rate, rules.max_extensions
        self.noise = NoiseRule(rules.noise_z, rules.noise_cap) if rules.selection == "noise" else None
        configs = expand_grid(context.settings.grid(group.model, group.init, group.task, "finetune"))
        self.work_dir = work_dir(context, group)
        self.rung_states = RungStates()  # each surviving run's state between rungs
        self.initial: dict[int, tuple[LoadedModel, dict]] = {}  # per seed: the freshly built model, RNG after it
        budgets = halving_budgets(self._total_steps(), len(configs), self.rate)
        self.state = SearchState.load_or_new(self.work_dir / STATE_FILE, configs, list(group.seeds), budgets)
        self.complexity: dict | None = None
        self.started = 0.0
        self.kept: dict[tuple[int, int], _FinalRun] = {}  # (configuration, seed) -> its final run, until tested

    @property
    def configs(self) -> list[dict[str, float]]:
        """Every configuration searched so far: the grid, then those its extensions added."""
        return self.state.configs

    def run(self) -> list[CellResult]:
        self.started = time.perf_counter() - self.state.wall_s
        with track_peak_memory(self.context.accelerator.device) as memory:
            self._run_round()
            while self._extend():
                self._run_round()
            chosen = self.state.chosen(self.rate, self.noise)
            self._test_chosen(chosen)
        record = SearchRecord(
            method="successive_halving",
            seeds=list(self.group.seeds),
            budgets=self.state.budgets,
            halving_rate=self.rate,
            candidates=self.state.candidates(),
            chosen=chosen,
            wall_s=time.perf_counter() - self.started,
            selection="rank" if self.noise is None else "noise",
            extensions=self.state.extensions,
            max_extensions=self.max_extensions,
            chosen_at_edge=still_at_edge(self.configs, chosen),
        )
        results = [self._final(chosen, seed, record, memory) for seed in self.group.seeds]
        if self.context.accelerator.is_main_process:
            _remove_with_empty_parents(self.work_dir, self.context.settings.work_dir)
        return results

    def _run_round(self) -> None:
        """Successive halving over the latest round's configurations (a finished rung's runs are not redone)."""
        budgets = self.state.budgets
        for rung in range(len(budgets)):
            final = rung == len(budgets) - 1
            alive = self.state.alive(rung, self.rate, self.noise)
            for index in alive:
                for position, cell in enumerate(self.group.cells()):
                    if self.state.score(index, rung, position) is not None:  # recorded before a stop
                        continue
                    self._train(index, rung, position, cell, final)
                    self.state.wall_s = time.perf_counter() - self.started
                    self._save()
            if not final:
                self._drop_checkpoints(set(alive) - set(self.state.alive(rung + 1, self.rate, self.noise)))

    def _extend(self) -> bool:
        """Start a new round when the latest choice lies at an edge of its grid that may still grow."""
        chosen = self.state.chosen(self.rate, self.noise)
        self.kept = {key: run for key, run in self.kept.items() if key[0] == chosen}  # no other can be chosen now
        added, configs = grid_extension(self.configs, chosen, self.state.extensions, self.max_extensions)
        if not configs:
            return False
        self.state.extend(added, configs, chosen)
        self._save()
        return True

    def _test_chosen(self, chosen: int) -> None:
        """Score each seed's final run of the chosen configuration on test, the only read of the split; a run lost
        to a kill is trained again first (to the same weights and curve)."""
        last = len(self.state.budgets) - 1
        for position, cell in enumerate(self.group.cells()):
            key = (chosen, cell.seed)
            if key in self.state.finals:  # tested before a kill, or diverged
                continue
            if key not in self.kept:
                self._train(chosen, last, position, cell, final=True)
            if key in self.kept:
                run = self._until_flattened(chosen, cell, self.kept.pop(key))
                self.state.finals[key] = self._test_once(cell, self.configs[chosen], run)
            self._save()

    def _until_flattened(self, index: int, cell: Cell, run: _FinalRun) -> _FinalRun:
        """The run to test: `run`, or, while the latest run's validation curve has not flattened and the task's
        `budget_doublings` allow, the same configuration trained again from its start at twice that budget. A
        retraining that diverges ends the extensions and leaves the previous run to be tested."""
        extensions: list[BudgetExtension] = []
        while len(extensions) < (self.training.budget_doublings or 0):
            if convergence(run.outcome.curve, len(run.data.validation)).flattened:
                break
            factor = 2 * run.budget_factor
            epochs = self._scaled_training(factor).epochs
            try:
                run = self._retrain(index, cell, factor, run.tried)
            except DivergedError as error:
                extensions.append(BudgetExtension(epochs=epochs, optimizer_steps=error.step, validation_score=None))
                break
            extensions.append(
                BudgetExtension(
                    epochs=epochs,
                    optimizer_steps=run.outcome.optimizer_steps,
                    validation_score=run.outcome.metrics[cell.task.main_metric],
                    convergence=convergence(run.outcome.curve, len(run.data.validation)),
                )
            )
        return dataclasses.replace(run, extensions=extensions)

    def _retrain(self, index: int, cell: Cell, factor: int, tried: list[int]) -> _FinalRun:
        """Configuration `index` for `cell`'s seed trained from its start at `factor` times the declared budget, at
        the batch size its final run ended with; raises `DivergedError` if it diverges."""
        config, tried = self.configs[index], list(tried)
        checkpoint_dir = self.work_dir / f"config{index}-seed{cell.seed}-x{factor}"
        collected: dict = {}

        def attempt(batch_size: int) -> TrainOutcome:
            if batch_size != tried[-1]:  # out of memory at the previous size: start over at this one
                shutil.rmtree(checkpoint_dir, ignore_errors=True)
                tried.append(batch_size)
            base = self._train_config(config, batch_size, cell.seed, checkpoint_dir, stop_at=None)
            scaled = self._scaled_training(factor)
            longer = dataclasses.replace(base, epochs=scaled.epochs, max_steps=scaled.max_steps)
            description = f"finetune {cell.name} lr={config['learning_rate']:g} x{factor} budget (not flattened)"
            return self._fit(cell, longer, description, collected)

        outcome = halving_batch_on_oom(attempt, tried[-1])
        return self._final_run(collected, outcome, tried, budget_factor=factor)

    def _final_run(self, collected: dict, outcome: TrainOutcome, tried: list[int], budget_factor: int = 1) -> _FinalRun:
        """A run that trained its whole budget, kept for testing: its weights copied to the CPU beside what `_fit`
        collected."""
        network = self.context.accelerator.unwrap_model(collected["loaded"].network)
        weights = cpu_copy(network.state_dict())
        return _FinalRun(weights, outcome, collected["data"], collected["collate"], tried, budget_factor)

    def _scaled_training(self, factor: int) -> TrainingSpec:
        """The training settings at `factor` times the declared budget (epochs, or steps where those are set)."""
        training = self.training
        return training.model_copy(
            update={
                "epochs": training.epochs * factor if training.epochs is not None else None,
                "max_steps": training.max_steps * factor if training.max_steps is not None else None,
            }
        )

    def _train(self, index: int, rung: int, position: int, cell: Cell, final: bool) -> None:
        """Train one configuration for one seed to the rung's budget and record its validation score."""
        config, key = self.configs[index], f"{index}/{cell.seed}"
        tried = self.state.batch_sizes.setdefault(key, [])
        checkpoint_dir = self._checkpoint_dir(index, cell.seed)
        collected: dict = {}

        def attempt(batch_size: int) -> TrainOutcome:
            if tried and tried[-1] != batch_size:  # a retry after running out of memory: start this run over
                shutil.rmtree(checkpoint_dir, ignore_errors=True)
                self.rung_states.discard(checkpoint_dir)
            if not tried or tried[-1] != batch_size:
                tried.append(batch_size)
            train_config = self._train_config(
                config, batch_size, cell.seed, checkpoint_dir, self.state.budgets[rung], final, self._rung_ends()
            )
            description = (
                f"finetune {cell.name} lr={config['learning_rate']:g} wd={config['weight_decay']:g} "
                f"rung {rung + 1}/{len(self.state.budgets)}"
            )
            return self._fit(cell, train_config, description, collected)

        try:
            outcome = halving_batch_on_oom(attempt, tried[-1] if tried else self.training.batch_size)
        except DivergedError as error:
            self.state.record(index, rung, position, DIVERGED_SCORE)
            if final:
                self.state.finals[index, cell.seed] = _diverged(cell, error).model_dump_json()
            return
        score = outcome.metrics[cell.task.main_metric]
        self.state.record(index, rung, position, score, outcome.loss, outcome.correct)
        if final:
            self.kept[index, cell.seed] = self._final_run(collected, outcome, tried)

    def _fit(self, cell: Cell, train_config: TrainConfig, description: str, collected: dict) -> TrainOutcome:
        """The seed's freshly built model trained as `train_config` says and traced on validation; `collected`
        receives the model, the data in its input form and the collator."""
        raw = self.context.task_data(cell.task, cell.seed)
        loaded = self._initial_model(cell, raw.num_labels)
        loaded.network.source_classifier = None  # only frozen features use it; unused parameters break DDP
        data = for_model(raw, cell.task, loaded)
        if self.complexity is None:
            self.complexity = self.context.complexity(cell.model, cell.task, loaded, data)
        collate = make_collator(cell.task, loaded.processor)
        collected.update(loaded=loaded, data=data, collate=collate)
        device = resident_device(self.context.accelerator.device)  # preprocessed splits on a GPU stay there
        (train, validation), collate = self.context.preprocessed.inputs(
            [data.train, data.validation], collate, device=device
        )
        return train_and_evaluate(
            self.context.accelerator,
            loaded.network,
            train,
            validation,
            collate,
            train_config,
            metric_fn(cell.task.metrics),
            cell.task.main_metric,
            description=description,
            stop_flag=self.context.stop_flag,
        )

    def _initial_model(self, cell: Cell, num_labels: int) -> LoadedModel:
        """The seed's freshly built model: built once per group, then copied for every configuration and rung.

        A copy, with the random generators put back where the build left them, is the model and the dropout
        stream a new build would give, at a fraction of the cost of loading the checkpoint again."""
        if cell.seed not in self.initial:
            loaded = self.context.build(cell.model, cell.init, cell.task, num_labels, cell.seed)
            self.initial[cell.seed] = (copy.deepcopy(loaded), _torch_rng_states())
            return loaded
        template, rng = self.initial[cell.seed]
        _set_torch_rng_states(rng)
        return copy.deepcopy(template)

    def _test_once(self, cell: Cell, config, run: _FinalRun) -> str:
        """Score the chosen final run on the test split (the only time this group reads it); its result record."""
        started = time.perf_counter()
        accelerator, data, outcome, tried = self.context.accelerator, run.data, run.outcome, run.tried
        accelerator.free_memory()
        loaded = self._initial_model(cell, data.num_labels)
        loaded.network.source_classifier = None  # as in training: the trained weights have none
        loaded.network.load_state_dict(run.weights)
        network = accelerator.prepare_model(loaded.network, evaluation_mode=True)  # precision and device as trained
        (test,), collate = self.context.preprocessed.inputs([data.test], run.collate)
        predicted, references, samples = self._predict_test(cell, network, test, collate, 2 * tried[-1])
        test_wall_s = time.perf_counter() - started
        outcome_record = CellOutcome(
            cell=cell,
            training=self._scaled_training(run.budget_factor),
            config=config,
            validation_metrics=outcome.metrics,
            curve=outcome.curve,
            predicted=predicted,
            references=references,
            samples=samples,
            chance=chance_level(cell.task.metrics, data.train[LABEL], data.test[LABEL]),
            validation_chance=chance_level(cell.task.metrics, data.train[LABEL], data.validation[LABEL]),
            complexity=dict(self.complexity or {}),
            timing={
                "train_wall_s": outcome.train_wall_s,
                "eval_wall_s": outcome.eval_wall_s + test_wall_s,
                "samples_per_s": outcome.samples_per_s,
                "total_wall_s": outcome.train_wall_s + outcome.eval_wall_s + test_wall_s + outcome.compile_wall_s,
                **({"compile_wall_s": outcome.compile_wall_s} if self.context.settings.compile else {}),
            },
            batch_size=tried[-1],
            optimizer_steps=outcome.optimizer_steps,
            split_sizes=(len(data.train), len(data.validation), len(data.test)),
            num_labels=data.num_labels,
            batch_sizes_tried=list(tried),
            revisions={
                "model": loaded.revision,
                "dataset": cell.task.dataset.revision,
                "dataset_fingerprint": data.fingerprint,
            },
            budget_extensions=run.extensions,
        )
        result = cell_result(outcome_record, self.context.accelerator, group_specs(self.group, self.context))
        return result.model_dump_json()

    def _predict_test(
        self, cell: Cell, network, test, collate: Callable, batch_size: int
    ) -> tuple[list[int], list[int], SampleLog | None]:
        """Predicted and true labels of the test split, and with --log-samples its sample log (the same pass)."""
        accelerator = self.context.accelerator
        if not self.context.settings.log_samples:
            return (*predict_split(accelerator, network, test, collate, batch_size), None)
        predicted, references, probabilities = predict_with_probabilities(
            accelerator, network, test, collate, batch_size
        )
        raw = self.context.task_data(cell.task, cell.seed)  # before the model's transforms: its rows' indices
        return predicted, references, sample_log(raw.test, raw.label_names, probabilities)

    def _final(self, chosen: int, seed: int, record: SearchRecord, memory) -> CellResult:
        """A seed's final record of the chosen configuration, with the group's whole search and its peak memory."""
        result = CellResult.model_validate_json(self.state.finals[chosen, seed])
        if result.status != "ok":
            return result
        complexity = result.complexity.model_copy(
            update={"peak_memory_bytes": memory.peak_bytes, "peak_memory_measure": memory.measure}
        )
        return result.model_copy(update={"search": record, "complexity": complexity})

    def _rung_ends(self) -> tuple[int, ...]:
        """The steps where earlier rungs stop: every run evaluates there, however far back it had to restart."""
        return tuple(self.state.budgets[:-1])

    def _train_config(
        self,
        config,
        batch_size: int,
        seed: int,
        checkpoint_dir: Path | None,
        stop_at: int | None,
        final: bool = True,
        rung_ends: tuple[int, ...] = (),
    ) -> TrainConfig:
        """One run of the search: to `stop_at` steps of the whole schedule; the validation curve is drawn in the
        final rung only (earlier rungs are scored where they stop), so the chosen run's curve has a point at each
        rung's end and then every evaluation interval of the last rung. A final run whose earlier rungs' state was
        lost to a kill is trained again from its latest checkpoint and draws that same curve."""
        training = self.training
        return TrainConfig(
            epochs=training.epochs,
            max_steps=training.max_steps,
            batch_size=batch_size,
            learning_rate=config["learning_rate"],
            weight_decay=config["weight_decay"],
            warmup_ratio=training.warmup_ratio,
            gradient_accumulation_steps=training.gradient_accumulation_steps,
            evals_per_epoch=training.evals_per_epoch,
            num_workers=self.context.settings.num_workers,
            seed=seed,
            checkpoint_dir=checkpoint_dir,
            checkpoint_interval_s=self.context.settings.checkpoint_interval_s,
            stop_at_step=stop_at,
            rung_states=self.rung_states,
            periodic_evals=final,
            rung_ends=rung_ends,
            periodic_after=rung_ends[-1] if rung_ends else 0,
            compile=self.context.settings.compile,
        )

    def _total_steps(self) -> int:
        """The full budget in optimizer steps, counted as the loop counts them on each process."""
        training, world = self.training, self.context.accelerator.num_processes
        train_size = len(self.context.task_data(self.group.task, self.group.seeds[0]).train)
        batches_per_epoch = math.ceil(math.ceil(train_size / training.batch_size) / world)
        return self._train_config({"learning_rate": 0, "weight_decay": 0}, training.batch_size, 0, None, 0).total_steps(
            batches_per_epoch
        )

    def _checkpoint_dir(self, index: int, seed: int) -> Path:
        return self.work_dir / f"config{index}-seed{seed}"

    def _drop_checkpoints(self, dropped: set[int]) -> None:
        """Delete the checkpoints of configurations that stop at this rung: they never train again."""
        if self.context.accelerator.is_main_process:
            for index in dropped:
                for seed in self.group.seeds:
                    shutil.rmtree(self._checkpoint_dir(index, seed), ignore_errors=True)
        for index in dropped:
            for seed in self.group.seeds:
                self.rung_states.discard(self._checkpoint_dir(index, seed))
        self.context.accelerator.wait_for_everyone()

    def _save(self) -> None:
        if self.context.accelerator.is_main_process:
            self.state.save(self.work_dir / STATE_FILE)
        self.context.accelerator.wait_for_everyone()


def run_finetune_group(group: Group, context: RunContext) -> list[CellResult]:
    """Search the group's grid by successive halving and return one final result per seed."""
    return FinetuneSearch(group, context).run()


def work_dir(context: RunContext, group: Group) -> Path:
    """Where a group keeps its search state and checkpoints until it finishes."""
    root = context.settings.work_dir or Path(".transfer-bench-work")
    return root / safe_component(group.suite) / Path(*(safe_component(part) for part in group.name.split("/")))


def _diverged(cell: Cell, error: DivergedError) -> CellResult:
    return CellResult(
        **cell.identity(),
        status="diverged",
        error=str(error),
        diverged_at_step=error.step,
        specs={"task": cell.task.model_dump(), "model": cell.model.model_dump()},
    )


def _remove_with_empty_parents(directory: Path, root: Path | None) -> None:
    """Delete a finished group's work folder, then its parents up to `root` while they are empty."""
    shutil.rmtree(directory, ignore_errors=True)
    for parent in directory.parents:
        if root is None or parent == root or root not in parent.parents:
            break
        try:
            parent.rmdir()
        except OSError:  # not empty: another group's work is there
            break


def _torch_rng_states() -> dict:
    return {"cpu": torch.get_rng_state(), "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}


def _set_torch_rng_states(states: dict) -> None:
    torch.set_rng_state(states["cpu"])
    if states["cuda"] is not None:
        torch.cuda.set_rng_state_all(states["cuda"])
