"""End to end: checkpoints, rules whose outputs decide the graph below them. The build runs
the checkpoint jobs, resolves again with what they wrote and runs the rest; `-n` shows what
runs up to each checkpoint and names the jobs decided after it."""
from __future__ import annotations

import os
import signal
import time

import psutil
import pytest
from buildkit import SPLIT, Project, kill_tree, wait_for


def _lines(n: int) -> str:
    return "".join(f"{i}\n" for i in range(n))


def split_project(tmp_path, lines: int = 9) -> Project:
    p = Project(tmp_path)
    p.flowfile(SPLIT)
    p.write("data/a.txt", _lines(lines))
    return p


def test_split_into_an_unknown_number_of_chunks_then_gather(tmp_path):
    p = split_project(tmp_path)
    r = p.build()
    assert r.code == 0, r
    assert r.ran[0] == "split[sample=a]"
    assert sorted(r.ran[1:-1]) == [f"count[sample=a,part=a{c}]" for c in "abcde"]
    assert r.ran[-1] == "gather[sample=a]"
    assert p.read("totals/a.n") == "9\n"
    assert "checkpoints done: the graph has 7 jobs (6 new); 6 to run" in r.out
    runs = p.runs()
    assert len(runs) == 1 and runs[0]["status"] == "success" and runs[0]["jobs_done"] == 7
    with p.runlog() as log:
        grown = log.extensions(runs[0]["id"])
    assert [(g["checkpoints"], g["jobs_added"]) for g in grown] == [(["split[sample=a]"], 6)]
    again = p.build()
    assert again.code == 0 and again.ran == [], again
    assert "nothing to do: all 7 jobs are up to date" in again.out


def test_the_graph_grows_where_it_waited_without_resolving_it_again(tmp_path, monkeypatch):
    """After the checkpoint jobs ran the walk resumes where jobs waited and only the jobs
    it adds (and those held) are planned: the Flowfile is loaded and the graph resolved
    once per build, and the jobs known before are not decided again."""
    import fileflow.cli.build
    import fileflow.engine.extend

    p = split_project(tmp_path)
    p.write("data/b.txt", _lines(3))
    p.flowfile(SPLIT.replace('default: "totals/a.n"', 'default: ["totals/a.n", "totals/b.n"]'))
    loads, decided = [], []
    real_load, real_extend = fileflow.cli.build.load_resolution, fileflow.engine.extend.extend_plan

    def load(*args, **kwargs):
        loads.append(1)
        return real_load(*args, **kwargs)

    def extend(plan, job_ids, *args):
        decided.extend(plan.graph.jobs[j].name for j in job_ids)
        return real_extend(plan, job_ids, *args)

    monkeypatch.setattr(fileflow.cli.build, "load_resolution", load)
    monkeypatch.setattr(fileflow.engine.extend, "extend_plan", extend)
    r = p.build()
    assert r.code == 0, r
    assert loads == [1]
    assert sorted(decided) == sorted([*(f"count[sample=a,part=a{c}]" for c in "abcde"),
                                      "count[sample=b,part=aa]", "count[sample=b,part=ab]",
                                      "gather[sample=a]", "gather[sample=b]"])
    assert p.read("totals/a.n") == "9\n" and p.read("totals/b.n") == "3\n"
    assert "checkpoints done: the graph has 11 jobs (9 new); 9 to run" in r.out


def test_temp_outputs_after_a_checkpoint_are_made_and_deleted_as_usual(tmp_path):
    """Jobs with temp() outputs below a checkpoint: the whole graph is decided again once
    it has run (a temp() file's record may stand in for it), and the count is right."""
    p = split_project(tmp_path)
    p.flowfile(SPLIT.replace('output: "counts/{sample}/{part}.n"',
                             'output: temp("counts/{sample}/{part}.n")'))
    r = p.build()
    assert r.code == 0, r
    assert "checkpoints done: the graph has 7 jobs (6 new); 6 to run" in r.out
    assert p.read("totals/a.n") == "9\n" and not p.exists("counts/a/aa.n")
    assert "nothing to do" in p.build().out


