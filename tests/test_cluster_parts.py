"""The pieces of the cluster executors that need no cluster: resources to sbatch flags,
reading sacct and squeue output, profiles, and the shared ClusterExecutor driven by a backend
that runs the job scripts as local processes (so scripts, exit files, arrays, rounds and
adoption are exercised for real)."""
from __future__ import annotations

import argparse
import os
import subprocess
from dataclasses import replace

import pytest

from fileflow.errors import FileflowError
from fileflow.executors.base import JobSpec
from fileflow.executors.cluster import ClusterExecutor, retry_transient
from fileflow.executors.cluster_backend import JobStatus, TransientError
from fileflow.executors.local import LocalExecutor
from fileflow.executors.slurm import expand_array_ids, parse_sacct, parse_squeue, sbatch_flags


def test_resources_become_sbatch_flags():
    flags = sbatch_flags("align", 4, {
        "mem_mb": 2000.5, "runtime": 90, "slurm_partition": "short", "slurm_account": "lab",
        "nodes": 1, "constraint": "avx2", "gres": "tmp:10G", "gpu": 2, "qos": "high",
        "slurm_extra": "--exclusive --hint='nomultithread'"})
    assert flags == ("--cpus-per-task=4", "--mem=2001M", "--time=90", "--partition=short",
                     "--account=lab", "--nodes=1", "--constraint=avx2", "--gres=tmp:10G",
                     "--qos=high", "--gpus=2", "--exclusive", "--hint=nomultithread")
    assert sbatch_flags("r", 2, {"mem_mb": 100, "mem_mb_per_cpu": 50}) == (
        "--cpus-per-task=2", "--mem-per-cpu=50M")
    assert sbatch_flags("r", 1, {"runtime": 0.2}) == ("--cpus-per-task=1", "--time=1")
    with pytest.raises(FileflowError, match="rule r: resource mem_mb must be a number"):
        sbatch_flags("r", 1, {"mem_mb": "lots"})


def test_sizes_and_times_with_units_become_sbatch_flags():
    from fileflow.cli.profiles import cluster_options
    from fileflow.lang.units import given_resources

    resources = given_resources({"mem": "8G", "runtime": "2h30m"}, "--default-resources")
    assert sbatch_flags("r", 1, resources) == ("--cpus-per-task=1", "--mem=8000M", "--time=150")
    options = cluster_options(argparse.Namespace(set_resources=["r:mem=1GiB", "r:runtime=1d"]))
    assert sbatch_flags("r", 1, options["set_resources"]["r"]) == (
        "--cpus-per-task=1", "--mem=1074M", "--time=1440")


def test_sacct_rows_become_statuses():
    text = "\n".join([
        "7|FAILED|3:0|vm|2026-01-02T03:04:05|2026-01-02T03:04:09||00:01.500|NonZeroExitCode",
        "7.batch|FAILED|3:0|vm|2026-01-02T03:04:05|2026-01-02T03:04:09|2048K|00:01.500|",
        "8_0|CANCELLED by 0|0:15|vm|2026-01-02T03:04:05|2026-01-02T03:04:06||00:00:00|None",
        "8_[1-3,5%2]|PENDING|0:0|None assigned|Unknown|Unknown||00:00:00|Priority",
        "9|OUT_OF_MEMORY|0:125|vm|2026-01-02T03:04:05|2026-01-02T03:04:06||1-00:00:01|None",
        # Killed by Slurm's memory enforcement without cgroups: FAILED, signal 9, peak > request.
        "10|FAILED|0:9|vm|2026-01-02T03:04:05|2026-01-02T03:04:06||00:00:01|None|50M",
        "10.batch|CANCELLED by 0|0:9|vm|2026-01-02T03:04:05|2026-01-02T03:04:06|322272K|00:00:01||",
        "11|FAILED|0:9|vm|2026-01-02T03:04:05|2026-01-02T03:04:06||00:00:01|None|500M",
        "11.batch|CANCELLED by 0|0:9|vm|2026-01-02T03:04:05|2026-01-02T03:04:06|322272K|00:00:01||",
    ])
    got = parse_sacct(text)
    assert set(got) == {"7", "8_0", "8_1", "8_2", "8_3", "8_5", "9", "10", "11"}
    assert got["10"].state == "OUT_OF_MEMORY" and got["11"].state == "FAILED"
    assert got["7"].state == "FAILED" and got["7"].exit_code == 3 and got["7"].host == "vm"
    assert got["7"].peak_rss_bytes == 2048 * 1024 and got["7"].cpu_seconds == 1.5
    assert got["7"].ended_at - got["7"].started_at == 4
    assert got["8_0"].state == "CANCELLED" and got["8_0"].exit_code == -15
    assert got["8_3"].state == "PENDING" and not got["8_3"].final and got["8_3"].host == ""
    assert got["9"].final and got["9"].cpu_seconds == 86401


