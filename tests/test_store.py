"""Tests of fileflow.engine.store on real temporary files."""
from __future__ import annotations

import hashlib
import os
import time

import pytest

from fileflow.engine.store import CHUNK_SIZE, FileStore
from fileflow.errors import WorkflowError
from fileflow.state import HASH_ALGORITHM, FileState, RecordedTarget


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def record_of(state: FileState, **kw) -> RecordedTarget:
    """What the run log would keep of an observed, hashed state."""
    return RecordedTarget(state.path, True, state.size, state.mtime_ns, state.digest,
                          ctime_ns=state.ctime_ns, **kw)


def observe(store: FileStore, *paths: str, recorded=None) -> dict[str, FileState]:
    return store.with_digests(store.stat_many(paths), recorded or {})


@pytest.fixture
def store(tmp_path) -> FileStore:
    return FileStore(tmp_path)


# ---- stat -----------------------------------------------------------------------------------

def test_stat_missing(store):
    assert store.stat("nope.txt") == FileState("nope.txt", exists=False)


def test_stat_path_through_a_file_is_missing(store, tmp_path):
    (tmp_path / "f").write_text("x")
    assert not store.stat("f/child").exists


def test_stat_many_of_mostly_missing_paths_agrees_with_stat_one_by_one(tmp_path, monkeypatch):
    """stat_many answers 'missing' from a directory listing when many paths of a directory
    are asked and most are absent; it must say exactly what os.stat would, path by path."""
    monkeypatch.chdir(tmp_path)
    os.mkdir("out")
    (tmp_path / "out" / "3.txt").write_text("three")
    (tmp_path / "out" / "real.txt").write_text("r")
    os.symlink("real.txt", "out/5.txt")          # a link to a file: exists
    os.symlink("nowhere.txt", "out/7.txt")       # a broken link: missing
    os.mkdir("out/9.txt")                        # a directory where a file could be
    (tmp_path / "plain").write_text("a file, not a directory")
    paths = ([f"out/{i}.txt" for i in range(60)] + [f"gone/{i}.txt" for i in range(40)]
             + [f"plain/{i}.txt" for i in range(40)] + ["top.txt"]
             + [str(tmp_path / "out" / f"{i}.txt") for i in range(40)]   # absolute, same folder
             + [f"t{i}.txt" for i in range(40)])                         # in the working folder
    (tmp_path / "t7.txt").write_text("seven")
    store = FileStore(".")
    many = store.stat_many(paths)
    assert list(many) != [] and set(many) == set(paths)
    for path in paths:
        assert many[path] == store.stat(path), path
    assert [p for p in paths if many[p].exists] == [
        "out/3.txt", "out/5.txt", "out/9.txt", *(str(tmp_path / "out" / f"{i}.txt")
                                                for i in (3, 5, 9)), "t7.txt"]
    assert store.missing(paths) == {p for p in paths if not many[p].exists}


def test_paths_of_one_folder_are_answered_as_stat_answers_them_one_by_one(tmp_path, monkeypatch):
    """A fan-out's paths all in one folder are answered from its listing without cutting
    each path's folder out of it; a path one folder deeper, or in a folder whose name
    starts the same, is not taken for a name of that folder; an empty folder's paths
    (a first build's outputs) and a missing folder's are all missing."""
    monkeypatch.chdir(tmp_path)
    os.makedirs("data/sub")
    os.mkdir("empty")
    os.mkdir("datax")
    for i in range(0, 60, 3):
        (tmp_path / "data" / f"{i}.txt").write_text(str(i))
    os.symlink("3.txt", "data/4.txt")            # a link to a file: exists
    os.symlink("nowhere.txt", "data/5.txt")      # a broken link: missing
    (tmp_path / "data" / "sub" / "1.txt").write_text("deeper")
    (tmp_path / "datax" / "1.txt").write_text("beside")
    (tmp_path / "t6.txt").write_text("six")
    fanout = [f"data/{i}.txt" for i in range(60)]
    store = FileStore(".")
    for paths in (fanout, fanout + ["data/sub/1.txt"], ["data/sub/1.txt"] + fanout,
                  fanout + ["datax/1.txt"], ["data/1.txt", "data/sub/1.txt"] * 20,
                  [f"empty/{i}.txt" for i in range(60)], [f"none/{i}.txt" for i in range(60)],
                  [f"t{i}.txt" for i in range(60)]):
        many = store.stat_many(paths)
        assert set(many) == set(paths)
        for path in paths:
            assert many[path] == store.stat(path), path
        assert store.missing(paths) == {p for p in paths if not many[p].exists}
    assert sorted(p for p, st in store.stat_many(fanout + ["data/sub/1.txt"]).items()
                  if st.exists) == sorted([*(f"data/{i}.txt" for i in range(0, 60, 3)),
                                           "data/4.txt", "data/sub/1.txt"])


