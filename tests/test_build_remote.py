"""End-to-end builds with remote inputs and outputs: real builds through the CLI.

memory:// lives in one process, so its builds run in this process (`Project.build`); S3 runs
on moto's server on loopback (tests/s3server.py), and the main S3 scenario builds in real
`python -m fileflow` processes that find the server through the environment the fixture
sets (the other S3 tests build in this process, which is quicker and reaches the same
server). What a
build transferred is read from the server's request log (S3) or from fileflow's own
"remote files: N downloaded, M uploaded" line (memory://).
"""
from __future__ import annotations

import importlib.util
import os
import signal
import uuid

import fsspec
import pytest
from buildkit import SPLIT, Project, wait_for
from conftest import need_service
from s3server import s3_bucket, s3_server  # noqa: F401  (pytest fixtures)

# --------------------------------------------------------------------------- memory://

@pytest.fixture
def mem():
    """A fresh memory:// root for one test, removed afterwards."""
    fs = fsspec.filesystem("memory")
    root = f"ff-{uuid.uuid4().hex[:10]}"
    yield fs, root
    if fs.exists(f"/{root}"):
        fs.rm(f"/{root}", recursive=True)


MEMORY_FLOW = """
rule all:
    input: "memory://{root}/out/a.txt", "memory://{root}/out/b.txt", "local/b.len"

rule upper:
    input: "memory://{root}/raw/{{s}}.txt"
    output: "memory://{root}/out/{{s}}.txt"
    shell: "tr a-z A-Z < {{input}} > {{output}}"

rule length:
    input: "memory://{root}/out/{{s}}.txt"
    output: "local/{{s}}.len"
    shell: "wc -c < {{input}} > {{output}}"
"""


def memory_project(tmp_path, mem) -> Project:
    fs, root = mem
    fs.pipe_file(f"/{root}/raw/a.txt", b"alpha\n")
    fs.pipe_file(f"/{root}/raw/b.txt", b"beta\n")
    project = Project(tmp_path)
    project.flowfile(MEMORY_FLOW.format(root=root))
    return project


def test_memory_build_stages_uploads_and_then_does_nothing(tmp_path, mem):
    fs, root = mem
    project = memory_project(tmp_path, mem)

    first = project.build("build", "-p")
    assert first.code == 0, first
    assert first.ran_set == {"upper[s=a]", "upper[s=b]", "length[s=b]"}
    assert fs.cat_file(f"/{root}/out/a.txt") == b"ALPHA\n"
    assert project.read("local/b.len").strip() == "5"
    # upper's outputs are uploaded and read back by length from their staged copy: only the
    # two raw inputs are downloaded.
    assert "remote files: 2 downloaded, 2 uploaded" in first.out
    # The command saw local staged paths, never a URL.
    upper = next(j for j in first.jobs if j["name"] == "upper[s=a]")
    assert upper["command"] == ("tr a-z A-Z < .fileflow/remote/memory/" + root + "/raw/a.txt > "
                                ".fileflow/remote/memory/" + root + "/out/a.txt")
    # Without --keep-remote the staged copies are gone after the run.
    assert not project.exists(".fileflow/remote")

    # The run log keeps the version tokens, recorded as such (never taken for a sha256).
    recorded = project.recorded()
    out_a = recorded[f"memory://{root}/out/a.txt"]
    assert out_a.complete and out_a.algorithm == "remote-token"
    assert out_a.input_digests[f"memory://{root}/raw/a.txt"].startswith("mtime:")
    assert recorded["local/b.len"].algorithm == "sha256"

    second = project.build("build")
    assert second.code == 0, second
    assert second.ran == [] and "nothing to do" in second.out
    assert "downloaded" not in second.text
    assert not project.exists(".fileflow/remote")


def test_memory_changed_input_reruns_only_its_consumers(tmp_path, mem):
    fs, root = mem
    project = memory_project(tmp_path, mem)
    assert project.build("build").code == 0

    fs.pipe_file(f"/{root}/raw/b.txt", b"bravo!\n")
    why = project.build("why", f"memory://{root}/out/b.txt", log=False)
    assert why.code == 0, why
    assert "out of date; job upper[s=b] would run" in why.out
    assert f"input 'memory://{root}/raw/b.txt' changed" in why.out
    result = project.build("build")
    assert result.code == 0, result
    assert result.ran_set == {"upper[s=b]", "length[s=b]"}
    assert any("input 'memory://" + root + "/raw/b.txt' changed" in r
               for j in result.jobs for r in j["reasons"]), result.jobs
    assert fs.cat_file(f"/{root}/out/b.txt") == b"BRAVO!\n"
    assert project.read("local/b.len").strip() == "7"
    assert "remote files: 1 downloaded, 1 uploaded" in result.out


