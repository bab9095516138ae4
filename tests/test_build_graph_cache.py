"""The persistent job graph (fileflow/run/graph_cache.py, fileflow/engine/graph_store.py): a
build keeps the graph it resolved in `.fileflow/graph-cache`; the next one loads it instead of
resolving while nothing resolution read changed, and resolves afresh when anything that can
change the graph did. Real builds in this process, real files, the real run log."""
from __future__ import annotations

import os
import time

import pytest
from buildkit import READS_ENV, SPLIT, Project

import fileflow.engine.resolve

FLOW = """
    configfile: "conf.yaml"
    from "functions.py" import suffix
    SAMPLES = glob_wildcards("in/{s}.txt").s
    SHEET = table("samples.tsv", key="sample")
    rule all:
        input: expand("out/{s}.{x}", s=SAMPLES, x=suffix()), expand("sheet/{t}.txt", t=list(SHEET))
    rule copy:
        input: "in/{s}.txt"
        output: "out/{s}.{x}"
        params: level = config["level"]
        shell: "cat {input} > {output}; echo {params.level} >> {output}"
    rule sheet:
        input: "ref.txt"
        output: "sheet/{t}.txt"
        params: who = SHEET[wildcards.t].who
        shell: "echo {params.who} > {output}; cat {input} >> {output}"
    """


def build(p: Project, monkeypatch, *args: str):
    """A build, and whether it resolved the graph (rather than loading the kept one)."""
    calls = []
    real = fileflow.engine.resolve.resolution

    def counting(*a, **kw):
        calls.append(1)
        return real(*a, **kw)

    with monkeypatch.context() as m:
        m.setattr(fileflow.engine.resolve, "resolution", counting)
        result = p.build(*args)
    return result, bool(calls)


@pytest.fixture
def project(tmp_path, monkeypatch) -> Project:
    p = Project(tmp_path)
    p.flowfile(FLOW)
    p.write("in/a.txt", "a\n")
    p.write("in/b.txt", "b\n")
    p.write("ref.txt", "ref\n")
    p.write("conf.yaml", "level: 1\n")
    p.write("functions.py", "def suffix():\n    return 'txt'\n")
    p.write("samples.tsv", "sample\twho\nX\tx\n")
    first, resolved = build(p, monkeypatch)
    assert first.code == 0 and resolved, first
    assert sorted(first.ran) == ["copy[s=a,x=txt]", "copy[s=b,x=txt]", "sheet[t=X]"]
    assert p.exists(".fileflow/graph-cache")
    return p


def test_a_changed_input_loads_the_kept_graph(project, monkeypatch):
    project.write("in/a.txt", "a changed\n")
    again, resolved = build(project, monkeypatch)
    assert again.code == 0 and not resolved, again
    assert again.ran == ["copy[s=a,x=txt]"]
    project.write("ref.txt", "ref 2\n")
    again, resolved = build(project, monkeypatch, "-n")  # a dry run reads it too
    assert again.code == 0 and not resolved and "sheet[t=X]" in again.out, again


def test_a_touched_config_file_with_the_same_content_keeps_the_graph(project, monkeypatch):
    os.utime(project.path("conf.yaml"), ns=(1, 10**18))
    os.utime(project.path("functions.py"))
    project.write("in/b.txt", "b changed\n")
    again, resolved = build(project, monkeypatch)
    assert again.code == 0 and not resolved, again
    assert again.ran == ["copy[s=b,x=txt]"]


@pytest.mark.parametrize("change, runs", [
    (lambda p: p.write("in/c.txt", "c\n"), ["copy[s=c,x=txt]"]),   # glob_wildcards() sees it
    (lambda p: os.unlink(p.path("in/b.txt")), []),                 # and no longer sees this
    (lambda p: p.write("conf.yaml", "level: 2\n"), ["copy[s=a,x=txt]", "copy[s=b,x=txt]"]),
    (lambda p: p.write("functions.py", "def suffix():\n    return 'out'\n"),
     ["copy[s=a,x=out]", "copy[s=b,x=out]"]),                      # a helper module
    (lambda p: p.write("samples.tsv", "sample\twho\nX\tx\nY\ty\n"), ["sheet[t=Y]"]),
    (lambda p: p.flowfile(FLOW.replace("who = SHEET", "who = 'a ' + SHEET")),
     ["sheet[t=X]"]),                                              # the Flowfile
    (lambda p: p.flowfile(FLOW.replace('input: "ref.txt"', 'input: "in/a.txt"')),
     ["sheet[t=X]"]),
], ids=["new-source-globbed", "source-removed", "configfile", "helper-module", "sample-sheet",
        "flowfile-params", "flowfile-input"])
