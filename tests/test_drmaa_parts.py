"""The DRMAA backend's own pieces, without a DRM: native-specification templates, the
mapping of DRMAA states and JobInfo, the job-id expression a job script runs, and the bound
on status calls per second (against a stand-in session that counts its calls)."""
from __future__ import annotations

import subprocess
import types
from collections import Counter, namedtuple

import pytest

from fileflow.errors import FileflowError
from fileflow.executors.base import JobSpec
from fileflow.executors.drmaa import (
    DrmaaBackend,
    job_id_and_index_shell,
    map_state,
    render_native,
    status_from_info,
)

JobInfo = namedtuple("JobInfo", "jobId hasExited hasSignal terminatedSignal hasCoreDump "
                                "wasAborted exitStatus resourceUsage")


def _spec(**kw) -> JobSpec:
    base = dict(job_id=1, name="align[s=a]", rule="align", command="true", log_path="x.log",
                threads=4, resources={"mem_mb": 2000, "runtime": 30}, attempt=2,
                wildcards={"s": "a"})
    base.update(kw)
    return JobSpec(**base)


def test_native_template_fills_job_values_and_appends_the_rules_own():
    spec = _spec(resources={"mem_mb": 2000, "runtime": 30, "drmaa_native": "-l gpu={attempt}"})
    text = render_native(spec, "-pe smp {threads} -l h_vmem={resources.mem_mb}M -N {rule}_{wildcards.s}")
    assert text == "-pe smp 4 -l h_vmem=2000M -N align_a -l gpu=2"


def test_the_request_is_the_native_template_filled_with_the_jobs_values():
    # --default-resources and --set-resources reach the template through the job's values
    # (lang/overrides.py); test_executor_drmaa.py runs that end to end.
    backend = DrmaaBackend(_FakeSession(), "-l h_rt=0:{resources.runtime}:0 -pe smp {threads}")
    assert backend.request(_spec(resources={"runtime": 90})) == ("align", "-l h_rt=0:90:0 -pe smp 4")


@pytest.mark.parametrize("template, words", [
    ("-l h_vmem={resources.mem}M", ["--drmaa-native", "align[s=a]", "no 'mem' in resources"]),
    ("-o {output}", ["--drmaa-native", "align[s=a]", "{output}", "not available here"]),
    ("-pe smp {threads", ["--drmaa-native", "unclosed"]),
])
def test_native_template_errors_name_the_template_and_the_job(template, words):
    with pytest.raises(FileflowError) as caught:
        render_native(_spec(), template)
    for word in words:
        assert word in str(caught.value)


def test_rules_native_resource_must_be_text():
    with pytest.raises(FileflowError, match="drmaa_native of rule align must be a string"):
        render_native(_spec(resources={"drmaa_native": 3}), "")


def test_drmaa_states_map_to_the_shared_words():
    assert [map_state(s) for s in ("queued_active", "user_on_hold", "system_on_hold", "running",
                                   "user_suspended", "done", "failed", "undetermined", "odd")] == [
        "PENDING", "HELD", "HELD", "RUNNING", "SUSPENDED", "COMPLETED", "FAILED", "UNKNOWN",
        "UNKNOWN"]


def test_job_info_gives_exit_code_signal_abort_and_usage():
    usage = {"start_time": "100.0000", "end_time": "103.0000", "ru_maxrss": "4000.0000",
             "cpu": "1.5000"}
    ok = status_from_info(JobInfo("7", True, False, "", False, False, 0, usage))
    assert (ok.state, ok.exit_code, ok.started_at, ok.ended_at, ok.peak_rss_bytes,
            ok.cpu_seconds) == ("COMPLETED", 0, 100.0, 103.0, 4000 * 1024, 1.5)
    failed = status_from_info(JobInfo("7", True, False, "", False, False, 3, usage))
    assert (failed.state, failed.exit_code) == ("FAILED", 3)
    killed = status_from_info(JobInfo("7", False, True, "SIGKILL", False, False, 0, usage))
    assert (killed.state, killed.exit_code) == ("FAILED", -9) and "SIGKILL" in killed.reason
    deleted = status_from_info(JobInfo("7", False, False, "", False, True, 0, usage))
    assert deleted.state == "CANCELLED" and "while it ran" in deleted.reason
    never = status_from_info(JobInfo("7", False, False, "", False, True, 0, {}))
    assert never.state == "CANCELLED" and "before it ran" in never.reason


