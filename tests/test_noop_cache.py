"""The no-op shortcut (fileflow/run/noop_cache.py): a build that found nothing to do lets the next
one say so from one stat per path, and any change that could make a job run sends the build
back to the full decision. Real builds in this process, real files, the real run log."""
from __future__ import annotations

import os
import sqlite3
import time

import pytest
from buildkit import READS_ENV, Project

import fileflow.cli.build

FLOW = """
    configfile: "conf.yaml"
    from "functions.py" import mode
    rule all:
        input: "b.txt"

    rule a:
        input: "in.txt"
        output: "a.txt"
        params: level = config["level"]
        shell: "cat {input} > {output}; echo {params.level} >> {output}"

    rule b:
        input: "a.txt"
        output: "b.txt"
        params: mode = mode()
        shell: "cp {input} {output}"
    """

@pytest.fixture
def project(tmp_path) -> Project:
    p = Project(tmp_path)
    p.flowfile(FLOW)
    p.write("in.txt", "one\n")
    p.write("conf.yaml", "level: 1\n")
    p.write("functions.py", "def mode():\n    return 1\n")
    first = p.build()
    assert first.code == 0 and first.ran == ["a", "b"], first
    # Right after the build (a few of the kernel's clock ticks, less than a process takes
    # to start): the full decision finds nothing to do and writes the cache, though it had
    # to hash again the outputs recorded within a tick of their writing.
    time.sleep(0.02)
    second = p.build(log=False)
    assert second.code == 0 and "nothing to do: all 3 jobs" in second.out, second
    assert p.exists(".fileflow/noop-cache")
    return p


def from_cache(p: Project, monkeypatch,
               said: str = "nothing to do: all 3 jobs are up to date") -> bool:
    """Whether a build answers from the cache alone (it would fail if it loaded the Flowfile)."""
    def refuse(*args, **kwargs):
        raise AssertionError("the Flowfile was loaded")

    with monkeypatch.context() as m:
        m.setattr(fileflow.cli.build, "load_resolution", refuse)
        try:
            result = p.build(log=False)
        except AssertionError:
            return False
    assert result.code == 0 and said in result.out, result
    return True


def test_a_second_noop_is_answered_from_the_cache(project, monkeypatch):
    assert from_cache(project, monkeypatch)
    assert from_cache(project, monkeypatch)
    dry = project.build("-n", log=False)  # a dry run may read it too
    assert dry.code == 0 and "nothing to do" in dry.out


def test_a_noop_right_after_the_last_write_of_a_build_writes_the_cache(project, monkeypatch):
    """The first no-op after a build writes the cache even when it begins within a few
    milliseconds of the build's last write (its output, its run log): the margin is the
    file system's own timestamp tick, read from the file system, not a fixed one."""
    os.unlink(project.path(".fileflow/noop-cache"))
    project.write("b.txt", "")  # b remade now: the build's last write is its run log's
    assert project.build().ran == ["b"]
    os.utime(project.path(".fileflow/runlog.db"))  # as the end of a build leaves it
    time.sleep(0.02)  # a few of the kernel's clock ticks: a process starting takes more
    noop = project.build(log=False)
    assert "nothing to do" in noop.out, noop
    assert project.exists(".fileflow/noop-cache")
    assert from_cache(project, monkeypatch)


def _rewrite_same_size(p: Project, rel: str, text: str) -> None:
    before = os.stat(p.path(rel))
    p.write(rel, text)
    os.utime(p.path(rel), ns=(before.st_atime_ns, before.st_mtime_ns))  # mtime put back


@pytest.mark.parametrize("change, runs", [
    (lambda p: _rewrite_same_size(p, "in.txt", "two\n"), ["a", "b"]),   # ctime tells
    (lambda p: os.utime(p.path("in.txt")), []),                         # touched: same content
    (lambda p: os.unlink(p.path("b.txt")), ["b"]),
    (lambda p: p.write("a.txt", "edited by hand\n"), ["a"]),     # remade; b cut off
    (lambda p: p.write("conf.yaml", "level: 2\n"), ["a", "b"]),         # a config file read
    (lambda p: _rewrite_same_size(p, "functions.py", "def mode():\n    return 2\n"), ["b"]),
    (lambda p: p.flowfile(FLOW.replace("cp {input}", "cp -p {input}")), ["b"]),
], ids=["input-same-size", "input-touched", "output-deleted", "output-edited", "configfile",
        "python-module", "flowfile"])