def test_stat_existing_file(store, tmp_path):
    (tmp_path / "a.txt").write_bytes(b"hello")
    st = os.stat(tmp_path / "a.txt")
    state = store.stat("a.txt")
    assert state == FileState("a.txt", True, 5, st.st_mtime_ns, None, False, st.st_ctime_ns,
                              "", store.clock.now_ns)


def test_stat_absolute_path_ignores_root(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"abc")
    elsewhere = FileStore(tmp_path / "does-not-matter-for-absolute-paths")
    (tmp_path / "does-not-matter-for-absolute-paths").mkdir()
    state = elsewhere.stat(str(tmp_path / "a.txt"))
    assert state.exists and state.size == 3


def test_stat_follows_symlinks(store, tmp_path):
    (tmp_path / "target").write_bytes(b"12345678")
    os.symlink("target", tmp_path / "link")
    state = store.stat("link")
    assert state.exists and state.size == 8 and not state.is_dir


def test_stat_broken_symlink_is_missing(store, tmp_path):
    os.symlink("nowhere", tmp_path / "dangling")
    assert store.stat("dangling") == FileState("dangling", exists=False)


def test_stat_symlink_loop_is_missing(store, tmp_path):
    os.symlink("loop", tmp_path / "loop")
    assert not store.stat("loop").exists


def test_stat_directory_summarises_the_tree(store, tmp_path):
    d = tmp_path / "out"
    (d / "sub").mkdir(parents=True)
    (d / "a").write_bytes(b"aaa")
    (d / "sub" / "b").write_bytes(b"bb")
    os.utime(d / "sub" / "b", ns=(0, 10**19))  # far future: must surface as the dir's mtime
    state = store.stat("out")
    assert state.exists and state.is_dir
    assert state.size == 5
    assert state.mtime_ns == 10**19


def test_stat_unreadable_directory_is_an_error(store, tmp_path, monkeypatch):
    (tmp_path / "locked").mkdir()

    def denied(path):
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(os, "scandir", denied)  # chmod 0 does not stop root
    with pytest.raises(WorkflowError, match="'locked'.*Permission denied"):
        store.stat("locked")


def test_stat_other_errors_are_not_taken_as_missing(store, monkeypatch):
    real_stat, real_lstat = os.stat, os.lstat

    def refusing(real):
        def denied(path, **kw):
            if os.path.basename(path) == "x":
                raise PermissionError(13, "Permission denied", path)
            return real(path, **kw)
        return denied

    monkeypatch.setattr(os, "stat", refusing(real_stat))
    monkeypatch.setattr(os, "lstat", refusing(real_lstat))
    with pytest.raises(WorkflowError, match="'x'.*Permission denied"):
        store.stat("x")


def test_stat_many_returns_every_path(store, tmp_path):
    (tmp_path / "a").write_text("1")
    (tmp_path / "d").mkdir()
    result = store.stat_many(["a", "b", "d"])
    assert list(result) == ["a", "b", "d"]
    assert [s.exists for s in result.values()] == [True, False, True]
    assert result["d"].is_dir and not result["a"].is_dir


def test_stat_many_covers_every_path(tmp_path):
    # Speed is measured by benchmarks/, never asserted here; this checks the bulk path's result.
    for i in range(100):
        (tmp_path / f"f{i}").write_bytes(b"x" * i)
    paths = [f"f{i}" for i in range(100)] + [f"m{i}" for i in range(900)]
    result = FileStore(tmp_path).stat_many(paths)
    assert len(result) == 1000
    assert all(result[f"f{i}"].exists and result[f"f{i}"].size == i for i in range(100))
    assert not any(result[f"m{i}"].exists for i in range(900))


