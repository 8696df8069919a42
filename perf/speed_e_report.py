"""Part e of `perf/speed.py`, the report: runs `perf/speed_e_search.py`'s comparisons on the synthetic subjects
and, with `--demo-tasks`, on the real demo tasks, and prints the search table (wall-time ratio to one full
fine-tune, whether halving and the full grid pick the same configuration), where the time went stage by stage,
and the two selection rules side by side (cost, regret, and whether each choice is within the noise of the full
grid's best).
"""

from __future__ import annotations

import statistics
from pathlib import Path

import torch
from accelerate import Accelerator

from benchmark.engine.search import NoiseRule
from perf.speed_common import HALVING_RATE, Sizes, cores_used, print_table, spread
from perf.speed_e_search import (
    STAGES,
    TRAINING_STAGE,
    SearchComparison,
    compare_search,
    demo_subjects,
    missing_assets,
    quiet_libraries,
    scaled_demo,
    synthetic_setting,
    synthetic_subjects,
)

SEARCH_TARGET_RATIO = 2.5  # the target: at most 2.5 full fine-tunes for an 8-configuration search


def print_search_table(comparisons: list[SearchComparison]) -> None:
    print_table(
        [
            "model on task",
            "budgets (steps)",
            "steps / full",
            "halving s",
            "one full fine-tune s",
            "ratio",
            "beyond steps s",
            "full grid s",
            "halving chose",
            "full grid chose",
            "same",
            "regret",
            "survivor vs alone",
        ],
        [
            [
                c.name,
                ",".join(map(str, c.budgets)),
                f"{c.step_ratio:.2f}",
                f"{c.search_wall_s:.1f}",
                spread(c.full_wall_s),
                f"{c.ratio:.2f}",
                f"{c.overhead_s:+.1f}",
                f"{sum(c.full_wall_s):.1f}",
                _config_name(c, c.chosen),
                _config_name(c, c.grid_chosen),
                "yes" if c.same else "no",
                f"{c.regret:.4f}",
                f"{c.survivor_gap:+.4f}",
            ]
            for c in comparisons
        ],
    )


def print_stage_table(comparisons: list[SearchComparison], what: str) -> None:
    """Where the halving searches' time went against one full fine-tune's (median over the 8), stage by stage,
    summed over `comparisons`."""
    names = [*STAGES, TRAINING_STAGE]
    halving = {name: sum(c.search_stages[name] for c in comparisons) for name in names}
    full = {name: sum(statistics.median(s[name] for s in c.full_stages) for c in comparisons) for name in names}
    step_ratio = statistics.median(c.step_ratio for c in comparisons)
    print(
        f"\nwhere the time went, {what} (seconds; extra = halving - {step_ratio:.2f} x full, what the stage adds "
        "beyond that many full runs' worth; negative for work done once per search)"
    )
    print_table(
        ["stage", "halving s", "one full fine-tune s", "extra s"],
        [
            [name, f"{halving[name]:.2f}", f"{full[name]:.2f}", f"{halving[name] - step_ratio * full[name]:+.2f}"]
            for name in names
        ],
    )


def _config_name(comparison: SearchComparison, index: int) -> str:
    config, score = comparison.configs[index], comparison.full_scores[index]
    return f"#{index} lr={config['learning_rate']:g} wd={config['weight_decay']:g} ({score:.3f})"


def print_rule_table(comparisons: list[SearchComparison], what: str) -> None:
    """The two selection rules side by side against the full grid: what each chose, its cost and its regret."""
    print(
        f"\nselection rules, {what}: rank = the best 1/rate continue (the rule before the noise rule); noise = a rung "
        f"drops only configurations worse than the best by more than {NoiseRule().z:g} paired standard errors (over "
        f"seeds and validation examples), keeping at most {NoiseRule().cap} x the rank share; within noise = the "
        "choice's full-budget validation score is within that band of the full grid's best"
    )
    rows = []
    for c in comparisons:
        row = [c.name, _config_name(c, c.grid_chosen)]
        for rule in ("rank", "noise"):
            row += [
                _config_name(c, c.rules[rule].chosen),
                f"{c.rule_step_ratio(rule):.2f}",
                f"{c.rule_ratio(rule):.2f}",
                f"{c.rule_regret(rule):.4f}",
                "yes" if c.rule_within_noise(rule) else "no",
            ]
        rows.append(row)
    header = ["model on task", "full grid chose"]
    for rule in ("rank", "noise"):
        header += [f"{rule} chose", f"{rule} steps / full", f"{rule} wall / full", f"{rule} regret", "within noise"]
    print_table(header, rows)
    for rule in ("rank", "noise"):
        within = sum(c.rule_within_noise(rule) for c in comparisons)
        print(
            f"{what}, {rule} rule: within the noise of the full grid's best on {within} of {len(comparisons)}; "
            f"median steps / full {statistics.median(c.rule_step_ratio(rule) for c in comparisons):.2f}, wall / full "
            f"{statistics.median(c.rule_ratio(rule) for c in comparisons):.2f}, mean regret "
            f"{statistics.fmean(c.rule_regret(rule) for c in comparisons):.4f}"
        )


