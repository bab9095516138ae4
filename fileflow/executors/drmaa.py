"""`--cluster drmaa`: jobs through a DRMAA 1.0 library (Grid Engine, PBS/Torque, LSF, HTCondor,
Slurm via slurm-drmaa) with the `drmaa` Python package. Layer 3.

A backend of fileflow.executors.cluster: job scripts, exit files, arrays, status rounds,
retries, Ctrl-C and adopting a dead run's jobs are shared with Slurm; this module only
submits, polls and cancels through one DRMAA session per run.

The `drmaa` package loads the C library when it is imported, so it is imported only here,
when a session opens: fileflow works without libdrmaa for every other executor.

Polling: finished jobs of this session are reaped with `wait(ANY, timeout=0)`, one cheap
call per finished job (it gives the exit status, signal, `wasAborted` and resource usage).
States of the others (queued, held, running, suspended) come from `jobStatus`, one call to
the DRM per job, so a round asks at most MAX_STATUS_CALLS_PER_SECOND times per second
since the last round, in turns; jobs not asked keep their last known state.
"""
from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Mapping, Sequence
from typing import Any

from fileflow.errors import FileflowError
from fileflow.executors.base import JobSpec
from fileflow.executors.cluster_backend import JobStatus, TransientError
from fileflow.template import TemplateError, parse_template, render

__all__ = ["DrmaaBackend", "DrmaaSession", "open_session", "render_native", "map_state",
           "status_from_info", "job_id_and_index_shell", "KNOWN_LIBRARIES", "STATIC_TLS_FIX",
           "MAX_STATUS_CALLS_PER_SECOND"]

# Where distributions put the library when DRMAA_LIBRARY_PATH is not set (Debian's Grid
# Engine ships only the versioned name, which ctypes' find_library does not look for).
KNOWN_LIBRARIES = (
    "/usr/lib/gridengine-drmaa/lib/libdrmaa.so.1.0",
    "/usr/lib/gridengine-drmaa/lib/libdrmaa.so",
)
STATIC_TLS_FIX = "GLIBC_TUNABLES=glibc.rtld.optional_static_tls=16384"
MAX_STATUS_CALLS_PER_SECOND = 20
MAX_BULK_TASKS = 1000
NATIVE_FIELDS = {"threads", "resources", "rule", "wildcards", "attempt"}

# DRMAA's state names (as the `drmaa` package spells them) in the shared layer's words.
_STATES = {
    "undetermined": "UNKNOWN",
    "queued_active": "PENDING",
    "system_on_hold": "HELD",
    "user_on_hold": "HELD",
    "user_system_on_hold": "HELD",
    "running": "RUNNING",
    "system_suspended": "SUSPENDED",
    "user_suspended": "SUSPENDED",
    "user_system_suspended": "SUSPENDED",
    "done": "COMPLETED",
    "failed": "FAILED",
}
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def map_state(drmaa_state: str) -> str:
    return _STATES.get(drmaa_state, "UNKNOWN")


# ---------------------------------------------------------------- native specification

def render_native(spec: JobSpec, template: str) -> str:
    """The native specification of one job: the --drmaa-native template, then the rule's
    own `drmaa_native` resource (also a template), filled with the job's threads,
    resources, rule, wildcards and attempt (--default-resources and --set-resources are in
    the job's values already: lang/overrides.py)."""
    resources, threads = spec.resources, spec.threads
    parts = []
    rule_native = resources.get("drmaa_native")
    for source, text in (("--drmaa-native", template),
                         (f"resource drmaa_native of rule {spec.rule}", rule_native)):
        if not text:
            continue
        if not isinstance(text, str):
            raise FileflowError(f"{source} must be a string, got {text!r}")
        try:
            parsed = parse_template(text)
            bad = [f.text for f in parsed.fields if f.name not in NATIVE_FIELDS]
            if bad:
                raise TemplateError(f"{bad[0]} is not available here (use "
                                    + ", ".join(f"{{{n}}}" for n in sorted(NATIVE_FIELDS)) + ")", 0)
            parts.append(render(parsed, {"threads": threads, "resources": resources,
                                         "rule": spec.rule, "wildcards": spec.wildcards,
                                         "attempt": spec.attempt}))
        except TemplateError as exc:
            raise FileflowError(f"{source} {text!r} for job {spec.name}: {exc}") from None
    return " ".join(p.strip() for p in parts if p.strip())