# ---- digests --------------------------------------------------------------------------------

def test_hash_path_of_a_file(store, tmp_path):
    (tmp_path / "a").write_bytes(b"hello")
    assert store.hash_path("a") == sha(b"hello")
    assert store.hash_path("a").startswith(HASH_ALGORITHM + ":")


def test_with_digests_hashes_every_existing_file_and_leaves_missing_alone(store, tmp_path):
    (tmp_path / "a").write_bytes(b"A")
    (tmp_path / "b").write_bytes(b"B")
    result = observe(store, "a", "b", "gone")
    assert result["a"].digest == sha(b"A") and result["b"].digest == sha(b"B")
    assert result["gone"] == FileState("gone", exists=False)
    assert store.hashed_count == 2


def test_digest_reused_when_stat_unchanged(store, tmp_path):
    for name in "abc":
        (tmp_path / name).write_bytes(name.encode() * 10)
    first = observe(store, "a", "b", "c")
    assert store.hashed_count == 3
    recorded = {p: record_of(s) for p, s in first.items()}
    again = observe(store, "a", "b", "c", recorded=recorded)
    assert store.hashed_count == 3  # nothing re-read
    assert again == first


def test_digest_not_reused_from_another_algorithm(store, tmp_path):
    (tmp_path / "a").write_bytes(b"A")
    state = observe(store, "a")["a"]
    old = record_of(state)._replace(algorithm="md5", digest="md5:whatever")
    assert observe(store, "a", recorded={"a": old})["a"].digest == sha(b"A")
    assert store.hashed_count == 2


def test_digest_not_reused_from_an_incomplete_record(store, tmp_path):
    (tmp_path / "a").write_bytes(b"A")
    state = observe(store, "a")["a"]
    partial = record_of(state)._replace(complete=False, digest="sha256:stale")
    assert observe(store, "a", recorded={"a": partial})["a"].digest == sha(b"A")


def test_only_changed_files_are_rehashed(store, tmp_path):
    for name in "abc":
        (tmp_path / name).write_bytes(b"old")
    recorded = {p: record_of(s) for p, s in observe(store, "a", "b", "c").items()}
    (tmp_path / "b").write_bytes(b"new content")
    result = observe(store, "a", "b", "c", recorded=recorded)
    assert store.hashed_count == 4
    assert result["b"].digest == sha(b"new content")
    assert result["a"].digest == result["c"].digest == sha(b"old")


