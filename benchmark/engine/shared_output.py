"""Shards sharing one output folder: a folder-wide lock, one claim per cell, and a final stage that runs once.

`--shard I/N` lets a Slurm array or an indexed job point every shard at one `--output-dir`. Result files are
written atomically, so no file is ever partial; what sharing adds is coordination:

- `SharedOutput.lock()` is an exclusive inter-process lock (`fcntl.flock` on `<output>/.lock`), held for
  milliseconds around claim bookkeeping. It also gives a clock read from the file system itself (the lock
  file's mtime after the holder writes its note), so claim ages compare times set by one clock even when the
  machines' clocks differ.
- `SharedOutput.try_claim(result)` creates `<result>.claim` (host, pid, boot, token, time; `O_CREAT|O_EXCL`
  under the lock) so two shards never run the same cell at once, even when shardings overlap (a requeued
  array task, a rerun with another N, an unsharded run beside a sharded one). A daemon thread touches the
  claim every `heartbeat_s`; a claim is stale, and taken over, when its process is gone (same host and boot,
  pid not alive, or this very process without it), or when its heartbeat stopped `stale_after_s` ago
  (killed, lost node, frozen). `Claim.release()` removes it once the result is written.
- `ShardJob.final_stage()` runs the suite's final step (task similarity, leaderboard) once per set of
  results: each shard marks itself done in `<output>/.shards/<job>/<I>-of-<N>.done`, then, under a second
  lock (`<output>/.final.lock`, so long builds never hold up claims), the step is needed only when all N
  shards are done and `built.record` does not already hold the fingerprint of the current result files.
  Whichever shard finishes last therefore builds; a shard finishing at the same moment waits for the lock,
  sees the fingerprint and skips. A rerun that changes results builds again; one that changes none does not.

Limits. `flock` excludes processes on one machine on every local file system. Across machines it needs a
shared file system that implements it: Lustre mounted with `-o flock`, GPFS/Spectrum Scale, BeeGFS, CephFS,
and NFS (Linux emulates `flock` with NFS byte-range locks: NFSv4, or v3 with the lock daemon), unless mounted
with `local_lock=flock` or `local_lock=all`, which makes locks local to each machine and this module unsafe
across machines. Where the file system refuses locks, `SharedOutputError` says so (give each shard its own
output folder and merge the result files instead). On NFS, attribute caching can hide another machine's very
latest result files for up to `acdirmax` seconds (60 by default) from the shard that builds the leaderboard;
rebuild it with `python -m benchmark.report.leaderboard` if that matters. Same-host liveness uses the host
name, the kernel boot id and the pid: containers that share a host name but not a pid namespace fall back to
the heartbeat age. A process frozen (SIGSTOP, a stalled file system) longer than `stale_after_s` loses its
claim; `Claim.still_held()` tells the runner, and both copies of the cell then write whole files, never a
mixed one.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from benchmark.utils.atomic import atomic_write_text
from benchmark.utils.naming import safe_component

LOCK_FILENAME = ".lock"
FINAL_LOCK_FILENAME = ".final.lock"
SHARDS_DIRNAME = ".shards"
BUILT_FILENAME = "built.record"  # JSON inside, but never a `*.json` a results glob could pick up
CLAIM_SUFFIX = ".claim"
DEFAULT_STALE_AFTER_S = 600.0
"""A claim whose heartbeat stopped this long ago is stale: generous beside the default heartbeat (30 s), so a
busy machine or a slow shared file system never loses a live claim."""

HOST = socket.gethostname()
_HELD_TOKENS: set[str] = set()  # tokens of the claims this process holds now
_HELD_LOCK = threading.Lock()

FinalOutcome = Literal["built", "up_to_date", "waiting"]


class SharedOutputError(OSError):
    """The output folder cannot be coordinated: locks unsupported, or a lock not obtained in time."""


def _boot_id() -> str:
    """The kernel's boot id (Linux), so a claim from before a reboot is not mistaken for a live process."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


BOOT_ID = _boot_id()


# --- the folder-wide lock -----------------------------------------------------------------------------------


