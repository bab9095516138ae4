"""End to end: every reason a job runs, and every reason it does not (real processes, real
files, the real SQLite run log). Each test builds once, changes one thing, builds again and
checks exactly which jobs the second build started (from the run log)."""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import time

import pytest
from buildkit import Project
from conftest import need_service

# a -> b: "a" copies in.txt, "b" copies a's output. `wc -c` keeps a's output byte-identical
# when in.txt changes but keeps its size (early cutoff).
CHAIN = """
    rule all:
        input: "b.txt"

    rule a:
        input: "in.txt"
        output: "a.txt"
        shell: "cp {input} {output}"

    rule b:
        input: "a.txt"
        output: "b.txt"
        shell: "cp {input} {output}"
    """


@pytest.fixture
def chain(tmp_path) -> Project:
    p = Project(tmp_path)
    p.flowfile(CHAIN)
    p.write("in.txt", "one\n")
    first = p.build()
    assert first.code == 0, first
    assert first.ran == ["a", "b"]
    return p


def reasons(result, name: str) -> str:
    return " | ".join(r for j in result.jobs if j["name"] == name for r in j["reasons"])


# ---------------------------------------------------------------- missing, up to date

def test_missing_output_runs_and_second_build_does_nothing(chain):
    assert chain.read("b.txt") == "one\n"
    again = chain.build()
    assert again.code == 0, again
    assert again.ran == []
    assert "nothing to do" in again.out


def test_deleted_output_reruns_only_its_job(chain):
    os.unlink(chain.path("b.txt"))
    again = chain.build()
    assert again.ran == ["b"]
    assert "'b.txt' is missing" in reasons(again, "b")


def test_deleted_intermediate_reruns_it_and_cuts_off_below(chain):
    b_before = chain.mtime_ns("b.txt")
    os.unlink(chain.path("a.txt"))
    again = chain.build()
    assert again.code == 0, again
    assert again.ran == ["a"]          # a's output came out identical: b is not run
    assert chain.mtime_ns("b.txt") == b_before
    assert "skip b" in again.out


# ---------------------------------------------------------------- incomplete outputs

def _mark_started(project: Project, rule: str, outputs: list[str]) -> None:
    """What a build leaves behind when it is killed while a job runs: the job recorded as
    started and its outputs as incomplete, and nothing after."""
    from fileflow.runlog.log import JobStart

    with project.runlog() as log:
        run = log.start_run(["fileflow"], str(project.root), "test")
        log.jobs_started(run, [JobStart(rule, rule, {}, "true", ["test"], 1, "local", "sig",
                                        outputs, None)])