def test_touch_with_same_content_gives_same_digest(store, tmp_path):
    (tmp_path / "a").write_bytes(b"same")
    before = observe(store, "a")["a"]
    st = os.stat(tmp_path / "a")
    os.utime(tmp_path / "a", ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    after = observe(store, "a", recorded={"a": record_of(before)})["a"]
    assert after.mtime_ns != before.mtime_ns
    assert store.hashed_count == 2  # the stat moved, so it was checked ...
    assert after.digest == before.digest  # ... and found identical


def test_content_change_with_mtime_restored_same_size_is_caught_by_ctime(store, tmp_path):
    path = tmp_path / "a"
    path.write_bytes(b"AAAA")
    before = observe(store, "a")["a"]
    st = os.stat(path)
    time.sleep(0.02)  # let the ctime clock tick past the recorded one
    path.write_bytes(b"BBBB")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    after = observe(store, "a", recorded={"a": record_of(before)})["a"]
    assert (after.size, after.mtime_ns) == (before.size, before.mtime_ns)
    assert after.digest == sha(b"BBBB")


def test_content_change_with_mtime_restored_other_size_is_caught_without_ctime(store, tmp_path):
    path = tmp_path / "a"
    path.write_bytes(b"AAAA")
    before = observe(store, "a")["a"]
    st = os.stat(path)
    path.write_bytes(b"BBBBBB")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    old_record = record_of(before)._replace(ctime_ns=-1)  # a record from before ctime was kept
    after = observe(store, "a", recorded={"a": old_record})["a"]
    assert after.digest == sha(b"BBBBBB")


def test_record_without_ctime_is_trusted_on_size_and_mtime(store, tmp_path):
    # The documented limit: with no ctime on record, size + mtime is all we compare.
    (tmp_path / "a").write_bytes(b"AAAA")
    before = observe(store, "a")["a"]
    old_record = record_of(before)._replace(ctime_ns=-1, digest="sha256:recorded")
    assert observe(store, "a", recorded={"a": old_record})["a"].digest == "sha256:recorded"
    assert store.hashed_count == 1


def test_digest_already_present_is_kept(store, tmp_path):
    (tmp_path / "a").write_bytes(b"A")
    state = store.stat("a")._replace(digest="sha256:given")
    assert store.with_digests({"a": state}, {})["a"].digest == "sha256:given"
    assert store.hashed_count == 0


def test_many_files_hashed_in_parallel_give_the_same_digests(tmp_path):
    contents = {f"f{i}": os.urandom(1000 + i) for i in range(40)}
    for name, data in contents.items():
        (tmp_path / name).write_bytes(data)
    store = FileStore(tmp_path, hash_workers=8)
    result = observe(store, *contents)
    assert {p: s.digest for p, s in result.items()} == {p: sha(d) for p, d in contents.items()}
    assert store.hashed_count == 40


def test_large_file_is_streamed(store, tmp_path, monkeypatch):
    data = os.urandom(1024) * (9 * 1024 + 7)  # a little over 9 MiB
    (tmp_path / "big").write_bytes(data)
    sizes = []

    class Spy:
        def __init__(self, *a):
            self._h = hashlib.new("sha256", *a)

        def update(self, chunk):
            sizes.append(len(chunk))
            self._h.update(chunk)

        def hexdigest(self):
            return self._h.hexdigest()

    import fileflow.engine.store as store_mod
    monkeypatch.setattr(store_mod, "_sha256", Spy)
    digest = store.hash_path("big")
    monkeypatch.undo()
    assert digest == sha(data)
    assert max(sizes) <= CHUNK_SIZE and len(sizes) >= 9  # never the whole file at once


# ---- directories ----------------------------------------------------------------------------

def make_tree(root):
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_bytes(b"A")
    (root / "sub" / "b.txt").write_bytes(b"B")


def test_directory_digest_is_stable_and_content_based(store, tmp_path):
    make_tree(tmp_path / "d1")
    make_tree(tmp_path / "d2")
    assert store.hash_path("d1") == store.hash_path("d2")
    assert store.hash_path("d1") != store.hash_path("d1/a.txt")


def test_directory_digest_changes_when_a_file_inside_changes(store, tmp_path):
    make_tree(tmp_path / "d")
    before = store.hash_path("d")
    (tmp_path / "d" / "sub" / "b.txt").write_bytes(b"C")  # same size
    assert store.hash_path("d") != before


def test_directory_digest_changes_when_a_file_is_renamed_added_or_removed(store, tmp_path):
    make_tree(tmp_path / "d")
    seen = {store.hash_path("d")}
    os.rename(tmp_path / "d" / "a.txt", tmp_path / "d" / "z.txt")
    seen.add(store.hash_path("d"))
    (tmp_path / "d" / "new").write_bytes(b"")
    seen.add(store.hash_path("d"))
    (tmp_path / "d" / "sub" / "b.txt").unlink()
    seen.add(store.hash_path("d"))
    assert len(seen) == 4


def test_directory_digest_reused_then_recomputed_after_a_change_inside(store, tmp_path):
    make_tree(tmp_path / "d")
    first = observe(store, "d")["d"]
    assert store.hashed_count == 2  # both files inside were read
    recorded = {"d": record_of(first)}
    assert observe(store, "d", recorded=recorded)["d"].digest == first.digest
    assert store.hashed_count == 2
    time.sleep(0.02)
    (tmp_path / "d" / "sub" / "b.txt").write_bytes(b"C")
    changed = observe(store, "d", recorded=recorded)["d"]
    assert changed.digest != first.digest


def test_directory_with_symlinks_inside(store, tmp_path):
    d = tmp_path / "d"
    make_tree(d)
    os.symlink("a.txt", d / "to_file")
    os.symlink("sub", d / "to_dir")
    os.symlink("nowhere", d / "broken")
    os.symlink("loop", d / "loop")
    before = store.hash_path("d")
    assert store.stat("d").exists
    os.unlink(d / "broken")
    os.symlink("elsewhere", d / "broken")
    assert store.hash_path("d") != before


# ---- errors ---------------------------------------------------------------------------------

def test_vanished_file_is_an_error_naming_it(store, tmp_path):
    (tmp_path / "a.txt").write_bytes(b"A")
    state = store.stat("a.txt")
    (tmp_path / "a.txt").unlink()
    with pytest.raises(WorkflowError, match="'a.txt'"):
        store.with_digests({"a.txt": state}, {})


def test_vanished_file_among_many_is_an_error(tmp_path):
    for i in range(10):
        (tmp_path / f"f{i}").write_bytes(b"x" * i)
    store = FileStore(tmp_path, hash_workers=4)
    states = store.stat_many([f"f{i}" for i in range(10)])
    (tmp_path / "f7").unlink()
    with pytest.raises(WorkflowError, match="'f7'"):
        store.with_digests(states, {})


def test_unreadable_file_is_an_error(store, tmp_path, monkeypatch):
    import fileflow.engine.store as store_mod
    (tmp_path / "secret").write_bytes(b"s")

    def denied(path, *a, **kw):
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(store_mod, "open", denied, raising=False)  # chmod 0 does not stop root
    with pytest.raises(WorkflowError, match="'secret'.*Permission denied"):
        store.hash_path("secret")


def test_fifo_is_refused_not_read(store, tmp_path):
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(WorkflowError, match="not a regular file"):
        store.hash_path("pipe")


def test_observe_records_what_stat_many_then_with_digests_would(store, tmp_path):
    """observe() reads a job's outputs once (open, fstat, read): the states it gives are
    those of the general way, for files, big files, symlinks, directories and missing
    paths, in the order asked; a FIFO is refused as before."""
    (tmp_path / "a.txt").write_bytes(b"alpha\n")
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "big.bin").write_bytes(os.urandom(CHUNK_SIZE * 2 + 17))
    os.symlink("a.txt", tmp_path / "link.txt")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x").write_bytes(b"x")
    paths = ["big.bin", "d", "a.txt", "missing.txt", "link.txt", "empty.txt"]
    before = store.hashed_count
    got = store.observe(paths)
    assert list(got) == paths
    assert got == observe(store, *paths)
    assert got["a.txt"].digest == sha(b"alpha\n")
    assert got["missing.txt"] == FileState("missing.txt", exists=False)
    assert store.hashed_count - before == 2 * 5  # every regular file read, once a call
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(WorkflowError, match="not a regular file"):
        store.observe(["a.txt", "pipe"])