def summarise_searches(comparisons: list[SearchComparison], what: str) -> None:
    """Agreement with the full grid, the ratio against the target, and whether each survivor ended exactly where
    its uninterrupted run did (the resume-from-checkpoint guarantee)."""
    same = sum(c.same for c in comparisons)
    as_good = sum(c.regret <= 0 for c in comparisons)
    ratio = statistics.median(c.ratio for c in comparisons)
    verdict = "met" if ratio <= SEARCH_TARGET_RATIO else "OVER"
    reproduced = sum(c.survivor_gap == 0 for c in comparisons)
    print(
        f"{what}: successive halving chose the full grid's configuration on {same} of {len(comparisons)} (one "
        f"scoring as well as the full grid's best on {as_good} of {len(comparisons)}); median wall ratio to one full "
        f"fine-tune {ratio:.2f} (steps alone: {statistics.median(c.step_ratio for c in comparisons):.2f}), target <= "
        f"{SEARCH_TARGET_RATIO:g}: {verdict}; the survivor ended with its uninterrupted run's validation score on "
        f"{reproduced} of {len(comparisons)}"
    )


def report_search(sizes: Sizes, work_dir: Path, demo_assets: Path | None = None) -> list[SearchComparison]:
    scale = sizes.search
    print(
        f"\n## e. Fine-tune search: successive halving over 8 configurations (rate {HALVING_RATE}) vs one full "
        "fine-tune and vs the full grid"
    )
    print(
        "the model library's default grid (4 learning rates x 2 weight decays); every run is `FinetuneSearch` as the "
        "suite runs it (model built per run and rung, checkpoints, resumes, validation, one test scoring); "
        "'one full fine-tune' = each configuration alone as a 1-configuration grid, median [min-max] of the 8, "
        "4 run before the halving search and 4 after; 'full grid s' = all 8 (the naive search); ratio = halving s / "
        "one full fine-tune s; beyond steps = halving s - (steps / full) x one full fine-tune s, the fixed costs of "
        "its extra runs and rungs; the figure after each choice is that configuration's mean validation score after "
        "the whole budget; regret = the full grid's best score minus the chosen one's; survivor vs alone = the "
        "chosen configuration's final validation score in the search minus in its uninterrupted run (0 expected)"
    )
    accelerator = Accelerator()
    with cores_used("e, synthetic", torch.get_num_threads()):
        root = work_dir / "synthetic"
        setting = synthetic_setting(scale, root)
        with quiet_libraries():
            subjects = synthetic_subjects(scale, root)
        comparisons = [compare_search(s, setting, accelerator, work_dir / f"runs{i}") for i, s in enumerate(subjects)]
    print(
        f"synthetic: random-weight models, {scale.classes} noisy classes, {scale.classes * scale.train_per_class} "
        f"training images/texts before a fifth is held out for validation, batch {scale.batch_size}, budget "
        f"{scale.max_steps} steps, seed 0"
    )
    print_search_table(comparisons)
    for comparison in comparisons:
        print_stage_table([comparison], comparison.name)
    summarise_searches(comparisons, "synthetic tasks")
    print_rule_table(comparisons, "synthetic tasks")
    if demo_assets is not None:
        comparisons += report_demo_search(sizes, work_dir / "demo", demo_assets, accelerator)
    return comparisons


def report_demo_search(
    sizes: Sizes, work_dir: Path, assets_dir: Path, accelerator: Accelerator
) -> list[SearchComparison]:
    """Part e on the real demo tasks, one model per task; raises when their assets are not prepared."""
    subjects, suite_setting = demo_subjects()
    missing = [path for subject in subjects for path in missing_assets(subject, assets_dir)]
    if missing:
        raise FileNotFoundError(
            f"--demo-tasks: {len(missing)} demo asset(s) missing under {assets_dir} (prepare them with "
            f"`python -m benchmark.assets.prepare`), e.g. {missing[0]}"
        )
    setting = scaled_demo(suite_setting, sizes.demo, assets_dir)
    with cores_used("e, demo tasks", torch.get_num_threads()):
        comparisons = [compare_search(s, setting, accelerator, work_dir / f"runs{i}") for i, s in enumerate(subjects)]
    caps = setting.caps
    budget = f"{setting.overrides.max_steps} steps" if setting.overrides.max_steps else "the suite's epochs"
    print(
        f"\ndemo tasks ({assets_dir}): the demo suite's training settings (its tasks' own grids replaced by the "
        f"default 8), caps train/validation/test {caps.train}/"
        f"{caps.validation}/{caps.test}, seeds {list(setting.seeds)}, budget {budget}"
    )
    print_search_table(comparisons)
    print_stage_table(comparisons, f"summed over the {len(comparisons)} demo tasks")
    summarise_searches(comparisons, "demo tasks")
    print_rule_table(comparisons, "demo tasks")
    return comparisons