def test_incomplete_output_reruns_exactly_that_job(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule all:
            input: "x.txt", "y.txt"
        rule x:
            output: "x.txt"
            shell: "echo x > {output}"
        rule y:
            output: "y.txt"
            shell: "echo y > {output}"
        """)
    assert p.build().ran == ["x", "y"]
    _mark_started(p, "y", ["y.txt"])   # the process never finished; y.txt looks fine on disk
    again = p.build()
    assert again.code == 0, again
    assert again.ran == ["y"]
    assert "incomplete" in reasons(again, "y")
    assert p.build().ran == []


# ---------------------------------------------------------------- signature

def test_changed_command_reruns(chain):
    chain.flowfile(CHAIN.replace('shell: "cp {input} {output}"\n\n    rule b',
                                 'shell: "cat {input} > {output}"\n\n    rule b'))
    again = chain.build()
    assert again.code == 0, again
    assert again.ran == ["a"]                  # same bytes out: b is cut off
    assert "command or params changed" in reasons(again, "a")
    assert chain.build().ran == []


def test_changed_params_rerun_even_when_unused_by_the_command(tmp_path):
    p = Project(tmp_path)
    flow = """
        rule a:
            output: "a.txt"
            params: level = {level}
            shell: "echo same > {{output}}"
        """
    p.flowfile(flow.format(level=1))
    assert p.build().ran == ["a"]
    assert p.build().ran == []
    p.flowfile(flow.format(level=2))
    again = p.build()
    assert again.ran == ["a"]
    assert "command or params changed" in reasons(again, "a")


def test_changed_set_of_inputs_reruns(chain):
    chain.write("extra.txt", "extra\n")
    flow = CHAIN.replace('input: "in.txt"', 'input: "in.txt", "extra.txt"')
    chain.flowfile(flow.replace('"cp {input} {output}"', '"cat {input} > {output}"', 1))
    again = chain.build()
    assert again.code == 0, again
    assert again.ran == ["a", "b"]
    assert "set of inputs changed" in reasons(again, "a")
    assert "added: 'extra.txt'" in reasons(again, "a")


def test_changed_input_content_reruns_the_chain(chain):
    chain.write("in.txt", "two\nlines\n")
    again = chain.build()
    assert again.code == 0, again
    assert again.ran == ["a", "b"]
    assert "'in.txt' changed" in reasons(again, "a")
    # b is decided again once a is done: its input came out different
    assert "'a.txt' changed" in reasons(again, "b") or "upstream job a" in reasons(again, "b")
    assert chain.read("b.txt") == "two\nlines\n"


def test_early_cutoff_skips_dependents_of_a_job_whose_output_did_not_change(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule all:
            input: "report.txt"
        rule count:
            input: "in.txt"
            output: "count.txt"
            shell: "wc -l < {input} > {output}"
        rule report:
            input: "count.txt"
            output: "report.txt"
            shell: "echo lines: $(cat {input}) > {output}"
        """)
    p.write("in.txt", "a\nb\n")
    assert p.build().ran == ["count", "report"]
    report_mtime = p.mtime_ns("report.txt")
    p.write("in.txt", "c\nd\n")          # content changed, line count did not
    again = p.build()
    assert again.code == 0, again
    assert again.ran == ["count"]
    assert p.mtime_ns("report.txt") == report_mtime
    assert p.build().ran == []            # and the cut-off job is not owed a run later
    p.write("in.txt", "c\nd\ne\n")        # now the count changes: report runs
    assert p.build().ran == ["count", "report"]
    assert p.read("report.txt") == "lines: 3\n"


PYTHON_FUNCTIONS = """
    from "workflow/common.py" import get_fastq, read_group, samples

    rule all:
        input: expand("out/{s}.txt", s=samples())

    rule align:
        input: get_fastq(wildcards)
        output: "out/{sample}.txt"
        params: rg = read_group(wildcards)
        shell: "cat {input} > {output}"
    """
COMMON = """\
READS = {"a": "raw/a.fq", "b": "raw/b.fq", "c": "raw/c.fq"}
GROUPS = {"a": "g1", "b": "g1", "c": "g1"}
def get_fastq(wildcards):
    return READS[wildcards.sample]
def read_group(wildcards):
    return GROUPS[wildcards.sample]
def samples():
    return sorted(READS)
"""


def test_a_changed_python_function_reruns_exactly_the_jobs_whose_values_changed(tmp_path):
    """guarantees.md: Staleness: mtime filters, the content hash decides."""
    p = Project(tmp_path)
    p.flowfile(PYTHON_FUNCTIONS)
    for name in ("a", "b", "c", "b2"):
        p.write(f"raw/{name}.fq", f"{name}\n")
    p.write("workflow/common.py", COMMON)
    assert p.build().ran_set == {"align[sample=a]", "align[sample=b]", "align[sample=c]"}
    assert p.build().ran == []
    p.write("workflow/common.py", COMMON.replace('"b": "raw/b.fq"', '"b": "raw/b2.fq"'))
    again = p.build()
    assert again.code == 0, again
    assert again.ran == ["align[sample=b]"]    # a path the function returns for b changed
    assert p.read("out/b.txt") == "b2\n"
    p.write("workflow/common.py", COMMON.replace('"b": "raw/b.fq"', '"b": "raw/b2.fq"')
            .replace('"c": "g1"', '"c": "g2"'))
    again = p.build()
    assert again.ran == ["align[sample=c]"]    # a param the function returns for c changed
    assert "command or params changed" in reasons(again, "align[sample=c]")
    assert p.build().ran == []


