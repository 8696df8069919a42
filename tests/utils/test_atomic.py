"""A failed write (full disk, lost permission, a signal) leaves no partial or temporary file and keeps the old one.

Errors are injected where a real full disk or a lost permission would raise them: inside the caller's write
(ENOSPC on a buffered write), at fsync (ENOSPC or EIO where a network file system reports the shortage), at the
rename (EACCES), when creating the temporary file (ENOSPC with no inode left). Each time the previous content
must be intact, the original error must reach the caller, and the directory must hold no temporary file.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from benchmark.results.store import read_result, result_path, write_result
from benchmark.utils import atomic
from benchmark.utils.atomic import atomic_write, atomic_write_text
from testkit.records import make_result

PREVIOUS = "previous complete content\n"


def disk_full(*_args, **_kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def permission_lost(*_args, **_kwargs):
    raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))


@pytest.fixture
def target(tmp_path: Path) -> Path:
    path = tmp_path / "out" / "file.json"
    atomic_write_text(path, PREVIOUS)
    return path


def assert_untouched(path: Path) -> None:
    assert path.read_text() == PREVIOUS
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name], "a temporary file was left behind"


def test_a_successful_write_replaces_the_file_and_leaves_nothing_else(target):
    atomic_write_text(target, "new\n")
    assert target.read_text() == "new\n"
    assert [p.name for p in target.parent.iterdir()] == [target.name]


def test_the_new_file_gets_the_umask_mode_not_mkstemps_0600(tmp_path):
    previous = os.umask(0o027)
    try:
        path = atomic_write_text(tmp_path / "f.txt", "x")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_disk_full_during_the_write_keeps_the_previous_file(target):
    def write_then_fail(handle):
        handle.write(b"half of the new con")
        disk_full()

    with pytest.raises(OSError) as caught:
        atomic_write(target, write_then_fail)
    assert caught.value.errno == errno.ENOSPC
    assert_untouched(target)


def test_disk_full_at_fsync_keeps_the_previous_file(target, monkeypatch):
    monkeypatch.setattr(atomic.os, "fsync", disk_full)
    with pytest.raises(OSError) as caught:
        atomic_write_text(target, "new content that never reaches the disk\n")
    assert caught.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert_untouched(target)


def test_disk_full_in_the_handles_own_write_keeps_the_previous_file(target, monkeypatch):
    """The buffered writer's flush is where a real ENOSPC surfaces for small files."""
    real_fdopen = os.fdopen

    class FullDisk:
        def __init__(self, handle):
            self.handle = handle

        def __getattr__(self, name):
            return getattr(self.handle, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

        def write(self, data):
            disk_full()

    monkeypatch.setattr(atomic.os, "fdopen", lambda fd, mode: FullDisk(real_fdopen(fd, mode)))
    with pytest.raises(OSError, match="No space left"):
        atomic_write_text(target, "new")
    monkeypatch.undo()
    assert_untouched(target)


def test_no_inode_left_for_the_temporary_file_keeps_the_previous_file(target, monkeypatch):
    monkeypatch.setattr(atomic.tempfile, "mkstemp", disk_full)
    with pytest.raises(OSError, match="No space left"):
        atomic_write_text(target, "new")
    monkeypatch.undo()
    assert_untouched(target)


@pytest.mark.parametrize("step", ["replace", "chmod"])
def test_permission_lost_before_the_rename_keeps_the_previous_file(target, monkeypatch, step):
    monkeypatch.setattr(atomic.os, step, permission_lost)
    with pytest.raises(PermissionError):
        atomic_write_text(target, "new")
    monkeypatch.undo()
    assert_untouched(target)


def test_an_interrupt_mid_write_leaves_no_temporary_file(target):
    def interrupted(handle):
        handle.write(b"partial")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, interrupted)
    assert_untouched(target)


def test_a_failing_clean_up_does_not_hide_the_original_error(target, monkeypatch):
    monkeypatch.setattr(atomic.os, "fsync", disk_full)
    monkeypatch.setattr(atomic.os, "unlink", permission_lost)
    with pytest.raises(OSError) as caught:
        atomic_write_text(target, "new")
    assert caught.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert target.read_text() == PREVIOUS


def test_a_directory_that_refuses_fsync_does_not_fail_a_complete_write(target, monkeypatch):
    real_fsync = os.fsync

    def files_only(descriptor):
        if stat.S_ISDIR(os.fstat(descriptor).st_mode):
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        real_fsync(descriptor)

    monkeypatch.setattr(atomic.os, "fsync", files_only)
    atomic_write_text(target, "new\n")
    assert target.read_text() == "new\n"


def test_a_result_file_survives_a_failed_rewrite(tmp_path, monkeypatch):
    """`write_result` over a finished cell's file with the disk full: the finished result stays readable."""
    path = result_path(tmp_path, "s", "m", "pretrained", "t", "finetune", 0)
    first = make_result(metrics={"accuracy": 0.75})
    write_result(path, first)
    before = path.read_bytes()
    monkeypatch.setattr(atomic.os, "fsync", disk_full)
    with pytest.raises(OSError) as caught:
        write_result(path, make_result(metrics={"accuracy": 0.25}))
    assert caught.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert path.read_bytes() == before and read_result(path).metrics == {"accuracy": 0.75}
    assert [p.name for p in path.parent.iterdir()] == [path.name]
