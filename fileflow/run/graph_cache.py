"""The job graph a build resolved, kept in `.fileflow/graph-cache` so that the next build
with the same inputs to resolution loads it instead of resolving again. Layer 4.

A kept graph is valid for a key (fileflow's version and Python's, the working directory,
and what the command line gives that shapes the graph: Flowfile, targets, config, config
files, default and set resources and threads, the cores threads are capped at, storage
options) and for everything resolution read, each compared as follows:

- every Flowfile loaded (includes and modules too): what in it can shape the graph (its
  syntax tree without positions and without the rules' `shell:` commands: an edited
  command reruns its jobs by their signatures; fileflow.lang.graph_shape);
- every file read while loading or while evaluating the jobs' values (helper modules,
  config files, sample sheets, `read_text()`, the files helper modules read themselves:
  fileflow.lang.file_reads): its stat, when that was taken a whole
  timestamp tick after the file last changed (fileflow.run.path_states), else its content;
- every folder `glob_wildcards()` or a helper module listed: its entries, by name;
- every path resolution asked the existence of (the sources, and the files that decided
  between rules): which of them are missing;
- fileflow's own modules: their stat.

Anything else, and any doubt (an unreadable cache, a rule renamed or moved), resolves
afresh. Never kept: a graph with jobs waiting for checkpoints or reading checkpoint
outputs, one with a remote path (URL), a Flowfile that uses `env()`, a run log that is not
a SQLite file, a working directory on a network file system, and a dry run's graph (a dry
run writes nothing). Deleting the file is always safe.
"""
from __future__ import annotations

import hashlib
import marshal
import os
import sys
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import TYPE_CHECKING

from fileflow.engine import graph_store
from fileflow.fs import replace_file
from fileflow.run.path_states import (
    PathState,
    old_enough,
    on_network_fs,
    own_modules,
    state,
    uses_environment,
)

if TYPE_CHECKING:
    from fileflow.engine.fs_clock import FsClock
    from fileflow.engine.graph import Graph
    from fileflow.lang.model import Workflow

__all__ = ["CACHE_PATH", "cache_key", "Lookups", "load", "save"]

CACHE_PATH = os.path.join(".fileflow", "graph-cache")
FORMAT = 2


def cache_key(shape: tuple) -> tuple:
    """What a kept graph is valid for, besides the files it watches: `shape` holds what the
    command line gives that shapes the graph."""
    from fileflow import __version__

    return (FORMAT, __version__, sys.version, os.getcwd(), repr(shape))


class Lookups:
    """`missing` as resolution asks it, with every path asked remembered."""

    __slots__ = ("missing_of", "asked")

    def __init__(self, missing: Callable[[list[str]], Collection[str]]):
        self.missing_of = missing
        self.asked: dict[str, None] = {}

    def missing(self, paths: list[str]) -> Collection[str]:
        self.asked.update(dict.fromkeys(paths))
        return self.missing_of(paths)


def load(key: tuple, workflow: Workflow, missing: Callable[[list[str]], Collection[str]]
         ) -> Graph | None:
    """The kept graph when it is valid for `key`, the workflow loaded now and the files it
    watches, bound to the workflow's rules; else None. The files the jobs' values read and
    the folders they listed are added to the workflow's (as resolving would have)."""
    try:
        with open(CACHE_PATH, "rb") as fh:
            found = marshal.loads(fh.read())
        saved_key, token, flowfiles, modules, read, listed, asked, absent, data = found
    except (OSError, EOFError, ValueError, TypeError):
        return None
    if (saved_key != key or flowfiles != _flowfile_digests(workflow.flowfiles)
            or not _same_states(modules) or not _same_files(read)
            or any(_listing(d) != names for d, names in listed)):
        return None
    try:
        gone = missing(list(asked)) if asked else ()
    except Exception:
        return None
    if set(gone) != {asked[i] for i in absent}:
        return None
    graph = graph_store.load(data, workflow.rules)
    if graph is None:
        return None
    graph.origin = token
    if isinstance(workflow.read_files, list):  # the loader's own list, shared with the jobs
        known = set(workflow.read_files)
        workflow.read_files.extend(p for p, *_ in read if p not in known)
    if isinstance(workflow.listed_dirs, dict):
        workflow.listed_dirs.update((d, None) for d, _ in listed)
    return graph


