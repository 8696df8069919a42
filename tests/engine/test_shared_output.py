"""Shards sharing one output folder: each cell runs once, the final step runs once, no partial file anywhere.

The concurrency tests start real processes together on one folder (each a small script using the module, as a
shard would); the rest check the lock, claim staleness and the final-stage decision one rule at a time.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from benchmark.engine import shared_output
from benchmark.engine.shared_output import (
    CLAIM_SUFFIX,
    HOST,
    OutputLock,
    SharedOutput,
    SharedOutputError,
    claim_path,
    fingerprint_files,
    job_key,
    read_claim,
)
from benchmark.results.store import find_result_files
from benchmark.utils.paths import REPO_ROOT

SHARD_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from benchmark.engine.shared_output import SharedOutput
    from benchmark.utils.atomic import atomic_write_text

    out, index, count, items = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    while not (out / "go").exists():  # every process starts its loop at the same moment
        time.sleep(0.001)
    shared = SharedOutput(out)
    processed = []
    for item in range(items):  # every process walks every item in the same order: maximal contention
        target = out / "cells" / f"item{item}.json"
        if target.exists():
            continue
        claim = shared.try_claim(target)
        if claim is None:
            continue
        with claim:
            if target.exists():  # finished by another process between the first look and the claim
                continue
            with (out / "work.log").open("a") as log:
                log.write(f"{item} {index}\\n")
            time.sleep(0.003)
            atomic_write_text(target, json.dumps({"item": item, "by": index}))
        processed.append(item)

    def build():
        with (out / "final.log").open("a") as log:
            log.write(f"{index}\\n")
        time.sleep(0.2)  # a slow build: the other shards must wait for it, then skip
        atomic_write_text(out / "leaderboard.md", f"{len(list((out / 'cells').glob('*.json')))} cells\\n")

    job = shared.job("suite", index, count)
    outcome = job.finish(lambda: (out / "cells").glob("*.json"), build)
    print(json.dumps({"index": index, "processed": processed, "outcome": outcome}))
    """
)


