"""Slurm as a cluster backend: resources to sbatch flags, `sbatch` (arrays by default),
one `sacct` per status round (or `squeue` when accounting is off), `scancel` in one call.
Layer 3. The shared machinery (job scripts, rounds, adopting) is in .cluster.
"""
from __future__ import annotations

import functools
import math
import os
import re
import shlex
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence

from fileflow.chunks import chunked
from fileflow.errors import FileflowError
from fileflow.executors.base import JobSpec
from fileflow.executors.cluster_backend import JobStatus, TransientError

__all__ = ["SlurmBackend", "sbatch_flags", "parse_sacct", "parse_squeue", "expand_array_ids"]

# Words in a failing Slurm command's message that mean "try again later".
_TRANSIENT = re.compile(r"timed out|unable to contact|temporarily|connection refused|"
                        r"zero bytes were transmitted|try again|communication|socket|"
                        r"slurm_persist_conn|connection reset|not responding|busy", re.I)
_ACCOUNTING_OFF = re.compile(r"accounting storage is disabled|slurmdbd|"
                             r"accounting_storage/none", re.I)
_ARRAY_IDS = re.compile(r"^(\d+)_\[([^\]]+)\]$")
# Slurm's non-final states that mean "not started yet" (the rest mean running).
CHUNK = 1000  # ids per scancel call (argument lists stay short)


def _number(value: object, what: str, rule: str) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise FileflowError(f"rule {rule}: resource {what} must be a number, got {value!r}") from None
    if number < 0:
        raise FileflowError(f"rule {rule}: resource {what} must not be negative, got {value!r}")
    return number


def sbatch_flags(rule: str, threads: int, resources: Mapping[str, object],
                 timeout: float = 0.0) -> tuple[str, ...]:
    """A job's resources as sbatch flags (see docs/cluster.md for the table); its timeout
    (seconds) is its --time when resources give no runtime."""
    flags = [f"--cpus-per-task={max(1, int(threads))}"]
    r = resources
    if r.get("mem_mb_per_cpu") not in (None, ""):
        flags.append(f"--mem-per-cpu={math.ceil(_number(r['mem_mb_per_cpu'], 'mem_mb_per_cpu', rule))}M")
    elif r.get("mem_mb") not in (None, ""):
        flags.append(f"--mem={math.ceil(_number(r['mem_mb'], 'mem_mb', rule))}M")
    if r.get("runtime") not in (None, ""):
        flags.append(f"--time={max(1, math.ceil(_number(r['runtime'], 'runtime', rule)))}")
    elif timeout > 0:
        flags.append(f"--time={max(1, math.ceil(timeout / 60))}")
    for key, flag in (("slurm_partition", "--partition"), ("slurm_account", "--account"),
                      ("nodes", "--nodes"), ("constraint", "--constraint"), ("gres", "--gres"),
                      ("qos", "--qos")):
        value = r.get(key)
        if value not in (None, ""):
            flags.append(f"{flag}={value}")
    gpu = r.get("gpu")
    if gpu not in (None, "", 0, False):
        flags.append(f"--gpus={int(_number(gpu, 'gpu', rule))}")
    extra = r.get("slurm_extra")
    if extra not in (None, ""):
        try:
            flags.extend(shlex.split(str(extra)))
        except ValueError as exc:
            raise FileflowError(f"rule {rule}: slurm_extra {extra!r}: {exc}") from None
    return tuple(flags)


def _exit_code(text: str) -> int | None:
    """Slurm's ExitCode 'code:signal' as one number (negative: the signal)."""
    code, _, sig = text.partition(":")
    try:
        code_n, sig_n = int(code), int(sig or 0)
    except ValueError:
        return None
    return -sig_n if sig_n and not code_n else code_n


@functools.lru_cache(maxsize=4096)  # a round's rows share few distinct seconds
def _when(text: str) -> float | None:
    try:
        return time.mktime(time.strptime(text, "%Y-%m-%dT%H:%M:%S"))
    except (ValueError, OverflowError):
        return None  # Unknown, None, empty


def _bytes(text: str) -> int:
    """MaxRSS or ReqMem such as 1234K, 12M, 1.5G (an older Slurm's ReqMem suffix n/c, per
    node or per CPU, is dropped)."""
    text = text.rstrip("nc")
    if not text:
        return -1
    scale = {"K": 1024, "M": 1024 ** 2, "G": 1024 ** 3, "T": 1024 ** 4}.get(text[-1].upper(), 1)
    try:
        return int(float(text.rstrip("KMGTkmgt")) * scale)
    except ValueError:
        return -1


def _seconds(text: str) -> float:
    """TotalCPU such as 00:00.004, 01:02:03, 1-02:03:04."""
    if not text:
        return -1.0
    days, _, rest = text.rpartition("-")
    try:
        parts = [float(p) for p in rest.split(":")]
        total = 0.0
        for p in parts:
            total = total * 60 + p
        return total + (int(days) * 86400 if days else 0)
    except ValueError:
        return -1.0