def test_an_exception_in_a_python_function_names_the_job_and_the_line(tmp_path):
    """guarantees.md: Errors in words, never a traceback."""
    p = Project(tmp_path)
    p.flowfile(PYTHON_FUNCTIONS)
    p.write("workflow/common.py", COMMON.replace('"c": "g1"', '"d": "g1"'))
    result = p.build()
    assert result.code == 2
    assert result.ran == []
    assert ("Flowfile:9:18: error: read_group() raised KeyError: 'c' at workflow/common.py:6 "
            "(return GROUPS[wildcards.sample]) (evaluating job align[sample=c], needed by all)"
            ) in result.err
    assert "Traceback" not in result.err


# ---------------------------------------------------------------- mtime vs content

def test_touch_without_content_change_does_not_rerun(chain):
    later = chain.mtime_ns("in.txt") + 10 * 10**9
    chain.set_mtime_ns("in.txt", later)
    again = chain.build()
    assert again.code == 0, again
    assert again.ran == []
    assert chain.build().ran == []


def test_touch_of_an_intermediate_output_does_not_rerun(chain):
    chain.set_mtime_ns("a.txt", chain.mtime_ns("a.txt") + 10 * 10**9)
    assert chain.build().ran == []
    # its new stat is recorded, so the next build takes the digest from the record
    st = os.stat(chain.path("a.txt"))
    rec = chain.recorded()["a.txt"]
    assert (rec.mtime_ns, rec.ctime_ns) == (st.st_mtime_ns, st.st_ctime_ns)


def test_output_edited_by_hand_reruns_its_job_and_cuts_off_below(chain):
    chain.write("a.txt", "edited\n")
    again = chain.build()
    assert again.code == 0, again
    assert again.ran == ["a"]          # b's input came out as recorded: early cutoff
    assert "output 'a.txt' changed since its job made it" in reasons(again, "a")
    assert chain.read("a.txt") == "one\n"
    assert chain.build().ran == []


def test_touch_option_accepts_an_output_edited_by_hand(chain):
    chain.write("b.txt", "mine\n")
    why = chain.build("why", "b.txt", log=False)
    assert "output 'b.txt' changed" in why.out and "--touch" in why.out
    assert chain.build("--touch").code == 0
    assert chain.build().ran == []
    assert chain.read("b.txt") == "mine\n"


@pytest.mark.parametrize("new", ["ONE\n", "one!\n"], ids=["same-size", "other-size"])
def test_content_change_with_mtime_restored_reruns(chain, new):
    st = os.stat(chain.path("in.txt"))
    chain.write("in.txt", new)
    os.utime(chain.path("in.txt"), ns=(st.st_atime_ns, st.st_mtime_ns))
    assert chain.mtime_ns("in.txt") == st.st_mtime_ns
    again = chain.build()
    assert again.ran == ["a", "b"]
    assert chain.read("b.txt") == new


@pytest.mark.parametrize("how", ["rewrite", "replace"])
def test_git_checkout_style_rewrite_of_same_bytes_does_not_rerun(chain, how):
    """git checkout writes files anew: same bytes, new mtime (and with `replace`, a new
    inode)."""
    data = chain.path("in.txt").read_bytes()
    if how == "rewrite":
        chain.path("in.txt").write_bytes(data)
    else:
        chain.path("in.txt.new").write_bytes(data)
        os.replace(chain.path("in.txt.new"), chain.path("in.txt"))
    chain.set_mtime_ns("in.txt", chain.mtime_ns("in.txt") + 5 * 10**9)
    assert chain.build().ran == []


def test_input_edited_while_its_consumer_runs_reruns_it_next_time(tmp_path):
    """The input digests are taken before the job starts, so an edit made while it ran is
    a change the next build sees (guarantees.md: Edits during a build and clock skew)."""
    p = Project(tmp_path)
    p.flowfile("""
        rule a:
            input: "in.txt"
            output: "a.txt"
            shell: "cp {input} {output}; echo edited-meanwhile >> {input}"
        """)
    p.write("in.txt", "v1\n")
    assert p.build().ran == ["a"]
    again = p.build()
    assert again.ran == ["a"]
    assert "'in.txt' changed" in reasons(again, "a")