@pytest.mark.parametrize("force", [("-F",), ("-R", "split"), ("--force", "chunks/a")])
def test_a_forced_checkpoint_runs_once_and_the_build_ends(tmp_path, force):
    """A forced checkpoint job runs once: the round after it forces it no more (it would
    run again and again, each round holding the jobs that read it)."""
    p = split_project(tmp_path)
    assert p.build().code == 0
    r = p.run(*force, timeout=30)
    assert r.code == 0, r
    assert r.ran.count("split[sample=a]") == 1, r
    assert p.read("totals/a.n") == "9\n"


def test_the_runs_planned_count_takes_in_the_jobs_planned_after_each_checkpoint(tmp_path):
    """The run's `planned_jobs` (what a live view counts the jobs not started yet from)
    counts the jobs of every round: the split, then its five counts and the gather."""
    p = split_project(tmp_path)
    assert p.build().code == 0
    run_id = p.runs()[0]["id"]
    with p.runlog() as log:
        rows = log.query("SELECT value FROM meta WHERE key = :key",
                         {"key": f"planned_jobs:{run_id}"})
    assert [r["value"] for r in rows] == ["7"]


def test_dry_run_names_the_jobs_decided_after_each_checkpoint(tmp_path):
    p = split_project(tmp_path)
    r = p.build("-n")
    assert r.code == 0, r
    assert r.out.splitlines() == [
        "job split[sample=a]",
        "    output: chunks/a",
        "    reason: output 'chunks/a' is missing",
        "job gather[sample=a]: decided after checkpoint split[sample=a] runs",
        "",
        "rule   jobs",
        "split  1",
        "total  1",
        "",
        "dry run: 1 of 1 jobs would run; more once 1 checkpoint job(s) have run",
    ]
    assert not p.exists("chunks")


def test_a_checkpoint_already_up_to_date_leaves_the_whole_graph_known(tmp_path):
    p = split_project(tmp_path)
    assert p.build().code == 0
    os.unlink(p.path("totals/a.n"))
    r = p.build("-n")
    assert r.code == 0, r
    assert "decided after" not in r.out
    assert "dry run: 1 of 7 jobs would run" in r.out
    assert p.build().ran == ["gather[sample=a]"]


def test_the_split_count_changing_drops_the_vanished_chunks_jobs(tmp_path):
    p = split_project(tmp_path, 9)                    # 5 chunks
    early = p.build("clean", "--orphans")             # the jobs below the split are not known
    assert early.code == 2 and "build first" in early.err, early
    assert p.build().code == 0
    p.write("data/a.txt", _lines(5))                  # 3 chunks
    dry = p.build("-n")
    assert "job count[sample=a,part=ae]: decided after checkpoint split[sample=a] runs" in dry.out
    r = p.build()
    assert r.code == 0, r
    # the chunks aa and ab came out unchanged: only the last one is counted again
    assert r.ran == ["split[sample=a]", "count[sample=a,part=ac]", "gather[sample=a]"]
    assert p.read("totals/a.n") == "5\n"
    again = p.build("-n")
    assert "nothing to do: all 5 jobs are up to date" in again.out, again


BRANCH = """
    rule all:
        input: "result/a.txt", "result/b.txt"

    checkpoint qc:
        input: "data/{sample}.txt"
        output: "qc/{sample}.txt"
        shell: "if grep -q bad {input}; then echo fail > {output}; else echo pass > {output}; fi"

    rule good:
        input: "data/{sample}.txt"
        output: "good/{sample}.txt"
        shell: "echo good > {output}"

    rule rescue:
        input: "data/{sample}.txt"
        output: "rescued/{sample}.txt"
        shell: "echo rescued > {output}"

    rule result:
        input: ("good/{sample}.txt"
                if read_text(checkpoints.qc.get(sample=wildcards.sample).output[0]) == "pass"
                else "rescued/{sample}.txt")
        output: "result/{sample}.txt"
        shell: "cp {input} {output}"
    """