# ---------------------------------------------------------------- the library and a session

def _import_drmaa():
    """Import the `drmaa` package, which loads the C library at once. Every way this can
    fail becomes a FileflowError that says what to install or set."""
    path = os.environ.get("DRMAA_LIBRARY_PATH", "")
    if not path:
        found = next((p for p in KNOWN_LIBRARIES if os.path.exists(p)), None)
        if found is not None:
            os.environ["DRMAA_LIBRARY_PATH"] = path = found  # read by the package at import
    try:
        import drmaa
    except ImportError as exc:
        raise FileflowError(f"--cluster drmaa needs the 'drmaa' Python package ({exc}); "
                            "install it with: pip install 'fileflow[drmaa]'") from None
    except RuntimeError as exc:  # the package found no library
        raise FileflowError(
            f"--cluster drmaa: no DRMAA library found ({exc}); set DRMAA_LIBRARY_PATH to your "
            "cluster's libdrmaa.so (Grid Engine on Debian: "
            f"DRMAA_LIBRARY_PATH={KNOWN_LIBRARIES[0]})") from None
    except OSError as exc:  # dlopen failed
        text = str(exc)
        if "static TLS" in text:
            raise FileflowError(
                f"--cluster drmaa: cannot load the DRMAA library {path}: {text}. The library "
                "needs more static TLS than Python reserved at start: run fileflow with "
                f"{STATIC_TLS_FIX} set in the environment (or LD_PRELOAD of the libjemalloc "
                "it links)") from None
        raise FileflowError(f"--cluster drmaa: cannot load the DRMAA library "
                            f"{path or '(DRMAA_LIBRARY_PATH is not set)'}: {text}; set "
                            "DRMAA_LIBRARY_PATH to your cluster's libdrmaa.so") from None
    return drmaa


class DrmaaSession:
    """The one DRMAA session of a run, and a count of the DRMAA calls made through it."""

    def __init__(self, drmaa_module, session):
        self.drmaa = drmaa_module
        self.session = session
        self.calls = 0
        self.drms = str(session.drmsInfo)
        self.contact = str(session.contact)

    def call(self, name: str, *args):
        self.calls += 1
        try:
            return getattr(self.session, name)(*args)
        except (self.drmaa.errors.DrmCommunicationException,
                self.drmaa.errors.TryLaterException) as exc:
            raise TransientError(f"DRMAA {name}: {exc}") from None

    def close(self) -> None:
        if self.session is not None:
            try:
                self.session.exit()
            except self.drmaa.errors.DrmaaException:
                pass
            self.session = None


def open_session(contact: str | None = None) -> DrmaaSession:
    """Load the library and open a session now, before any job runs, so a missing library
    or an unreachable DRM is reported up front."""
    drmaa = _import_drmaa()
    session = drmaa.Session()
    try:
        session.initialize(contact)
    except drmaa.errors.DrmaaException as exc:
        hint = ""
        if "SGE_ROOT" in str(exc) or os.path.exists(KNOWN_LIBRARIES[0]):
            hint = " (Grid Engine needs SGE_ROOT and SGE_CELL set, and its qmaster running)"
        raise FileflowError(f"--cluster drmaa: cannot open a DRMAA session: "
                            f"{type(exc).__name__}: {exc}{hint}") from None
    return DrmaaSession(drmaa, session)


# ---------------------------------------------------------------- job info

def _float(usage: Mapping[str, str], key: str) -> float | None:
    try:
        return float(usage[key])
    except (KeyError, ValueError):
        return None