def test_a_change_that_can_change_the_graph_resolves_afresh(project, monkeypatch, change, runs):
    change(project)
    again, resolved = build(project, monkeypatch)
    assert again.code == 0 and resolved, again
    assert sorted(again.ran) == runs
    after, resolved = build(project, monkeypatch)  # kept again: the next build loads it
    assert after.code == 0 and not resolved and after.ran == [], after


def test_an_edited_command_keeps_the_graph_and_reruns_its_jobs(project, monkeypatch):
    """A rule's command decides no job, path or edge: the kept graph serves, bound to the
    rules loaded now, and the jobs of that rule rerun by their signatures."""
    project.flowfile(FLOW.replace("echo {params.who}", "echo who={params.who}").replace(
        "    rule sheet:", "\n    # layout and comments do not count\n    rule sheet:"))
    again, resolved = build(project, monkeypatch)
    assert again.code == 0 and not resolved, again
    assert again.ran == ["sheet[t=X]"]
    assert project.read("sheet/X.txt") == "who=x\nref\n"


def test_a_folder_glob_wildcards_found_missing_is_watched(tmp_path, monkeypatch):
    p = Project(tmp_path)
    p.flowfile("""
        rule all:
            input: expand("out/{s}.txt", s=glob_wildcards("in/{s}.txt").s)
        rule copy:
            input: "in/{s}.txt"
            output: "out/{s}.txt"
            shell: "cp {input} {output}"
        """)
    first, resolved = build(p, monkeypatch)
    assert first.code == 0 and resolved, first
    assert build(p, monkeypatch)[1] is False  # kept
    p.write("in/a.txt", "a\n")
    again, resolved = build(p, monkeypatch)
    assert again.code == 0 and resolved and again.ran == ["copy[s=a]"], again


def test_a_source_resolution_looked_up_that_disappears_resolves_afresh(project, monkeypatch):
    os.unlink(project.path("ref.txt"))
    again, resolved = build(project, monkeypatch)
    assert again.code == 2 and resolved, again
    assert "ref.txt" in again.err
    project.write("ref.txt", "ref\n")
    back, _ = build(project, monkeypatch)  # the kept graph fits again
    assert back.code == 0 and back.ran == [], back  # the same content: nothing to do


def test_other_targets_and_config_overrides_resolve_afresh(project, monkeypatch):
    for args in (["out/a.txt"], ["--config", "level=1"], ["--set-threads", "copy=2"]):
        result, resolved = build(project, monkeypatch, *args)
        assert result.code == 0 and resolved, (args, result)
        again, resolved = build(project, monkeypatch, *args)  # one graph is kept: the last
        assert again.code == 0 and not resolved, (args, again)


def test_an_edited_configfile_named_on_the_command_line_resolves_afresh(project, monkeypatch):
    project.write("more.yaml", "level: 1\n")
    first, resolved = build(project, monkeypatch, "--configfile", "more.yaml")
    assert first.code == 0 and resolved, first
    project.write("more.yaml", "level: 3\n")
    again, resolved = build(project, monkeypatch, "--configfile", "more.yaml")
    assert again.code == 0 and resolved, again
    assert sorted(again.ran) == ["copy[s=a,x=txt]", "copy[s=b,x=txt]"]


def test_a_corrupt_or_deleted_cache_resolves_afresh(project, monkeypatch):
    project.write(".fileflow/graph-cache", "not marshal data")
    project.write("in/a.txt", "a 2\n")
    again, resolved = build(project, monkeypatch)
    assert again.code == 0 and resolved and again.ran == ["copy[s=a,x=txt]"], again
    os.unlink(project.path(".fileflow/graph-cache"))
    project.write("in/a.txt", "a 3\n")
    again, resolved = build(project, monkeypatch)
    assert again.code == 0 and resolved and again.ran == ["copy[s=a,x=txt]"], again


