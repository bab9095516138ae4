"""End to end: `-n` and `why` look and change nothing: the file tree, every mtime (of
directories too), every mode and the run log are the same afterwards (guarantees.md:
Looking changes nothing)."""
from __future__ import annotations

import re

import pytest
from buildkit import Project

FLOW = """
    rule all:
        input: "out/b.txt", "out/t.txt"
    rule a:
        input: "in.txt"
        output: "out/a.txt"
        shell: "cp {input} {output}"
    rule b:
        input: "out/a.txt"
        output: "out/b.txt"
        shell: "cp {input} {output}"
    rule t:
        input: "in2.txt"
        output: temp("out/tmp.txt")
        shell: "cp {input} {output}"
    rule u:
        input: "out/tmp.txt"
        output: protected("out/t.txt")
        shell: "cp {input} {output}"
    """


@pytest.fixture
def built(tmp_path) -> Project:
    p = Project(tmp_path)
    p.flowfile(FLOW)
    p.write("in.txt", "v1\n")
    p.write("in2.txt", "stays\n")
    r = p.build()
    assert r.code == 0, r
    p.write("in.txt", "v2\n")          # something is out of date
    p.age("in.txt", 5)
    return p


COMMANDS = [
    ["-n"],
    ["build", "-n"],
    ["build", "-n", "-F", "out/b.txt"],
    ["build", "-n", "-p", "out/b.txt"],
    ["-n", "-R", "b"],
    ["why", "out/b.txt"],
    ["why", "out/t.txt"],
    ["why", "in.txt"],
    ["check"],
    ["clean", "-n"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(a) for a in COMMANDS])
def test_looking_changes_nothing(built, args):
    before = built.snapshot()
    r = built.build(*args, log=False)
    assert r.code == 0, r
    after = built.snapshot()
    assert after == before
    assert not any(k.startswith(".fileflow/runlog.db-") for k in after)


def test_a_dry_run_refuses_like_the_build_and_changes_nothing(built):
    """A dry run meets a protected() output in the way as the build would: exit 2 with the
    build's message, and nothing changed (guarantees.md: Looking changes nothing)."""
    before = built.snapshot()
    r = built.build("-n", "-F", log=False)
    assert r.code == 2, r
    assert "rule u would overwrite protected output 'out/t.txt'" in r.err
    assert built.snapshot() == before


@pytest.mark.parametrize("args", [["-n"], ["why", "out/b.txt"]], ids=["-n", "why"])
def test_looking_leaves_even_the_run_log_directory_mtime(built, args):
    before = built.snapshot()
    assert built.build(*args, log=False).code == 0
    assert built.snapshot()[".fileflow"] == before[".fileflow"]


def test_dry_run_on_a_fresh_directory_creates_no_run_log(tmp_path):
    p = Project(tmp_path)
    p.flowfile(FLOW)
    p.write("in.txt", "v1\n")
    p.write("in2.txt", "stays\n")
    before = p.snapshot()
    r = p.build("-n", log=False)
    assert r.code == 0, r
    assert p.snapshot() == before
    assert not p.exists(".fileflow")


def test_dry_run_lists_jobs_reasons_and_a_count_per_rule(built):
    r = built.build("-n", log=False)
    assert r.code == 0, r
    assert re.search(r"^total\s+3$", r.out, re.M), r.out
    assert "job a" in r.out and "job b" in r.out
    assert "'in.txt' changed" in r.out
    table = dict(re.findall(r"^(\w+)\s+(\d+)$", r.out, re.M))
    assert table["a"] == "1" and table["b"] == "1"
    assert table["total"] == str(sum(int(v) for k, v in table.items() if k != "total"))
    # and what it promised is what a build does
    done = built.build()
    assert done.code == 0, done
    assert {"a", "b"} <= done.ran_set


def test_quiet_dry_run_prints_only_the_summary_line(built):
    r = built.build("-n", "-q", log=False)
    assert r.code == 0, r
    assert r.out.strip().splitlines() == ["dry run: 3 of 5 jobs would run"], r.out
    assert built.build().code == 0
    r = built.build("-n", "-q", log=False)
    assert r.out.strip().splitlines() == ["nothing to do: all 5 jobs are up to date"], r.out