def test_memory_dry_run_and_graph_show_urls_and_download_nothing(tmp_path, mem):
    fs, root = mem
    project = memory_project(tmp_path, mem)

    dry = project.build("build", "-n", log=False)
    assert dry.code == 0, dry
    assert f"output: memory://{root}/out/a.txt" in dry.out
    assert "dry run: 4 of 4 jobs would run" in dry.out
    graph = project.build("graph", "--format", "json", log=False)
    assert graph.code == 0, graph
    assert f"memory://{root}/raw/a.txt" in graph.out or f"memory://{root}/out/a.txt" in graph.out
    files = project.build("graph", "--level", "files", "--format", "text", log=False)
    assert files.code == 0 and f"memory://{root}/raw/b.txt" in files.out, files
    assert not project.exists(".fileflow/remote")       # nothing staged
    assert not project.exists(".fileflow/runlog.db")    # nothing recorded
    assert not fs.exists(f"/{root}/out")                # nothing uploaded

    assert project.build("build").code == 0
    fs.pipe_file(f"/{root}/raw/a.txt", b"changed\n")
    dry = project.build("build", "-n", log=False)
    assert "job upper[s=a]" in dry.out and f"input 'memory://{root}/raw/a.txt' changed" in dry.out
    assert not project.exists(".fileflow/remote")


def test_memory_missing_remote_input_names_url_and_job(tmp_path, mem):
    fs, root = mem
    project = memory_project(tmp_path, mem)
    fs.rm(f"/{root}/raw/b.txt")
    result = project.build("build")
    assert result.code == 2, result
    assert f"missing input 'memory://{root}/raw/b.txt' needed by upper[s=b]" in result.err
    assert result.ran == []


def test_remote_files_first_named_by_the_jobs_a_checkpoint_adds_are_staged(tmp_path, mem):
    """Before the checkpoint runs the graph names no URL; the jobs it adds write and read
    memory:// files, which their commands see at staged local paths."""
    fs, root = mem
    project = Project(tmp_path)
    # buildkit.SPLIT with its counts on memory://
    project.flowfile(SPLIT.replace('"counts/', f'"memory://{root}/counts/'))
    project.write("data/a.txt", "".join(f"{i}\n" for i in range(9)))
    first = project.build("build")
    assert first.code == 0, first
    assert project.read("totals/a.n") == "9\n"
    assert [fs.cat_file(f"/{root}/counts/a/{part}.n") for part in ("aa", "ae")] == [b"2\n", b"1\n"]
    assert "5 uploaded" in first.out, first.out
    again = project.build("build")
    assert again.code == 0 and again.ran == [], again


def test_url_with_credentials_is_refused_without_showing_them(tmp_path):
    project = Project(tmp_path)
    project.flowfile("""
        rule get:
            input: "memory://user:Pa55-w0rd-XYZ@somewhere/ref.fa"
            output: "ref.fa"
            shell: "cp {input} {output}"
        """)
    result = project.build("build", log=False)
    assert result.code == 2, result
    assert "a URL with credentials in it" in result.err
    assert "Pa55-w0rd-XYZ" not in result.text


# --------------------------------------------------------------------------- S3 on moto

S3_FLOW = """
rule all:
    input: "s3://{bucket}/out/a.txt", "s3://{bucket}/out/b.txt", "local/b.len"

rule upper:
    input: seq="s3://{bucket}/raw/{{s}}.txt", ref="s3://{bucket}/ref/common.txt"
    output: "s3://{bucket}/out/{{s}}.txt"
    shell: "cat {{input.ref}} > /dev/null && tr a-z A-Z < {{input.seq}} > {{output}}"

rule length:
    input: "s3://{bucket}/out/{{s}}.txt"
    output: "local/{{s}}.len"
    shell: "wc -c < {{input}} > {{output}}"
"""


