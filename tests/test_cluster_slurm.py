"""`fileflow build --cluster slurm` against a real Slurm (slurmctld, slurmd, slurmdbd on this
machine: .ci/slurm-up.sh). Skipped on a machine without it, a failure in CI.

The sbatch, sacct and squeue that fileflow runs are small wrappers on PATH that log each call
and then run the real command, so the tests can count submissions. The TIMEOUT test needs
Slurm's one-minute minimum time limit to pass, so its build starts when the module starts
and runs while the other tests do; the module's last test checks it.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess

import pytest
from buildkit import (
    GROUP_LEFT_RUNNING,
    LATE_MEMBER_GROUPED,
    LATE_MEMBER_INPUT_BYTES,
    SPLIT,
    Project,
    group_results,
    kill_head_mid_group,
    kill_head_once_its_members_run,
    kill_tree,
    wait_for,
    write_group_with_a_late_member,
)
from conftest import slurm_up

WRAPPED = ("sbatch", "sacct", "squeue", "scancel")


def _wrappers(folder, fake_sacct_off: bool = False) -> str:
    """A PATH folder whose Slurm commands log their calls to calls.log, then run the real ones."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in WRAPPED:
        real = shutil.which(name)
        body = f'echo "{name} $*" >> {folder}/calls.log\n'
        if name == "sacct" and fake_sacct_off:
            # What sacct says on a cluster without slurmdbd.
            body += 'echo "sacct: error: Slurm accounting storage is disabled" >&2\nexit 1\n'
        else:
            body += f'exec {real} "$@"\n'
        (folder / name).write_text("#!/bin/bash\n" + body)
        (folder / name).chmod(0o755)
    return str(folder)


def _calls(folder, name: str) -> list[str]:
    log = folder / "calls.log"
    if not log.exists():
        return []
    return [line for line in log.read_text().splitlines() if line.split(" ", 1)[0] == name]


def _env(p: Project, folder) -> dict[str, str]:
    return p.env(PATH=f"{folder}{os.pathsep}{os.environ['PATH']}")


def _scontrol(job_id: str) -> str:
    return subprocess.run(["scontrol", "show", "job", job_id], capture_output=True, text=True).stdout


def _sacct(job_id: str, fields: str) -> list[str]:
    out = subprocess.run(["sacct", "-n", "-P", "-X", "-j", job_id, f"--format={fields}"],
                         capture_output=True, text=True).stdout
    return out.splitlines()


def _active(ids) -> set[str]:
    out = subprocess.run(["squeue", "-h", "-r", "-o", "%i"], capture_output=True, text=True).stdout
    return set(out.split()) & set(ids)


TIMEOUT_FLOW = """
rule slow:
    output: "slow.txt"
    retries: 1
    resources: runtime = attempt
    shell: "echo attempt {attempt}; if [ {attempt} = 1 ]; then sleep 600; fi; echo ok > {output}"
"""


@pytest.fixture(scope="module")
def timeout_build(tmp_path_factory):
    """A build whose first attempt runs out of its 1-minute limit and whose retry (2
    minutes) succeeds: started at once, checked by the last test."""
    if not slurm_up():
        yield None
        return
    p = Project(tmp_path_factory.mktemp("timeout"))
    p.flowfile(TIMEOUT_FLOW)
    proc = p.popen("build", "--cluster", "slurm", "-j", "1")
    yield p, proc
    if proc.poll() is None:  # its test did not run: Ctrl-C, so its Slurm job goes too
        proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            pass
    kill_tree(proc)


@pytest.fixture(autouse=True)
def _start_timeout_build(timeout_build):
    """Every test of the module asks for it, so it starts before the first one."""


# ---------------------------------------------------------------- end to end

THREE_RULES = """
localrules: all, report

rule all:
    input: "report/all words.txt"

rule split:
    input: "in/{name}.txt"
    output: "parts/{name} part.txt"
    threads: 2
    shell: "tr ' ' '\\n' < {input} > {output}; echo split {wildcards.name} on $(hostname)"

rule count:
    input: "parts/{name} part.txt"
    output: "counts/{name} count.txt"
    resources: mem_mb = 100
    shell: "wc -l < {input} > {output}"

rule report:
    input: expand("counts/{name} count.txt", name=["a b", "c"])
    output: "report/all words.txt"
    shell: "cat {input} > {output}; echo run tag $FILEFLOW_RUN"
"""


