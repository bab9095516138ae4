"""End to end: running part of a workflow (--until, --omit-from, --batch), listing what changed
(--list-changes) and choosing what reruns a job (--rerun-triggers). Real processes, real files,
the real SQLite run log; which jobs ran is read from the run log (`all`, without a command,
is never recorded)."""
from __future__ import annotations

import pytest
from buildkit import Project

FLOW = """
    N = ["1", "2", "3", "4", "5"]

    rule all:
        input: "total.txt", "side.txt"

    rule side:
        output: "side.txt"
        shell: "echo side > {output}"

    rule make:
        output: temp("n/{i}.txt")
        params: k = "x"
        shell: "echo {wildcards.i} {params.k} > {output}"

    rule sq:
        input: "n/{i}.txt"
        output: "sq/{i}.txt"
        shell: "cp {input} {output}"

    rule gather:
        input: expand("sq/{i}.txt", i=N)
        output: "total.txt"
        shell: "cat {input} > {output}"
    """

ALL_JOBS = ({"side", "gather"} | {f"make[i={i}]" for i in "12345"}
            | {f"sq[i={i}]" for i in "12345"})


def jobs(rule: str, which: str = "12345") -> set[str]:
    return {f"{rule}[i={i}]" for i in which}


@pytest.fixture
def p(tmp_path) -> Project:
    project = Project(tmp_path)
    project.flowfile(FLOW)
    return project


@pytest.fixture
def built(p) -> Project:
    first = p.build()
    assert first.code == 0, first
    assert first.ran_set == ALL_JOBS
    return p


def done(result) -> set[str]:
    return {j["name"] for j in result.jobs if j["state"] == "done"}


def edit(p: Project, old: str, new: str) -> None:
    text = p.read("Flowfile")
    assert old in text
    p.write("Flowfile", text.replace(old, new))


# ---------------------------------------------------------------- --until

def test_until_a_rule_runs_its_jobs_and_what_they_need_and_stops(p):
    r = p.build("--until", "sq")
    assert r.code == 0, r
    assert r.ran_set == jobs("make") | jobs("sq")
    assert not p.exists("total.txt") and not p.exists("side.txt")
    assert not any(p.exists(f"n/{i}.txt") for i in "12345")  # temp: its readers are done
    rest = p.build()
    assert rest.ran_set == {"gather", "side"}


def test_until_keeps_the_temp_files_that_jobs_left_out_read(p):
    r = p.build("--until", "make")
    assert r.ran_set == jobs("make"), r
    assert all(p.exists(f"n/{i}.txt") for i in "12345")


def test_until_a_file(p):
    r = p.build("--until", "sq/2.txt")
    assert r.code == 0, r
    assert r.ran_set == {"make[i=2]", "sq[i=2]"}


def test_until_in_a_dry_run_graph_and_summary(p):
    r = p.build("-n", "-q", "--until", "sq/2.txt", "side")
    assert (r.code, r.out) == (0, "dry run: 3 of 3 jobs would run\n"), r
    g = p.build("graph", "--format", "text", "--until", "sq/2.txt", log=False)
    assert g.code == 0, g
    assert "sq[i=2]" in g.out and "make[i=2]" in g.out and "gather" not in g.out
    s = p.build("summary", "--until", "side", log=False)
    assert s.code == 0, s
    assert "side.txt" in s.out and "total.txt" not in s.out


# ---------------------------------------------------------------- --omit-from

def test_omit_from_leaves_the_job_and_everything_below_out(p):
    r = p.build("--omit-from", "sq/3.txt")
    assert r.code == 0, r
    assert r.ran_set == {"side"} | jobs("make") | jobs("sq", "1245")
    assert not p.exists("total.txt") and not p.exists("sq/3.txt")
    assert p.exists("n/3.txt")  # its reader was left out: the temp file stays
    rest = p.build()
    assert rest.ran_set == {"sq[i=3]", "gather"}


def test_omit_from_a_rule(p):
    r = p.build("--omit-from", "gather", "side")
    assert r.code == 0, r
    assert r.ran_set == jobs("make") | jobs("sq")


# ---------------------------------------------------------------- --batch

def test_batches_build_the_aggregate_s_inputs_in_parts(p):
    one = p.build("--batch", "gather=1/3")
    assert one.code == 0, one
    assert one.err == ("--batch gather=1/3: only the jobs of this part are considered; gather "
                       "and the jobs below it run with the last batch (3/3)\n")
    assert one.ran_set == {"side"} | jobs("make", "12") | jobs("sq", "12")
    two = p.build("--batch", "gather=2/3")
    assert two.ran_set == jobs("make", "34") | jobs("sq", "34")
    assert not p.exists("total.txt")
    last = p.build("--batch", "gather=3/3")
    assert last.code == 0, last
    assert last.ran_set == {"make[i=5]", "sq[i=5]", "gather"}
    assert p.read("total.txt") == "".join(f"{i} x\n" for i in "12345")
    after = p.build()
    assert (after.code, after.ran) == (0, []), after