def test_branching_on_a_checkpoint_files_content(tmp_path):
    p = Project(tmp_path)
    p.flowfile(BRANCH)
    p.write("data/a.txt", "fine\n")
    p.write("data/b.txt", "bad\n")
    r = p.build()
    assert r.code == 0, r
    assert set(r.ran) == {"qc[sample=a]", "qc[sample=b]", "good[sample=a]", "rescue[sample=b]",
                          "result[sample=a]", "result[sample=b]"}
    assert p.read("result/a.txt") == "good\n" and p.read("result/b.txt") == "rescued\n"
    assert not p.exists("good/b.txt") and not p.exists("rescued/a.txt")
    p.write("data/b.txt", "fine now\n")               # the branch taken changes
    r = p.build()
    assert r.code == 0, r
    assert {"qc[sample=b]", "good[sample=b]", "result[sample=b]"} <= set(r.ran)
    assert p.read("result/b.txt") == "good\n"


STACKED = """
    default: "report.txt"

    checkpoint samples:
        output: "samples.txt"
        shell: "printf 'x\\ny\\n' > {output}"

    checkpoint split:
        input: "samples.txt"
        output: directory("parts/{s}")
        shell: ("mkdir -p {output} && echo {wildcards.s} > {output}/p1 && "
                "if [ {wildcards.s} = y ]; then echo y > {output}/p2; fi")

    rule part:
        input: "parts/{s}/{p}"
        output: "done/{s}/{p}"
        shell: "cp {input} {output}"

    rule per_sample:
        input: expand("done/{s}/{p}", s=wildcards.s,
                      p=glob_wildcards(checkpoints.split.get(s=wildcards.s).output[0] + "/{p}").p)
        output: "sample/{s}.txt"
        shell: "cat {input} > {output}"

    rule report:
        input: expand("sample/{s}.txt", s=read_text(checkpoints.samples.get().output[0]).split())
        output: "report.txt"
        shell: "cat {input} > {output}"
    """


def test_a_checkpoint_below_another_checkpoint(tmp_path):
    p = Project(tmp_path)
    p.flowfile(STACKED)
    r = p.build()
    assert r.code == 0, r
    assert r.ran[0] == "samples"
    assert {"split[s=x]", "split[s=y]", "part[s=x,p=p1]", "part[s=y,p=p1]", "part[s=y,p=p2]",
            "per_sample[s=x]", "per_sample[s=y]", "report"} == set(r.ran[1:])
    assert p.read("report.txt") == "x\ny\ny\n"
    assert p.build().ran == []


FAILING = """
    rule all:
        input: "totals/a.n", "totals/b.n"

    checkpoint split:
        input: "data/{sample}.txt"
        output: directory("chunks/{sample}")
        shell: "grep -q fail {input} && exit 1; mkdir -p {output} && split -l 2 {input} {output}/part_"

    rule gather:
        input: expand("chunks/{sample}/part_{part}", sample=wildcards.sample,
                      part=glob_wildcards(checkpoints.split.get(sample=wildcards.sample).output[0]
                                          + "/part_{part}").part)
        output: "totals/{sample}.n"
        shell: "cat {input} | wc -l | tr -d ' ' > {output}"
    """


def test_a_failing_checkpoint_with_keep_going_lets_the_other_branches_finish(tmp_path):
    p = Project(tmp_path)
    p.flowfile(FAILING)
    p.write("data/a.txt", _lines(3))
    p.write("data/b.txt", "fail\n")
    r = p.build("-k")
    assert r.code == 1, r
    assert p.read("totals/a.n") == "3\n"
    assert not p.exists("totals/b.n")
    assert r.ran.count("split[sample=b]") == 1        # not retried by the second round
    assert "failed: split[sample=b]" in r.err
    without = Project(tmp_path)                       # without -k: the first failure stops it
    os.unlink(p.path("totals/a.n"))
    r = without.build()
    assert r.code == 1, r