def test_env_and_dry_runs_keep_no_graph(tmp_path, monkeypatch):
    p = Project(tmp_path)
    p.flowfile(READS_ENV)
    assert p.build("-n").code == 0
    assert not p.exists(".fileflow/graph-cache")
    assert p.build().ran == ["copy"]
    assert not p.exists(".fileflow/graph-cache")


def test_a_graph_with_checkpoints_is_not_kept(tmp_path, monkeypatch):
    p = Project(tmp_path)
    p.flowfile(SPLIT)
    p.write("data/a.txt", "".join(f"{i}\n" for i in range(9)))
    first = p.build()
    assert first.code == 0 and first.ran[-1] == "gather[sample=a]", first
    assert not p.exists(".fileflow/graph-cache")  # it read what a checkpoint job wrote
    p.write("data/a.txt", "".join(f"{i}\n" for i in range(3)))
    again, resolved = build(p, monkeypatch)
    assert again.code == 0 and resolved and "gather[sample=a]" in again.ran, again
    assert not p.exists(".fileflow/graph-cache")


def decided(p: Project, monkeypatch, *args: str):
    """A build, and the jobs its plan decided (by name)."""
    import fileflow.engine.plan

    names = []
    real = fileflow.engine.plan.decide

    def counting(facts, *a, **kw):
        names.append(facts.name)
        return real(facts, *a, **kw)

    with monkeypatch.context() as m:
        m.setattr(fileflow.engine.plan, "decide", counting)
        result = p.build(*args)
    return result, names


def test_the_next_plan_decides_only_what_may_have_changed(project, monkeypatch):
    """After a build that ran all it planned, the next one decides again only the jobs
    whose paths show another state, and those below a changed decision; the others keep
    theirs (what the last plan knew is in .fileflow/plan-state)."""
    assert project.exists(".fileflow/plan-state")
    time.sleep(0.02)  # past the file system's timestamp tick
    if project.exists(".fileflow/noop-cache"):  # the no-op shortcut aside: planned
        os.unlink(project.path(".fileflow/noop-cache"))
    nothing, names = decided(project, monkeypatch)
    # What the first build's jobs wrote was found as recorded at its end: those jobs are
    # not decided again for having run; `all`, with no outputs to vouch for, is.
    assert nothing.ran == [] and names == ["all"], names
    time.sleep(0.02)
    assert project.build().ran == []
    time.sleep(0.02)
    project.write("in/a.txt", "a changed\n")
    again, names = decided(project, monkeypatch)
    assert again.code == 0 and again.ran == ["copy[s=a,x=txt]"], again
    assert sorted(names) == ["all", "copy[s=a,x=txt]"]
    time.sleep(0.02)
    project.write("sheet/X.txt", "edited by hand\n")  # an output: its job is decided
    again, names = decided(project, monkeypatch)
    assert again.code == 0 and again.ran == ["sheet[t=X]"], again
    assert "copy[s=b,x=txt]" not in names and "sheet[t=X]" in names
    time.sleep(0.02)
    nothing, names = decided(project, monkeypatch)
    assert nothing.code == 0 and nothing.ran == [] and "nothing to do" in nothing.out, nothing


def records_read(p: Project, monkeypatch, *args: str):
    """A build, and the paths whose records it read from the run log, each call's (None:
    every record)."""
    import fileflow.runlog.log

    asked: list = []
    real = fileflow.runlog.log.RunLog.load_targets

    def counting(self, paths=None):
        asked.append(None if paths is None else sorted(paths))
        return real(self, paths)

    with monkeypatch.context() as m:
        m.setattr(fileflow.runlog.log.RunLog, "load_targets", counting)
        result = p.build(*args)
    return result, asked