def test_three_rule_workflow_runs_on_slurm_with_spaces_in_names(slurm, tmp_path):
    p = Project(tmp_path / "p")
    p.flowfile(THREE_RULES)
    p.write("in/a b.txt", "one two three\n")
    p.write("in/c.txt", "four five\n")
    calls = tmp_path / "bin"
    r = p.run("build", "--cluster", "slurm", "-j", "4", env=_env(p, _wrappers(calls)))
    assert r.code == 0, r
    assert p.read("report/all words.txt").split() == ["3", "2"]
    jobs = {j["name"]: j for j in r.jobs}
    assert set(jobs) == {"split[name=a b]", "split[name=c]", "count[name=a b]", "count[name=c]",
                         "report"}
    for name, job in jobs.items():
        assert job["state"] == "done", job
        if name == "report":  # a localrule: a process on this machine, tagged as the run's
            assert job["executor"] == "local"
            assert f"run tag {job['run_id']}@{p.root}\n" in p.read(job["log_path"]), job
            continue
        assert job["executor"] == "slurm"
        assert job["external_id"] and job["host"], job
        assert job["message"].startswith(f"slurm job {job['external_id']} COMPLETED on "), job
        assert "submitted " in job["message"] and "ended " in job["message"], job
        # The log is named by the Slurm job id; the job's stdout is in it.
        log = job["log_path"].replace("%j", job["external_id"])
        assert log.startswith(".fileflow/slurm/"), log
        assert p.exists(log), log
    split_log = jobs["split[name=a b]"]["log_path"].replace("%j", jobs["split[name=a b]"]["external_id"])
    assert "split a b on" in p.read(split_log)
    # Both split jobs (one rule, equal resources) went as one array; the count jobs went
    # together or one by one, as they became ready in the same status round or not.
    sbatch = _calls(calls, "sbatch")
    assert len(sbatch) in (2, 3) and "--array=0-1" in sbatch[0], sbatch
    assert not p.exists(".fileflow/slurm/jobs") or not os.listdir(p.path(".fileflow/slurm/jobs"))
    again = p.run("build", "--cluster", "slurm", "-j", "4", env=_env(p, calls))
    assert again.code == 0 and "nothing to do" in again.out, again


def test_a_200_job_fan_out_goes_in_at_most_3_sbatch_calls(slurm, tmp_path):
    p = Project(tmp_path / "p")
    p.flowfile("""
        rule all:
            input: expand("o/{i}.txt", i=range(200))
        rule mk:
            output: "o/{i}.txt"
            shell: "echo {wildcards.i} > {output}"
        """)
    calls = tmp_path / "bin"
    r = p.run("build", "--cluster", "slurm", "-j", "200", "-q", env=_env(p, _wrappers(calls)),
              timeout=300)
    assert r.code == 0, r
    assert sorted(int(p.read(f"o/{i}.txt")) for i in range(200)) == list(range(200))
    sbatch = _calls(calls, "sbatch")
    assert 1 <= len(sbatch) <= 3 and any("--array=0-199" in c for c in sbatch), sbatch
    ids = {j["external_id"] for j in r.jobs}
    assert len(ids) == 200 and all("_" in i for i in ids)
    # Status queries are per round, not per job: each sacct asks for the whole array by its
    # id (never task by task), and there are fewer calls than jobs.
    sacct = _calls(calls, "sacct")
    array_id = next(iter(ids)).split("_")[0]
    assert sacct and all(f"--jobs={array_id} " in c for c in sacct), sacct[:3]
    assert len(sacct) + len(_calls(calls, "squeue")) < 200