def test_dry_run_with_print_commands_shows_each_command_as_it_would_run(built):
    r = built.build("-n", "-p", log=False)
    assert r.code == 0, r
    assert "    command: cp in.txt out/a.txt" in r.out, r.out
    assert "    command: cp out/a.txt out/b.txt" in r.out
    assert r.out.count("command:") == 2          # `all` has no command
    assert "command:" not in built.build("-n", log=False).out


def test_quiet_build_hides_retry_warnings_and_shows_the_final_error(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule flaky:
            output: "o.txt"
            retries: 1
            shell: "test -e tried || {{ touch tried; exit 3; }}; echo ok > {output}"
        rule broken:
            output: "b.txt"
            retries: 1
            shell: "exit 4"
        """)
    r = p.build("-q", "o.txt")
    assert r.code == 0, r
    assert r.err == "" and r.out.strip().splitlines() == [r.out.strip()], r
    r = p.build("-q", "b.txt")
    assert r.code == 1
    assert "retrying" not in r.err and "exit code 4" in r.err, r.err


def test_dry_run_with_nothing_to_do_says_so(built):
    assert built.build().code == 0
    r = built.build("-n", log=False)
    assert r.code == 0, r
    assert "nothing to do" in r.out


def test_why_explains_out_of_date_and_up_to_date_files(built):
    r = built.build("why", "out/b.txt", log=False)
    assert r.code == 0, r
    assert "out of date" in r.out
    assert "in.txt" in r.out            # followed upstream to the first cause
    assert built.build().code == 0
    r = built.build("why", "out/b.txt", log=False)
    assert "up to date" in r.out
    r = built.build("why", "in.txt", log=False)
    assert "source" in r.out


def test_looking_with_a_profile_shows_what_a_build_with_it_would_do(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        configfile: "config.yaml"
        rule make:
            input: config["source"]
            output: "out.txt"
            shell: "cp {input} {output}"
        """)
    p.write("config.yaml", "source: a.csv\n")
    p.write("a.csv", "a\n")
    p.write("b.csv", "b\n")
    p.write("profiles/alt/config.yaml", "config: {source: b.csv}\n")
    assert p.build().code == 0
    assert "up to date" in p.build("why", "out.txt", log=False).out
    r = p.build("why", "--profile", "alt", "out.txt", log=False)
    assert r.code == 0, r
    assert "out.txt: out of date; job make would run" in r.out
    assert "the set of inputs changed (added: 'b.csv'; removed: 'a.csv')" in r.out
    r = p.build("graph", "--format", "text", "--level", "files", "--profile", "alt", log=False)
    assert r.code == 0, r
    assert "└─ b.csv  [source]" in r.out and "a.csv" not in r.out.replace("removed: 'a.csv'", "")
    plain = p.build("graph", "--format", "text", "--level", "files", log=False)
    assert "└─ a.csv  [source]" in plain.out and "[up to date]" in plain.out
    r = p.build("summary", "--profile", "alt", log=False)
    assert r.code == 0 and "stale" in r.out, r
    # the command line wins over the profile, as for build
    assert "up to date" in p.build("why", "--profile", "alt", "--config", "source=a.csv",
                                   "out.txt", log=False).out
    r = p.build("clean", "-n", "--profile", "alt", log=False)
    assert r.code == 0 and "out.txt" in r.out, r
    missing = p.build("why", "--profile", "nope", "out.txt", log=False)
    assert missing.code == 2 and "--profile nope: no profile found" in missing.err
    assert p.read("out.txt") == "a\n"


def test_dry_run_in_a_real_process_touches_nothing(built):
    before = built.snapshot()
    r = built.run("-n", log=False)
    assert r.code == 0, r
    assert built.snapshot() == before


def test_clean_removes_outputs_but_never_sources(built):
    assert built.build().code == 0
    r = built.build("clean", "a", "b", log=False)
    assert r.code == 0, r
    assert not built.exists("out/a.txt") and not built.exists("out/b.txt")
    assert built.exists("in.txt") and built.exists("out/t.txt")
    again = built.build()
    assert again.ran == ["a", "b"]
