"""The build lock's readers-writer rule (fileflow.run.locks), on its own: which pairs of builds
clash, what the message names, and what a lock file holds. The end-to-end behaviour (real
concurrent builds) is in test_build_safety.py."""
from __future__ import annotations

import json
import os
import socket
import time

import pytest

from fileflow.errors import LockError
from fileflow.run.locks import LOCK_DIR, BuildLock, clash

# ---------------------------------------------------------------- the rule


def test_writes_clash_with_their_writes():
    found = clash({"a", "b"}, set(), ["b", "c"], [])
    assert (found.what, found.path) == ("writing some of the same files", "b")


def test_reads_clash_with_their_writes():
    found = clash({"out"}, {"in"}, ["in"], [])
    assert (found.what, found.path) == ("writing files this build reads", "in")


def test_writes_clash_with_their_reads():
    found = clash({"in"}, set(), ["elsewhere"], ["in"])
    assert (found.what, found.path) == ("reading files this build writes", "in")


def test_reads_never_clash_with_reads():
    assert clash({"one"}, {"shared"}, ["two"], ["shared"]) is None


def test_disjoint_builds_do_not_clash():
    assert clash({"a"}, {"b"}, ["c"], ["d"]) is None
    assert clash(set(), set(), ["c"], ["d"]) is None


def test_a_shared_write_is_named_before_a_read_one():
    found = clash({"w"}, {"r"}, ["r", "w"], ["w"])
    assert (found.what, found.path) == ("writing some of the same files", "w")


def test_the_example_is_the_smallest_shared_path():
    found = clash({"z", "m", "a"}, set(), ["z", "m", "a", "q"], [])
    assert found.path == "a"


def test_their_lists_are_taken_as_any_iterable():
    assert clash({"a"}, set(), iter(["a"]), iter([])).path == "a"
    assert clash(set(), {"a"}, (p for p in ["a"]), ()).path == "a"


def test_at_100000_paths_the_check_is_a_set_intersection():
    paths = [f"results/s{i:06d}/counts.tsv" for i in range(100_000)]
    mine = set(paths)
    theirs = [p.replace("results", "other") for p in paths]
    started = time.perf_counter()
    assert clash(mine, mine, theirs, theirs) is None
    # generous: linear is a few ms; a per-pair comparison would take hours
    assert time.perf_counter() - started < 2.0


# ---------------------------------------------------------------- lock files


def _holder_file(root, outputs, reads=None) -> str:
    """A lock of this (live) process as another build would have written it; without
    `reads`, in the format of a fileflow from before reads were locked."""
    folder = root / LOCK_DIR
    folder.mkdir(parents=True, exist_ok=True)
    data = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time() - 1,
            "outputs": outputs}
    if reads is not None:
        data["reads"] = reads
    path = folder / f"{socket.gethostname()}-{os.getpid()}-holder.json"
    path.write_text(json.dumps(data))
    return str(path)


def test_the_lock_file_lists_outputs_and_reads(tmp_path):
    lock = BuildLock(str(tmp_path), ["out/a", "out/b"], ["in/x", "out/a"])
    lock.acquire(0)
    try:
        with open(lock.path, encoding="utf-8") as fh:
            data = json.load(fh)
        assert sorted(data["outputs"]) == ["out/a", "out/b"]
        assert data["reads"] == ["in/x"]      # out/a is held as written already
        assert (data["pid"], data["host"]) == (os.getpid(), socket.gethostname())
    finally:
        lock.release()
    assert not os.path.exists(lock.path)


def test_a_clash_raises_naming_what_the_holder_and_one_path(tmp_path):
    _holder_file(tmp_path, ["mid/a.txt"], ["src/a.txt"])
    lock = BuildLock(str(tmp_path), ["res/a.up"], ["mid/a.txt"])
    with pytest.raises(LockError) as err:
        lock.acquire(0)
    message = str(err.value)
    assert message.startswith("another build is writing files this build reads, "
                              "e.g. 'mid/a.txt' (pid ")
    assert f"pid {os.getpid()} on {socket.gethostname()}, started " in message
    assert "--lock-timeout" in message and "fileflow unlock" in message
    assert not os.path.exists(lock.path)

    writer = BuildLock(str(tmp_path), ["src/a.txt"])
    with pytest.raises(LockError, match="another build is reading files this build writes, "
                                        "e.g. 'src/a.txt'"):
        writer.acquire(0)


def test_builds_reading_the_same_file_both_hold_a_lock(tmp_path):
    _holder_file(tmp_path, ["one.txt"], ["shared.txt"])
    lock = BuildLock(str(tmp_path), ["two.txt"], ["shared.txt"])
    assert lock.acquire(0) is False
    lock.release()