def test_observe_leaves_files_over_its_limit_and_directories_unhashed(store, tmp_path):
    (tmp_path / "small").write_bytes(b"x" * 10)
    (tmp_path / "large").write_bytes(b"x" * 100)
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "f").write_bytes(b"y")
    states = store.observe(["small", "large", "dir", "missing"], hash_up_to=50)
    assert states["small"].digest and states["small"].size == 10
    assert states["large"].digest is None and states["large"].size == 100
    assert states["dir"].exists and states["dir"].digest is None
    assert not states["missing"].exists
    full = store.with_digests(states, {})   # what the caller does elsewhere
    assert full == store.observe(["small", "large", "dir", "missing"])


# ---- racily clean records, symlinks, the file system's clock ----------------------------------

def test_digest_not_reused_from_a_record_taken_in_the_tick_of_the_last_change(store, tmp_path):
    """A record whose state was seen less than one timestamp tick after the file changed
    vouches for nothing: a same-size write later in that tick keeps size, mtime and ctime."""
    (tmp_path / "a").write_bytes(b"AAAA")
    before = observe(store, "a")["a"]
    racy = record_of(before, seen_ns=before.mtime_ns, link="")._replace(digest="sha256:old")
    assert observe(store, "a", recorded={"a": racy})["a"].digest == sha(b"AAAA")
    assert store.hashed_count == 2
    settled = racy._replace(seen_ns=max(before.mtime_ns, before.ctime_ns)
                            + store.granularity_ns)
    assert observe(store, "a", recorded={"a": settled})["a"].digest == "sha256:old"
    assert store.hashed_count == 2