def test_squeue_rows_become_statuses():
    got = parse_squeue("12_[4-5]|PENDING|||N/A|Priority\n13|COMPLETING|vm|2026-01-02T03:04:05|N/A|None\n")
    assert set(got) == {"12_4", "12_5", "13"}
    assert got["13"].state == "RUNNING"  # still cleaning up: not final
    assert expand_array_ids("5") == ["5"] and expand_array_ids("5_[0-2]") == ["5_0", "5_1", "5_2"]


def test_transient_failures_are_retried_then_reported():
    tries = []

    def flaky():
        tries.append(1)
        if len(tries) < 3:
            raise TransientError("Socket timed out")
        return "ok"

    assert retry_transient(flaky, "x", sleep=lambda s: None) == "ok" and len(tries) == 3

    def broken():
        raise TransientError("Unable to contact slurm controller")

    with pytest.raises(FileflowError, match="sacct kept failing for 0 s: Unable to contact"):
        retry_transient(broken, "sacct", give_up=0, sleep=lambda s: None)


class ProcessBackend:
    """Runs each job script as a local process: enough to test the shared machinery."""
    name = "proc"
    job_id_shell = "$FF_TEST_ID"
    array_index_shell = "$FF_TEST_INDEX"

    def __init__(self):
        self.procs: dict[str, subprocess.Popen] = {}
        self.submits = 0
        self.polls_failing = 0

    def max_array_size(self):
        return 3

    def request(self, spec):
        return (spec.threads,)

    def submit(self, scripts, request, tag, array_script):
        self.submits += 1
        ids = []
        for i, script in enumerate(scripts):
            job_id = f"{self.submits}_{i}"
            env = dict(os.environ, FF_TEST_ID=job_id, FF_TEST_INDEX=str(i))
            self.procs[job_id] = subprocess.Popen(["bash", array_script or script], env=env)
            ids.append(job_id)
        return ids

    def poll(self, ids, tags):
        if self.polls_failing:
            self.polls_failing -= 1
            raise TransientError("controller restarting")
        out = {}
        for job_id in ids:
            code = self.procs[job_id].poll() if job_id in self.procs else None
            if job_id in self.procs:
                out[job_id] = (JobStatus("RUNNING") if code is None else
                               JobStatus("COMPLETED" if code == 0 else "FAILED", code))
        return out

    def cancel(self, ids):
        for job_id in ids:
            if job_id in self.procs:
                self.procs[job_id].kill()
                self.procs[job_id].wait()

    def job_failed_on(self, host, state):
        pass


def _drain(executor):
    out = []
    while executor.active():
        out += executor.wait(0.5)
    return {o.job_id: o for o in out}