@pytest.mark.own_process
@pytest.mark.parametrize("how", ["kill -9", "Ctrl-C"])
def test_stopped_while_a_checkpoint_runs_then_the_next_build_finishes(tmp_path, how):
    p = Project(tmp_path)
    p.flowfile(SPLIT.replace(
        'shell: "mkdir -p {output} && split -l 2 {input} {output}/part_"',
        'shell: "mkdir -p {output} && split -l 2 {input} {output}/part_ && echo $$ > split.pid '
        '&& if [ -e slow ]; then sleep 300; fi"'))
    p.write("data/a.txt", _lines(9))
    p.write("slow", "")
    proc = p.popen("build", "-j", "1")
    try:
        wait_for(lambda: p.exists("split.pid") and p.read("split.pid").strip() != "",
                 what="the checkpoint job to start")
        if how == "kill -9":
            proc.kill()                                # no cleanup of any kind
            proc.communicate(timeout=30)
            job = psutil.Process(int(p.read("split.pid")))
            for child in job.children(recursive=True):
                child.kill()
            job.kill()
            assert p.exists("chunks/a/part_aa")        # looks complete, is not
        else:
            proc.send_signal(signal.SIGINT)
            proc.communicate(timeout=30)
            assert proc.returncode == 130
    finally:
        kill_tree(proc)
    os.unlink(p.path("slow"))
    r = p.build()
    assert r.code == 0, r
    assert r.ran[0] == "split[sample=a]" and r.ran[-1] == "gather[sample=a]"
    assert len(r.ran) == 7
    assert p.read("totals/a.n") == "9\n"
    assert p.build().ran == []


def test_an_unknown_checkpoint_name_is_an_error_at_its_place(tmp_path):
    p = Project(tmp_path)
    p.flowfile(SPLIT.replace("checkpoints.split.get", "checkpoints.splt.get"))
    r = p.build("-n")
    assert r.code == 2, r
    assert ("Flowfile:15:39: error: checkpoints.splt: no checkpoint named 'splt'; "
            "did you mean 'split'?") in r.err


def test_get_on_a_rule_that_is_not_a_checkpoint_is_an_error(tmp_path):
    p = Project(tmp_path)
    p.flowfile(SPLIT.replace("checkpoint split:", "rule split:"))
    r = p.run("check", log=False)
    assert r.code == 2, r
    assert "Flowfile:15:39: error: checkpoints.split: rule 'split' is not a checkpoint" in r.err
    assert "write 'checkpoint split:' instead of 'rule split:'" in r.err


def test_graph_marks_checkpoints_and_the_jobs_decided_after_them(tmp_path):
    p = split_project(tmp_path, 3)
    assert p.build().code == 0
    p.write("data/a.txt", _lines(4))                  # the checkpoint runs again
    dot = p.build("graph")
    assert dot.code == 0, dot
    assert 'n1 [label="split\\nsample=a", fillcolor="#fff1bf", color="#b7791f", shape=hexagon, ' \
           'tooltip="will run"];' in dot.out
    assert 'label="gather\\nsample=a", fillcolor="#e3ecfa", color="#3b6bb5", ' \
           'tooltip="after a checkpoint"]' in dot.out
    text = p.build("graph", "--format", "text")
    assert "├─ split[sample=a] (checkpoint)  [will run]: input 'data/a.txt' changed" in text.out
    why = p.build("why", "totals/a.n")
    assert why.out == ("totals/a.n: decided after checkpoint split[sample=a] runs (what it "
                       "writes decides the jobs that make this file)\n")
    summary = p.build("summary")
    assert "totals/a.n     decided after a checkpoint job runs  gather[sample=a]" in summary.out