def start_shards(output: Path, count: int, items: int) -> list[subprocess.Popen]:
    """`count` shard processes, released together once all have started."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", SHARD_SCRIPT, str(output), str(index), str(count), str(items)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for index in range(count)
    ]
    time.sleep(0.5)  # let every interpreter start and reach its wait loop
    (output / "go").touch()
    return processes


def reports(processes: list[subprocess.Popen]) -> list[dict]:
    found = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr[-2000:]
        found.append(json.loads(stdout.strip().splitlines()[-1]))
    return found


def leftovers(output: Path) -> list[str]:
    """Temporary and claim files anywhere under `output`."""
    return sorted(p.name for p in output.rglob("*") if p.name.endswith(CLAIM_SUFFIX) or p.name.endswith(".tmp"))


@pytest.mark.parametrize("items", [40, 0], ids=["cells", "all-finish-at-once"])
def test_concurrent_shards_process_each_cell_once_and_build_once(tmp_path, items):
    count = 3
    shards = reports(start_shards(tmp_path, count, items))

    log = tmp_path / "work.log"
    work = [line.split() for line in log.read_text().splitlines()] if log.exists() else []
    assert sorted(int(item) for item, _ in work) == list(range(items)), "a cell ran twice or not at all"
    assert sorted(i for shard in shards for i in shard["processed"]) == list(range(items))
    for item, shard in work:
        assert json.loads((tmp_path / "cells" / f"item{item}.json").read_text()) == {
            "item": int(item),
            "by": int(shard),
        }
    assert len((tmp_path / "final.log").read_text().splitlines()) == 1, "the final step ran more than once"
    assert sorted(shard["outcome"] for shard in shards).count("built") == 1
    assert (tmp_path / "leaderboard.md").read_text() == f"{items} cells\n"
    assert leftovers(tmp_path) == []
    # locks, claims, done and build records are never mistaken for result files
    assert find_result_files(tmp_path) == sorted((tmp_path / "cells").glob("*.json"))


def test_a_second_wave_over_finished_cells_runs_nothing_and_builds_nothing(tmp_path):
    reports(start_shards(tmp_path, 2, 10))
    (tmp_path / "go").unlink()
    second = reports(start_shards(tmp_path, 2, 10))
    assert [shard["processed"] for shard in second] == [[], []]
    assert {shard["outcome"] for shard in second} == {"up_to_date"}
    assert len((tmp_path / "final.log").read_text().splitlines()) == 1
    assert len((tmp_path / "work.log").read_text().splitlines()) == 10


# --- the lock ---------------------------------------------------------------------------------------------


def test_the_lock_excludes_a_second_holder_and_names_the_first(tmp_path):
    with OutputLock(tmp_path / ".lock"):
        with pytest.raises(SharedOutputError, match=rf"still locked after 0.1 s, by {HOST} pid {os.getpid()}"):
            OutputLock(tmp_path / ".lock", timeout_s=0.1).acquire()
    with OutputLock(tmp_path / ".lock", timeout_s=0.1) as lock:  # released: free again
        assert abs(lock.fs_now - time.time()) < 5


def test_the_lock_excludes_another_process(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from benchmark.engine.shared_output import OutputLock\n"
            "with OutputLock(Path(sys.argv[1])):\n    print('held', flush=True); time.sleep(1.5)",
            str(tmp_path / ".lock"),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(SharedOutputError, match=f"pid {holder.pid}"):
        OutputLock(tmp_path / ".lock", timeout_s=0.2).acquire()
    started = time.monotonic()
    with OutputLock(tmp_path / ".lock"):  # blocks until the holder exits
        assert holder.poll() is not None or time.monotonic() - started > 0.5
    holder.wait(timeout=10)


def test_a_file_system_without_locks_is_a_clear_error(tmp_path, monkeypatch):
    def no_locks(*_args):
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(shared_output.fcntl, "flock", no_locks)
    with pytest.raises(SharedOutputError, match="does not support file locks.*its own --output-dir"):
        SharedOutput(tmp_path).try_claim(tmp_path / "cell.json")


# --- claims -----------------------------------------------------------------------------------------------


def write_claim(target: Path, age_s: float = 0.0, **fields) -> None:
    info = {"host": "elsewhere", "pid": 12345, "boot": "b", "token": "theirs", "created": time.time(), **fields}
    path = claim_path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(info))
    os.utime(path, (time.time() - age_s, time.time() - age_s))


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_claim_is_exclusive_until_released(tmp_path):
    target = tmp_path / "s" / "m" / "cell.json"
    shared = SharedOutput(tmp_path)
    claim = shared.try_claim(target)
    assert claim is not None and claim_path(target).exists()
    assert read_claim(target) == claim.info and claim.info.host == HOST and claim.info.pid == os.getpid()
    assert shared.try_claim(target) is None  # not even this process claims it twice
    claim.release()
    claim.release()
    assert not claim_path(target).exists()
    with shared.try_claim(target) as again:
        assert again.still_held()
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("case", "fields", "age_s", "taken"),
    [
        ("live on another host", {}, 0.0, False),
        ("silent on another host", {}, 3600.0, True),
        ("dead pid on this host", {"host": HOST, "boot": shared_output.BOOT_ID}, 0.0, True),
        ("live pid on this host", {"host": HOST, "boot": shared_output.BOOT_ID, "pid": os.getppid()}, 0.0, False),
        ("before a reboot of this host", {"host": HOST, "boot": "old-boot", "pid": os.getppid()}, 0.0, True),
        ("this pid, not held now", {"host": HOST, "boot": shared_output.BOOT_ID, "pid": os.getpid()}, 0.0, True),
    ],
)
def test_stale_claims_are_taken_over_and_live_ones_respected(tmp_path, case, fields, age_s, taken):
    target = tmp_path / "cell.json"
    if case == "dead pid on this host":
        fields = {**fields, "pid": dead_pid()}
    write_claim(target, age_s=age_s, **fields)
    claim = SharedOutput(tmp_path, stale_after_s=600).try_claim(target)
    assert (claim is not None) == taken, case
    if claim is not None:
        assert read_claim(target).token == claim.info.token
        claim.release()
    else:
        assert read_claim(target).token == "theirs"


def test_a_garbled_claim_left_by_a_writer_that_died_is_taken_over(tmp_path):
    target = tmp_path / "cell.json"
    claim_path(target).write_text('{"host": "elsew')
    with SharedOutput(tmp_path).try_claim(target) as claim:
        assert claim is not None


def test_the_heartbeat_keeps_a_long_claim_fresh(tmp_path):
    target = tmp_path / "cell.json"
    with SharedOutput(tmp_path, stale_after_s=1.0, heartbeat_s=0.05).try_claim(target):
        old = time.time() - 3600
        os.utime(claim_path(target), (old, old))
        time.sleep(0.3)
        assert claim_path(target).stat().st_mtime > old + 3000


def test_a_claim_taken_over_is_known_lost_and_not_removed_by_its_old_holder(tmp_path):
    target = tmp_path / "cell.json"
    claim = SharedOutput(tmp_path, heartbeat_s=0.05).try_claim(target)
    write_claim(target, token="new-holder")  # what a takeover after a long freeze leaves
    assert not claim.still_held()
    claim.release()
    assert read_claim(target).token == "new-holder"


# --- the final stage --------------------------------------------------------------------------------------


def result_files(root: Path):
    return lambda: sorted((root / "cells").glob("*.json"))


def test_the_final_step_waits_for_every_shard_then_runs_once_per_set_of_results(tmp_path):
    shared = SharedOutput(tmp_path)
    (tmp_path / "cells").mkdir()
    (tmp_path / "cells" / "a.json").write_text("{}")
    builds = []
    zero, one = shared.job("suite", 0, 2), shared.job("suite", 1, 2)

    assert zero.finish(result_files(tmp_path), lambda: builds.append(0)) == "waiting"
    assert one.pending() == [1]
    assert one.finish(result_files(tmp_path), lambda: builds.append(1)) == "built"
    assert zero.finish(result_files(tmp_path), lambda: builds.append(0)) == "up_to_date"
    assert builds == [1]

    one.start()  # a rerun of shard 1: not done until it finishes again
    assert zero.finish(result_files(tmp_path), lambda: builds.append(0)) == "waiting"
    (tmp_path / "cells" / "b.json").write_text("{}")  # the rerun adds a result
    assert one.finish(result_files(tmp_path), lambda: builds.append(1)) == "built"
    assert builds == [1, 1]
    assert one.finish(result_files(tmp_path), lambda: builds.append(1), force=True) == "built"
    assert leftovers(tmp_path) == []


def test_a_failed_build_is_not_recorded_so_the_next_finisher_builds(tmp_path):
    job = SharedOutput(tmp_path).job("suite", 0, 1)

    def broken():
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        job.finish(lambda: [], broken)
    assert job.finish(lambda: [], lambda: None) == "built"


def test_jobs_and_shard_counts_do_not_count_each_other_as_done(tmp_path):
    shared = SharedOutput(tmp_path)
    shared.job("suite", 0, 2).finish(lambda: [], lambda: None)
    shared.job("suite", 1, 4).finish(lambda: [], lambda: None)  # another sharding of the same suite
    shared.job("other", 1, 2).finish(lambda: [], lambda: None)  # another suite
    assert shared.job("suite", 0, 2).pending() == [1]
    assert job_key("vision", ["colours"], None) != job_key("vision", None, None)
    assert job_key("../vision", 1).startswith("vision-")


def test_the_fingerprint_follows_atomic_replacements(tmp_path):
    path = tmp_path / "r.json"
    path.write_text("{}")
    before = fingerprint_files([path], tmp_path)
    assert fingerprint_files([path], tmp_path) == before
    replacement = tmp_path / ".r.json.tmp"
    replacement.write_text("{}")
    os.replace(replacement, path)
    assert fingerprint_files([path], tmp_path) != before