def test_output_older_than_its_input_after_the_job_is_no_endless_loop(tmp_path):
    """Clock skew: the job leaves its output with an mtime older than the input's. The
    record, not the mtimes, decides (guarantees.md: Edits during a build and clock skew)."""
    p = Project(tmp_path)
    p.flowfile("""
        rule a:
            input: "in.txt"
            output: "a.txt"
            shell: "cp {input} {output}; touch -d '2001-01-01' {output}"
        """)
    p.write("in.txt", "x\n")
    first = p.build()
    assert first.ran == ["a"]
    assert "made outputs dated before its inputs" in first.err  # said once, not fatal
    assert p.mtime_ns("a.txt") < p.mtime_ns("in.txt")
    assert p.build().ran == []
    assert p.build().ran == []


def test_input_with_a_future_mtime_gives_a_stable_decision(chain):
    """An input dated in the future must not rerun anything forever (guarantees.md: Edits
    during a build and clock skew)."""
    chain.set_mtime_ns("in.txt", chain.mtime_ns("in.txt") + 365 * 86400 * 10**9)
    quiet = chain.build()
    assert quiet.ran == []
    assert "modification time in the future ('in.txt')" in quiet.err
    chain.write("in.txt", "changed\n")
    chain.set_mtime_ns("in.txt", chain.mtime_ns("in.txt") + 365 * 86400 * 10**9)
    assert chain.build().ran == ["a", "b"]
    assert chain.build().ran == []


# ---------------------------------------------------------------- ancient

def test_ancient_input_change_does_not_rerun(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule a:
            input: ref = ancient("ref.txt"), data = "in.txt"
            output: "a.txt"
            shell: "cat {input.ref} {input.data} > {output}"
        """)
    p.write("ref.txt", "ref v1\n")
    p.write("in.txt", "data\n")
    assert p.build().ran == ["a"]
    p.write("ref.txt", "ref v2, much longer\n")
    assert p.build().ran == []
    p.write("in.txt", "data v2\n")            # a normal input still counts
    assert p.build().ran == ["a"]
    assert p.read("a.txt") == "ref v2, much longer\ndata v2\n"


# ---------------------------------------------------------------- no record: Make's rule

def test_outputs_made_outside_fileflow_follow_makes_rule(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule a:
            input: "in.txt"
            output: "a.txt"
            shell: "cp {input} {output}"
        """)
    p.write("in.txt", "input\n")
    p.write("a.txt", "made by hand\n")
    p.age("in.txt", 100)                      # input older than the output: up to date
    older = p.build()
    assert older.code == 0, older
    assert older.ran == []
    assert p.read("a.txt") == "made by hand\n"
    p.age("a.txt", 1000)                      # now the output is older: run
    newer = p.build()
    assert newer.ran == ["a"]
    assert "newer than output 'a.txt'" in reasons(newer, "a")
    assert p.read("a.txt") == "input\n"


# ---------------------------------------------------------------- forcing

def test_forceall_runs_everything(chain):
    again = chain.build("-F")
    assert again.code == 0, again
    assert again.ran == ["a", "b"]
    assert "-F/--forceall" in reasons(again, "a")


def test_forcerun_rule_runs_its_jobs(chain):
    again = chain.build("-R", "b")
    assert again.code == 0, again
    assert again.ran == ["b"]
    assert "-R b" in reasons(again, "b")


def test_forcerun_rule_with_changed_output_runs_its_dependents(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule all:
            input: "b.txt"
        rule a:
            output: "a.txt"
            shell: "date +%s%N > {output}"
        rule b:
            input: "a.txt"
            output: "b.txt"
            shell: "cp {input} {output}"
        """)
    assert p.build().ran == ["a", "b"]
    assert p.build("-R", "a").ran == ["a", "b"]


def test_force_target_runs_only_that_job(chain):
    again = chain.build("--force", "a.txt")
    assert again.code == 0, again
    assert again.ran == ["a"]       # b: a's output is identical, early cutoff
    assert "--force" in reasons(again, "a")


def test_force_matches_outputs_however_the_flowfile_spells_them(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule all:
            input: "./b.txt"
        rule a:
            output: "./a.txt"
            shell: "echo a > {output}"
        rule b:
            input: "a.txt"
            output: "b.txt"
            shell: "cp {input} {output}"
        """)
    assert p.build().ran == ["a", "b"]
    for spelling in ("a.txt", "./a.txt"):
        again = p.build("--force", spelling)
        assert again.code == 0, again
        assert again.ran == ["a"], spelling


