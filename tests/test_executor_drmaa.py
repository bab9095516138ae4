"""`fileflow build --cluster drmaa` against a real single-node Son of Grid Engine through its
DRMAA library (.ci/sge-up.sh starts it). fileflow runs as a real process: the DRMAA library
must be loadable when that Python starts (GLIBC_TUNABLES), which the `sge` fixture sees to.
"""
from __future__ import annotations

import importlib.util
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
from conftest import need_service

SGE_ROOT = os.environ.get("SGE_ROOT", "/var/lib/gridengine")
LIBRARY = "/usr/lib/gridengine-drmaa/lib/libdrmaa.so.1.0"
TLS = "glibc.rtld.optional_static_tls=16384"


def sge_env() -> dict[str, str] | None:
    env = dict(os.environ)
    env.pop("FILEFLOW_DB", None)
    env.setdefault("SGE_ROOT", SGE_ROOT)
    env.setdefault("SGE_CELL", "default")
    library = env.get("DRMAA_LIBRARY_PATH") or LIBRARY
    if (importlib.util.find_spec("drmaa") is None or not os.path.exists(library)
            or shutil.which("qstat") is None):
        return None
    if "optional_static_tls" not in env.get("GLIBC_TUNABLES", ""):
        env["GLIBC_TUNABLES"] = ":".join(filter(None, [env.get("GLIBC_TUNABLES"), TLS]))
    try:
        ok = subprocess.run(["qstat"], env=env, capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    return env if ok else None


@pytest.fixture(scope="module")
def sge() -> dict[str, str]:
    env = sge_env()
    need_service(env is not None, "Son of Grid Engine with DRMAA (start it with .ci/sge-up.sh)")
    return env


def _qstat(env, *args: str) -> str:
    return subprocess.run(["qstat", *args], env=env, capture_output=True, text=True,
                          timeout=30).stdout


def _build(p: Project, env, *args: str, timeout: float = 120):
    return p.run("build", "--cluster", "drmaa", *args, env=env, timeout=timeout)


def test_three_rules_end_to_end_with_bulk_jobs(tmp_path, sge):
    p = Project(tmp_path)
    p.flowfile("""
        rule all:
            input: "total.txt"
        rule upper:
            input: "in/{s}.txt"
            output: "up/{s}.txt"
            shell: "tr a-z A-Z < {input} > {output}"
        rule count:
            input: "up/{s}.txt"
            output: "count/{s}.txt"
            shell: "wc -c < {input} > {output}"
        rule total:
            input: expand("count/{s}.txt", s=["a", "b", "c"])
            output: "total.txt"
            shell: "cat {input} | paste -sd+ | bc > {output}"
        """)
    for name, text in (("a", "x\n"), ("b", "yy\n"), ("c", "zzz\n")):
        p.write(f"in/{name}.txt", text)
    r = _build(p, sge)
    assert r.code == 0, r
    assert p.read("up/c.txt") == "ZZZ\n"
    assert p.read("total.txt").strip() == "9"
    assert len(r.jobs) == 7 and {j["state"] for j in r.jobs} == {"done"}
    assert {j["executor"] for j in r.jobs} == {"drmaa"}
    # the three `upper` jobs were ready together: one bulk submission, ids JOB.TASK
    upper = sorted(j["external_id"] for j in r.jobs if j["rule"] == "upper")
    assert [i.split(".")[1] for i in upper] == ["1", "2", "3"]
    assert len({i.split(".")[0] for i in upper}) == 1
    again = _build(p, sge)
    assert again.code == 0 and again.jobs == [] and "nothing to do" in again.out, again


def test_native_specification_reaches_the_drm(tmp_path, sge):
    """--drmaa-native and a rule's drmaa_native resource (here from --set-resources), as
    templates; the job asks the DRM what it was given (`qstat -j`). A value that starts with
    fileflow's own short options (-p, -q) stays one value."""
    p = Project(tmp_path)
    p.flowfile("""
        rule spec:
            output: "spec/{x}.txt"
            threads: 2
            resources: mem_mb = 300, runtime = 5
            shell: "qstat -j $JOB_ID > {output}"
        """)
    r = _build(p, sge, "spec/one.txt", "--drmaa-native", "-pe smp {threads} -A acct_{rule}_{wildcards.x}",
               "--set-resources",
               "spec:drmaa_native=-l h_rt=0:{resources.runtime}:0,h_vmem={resources.mem_mb}M")
    assert r.code == 0, r
    info = p.read("spec/one.txt")
    assert "account:                    acct_spec_one" in info
    run_id = p.runs()[-1]["id"]
    assert f"job_name:                   ff{run_id}-" in info  # the job name carries the run
    assert "h_rt=300" in info and "h_vmem=300M" in info
    assert "parallel environment:  smp range: 2" in info
    # the same from a profile
    p.write("profiles/sge/config.yaml", "cluster: drmaa\ndrmaa-native: '-q all.q -A prof_{wildcards.x}'\n")
    r = p.run("build", "--profile", "sge", "spec/two.txt", env=sge)
    assert r.code == 0, r
    assert "account:                    prof_two" in p.read("spec/two.txt")


def test_native_template_error_names_the_job_before_anything_runs(tmp_path, sge):
    p = Project(tmp_path)
    p.flowfile("""
        rule make:
            output: "out/{x}.txt"
            shell: "echo {wildcards.x} > {output}"
        """)
    r = _build(p, sge, "--drmaa-native", "-l h_vmem={resources.mem}M", "out/a.txt")
    assert r.code == 2, r
    assert "--drmaa-native" in r.err and "make[x=a]" in r.err and "mem" in r.err
    assert not p.exists("out/a.txt") and r.jobs == []
    r = p.run("build", "--drmaa-native", "-q all.q", "out/a.txt", env=sge)
    assert r.code == 2 and "--drmaa-native applies only with --cluster drmaa" in r.err, r


def test_failing_job_reports_its_exit_code_and_a_retry_succeeds(tmp_path, sge):
    p = Project(tmp_path)
    p.flowfile("""
        rule all:
            input: "flaky.txt", "bad.txt"
        rule flaky:
            output: "flaky.txt"
            retries: 1
            shell: "test $FILEFLOW_ATTEMPT -ge 2 || exit 5; echo ok > {output}"
        rule bad:
            output: "bad.txt"
            shell: "echo failing >&2; exit 3"
        """)
    r = _build(p, sge, "-k")
    assert r.code == 1, r
    assert "exit code 3" in r.err
    bad = [j for j in r.jobs if j["rule"] == "bad"]
    assert len(bad) == 1 and bad[0]["state"] == "failed" and bad[0]["exit_code"] == 3
    assert "exit code 3" in bad[0]["message"] and bad[0]["external_id"] in bad[0]["message"]
    flaky = [j for j in r.jobs if j["rule"] == "flaky"]
    assert [(j["attempt"], j["state"], j["exit_code"]) for j in flaky] == [
        (1, "failed", 5), (2, "done", 0)]
    assert p.read("flaky.txt") == "ok\n" and not p.exists("bad.txt")


def _running_job(p: Project, env) -> str:
    """The DRM id of the build's one job, once the DRM runs it."""
    found: list[str] = []

    def running() -> bool:
        jobs = p.jobs_since(0) if p.exists(".fileflow/runlog.db") else []
        ids = [j["external_id"] for j in jobs if j["external_id"] and j["state"] == "running"]
        if not ids:
            return False
        job_id = ids[-1].split(".")[0]
        line = [row for row in _qstat(env).splitlines() if row.split()[:1] == [job_id]]
        if line and " r " in line[0]:
            found[:] = [ids[-1]]
            return True
        return False

    wait_for(running, timeout=60, what="the job to run on Grid Engine")
    return found[0]


def test_ctrl_c_terminates_the_runs_jobs(tmp_path, sge):
    p = Project(tmp_path)
    p.flowfile("""
        rule slow:
            output: "slow.txt"
            shell: "sleep 300; touch {output}"
        """)
    proc = p.popen("build", "--cluster", "drmaa", env=sge)
    try:
        external_id = _running_job(p, sge)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err
    finally:
        kill_tree(proc)
    # the DRM lets go of the job (qstat lists a deleted job for a moment)
    wait_for(lambda: external_id.split(".")[0] not in _qstat(sge).split(), timeout=60,
             what="Grid Engine to drop the terminated job")
    (job,) = p.jobs_since(0)
    assert job["state"] == "cancelled" and job["external_id"] == external_id
    assert not p.exists("slow.txt")


def test_ctrl_c_keeps_the_group_members_that_had_ended(tmp_path, sge):
    """guarantees.md: Ctrl-C. Cancelling a group job: the member that had ended on the node is
    recorded done."""
    p = Project(tmp_path)
    p.flowfile("""
        rule all:
            input: "b.txt"
        rule a:
            output: "a.txt"
            shell: "echo a > {output}"
        rule b:
            input: "a.txt"
            output: "b.txt"
            shell: "sleep 300; cat {input} > {output}"
        """)
    proc = p.popen("build", "--cluster", "drmaa", "--groups", "a=g", "b=g", env=sge)
    try:
        wait_for(lambda: '"exit": 0' in group_results(p), timeout=120,
                 what="member a to end on the node")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err
    finally:
        kill_tree(proc)
    jobs = {j["name"]: j for j in p.jobs_since(0)}
    assert jobs["a"]["state"] == "done" and jobs["b"]["state"] == "cancelled", jobs
    dry = p.run("build", "-n", "--cluster", "drmaa", "--groups", "a=g", "b=g", env=sge)
    assert dry.code == 0 and "job b\n" in dry.out and "job a\n" not in dry.out, dry


def test_head_killed_then_next_build_adopts_the_job_without_resubmitting(tmp_path, sge):
    p = Project(tmp_path)
    p.flowfile("""
        rule once:
            output: "once.txt"
            shell: "echo started >> starts.log; sleep 6; echo made > {output}"
        """)
    proc = p.popen("build", "--cluster", "drmaa", env=sge)
    try:
        external_id = _running_job(p, sge)
        proc.kill()  # kill -9: no cleanup at all
        proc.communicate(timeout=30)
    finally:
        kill_tree(proc)
    r = _build(p, sge)
    assert r.code == 0, r
    assert "left by a fileflow that is gone" in r.err
    assert p.read("once.txt") == "made\n"
    assert p.read("starts.log") == "started\n"  # it ran once: no duplicate submission
    (job,) = r.jobs
    assert job["state"] == "done" and job["external_id"] == external_id


def test_missing_library_is_a_clear_error_before_anything_runs(tmp_path, sge):
    p = Project(tmp_path)
    p.flowfile("""
        rule make:
            output: "made.txt"
            shell: "echo hi > {output}"
        """)
    env = dict(sge, DRMAA_LIBRARY_PATH=str(tmp_path / "no" / "libdrmaa.so"))
    r = _build(p, env)
    assert r.code == 2, r
    assert "DRMAA_LIBRARY_PATH" in r.err and "libdrmaa.so" in r.err
    assert not p.exists("made.txt") and p.runs() == []
    # the library is there but Python was started without room for its static TLS
    env = dict(sge)
    env.pop("DRMAA_LIBRARY_PATH", None)  # found at Debian's place on its own
    env["GLIBC_TUNABLES"] = ""
    r = _build(p, env)
    assert r.code == 2, r
    assert "GLIBC_TUNABLES=glibc.rtld.optional_static_tls" in r.err
    assert not p.exists("made.txt") and p.runs() == []


def test_checkpoints_on_grid_engine_decide_the_jobs_submitted_after_them(tmp_path, sge):
    """The graph grows after checkpoint jobs, through DRMAA as locally."""
    p = Project(tmp_path)
    p.flowfile(SPLIT)
    p.write("data/a.txt", "".join(f"{i}\n" for i in range(5)))   # 3 chunks
    r = _build(p, sge, "-j", "8", timeout=240)
    assert r.code == 0, r
    assert p.read("totals/a.n") == "5\n"
    assert sorted(j["name"] for j in r.jobs if j["rule"] != "all") == [
        "count[sample=a,part=aa]", "count[sample=a,part=ab]", "count[sample=a,part=ac]",
        "gather[sample=a]", "split[sample=a]"]
    assert {j["executor"] for j in r.jobs if j["rule"] != "all"} == {"drmaa"}
    again = _build(p, sge)
    assert again.code == 0 and again.jobs == [] and "nothing to do" in again.out, again


def test_a_group_runs_as_one_grid_engine_job_and_each_member_is_recorded(tmp_path, sge):
    p = Project(tmp_path)
    p.flowfile("""
        rule all:
            input: expand("b/{s}.txt", s=["x", "y", "z"])
        rule a:
            output: "a/{s}.txt"
            group: "per_{s}"
            shell: "echo a {wildcards.s}; test ! -e fail_{wildcards.s}; echo {wildcards.s} > {output}"
        rule b:
            input: "a/{s}.txt"
            output: "b/{s}.txt"
            group: "per_{s}"
            shell: "cat {input} > {output}"
        """)
    p.write("fail_z")
    r = _build(p, sge, "-k", "--group-components", "per_x=2")
    assert r.code == 1, r
    jobs = {j["name"]: j for j in r.jobs}
    assert {j["executor"] for j in jobs.values()} == {"drmaa"}
    for s in "xy":
        a, b = jobs[f"a[s={s}]"], jobs[f"b[s={s}]"]
        assert a["state"] == b["state"] == "done", (a, b)
        assert a["external_id"] == b["external_id"] and a["ended_at"] <= b["started_at"]
        log = a["log_path"].replace("%j", a["external_id"])
        assert p.read(log) == f"a {s}\n", log
        assert p.read(f"b/{s}.txt") == f"{s}\n"
    assert group_results(p) == ""  # each results file removed once read
    # x and y are groups of their own (their names differ); z's failure stops only b[s=z].
    assert jobs["a[s=x]"]["external_id"] != jobs["a[s=y]"]["external_id"]
    assert jobs["a[s=z]"]["state"] == "failed" and jobs["b[s=z]"]["state"] == "cancelled"
    assert "not started: job a[s=z] of its group failed" in jobs["b[s=z]"]["message"]
    os.remove(p.path("fail_z"))
    again = _build(p, sge)
    assert again.code == 0, again
    assert sorted(j["name"] for j in again.jobs) == ["a[s=z]", "b[s=z]"]


GROUPED = ("-k", "--groups", "a=g", "b=g", "c=g", "d=g")


def _kill_head_while_its_group_runs(p: Project, env) -> str:
    """Build the group, kill -9 fileflow once member a has ended on the node (b and d run);
    the group job's DRM id."""
    proc = p.popen("build", "--cluster", "drmaa", *GROUPED, env=env)
    group_id = kill_head_mid_group(p, proc, timeout=120)
    assert group_id.split(".")[0] in _qstat(env).split(), "the group job outlives its fileflow"
    return group_id


def test_a_group_job_left_by_a_killed_fileflow_is_adopted_not_submitted_again(tmp_path, sge):
    """guarantees.md: A restarted fileflow never submits a job twice. The next build waits
    for the group job (no new DRM job) and records each member as its node ran it."""
    p = Project(tmp_path)
    p.flowfile(GROUP_LEFT_RUNNING)
    group_id = _kill_head_while_its_group_runs(p, sge)
    r = _build(p, sge, *GROUPED)
    assert r.code == 0, r
    assert "left by a fileflow that is gone" in r.err, r
    jobs = {j["name"]: j for j in r.jobs}
    assert sorted(jobs) == ["a", "b", "c", "d"], jobs
    for j in jobs.values():
        assert j["state"] == "done" and j["external_id"] == group_id, j
    assert {j["external_id"] for j in p.jobs_since(0)} == {group_id}  # no job submitted again
    a, b, c = (jobs[n] for n in "abc")
    assert a["ended_at"] <= b["started_at"] <= b["ended_at"] <= c["started_at"]
    assert sorted(p.read("ran.log").split()) == ["a", "b", "c", "d"]  # each member ran once
    assert p.read("c.txt") == "a\nc\n" and p.read("d.txt") == "d\n"
    again = _build(p, sge, *GROUPED)
    assert again.code == 0 and again.jobs == [] and "nothing to do" in again.out, again


def test_a_member_handed_over_before_the_rest_of_its_group_has_the_group_jobs_id(tmp_path, sge):
    """buildkit.GROUP_WITH_A_LATE_MEMBER: b's row holds the group job's id from its
    submission on, so a build killed while the group runs leaves it to the next build,
    which submits nothing."""
    p = Project(tmp_path)
    write_group_with_a_late_member(p)
    proc = p.popen("build", "--cluster", "drmaa", *LATE_MEMBER_GROUPED, env=sge)
    group_id = kill_head_once_its_members_run(p, proc, timeout=120)
    r = _build(p, sge, *LATE_MEMBER_GROUPED)
    assert r.code == 0, r
    assert {j["name"]: j["external_id"] for j in r.jobs} == {"a": group_id, "b": group_id}, r
    assert {j["external_id"] for j in p.jobs_since(0)} == {group_id}  # no job submitted again
    assert p.read("a.txt").strip() == str(LATE_MEMBER_INPUT_BYTES) and p.read("b.txt") == "b\n"


def test_a_member_that_failed_inside_an_adopted_group_job_fails_alone(tmp_path, sge):
    p = Project(tmp_path)
    p.flowfile(GROUP_LEFT_RUNNING)
    p.write("fail_b")
    group_id = _kill_head_while_its_group_runs(p, sge)
    r = _build(p, sge, *GROUPED)
    assert r.code == 1, r
    jobs = {j["name"]: j for j in r.jobs}
    assert {n: j["external_id"] for n, j in jobs.items()} == dict.fromkeys("abcd", group_id)
    assert jobs["a"]["state"] == jobs["d"]["state"] == "done", jobs
    assert jobs["b"]["state"] == "failed" and jobs["b"]["exit_code"] == 1, jobs["b"]
    assert jobs["c"]["state"] == "cancelled", jobs["c"]
    assert "not started: job b of its group failed" in jobs["c"]["message"]
    assert sorted(p.read("ran.log").split()) == ["a", "b", "d"]
    assert not p.exists("b.txt") and not p.exists("c.txt")
    os.remove(p.path("fail_b"))
    again = _build(p, sge, *GROUPED)
    assert again.code == 0, again
    assert sorted(j["name"] for j in again.jobs) == ["b", "c"]