def s3_project(tmp_path, bucket) -> Project:
    bucket.put("raw/a.txt", b"alpha\n")
    bucket.put("raw/b.txt", b"beta\n")
    bucket.put("ref/common.txt", b"shared by every upper job\n")
    project = Project(tmp_path)
    project.flowfile(S3_FLOW.format(bucket=bucket.name))
    bucket.server.clear()
    return project


def object_requests(bucket, method: str) -> list[str]:
    """Keys of the objects that requests of `method` touched (listings and the bucket left out)."""
    prefix = f"/{bucket.name}/"
    return sorted(r.path[len(prefix):] for r in bucket.server.requests
                  if r.method == method and r.path.startswith(prefix) and r.path != prefix)


def test_s3_build_downloads_uploads_then_does_nothing(tmp_path, s3_bucket):  # noqa: F811  (pytest fixture)
    project = s3_project(tmp_path, s3_bucket)

    first = project.run("build")
    assert first.code == 0, first
    assert first.ran_set == {"upper[s=a]", "upper[s=b]", "length[s=b]"}
    # Each input once, the one both upper jobs read too; out/b.txt, which length reads, is
    # read from the copy upper[s=b] wrote and uploaded.
    assert object_requests(s3_bucket, "GET") == ["raw/a.txt", "raw/b.txt", "ref/common.txt"]
    assert object_requests(s3_bucket, "PUT") == ["out/a.txt", "out/b.txt"]
    assert s3_bucket.fs.cat_file(f"{s3_bucket.name}/out/b.txt") == b"BETA\n"
    assert project.read("local/b.len").strip() == "5"
    assert not project.exists(".fileflow/remote")
    recorded = project.recorded()
    etag = recorded[f"s3://{s3_bucket.name}/out/b.txt"].digest
    assert etag.startswith("etag:")
    assert recorded["local/b.len"].input_digests[f"s3://{s3_bucket.name}/out/b.txt"] == etag

    s3_bucket.server.clear()
    second = project.run("build")
    assert second.code == 0, second
    assert second.ran == [] and "nothing to do" in second.out
    assert object_requests(s3_bucket, "GET") == [] and object_requests(s3_bucket, "PUT") == []

    # Same bytes written again: a new Last-Modified, the same ETag: nothing reruns. A real
    # change reruns the consumers of that object only.
    s3_bucket.put("raw/a.txt", b"alpha\n")
    s3_bucket.put("raw/b.txt", b"bravo!\n")
    s3_bucket.server.clear()
    third = project.run("build")
    assert third.code == 0, third
    assert third.ran_set == {"upper[s=b]", "length[s=b]"}
    assert object_requests(s3_bucket, "GET") == ["raw/b.txt", "ref/common.txt"]
    assert object_requests(s3_bucket, "PUT") == ["out/b.txt"]
    assert project.read("local/b.len").strip() == "7"


def test_s3_keep_remote_reuses_staged_copies_by_token(tmp_path, s3_bucket):  # noqa: F811  (pytest fixture)
    project = s3_project(tmp_path, s3_bucket)
    first = project.build("build", "--keep-remote")
    assert first.code == 0, first
    staged = f".fileflow/remote/s3/{s3_bucket.name}/raw/a.txt"
    assert project.read(staged) == "alpha\n"

    s3_bucket.server.clear()
    again = project.build("build", "--keep-remote", "-F")   # everything runs again...
    assert again.code == 0, again
    assert "upper[s=a]" in again.ran_set
    assert object_requests(s3_bucket, "GET") == []         # ...from the kept copies

    s3_bucket.put("raw/a.txt", b"changed\n")
    s3_bucket.server.clear()
    changed = project.build("build")                          # not kept: removed at the end
    assert changed.code == 0, changed
    # The kept copy of raw/a.txt is stale; the kept ref/common.txt is still good.
    assert object_requests(s3_bucket, "GET") == ["raw/a.txt"]
    assert s3_bucket.fs.cat_file(f"{s3_bucket.name}/out/a.txt") == b"CHANGED\n"
    assert not project.exists(staged)