def test_cluster_executor_scripts_arrays_exit_files_and_local_rules(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    backend = ProcessBackend()
    backend.polls_failing = 2  # the first rounds fail: retried, not fatal
    ex = ClusterExecutor(backend, LocalExecutor(), workdir=".", tag="t", local_rules={"here"})
    specs = [JobSpec(i, f"r[i={i}]", "r", f"echo 'out {i}' > 'o {i}.txt'; exit {i % 2 * 3}",
                     f".fileflow/proc/r/i={i}/%j.log") for i in range(5)]
    specs.append(JobSpec(9, "here", "here", "echo $$ > here.txt", ".fileflow/logs/here.log"))
    ids = ex.submit(specs)
    assert ids[:5] == ["1_0", "1_1", "1_2", "2_0", "2_1"]  # arrays of at most 3
    assert ids[5].isdigit()                                # the local job's pid
    got = _drain(ex)
    assert {i: got[i].exit_code for i in range(5)} == {0: 0, 1: 3, 2: 0, 3: 3, 4: 0}
    assert "proc job 1_1 ended FAILED: exit code 3" in got[1].message
    assert got[1].log_path == ".fileflow/proc/r/i=1/1_1.log" and os.path.exists(got[1].log_path)
    assert got[9].exit_code == 0 and os.path.exists("here.txt")
    assert open("o 4.txt").read() == "out 4\n"
    assert not os.listdir(".fileflow/proc/exit")  # read and removed


def test_cluster_executor_adopts_a_job_instead_of_submitting_it(tmp_path, monkeypatch):
    from fileflow.executors.cluster_adopting import Adoptable

    monkeypatch.chdir(tmp_path)
    backend = ProcessBackend()
    first = ClusterExecutor(backend, LocalExecutor(), workdir=".", tag="t1")
    spec = JobSpec(0, "job", "r", "sleep 0.5; echo made > made.txt", ".fileflow/proc/r/%j.log")
    (old_id,) = first.submit([spec])
    # A new executor (the next build) takes the job over by its recorded id.
    second = ClusterExecutor(backend, LocalExecutor(), workdir=".", tag="t2")
    second.adopt([Adoptable("job", spec.command, old_id)], ["t1"])
    assert second.adopts("job")
    assert second.submit([spec]) == [old_id] and backend.submits == 1
    got = _drain(second)
    assert got[0].exit_code == 0 and open("made.txt").read() == "made\n"
    # A changed command is not adopted: the old job is cancelled, a new one submitted.
    (old_id,) = first.submit([spec])
    third = ClusterExecutor(backend, LocalExecutor(), workdir=".", tag="t3")
    third.adopt([Adoptable("job", "something else", old_id)])
    (new_id,) = third.submit([spec])
    assert new_id != old_id and backend.procs[old_id].returncode is not None
    assert _drain(third)[0].exit_code == 0


def test_cancel_stops_every_job_in_one_call(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    backend = ProcessBackend()
    calls = []
    real_cancel = backend.cancel
    backend.cancel = lambda ids: (calls.append(list(ids)), real_cancel(ids))
    ex = ClusterExecutor(backend, LocalExecutor(), workdir=".", tag="t")
    ids = ex.submit([JobSpec(i, f"j{i}", "r", "sleep 60", ".fileflow/proc/%j.log") for i in range(4)])
    outcomes = ex.cancel()
    assert calls == [ids] and ex.active() == 0
    assert sorted(o.job_id for o in outcomes) == [0, 1, 2, 3]
    assert all(not o.ok and "cancelled" in o.message for o in outcomes)


def test_profiles_fill_in_options_the_command_line_does_not_give(tmp_path, monkeypatch):
    import argparse

    from fileflow.cli.main import build_command_parser
    from fileflow.cli.profiles import apply_profile, cluster_options

    monkeypatch.chdir(tmp_path)
    os.makedirs("profiles/hpc")
    with open("profiles/hpc/config.yaml", "w") as fh:
        fh.write("cluster: slurm\njobs: 200\nkeep-going: true\n"
                 "default-resources: {slurm_partition: short, mem_mb: 2000}\n"
                 "set-resources: {align: {mem_mb: 8000, runtime: 60}}\n")
    argv = ["build", "-j", "5", "--profile", "hpc"]
    args = build_command_parser().parse_args(argv[1:], namespace=argparse.Namespace(argv=argv))
    apply_profile(args, build_command_parser)
    assert args.jobs == 5 and args.cluster == "slurm" and args.keep_going
    opts = cluster_options(args)
    assert opts["default_resources"] == {"slurm_partition": "short", "mem_mb": 2000}
    assert opts["set_resources"] == {"align": {"mem_mb": 8000, "runtime": 60}}
    with open("profiles/hpc/config.yaml", "w") as fh:
        fh.write("jobz: 3\n")
    with pytest.raises(FileflowError, match="unknown option 'jobz'"):
        apply_profile(args, build_command_parser)


def test_local_rules_run_on_this_machine_within_local_cores(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    backend = ProcessBackend()
    ex = ClusterExecutor(backend, LocalExecutor(), workdir=".", tag="t", local_rules={"here"},
                         local_cores=1)
    # Each job fails if another one holds 'busy': with one local core they never overlap.
    command = "[ ! -e busy ]; touch busy; sleep 0.2; rm busy"
    specs = [JobSpec(i, f"here[i={i}]", "here", command, f".fileflow/logs/{i}.log")
             for i in range(3)]
    ids = ex.submit(specs)
    assert ids[0].isdigit() and ids[1:] == ["", ""]  # the others wait for the core
    got = _drain(ex)
    assert {i: got[i].exit_code for i in range(3)} == {0: 0, 1: 0, 2: 0}
    assert backend.submits == 0  # nothing went to the cluster


def test_a_timeout_is_slurms_time_unless_runtime_is_given():
    assert sbatch_flags("r", 1, {}, timeout=7200) == ("--cpus-per-task=1", "--time=120")
    assert sbatch_flags("r", 1, {}, timeout=1) == ("--cpus-per-task=1", "--time=1")
    assert sbatch_flags("r", 1, {"runtime": 30}, timeout=7200) == (
        "--cpus-per-task=1", "--time=30")


class TimeoutBackend(ProcessBackend):
    """Every job that ends is reported as Slurm reports one past its time limit."""

    def poll(self, ids, tags):
        return {i: (JobStatus("TIMEOUT", -15) if s.state != "RUNNING" else s)
                for i, s in super().poll(ids, tags).items()}


def test_the_timeout_state_says_timed_out_after_the_jobs_limit(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ex = ClusterExecutor(TimeoutBackend(), LocalExecutor(), workdir=".", tag="t")
    ex.submit([JobSpec(1, "a", "a", "true", ".fileflow/proc/a/%j.log", timeout=7200),
               JobSpec(2, "b", "b", "true", ".fileflow/proc/b/%j.log", timeout=7200,
                       resources={"runtime": 90}),
               JobSpec(3, "c", "c", "true", ".fileflow/proc/c/%j.log")])
    got = _drain(ex)
    assert got[1].message.startswith("timed out after 2h (proc job 1_0 ended TIMEOUT: it ran "
                                     "out of the time limit its timeout gave it (raise timeout:)")
    assert got[2].message.startswith("timed out after 1h30m (proc job ")
    assert got[3].message.startswith("proc job ") and "ended TIMEOUT" in got[3].message
    assert not any(o.ok for o in got.values())


def test_a_group_waits_for_all_its_members_then_runs_as_one_job(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    backend = ProcessBackend()
    ex = ClusterExecutor(backend, LocalExecutor(), workdir=".", tag="t")

    def member(i, command, after=(), resources=None, group="g.1", size=3):
        return JobSpec(i, f"m{i}", "m", command, f".fileflow/proc/m/{i}/%j.log",
                       resources=resources or {}, group=group, group_size=size, after=after)

    # A member handed over later (its inputs were being hashed) completes the group.
    first = ex.submit([member(1, "echo one > one.txt"), member(2, "cat one.txt > two.txt", (1,))])
    assert first == ["", ""] and backend.submits == 0 and ex.active() == 2
    ids = ex.submit([member(3, "exit 4", (1,)),
                     # two members that cannot share one request: refused, not submitted
                     member(7, "true", resources={"slurm_partition": "a"}, group="h.2", size=2),
                     member(8, "true", resources={"slurm_partition": "b"}, group="h.2", size=2)])
    assert ids[0] == "1_0" and backend.submits == 1
    assert ex.started() == [(1, "1_0"), (2, "1_0")] and ex.started() == []  # theirs too
    got = _drain(ex)
    assert (got[1].exit_code, got[2].exit_code, got[3].exit_code) == (0, 0, 4)
    assert open("two.txt").read() == "one\n"
    assert {got[i].external_id for i in (1, 2, 3)} == {"1_0"}
    assert got[2].started_at >= got[1].ended_at and "(group g.1)" in got[3].message
    assert got[1].log_path == ".fileflow/proc/m/1/1_0.log"
    assert got[7].exit_code == 1 and "different values of resource 'slurm_partition'" in got[8].message
    assert not os.listdir(".fileflow/proc/exit")


def test_a_group_job_a_dead_fileflow_left_is_taken_over_for_the_members_still_needed(
        tmp_path, monkeypatch):
    from fileflow.executors.cluster_adopting import Adoptable
    from fileflow.executors.cluster_groups import member_note, read_member_note

    monkeypatch.chdir(tmp_path)
    backend = ProcessBackend()
    first = ClusterExecutor(backend, LocalExecutor(), workdir=".", tag="t1")

    def member(i, command):
        return JobSpec(i, f"m{i}", "m", command, f".fileflow/proc/m/{i}/%j.log",
                       (["one.txt", "two.txt"][i - 1],), group="g.1", group_size=2)

    specs = [member(1, "sleep 0.5; echo one > one.txt"), member(2, "echo two >> two.txt; exit 3")]
    notes = [read_member_note(member_note("g.1", i, 2, "proc")) for i in range(2)]

    def left_by(old_id, commands=("", "")):
        return [Adoptable(s.name, c or s.command, old_id, n)
                for s, c, n in zip(specs, commands, notes)]

    # The next build needs m2 only (the targets changed), as a job of its own and with
    # another job id: it waits for the group job and takes m2's result from it.
    (old_id,) = set(first.submit(specs))
    second = ClusterExecutor(backend, LocalExecutor(), workdir=".", tag="t2")
    second.adopt(left_by(old_id), ["t1"])
    alone = JobSpec(5, "m2", "m", specs[1].command, ".fileflow/proc/m/2/%j.log")
    assert second.submit([alone]) == [old_id] and backend.submits == 1
    got = _drain(second)
    assert got[5].exit_code == 3 and f"proc job {old_id} (group g.1): exit code 3" in got[5].message
    assert got[5].log_path == f".fileflow/proc/m/2/{old_id}.log"
    assert second.release_unclaimed() == []  # taken over: not cancelled for m1's sake
    assert open("one.txt").read() == "one\n"
    # A build that needs none of its members cancels it at its end, as any left-over job.
    (old_id,) = set(first.submit(specs))
    third = ClusterExecutor(backend, LocalExecutor(), workdir=".", tag="t3")
    third.adopt(left_by(old_id), ["t1"])
    assert third.release_unclaimed() == [old_id] and backend.procs[old_id].returncode is not None
    # A member whose command changed: the old group job is cancelled, a new one submitted.
    (old_id,) = set(first.submit(specs))
    fourth = ClusterExecutor(backend, LocalExecutor(), workdir=".", tag="t4")
    fourth.adopt(left_by(old_id, ("echo changed > one.txt", "")), ["t1"])
    (new_id,) = set(fourth.submit(specs))
    assert new_id != old_id and backend.procs[old_id].returncode is not None
    got = _drain(fourth)
    assert (got[1].exit_code, got[2].exit_code) == (0, 3) and got[1].external_id == new_id
    # Two groups of this build from one old group job, the first not taken over (a command
    # changed): the old job is cancelled, and the member of the second, prepared to be
    # taken over with its old output kept, loses that output before it runs anew.
    with open("two.txt", "w") as fh:
        fh.write("partial\n")
    fifth = ClusterExecutor(backend, LocalExecutor(), workdir=".", tag="t5")
    fifth.adopt(left_by("9_9", ("echo changed > one.txt", "")), ["t1"])
    apart = [replace(s, group=f"n.{i}", group_size=1) for i, s in enumerate(specs)]
    assert "9_9" not in fifth.submit(apart) and backend.submits == 5
    got = _drain(fifth)
    assert open("two.txt").read() == "two\n"
