"""Resolving a graph that reads checkpoints: the oracle that says whether a checkpoint job is
complete (every output on disk, as in Snakemake), and what resolve does when a job's values
read one. Layer 2.

A job whose values read a checkpoint job that is not complete waits (graph.waiting): the
checkpoint job is added in its place, with an edge to the job that needed the waiting one,
which is thus held until the checkpoint has run and the graph is resolved again. A job that
read a complete checkpoint job is its reader (graph.readers): it depends on that job, and
is held too if the plan runs the checkpoint again (its outputs will change).
"""
from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import NamedTuple

from fileflow.engine.graph import Graph, Waiting, job_name
from fileflow.errors import WorkflowError
from fileflow.lang.checkpoints import CheckpointPending, Checkpoints
from fileflow.lang.model import FileItem, Rule, Workflow

__all__ = ["CheckpointOracle"]


class CheckpointOracle:
    """The `checkpoints` of one resolve: a checkpoint job is complete when all its outputs
    exist (`missing` asked once per job); `reads` collects the jobs read since it was last
    cleared."""

    def __init__(self, workflow: Workflow, missing: Callable[[list[str]], Collection[str]]):
        self.by_name: Mapping[str, Rule] = workflow.by_name
        self.missing = missing
        self.known: dict[str, bool] = {}
        self.reads: list[tuple[str, dict[str, str]]] = []
        # directory() outputs of the complete checkpoint jobs read -> their job's name
        self.folders: dict[str, tuple[str, dict[str, str]]] = {}
        self.checkpoints = Checkpoints(workflow.by_name, self.complete)
        # the directory() outputs of checkpoints: a file inside one is made by its job
        self.folder_outputs = folder_outputs(workflow)
        self.heads: dict[str, tuple[str, dict[str, str]] | None] = {}  # folder -> its job
        self.retries: list[tuple] = []  # how to ask again for each of graph.waiting

    def complete(self, rule: Rule, wildcards: dict[str, str], outputs: list[str]) -> bool:
        key = job_name(rule.name, wildcards)
        done = self.known.get(key)
        if done is None:
            done = self.known[key] = not self.missing(outputs)
        if done:
            self.reads.append((rule.name, wildcards))
            for item, path in zip(rule.outputs, outputs):
                if "directory" in item.flags:
                    self.folders[path.rstrip("/")] = (rule.name, wildcards)
        return done

    def folder_of(self, path: str) -> tuple[str, dict[str, str]] | None:
        """The checkpoint job whose directory() output holds `path`, if any: what it wrote
        there is read as its output (a file of `split`'s folder needs `split`). Each folder
        is matched against the checkpoints' directory() outputs once per resolve."""
        if not self.folder_outputs:
            return None
        folders, heads = self.folders, self.heads
        head = path
        while "/" in head:
            head = head.rsplit("/", 1)[0]
            found = folders.get(head)
            if found is not None:
                return found
            if head in heads:
                found = heads[head]
            else:
                found = heads[head] = _folder_job(self.folder_outputs, head)
            if found is not None:
                return found
        return None

    def link_readers(self, graph: Graph, reader: int, read: list[tuple[str, dict[str, str]]],
                     add_job: Callable[..., int]) -> None:
        """The checkpoint jobs `reader`'s values read: in the graph, upstream of it."""
        for name, wildcards in read:
            rule = self.by_name[name]
            try:
                checkpoint = add_job(rule, wildcards, -1)
            except CheckpointPending as pending:
                self.wait(graph, add_job, pending, job_name(name, wildcards), reader, "",
                          ("read", reader, (name, wildcards)))
                continue
            if checkpoint != reader:
                graph.add_edge(checkpoint, reader)
                graph.readers.setdefault(checkpoint, []).append(reader)

    def wait(self, graph: Graph, add_job: Callable[..., int], pending: CheckpointPending,
             waiting: str, consumer: int, path: str, retry: tuple) -> None:
        """The job named `waiting` read a checkpoint job that is not complete: add that job
        (or the one it waits for in turn) and hold `consumer` behind it. `retry` says how
        to ask again once it has run (beside graph.waiting, in `retries`)."""
        seen = [waiting]
        while True:
            name = job_name(pending.rule, pending.wildcards)
            if name in seen:
                raise WorkflowError(f"checkpoint job {name} reads its own outputs "
                                    f"({' -> '.join([*seen, name])})", self.by_name[pending.rule].pos)
            seen.append(name)
            try:
                checkpoint = add_job(self.by_name[pending.rule], pending.wildcards, -1)
                break
            except CheckpointPending as deeper:
                pending = deeper
        graph.waiting.append(Waiting(waiting, consumer, path, checkpoint))
        self.retries.append(retry)
        if consumer >= 0 and consumer != checkpoint:
            graph.add_edge(checkpoint, consumer)


class _FolderOutput(NamedTuple):
    rule: Rule
    item: FileItem
    prefix: str
    fullmatch: Callable


def folder_outputs(workflow: Workflow) -> list[_FolderOutput]:
    """The directory() outputs of the workflow's checkpoints, in rule order, each with its
    literal prefix and compiled pattern."""
    return [_FolderOutput(rule, item, item.pattern.literal_prefix,
                          item.pattern.regex(rule.constraints).fullmatch)
            for rule in workflow.rules if rule.checkpoint
            for item in rule.outputs if "directory" in item.flags]


def _folder_job(outputs: list[_FolderOutput], folder: str) -> tuple[str, dict[str, str]] | None:
    """The checkpoint job (rule name, wildcards) whose directory() output is `folder`."""
    for rule, item, prefix, fullmatch in outputs:
        if not folder.startswith(prefix):
            continue
        m = fullmatch(folder)
        if m is None:
            continue
        found = m.groupdict()
        wildcards = {name: found[name] for name in rule.wildcards if name in found}
        if len(wildcards) == len(rule.wildcards) and (
                item.pattern.fmt.format_map(wildcards) if wildcards else item.pattern.text
                ).rstrip("/") == folder:
            return rule.name, wildcards
    return None