def _state(text: str) -> str:
    state = text.split(" ", 1)[0].rstrip("+")  # "CANCELLED by 0"
    return "RUNNING" if state in ("COMPLETING", "CONFIGURING", "STAGE_OUT", "SIGNALING") else state


def expand_array_ids(job_id: str) -> list[str]:
    """'57_[3-5,9%4]' (pending tasks, shown as one row) as ['57_3', '57_4', '57_5', '57_9']."""
    m = _ARRAY_IDS.match(job_id)
    if not m:
        return [job_id]
    out: list[str] = []
    for part in m.group(2).split("%")[0].split(","):
        first, _, last = part.partition("-")
        try:
            out.extend(f"{m.group(1)}_{i}" for i in range(int(first), int(last or first) + 1))
        except ValueError:
            pass
    return out


SACCT_FORMAT = "JobID,State,ExitCode,NodeList,Start,End,MaxRSS,TotalCPU,Reason,ReqMem"


def parse_sacct(text: str) -> dict[str, JobStatus]:
    """`sacct --parsable2 --noheader --format=SACCT_FORMAT`: the allocation rows give the
    state; the `.batch` step rows give MaxRSS."""
    found: dict[str, list[str]] = {}
    rss: dict[str, int] = {}
    for line in text.splitlines():
        f = line.split("|")
        if len(f) < 9:
            continue
        job_id, _, step = f[0].partition(".")
        if step:
            if step == "batch":
                rss[job_id] = _bytes(f[6])
            continue
        for one in expand_array_ids(job_id):
            found[one] = f
    out = {}
    for job_id, f in found.items():
        node = f[3] if f[3] not in ("None assigned", "") else ""
        state, code, peak = _state(f[1]), _exit_code(f[2]), rss.get(job_id, -1)
        # Without cgroups, Slurm's memory enforcement (OverMemoryKill) ends a job FAILED,
        # killed by signal 9, with no OUT_OF_MEMORY state: its peak beyond the request says it.
        if state == "FAILED" and code == -9 and len(f) > 9 and 0 < _bytes(f[9]) <= peak:
            state = "OUT_OF_MEMORY"
        out[job_id] = JobStatus(state, code, node, _when(f[4]), _when(f[5]), peak,
                                _seconds(f[7]), f[8])
    return out


SQUEUE_FORMAT = "%i|%T|%N|%S|%e|%r"


def parse_squeue(text: str) -> dict[str, JobStatus]:
    """`squeue -h -r -t all -o SQUEUE_FORMAT`: states without exit codes (the exit files
    give those)."""
    out = {}
    for line in text.splitlines():
        f = line.split("|")
        if len(f) < 6:
            continue
        status = JobStatus(_state(f[1]), None, f[2], _when(f[3]), _when(f[4]), reason=f[5])
        for one in expand_array_ids(f[0]):
            out[one] = status
    return out


