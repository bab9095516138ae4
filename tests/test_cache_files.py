"""Reading a build's cache files, and the build daemon's decoded copies of them
(fileflow.run.cache_files): a copy stands in only for the very file it was decoded from,
is handed out once, and the daemon never blocks on or follows what is not a regular file."""
from __future__ import annotations

import marshal
import os
import threading

import pytest

from fileflow.fs import replace_file
from fileflow.run.cache_files import DecodedCaches, read_cache

NAME = os.path.join(".fileflow", "graph-cache")


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / ".fileflow").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(content) -> None:
    assert replace_file(NAME, marshal.dumps(content))


def test_without_copies_the_file_is_read():
    with pytest.raises(FileNotFoundError):
        read_cache("no-such-cache")


def test_a_copy_of_the_same_file_is_handed_out_instead_of_reading_it(project):
    write(("graph", [1, 2, 3]))
    decoded = DecodedCaches()
    assert decoded.refresh(str(project), [NAME]) == [str(project / NAME)]
    copy = read_cache(NAME, decoded)
    assert copy == ("graph", [1, 2, 3])
    copy[1].append(4)  # the taker may change it: the next read is the file's own content
    assert read_cache(NAME, decoded) == ("graph", [1, 2, 3])


def test_a_cache_written_again_is_read_from_its_file_not_from_the_old_copy(project):
    write("old")
    decoded = DecodedCaches()
    decoded.refresh(str(project), [NAME])
    write("new")
    assert read_cache(NAME, decoded) == "new"


def test_a_file_changed_in_place_is_not_taken_for_its_copy(project):
    write("first")
    decoded = DecodedCaches()
    decoded.refresh(str(project), [NAME])
    before = os.stat(NAME)
    with open(NAME, "r+b") as fh:  # the same inode, the same size, a second later
        fh.write(marshal.dumps("other"))
    os.utime(NAME, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))
    assert read_cache(NAME, decoded) == "other"


def test_refresh_decodes_only_what_changed_and_forgets_what_is_gone(project):
    write("one")
    decoded = DecodedCaches()
    assert decoded.refresh(str(project), [NAME]) != []
    assert decoded.refresh(str(project), [NAME]) == []  # unchanged: kept as it was
    os.unlink(NAME)
    decoded.refresh(str(project), [NAME])
    assert len(decoded) == 0


def test_a_damaged_or_too_large_file_is_left_to_the_command(project):
    with open(NAME, "wb") as fh:
        fh.write(b"\xff not marshal")
    decoded = DecodedCaches()
    assert decoded.refresh(str(project), [NAME]) == []
    with pytest.raises((ValueError, EOFError)):
        read_cache(NAME, decoded)
    write(list(range(1000)))
    assert decoded.refresh(str(project), [NAME], max_file_bytes=100) == []
    assert len(decoded) == 0


def test_a_fifo_or_a_symlink_is_never_opened_by_the_daemon(project):
    os.mkfifo(NAME)
    decoded = DecodedCaches()
    done = threading.Event()

    def refresh():
        decoded.refresh(str(project), [NAME])
        done.set()

    threading.Thread(target=refresh, daemon=True).start()
    assert done.wait(10), "refresh blocked on a FIFO"
    assert len(decoded) == 0
    os.unlink(NAME)
    with open("elsewhere", "wb") as fh:
        fh.write(marshal.dumps("through a link"))
    os.symlink(os.path.abspath("elsewhere"), NAME)
    assert decoded.refresh(str(project), [NAME]) == []
    assert read_cache(NAME, decoded) == "through a link"  # the command itself still reads it


def test_projects_least_recently_refreshed_lose_their_copies_first(tmp_path):
    folders = []
    for name in ("a", "b", "c"):
        folder = tmp_path / name
        (folder / ".fileflow").mkdir(parents=True)
        (folder / NAME).write_bytes(marshal.dumps("x" * 1000))
        folders.append(folder)
    decoded = DecodedCaches()
    for folder in folders:
        decoded.refresh(str(folder), [NAME], max_kept_bytes=2500)
    assert len(decoded) == 2
    identity_of = {}
    for folder in folders:
        found = os.stat(folder / NAME)
        identity_of[folder] = (found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns,
                               found.st_ctime_ns)
    assert decoded.take(str(folders[0] / NAME), identity_of[folders[0]]) is None
    assert decoded.take(str(folders[2] / NAME), identity_of[folders[2]]) == "x" * 1000