def test_s3_object_gone_at_download_fails_its_job_naming_url(tmp_path, s3_bucket):  # noqa: F811  (pytest fixture)
    """The object exists when the build plans and is deleted before its job starts: the
    download's 404 fails that job at once, with the URL and the job in the message."""
    bucket = s3_bucket.name
    s3_bucket.put("raw/ref.txt", b"reference\n")
    project = Project(tmp_path)
    project.flowfile(f"""
        rule use:
            input: "s3://{bucket}/raw/ref.txt", "local/gone.flag"
            output: "local/use.txt"
            shell: "cat {{input[0]}} > {{output}}"

        rule delete:
            output: "local/gone.flag"
            shell: ("python -c 'import s3fs; s3fs.S3FileSystem().rm(\\"{bucket}/raw/ref.txt\\")' "
                    "&& touch {{output}}")
        """)
    result = project.build("build", "local/use.txt")
    assert result.code == 1, result
    assert (f"job use failed: cannot download input s3://{bucket}/raw/ref.txt: not found"
            in result.err), result
    use = next(j for j in result.jobs if j["name"] == "use")
    assert use["state"] == "failed" and f"s3://{bucket}/raw/ref.txt" in use["message"]
    assert not project.exists("local/use.txt")


def test_s3_failed_upload_leaves_output_not_done(tmp_path, s3_bucket):  # noqa: F811  (pytest fixture)
    """The output's bucket does not exist yet: the job runs, its upload fails, and nothing
    of it counts as done; once the bucket is there, the next build makes it again."""
    bucket, later = s3_bucket.name, s3_bucket.name + "-later"
    s3_bucket.put("raw/a.txt", b"alpha\n")
    project = Project(tmp_path)
    project.flowfile(f"""
        rule publish:
            input: "s3://{bucket}/raw/a.txt"
            output: "s3://{bucket}/pub/a.txt", "s3://{later}/pub/a.txt"
            shell: "tr a-z A-Z < {{input}} | tee {{output[0]}} > {{output[1]}}"
        """)
    failed = project.build("build")
    assert failed.code == 1, failed
    assert f"job publish failed: cannot upload output s3://{later}/pub/a.txt" in failed.err
    assert [j["state"] for j in failed.jobs] == ["failed"]
    recorded = project.recorded()  # the upload that worked does not count either
    assert not recorded[f"s3://{later}/pub/a.txt"].complete
    assert not recorded[f"s3://{bucket}/pub/a.txt"].complete
    assert not project.exists(".fileflow/remote/s3")  # its staged copy went too

    s3_bucket.client.create_bucket(Bucket=later)
    again = project.build("build")
    assert again.code == 0, again
    assert again.ran == ["publish"]
    assert s3_bucket.fs.cat_file(f"{later}/pub/a.txt") == b"ALPHA\n"
    assert s3_bucket.fs.cat_file(f"{bucket}/pub/a.txt") == b"ALPHA\n"
    assert project.build("build").ran == []


def test_s3_transient_errors_are_retried_within_the_build(tmp_path, s3_bucket):  # noqa: F811  (pytest fixture)
    project = s3_project(tmp_path, s3_bucket)
    target = f"s3://{s3_bucket.name}/out/a.txt"
    s3_bucket.server.fail_next(2, status=503, method="PUT")  # the upload, twice
    result = project.build("build", target)
    assert result.code == 0, result
    assert result.ran == ["upper[s=a]"]
    assert s3_bucket.server.pending_faults() == 0
    assert object_requests(s3_bucket, "PUT") == ["out/a.txt"] * 3  # two 503s, then done
    assert s3_bucket.fs.cat_file(f"{s3_bucket.name}/out/a.txt") == b"ALPHA\n"
    assert project.build("build", target).ran == []


SECRET = "zz-FAKE-s3cret-" + uuid.uuid4().hex[:8]


def test_s3_credentials_appear_nowhere(tmp_path, s3_bucket, monkeypatch):  # noqa: F811  (pytest fixture)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)  # moto takes any key
    project = s3_project(tmp_path, s3_bucket)
    project.write("Flowfile", project.read("Flowfile") + f"""
rule broken:
    input: "s3://{s3_bucket.name}/raw/a.txt"
    output: "local/broken.txt"
    shell: "cat {{input}}; echo failing >&2; exit 3"
""")
    outputs = []
    built = project.run("build", "-p", log=False)  # a real process, as a user runs it
    assert built.code == 0, built
    outputs.append(built.text)
    for args in (("build", "-n"), ("graph",), ("runs",), ("log",), ("summary",),
                 ("build", "-p", "local/broken.txt")):
        result = project.build(*args, log=False)
        assert result.code == (1 if "local/broken.txt" in args else 0), result
        outputs.append(result.text)
    assert "job broken failed" in outputs[-1]
    assert SECRET not in "\n".join(outputs)
    for folder, _dirs, names in os.walk(tmp_path):
        for name in names:
            path = os.path.join(folder, name)
            with open(path, "rb") as fh:
                assert SECRET.encode() not in fh.read(), path
    with project.runlog() as log:
        rows = [str(j) for r in log.runs(limit=100) for j in log.jobs_of_run(r["id"])]
        rows += [str(r) for r in log.runs(limit=100)]
    assert len(rows) > 4 and SECRET not in "\n".join(rows)