def test_resources_reach_sbatch(slurm, tmp_path):
    p = Project(tmp_path / "p")
    p.flowfile("""
        rule all:
            input: "big.txt", "small.txt"
        rule big:
            output: "big.txt"
            threads: 2
            resources: mem_mb = 300, runtime = 3, slurm_extra = "--comment=fileflow-test"
            shell: "echo $SLURM_CPUS_PER_TASK > {output}"
        rule small:
            output: "small.txt"
            shell: "echo $SLURM_MEM_PER_NODE > {output}"
        """)
    # A profile gives the defaults; the command line overrides one rule's runtime.
    p.write("profiles/test/config.yaml",
            "cluster: slurm\njobs: 2\n"
            "default-resources: {mem_mb: 200, slurm_partition: debug}\n")
    r = p.run("build", "--profile", "test", "--set-resources", "small:runtime=5")
    assert r.code == 0, r
    jobs = {j["name"]: j for j in r.jobs}
    assert {j["executor"] for j in jobs.values()} == {"slurm"}
    big, small = _scontrol(jobs["big"]["external_id"]), _scontrol(jobs["small"]["external_id"])
    assert "MinCPUsNode=2" in big or "CPUs/Task=2" in big, big
    assert "mem=300M" in big and "TimeLimit=00:03:00" in big and "Comment=fileflow-test" in big, big
    assert "Partition=debug" in big, big
    assert "mem=200M" in small and "TimeLimit=00:05:00" in small, small
    assert p.read("big.txt").strip() == "2"
    assert p.read("small.txt").strip() == "200"


def test_a_failing_job_reports_its_exit_code_and_log(slurm, tmp_path):
    p = Project(tmp_path / "p")
    p.flowfile("""
        rule all:
            input: "bad.txt", "good.txt"
        rule bad:
            output: "bad.txt"
            shell: "echo partial > {output}; echo 'something broke' >&2; exit 3"
        rule good:
            output: "good.txt"
            shell: "echo fine > {output}"
        """)
    r = p.run("build", "--cluster", "slurm", "-j", "2", "-k")
    assert r.code == 1, r
    jobs = {j["name"]: j for j in r.jobs}
    bad = jobs["bad"]
    assert bad["state"] == "failed" and bad["exit_code"] == 3, bad
    assert f"slurm job {bad['external_id']} ended FAILED: exit code 3" in r.err, r
    assert "something broke" in r.err, r  # the log's last lines
    assert not p.exists("bad.txt")       # no partial output is kept
    assert os.listdir(p.path(".fileflow/slurm/jobs"))  # the scripts stay after a failure
    assert jobs["good"]["state"] == "done" and p.exists("good.txt")


def test_without_accounting_squeue_and_exit_files_still_judge_jobs(slurm, tmp_path):
    p = Project(tmp_path / "p")
    p.flowfile("""
        rule all:
            input: "ok.txt", "no.txt"
        rule ok:
            output: "ok.txt"
            shell: "echo yes > {output}"
        rule no:
            output: "no.txt"
            shell: "exit 4"
        """)
    calls = tmp_path / "bin"
    r = p.run("build", "--cluster", "slurm", "-j", "2", "-k",
              env=_env(p, _wrappers(calls, fake_sacct_off=True)))
    assert r.code == 1, r
    jobs = {j["name"]: j for j in r.jobs}
    assert jobs["ok"]["state"] == "done" and p.read("ok.txt") == "yes\n"
    assert jobs["no"]["state"] == "failed" and jobs["no"]["exit_code"] == 4, jobs["no"]
    assert len(_calls(calls, "sacct")) == 1, "sacct is asked once, then squeue"
    assert _calls(calls, "squeue")


# ---------------------------------------------------------------- interruption and restart

QUEUED = """
rule all:
    input: expand("w/{i}.txt", i=range(4))
rule wait:
    output: "w/{i}.txt"
    threads: 8
    shell: "sleep 600; touch {output}"
"""


def test_ctrl_c_cancels_queued_and_running_jobs(slurm, tmp_path):
    p = Project(tmp_path / "p")
    p.flowfile(QUEUED)  # 8 threads each on an 8-CPU node: at most one runs, the rest queue
    proc = p.popen("build", "--cluster", "slurm", "-j", "4")
    try:
        wait_for(lambda: sum(bool(j["external_id"]) for j in p.jobs_since(0)) == 4,
                 timeout=60, what="the 4 jobs to be submitted")
        ids = [j["external_id"] for j in p.jobs_since(0)]
        assert _active(ids) == set(ids)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        kill_tree(proc)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    wait_for(lambda: not _active(ids), timeout=30, what="the Slurm jobs to be cancelled")
    jobs = p.jobs_since(0)
    assert {j["state"] for j in jobs} == {"cancelled"}, jobs
    assert p.runs()[-1]["status"] == "interrupted"
    # Accounting may lag a moment behind the controller.
    # (Tasks cancelled while pending show as one row for the array: ask by the array's id.)
    arrays = sorted({i.split("_")[0] for i in ids})
    wait_for(lambda: {line for a in arrays for line in _sacct(a, "State")} == {"CANCELLED by 0"},
             timeout=30, what="sacct to show the jobs cancelled")