def test_the_next_plan_reads_only_the_records_of_the_jobs_it_decides(project, monkeypatch):
    """With what the last plan knew, the run log's records are read for the paths of the
    jobs decided again, not for every path of the graph."""
    time.sleep(0.02)  # the first build's jobs and what they wrote: decided once more
    os.unlink(project.path(".fileflow/noop-cache"))  # (planned, not answered from the shortcut)
    assert project.build().ran == []
    time.sleep(0.02)
    project.write("in/a.txt", "a changed\n")
    again, asked = records_read(project, monkeypatch)
    assert again.code == 0 and again.ran == ["copy[s=a,x=txt]"], again
    assert None not in asked, asked
    read = {p for paths in asked for p in paths}
    assert read and read <= {"in/a.txt", "out/a.txt", "out/b.txt", "sheet/X.txt"}, read
    assert "in/b.txt" not in read and "ref.txt" not in read


def test_an_unchanged_input_of_a_job_decided_again_is_taken_at_the_digest_last_known(
        tmp_path, monkeypatch):
    """The kept plan state holds the digests the plan knew: a job decided again reads no
    record of an input whose state is the one vouched for, and still sees a change."""
    p = Project(tmp_path)
    p.flowfile("""
        rule all:
            input: "c.txt"
        rule c:
            input: "a.txt", "b.txt"
            output: "c.txt"
            shell: "cat {input} > {output}"
        """)
    p.write("a.txt", "a\n")
    p.write("b.txt", "b\n")
    assert p.build().ran == ["c"]
    time.sleep(0.02)
    os.unlink(p.path(".fileflow/noop-cache"))
    assert p.build().ran == []  # decides c against its record: the inputs' digests known
    time.sleep(0.02)
    p.write("a.txt", "a changed\n")
    again, asked = records_read(p, monkeypatch)
    assert again.code == 0 and again.ran == ["c"], again
    read = {path for paths in asked if paths is not None for path in paths}
    assert None not in asked and "c.txt" in read and "b.txt" not in read, asked
    assert p.read("c.txt") == "a changed\nb\n"


def test_outputs_a_killed_build_marked_started_are_decided_again(project, monkeypatch):
    """A build killed just after starting a job leaves its outputs marked incomplete in the
    run log, and the files as they were: the next build must not keep the kept plan's
    decision for that job (a partial output is never taken as done)."""
    from fileflow.runlog.log import JobStart, open_runlog

    time.sleep(0.02)
    os.unlink(project.path(".fileflow/noop-cache"))
    assert project.build().ran == []  # the plan state now vouches for every job's paths
    log = open_runlog(None, str(project.root))
    run = log.start_run(["fileflow", "-R", "copy"], str(project.root), "0")
    log.jobs_started(run, [JobStart("copy", "copy[s=a,x=txt]", {"s": "a", "x": "txt"},
                                    "cat in/a.txt > out/a.txt", ["forced"], 1, "local", "s",
                                    ["out/a.txt"], None)])
    log.close()
    again = project.build()
    assert again.code == 0 and again.ran == ["copy[s=a,x=txt]"], again


def test_another_write_to_the_run_log_or_forcing_decides_every_job(project, monkeypatch):
    time.sleep(0.02)
    project.write("in/a.txt", "a changed\n")
    forced, names = decided(project, monkeypatch, "-R", "sheet")
    assert sorted(forced.ran) == ["copy[s=a,x=txt]", "sheet[t=X]"], forced
    assert len(names) == 4  # forcing: every job decided, and no plan kept
    assert not project.exists(".fileflow/plan-state")
    assert project.build().ran == []  # kept again
    project.write("in/b.txt", "b changed\n")
    assert project.build("out/b.txt").ran == ["copy[s=b,x=txt]"]  # other targets
    time.sleep(0.02)
    project.write("ref.txt", "ref 2\n")
    again, names = decided(project, monkeypatch)  # the run log changed since the kept plan
    assert again.ran == ["sheet[t=X]"], again
    assert len(names) == 4


def test_a_failed_build_keeps_no_plan_for_the_next(project, monkeypatch):
    time.sleep(0.02)
    project.write("conf.yaml", "level: 1; exit 3\n")
    failed = project.build()
    assert failed.code != 0, failed
    project.write("conf.yaml", "level: 1\n")
    again, names = decided(project, monkeypatch)
    assert again.code == 0 and sorted(again.ran) == ["copy[s=a,x=txt]", "copy[s=b,x=txt]"], again
    assert len(names) == 4