def test_the_last_batch_needs_the_earlier_ones(p):
    assert p.build("--batch", "gather=1/3").code == 0
    r = p.build("--batch", "gather=3/3")
    assert r.code == 2, r
    assert r.err == ("--batch gather=3/3: the earlier batches are not all done: 'sq/3.txt' "
                     "and 1 more missing; run batches 1 to 2 of it first\n")
    assert r.ran == []


@pytest.mark.parametrize("value, message", [
    ("gather=0/3", "--batch gather=0/3: the batch must be from 1 to 3, got 0"),
    ("gather=4/3", "--batch gather=4/3: the batch must be from 1 to 3, got 4"),
    ("gather", "--batch expects RULE=i/n (such as gather=1/3), got 'gather'"),
    ("nope=1/3", "--batch nope=1/3: no rule named 'nope'"),
    ("gather=1/9", "--batch gather=1/9: job gather has 5 input(s), fewer than 9 batches; "
                   "choose fewer batches"),
])
def test_bad_batches_stop_the_build(p, value, message):
    r = p.build("--batch", value)
    assert (r.code, r.err, r.ran) == (2, message + "\n", []), r


def test_a_batch_of_a_rule_outside_the_build_stops_it(p):
    r = p.build("side", "--batch", "gather=1/2")
    assert (r.code, r.err) == (2, "--batch gather=1/2: no job of rule 'gather' is part of "
                                  "this build\n"), r


@pytest.mark.parametrize("flag", ["--until", "--omit-from"])
def test_unknown_names_stop_the_build(p, flag):
    r = p.build(flag, "sq", "nope.txt")
    assert (r.code, r.err, r.ran) == (
        2, f"{flag} nope.txt: no rule has that name and no job of this build makes that "
           "file\n", []), r


# ---------------------------------------------------------------- --list-changes

def test_list_changes_of_params_code_and_input(built):
    p = built
    assert p.build("--list-changes", "params", log=False).out == ""
    edit(p, 'k = "x"', 'k = "y"')
    params = p.build("--list-changes", "params", log=False)
    assert (params.code, params.out) == (0, "".join(f"n/{i}.txt\n" for i in "12345")), params
    assert p.build("--list-changes", "code", log=False).out == ""
    edit(p, 'k = "y"', 'k = "x"')
    edit(p, '"cp {input} {output}"', '"cp -f {input} {output}"')
    code = p.build("--list-changes", "code", log=False)
    assert code.out == "".join(f"sq/{i}.txt\n" for i in "12345"), code
    assert p.build("--list-changes", "params", log=False).out == ""
    edit(p, '"5"]', '"5", "6"]')
    assert p.build("--list-changes", "input", log=False).out == "total.txt\n"
    assert p.build("-n", "-q", log=False).out != ""  # listing built nothing


# ---------------------------------------------------------------- --rerun-triggers

def test_rerun_triggers_choose_what_reruns(built):
    """guarantees.md: Early cutoff (the triggers never stop a rerun from reaching below)."""
    p = built
    edit(p, 'k = "x"', 'k = "y"')
    ignored = p.build("--rerun-triggers", "code", "content", "input", "mtime")
    assert (ignored.code, ignored.ran) == (0, []), ignored
    assert ignored.out.startswith("nothing to do")
    taken = p.build("--rerun-triggers", "params")
    # sq: its input came out changed (by content, whatever the triggers)
    assert taken.ran_set == jobs("make") | jobs("sq") | {"gather"}, taken
    assert p.build().ran == []


def test_rerun_triggers_content_is_make_with_hashes(built):
    p = built
    edit(p, '"cp {input} {output}"', '"cp -f {input} {output}"')
    assert p.build("--rerun-triggers", "content").ran == []
    code = p.build("--rerun-triggers", "code")
    assert done(code) == jobs("make") | jobs("sq"), code  # gather: its inputs came out the same
    p.write("sq/2.txt", "edited\n")
    assert p.build("--rerun-triggers", "params", "input").ran == []
    assert done(p.build("--rerun-triggers", "content")) == {"make[i=2]", "sq[i=2]"}


def test_a_bad_trigger_is_refused(p):
    r = p.build("--rerun-triggers", "hash")
    assert (r.code, r.ran) == (2, []), r
    assert r.err == ("fileflow build: argument --rerun-triggers: expected "
                     "mtime|content|params|code|input|software-env, got 'hash'\n")