def test_head_killed_then_next_build_adopts_its_jobs_without_resubmitting(slurm, tmp_path):
    p = Project(tmp_path / "p")
    p.flowfile("""
        rule all:
            input: expand("r/{i}.txt", i=range(3))
        rule work:
            output: "r/{i}.txt"
            shell: ("echo {wildcards.i} >> ran.log; sleep $(( {wildcards.i} == 0 ? 1 : 8 )); "
                    "echo done > {output}")
        """)
    calls = tmp_path / "bin"
    env = _env(p, _wrappers(calls))
    proc = p.popen("build", "--cluster", "slurm", "-j", "3", env=env)
    try:
        wait_for(lambda: sum(bool(j["external_id"]) for j in p.jobs_since(0)) == 3,
                 timeout=60, what="the 3 jobs to be submitted")
        first = {j["name"]: j["external_id"] for j in p.jobs_since(0)}
        proc.kill()  # kill -9: no cleanup at all
        proc.wait(timeout=30)
    finally:
        kill_tree(proc)
    assert _active(first.values()), "the jobs outlive their fileflow"
    # Job 0 finishes while no fileflow watches; 1 and 2 are still running at the restart.
    wait_for(lambda: p.exists("r/0.txt") and first["work[i=0]"] not in _active(first.values()),
             timeout=60, what="job 0 to finish unwatched")
    # A job the dead build submitted but had no time to record (killed between sbatch and
    # the run log): found by the run's job name and cancelled, so nothing races.
    from fileflow.cli.cluster_setup import cluster_job_name
    job_name = cluster_job_name(p.runs()[0]["id"], str(p.root))
    stray = subprocess.run(["sbatch", "--parsable", f"--job-name={job_name}",
                            "--output=/dev/null", "--wrap", "sleep 600"],
                           capture_output=True, text=True, check=True).stdout.strip()
    submitted = len(_calls(calls, "sbatch"))
    r = p.run("build", "--cluster", "slurm", "-j", "3", env=env)
    assert r.code == 0, r
    assert "left by a fileflow that is gone" in r.err, r
    assert f"submitted without recording them: {stray}" in r.err, r
    assert not _active([stray])
    assert len(_calls(calls, "sbatch")) == submitted, "a job was submitted again"
    assert {j["name"]: j["external_id"] for j in r.jobs} == first
    assert {j["state"] for j in r.jobs} == {"done"}
    assert sorted(p.read("ran.log").split()) == ["0", "1", "2"]  # each job ran once
    assert all(p.read(f"r/{i}.txt") == "done\n" for i in range(3))
    assert group_results(p) == ""  # the adopted group job's results, read, are removed
    old = [j for j in p.jobs_since(0) if j["run_id"] == p.runs()[0]["id"]]
    assert {j["state"] for j in old} == {"cancelled"} and "took the job over" in old[0]["message"]
    assert p.runs()[0]["status"] == "interrupted"


def test_out_of_memory_then_a_retry_with_more_memory(slurm, tmp_path):
    p = Project(tmp_path / "p")
    # 300 MB held for 12 s: Slurm's accounting (every 5 s) sees it beyond 100 MB and kills it.
    p.flowfile("""
        rule big:
            output: "big.txt"
            retries: 1
            resources: mem_mb = 100 if attempt == 1 else 1000
            shell: ("python3 -c 'import time; x = bytearray(300 * 2**20); time.sleep(12)'; "
                    "echo {attempt} > {output}")
        """)
    r = p.run("build", "--cluster", "slurm", "-j", "1")
    assert r.code == 0, r
    assert p.read("big.txt") == "2\n"
    first, second = r.jobs
    assert first["state"] == "failed" and second["state"] == "done", r.jobs
    # The state, or at least the hint, says memory; the retry asked for more.
    assert "OUT_OF_MEMORY" in first["message"] or "mem_mb" in first["message"], first
    assert "mem=1000M" in _scontrol(second["external_id"]) or \
        _sacct(second["external_id"], "ReqMem") == ["1000M"]


# ---------------------------------------------------------------- the long one, last