class OutputLock:
    """An exclusive `flock` on one lock file, across processes; not re-entrant (a second `OutputLock` on the
    same file, even in the same process, waits for the first).

    `fs_now` is the file system's idea of "now" while the lock is held: the lock file's mtime right after the
    holder wrote its note into it (host, pid, time), which a timeout message quotes.
    """

    def __init__(self, path: Path, timeout_s: float | None = None, poll_s: float = 0.05):
        self.path = Path(path)
        self.timeout_s = timeout_s
        self.poll_s = poll_s
        self.fs_now = 0.0
        self._descriptor: int | None = None

    def acquire(self) -> OutputLock:
        """Block until the lock is held (or raise `SharedOutputError` after `timeout_s`)."""
        if self._descriptor is not None:
            raise RuntimeError(f"{self.path}: lock already held by this object (OutputLock is not re-entrant)")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = _open_lock_file(self.path)
        try:
            self._wait_for(descriptor)
        except BaseException:
            os.close(descriptor)
            raise
        self._descriptor = descriptor
        self.fs_now = _stamp_holder(descriptor)
        return self

    def release(self) -> None:
        """Let the next waiter in; closing the descriptor drops the flock."""
        if self._descriptor is not None:
            descriptor, self._descriptor = self._descriptor, None
            os.close(descriptor)

    def __enter__(self) -> OutputLock:
        return self.acquire()

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    def _wait_for(self, descriptor: int) -> None:
        deadline = None if self.timeout_s is None else time.monotonic() + self.timeout_s
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | (0 if deadline is None else fcntl.LOCK_NB))
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise SharedOutputError(
                        errno.ETIMEDOUT,
                        f"{self.path}: still locked after {self.timeout_s:g} s, by {_holder_note(self.path)}",
                    ) from None
                time.sleep(self.poll_s)
            except OSError as error:
                if error.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                    raise SharedOutputError(
                        error.errno,
                        f"{self.path}: this file system does not support file locks ({error.strerror}); shards "
                        "cannot share this output folder safely: give each shard its own --output-dir and merge "
                        "the result files",
                    ) from None
                raise


def _open_lock_file(path: Path) -> int:
    """A descriptor on the lock file, created if needed; read-only when another user owns it (flock works)."""
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except PermissionError:
        return os.open(path, os.O_RDONLY)


def _stamp_holder(descriptor: int) -> float:
    """Write who holds the lock into the lock file; its new mtime is the file system's clock."""
    note = f"{HOST} pid {os.getpid()} since {time.strftime('%Y-%m-%dT%H:%M:%S%z')}\n".encode()
    try:
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, note, 0)
        return os.fstat(descriptor).st_mtime
    except OSError:  # read-only descriptor or a full disk: the note is informational, fall back to this clock
        return time.time()


def _holder_note(path: Path) -> str:
    try:
        return Path(path).read_text(errors="replace").strip() or "an unknown process"
    except OSError:
        return "an unknown process"


# --- per-cell claims ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimInfo:
    """Who holds a claim: written as JSON into the claim file."""

    host: str
    pid: int
    boot: str
    token: str
    created: float

    def describe(self) -> str:
        """`host pid N since <time>`, for messages such as "running in another shard"."""
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.created))
        return f"{self.host} pid {self.pid} since {since}"


def claim_path(target: Path) -> Path:
    """`<target>.claim`, beside the file the claim is for."""
    target = Path(target)
    return target.with_name(target.name + CLAIM_SUFFIX)


def read_claim(target: Path) -> ClaimInfo | None:
    """The claim on `target`, or None when there is none or it cannot be parsed."""
    found = _read_claim_file(claim_path(target))
    return found[0] if found else None


class Claim:
    """A claim this process holds on one target file; a daemon thread refreshes its mtime (the heartbeat).

    Use as a context manager, or call `release()`; release only removes the claim file if it is still this
    claim's (a claim taken over as stale belongs to its new holder).
    """

    def __init__(self, target: Path, info: ClaimInfo, lock: Callable[[], OutputLock], heartbeat_s: float):
        self.target = Path(target)
        self.path = claim_path(target)
        self.info = info
        self._lock = lock
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._beat, args=(heartbeat_s,), name=f"claim-heartbeat:{self.target.name}", daemon=True
        )
        self._thread.start()

    def still_held(self) -> bool:
        """Whether the claim file is still this claim (False after a takeover, e.g. when frozen too long)."""
        found = _read_claim_file(self.path)
        return bool(found and found[0] and found[0].token == self.info.token)

    def release(self) -> None:
        """Stop the heartbeat and remove the claim file if it is still ours; safe to call twice."""
        if self._stop.is_set():
            return
        self._stop.set()
        self._thread.join()
        try:
            with self._lock():
                if self.still_held():
                    self.path.unlink(missing_ok=True)
        finally:
            with _HELD_LOCK:
                _HELD_TOKENS.discard(self.info.token)

    def __enter__(self) -> Claim:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    def _beat(self, interval_s: float) -> None:
        while not self._stop.wait(interval_s):
            try:
                if not self.still_held():
                    return  # taken over: never refresh someone else's claim
                os.utime(self.path)
            except OSError:
                continue  # a hiccup of a shared file system: the next beat tries again


