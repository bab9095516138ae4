"""Group jobs on a cluster: the members of a group gathered as they are handed over, the
one cluster job that runs them (fileflow.executors.group_runner on the node), and each
member's outcome read back from the results it wrote. Layer 3.

The cluster job of a group is an ordinary job to the shared machinery of .cluster (a
request, a script, an external id, an exit file, status rounds, arrays of equal
requests); only its outcome is turned into its members' outcomes here.

A group job outlives a head that dies. What a later build needs to take it over is in the
run log before the group job is submitted: each member's row (its name and command), and,
in its message while it runs, its member note (`member_note`: the group, the member's place
in it, the results file's path with %j for the group job's id); the group job's id
follows right after the submission, as for any cluster job. The results file is named
after the group job's id and its lines after the members' names, so that it is found
again from the run log alone, by this build or any later one.
"""
from __future__ import annotations

import json
import os
import shlex
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from fileflow.engine.groups import GroupMember, group_request
from fileflow.executors.base import JobOutcome, JobSpec
from fileflow.lang.units import span

__all__ = ["GroupJob", "GroupForming", "MemberNote", "new_group", "runner_command",
           "write_manifest", "member_outcomes", "cancelled_members", "results_template",
           "member_note", "read_member_note", "adopted_group"]

NOTE_PREFIX = "in group job: "   # a running member's message in the run log, then its note


def results_template(backend: str) -> str:
    """Where a group job's node writes its members' results, relative to the working
    directory; %j is the group job's id."""
    return os.path.join(".fileflow", backend, "groups", "%j.results")


@dataclass(frozen=True, slots=True)
class MemberNote:
    """What the run log says of a member of a group job while it runs."""
    group: str       # the group's key ("per_a.1")
    index: int       # its place among the group's members (0: first)
    size: int        # how many members the group started with
    results: str     # the group's results file, %j for the group job's id


def member_note(group: str, index: int, size: int, backend: str) -> str:
    """The message a member's row carries while it runs (fileflow.run.recorder)."""
    return NOTE_PREFIX + json.dumps({"group": group, "index": index, "size": size,
                                     "results": results_template(backend)})


def read_member_note(message: str | None) -> MemberNote | None:
    """A running row's member note; None for a job that is no group's member."""
    if not message or not message.startswith(NOTE_PREFIX):
        return None
    try:
        d = json.loads(message[len(NOTE_PREFIX):])
        return MemberNote(str(d["group"]), int(d["index"]), int(d["size"]), str(d["results"]))
    except (ValueError, KeyError, TypeError):
        return None


@dataclass(frozen=True, slots=True)
class GroupJob:
    """One group's cluster job: its members, in their order, and its results file."""
    key: str
    members: tuple[JobSpec, ...]
    results: str


class GroupForming:
    """Members of groups handed over, kept until their whole group is here (a member may
    come later, once its large inputs are hashed)."""

    def __init__(self) -> None:
        self.forming: dict[str, list[JobSpec]] = {}

    def __len__(self) -> int:
        return sum(len(members) for members in self.forming.values())

    def add(self, spec: JobSpec) -> list[JobSpec] | None:
        """The group's members once all are here, else None."""
        members = self.forming.setdefault(spec.group, [])
        members.append(spec)
        if len(members) < spec.group_size:
            return None
        del self.forming[spec.group]
        return members

    def drop(self) -> list[JobSpec]:
        """The build stops: members whose group never started."""
        out = [spec for members in self.forming.values() for spec in members]
        self.forming.clear()
        return out


def new_group(job_id: int, members: Sequence[JobSpec], backend: str, workdir: str,
              max_threads: int, limits: Mapping[str, float]) -> tuple[JobSpec, GroupJob]:
    """A group whose members are all here, as a job of its own (`job_id`, negative): its
    request made of its members' (fileflow.engine.groups.group_request), its time limit
    their summed runtime; its log and its results in .fileflow/<backend>/groups/."""
    key = members[0].group
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in key)[:100]
    index = {spec.job_id: i for i, spec in enumerate(members)}
    request = group_request(
        [GroupMember(spec.threads, spec.resources, tuple(index[a] for a in spec.after
                                                          if a in index), spec.timeout)
         for spec in members], max_threads, limits, what=f"group {key}")
    rules = sorted({spec.rule for spec in members})
    log = os.path.join(".fileflow", backend, "groups", f"{safe}-%j.log")
    # The wildcards its members share (a group per sample: the sample), for a native template.
    shared = {k: v for k, v in members[0].wildcards.items()
              if all(m.wildcards.get(k) == v for m in members)}
    spec = JobSpec(job_id, f"group {key}", "+".join(rules), "", log,
                   tuple(p for spec in members for p in spec.outputs), request.threads,
                   request.resources, wildcards=shared)
    return spec, GroupJob(key, tuple(members), os.path.join(workdir, results_template(backend)))