def test_timeout_then_a_retry_with_more_runtime(slurm, timeout_build):
    p, proc = timeout_build
    out, err = proc.communicate(timeout=400)
    assert proc.returncode == 0, err
    assert p.read("slow.txt") == "ok\n"
    jobs = p.jobs_since(0)
    assert [(j["attempt"], j["state"]) for j in jobs] == [(1, "failed"), (2, "done")], jobs
    assert "ended TIMEOUT" in jobs[0]["message"] and "runtime" in jobs[0]["message"], jobs[0]
    assert jobs[0]["message"].startswith("timed out after 1m ("), jobs[0]  # as a local timeout says
    # Accounting may lag a moment behind the job's end.
    wait_for(lambda: _sacct(jobs[1]["external_id"], "Timelimit") == ["00:02:00"], timeout=30,
             what="sacct to show the retry's 2-minute limit")
    assert _sacct(jobs[0]["external_id"], "Timelimit") == ["00:01:00"]




def test_checkpoints_on_slurm_decide_the_jobs_submitted_after_them(slurm, tmp_path):
    """The graph grows after checkpoint jobs on a cluster as locally: the split jobs run on
    Slurm, then the chunks they made decide the count jobs submitted."""
    p = Project(tmp_path / "p")
    p.flowfile(SPLIT)
    p.write("data/a.txt", "".join(f"{i}\n" for i in range(5)))   # 3 chunks
    p.write("data/b.txt", "".join(f"{i}\n" for i in range(8)))   # 4 chunks
    r = p.run("build", "--cluster", "slurm", "-j", "20", "totals/a.n", "totals/b.n", timeout=300)
    assert r.code == 0, r
    assert (p.read("totals/a.n"), p.read("totals/b.n")) == ("5\n", "8\n")
    names = sorted(j["name"] for j in r.jobs)
    assert names.count("split[sample=a]") == 1 and names.count("split[sample=b]") == 1
    assert sum(1 for n in names if n.startswith("count[")) == 7
    assert {j["executor"] for j in r.jobs} == {"slurm"} and {j["state"] for j in r.jobs} == {"done"}
    with p.runlog() as log:
        grown = log.extensions(p.runs()[0]["id"])
    assert [(sorted(g["checkpoints"]), g["jobs_added"]) for g in grown] == [
        (["split[sample=a]", "split[sample=b]"], 9)]
    again = p.run("build", "--cluster", "slurm", "-j", "20", "totals/a.n", "totals/b.n")
    assert again.code == 0 and "nothing to do" in again.out, again


GROUP_CHAIN = """
rule all:
    input: expand("c/{s}.txt", s=["x", "y", "z"])
rule a:
    output: "a/{s}.txt"
    group: "per_{s}"
    shell: "echo a {wildcards.s}; sleep 1; echo {wildcards.s} > {output}"
rule b:
    input: "a/{s}.txt"
    output: "b/{s}.txt"
    shell: "echo b; cat {input} > {output}"
rule c:
    input: "b/{s}.txt"
    output: "c/{s}.txt"
    group: "per_{s}"
    shell: "cat {input} > {output}; echo c >> {output}"
"""


def test_a_group_runs_as_one_slurm_job_in_order_and_each_member_is_recorded(slurm, tmp_path):
    p = Project(tmp_path / "p")
    p.flowfile(GROUP_CHAIN)
    calls = tmp_path / "bin"
    # `b` joins the group from the command line: a -> b -> c of one sample are connected.
    r = p.run("build", "--cluster", "slurm", "-j", "10", "--groups", "b=per_{s}",
              env=_env(p, _wrappers(calls)))
    assert r.code == 0, r
    assert p.read("c/y.txt") == "y\nc\n"
    jobs = {j["name"]: j for j in r.jobs}
    assert {j["state"] for j in jobs.values()} == {"done"} and len(jobs) == 9, jobs
    # The three groups were ready together: one sbatch (an array of three group jobs).
    sbatch = _calls(calls, "sbatch")
    assert len(sbatch) == 1 and "--array=0-2" in sbatch[0], sbatch
    for s in "xyz":
        a, b, c = (jobs[f"{rule}[s={s}]"] for rule in "abc")
        assert a["external_id"] == b["external_id"] == c["external_id"] != "", (a, b, c)
        assert f"(group per_{s}." in a["message"] and a["host"], a
        # In dependency order on the node, each with its own times and log.
        assert a["started_at"] <= a["ended_at"] <= b["started_at"] <= b["ended_at"] <= c["started_at"]
        assert a["ended_at"] - a["started_at"] >= 1.0
        log = a["log_path"].replace("%j", a["external_id"])
        assert p.read(log).startswith(f"a {s}\n"), log
    assert len({jobs[f"a[s={s}]"]["external_id"] for s in "xyz"}) == 3
    assert group_results(p) == ""  # each results file removed once read; the logs stay
    again = p.run("build", "--cluster", "slurm", "-j", "10", "--groups", "b=per_{s}",
                  env=_env(p, calls))
    assert again.code == 0 and "nothing to do" in again.out, again