def status_from_info(info) -> JobStatus:
    """A finished job's JobInfo: exit code, signal, abort, and what it used."""
    usage = dict(info.resourceUsage or {})
    started = _float(usage, "start_time")
    ended = _float(usage, "end_time")
    rss_kb = _float(usage, "ru_maxrss")
    cpu = _float(usage, "cpu")
    if cpu is None:
        utime, stime = _float(usage, "ru_utime"), _float(usage, "ru_stime")
        cpu = (utime or 0.0) + (stime or 0.0) if utime is not None or stime is not None else None
    common: dict[str, Any] = dict(started_at=started or None, ended_at=ended or None,
                  peak_rss_bytes=int(rss_kb * 1024) if rss_kb else -1,
                  cpu_seconds=cpu if cpu is not None else -1.0)
    if info.wasAborted:
        why = ("it was deleted while it ran (qdel, or a cancel)" if started else
               "the DRM aborted it before it ran (deleted while queued, or it could not start)")
        return JobStatus("CANCELLED", None, reason=why, **common)
    if info.hasSignal:
        name = str(info.terminatedSignal or "")
        number = getattr(signal, name, None) if name.startswith("SIG") else None
        code = -int(number) if number is not None else -9
        return JobStatus("FAILED", code, reason=f"killed by {name or 'a signal'} (a limit "
                         "such as h_rt or h_vmem, or a job deletion)", **common)
    code = int(info.exitStatus)
    return JobStatus("COMPLETED" if code == 0 else "FAILED", code, **common)


# ---------------------------------------------------------------- the backend

def job_id_and_index_shell(drms: str) -> tuple[str, str]:
    """Shell expressions for a job's DRMAA id and a bulk task's 0-based index, inside the
    job, for the DRMs whose variables are known (others get no bulk jobs)."""
    if re.search(r"\b(SGE|OGS|UGE|GE|Grid ?Engine)\b", drms, re.I):
        return ('$(case "${SGE_TASK_ID:-undefined}" in undefined) echo "$JOB_ID";; '
                '*) echo "$JOB_ID.$SGE_TASK_ID";; esac)', "SGE_TASK_ID - 1")
    if "slurm" in drms.lower():
        return "$SLURM_JOB_ID", ""
    if re.search(r"PBS|Torque", drms, re.I):
        return "$PBS_JOBID", ""
    if "lsf" in drms.lower():
        return "$LSB_JOBID", ""
    return "${JOB_ID:-unknown}", ""