def test_a_change_goes_back_to_the_full_decision(project, monkeypatch, change, runs):
    time.sleep(0.02)  # past the file system's timestamp tick
    change(project)
    assert not from_cache(project, monkeypatch)
    again = project.build()
    assert again.code == 0, again
    assert again.ran == runs


def test_a_job_marked_started_in_the_run_log_reruns(project, monkeypatch):
    # What another build (or one killed mid-run) leaves: outputs on disk, marked incomplete.
    time.sleep(0.02)
    with sqlite3.connect(project.path(".fileflow/runlog.db")) as conn:
        conn.execute("UPDATE files SET complete = 0 WHERE path = 'a.txt'")
        # as a build does when it starts a job: one more generation of what jobs did
        conn.execute("UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) "
                     "WHERE key = 'generation'")
    conn.close()
    assert not from_cache(project, monkeypatch)
    again = project.build()
    assert again.ran == ["a"]  # remade byte-identical: b is cut off, as without the cache


def test_other_targets_forcing_and_config_overrides_are_not_answered(project, monkeypatch):
    for args in (["a.txt"], ["-F"], ["-R", "b"], ["--config", "level=1"], ["--groups", "a=g"]):
        with monkeypatch.context() as m:
            m.setattr(fileflow.cli.build, "load_resolution", _explode)
            with pytest.raises(_Loaded):
                project.build(*args, log=False)
    forced = project.build("-F")
    assert forced.ran == ["a", "b"]


def test_groups_naming_no_rule_are_refused_though_nothing_is_to_do(project, monkeypatch):
    """--groups names rules, which only the workflow knows: never answered from the cache."""
    assert from_cache(project, monkeypatch)
    bad = project.build("--groups", "nosuch=g", log=False)
    assert bad.code == 2 and "--groups names no rule of this workflow: nosuch" in bad.err, bad


class _Loaded(Exception):
    pass


def _explode(*args, **kwargs):
    raise _Loaded


def test_the_folders_glob_wildcards_listed_are_watched(tmp_path, monkeypatch):
    """A file added or removed where glob_wildcards() looked, at any depth, changes the
    graph: the shortcut watches every folder it listed, and answers while none changed."""
    p = Project(tmp_path)
    p.flowfile("""
        NAMES = glob_wildcards("in/{n}.txt").n
        rule all:
            input: expand("out/{n}.txt", n=NAMES)
        rule copy:
            input: "in/{n}.txt"
            output: "out/{n}.txt"
            shell: "cp {input} {output}"
        """)
    p.write("in/x.txt", "x\n")
    p.write("in/deep/er/z.txt", "z\n")
    assert sorted(p.build().ran) == ["copy[n=deep/er/z]", "copy[n=x]"]
    time.sleep(0.02)
    assert "nothing to do" in p.build(log=False).out
    assert from_cache(p, monkeypatch, said="nothing to do")
    for change, runs in ((lambda: p.write("in/y.txt", "y\n"), ["copy[n=y]"]),
                         (lambda: p.write("in/deep/er/w.txt", "w\n"), ["copy[n=deep/er/w]"]),
                         (lambda: os.unlink(p.path("in/x.txt")), [])):
        time.sleep(0.02)  # past the file system's timestamp tick
        change()
        assert not from_cache(p, monkeypatch, said="nothing to do")
        assert p.build().ran == runs
        time.sleep(0.02)
        assert "nothing to do" in p.build(log=False).out
        assert from_cache(p, monkeypatch, said="nothing to do")


