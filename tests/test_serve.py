"""End to end: `fileflow serve`, a real server on a free loopback port (a subprocess) over
the run log of real builds: the JSON API and its pages, paging, escaping of what a Flowfile
or a file name holds, a job log refused outside its run's working directory, the token on a
non-loopback address, and a real headless Chromium watching a run page reach its final
counts while the build runs, without a reload."""
from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from buildkit import Project, kill_tree, wait_for
from chromium import Chromium, chromium_path
from conftest import need_service

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

pytestmark = pytest.mark.e2e

EVIL = "<script>boom()"   # a wildcard value, so a file name and a job name

FLOW = f"""
rule all:
    input: expand("out/{{s}}.txt", s=["a", "b", "c", "{EVIL}"])

rule make:
    input: "in/{{s}}.txt"
    output: "out/{{s}}.txt"
    shell: ("if [ -e in/{{wildcards.s}}.bad ]; then echo '<script>tail()</script> broke' >&2; "
            "exit 3; fi; echo made {{wildcards.s}}; cat {{input}} > {{output}}")
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    """(status, headers, body) of a GET; a 4xx or 5xx is an answer too."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=20) as answer:
            return answer.status, dict(answer.headers), answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


def get_json(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    status, _, body = get(url, headers)
    return status, json.loads(body)


@contextlib.contextmanager
def serving(p: Project, *args: str,
            env: dict[str, str] | None = None) -> Iterator[tuple[str, subprocess.Popen]]:
    """`fileflow serve` in the project on a free port: its base URL (via 127.0.0.1) and process."""
    port = free_port()
    proc = p.popen("serve", "--port", str(port), *args, env=env or p.env())
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"fileflow serve ended: {proc.communicate()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            return False

    try:
        wait_for(up, timeout=30, what="fileflow serve to listen")
        yield base, proc
    finally:
        kill_tree(proc)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Project:
    """Two runs: the first with one job failing (-k), the second making out/a.txt again."""
    p = Project(tmp_path_factory.mktemp("serve"))
    p.flowfile(FLOW)
    for s in ("a", "b", "c", EVIL):
        p.write(f"in/{s}.txt", s)
    p.write("in/c.bad")
    r = p.run("-k", "-j", "2")
    assert r.code == 1, r
    r = p.run("--force", "out/a.txt", "out/a.txt")
    assert r.code == 0, r
    return p


@pytest.fixture(scope="module")
def server(built) -> Iterator[str]:
    with serving(built) as (base, _):
        yield base


def test_the_api_lists_runs_newest_first_in_pages(server):
    status, page = get_json(f"{server}/api/runs?limit=1")
    assert status == 200
    assert [r["id"] for r in page["runs"]] == [2] and page["next"] == 2
    status, older = get_json(f"{server}/api/runs?limit=1&before={page['next']}")
    assert [r["id"] for r in older["runs"]] == [1] and older["next"] is None
    assert older["runs"][0]["status"] == "failed"
    _, failed = get_json(f"{server}/api/runs?status=failed")
    assert [r["id"] for r in failed["runs"]] == [1]
    _, none = get_json(f"{server}/api/runs?since=2000-01-01&until=2000-01-02")
    assert none["runs"] == []


def test_the_api_shows_a_run_its_jobs_a_job_and_a_file(server):
    _, run = get_json(f"{server}/api/runs/1")
    assert run["counts"] == {"done": 3, "failed": 1, "waiting": 0}
    jobs, after = [], 0
    while after is not None:   # pages of two, each from where the last ended
        _, page = get_json(f"{server}/api/runs/1/jobs?limit=2&after={after}")
        assert len(page["jobs"]) <= 2
        jobs += page["jobs"]
        after = page["next"]
    assert sorted(j["name"] for j in jobs) == sorted(f"make[s={s}]" for s in ("a", "b", "c", EVIL))
    failed = next(j for j in jobs if j["state"] == "failed")
    _, job = get_json(f"{server}/api/jobs/{failed['id']}")
    assert job["exit_code"] == 3 and [a["id"] for a in job["attempts"]] == [failed["id"]]
    _, log = get_json(f"{server}/api/jobs/{failed['id']}/log")
    assert "<script>tail()</script> broke" in log["text"]
    _, file = get_json(f"{server}/api/file?path=out/a.txt")
    assert file["file"]["complete"] is True and file["file"]["size"] == 1
    assert [j["run_id"] for j in file["jobs"]] == [2, 1]   # newest first
    _, older = get_json(f"{server}/api/file?path=out/a.txt&limit=1&before={file['jobs'][0]['id']}")
    assert [j["run_id"] for j in older["jobs"]] == [1] and older["next"] is None
    _, found = get_json(f"{server}/api/files?q=script")
    assert [f["path"] for f in found["files"]] == [f"in/{EVIL}.txt", f"out/{EVIL}.txt"]
    _, found = get_json(f"{server}/api/files?q=_")     # LIKE's wildcards are plain text
    assert found["files"] == []


def test_bad_requests_get_a_message_not_a_traceback(server):
    for path, status in [("/api/runs/99", 404), ("/api/runs?limit=x", 400),
                         ("/api/runs?since=yesterday", 400), ("/api/runs/abc", 400),
                         ("/api/jobs/99999999999999999999", 400), ("/api/file", 400),
                         ("/api/runs?limit=0", 400), ("/nowhere", 404), ("/runs/99", 404)]:
        got, _, body = get(server + path)
        assert got == status, (path, body)
        assert "Traceback" not in body and "File \"" not in body
        if path.startswith("/api/"):
            assert json.loads(body)["error"]


def test_what_a_flowfile_or_a_file_name_holds_is_escaped(built, server):
    _, page = get_json(f"{server}/api/runs/1/jobs")
    failed = next(j for j in page["jobs"] if j["state"] == "failed")
    evil = next(j for j in page["jobs"] if EVIL in j["name"])
    shown = [get(server + path)[2] for path in
             ("/runs/1", f"/jobs/{evil['id']}", f"/jobs/{failed['id']}", "/files?q=script",
              f"/files?path=out/{EVIL}.txt", "/?status=" + EVIL)]
    for html in shown:
        assert "<script>boom" not in html and "<script>tail" not in html
        assert html.count("<script") == 1    # only the dashboard's own, from /static/
    assert "&lt;script&gt;boom()" in shown[0] and "&lt;script&gt;tail()&lt;/script&gt;" in shown[0]
    assert shown[0].count('<g class="job"') == 4    # the timeline of the run's jobs
    headers = get(server + "/runs/1")[1]
    assert "script-src 'self'" in headers["content-security-policy"]


def test_a_log_written_again_after_its_attempt_says_so(built, server):
    _, first = get_json(f"{server}/api/file?path=out/a.txt")
    older, newer = first["jobs"][1], first["jobs"][0]     # run 1's attempt, then run 2's
    assert get_json(f"{server}/api/jobs/{older['id']}/log")[1]["rewritten"] is False
    later = newer["ended_at"] + 100
    os.utime(built.path(older["log_path"]), (later, later))
    assert get_json(f"{server}/api/jobs/{older['id']}/log")[1]["rewritten"] is True
    assert "written again since this attempt ended" in get(f"{server}/jobs/{older['id']}")[2]


def test_two_runs_compared(server):
    _, found = get_json(f"{server}/api/compare?a=1&b=2")
    assert found["a"]["id"] == 1 and found["b"]["id"] == 2
    assert found["only_a"] == sorted(f"make[s={s}]" for s in ("b", "c", EVIL))
    assert found["only_b"] == []
    assert [c["name"] for c in found["duration"]] in ([], ["make[s=a]"])
    status, _, html = get(f"{server}/compare?a=1&b=2")
    assert status == 200 and "Only in run 1" in html and "&lt;script&gt;boom()" in html
    assert "<script>boom" not in html
    assert get_json(f"{server}/api/compare?a=1")[0] == 400
    assert get_json(f"{server}/api/compare?a=1&b=77")[0] == 404


def test_a_job_log_outside_the_run_directory_is_refused(built, tmp_path):
    """A crafted run log (a copy) whose rows point a job's log outside the working directory:
    by a relative path, an absolute one, and a link inside pointing out."""
    p = Project(tmp_path)
    p.flowfile(FLOW)
    os.makedirs(p.path(".fileflow"))
    with open(built.path(".fileflow/runlog.db"), "rb") as src:
        p.path(".fileflow/runlog.db").write_bytes(src.read())
    outside = tmp_path.parent / f"{tmp_path.name}-secret.txt"
    outside.write_text("the secret\n")
    os.symlink(outside, p.path("inner.log"))
    conn = sqlite3.connect(p.path(".fileflow/runlog.db"))
    with conn:
        conn.execute("UPDATE runs SET workdir = ?", (str(tmp_path),))
        ids = [r[0] for r in conn.execute("SELECT id FROM jobs ORDER BY id LIMIT 3")]
        for job_id, where in zip(ids, [f"../{outside.name}", str(outside), "inner.log"]):
            conn.execute("UPDATE jobs SET log_path = ? WHERE id = ?", (where, job_id))
    conn.close()
    with serving(p) as (base, _):
        for job_id in ids:
            status, answer = get_json(f"{base}/api/jobs/{job_id}/log")
            assert status == 403 and "outside the run's working directory" in answer["error"]
            status, _, html = get(f"{base}/jobs/{job_id}")
            assert status == 200 and "the secret" not in html
        assert "the secret" not in get(f"{base}/runs/1")[2]
        for path in ("/static/../pyproject.toml", "/static/%2e%2e/app.py",
                     "/static/..%2fapp.py"):
            status, _, body = get(base + path)
            assert status == 404 and "import" not in body


def test_a_token_is_needed_on_a_non_loopback_address(built):
    with serving(built, "--host", "0.0.0.0") as (base, proc):
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Cookie": "fileflow_token=wrong"}):
            for path in ("/api/runs", "/", "/runs/1", "/static/dashboard.js",
                         "/api/runs/1/events"):
                status, _, body = get(base + path, headers)
                assert status == 401, (path, headers)
                assert "token" in json.loads(body)["error"]
        assert get(f"{base}/api/runs?token=wrong")[0] == 401
        line = proc.stdout.readline()
        assert line.startswith("fileflow serve: http://0.0.0.0:") and "?token=" in line
        token = line.split("?token=")[1].split()[0]
        assert get_json(f"{base}/api/runs", {"Authorization": f"Bearer {token}"})[0] == 200
        status, headers, _ = get(f"{base}/?token={token}")
        assert status == 200 and f"fileflow_token={token}" in headers["set-cookie"]
        assert get(f"{base}/runs/1", {"Cookie": f"fileflow_token={token}"})[0] == 200
    env = built.env(FILEFLOW_SERVE_TOKEN="chosen-token")
    with serving(built, "--host", "0.0.0.0", env=env) as (base, _):
        assert get(f"{base}/api/runs")[0] == 401
        assert get(f"{base}/api/runs", {"Authorization": "Bearer chosen-token"})[0] == 200


def test_on_loopback_a_foreign_host_name_is_refused(server):
    status, _, body = get(f"{server}/api/runs", {"Host": "attacker.example:8765"})
    assert status == 400 and "loopback" in body
    assert get(f"{server}/api/runs", {"Host": "localhost"})[0] == 200


def test_serve_without_a_run_log_says_so(tmp_path):
    p = Project(tmp_path)
    r = p.run("serve", "--port", str(free_port()), log=False, timeout=60)
    assert r.code == 2 and "no run log here" in r.err and "Traceback" not in r.err


def test_serve_takes_a_profile_for_the_rule_graph(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule all:
            input: expand("out/{s}.txt", s=config["samples"])
        rule make:
            output: "out/{s}.txt"
            shell: "echo {wildcards.s} > {output}"
        """)
    p.write("profiles/alt/config.yaml", "config: {samples: [a, b]}\n")
    assert p.run("--profile", "alt", "-q").code == 0
    with serving(p, "--profile", "alt") as (base, _):
        status, _, page = get(f"{base}/runs/1")
        assert status == 200 and 'data-rule="make"' in page and 'data-rule="all"' in page
    with serving(p) as (base, proc):  # without its config the Flowfile has no rule graph
        status, _, page = get(f"{base}/runs/1")
        assert status == 200 and 'data-rule="make"' not in page
    r = p.run("serve", "--profile", "nope", log=False)
    assert r.code == 2 and "--profile nope: no profile found" in r.err, r


def test_a_port_in_use_is_said_before_anything_is_announced(built):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        r = built.run("serve", "--port", str(taken.getsockname()[1]), log=False, timeout=60)
    assert r.code == 2 and "cannot listen on 127.0.0.1:" in r.err, r
    assert r.out == "" and "Traceback" not in r.err


SLOW_FLOW = """
rule all:
    input: expand("out/{n}.txt", n=range(6))

rule first:
    output: "ready.txt"
    shell: "touch {output}"

rule slow:
    output: "out/{n}.txt"
    shell: ("echo waiting {wildcards.n}; while [ ! -e go ]; do sleep 0.1; done; "
            "echo finished {wildcards.n}; echo {wildcards.n} > {output}")
"""


def test_the_live_run_page_reaches_the_final_counts_without_a_reload(tmp_path):
    need_service(chromium_path() is not None, "Chromium (the Debian chromium package)")
    p = Project(tmp_path)
    p.flowfile(SLOW_FLOW)
    assert p.run("ready.txt").code == 0       # a run log for the server to open
    with serving(p) as (base, _):
        build = p.popen("-j", "3")
        try:
            def running_run() -> int | None:
                runs = get_json(f"{base}/api/runs")[1]["runs"]
                return next((r["id"] for r in runs if r["status"] == "running"), None)

            wait_for(lambda: running_run() is not None, timeout=30, what="the build's run")
            run_id = running_run()
            wait_for(lambda: get_json(f"{base}/api/runs/{run_id}")[1]["counts"].get("running"),
                     timeout=30, what="running jobs")
            counts = get_json(f"{base}/api/runs/{run_id}")[1]["counts"]
            assert counts["running"] + counts["waiting"] == 6 and counts["waiting"] >= 1, counts
            with Chromium(str(tmp_path / "profile")) as browser:
                page = browser.open(f"{base}/runs/{run_id}")
                assert page.evaluate("document.body.getAttribute('data-ready')") == "1"
                page.evaluate("window.sameDocument = true")
                wait_for(lambda: page.evaluate(
                    "document.querySelectorAll('#running-jobs tr').length") >= 1,
                    timeout=60, what="running jobs on the page")
                rule_state = "document.querySelector('g.rule[data-rule=slow]').getAttribute('data-state')"
                wait_for(lambda: page.evaluate(rule_state) == "running", timeout=60,
                         what="the rule graph coloured live")
                assert page.evaluate("document.querySelectorAll('g.rule').length") == 2
                _, running = get_json(f"{base}/api/runs/{run_id}/jobs?state=running&limit=1")
                followed = browser.open(f"{base}/jobs/{running['jobs'][0]['id']}")
                assert followed.evaluate("document.getElementById('follow').checked") is True
                wait_for(lambda: "waiting" in followed.evaluate(
                    "document.getElementById('job-log').textContent"), timeout=60,
                    what="the running job's first line")
                p.write("go")
                wait_for(lambda: page.evaluate("document.body.getAttribute('data-live')") == "ended",
                         timeout=60, what="the page to see the run end")
                assert page.evaluate("window.sameDocument") is True     # never reloaded
                assert page.evaluate("document.querySelector('[data-count=done]').textContent") == "6"
                assert page.evaluate("document.querySelector('[data-count=running]').textContent") == "0"
                assert page.evaluate("document.querySelector('[data-count=waiting]').textContent") == "0"
                assert page.evaluate("document.getElementById('run-status').textContent") == "success"
                assert page.evaluate("document.querySelectorAll('#running-jobs tr').length") == 0
                assert page.evaluate(rule_state) == "done"
                wait_for(lambda: "finished" in followed.evaluate(
                    "document.getElementById('job-log').textContent"), timeout=60,
                    what="the job's log followed")
                log_text = followed.evaluate("document.getElementById('job-log').textContent")
                assert log_text.count("waiting") == 1 and log_text.count("finished") == 1
                assert page.problems == [] and followed.problems == []
                for path in ("/", "/files?q=out", "/files?path=out/0.txt",
                             f"/compare?a={run_id - 1}&b={run_id}"):
                    other = browser.open(base + path)     # every page, whole and quiet
                    assert other.evaluate("document.body.getAttribute('data-ready')") == "1"
                    assert other.problems == [], path
                page.send("Page.bringToFront")   # a tab behind another draws nothing
                png = page.screenshot()     # as docs/images/serve-run.png was taken
                assert png.startswith(b"\x89PNG") and len(png) > 10_000
                assert all(u.startswith(base) for u in page.requests), page.requests
            assert build.wait(timeout=60) == 0
        finally:
            kill_tree(build)


def test_the_api_over_postgresql(pg_url, tmp_path):
    p = Project(tmp_path, db=pg_url)
    p.flowfile(FLOW)
    for s in ("a", "b", "c", EVIL):
        p.write(f"in/{s}.txt", s)
    assert p.run("-j", "2").code == 0
    with serving(p) as (base, _):
        _, runs = get_json(f"{base}/api/runs")
        run_id = runs["runs"][0]["id"]
        _, run = get_json(f"{base}/api/runs/{run_id}")
        assert run["counts"] == {"done": 4, "waiting": 0}
        _, page = get_json(f"{base}/api/runs/{run_id}/jobs?limit=3")
        assert len(page["jobs"]) == 3 and page["next"] is not None
        _, found = get_json(f"{base}/api/files?q=out/")
        assert [f["path"] for f in found["files"]] == sorted(f"out/{s}.txt" for s in ("a", "b", "c", EVIL))
        status, _, events = get(f"{base}/api/runs/{run_id}/events")
        assert status == 200 and '"done": 4' in events and "event: end" in events
        assert "&lt;script&gt;boom()" in get(f"{base}/runs/{run_id}")[2]