HELPER_READS = """
    from "common.py" import samples, note
    rule all:
        input: expand("out/{s}.txt", s=samples())
    rule mk:
        output: "out/{s}.txt"
        params: note = note(wildcards)
        shell: "echo {params.note} > {output}"
    """

HELPER = """\
import csv, os
from pathlib import Path

with open("samples.tsv") as fh:
    SAMPLES = [r["sample"] for r in csv.DictReader(fh, delimiter="\\t")]
EXTRA = sorted(os.listdir("extra"))

def samples():
    return SAMPLES + EXTRA

def note(wildcards):
    return Path("notes.txt").read_text().strip() + "-" + wildcards.s
"""


@pytest.mark.parametrize("change, runs", [
    (lambda p: p.write("samples.tsv", "sample\nA\nB\n"), ["mk[s=B]"]),  # read on import
    (lambda p: p.write("extra/e2", ""), ["mk[s=e2]"]),                     # listed on import
    (lambda p: p.write("notes.txt", "other\n"), ["mk[s=A]", "mk[s=e1]"]),  # read per job
], ids=["sheet-read-by-helper", "folder-listed-by-helper", "file-read-per-job"])
def test_files_a_helper_module_reads_are_watched(tmp_path, monkeypatch, change, runs):
    """A sample sheet that the helper module reads itself (csv, pandas) is watched as one
    read with table() is: the no-op shortcut and the kept graph see it edited."""
    p = Project(tmp_path)
    p.flowfile(HELPER_READS)
    p.write("common.py", HELPER)
    p.write("samples.tsv", "sample\nA\n")
    p.write("extra/e1", "")
    p.write("notes.txt", "note\n")
    first, _ = build(p, monkeypatch)
    assert first.code == 0 and sorted(first.ran) == ["mk[s=A]", "mk[s=e1]"], first
    time.sleep(0.02)
    assert "nothing to do" in build(p, monkeypatch)[0].out
    time.sleep(0.02)  # past the file system's timestamp tick
    change(p)
    again, resolved = build(p, monkeypatch)
    assert again.code == 0 and resolved, again
    assert sorted(again.ran) == runs
    if "note" in str(runs):
        assert p.read("out/A.txt") == "other-A\n"


EMPTY_GROUP = """
    rule all:
        input: "shell.txt", "script.txt"
    rule by_shell:
        input: groups = expand("g/{g}.txt", g=[]), main = "a.txt"
        output: "shell.txt"
        log: notes = []
        shell: "echo [{input.groups}] [{log.notes}] [{input}] > {output}"
    rule by_script:
        input: groups = expand("g/{g}.txt", g=[]), main = "a.txt"
        output: "script.txt"
        script: "show.py"
    """


def test_a_kept_graph_keeps_the_names_given_an_empty_list(tmp_path, monkeypatch):
    import marshal

    p = Project(tmp_path)
    p.flowfile(EMPTY_GROUP)
    p.write("a.txt", "a\n")
    p.write("show.py", "from fileflow.script import job\n"
                       "open(job.output[0], 'w').write(f'{job.input.groups!r} {job.input.main}')\n")
    first, resolved = build(p, monkeypatch)
    assert first.code == 0 and resolved, first
    p.write("a.txt", "a 2\n")
    again, resolved = build(p, monkeypatch)
    assert again.code == 0 and not resolved and sorted(again.ran) == ["by_script", "by_shell"], again
    assert (p.read("shell.txt"), p.read("script.txt")) == ("[] [] [a.txt]\n", "[] a.txt")
    # A graph kept in the form that had no room for those names is resolved afresh.
    with open(p.path(".fileflow/graph-cache"), "rb") as fh:
        *head, data = marshal.loads(fh.read())
    jobs = tuple((*row[:3], *(items[:2] for items in row[3:7]), *row[7:]) for row in data[2])
    with open(p.path(".fileflow/graph-cache"), "wb") as fh:
        fh.write(marshal.dumps((*head, (1, data[1], jobs, *data[3:]))))
    p.write("a.txt", "a 3\n")
    again, resolved = build(p, monkeypatch)
    assert again.code == 0 and resolved and sorted(again.ran) == ["by_script", "by_shell"], again
    assert p.read("script.txt") == "[] a.txt"
