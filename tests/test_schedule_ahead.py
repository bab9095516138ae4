"""Jobs recorded as started one tick ahead of their processes (fileflow.run.recording_ahead):
fewer run-log transactions, and still every job's row and incomplete outputs are committed
before its process exists. Real builds in this process, real processes, the real run log."""
from __future__ import annotations

import sqlite3

from buildkit import Project

import fileflow.executors.local
import fileflow.runlog.writes
from fileflow.run.recording_ahead import NOT_STARTED

MANY = """
    rule all:
        input: expand("o/{i}.txt", i=range(40))
    rule mk:
        output: "o/{i}.txt"
        shell: "echo {wildcards.i} > {output}"
    """



def count_ticks(monkeypatch) -> list[int]:
    """How many jobs each run-log tick of the builds that follow records as started."""
    ticks: list[int] = []
    real_tick = fileflow.runlog.writes.CursorWrites.record_tick

    def counting_tick(self, run_id, finished, started, external_ids=()):
        ticks.append(len(started))
        return real_tick(self, run_id, finished, started, external_ids)

    monkeypatch.setattr(fileflow.runlog.writes.CursorWrites, "record_tick", counting_tick)
    return ticks

def test_each_process_starts_after_its_row_is_committed_and_ticks_serve_several_jobs(
        tmp_path, monkeypatch):
    p = Project(tmp_path)
    p.flowfile(MANY)
    p.build("-n")  # nothing recorded, nothing made
    ticks = count_ticks(monkeypatch)
    seen = []
    real_submit = fileflow.executors.local.LocalExecutor.submit

    def checking_submit(self, specs):
        # Another connection sees only what is committed.
        conn = sqlite3.connect(p.path(".fileflow/runlog.db"))
        try:
            for spec in specs:
                state = conn.execute("SELECT state FROM jobs WHERE name = ? ORDER BY id DESC",
                                     (spec.name,)).fetchone()
                outs = conn.execute("SELECT complete FROM files WHERE path = ?",
                                    (spec.outputs[0],)).fetchone()
                seen.append((spec.name, state, outs))
        finally:
            conn.close()
        return real_submit(self, specs)

    monkeypatch.setattr(fileflow.executors.local.LocalExecutor, "submit", checking_submit)
    r = p.build("-j", "2")
    assert r.code == 0, r
    assert len(seen) == 40
    assert all(state == ("running",) and outs == (0,) for _, state, outs in seen), seen
    starting = [n for n in ticks if n]
    assert sum(starting) == 40
    assert len(starting) < 40 / 3, ticks  # several jobs' rows per transaction
    assert p.build().ran == []


