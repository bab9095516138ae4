"""End to end: a full disk (docs/guarantees.md: A full disk is named, and looking still works).

The disk is a real one: a small tmpfs mounted for the test and filled up, unmounted after.
Mounting needs root (CI runs as root); elsewhere these tests skip, saying why."""
from __future__ import annotations

import os
import subprocess
import uuid

import pytest
from buildkit import Project
from conftest import need_service

SIMPLE = """
    rule all:
        input: "a.txt"
    rule a:
        output: "a.txt"
        shell: "echo a > {output}"
    """


@pytest.fixture
def small_disk(tmp_path):
    """A directory on a file system of its own, 512 KiB big; `fill(small_disk)` fills it."""
    where = tmp_path / f"disk-{uuid.uuid4().hex[:8]}"
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(where)],
                             capture_output=True, text=True)
    # Skips where mounting is not permitted (run as root); with FILEFLOW_STRICT_SERVICES=1
    # (CI, as root) it fails instead.
    need_service(mounted.returncode == 0, "a small tmpfs to fill (mount -t tmpfs needs root: "
                 f"{mounted.stderr.strip()})")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(folder) -> None:
    """Write zeros into `folder` until its file system has no byte left."""
    for name in ("filler", "one-more"):
        fd = os.open(os.path.join(folder, name), os.O_WRONLY | os.O_CREAT)
        try:
            while True:
                os.write(fd, b"\0" * (4096 if name == "filler" else 1))
        except OSError:
            pass
        finally:
            os.close(fd)
    assert os.statvfs(folder).f_bavail == 0


def test_a_build_lock_that_cannot_be_written_is_named_and_leaves_nothing(tmp_path, small_disk):
    """The project on a full disk, its run log elsewhere: the build stops at its lock with
    exit 2, saying the disk is full; no half-written lock file stays behind."""
    log = tmp_path / "elsewhere" / "runlog.db"
    log.parent.mkdir()
    p = Project(small_disk, db=f"sqlite:///{log}")
    p.flowfile(SIMPLE)
    fill(small_disk)
    r = p.build()
    assert r.code == 2, r
    assert "no space left on device while writing the build lock" in r.err
    assert "Traceback" not in r.text
    assert r.ran == [] and not p.exists("a.txt")
    assert [n for n in os.listdir(p.path(".fileflow/locks")) if n != ".guard"] == []


def test_looking_works_read_only_on_a_full_disk(small_disk):
    """`runs`, `why` and `build -n` need to write nothing, not even after a build that
    failed on the full disk left the run log's (empty) WAL files behind."""
    p = Project(small_disk)
    p.flowfile(SIMPLE)
    assert p.build().code == 0
    os.unlink(p.path("a.txt"))
    fill(small_disk)
    failed = p.run("build", log=False)
    assert failed.code == 2, failed
    assert "no space left on device" in failed.err and "Traceback" not in failed.err
    runs = p.run("runs", log=False)
    assert runs.code == 0, runs
    assert "success" in runs.out
    shown = p.run("log", log=False)
    assert shown.code == 0, shown
    why = p.run("why", "a.txt", log=False)
    assert why.code == 0, why
    assert "output 'a.txt' is missing" in why.out
    dry = p.run("build", "-n", log=False)
    assert dry.code == 0, dry
    assert "dry run: 2 of 2 jobs would run" in dry.out


def test_a_job_that_fills_the_disk_fails_with_a_hint(tmp_path, small_disk):
    p = Project(tmp_path)
    p.flowfile(f"""
        rule big:
            output: "big.bin"
            shell: "head -c 2000000 /dev/zero > {small_disk}/big.bin && touch {{output}}"
        """)
    r = p.build()
    assert r.code == 1, r
    assert "No space left on device" in r.err
    assert "hint: the job ran out of disk space (its log says so): free some space" in r.err
    assert not p.exists("big.bin")


def test_a_write_of_fileflow_failing_for_space_is_named_not_a_traceback(tmp_path, monkeypatch):
    import errno

    from fileflow.cli import build as api

    def full(options):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), ".fileflow/noop.json")

    monkeypatch.setattr(api, "build", full)
    p = Project(tmp_path)
    p.flowfile(SIMPLE)
    r = p.build(log=False)
    assert r.code == 2, r
    assert "no space left on device while writing .fileflow/noop.json: free some space" in r.err
    assert "Traceback" not in r.err