class DrmaaBackend:
    """Submit, poll and cancel through one DRMAA session (see fileflow.executors.cluster)."""

    name = "drmaa"

    def __init__(self, session: DrmaaSession, native: str = "", *,
                 max_status_calls_per_second: float = MAX_STATUS_CALLS_PER_SECOND,
                 clock=time.monotonic):
        self.session = session
        self.native = native
        self.job_id_shell, self.array_index_shell = job_id_and_index_shell(session.drms)
        self.max_calls = max_status_calls_per_second
        self.clock = clock
        self.own: set[str] = set()              # ids submitted in this session
        self.finished: dict[str, JobStatus] = {}  # reaped by wait(), not yet reported
        self.last: dict[str, JobStatus] = {}    # last state seen per job
        self.turn = 0                           # where the next sweep of known jobs starts
        self.last_round: float | None = None
        self.lost_aborted = 0                   # reaped aborted jobs whose id the DRM withheld

    # -- Backend protocol

    def max_array_size(self) -> int:
        return MAX_BULK_TASKS if self.array_index_shell else 1

    def request(self, spec: JobSpec) -> tuple:
        return (spec.rule, render_native(spec, self.native))

    def submit(self, scripts: Sequence[str], request: tuple, tag: str,
               array_script: str | None) -> list[str]:
        rule, native = request
        s = self.session
        jt = s.call("createJobTemplate")
        try:
            jt.remoteCommand = "/bin/bash"
            jt.workingDirectory = os.getcwd()
            jt.jobName = _NAME_UNSAFE.sub("_", f"{tag}.{rule}")[:64]
            jt.joinFiles = True
            if native:
                jt.nativeSpecification = native
            # The job script sends the command's output to the job's log; this file only
            # catches what the DRM or bash say before that (e.g. a script it cannot read).
            if array_script is None:
                (script,) = scripts
                jt.args = [script]
                jt.outputPath = ":" + script[:-3] + ".drm.out"
                ids = [str(s.call("runJob", jt))]
            else:
                jt.args = [array_script]
                jt.outputPath = (":" + array_script[:-3] + "."
                                 + s.drmaa.JobTemplate.PARAMETRIC_INDEX + ".drm.out")
                ids = [str(i) for i in s.call("runBulkJobs", jt, 1, len(scripts), 1)]
        except s.drmaa.errors.DeniedByDrmException as exc:
            raise FileflowError(f"the DRM refused jobs of rule {rule} (native specification "
                                f"{native!r}): {exc}") from None
        except (s.drmaa.errors.InvalidAttributeValueException,
                s.drmaa.errors.InvalidAttributeFormatException) as exc:
            raise FileflowError(f"jobs of rule {rule}: the DRM rejects the job template "
                                f"(native specification {native!r}): {exc}") from None
        finally:
            try:
                s.call("deleteJobTemplate", jt)
            except s.drmaa.errors.DrmaaException:
                pass
        self.own.update(ids)
        return ids

    def poll(self, ids: Sequence[str], tags: Sequence[str]) -> Mapping[str, JobStatus]:
        self._reap()
        now = self.clock()
        budget = len(ids) if self.last_round is None else \
            max(1, int(self.max_calls * min(30.0, now - self.last_round)))
        self.last_round = now
        out: dict[str, JobStatus] = {}
        # Jobs never asked go first; then the others in turns.
        fresh = [i for i in ids if i not in self.finished and i not in self.last]
        known = [i for i in ids if i not in self.finished and i in self.last]
        start = self.turn % len(known) if known else 0
        asked = (fresh + known[start:] + known[:start])[:budget]
        for external_id in asked:
            found = self._status(external_id)
            if found is None:
                self.last.pop(external_id, None)  # the DRM does not know it (any more)
            else:
                self.last[external_id] = found
        self.turn = start + max(0, len(asked) - len(fresh))
        for external_id in ids:
            if external_id in self.finished:
                out[external_id] = self.finished.pop(external_id)
                self.last.pop(external_id, None)
                self.own.discard(external_id)
            elif external_id in self.last:
                out[external_id] = self.last[external_id]
            elif external_id in self.own and external_id not in asked:
                # Ours and not asked yet (over the budget): wait(ANY) reports its end.
                out[external_id] = JobStatus("PENDING")
        return out

    def cancel(self, ids: Sequence[str]) -> None:
        s = self.session
        terminate = s.drmaa.JobControlAction.TERMINATE
        wanted = set(ids)
        if self.own and self.own <= wanted:
            # Every job of this session: one call.
            self._control(s.drmaa.Session.JOB_IDS_SESSION_ALL, terminate)
            wanted -= self.own
        for external_id in sorted(wanted):
            self._control(external_id, terminate)

    def job_failed_on(self, host: str, state: str) -> None:
        pass  # DRMAA names no hosts; the DRM itself takes failing hosts out of service

    # -- helpers

    def close(self) -> None:
        self.session.close()

    def _control(self, external_id: str, action) -> None:
        try:
            self.session.call("control", external_id, action)
        except self.session.drmaa.errors.InvalidJobException:
            pass  # ended meanwhile

    def _reap(self) -> None:
        """Every job of this session that finished since the last round, with its JobInfo."""
        s = self.session
        errors = s.drmaa.errors
        while self.own - set(self.finished):
            try:
                info = s.call("wait", s.drmaa.Session.JOB_IDS_SESSION_ANY, 0)
            except (errors.ExitTimeoutException, errors.InvalidJobException):
                return  # none finished now / none left in the session
            except errors.DrmaaException:
                raise
            except Exception as exc:  # noqa: BLE001 -- the binding's bare Exception
                # Grid Engine: "code 24: no usage information" for a job deleted while it was
                # queued; the job's id is lost with it. jobStatus then finds it gone.
                if str(exc).startswith("code 24"):
                    self.lost_aborted += 1
                    continue
                raise
            self.finished[str(info.jobId)] = status_from_info(info)

    def _status(self, external_id: str) -> JobStatus | None:
        s = self.session
        try:
            state = map_state(str(s.call("jobStatus", external_id)))
        except s.drmaa.errors.InvalidJobException:
            if external_id in self.own and self.lost_aborted:
                # Ours, not running, reaped without its id: deleted before it ran.
                self.lost_aborted -= 1
                self.own.discard(external_id)
                return JobStatus("CANCELLED", None, reason="deleted before it ran")
            return None  # the DRM forgot it: the exit file decides
        if state in ("COMPLETED", "FAILED"):
            if external_id in self.own:
                self._reap()  # its JobInfo is there now (reaped next round at the latest)
                return self.finished.get(external_id) or self.last.get(external_id)
            # Not ours (a dead run's job): DRMAA gives no JobInfo across sessions, so its
            # exit file decides (the shared layer reads it).
            return None
        return JobStatus(state, reason="held by the DRM (see qstat -j)" if state == "HELD" else "")