def test_group_components_put_independent_jobs_in_one_job_with_summed_resources(slurm, tmp_path):
    p = Project(tmp_path / "p")
    p.flowfile("""
        rule all:
            input: expand("o/{i}.txt", i=range(10))
        rule mk:
            output: "o/{i}.txt"
            resources: mem_mb = 100, runtime = 1
            shell: "echo $SLURM_CPUS_PER_TASK > {output}"
        """)
    calls = tmp_path / "bin"
    # The group options from a profile, as any build option.
    p.write("profiles/g/config.yaml", "cluster: slurm\njobs: 10\ngroups: {mk: batch}\n"
            "group-components: {batch: 5}\ngroup-cores: 2\n")
    r = p.run("build", "--profile", "g", env=_env(p, _wrappers(calls)))
    assert r.code == 0, r
    ids = sorted({j["external_id"] for j in r.jobs})
    assert len(r.jobs) == 10 and len(ids) == 2, r.jobs
    assert len(_calls(calls, "sbatch")) == 1
    # Five one-core jobs on two cores: three layers one after the other (2, 2, 1). Memory
    # is that of the largest layer, runtime the sum of the layers'.
    info = _scontrol(ids[0])
    assert "CPUs/Task=2" in info or "MinCPUsNode=2" in info, info
    assert "mem=200M" in info and "TimeLimit=00:03:00" in info, info
    assert {p.read(f"o/{i}.txt").strip() for i in range(10)} == {"2"}


def test_ctrl_c_keeps_the_group_members_that_had_ended(slurm, tmp_path):
    """guarantees.md: Ctrl-C. Cancelling a group job cancels the members still to run or
    running; a member that had ended on the node is recorded done, and the next build runs
    only the others."""
    p = Project(tmp_path / "p")
    p.flowfile("""
        rule all:
            input: "b.txt"
        rule a:
            output: "a.txt"
            shell: "echo a > {output}"
        rule b:
            input: "a.txt"
            output: "b.txt"
            shell: "sleep 600; cat {input} > {output}"
        """)
    proc = p.popen("build", "--cluster", "slurm", "-j", "2", "--groups", "a=g", "b=g")
    try:
        wait_for(lambda: '"exit": 0' in group_results(p), timeout=60,
                 what="member a to end on the node")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        kill_tree(proc)
    assert proc.returncode == 130, err
    jobs = {j["name"]: j for j in p.jobs_since(0)}
    assert jobs["a"]["state"] == "done", jobs["a"]
    assert jobs["b"]["state"] == "cancelled", jobs["b"]
    assert p.read("a.txt") == "a\n"
    dry = p.run("build", "-n", "--cluster", "slurm", "--groups", "a=g", "b=g")
    assert dry.code == 0 and "job b\n" in dry.out and "job a\n" not in dry.out, dry


def test_a_failure_inside_a_group_fails_only_that_job_and_what_depends_on_it(slurm, tmp_path):
    p = Project(tmp_path / "p")
    p.flowfile("""
        rule all:
            input: expand("b/{s}.txt", s=["x", "y"]), expand("c/{s}.txt", s=["x", "y"])
        rule a:
            output: "a/{s}.txt"
            shell: "echo partial > {output}; test ! -e fail_{wildcards.s}; echo ok > {output}"
        rule b:
            input: "a/{s}.txt"
            output: "b/{s}.txt"
            shell: "cat {input} > {output}"
        rule c:
            output: "c/{s}.txt"
            shell: "sleep 1; echo c > {output}"
        """)
    p.write("fail_y")
    r = p.run("build", "--cluster", "slurm", "-j", "4", "-k", "--groups", "a=g", "b=g", "c=g",
              "--group-components", "g=10")
    assert r.code == 1, r
    jobs = {j["name"]: j for j in r.jobs}
    assert len({j["external_id"] for j in jobs.values()}) == 1, jobs  # one group job
    assert jobs["a[s=y]"]["state"] == "failed" and jobs["a[s=y]"]["exit_code"] == 1
    assert not p.exists("a/y.txt")  # its partial output is not kept
    assert jobs["b[s=y]"]["state"] == "cancelled", jobs["b[s=y]"]
    assert "not started: job a[s=y] of its group failed" in jobs["b[s=y]"]["message"]
    for name in ("a[s=x]", "b[s=x]", "c[s=x]", "c[s=y]"):
        assert jobs[name]["state"] == "done", jobs[name]
    assert "1 failed" in r.err and "failed: a[s=y]" in r.err, r
    # Fixed, the next build runs only what did not succeed.
    os.remove(p.path("fail_y"))
    again = p.run("build", "--cluster", "slurm", "-j", "4", "--groups", "a=g", "b=g", "c=g")
    assert again.code == 0, again
    assert sorted(j["name"] for j in again.jobs) == ["a[s=y]", "b[s=y]"]