def adopted_group(job_id: int, members: Sequence[JobSpec], notes: Sequence[MemberNote],
                  backend: str, workdir: str, max_threads: int,
                  limits: Mapping[str, float]) -> tuple[JobSpec, GroupJob]:
    """The group job a dead fileflow left, as these members (each with its note) see it:
    in the order it runs them, with its key and results file."""
    place = {m.name: n.index for m, n in zip(members, notes)}
    members = sorted(members, key=lambda m: place[m.name])
    spec, group = new_group(job_id, members, backend, workdir, max_threads, limits)
    return spec, replace(group, key=notes[0].group,
                         results=os.path.join(workdir, notes[0].results))


def runner_command(manifest: str) -> str:
    """The shell line that runs the group on its node, by this Python and this fileflow
    (the package's folder leads PYTHONPATH, so the node runs the code the head runs); the
    job script's $ff_id, the group job's id, names its results file."""
    package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return (f'PYTHONPATH={shlex.quote(package_root)}"${{PYTHONPATH:+:$PYTHONPATH}}" '
            f"{shlex.quote(sys.executable)} -m fileflow.executors.group_runner "
            f'{shlex.quote(manifest)} "$ff_id"')


def write_manifest(path: str, group: GroupJob, scripts: Sequence[str], cores: int) -> None:
    members = [{"id": spec.job_id, "name": spec.name, "script": script,
                "threads": max(1, int(spec.threads)), "after": list(spec.after),
                "timeout": spec.timeout}
               for spec, script in zip(group.members, scripts)]
    with open(path, "w", encoding="utf-8", errors="surrogateescape") as fh:
        json.dump({"cores": cores, "results": group.results, "members": members}, fh)


def _results(group: GroupJob, external_id: str) -> dict[str, dict]:
    """The group's result lines, by member name."""
    path = group.results.replace("%j", external_id)
    found: dict[str, dict] = {}
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as fh:
            for line in fh:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue  # a line cut short when the group job was killed
                if isinstance(record, dict) and isinstance(record.get("name"), str):
                    found[record["name"]] = record
    except FileNotFoundError:
        pass
    return found


def member_outcomes(group: GroupJob, ended: JobOutcome, backend: str) -> list[JobOutcome]:
    """Each member's outcome, in the group's order, from the results its node wrote; a
    member with no result ended with its group (killed, out of time) and failed so."""
    found = _results(group, ended.external_id)
    where = f"{backend} job {ended.external_id} (group {group.key})"
    out = []
    for spec in group.members:
        log = spec.log_path.replace("%j", ended.external_id)
        r = found.get(spec.name)
        if r is None:
            why = ended.message if not ended.ok else "the group job ended before it did"
            out.append(JobOutcome(spec.job_id, ended.exit_code or 1, ended.started_at,
                                  ended.ended_at, ended.host, message=f"{where}: {why}",
                                  external_id=ended.external_id, log_path=log))
            continue
        if r.get("not_run"):
            out.append(JobOutcome(spec.job_id, 1, r["started"], r["ended"], ended.host,
                                  message=f"{where}: not started", external_id=ended.external_id,
                                  log_path=log, not_run=str(r["not_run"])))
            continue
        out.append(_ran(spec, r, where, ended.external_id, log))
    return out


def _ran(spec: JobSpec, r: dict, where: str, external_id: str, log: str) -> JobOutcome:
    """The outcome of a member that ran, as its node's result line says."""
    code = int(r["exit"])
    said = (f"{where} on {r['host']}" if code == 0 else
            f"{where}: exit code {code}" if code > 0 else f"{where}: killed by signal {-code}")
    if r.get("timed_out"):
        said = f"timed out after {span(spec.timeout)} ({where})"
    return JobOutcome(spec.job_id, code, float(r["started"]), float(r["ended"]), str(r["host"]),
                      int(r["rss"]), float(r["cpu"]), said, external_id, log_path=log)


def cancelled_members(group: GroupJob, external_id: str, submitted: float) -> list[JobOutcome]:
    """Ctrl-C: the group job was cancelled, and its members with it; a member that its node
    had seen end with exit status 0 before the group job was told to stop keeps that outcome
    (ended_before_cancel: its outputs are judged as any job's), so its work is not lost."""
    found = _results(group, external_id)
    now = time.time()
    out = []
    for spec in group.members:
        log = spec.log_path.replace("%j", external_id)
        r = found.get(spec.name)
        if r is not None and not r.get("not_run") and not r.get("stopped") and r.get("exit") == 0:
            out.append(replace(_ran(spec, r, f"group job {external_id} ({group.key})",
                                    external_id, log), ended_before_cancel=True))
            continue
        out.append(JobOutcome(spec.job_id, -15, submitted, now, message=(
            f"cancelled: group job {external_id} ({group.key}) was cancelled"),
            external_id=external_id, log_path=log))
    return out