class SlurmBackend:
    name = "slurm"
    # The id a job is known by: '57' for a job, '57_3' for an array task.
    job_id_shell = ('$(if [ -n "${SLURM_ARRAY_JOB_ID:-}" ]; then '
                    'echo "${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"; '
                    'else echo "$SLURM_JOB_ID"; fi)')
    array_index_shell = "$SLURM_ARRAY_TASK_ID"

    def __init__(self, *, workdir: str, accounting: bool | None = None,
                 run: Callable[..., subprocess.CompletedProcess] | None = None):
        self.workdir = os.path.abspath(workdir)
        self.accounting = accounting          # None: find out on the first round
        self._run = run or subprocess.run
        self.excluded: set[str] = set()
        self._max_array: int | None = None
        self.arrays: dict[str, int] = {}      # array job id -> its number of tasks
        self.calls: dict[str, int] = {}

    # ---------------------------------------------------------------- commands

    def _call(self, argv: list[str], what: str) -> subprocess.CompletedProcess:
        self.calls[argv[0]] = self.calls.get(argv[0], 0) + 1
        try:
            return self._run(argv, capture_output=True, text=True, timeout=120)
        except FileNotFoundError:
            raise FileflowError(f"--cluster slurm: '{argv[0]}' is not on PATH (is this a "
                                "Slurm login node?)") from None
        except subprocess.TimeoutExpired:
            raise TransientError(f"{what}: '{argv[0]}' did not answer within 120 s") from None

    @staticmethod
    def _said(done: subprocess.CompletedProcess) -> str:
        return " ".join((done.stderr or done.stdout or "").split())[:500] or f"exit status {done.returncode}"

    def max_array_size(self) -> int:
        """MaxArraySize from `scontrol show config` (tasks 0..MaxArraySize-1), read once."""
        if self._max_array is None:
            self._max_array = 1001  # Slurm's default
            try:
                done = self._call(["scontrol", "show", "config"], "reading the Slurm configuration")
            except TransientError:
                return self._max_array
            m = re.search(r"^MaxArraySize\s*=\s*(\d+)", done.stdout or "", re.M)
            if done.returncode == 0 and m:
                self._max_array = max(1, int(m.group(1)))
        return self._max_array

    def request(self, spec: JobSpec) -> tuple:
        # --default-resources and --set-resources are in the job's values already
        # (lang/overrides.py), as for local jobs.
        return sbatch_flags(spec.rule, int(_number(spec.threads, "threads", spec.rule)),
                            spec.resources, spec.timeout)

    def submit(self, scripts: Sequence[str], request: tuple, tag: str,
               array_script: str | None) -> list[str]:
        folder = os.path.dirname(scripts[0])
        argv = ["sbatch", "--parsable", f"--job-name={tag}", f"--chdir={self.workdir}",
                "--no-requeue", f"--output={os.path.join(folder, 'slurm-%j.out')}", *request]
        if self.excluded:
            argv.append(f"--exclude={','.join(sorted(self.excluded))}")
        if array_script is not None:
            argv += [f"--array=0-{len(scripts) - 1}", array_script]
        else:
            argv.append(scripts[0])
        done = self._call(argv, "sbatch")
        if done.returncode != 0:
            said = self._said(done)
            if _TRANSIENT.search(said):
                raise TransientError(f"sbatch: {said}")
            raise FileflowError(f"sbatch refused the job: {said}")
        job_id = (done.stdout or "").strip().split(";")[0].strip()
        if not job_id.isdigit():
            raise FileflowError(f"sbatch printed no job id: {self._said(done)}")
        if array_script is not None:
            self.arrays[job_id] = len(scripts)
            return [f"{job_id}_{i}" for i in range(len(scripts))]
        return [job_id]

    def poll(self, ids: Sequence[str], tags: Sequence[str]) -> Mapping[str, JobStatus]:
        """One sacct call for all these jobs (an array counts once: its tasks are asked for
        by the array's id); squeue, by the runs' job name, when Slurm keeps no accounting.
        (sacct --name is slower to see new jobs than sacct -j: seconds behind.)"""
        if self.accounting is not False:
            parents = list(dict.fromkeys(i.split("_", 1)[0] for i in ids))
            found: dict[str, JobStatus] = {}
            for chunk in chunked(parents, CHUNK):
                done = self._call(["sacct", "--parsable2", "--noheader",
                                   f"--jobs={','.join(chunk)}",
                                   f"--format={SACCT_FORMAT}"], "sacct")
                if done.returncode != 0:
                    break
                found.update(parse_sacct(done.stdout))
            else:
                self.accounting = True
                return found
            said = self._said(done)
            if self.accounting is None and _ACCOUNTING_OFF.search(said):
                self.accounting = False  # from now on: squeue and the exit files
            else:
                raise TransientError(f"sacct: {said}")
        done = self._call(["squeue", "--noheader", "--array", "--states=all",
                           f"--name={','.join(tags)}", f"--format={SQUEUE_FORMAT}"], "squeue")
        if done.returncode != 0:
            raise TransientError(f"squeue: {self._said(done)}")
        return parse_squeue(done.stdout)

    def active_ids(self, tags: Sequence[str]) -> list[str]:
        """Ids of the jobs with these names still pending or running (one squeue call)."""
        done = self._call(["squeue", "--noheader", "--array", f"--name={','.join(tags)}",
                           "--format=%i"], "squeue")
        if done.returncode != 0:
            raise TransientError(f"squeue: {self._said(done)}")
        return [one for line in done.stdout.split() for one in expand_array_ids(line)]

    def cancel(self, ids: Sequence[str]) -> None:
        ids = self._whole_arrays(ids)
        for chunk in chunked(ids, CHUNK):
            done = self._call(["scancel", *chunk], "scancel")
            # scancel also complains about jobs that ended meanwhile: only retry real trouble.
            if done.returncode != 0 and _TRANSIENT.search(self._said(done)):
                raise TransientError(f"scancel: {self._said(done)}")

    def _whole_arrays(self, ids: Sequence[str]) -> list[str]:
        """An array all of whose tasks are to go is named once ('57', not 57_0 ... 57_9999)."""
        tasks: dict[str, int] = {}
        for job_id in ids:
            parent, sep, _ = job_id.partition("_")
            if sep:
                tasks[parent] = tasks.get(parent, 0) + 1
        whole = {p for p, n in tasks.items() if self.arrays.get(p) == n}
        return [*whole, *(i for i in ids if i.partition("_")[0] not in whole)]

    def job_failed_on(self, host: str, state: str) -> None:
        if state == "NODE_FAIL" and host:
            self.excluded.add(host)