GROUPED = ("--groups", "a=g", "b=g", "c=g", "d=g")


def _group_left_by_a_killed_head(tmp_path, *files: str):
    """A project of GROUP_LEFT_RUNNING (with `files` written) whose build was killed (kill
    -9) once member a had ended on the node, while b and d run: the project, the folder
    logging the scheduler calls, the environment, the group job's id and the number of
    sbatch calls so far."""
    p = Project(tmp_path / "p")
    p.flowfile(GROUP_LEFT_RUNNING)
    for name in files:
        p.write(name)
    calls = tmp_path / "bin"
    env = _env(p, _wrappers(calls))
    proc = p.popen("build", "--cluster", "slurm", "-j", "2", "-k", *GROUPED, env=env)
    group_id = kill_head_mid_group(p, proc, timeout=60)
    assert _active([group_id]), "the group job outlives its fileflow"
    return p, calls, env, group_id, len(_calls(calls, "sbatch"))


def test_a_group_job_left_by_a_killed_fileflow_is_adopted_not_submitted_again(slurm, tmp_path):
    """guarantees.md: A restarted fileflow never submits a job twice. The next build waits
    for the group job and records each member as its node ran it."""
    p, calls, env, group_id, submitted = _group_left_by_a_killed_head(tmp_path)
    r = p.run("build", "--cluster", "slurm", "-j", "2", *GROUPED, env=env)
    assert r.code == 0, r
    assert "left by a fileflow that is gone" in r.err, r
    assert "submitted without recording" not in r.err, r
    assert len(_calls(calls, "sbatch")) == submitted, "a member was submitted again"
    jobs = {j["name"]: j for j in r.jobs}
    assert sorted(jobs) == ["a", "b", "c", "d"], jobs
    for j in jobs.values():
        assert j["state"] == "done" and j["external_id"] == group_id, j
        assert f"slurm job {group_id} (group g.1) on " in j["message"], j
    # In the order the node ran them, each with its own times.
    a, b, c = (jobs[n] for n in "abc")
    assert a["ended_at"] <= b["started_at"] <= b["ended_at"] <= c["started_at"]
    assert jobs["b"]["ended_at"] - jobs["b"]["started_at"] >= 5
    assert sorted(p.read("ran.log").split()) == ["a", "b", "c", "d"]  # each member ran once
    assert p.read("c.txt") == "a\nc\n" and p.read("d.txt") == "d\n"
    assert group_results(p) == ""  # the adopted group job's results, read, are removed
    old = [j for j in p.jobs_since(0) if j["run_id"] == p.runs()[0]["id"]]
    assert {j["state"] for j in old} == {"cancelled"}, old
    assert all("took the job over" in j["message"] for j in old), old
    again = p.run("build", "--cluster", "slurm", "-j", "2", *GROUPED, env=env)
    assert again.code == 0 and "nothing to do" in again.out, again
    assert len(_calls(calls, "sbatch")) == submitted