@pytest.mark.parametrize("task, expected", [("undefined", "41"), ("", "41"), ("3", "41.3")])
def test_grid_engine_job_id_inside_a_job_matches_drmaa_ids(task, expected):
    id_shell, index_shell = job_id_and_index_shell("SGE 8.1.9")
    env = {"JOB_ID": "41", "PATH": "/usr/bin:/bin"}
    if task:
        env["SGE_TASK_ID"] = task
    out = subprocess.run(["bash", "-c", f"ff_id={id_shell}; echo $ff_id"], env=env,
                         capture_output=True, text=True, check=True).stdout.strip()
    assert out == expected
    assert index_shell == "SGE_TASK_ID - 1"
    assert job_id_and_index_shell("PBS Pro 19")[1] == ""  # no bulk jobs where the task variable is unknown


# ---------------------------------------------------------------- status calls per second

class _Errors:
    class DrmaaException(Exception):
        pass

    class ExitTimeoutException(DrmaaException):
        pass

    class InvalidJobException(DrmaaException):
        pass

    class DeniedByDrmException(DrmaaException):
        pass

    class InvalidAttributeValueException(DrmaaException):
        pass

    class InvalidAttributeFormatException(DrmaaException):
        pass


class _FakeSession:
    """Stands in for DrmaaSession: jobs are queued until `finish` is called."""

    def __init__(self):
        self.drmaa = types.SimpleNamespace(
            errors=_Errors,
            Session=types.SimpleNamespace(JOB_IDS_SESSION_ANY="ANY", JOB_IDS_SESSION_ALL="ALL"),
            JobTemplate=types.SimpleNamespace(PARAMETRIC_INDEX="$drmaa_incr_ph$"),
            JobControlAction=types.SimpleNamespace(TERMINATE="terminate"))
        self.drms = "SGE 8.1.9"
        self.calls = Counter()
        self.done: list[str] = []
        self.controlled: list[str] = []
        self.asked: Counter = Counter()

    def call(self, name, *args):
        self.calls[name] += 1
        if name == "wait":
            if not self.done:
                raise _Errors.ExitTimeoutException("no job finished")
            return JobInfo(self.done.pop(0), True, False, "", False, False, 0, {})
        if name == "jobStatus":
            self.asked[args[0]] += 1
            return "queued_active"
        if name == "control":
            self.controlled.append(args[0])
            return None
        raise AssertionError(f"unexpected call {name}")


def test_status_calls_per_second_are_bounded_and_every_job_gets_its_turn():
    session = _FakeSession()
    now = [0.0]
    backend = DrmaaBackend(session, max_status_calls_per_second=10, clock=lambda: now[0])
    ids = [str(i) for i in range(100)]
    backend.own.update(ids)
    backend.poll(ids, [])                       # first round: every job once
    assert session.calls["jobStatus"] == 100
    session.asked.clear()
    for _ in range(10):                         # then 10 calls per elapsed second
        now[0] += 1.0
        before = session.calls["jobStatus"]
        statuses = backend.poll(ids, [])
        assert session.calls["jobStatus"] - before == 10
        assert set(statuses) == set(ids)        # the others keep their last state
    assert {s.state for s in statuses.values()} == {"PENDING"}
    assert session.asked == Counter({i: 1 for i in ids})  # in turns: each job asked once
    # finished jobs come from wait(ANY), not from the sweep
    session.done = ["5", "17"]
    now[0] += 1.0
    statuses = backend.poll(ids, [])
    assert statuses["5"].state == "COMPLETED" and statuses["17"].exit_code == 0


def test_cancel_is_one_call_for_the_whole_session_plus_adopted_jobs():
    session = _FakeSession()
    backend = DrmaaBackend(session)
    backend.own.update({"1", "2.1", "2.2"})
    backend.cancel(["1", "2.1", "2.2", "99"])   # 99: a dead run's job, adopted
    assert session.controlled == ["ALL", "99"]


def test_jobs_never_asked_come_first_and_none_goes_missing_over_the_budget():
    session = _FakeSession()
    now = [0.0]
    backend = DrmaaBackend(session, max_status_calls_per_second=10, clock=lambda: now[0])
    first = [str(i) for i in range(20)]
    backend.own.update(first)
    backend.poll(first, [])
    later = [str(i) for i in range(20, 70)]    # submitted since: 50 more of ours
    backend.own.update(later)
    session.asked.clear()
    now[0] += 1.0
    statuses = backend.poll(first + later, [])
    assert set(session.asked) == set(later[:10])  # the new ones are asked first
    assert set(statuses) == set(first + later)    # over the budget: still reported (PENDING)
    assert {s.state for s in statuses.values()} == {"PENDING"}