def test_states_are_stamped_with_the_file_system_clock_read_before_them(store, tmp_path):
    (tmp_path / ".fileflow").mkdir()
    clock = store.tick()
    (tmp_path / "a").write_bytes(b"A")
    state = store.stat("a")
    assert state.seen_ns == clock.now_ns <= state.mtime_ns
    assert clock.granularity_ns >= 1


def test_stat_of_a_symlink_keeps_its_target_and_a_repointed_link_is_hashed(store, tmp_path):
    (tmp_path / "a").write_bytes(b"AAA")
    (tmp_path / "b").write_bytes(b"BBB")
    for name in "ab":
        os.utime(tmp_path / name, ns=(10**18, 10**18))
    os.symlink("a", tmp_path / "in")
    first = observe(store, "in")["in"]
    assert first.link == "a" and first.digest == sha(b"AAA")
    recorded = {"in": record_of(first, link=first.link)}
    os.unlink(tmp_path / "in")
    os.symlink("b", tmp_path / "in")
    again = observe(store, "in", recorded=recorded)["in"]
    assert again.link == "b" and again.digest == sha(b"BBB")


def test_granularity_is_the_coarsest_step_dividing_every_timestamp():
    from fileflow.engine.fs_clock import granularity

    second = 10**9
    assert granularity([3 * second, 5 * second, 8 * second]) == second
    assert granularity([2 * second, 4 * second, 8 * second]) == 2 * second
    assert granularity([3 * second, 5 * second + 10**7, 7 * second]) == 10**7
    assert granularity([3 * second, 5 * second + 1, 7 * second]) == 1
    assert granularity([second]) == 2 * second  # too few to tell: the coarsest


def test_the_granularity_is_measured_once_per_device_and_kept_in_the_probe(tmp_path):
    from fileflow.engine.fs_clock import read_clock

    folder = tmp_path / ".fileflow"
    folder.mkdir()
    for name in ("runlog.db", "noop-cache"):  # what a build leaves there: kernel-set times
        (folder / name).write_bytes(b"x")
    clock = read_clock(str(folder))
    device, step = (folder / "clock").read_text().split()
    assert int(device) == os.stat(folder).st_dev == clock.device
    assert int(step) == clock.granularity_ns
    (folder / "clock").write_text(f"{device} 1000\n")  # read back, not measured again
    again = read_clock(str(folder))
    assert again.granularity_ns == 1000 and again.now_ns >= clock.now_ns
    (folder / "clock").write_text("12345 1000\n")      # another device: measured again
    assert read_clock(str(folder)).granularity_ns == clock.granularity_ns


def test_a_new_state_folder_is_measured_with_the_working_directorys_entries(tmp_path):
    """A project's first build finds `.fileflow` empty: too few timestamps of its own, so
    the ctimes of the working directory's files (which only the kernel sets) tell the step,
    not the coarsest guess."""
    from fileflow.engine.fs_clock import read_clock
    from fileflow.state import COARSE_NS

    for name in ("Flowfile", "in.txt", "conf.yaml", "functions.py"):
        (tmp_path / name).write_text(name)
        os.utime(tmp_path / name, ns=(10**18, 10**18))  # whole seconds: mtimes tell nothing
    folder = tmp_path / ".fileflow"
    folder.mkdir()
    clock = read_clock(str(folder))
    stamps = [os.stat(tmp_path / n).st_ctime_ns for n in ("Flowfile", "in.txt", "conf.yaml")]
    if all(t % 1_000_000_000 == 0 for t in stamps):
        pytest.skip("a file system of whole seconds")
    assert clock.granularity_ns < COARSE_NS and clock.device == os.stat(folder).st_dev