def test_a_member_that_failed_inside_an_adopted_group_job_fails_alone(slurm, tmp_path):
    """A member that fails in a group job taken over after a head crash fails with its exit
    code, the member reading its output is not started, the others are done; the build
    after the fix runs only those two."""
    p, calls, env, group_id, submitted = _group_left_by_a_killed_head(tmp_path, "fail_b")
    r = p.run("build", "--cluster", "slurm", "-j", "2", "-k", *GROUPED, env=env)
    assert r.code == 1, r
    assert len(_calls(calls, "sbatch")) == submitted, "a member was submitted again"
    jobs = {j["name"]: j for j in r.jobs}
    assert {n: j["external_id"] for n, j in jobs.items()} == dict.fromkeys("abcd", group_id)
    assert jobs["a"]["state"] == jobs["d"]["state"] == "done", jobs
    assert jobs["b"]["state"] == "failed" and jobs["b"]["exit_code"] == 1, jobs["b"]
    assert f"slurm job {group_id} (group g.1): exit code 1" in jobs["b"]["message"]
    assert jobs["c"]["state"] == "cancelled", jobs["c"]
    assert "not started: job b of its group failed" in jobs["c"]["message"]
    assert sorted(p.read("ran.log").split()) == ["a", "b", "d"]
    assert not p.exists("b.txt") and not p.exists("c.txt")
    os.remove(p.path("fail_b"))
    again = p.run("build", "--cluster", "slurm", "-j", "2", *GROUPED, env=env)
    assert again.code == 0, again
    assert sorted(j["name"] for j in again.jobs) == ["b", "c"]
    assert len(_calls(calls, "sbatch")) == submitted + 1


def test_a_build_needing_only_some_members_of_an_adopted_group_job_waits_for_it(slurm, tmp_path):
    """The targets changed after the head crash: the group job is taken over for the
    members the build needs (the others run along, unrecorded, and run again when needed);
    it is not cancelled as a left-over job."""
    p, calls, env, group_id, submitted = _group_left_by_a_killed_head(tmp_path)
    r = p.run("build", "--cluster", "slurm", "-j", "2", *GROUPED, "d.txt", env=env)
    assert r.code == 0, r
    assert "left-over" not in r.err and len(_calls(calls, "sbatch")) == submitted, r
    assert {j["name"]: (j["state"], j["external_id"]) for j in r.jobs} == {
        "a": ("done", group_id), "d": ("done", group_id)}
    assert p.read("d.txt") == "d\n" and p.read("c.txt") == "a\nc\n"  # c ran along
    again = p.run("build", "--cluster", "slurm", "-j", "2", *GROUPED, env=env)
    assert again.code == 0, again
    assert sorted(j["name"] for j in again.jobs) == ["b", "c"], again.jobs
    assert p.read("c.txt") == "a\nc\n" and len(_calls(calls, "sbatch")) == submitted + 1


def test_a_member_handed_over_before_the_rest_of_its_group_has_the_group_jobs_id(
        slurm, tmp_path):
    """buildkit.GROUP_WITH_A_LATE_MEMBER: b goes to the executor at once, a once its large
    input is hashed, and their group job then. b's row holds that job's id from then on
    too, so a build killed meanwhile leaves a group job the next build takes over whole."""
    p = Project(tmp_path / "p")
    write_group_with_a_late_member(p)
    calls = tmp_path / "bin"
    env = _env(p, _wrappers(calls))
    proc = p.popen("build", "--cluster", "slurm", "-j", "2", *LATE_MEMBER_GROUPED, env=env)
    group_id = kill_head_once_its_members_run(p, proc, timeout=60)
    assert len(_calls(calls, "sbatch")) == 1
    r = p.run("build", "--cluster", "slurm", "-j", "2", *LATE_MEMBER_GROUPED, env=env)
    assert r.code == 0, r
    assert len(_calls(calls, "sbatch")) == 1, "the group job was submitted again"
    assert {j["name"]: j["external_id"] for j in r.jobs} == {"a": group_id, "b": group_id}, r
    assert p.read("a.txt").strip() == str(LATE_MEMBER_INPUT_BYTES) and p.read("b.txt") == "b\n"


def test_a_stale_file_a_group_member_makes_again_is_no_error_for_the_member_reading_it(
        slurm, tmp_path):
    """b.txt lies there, unrecorded: b runs and makes it anew, and c, in b's group, reads
    the new one (its old copy, removed as b was prepared, is not hashed for c)."""
    p = Project(tmp_path / "p")
    p.flowfile(GROUP_LEFT_RUNNING)
    p.write("b.txt", "stale\n")
    r = p.run("build", "--cluster", "slurm", "-j", "2", *GROUPED)
    assert r.code == 0, r
    assert p.read("c.txt") == "a\nc\n"
    assert {j["name"]: j["state"] for j in r.jobs} == dict.fromkeys("abcd", "done")