def _read_claim_file(path: Path) -> tuple[ClaimInfo | None, float] | None:
    """(the parsed claim or None if garbled, its mtime), or None when there is no claim file."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        mtime = os.fstat(descriptor).st_mtime
        data = os.read(descriptor, 64 * 1024)
    finally:
        os.close(descriptor)
    try:
        fields = json.loads(data)
        info = ClaimInfo(
            host=str(fields["host"]),
            pid=int(fields["pid"]),
            boot=str(fields.get("boot", "")),
            token=str(fields["token"]),
            created=float(fields["created"]),
        )
    except (ValueError, KeyError, TypeError):
        return None, mtime
    return info, mtime


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


def claim_is_stale(info: ClaimInfo | None, age_s: float, stale_after_s: float) -> bool:
    """Whether a claim may be taken over.

    Garbled: yes (claims are written whole under the lock, so only a writer that died mid-write leaves one).
    This process's pid on this host and boot: yes unless this process holds that token now (a claim left by
    an earlier process that had the same pid, e.g. a restarted container). Same host and boot: yes when the
    pid is gone. Same host, another boot: yes. Otherwise: when the heartbeat stopped over `stale_after_s` ago.
    """
    if info is None or age_s > stale_after_s:
        return True
    if info.host != HOST:
        return False
    if BOOT_ID and info.boot and info.boot != BOOT_ID:
        return True
    if info.pid == os.getpid():
        with _HELD_LOCK:
            return info.token not in _HELD_TOKENS
    return not _pid_alive(info.pid)


# --- the output folder and sharded jobs ---------------------------------------------------------------------


class SharedOutput:
    """Coordination of every process writing into one output folder."""

    def __init__(
        self,
        output_dir: Path,
        stale_after_s: float = DEFAULT_STALE_AFTER_S,
        heartbeat_s: float | None = None,
        lock_timeout_s: float | None = None,
    ):
        self.output_dir = Path(output_dir)
        self.stale_after_s = stale_after_s
        self.heartbeat_s = heartbeat_s if heartbeat_s is not None else min(30.0, stale_after_s / 5)
        self.lock_timeout_s = lock_timeout_s

    def lock(self, name: str = LOCK_FILENAME) -> OutputLock:
        """The folder-wide exclusive lock (a context manager); hold it briefly."""
        return OutputLock(self.output_dir / name, timeout_s=self.lock_timeout_s)

    def try_claim(self, target: Path) -> Claim | None:
        """Claim `target` for this process, taking over a stale claim; None while another live process holds it.

        The caller must check again, once claimed, whether `target` is already finished: another shard may
        have written it and released its claim between the caller's first look and this claim.
        """
        path = claim_path(target)
        path.parent.mkdir(parents=True, exist_ok=True)
        with self.lock() as lock:
            found = _read_claim_file(path)
            if found is not None:
                info, mtime = found
                if not claim_is_stale(info, lock.fs_now - mtime, self.stale_after_s):
                    return None
                path.unlink(missing_ok=True)
            info = ClaimInfo(HOST, os.getpid(), BOOT_ID, uuid.uuid4().hex, time.time())
            if not _create_exclusive(path, json.dumps(asdict(info)).encode()):
                return None  # created by a process that does not take the lock: it wins
            with _HELD_LOCK:
                _HELD_TOKENS.add(info.token)
        return Claim(target, info, self.lock, self.heartbeat_s)

    def job(self, key: str, index: int, count: int) -> ShardJob:
        """Shard `index` of `count` of the job `key` (see `job_key`)."""
        return ShardJob(self, key, index, count)


def _create_exclusive(path: Path, content: bytes) -> bool:
    """Create `path` holding `content`; False if it exists. A failed write removes the file and raises."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except FileExistsError:
        return False
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return True