def test_memory_script_sees_staged_local_paths(tmp_path, mem):
    fs, root = mem
    fs.pipe_file(f"/{root}/raw/a.txt", b"one two three\n")
    project = Project(tmp_path)
    project.write("count.py", "from fileflow.script import job\n"
                              "words = open(job.input.text).read().split()\n"
                              "open(job.output[0], 'w').write(f'{len(words)} {job.input.text}\\n')\n")
    project.flowfile(f"""
        rule count:
            input: text="memory://{root}/raw/{{s}}.txt"
            output: "memory://{root}/counts/{{s}}.n"
            script: "count.py"
        """)
    result = project.build("build", f"memory://{root}/counts/a.n")
    assert result.code == 0, result
    assert fs.cat_file(f"/{root}/counts/a.n") == (
        f"3 .fileflow/remote/memory/{root}/raw/a.txt\n".encode())


@pytest.fixture
def http_dir(tmp_path):
    """A folder served over HTTP on loopback (Python's own server: Last-Modified and
    Content-Length, no ETag)."""
    import functools
    import http.server
    import threading

    need_service(importlib.util.find_spec("aiohttp") is not None,
                 "aiohttp, fsspec's HTTP file system (pip install -e '.[test]')")
    folder = tmp_path / "served"
    folder.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


def test_http_input_is_decided_by_its_headers(tmp_path, http_dir):
    folder, base = http_dir
    (folder / "ref.txt").write_text("reference\n")
    project = Project(tmp_path / "work")
    project.flowfile(f"""
        rule fetch:
            input: "{base}/ref.txt"
            output: "ref.len"
            shell: "wc -c < {{input}} > {{output}}"
        """)
    first = project.build("build")
    assert first.code == 0 and first.ran == ["fetch"], first
    assert project.read("ref.len").strip() == "10"
    assert project.recorded()["ref.len"].input_digests[f"{base}/ref.txt"].startswith("mtime:")
    assert project.build("build").ran == []

    (folder / "ref.txt").write_text("a longer reference\n")
    again = project.build("build")
    assert again.code == 0 and again.ran == ["fetch"], again
    assert project.read("ref.len").strip() == "19"


def test_a_password_written_into_a_command_is_not_recorded_or_shown(tmp_path):
    """A URL typed into a shell command (not a path fileflow manages) runs as written, but
    the run log and the terminal show it with the password masked."""
    secret = "pw-" + uuid.uuid4().hex[:10]
    project = Project(tmp_path)
    project.flowfile(f"""
        rule fetch:
            output: "out.txt"
            shell: "echo 'https://alice:{secret}@example.invalid/x' | wc -c > {{output}}; exit 4"
        """)
    result = project.build("build", "-p")
    assert result.code == 1, result
    assert "https://alice:***@example.invalid/x" in result.text
    assert secret not in result.text
    assert [j["command"] for j in result.jobs] == [
        "echo 'https://alice:***@example.invalid/x' | wc -c > out.txt; exit 4"]


def test_a_remote_log_is_refused_at_its_line(tmp_path):
    project = Project(tmp_path)
    project.flowfile("""
        rule make:
            output: "out.txt"
            log: "s3://bucket/logs/make.log"
            shell: "echo > {output}"
        """)
    result = project.build("build", "-n", log=False)
    assert result.code == 2, result
    assert "Flowfile:3:" in result.err and "log 's3://bucket/logs/make.log' is remote" in result.err