def test_jobs_recorded_ahead_of_a_failure_are_cancelled_unstarted_and_run_next_time(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule all:
            input: "first.txt", "bad.txt", expand("o/{i}.txt", i=range(6))
        rule first:
            output: "first.txt"
            priority: 20
            shell: "echo ok > {output}"
        rule bad:
            output: "bad.txt"
            priority: 10
            shell: "if [ -e fail ]; then exit 3; fi; echo ok > {output}"
        rule mk:
            output: "o/{i}.txt"
            shell: "echo {wildcards.i} > {output}"
        """)
    p.write("fail")
    r = p.build("-j", "1")
    assert r.code == 1, r
    assert r.ran == ["first", "bad"]  # without -k nothing starts after the failure
    unstarted = [j for j in r.jobs if j["message"] == NOT_STARTED]
    # recorded ahead with bad's row, once a short job (first) had ended
    assert unstarted, r.jobs
    for j in unstarted:
        assert j["state"] == "cancelled", j
        assert not p.exists(j["outputs"][0])
        assert not p.recorded()[j["outputs"][0]].complete
    assert not any(j["state"] == "running" for j in r.jobs)
    p.path("fail").unlink()
    again = p.build("-j", "1")
    assert again.code == 0, again
    assert sorted(again.ran) == sorted(["bad"] + [f"mk[i={i}]" for i in range(6)])
    assert p.build().ran == []


def test_long_jobs_are_not_recorded_ahead(tmp_path, monkeypatch):
    p = Project(tmp_path)
    p.flowfile("""
        rule all:
            input: expand("o/{i}.txt", i=range(3))
        rule mk:
            output: "o/{i}.txt"
            shell: "sleep 1.05; echo {wildcards.i} > {output}"
        """)
    ticks = count_ticks(monkeypatch)
    r = p.build("-j", "1")
    assert r.code == 0, r
    # each job's row is written by the tick that starts its process, none ahead
    assert [n for n in ticks if n] == [1, 1, 1], ticks


def test_a_password_in_the_command_of_a_job_recorded_ahead_is_masked(tmp_path):
    """Jobs recorded ahead keep the run log's rule for commands: a URL's password is masked."""
    p = Project(tmp_path)
    p.flowfile(MANY.replace("echo {wildcards.i}", "echo https://alice:s3cret@example.invalid/{wildcards.i}"))
    assert p.build("-j", "2").code == 0
    conn = sqlite3.connect(p.path(".fileflow/runlog.db"))
    try:
        commands = [c for (c,) in conn.execute("SELECT command FROM jobs WHERE rule = 'mk'")]
    finally:
        conn.close()
    assert len(commands) == 40
    assert not any("s3cret" in c for c in commands), commands
    assert all("https://alice:***@example.invalid/" in c for c in commands)
    assert p.path("o/3.txt").read_text() == "https://alice:s3cret@example.invalid/3\n"


def test_a_job_that_ends_well_hands_its_core_on_before_its_outputs_are_hashed(
        tmp_path, monkeypatch):
    """At -j 1 a job recorded ahead starts as soon as the last one is reaped, and only then
    are the ended job's outputs hashed and recorded; all of them still are."""
    from fileflow.engine.store import FileStore

    p = Project(tmp_path)
    p.flowfile(MANY)
    events = []
    real_submit = fileflow.executors.local.LocalExecutor.submit
    real_observe = FileStore.observe

    def submit(self, specs):
        events.extend(("start", spec.outputs[0]) for spec in specs)
        return real_submit(self, specs)

    def observe(self, paths, *args):  # stats and hashes a job's outputs
        events.extend(("hash", path) for path in paths)
        return real_observe(self, paths, *args)

    monkeypatch.setattr(fileflow.executors.local.LocalExecutor, "submit", submit)
    monkeypatch.setattr(FileStore, "observe", observe)
    r = p.build("-j", "1")
    assert r.code == 0, r
    starts = [path for kind, path in events if kind == "start"]
    assert sorted(starts) == sorted(path for kind, path in events if kind == "hash")
    # the start of the next job comes between a job's end and the hashing of its output
    handed_on = [i for i in range(1, len(events)) if events[i][0] == "hash"
                 and events[i - 1][0] == "start" and events[i - 1][1] != events[i][1]]
    assert len(handed_on) > 30, events
    conn = sqlite3.connect(p.path(".fileflow/runlog.db"))
    try:
        digests = conn.execute("SELECT COUNT(*) FROM files WHERE path LIKE 'o/%' "
                               "AND complete = 1 AND digest LIKE 'sha256:%'").fetchone()
    finally:
        conn.close()
    assert digests == (40,)
    assert p.build().ran == []


def test_very_short_jobs_are_recorded_ahead_up_to_the_maximum_whatever_the_cores(
        tmp_path, monkeypatch):
    """At -j 1, 4 jobs a tick ahead; while jobs are shorter than AHEAD_ALL_IF_SHORTER
    (raised here so that a slow machine cannot change the answer), AHEAD_MAX."""
    import fileflow.run.recording_ahead

    ticks = count_ticks(monkeypatch)
    biggest = {}
    for limit in (0.0, 60.0):
        monkeypatch.setattr(fileflow.run.recording_ahead, "AHEAD_ALL_IF_SHORTER", limit)
        p = Project(tmp_path / str(limit))
        p.flowfile(MANY.replace("range(40)", "range(80)"))
        ticks.clear()
        r = p.build("-j", "1")
        assert r.code == 0, r
        assert sum(ticks) == 80
        biggest[limit] = max(ticks)
        assert p.build().ran == []
    # the tick after the first job: the next one started at once, and those recorded ahead
    assert biggest == {0.0: 1 + fileflow.run.recording_ahead.AHEAD_PER_CORE,
                       60.0: 1 + fileflow.run.recording_ahead.AHEAD_MAX}, ticks


def test_after_ctrl_c_no_job_recorded_ahead_has_its_old_output_removed(tmp_path, monkeypatch):
    """Jobs ahead are prepared (old outputs removed) while the cores are busy, but not once
    an interrupt is pending: those jobs will not start, and their outputs stay as they were
    (marked incomplete, so the next build runs them)."""
    import fileflow.run.scheduler

    p = Project(tmp_path)
    p.flowfile("""
        rule all:
            input: expand("o/{i}.txt", i=range(12))
        rule mk:
            input: "in/{i}.txt"
            output: "o/{i}.txt"
            shell: "cat {input} > {output}"
        """)
    for i in range(12):
        p.write(f"in/{i}.txt", "old\n")
    assert p.build("-j", "1").code == 0
    for i in range(12):
        p.write(f"in/{i}.txt", "new\n")
    started = []
    real_submit = fileflow.executors.local.LocalExecutor.submit
    real_submit_ready = fileflow.run.scheduler.Scheduler._submit_ready

    def submit(self, specs):
        started.extend(spec.outputs[0] for spec in specs)
        return real_submit(self, specs)

    def submit_ready(self):
        real_submit_ready(self)
        if len(started) == 3:
            self.signalled = True  # what the SIGINT handler does

    monkeypatch.setattr(fileflow.executors.local.LocalExecutor, "submit", submit)
    monkeypatch.setattr(fileflow.run.scheduler.Scheduler, "_submit_ready", submit_ready)
    r = p.build("-j", "1")
    assert r.code != 0, r
    assert len(started) == 3, started
    not_started = [i for i in range(12) if f"o/{i}.txt" not in started]
    assert all(p.read(f"o/{i}.txt") == "old\n" for i in not_started)
    monkeypatch.undo()
    ran = set(p.build("-j", "1").ran)
    assert ran >= {f"mk[i={i}]" for i in not_started}, ran
    assert all(p.read(f"o/{i}.txt") == "new\n" for i in range(12))


def test_a_long_job_that_ends_is_recorded_at_once_even_while_jobs_recorded_ahead_run(
        tmp_path, monkeypatch):
    """Finished short jobs may wait for a later tick; a long one may not (a kill -9 of
    fileflow before its tick would make it run again in full)."""
    import fileflow.run.recorder
    import fileflow.run.scheduler

    p = Project(tmp_path)
    p.flowfile("""
        rule all:
            input: "long.txt", expand("o/{i}.txt", i=range(60))
        rule long:
            output: "long.txt"
            priority: 10
            shell: "sleep 1.2; echo done > {output}"
        rule mk:
            output: "o/{i}.txt"
            shell: "sleep 0.05; echo {wildcards.i} > {output}"
        """)
    events: list[tuple[str, object]] = []
    long_log_id: list[int] = []
    real_finish = fileflow.run.scheduler.Scheduler._finish
    real_tick = fileflow.runlog.writes.CursorWrites.record_tick

    def finish(self, outcomes, cancelled=False):
        for outcome in outcomes:
            if self.graph.jobs[outcome.job_id].name == "long":
                long_log_id.append(self.active[outcome.job_id].log_id)
        events.append(("finished", [self.graph.jobs[o.job_id].name for o in outcomes]))
        return real_finish(self, outcomes, cancelled)

    def tick(self, run_id, finished, started, external_ids=()):
        events.append(("recorded", [r.job_id for r in finished]))
        return real_tick(self, run_id, finished, started, external_ids)

    monkeypatch.setattr(fileflow.run.recorder, "FLUSH_AFTER", 1e9)  # short ones wait for a tick
    monkeypatch.setattr(fileflow.run.scheduler.Scheduler, "_finish", finish)
    monkeypatch.setattr(fileflow.runlog.writes.CursorWrites, "record_tick", tick)
    r = p.build("-j", "2")
    assert r.code == 0, r
    (log_id,) = long_log_id
    ended = next(i for i, (kind, names) in enumerate(events)
                 if kind == "finished" and "long" in names)
    recorded = next(i for i, (kind, ids) in enumerate(events)
                    if kind == "recorded" and log_id in ids)
    between = [e for e in events[ended + 1:recorded] if e[0] == "finished"]
    assert recorded > ended and between == [], events[ended:recorded + 1]