def job_key(name: str, *parts: object) -> str:
    """A folder name for one sharded job: the readable `name` and a hash of everything that defines the job
    (the suite and the narrowing arguments), so shards of different jobs never count each other as done."""
    digest = hashlib.sha256(json.dumps([name, *map(str, parts)]).encode()).hexdigest()[:12]
    return f"{safe_component(name)}-{digest}"


def fingerprint_files(paths: Iterable[Path], root: Path | None = None) -> str:
    """A digest of a set of files by name, size, inode and mtime: changes whenever a file is added, removed or
    atomically replaced (each replacement is a new inode with a new mtime)."""
    digest = hashlib.sha256()
    for path in sorted(Path(p) for p in paths):
        try:
            info = path.stat()
        except FileNotFoundError:
            continue
        name = path.relative_to(root).as_posix() if root and path.is_relative_to(root) else path.as_posix()
        digest.update(f"{name}\0{info.st_size}\0{info.st_ino}\0{info.st_mtime_ns}\n".encode())
    return digest.hexdigest()


@dataclass
class FinalStage:
    """The decision taken under the final lock: `needed` is True for the one shard that must build now."""

    pending: list[int]
    fingerprint: str | None
    needed: bool

    @property
    def outcome(self) -> FinalOutcome:
        """What this shard's final stage did: built, waiting (for other shards) or up_to_date (built before)."""
        return "built" if self.needed else ("waiting" if self.pending else "up_to_date")


class ShardJob:
    """One shard of a sharded job: done markers and the once-only final stage."""

    def __init__(self, shared: SharedOutput, key: str, index: int, count: int):
        if not 0 <= index < count:
            raise ValueError(f"shard index {index} not in [0, {count})")
        self.shared, self.key, self.index, self.count = shared, key, index, count
        self.directory = shared.output_dir / SHARDS_DIRNAME / safe_component(key)

    def done_path(self, index: int) -> Path:
        """`<output>/.shards/<job>/<index>-of-<count>.done`."""
        return self.directory / f"{index}-of-{self.count}.done"

    def start(self) -> None:
        """Forget this shard's done marker from an earlier run: it is not done until it finishes again."""
        self.done_path(self.index).unlink(missing_ok=True)

    def pending(self) -> list[int]:
        """The shards of this job that have not marked themselves done."""
        return [i for i in range(self.count) if not self.done_path(i).exists()]

    @contextlib.contextmanager
    def final_stage(self, inputs: Callable[[], Iterable[Path]], force: bool = False) -> Iterator[FinalStage]:
        """Mark this shard done, then decide under the final lock whether to build; hold the lock while the
        caller builds. `inputs()` lists the files the final step reads (the result files). The build is
        recorded as done only when the block exits without an exception, so a failed build is retried by the
        next shard or run. `force` builds whenever all shards are done, even for an unchanged set of inputs.
        """
        atomic_write_text(self.done_path(self.index), _note() + "\n")
        with self.shared.lock(FINAL_LOCK_FILENAME):
            pending = self.pending()
            fingerprint = None if pending else fingerprint_files(inputs(), self.shared.output_dir)
            needed = not pending and (force or _built_fingerprint(self.directory) != (fingerprint, self.count))
            stage = FinalStage(pending=pending, fingerprint=fingerprint, needed=needed)
            yield stage
            if stage.needed:
                record = {"fingerprint": fingerprint, "count": self.count, "by_shard": self.index, "by": _note()}
                atomic_write_text(self.directory / BUILT_FILENAME, json.dumps(record, indent=2) + "\n")

    def finish(
        self, inputs: Callable[[], Iterable[Path]], build: Callable[[], object], force: bool = False
    ) -> FinalOutcome:
        """`final_stage` for one process: run `build()` when this shard is the one to, and say what happened."""
        with self.final_stage(inputs, force=force) as stage:
            if stage.needed:
                build()
        return stage.outcome


def _built_fingerprint(directory: Path) -> tuple[str | None, int | None]:
    try:
        record = json.loads((directory / BUILT_FILENAME).read_text())
        return record.get("fingerprint"), record.get("count")
    except (OSError, ValueError, AttributeError):
        return None, None


def _note() -> str:
    return json.dumps({"host": HOST, "pid": os.getpid(), "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