def test_a_checkpoints_folder_is_watched_once_and_a_chunk_edited_in_place_is_seen(
        tmp_path, monkeypatch):
    """A checkpoint's directory() output is watched once: the folder by its own stat and
    each chunk in it by its own, not again through the chunks read from it and the folder
    glob_wildcards() listed there (at 100,000 chunks that doubled the shortcut's time); a
    chunk rewritten in place, same size, is still seen."""
    import marshal

    from buildkit import SPLIT

    p = Project(tmp_path)
    p.flowfile(SPLIT)
    p.write("data/a.txt", "".join(f"{i}\n" for i in range(9)))
    assert p.build().code == 0
    time.sleep(0.02)
    assert "nothing to do" in p.build(log=False).out
    assert from_cache(p, monkeypatch, said="nothing to do: all 7 jobs")
    with open(p.path(".fileflow/noop-cache"), "rb") as fh:
        watched = [path for part in marshal.loads(fh.read())[2:] if isinstance(part, list)
                   for path in part if isinstance(path, str)]
    inside = [os.path.relpath(path, p.root) if os.path.isabs(path) else path
              for path in watched if "chunks/a" in path]
    assert sorted(inside) == ["chunks/a", *(f"chunks/a/part_a{c}" for c in "abcde")], inside
    time.sleep(0.02)
    p.write("chunks/a/part_ab", "x\ny\n")  # "2\n3\n" before
    assert not from_cache(p, monkeypatch, said="nothing to do")


def test_env_keeps_the_full_decision(tmp_path):
    p = Project(tmp_path)
    p.flowfile(READS_ENV)
    assert p.build().ran == ["copy"]
    assert "nothing to do" in p.build(log=False).out
    assert not p.exists(".fileflow/noop-cache")


def test_an_edited_sample_sheet_or_data_file_goes_back_to_the_full_decision(tmp_path, monkeypatch):
    p = Project(tmp_path)
    p.flowfile("""
        SAMPLES = table("samples.tsv", key="sample")
        rule all:
            input: expand("out/{s}.txt", s=list(SAMPLES))
        rule r:
            output: "out/{s}.txt"
            params: fq = SAMPLES[wildcards.s].fq1, ref = load("meta.json").ref
            shell: "echo {params.fq} {params.ref} > {output}"
        """)
    p.write("samples.tsv", "sample\tfq1\nA\ta.fq\nB\tb.fq\n")
    p.write("meta.json", '{"ref": "hg38"}')
    assert p.build().ran == ["r[s=A]", "r[s=B]"]
    time.sleep(0.02)
    assert "nothing to do" in p.build(log=False).out
    assert p.exists(".fileflow/noop-cache")
    for edit, runs in ((lambda: p.write("samples.tsv", "sample\tfq1\nA\ta.fq\nB\tc.fq\n"),
                        ["r[s=B]"]),
                       (lambda: p.write("meta.json", '{"ref": "hg19"}'), ["r[s=A]", "r[s=B]"])):
        time.sleep(0.02)
        assert "nothing to do" in p.build(log=False).out
        time.sleep(0.02)  # past the file system's timestamp tick
        edit()
        with monkeypatch.context() as m:
            m.setattr(fileflow.cli.build, "load_resolution", _explode)
            with pytest.raises(_Loaded):
                p.build(log=False)
        assert p.build().ran == runs


def test_a_corrupt_cache_is_ignored(project, monkeypatch):
    project.write(".fileflow/noop-cache", "not marshal data")
    assert not from_cache(project, monkeypatch)
    assert "nothing to do" in project.build(log=False).out