def test_force_of_something_this_build_does_not_make_is_an_error(chain):
    r = chain.build("--force", "nothing-makes-this.txt")
    assert r.code == 2, r
    assert "nothing-makes-this.txt" in r.err
    assert r.ran == []


def test_unknown_forcerun_rule_is_a_usage_error(chain):
    bad = chain.build("-R", "nope")
    assert bad.code == 2
    assert "nope" in bad.err


# ---------------------------------------------------------------- --touch

def test_touch_marks_up_to_date_without_running(chain):
    chain.write("in.txt", "changed\n")
    a_before = chain.path("a.txt").read_bytes()
    touched = chain.build("--touch")
    assert touched.code == 0, touched
    assert touched.ran == []
    assert chain.path("a.txt").read_bytes() == a_before      # nothing ran
    assert chain.build().ran == []


def test_touch_leaves_missing_outputs_missing_and_records_the_rest(chain):
    """As Snakemake's --touch: a missing output is not created (an empty file would pass
    for a result); a warning names it, the outputs that exist are recorded, and the next
    build runs the jobs of the missing ones."""
    chain.write("in.txt", "two\n")
    os.unlink(chain.path("b.txt"))
    touched = chain.build("--touch")
    assert touched.code == 0, touched
    assert touched.ran == []
    assert "not touched because they do not exist: b.txt" in touched.err
    assert not chain.exists("b.txt")
    assert chain.recorded()["a.txt"].complete
    again = chain.build()
    assert again.ran == ["b"]
    assert chain.read("b.txt") == "one\n"           # a.txt was kept as touched


def test_touch_keeps_outputs_made_by_fileflow_for_clean(chain):
    """An output recorded by --touch unchanged from what its job made is still fileflow's:
    `clean` deletes it (guarantees.md: What clean may delete)."""
    chain.flowfile(CHAIN.replace('shell: "cp {input} {output}"\n\n    rule b',
                                 'shell: "cp -- {input} {output}"\n\n    rule b'))
    touched = chain.build("--touch")
    assert touched.code == 0, touched
    assert "touched: 2 outputs" in touched.out
    r = chain.build("clean", log=False)
    assert r.code == 0, r
    assert "kept" not in r.out
    assert not chain.exists("a.txt") and not chain.exists("b.txt")


def test_touch_with_a_deleted_temp_intermediate(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule all:
            input: "final.txt"
        rule mid:
            input: "in.txt"
            output: temp("mid.txt")
            shell: "cp {input} {output}"
        rule final:
            input: "mid.txt"
            output: "final.txt"
            shell: "cp {input} {output}"
        """)
    p.write("in.txt", "a\n")
    assert p.build().ran == ["mid", "final"]
    assert not p.exists("mid.txt")
    p.write("in.txt", "b\n")
    touched = p.build("--touch")
    assert touched.code == 0, touched
    assert touched.ran == []
    assert not p.exists("mid.txt")
    assert p.build().ran == []
    assert p.read("final.txt") == "a\n"          # --touch never runs anything


def test_a_rule_without_outputs_runs_each_time_it_is_asked_for(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule report:
            input: "in.txt"
            shell: "cat {input} >> seen.txt"
        rule hello:
            shell: "echo hi >> hello.txt"
        """)
    p.write("in.txt", "x\n")
    first = p.build()
    assert first.code == 0 and first.ran == ["report"], first
    assert "it has no outputs to check" in first.out
    assert p.build().ran == ["report"]         # the default target, every time
    assert p.read("seen.txt") == "x\nx\n"
    assert p.build("hello").ran == ["hello"]   # no inputs either: asked for, it runs
    assert p.build("hello", "report").ran_set == {"hello", "report"}
    assert p.read("hello.txt") == "hi\nhi\n"


# ---- racily clean files and symlinks (guarantees.md: Staleness: mtime filters, the content
# hash decides) -----------------------------------------------------------------------------

COPY = """
    rule copy:
        input: "in.txt"
        output: "out.txt"
        shell: "cp {input} {output}"
    """