def test_a_remote_time_ahead_of_this_clock_gives_no_clock_warning(tmp_path, mem):
    """A store's Last-Modified is its own clock's: it never says this machine's clock is off."""
    import datetime

    fs, root = mem
    project = memory_project(tmp_path, mem)
    assert project.build("build").code == 0
    ahead = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=2)
    fs.store[f"/{root}/raw/a.txt"].created = ahead
    project.write("local.txt", "x")
    os.utime(project.path("local.txt"), (ahead.timestamp(), ahead.timestamp()))
    project.flowfile(MEMORY_FLOW.format(root=root) + """
rule copy:
    input: "local.txt"
    output: "local.copy"
    shell: "cp {input} {output}"
""")
    assert project.build("build", "local.copy").code == 0
    dry = project.build("build", "-n", f"memory://{root}/out/a.txt", "local.copy", log=False)
    assert f"input 'memory://{root}/raw/a.txt' changed" in dry.out, dry
    assert "1 input file(s) have a modification time in the future ('local.txt')" in dry.err


def test_a_remote_folder_as_input_is_a_clear_error(tmp_path, mem):
    fs, root = mem
    project = memory_project(tmp_path, mem)
    assert project.build("build").code == 0
    fs.pipe_file(f"/{root}/raw/c.txt/inner", b"a folder where a file was expected\n")
    project.flowfile(MEMORY_FLOW.format(root=root).replace('"local/b.len"', '"local/c.len"'))
    result = project.build("build", "local/c.len")
    assert result.code == 2 and result.ran == [], result
    assert f"cannot follow 'memory://{root}/raw/c.txt': it is a folder in its store" in result.err


# --------------------------------------------------------------------------- transfers off the loop

def test_s3_injected_403_fails_the_job_at_once_naming_url_and_job(tmp_path, s3_bucket):  # noqa: F811  (pytest fixture)
    """A 403 is no transient error: not retried (one GET of the object), and the job fails
    with the URL and the job in the message; the other job goes on (-k)."""
    project = s3_project(tmp_path, s3_bucket)
    key = f"/{s3_bucket.name}/raw/a.txt"
    s3_bucket.server.fail_next(1, status=403, method="GET", path=key)
    result = project.build("build", "-k")
    assert result.code == 1, result
    url = f"s3://{s3_bucket.name}/raw/a.txt"
    assert (f"job upper[s=a] failed: cannot download input {url}: access denied (403)"
            in result.err), result.err
    assert s3_bucket.server.pending_faults() == 0
    assert object_requests(s3_bucket, "GET").count("raw/a.txt") == 1
    states = {j["name"]: j["state"] for j in result.jobs}
    assert states == {"upper[s=a]": "failed", "upper[s=b]": "done", "length[s=b]": "done"}
    assert not project.recorded()[f"s3://{s3_bucket.name}/out/a.txt"].complete


HELD_FLOW = """
rule all:
    input: "local/quick.txt", "local/a.txt"

rule quick:
    output: "local/quick.txt"
    shell: "echo quick > {{output}}"

rule fetch:
    input: "s3://{bucket}/raw/a.txt"
    output: "local/a.txt"
    shell: "cp {{input}} {{output}}"
"""


def _job_states(project) -> dict[str, str]:
    if not project.has_runlog():
        return {}
    with project.runlog() as log:
        runs = log.runs(limit=1)
        return {j["name"]: j["state"] for j in log.jobs_of_run(runs[0]["id"])} if runs else {}


def test_s3_a_held_download_does_not_hold_up_other_jobs(tmp_path, s3_bucket):  # noqa: F811  (pytest fixture)
    """Downloads run off the run loop: while fetch's input is held at the server, quick
    starts, ends and is recorded done; fetch starts once its input is staged."""
    s3_bucket.put("raw/a.txt", b"alpha\n")
    project = Project(tmp_path)
    project.flowfile(HELD_FLOW.format(bucket=s3_bucket.name))
    hold = s3_bucket.server.hold_next("GET", f"/{s3_bucket.name}/raw/a.txt")
    proc = project.popen("build", "-j", "2")
    try:
        assert hold.reached.wait(60), "the download never started"
        wait_for(lambda: _job_states(project).get("quick") == "done", 60,
                 "quick recorded done while fetch's input is held")
        assert _job_states(project)["fetch"] == "running"  # started, its command not yet
        assert not project.exists("local/a.txt")
    finally:
        hold.release()
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert project.read("local/a.txt") == "alpha\n"
    assert _job_states(project) == {"quick": "done", "fetch": "done"}


