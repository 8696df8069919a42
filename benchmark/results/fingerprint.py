"""Fingerprints of results: when a result answers the same question as the cell about to run, and when result
files may share one table.

A cell's fingerprint (`benchmark.results.schema.Fingerprint`) is its settings, flattened to dotted names, plus the
code version that computed it. A run reuses a result file only when its fingerprint equals the one the cell would
get now; otherwise it names the cell and what changed, and runs it again. The leaderboard refuses files whose
fingerprints contradict each other where they are compared: the seeds of one group (their mean is a score), and
the cells of one (suite, task, protocol) table (they must share the task, its caps, budget and search rules).

Bump `CODE_VERSION` in any change that changes the numbers a cell records (a new default, a fixed bug in training
or scoring): every result computed before it then reruns.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from benchmark.results.schema import CellResult, Fingerprint
from benchmark.utils.naming import variant_dirname

CODE_VERSION = 1
DIGEST_CHARS = 16
# Settings that every cell of one (suite, task, protocol) table must share: what makes their scores comparable.
PER_INIT = {"training.epochs"}  # may differ between a table's checkpoints and scratch twins
COMPARED_PREFIXES = ("task.", "caps.", "training.", "search.", "precision")
MAX_DIFFERENCES_SHOWN = 6


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings as one mapping of dotted names to leaves (lists and scalars); empty mappings vanish."""
    if not isinstance(value, Mapping):
        return {prefix: value}
    flat: dict[str, Any] = {}
    for key, item in value.items():
        flat.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def make_fingerprint(settings: Mapping[str, Any], code_version: int = CODE_VERSION) -> Fingerprint:
    """The fingerprint of a cell's settings (nested or already flat), as stored in its result file."""
    flat = json.loads(json.dumps(flatten(settings), sort_keys=True))  # JSON types only: what a file reads back
    canonical = json.dumps({"code_version": code_version, "settings": flat}, sort_keys=True)
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:DIGEST_CHARS]
    return Fingerprint(code_version=code_version, digest=digest, settings=flat)


def differences(old: Fingerprint | None, new: Fingerprint) -> list[str]:
    """What changed from `old` to `new`, one `name: old -> new` per setting (and the code version)."""
    if old is None:
        return ["written before fingerprints were recorded"]
    changed = [] if old.code_version == new.code_version else [f"code version {old.code_version} -> {new.code_version}"]
    for name in sorted(set(old.settings) | set(new.settings)):
        before, after = _shown(old.settings, name), _shown(new.settings, name)
        if before != after:
            changed.append(f"{name}: {before} -> {after}")
    return changed


def summarise(changes: list[str]) -> str:
    """A few changes on one line, with a count of the rest."""
    shown = changes[:MAX_DIFFERENCES_SHOWN]
    rest = len(changes) - len(shown)
    return "; ".join(shown) + (f"; and {rest} more" if rest > 0 else "")


def mixed_fingerprints(results: Iterable[CellResult]) -> list[str]:
    """Every place where result files with fingerprints contradict each other, as one message each: a cell found
    twice with two fingerprints, the seeds of one group run with different settings, and the cells of one
    (suite, task, protocol) table run on different tasks, caps, budgets or search rules. Files without a
    fingerprint (written before they were recorded) cannot be checked and are left out."""
    marked = [result for result in results if result.fingerprint is not None]
    return [*_duplicate_cells(marked), *_mixed_groups(marked), *_mixed_tables(marked)]


def _duplicate_cells(results: list[CellResult]) -> list[str]:
    by_cell: dict[tuple, set[str]] = defaultdict(set)
    for result in results:
        by_cell[_group_key(result) + (result.seed,)].add(result.fingerprint.digest)
    return [
        f"{_name(key[:-1])} seed {key[-1]}: {len(digests)} result files with different fingerprints"
        for key, digests in sorted(by_cell.items())
        if len(digests) > 1
    ]


def _mixed_groups(results: list[CellResult]) -> list[str]:
    by_group: dict[tuple, list[CellResult]] = defaultdict(list)
    for result in results:
        by_group[_group_key(result)].append(result)
    problems = []
    for key, members in sorted(by_group.items()):
        first, *others = sorted(members, key=lambda r: r.seed)
        changes = _first_disagreement(first, others, lambda name: name != "seed")
        if changes:
            problems.append(f"{_name(key)}: its seeds ran with different settings ({changes})")
    return problems


def _mixed_tables(results: list[CellResult]) -> list[str]:
    by_table: dict[tuple, list[CellResult]] = defaultdict(list)
    for result in results:
        by_table[(result.suite, result.task, result.protocol)].append(result)
    problems = []
    for (suite, task, protocol), members in sorted(by_table.items()):
        changes = _table_disagreement(members)
        if changes:
            problems.append(
                f"suite {suite!r}, task {task!r}, {protocol}: its cells ran with different settings and cannot share "
                f"a table ({changes}); rerun the older ones with the same command"
            )
    return problems


def _table_disagreement(members: list[CellResult]) -> str:
    """The first disagreement among a table's cells: every compared setting within an init, and across inits all
    but the fine-tune budget, which a suite may set per init (`scratch_epochs`: twins may train longer)."""
    by_init: dict[str, list[CellResult]] = defaultdict(list)
    for member in sorted(members, key=lambda r: (r.init, r.model, r.seed)):
        by_init[member.init].append(member)
    for group in by_init.values():
        if changes := _first_disagreement(group[0], group[1:], lambda name: name.startswith(COMPARED_PREFIXES)):
            return changes
    first, *others = [group[0] for group in by_init.values()]
    return _first_disagreement(first, others, _shared_across_inits)


def _shared_across_inits(name: str) -> bool:
    return name.startswith(COMPARED_PREFIXES) and name not in PER_INIT


def _first_disagreement(first: CellResult, others: list[CellResult], compared) -> str:
    """The first other result whose compared settings (or code version) differ from `first`'s, described."""
    for other in others:
        mine = _compared(first.fingerprint, compared)
        theirs = _compared(other.fingerprint, compared)
        changes = differences(mine, theirs)
        if changes:
            return f"{_cell(first)} vs {_cell(other)}: {summarise(changes)}"
    return ""


def _compared(fingerprint: Fingerprint, compared) -> Fingerprint:
    settings = {name: value for name, value in fingerprint.settings.items() if compared(name)}
    return Fingerprint(code_version=fingerprint.code_version, digest="", settings=settings)


def _group_key(result: CellResult) -> tuple:
    return (result.suite, result.model, result.init, result.task, result.protocol)


def _name(key: tuple) -> str:
    suite, model, init, task, protocol = key
    return f"{suite}/{variant_dirname(model, init)}/{task}/{protocol}"


def _cell(result: CellResult) -> str:
    return f"{_name(_group_key(result))}-seed{result.seed}"


def _shown(settings: dict[str, Any], name: str) -> str:
    """A setting's value as JSON, cut short; `unset` where the settings do not have it."""
    if name not in settings:
        return "unset"
    text = json.dumps(settings[name])
    return text if len(text) <= 60 else text[:57] + "..."