@pytest.mark.parametrize("granularity", [1, 1_000_000, 1_000_000_000])
def test_only_paths_written_a_tick_before_the_build_are_vouched_for(tmp_path, monkeypatch,
                                                                     granularity):
    from fileflow.engine.fs_clock import FsClock
    from fileflow.run.noop_cache import cache_key, save
    from fileflow.state import COARSE_NS, FileState

    monkeypatch.chdir(tmp_path)
    os.mkdir(".fileflow")
    key = cache_key("Flowfile", (), {}, (), None)
    now = time.time_ns() // granularity * granularity  # the file system's clock, in its steps
    clock = FsClock(now, granularity)

    def saved(mtime_ns: int, ctime_ns: int) -> bool:
        state = FileState("out.txt", True, 3, mtime_ns, None, False, ctime_ns)
        return save(key, 1, {"out.txt": state}, [], [], [], [], [None, None], clock)

    old = now - 10 * COARSE_NS + 1234
    assert saved(old, old)
    assert saved(now - granularity - 1234, now - granularity - 1234)  # the tick before
    assert not saved(old, now)                   # written (ctime) in the tick of the clock
    assert not saved(now, old)                   # an mtime set to that tick
    whole = (now // 1_000_000_000 - 1) * 1_000_000_000  # times of whole seconds: up to 2 s
    assert not saved(whole, whole)
    assert saved(whole - COARSE_NS, whole - COARSE_NS)


def test_a_plan_with_a_remote_path_is_not_cached(tmp_path, monkeypatch):
    from fileflow.engine.fs_clock import FsClock
    from fileflow.run.noop_cache import cache_key, save
    from fileflow.state import FileState

    monkeypatch.chdir(tmp_path)
    os.mkdir(".fileflow")
    key = cache_key("Flowfile", (), {}, (), None)
    old = time.time_ns() - 10**10
    local = FileState("out.txt", True, 3, old, None, False, old)
    assert not save(key, 1, {"s3://bucket/in.txt": local, "out.txt": local}, [], [], [], [],
                    [None, None], FsClock(time.time_ns(), 1))
    assert not os.path.exists(".fileflow/noop-cache")


def test_what_a_modules_rules_list_and_read_is_watched_too(tmp_path, monkeypatch):
    """A module's folders listed by glob_wildcards() and files read by table() are the
    workflow's: a sample added to the module's folder goes back to the full decision."""
    p = Project(tmp_path)
    p.write("modules/qc/Flowfile", """\
NAMES = glob_wildcards("data/{n}.txt").n
rule all:
    input: expand("out/{n}.txt", n=NAMES)
rule copy:
    input: "data/{n}.txt"
    output: "out/{n}.txt"
    shell: "cp {input} {output}"
""")
    p.flowfile("""
        module qc:
            flowfile: "modules/qc/Flowfile"
        use rule * from qc as qc_*
        rule all:
            input: rules.qc_all.input
        """)
    p.write("data/x.txt", "x\n")
    assert p.build().ran == ["qc_copy[n=x]"]
    time.sleep(0.02)
    assert "nothing to do" in p.build(log=False).out
    assert from_cache(p, monkeypatch, said="nothing to do")
    time.sleep(0.02)  # past the file system's timestamp tick
    p.write("data/y.txt", "y\n")
    assert not from_cache(p, monkeypatch, said="nothing to do")
    assert p.build().ran == ["qc_copy[n=y]"]


def _built_once(tmp_path, flow: str = FLOW, *args: str):
    """A project whose files are a few clock ticks old, and its first build's result."""
    p = Project(tmp_path)
    p.flowfile(flow)
    p.write("in.txt", "one\n")
    p.write("conf.yaml", "level: 1\n")
    p.write("functions.py", "def mode():\n    return 1\n")
    time.sleep(0.02)  # past the file system's timestamp tick
    return p, p.build(*args)


def test_the_noop_right_after_a_build_is_answered_from_the_cache(tmp_path, monkeypatch):
    """A build that ran all it planned leaves the shortcut: the first no-op after it is as
    fast as the later ones, after a first build and after one that remade part of it."""
    p, first = _built_once(tmp_path)
    assert first.code == 0 and first.ran == ["a", "b"], first
    assert p.exists(".fileflow/noop-cache")
    assert from_cache(p, monkeypatch)
    time.sleep(0.02)
    p.write("conf.yaml", "level: 2\n")
    assert p.build().ran == ["a", "b"]
    assert from_cache(p, monkeypatch)
    time.sleep(0.02)
    os.unlink(p.path("b.txt"))
    assert p.build().ran == ["b"]
    assert from_cache(p, monkeypatch)


def test_the_noop_after_a_build_that_deleted_its_temp_outputs_is_answered_from_the_cache(
        tmp_path, monkeypatch):
    """A temp() output the build deleted once its consumer had run is watched as missing:
    the first no-op after the build answers from the shortcut, and a changed input still
    reruns both jobs."""
    p = Project(tmp_path)
    p.flowfile("""
        rule all:
            input: "c.txt"
        rule a:
            input: "in.txt"
            output: temp("b.txt")
            shell: "cp {input} {output}"
        rule c:
            input: "b.txt"
            output: "c.txt"
            shell: "cp {input} {output}"
        """)
    p.write("in.txt", "x\n")
    first = p.build()
    assert first.code == 0 and first.ran == ["a", "c"] and not p.exists("b.txt"), first
    assert from_cache(p, monkeypatch)
    time.sleep(0.02)
    p.write("in.txt", "y\n")
    assert p.build().ran == ["a", "c"]
    assert p.read("c.txt") == "y\n" and not p.exists("b.txt")
    assert from_cache(p, monkeypatch)


@pytest.mark.parametrize("after_copy, runs", [
    ("echo more >> a.txt", ["a"]),             # an earlier job's output changed in place
    ("echo two > in.txt", ["a", "b"]),         # a source edited while the build runs
    ("echo '# edited' >> Flowfile", []),       # the Flowfile too
    ("echo level: 2 > conf.yaml", ["a", "b"]),  # and a config file the graph was made from
], ids=["output-in-place", "source", "flowfile", "configfile"])
def test_a_file_changed_during_the_build_is_not_vouched_for(tmp_path, monkeypatch, after_copy,
                                                            runs):
    """Each path's state is vouched for only as its job's record, or the plan, holds it:
    a file written after that during the build (by a later job, or by hand) is not taken
    as unchanged: the next build does not answer from the shortcut, and decides, and runs,
    what it must. (A source edited meanwhile may leave a shortcut that its newer ctime
    already contradicts.)"""
    p, first = _built_once(tmp_path, FLOW.replace("cp {input} {output}",
                                                  f"cp {{input}} {{output}}; {after_copy}"))
    assert first.code == 0 and first.ran == ["a", "b"], first
    assert not from_cache(p, monkeypatch)
    assert p.build().ran == runs


def test_a_run_log_written_by_another_during_the_build_is_not_vouched_for(tmp_path,
                                                                          monkeypatch):
    """What another build (or anyone) wrote to the run log meanwhile is not what this build
    decided on: here a record marked incomplete, as a build killed after starting a job
    leaves it."""
    import sys

    Project(tmp_path).write("mark.py", "import sqlite3\n"
                            "c = sqlite3.connect('.fileflow/runlog.db')\n"
                            "c.execute(\"UPDATE files SET complete = 0 WHERE path = 'a.txt'\")\n"
                            "c.commit()\n")
    p, first = _built_once(tmp_path, FLOW.replace(
        "cp {input} {output}", f"cp {{input}} {{output}}; {sys.executable} mark.py"))
    assert first.code == 0 and first.ran == ["a", "b"], first
    assert not p.exists(".fileflow/noop-cache")
    assert p.build().ran == ["a"]  # remade byte-identical: b is cut off


def test_a_build_that_failed_leaves_no_shortcut(tmp_path, monkeypatch):
    """A failed build saves nothing, with -k neither; once it succeeds, the shortcut."""
    p, first = _built_once(tmp_path, FLOW.replace("cp {input} {output}",
                                                  "cp {input} {output}; test -e ok.txt"))
    assert first.code != 0 and first.ran == ["a", "b"], first
    assert not p.exists(".fileflow/noop-cache")
    assert p.build("-k").code != 0
    assert not p.exists(".fileflow/noop-cache")
    p.write("ok.txt")
    time.sleep(0.02)
    assert p.build().ran == ["b"]
    assert from_cache(p, monkeypatch)