def test_s3_ctrl_c_during_a_download_cancels_and_leaves_nothing_reusable(tmp_path, s3_bucket):  # noqa: F811  (pytest fixture)
    s3_bucket.put("raw/a.txt", b"alpha\n")
    project = Project(tmp_path)
    project.flowfile(HELD_FLOW.format(bucket=s3_bucket.name))
    hold = s3_bucket.server.hold_next("GET", f"/{s3_bucket.name}/raw/a.txt")
    proc = project.popen("build", "-j", "2", "local/a.txt")
    try:
        assert hold.reached.wait(60), "the download never started"
        wait_for(lambda: _job_states(project).get("fetch") == "running", 60, "fetch recorded")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        hold.release()
    assert proc.returncode == 130, (out, err)
    assert _job_states(project) == {"fetch": "cancelled"}
    staged = project.path(f".fileflow/remote/s3/{s3_bucket.name}/raw")
    left = os.listdir(staged) if os.path.isdir(staged) else []
    assert not [n for n in left if n.endswith(".fileflow-token")], left  # nothing vouched for
    assert not project.recorded()["local/a.txt"].complete

    s3_bucket.server.clear()
    again = project.build("build", "local/a.txt")
    assert again.code == 0, again
    assert again.ran == ["fetch"] and project.read("local/a.txt") == "alpha\n"
    assert object_requests(s3_bucket, "GET") == ["raw/a.txt"]  # downloaded anew


STORAGE_FLOW = """
{storage}
rule upper:
    input: "s3://{bucket}/raw/a.txt"
    output: "s3://{bucket}/out/a.txt"
    shell: "tr a-z A-Z < {{input}} > {{output}}"
"""


@pytest.mark.parametrize("where", ["flowfile", "profile", "command-line"])
def test_s3_endpoint_and_region_from_storage_options(tmp_path, s3_bucket, monkeypatch,  # noqa: F811  (pytest fixture)
                                                     where):
    """The store's endpoint and region come from the Flowfile's `storage:`, a profile's
    `storage` or `--storage`, with no AWS_ENDPOINT_URL in the environment; the command line
    wins over the Flowfile (whose endpoint here leads nowhere)."""
    from s3server import REGION

    for name in ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    endpoint = s3_bucket.server.endpoint
    s3_bucket.put("raw/a.txt", b"alpha\n")
    project = Project(tmp_path)
    args: list[str] = []
    storage = f'storage: s3 = {{"endpoint": "{endpoint}", "region": "{REGION}"}}'
    if where == "profile":
        storage = ""
        project.write("profiles/moto/config.yaml",
                      f"storage:\n  s3:\n    endpoint: {endpoint}\n    region: {REGION}\n")
        args = ["--profile", "moto"]
    elif where == "command-line":
        storage = 'storage: s3 = {"endpoint": "http://127.0.0.1:9", "region": "nowhere-1"}'
        args = ["--storage", f"s3:endpoint={endpoint}", f"s3:region={REGION}"]
    project.flowfile(STORAGE_FLOW.format(storage=storage, bucket=s3_bucket.name))
    first = project.build(*args)
    assert first.code == 0, first
    assert first.ran == ["upper"]
    assert s3_bucket.fs.cat_file(f"{s3_bucket.name}/out/a.txt") == b"ALPHA\n"
    assert project.build(*args).ran == []


def test_storage_options_become_the_backends_keyword_arguments(tmp_path):
    """fileflow's names for the common settings, per backend, on real fsspec file systems."""
    need_service(importlib.util.find_spec("s3fs") is not None, "s3fs")
    from fileflow.remote.staging import RemoteAwareStore

    store = RemoteAwareStore(tmp_path)
    store.use_storage({"s3": {"endpoint": "http://127.0.0.1:9", "region": "eu-west-1",
                              "anonymous": True, "profile": "lab", "version_aware": True}})
    assert store.storage["s3"] == {"endpoint_url": "http://127.0.0.1:9", "anon": True,
                                   "profile": "lab", "version_aware": True,
                                   "client_kwargs": {"region_name": "eu-west-1"}}
    fs, _ = store.remote._fs("s3://bucket/key")
    assert fs.anon is True and fs.version_aware is True
    store.use_storage({"gs": {"anonymous": True}, "https": {"headers": {"X-Lab": "1"}}})
    assert store.storage == {"gs": {"token": "anon"}, "gcs": {"token": "anon"},
                             "https": {"headers": {"X-Lab": "1"}}}