def save(key: tuple, workflow: Workflow, graph: Graph, lookups: Lookups, clock: FsClock,
         configfiles: Sequence[str] = ()) -> bool:
    """Keep the graph just resolved, with what it was resolved from (`lookups`: the
    existence questions resolution asked; `clock`: the file system's clock read before
    the files were; `configfiles`: those the command line named), or remove the kept one
    when this graph cannot be kept. Returns whether it was written; never raises OSError."""
    written = _write(key, workflow, graph, lookups, clock, configfiles)
    if not written:
        discard()
    return written


def _write(key: tuple, workflow: Workflow, graph: Graph, lookups: Lookups, clock: FsClock,
           configfiles: Sequence[str]) -> bool:
    if not os.path.isdir(".fileflow") or uses_environment(workflow.flowfiles) or on_network_fs():
        return False  # a project never built (a command that only looks) gets no .fileflow
    if graph.names_remote_files() or any("://" in p for p in lookups.asked):
        return False
    data = graph_store.dump(graph, workflow.rules)
    if data is None:
        return False
    asked = tuple(lookups.asked)
    try:
        gone = set(lookups.missing_of(list(asked))) if asked else set()
        token = os.urandom(12).hex()
        found = (key, token, _flowfile_digests(workflow.flowfiles),
                 [(p, state(p)) for p in own_modules()],
                 [_file_record(p, clock)
                  for p in dict.fromkeys([*configfiles, *workflow.read_files])],
                 [(d, _listing(d)) for d in workflow.listed_dirs],
                 asked, tuple(i for i, p in enumerate(asked) if p in gone), data)
        blob = marshal.dumps(found)
    except (OSError, ValueError):
        return False
    if not old_enough([s for _, s in found[3]], clock):
        return False
    if not replace_file(CACHE_PATH, blob):
        return False
    graph.origin = token
    return True


def discard() -> None:
    """Forget the kept graph (a build that cannot keep one leaves none behind)."""
    try:
        os.unlink(CACHE_PATH)
    except OSError:
        pass


def _digest(path: str) -> str | None:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def _flowfile_digests(flowfiles: Sequence[str]) -> list[tuple[str, str | None]]:
    """Each Flowfile's digest of what can shape the graph: its rules' commands left out."""
    from fileflow.errors import FlowfileError
    from fileflow.lang.graph_shape import shape_digest

    found: list[tuple[str, str | None]] = []
    for path in flowfiles:
        try:
            with open(path, encoding="utf-8-sig") as fh:
                found.append((path, shape_digest(fh.read(), path)))
        except (OSError, UnicodeDecodeError, FlowfileError):
            found.append((path, None))
    return found


def _file_record(path: str, clock: FsClock) -> tuple[str, PathState, bool, str | None]:
    """(path, state, whether the state alone vouches for the content, content digest)."""
    found = state(path)
    if found is not None and found is not False and found[3]:  # a folder: its summary
        return path, found, old_enough([found], clock), None
    return path, found, old_enough([found], clock), _digest(path) if found else None


def _same_states(saved: Iterable[tuple[str, PathState]]) -> bool:
    return all(state(p) == s for p, s in saved)


def _same_files(saved: Iterable[tuple[str, PathState, bool, str | None]]) -> bool:
    for path, was, vouches, digest in saved:
        now = state(path)
        if now == was and vouches:
            continue
        if now is None or was is None or now is False or was is False:
            if now != was:
                return False
            continue
        if now[3] or was[3] or digest is None or _digest(path) != digest:
            return False
    return True


def _listing(folder: str) -> list[str] | None:
    try:
        return sorted(os.listdir(folder))
    except OSError:
        return None