def test_a_lock_file_without_reads_guards_its_outputs(tmp_path):
    _holder_file(tmp_path, ["mid/a.txt"])
    with pytest.raises(LockError, match="writing files this build reads"):
        BuildLock(str(tmp_path), ["res/a.up"], ["mid/a.txt"]).acquire(0)
    with pytest.raises(LockError, match="writing some of the same files"):
        BuildLock(str(tmp_path), ["mid/a.txt"]).acquire(0)
    lock = BuildLock(str(tmp_path), ["src/a.txt"])  # what it reads is not known: none
    lock.acquire(0)
    lock.release()


def test_waiting_says_once_why_then_fails(tmp_path, capsys):
    _holder_file(tmp_path, ["mid/a.txt"])
    with pytest.raises(LockError):
        BuildLock(str(tmp_path), ["mid/a.txt"]).acquire(0.2)
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("fileflow: another build is writing some of the same files, "
                          "e.g. 'mid/a.txt' (pid ")
    assert err.endswith("; waiting up to 0.2 s (--lock-timeout)\n")


def test_covers_reads_by_a_write_or_a_read():
    lock = BuildLock(".", ["out"], ["in"])
    assert lock.covers(["out"], ["in", "out"])
    assert lock.covers([], [])
    assert not lock.covers(["out", "more"], [])
    assert not lock.covers(["out"], ["other"])
    assert not lock.covers(["in"], [])          # a read lock does not let it write


# ---------------------------------------------------------------- the build's use of it


def test_a_plan_reading_outside_the_lock_after_a_wait_is_locked_again(tmp_path, monkeypatch):
    """fileflow.cli.build.locked_plan: after waiting, the build plans again; when the new plan
    reads a file the lock does not hold (writing no new one), it locks again rather than run
    unguarded."""
    import threading
    from types import SimpleNamespace as NS

    from fileflow.cli import build as api

    monkeypatch.chdir(tmp_path)
    graph = NS(jobs=[NS(outputs=("res/a.up",), inputs=("mid/a.txt",)),
                     NS(outputs=(), inputs=("mid/b.txt",))])      # e.g. a check
    unforced = NS(ran=frozenset())  # the forcing options (Plan.force): none
    first, second = NS(reasons={0: ()}, force=unforced), NS(reasons={0: (), 1: ()}, force=unforced)
    monkeypatch.setattr(api, "plan_build", lambda *args: second)   # what the other build changed
    holder = _holder_file(tmp_path, ["mid/a.txt", "mid/b.txt"])
    done = threading.Timer(0.3, os.unlink, [holder])          # the other build finishes
    done.start()
    try:
        lock, plan = api.locked_plan(NS(lock_timeout=30, quiet=False), graph, first,
                                     NS(load_targets=dict, generation=lambda: 0),
                                     NS(forget_remote=lambda: None), 0)
    finally:
        done.join()
    try:
        assert plan is second
        assert lock.outputs == {"res/a.up"}
        assert lock.reads == {"mid/a.txt", "mid/b.txt"}
        with open(lock.path, encoding="utf-8") as fh:
            assert sorted(json.load(fh)["reads"]) == ["mid/a.txt", "mid/b.txt"]
        assert [n for n in os.listdir(tmp_path / LOCK_DIR) if n.endswith(".json")] == \
            [os.path.basename(lock.path)]                     # the first lock is gone
    finally:
        lock.release()


def test_a_run_log_changed_since_the_plan_means_planning_again(tmp_path, monkeypatch):
    """fileflow.cli.build.locked_plan: the lock was free (no wait), but another build recorded
    jobs since this one planned (it finished just before): plan again under the lock."""
    from types import SimpleNamespace as NS

    from fileflow.cli import build as api

    monkeypatch.chdir(tmp_path)
    graph = NS(jobs=[NS(outputs=("a.txt",), inputs=())])
    unforced = NS(ran=frozenset())  # the forcing options (Plan.force): none
    first, second = NS(reasons={0: ()}, force=unforced), NS(reasons={}, force=unforced)
    monkeypatch.setattr(api, "plan_build", lambda *args: second)
    options = NS(lock_timeout=0, quiet=False)
    store = NS(forget_remote=lambda: None)
    unchanged = NS(load_targets=dict, generation=lambda: 7)
    lock, plan = api.locked_plan(options, graph, first, unchanged, store, 7)
    lock.release()
    assert plan is first
    lock, plan = api.locked_plan(options, graph, first, unchanged, store, 6)
    lock.release()
    assert plan is second