def test_symlinked_input_pointed_at_another_file_of_the_same_stat_reruns(tmp_path):
    """The link's target is part of the input's state: b.txt has a.txt's size and times,
    even its ctime on a file system whose clock did not move between the two writes, and
    only the link says that in.txt is another file now."""
    p = Project(tmp_path)
    p.flowfile(COPY)
    p.write("a.txt", "aaa")
    p.write("b.txt", "bbb")
    os.utime(p.path("a.txt"), ns=(10**18, 10**18))
    os.utime(p.path("b.txt"), ns=(10**18, 10**18))
    os.symlink("a.txt", p.path("in.txt"))
    assert p.build().ran == ["copy"]
    os.unlink(p.path("in.txt"))
    os.symlink("b.txt", p.path("in.txt"))
    again = p.build()
    assert again.ran == ["copy"], again
    assert p.read("out.txt") == "bbb"
    assert p.build().ran == []


def _racy_record(p: Project, path: str) -> None:
    """Make the run log's record of `path` what a file system of coarse timestamps leaves
    after a same-size edit in the tick it was recorded in: the stat the file has now, the
    digest of what it held before, taken in the same tick (seen_ns, where the run log has
    it, equal to the file's mtime)."""
    st = os.stat(p.path(path))
    conn = sqlite3.connect(p.path(".fileflow/runlog.db"))
    try:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(files)")}
        conn.execute("UPDATE files SET size = ?, mtime_ns = ?, ctime_ns = ? WHERE path = ?",
                     (st.st_size, st.st_mtime_ns, st.st_ctime_ns, path))
        if "seen_ns" in columns:
            conn.execute("UPDATE files SET seen_ns = ? WHERE path = ?", (st.st_mtime_ns, path))
        conn.commit()
    finally:
        conn.close()


def test_input_recorded_in_the_tick_of_a_same_size_edit_reruns(tmp_path):
    """Git's "racily clean" files: an edit of the same size in the timestamp tick in which
    the input's state was recorded leaves size, mtime and ctime as recorded, so the record
    cannot vouch for the content: the input is hashed, and the job reruns."""
    p = Project(tmp_path)
    p.flowfile(COPY)
    p.write("in.txt", "aaa")
    assert p.build().ran == ["copy"]
    p.write("in.txt", "bbb")
    _racy_record(p, "in.txt")
    again = p.build()
    assert again.ran == ["copy"], again
    assert p.read("out.txt") == "bbb"
    assert p.build().ran == []


@pytest.fixture
def coarse_dir(tmp_path):
    """A directory on a real file system of whole-second timestamps (ext4 with 128-byte
    inodes, in a loop-mounted image); skipped where mounting is not allowed, never in CI."""
    image, mount = tmp_path / "coarse.img", tmp_path / "coarse"
    mount.mkdir()
    need_service(shutil.which("mkfs.ext4") is not None and os.geteuid() == 0,
                 "a loop-mounted ext4 of whole seconds (needs root and mkfs.ext4)")
    with open(image, "wb") as fh:
        fh.truncate(16 << 20)
    made = subprocess.run(["mkfs.ext4", "-q", "-F", "-I", "128", str(image)],
                          capture_output=True)
    mounted = made.returncode == 0 and subprocess.run(
        ["mount", "-o", "loop", str(image), str(mount)], capture_output=True).returncode == 0
    need_service(mounted, "a loop-mounted ext4 of whole seconds (mount -o loop needs root)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_same_size_edit_in_the_second_of_the_build_reruns_on_a_coarse_file_system(coarse_dir):
    """On a file system that keeps whole seconds: write aaa, build, write bbb within the
    same second. Size, mtime and ctime are as recorded; the record was taken in that second,
    so it vouches for nothing and the input is hashed."""
    p = Project(coarse_dir)
    p.flowfile(COPY)
    for _attempt in range(10):  # until the build and the edit fit in one second
        time.sleep(1 - time.time() % 1 + 0.01)
        p.write("in.txt", "aaa")
        first = p.build("-F")
        p.write("in.txt", "bbb")
        recorded = p.recorded()["in.txt"]
        st = os.stat(p.path("in.txt"))
        if (st.st_mtime_ns, st.st_ctime_ns) == (recorded.mtime_ns, recorded.ctime_ns):
            break
    else:
        pytest.skip("the build never fitted within one second")
    assert first.ran == ["copy"], first
    again = p.build()
    assert again.ran == ["copy"], again
    assert p.read("out.txt") == "bbb"