def test_a_file_inside_a_checkpoints_folder_asked_for_alone(tmp_path):
    p = split_project(tmp_path, 3)
    r = p.build("counts/a/ab.n")
    assert r.code == 0, r
    assert r.ran == ["split[sample=a]", "count[sample=a,part=ab]"]
    assert p.read("counts/a/ab.n") == "1\n"


def test_the_vanished_chunks_outputs_are_orphans_that_clean_orphans_deletes(tmp_path):
    p = split_project(tmp_path, 9)                    # 5 chunks
    early = p.build("clean", "--orphans")             # the jobs below the split are not known
    assert early.code == 2 and "build first" in early.err, early
    assert p.build().code == 0
    p.write("data/a.txt", _lines(5))                  # 3 chunks
    assert p.build().code == 0
    summary = p.build("summary")
    assert summary.code == 0, summary
    orphaned = [line.split()[0] for line in summary.out.splitlines() if "orphaned" in line]
    assert orphaned == ["counts/a/ad.n", "counts/a/ae.n"]
    assert ("counts/a/ad.n  orphaned: no job of the workflow makes it any more "
            "(fileflow clean --orphans)") in summary.out
    dry = p.build("clean", "--orphans", "-n")
    assert dry.out.splitlines() == ["would remove counts/a/ad.n", "would remove counts/a/ae.n"]
    assert p.exists("counts/a/ad.n")
    r = p.build("clean", "--orphans")
    assert r.code == 0, r
    assert r.out.splitlines() == ["removed counts/a/ad.n", "removed counts/a/ae.n"]
    assert not p.exists("counts/a/ad.n") and p.exists("counts/a/ac.n")
    assert "orphaned" not in p.build("summary").out
    assert p.build("clean", "--orphans").out == "nothing to clean\n"


def test_a_job_that_read_a_checkpoint_is_retried_with_its_next_attempts_resources(tmp_path):
    p = split_project(tmp_path, 3)
    p.flowfile(SPLIT.replace('''        output: "totals/{sample}.n"
        shell: "cat {input} | paste -sd+ - | bc > {output}"''', '''        output: "totals/{sample}.n"
        retries: 1
        resources: mem_mb = 100 * attempt
        shell: ("if [ ! -e tried ]; then touch tried; exit 1; fi; "
                "echo {resources.mem_mb} > {output}")'''))
    r = p.build()
    assert r.code == 0, r
    assert r.ran.count("gather[sample=a]") == 2
    assert p.read("totals/a.n") == "200\n"


def test_a_noop_after_the_checkpoints_ran_takes_the_shortcut_and_sees_a_new_chunk(tmp_path,
                                                                                  monkeypatch):
    """With every checkpoint done the graph is known: the next no-op is answered from the
    no-op cache, which watches the folders glob_wildcards() listed in the checkpoint's
    output, so a chunk added there by hand sends the build back to the full decision (which
    remakes the checkpoint's output: it changed since its job made it)."""
    import fileflow.cli.build

    p = split_project(tmp_path)
    assert p.build().code == 0
    time.sleep(0.02)  # past the file system's timestamp tick
    assert "nothing to do" in p.build(log=False).out

    def loaded(*args, **kwargs):
        raise LookupError("the Flowfile was loaded")

    with monkeypatch.context() as m:
        m.setattr(fileflow.cli.build, "load_resolution", loaded)
        assert "nothing to do" in p.build(log=False).out   # from the cache alone
        time.sleep(0.02)
        p.write("chunks/a/part_zz", "extra\n")
        with pytest.raises(LookupError):
            p.build(log=False)
    r = p.build()
    assert r.code == 0, r
    assert r.ran == ["split[sample=a]"]      # the same chunks again: nothing below reruns
    assert not p.exists("chunks/a/part_zz") and p.read("totals/a.n") == "9\n"
