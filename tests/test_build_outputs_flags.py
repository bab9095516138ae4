"""End to end: the output helpers (multiext, touch, ensure), the run hooks (onstart,
onsuccess, onerror) and benchmark files, with real processes on real files."""
from __future__ import annotations

import hashlib

from buildkit import Project

# ---------------------------------------------------------------- multiext


def test_multiext_outputs_and_inputs_with_a_wildcard_prefix(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule all:
            input: "done.txt"

        rule index:
            output: multiext("ref/{name}", ".amb", ".bwt")
            shell: "touch {output}"

        rule use:
            input: multiext("ref/genome", ".amb", ".bwt")
            output: "done.txt"
            shell: "ls {input} > {output}"
        """)
    r = p.build("-j1")
    assert r.code == 0, r
    assert p.read("done.txt").split() == ["ref/genome.amb", "ref/genome.bwt"]


def test_multiext_with_names_gives_named_outputs(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule index:
            output: multiext("ref/genome", amb=".amb", bwt=".bwt")
            shell: "echo a > {output.amb}; echo b > {output.bwt}"
        """)
    r = p.build("-j1", "ref/genome.bwt")
    assert r.code == 0, r
    assert (p.read("ref/genome.amb"), p.read("ref/genome.bwt")) == ("a\n", "b\n")


# ---------------------------------------------------------------- touch


def test_touch_output_is_made_after_the_job_and_tracked(tmp_path):
    p = Project(tmp_path)
    p.write("in.txt", "x\n")
    p.flowfile("""
        rule flag:
            input: "in.txt"
            output: touch("flags/a.done")
            shell: "test ! -e flags/a.done"
        """)
    r = p.build("-j1", "flags/a.done")
    assert r.code == 0, r
    assert p.exists("flags/a.done") and p.read("flags/a.done") == ""
    assert r.ran == ["flag"]
    assert any(str(k).endswith("flags/a.done") for k in p.recorded()), p.recorded()
    again = p.build("-j1", "flags/a.done")
    assert again.code == 0 and again.ran == [], again


def test_touch_output_the_command_made_gets_a_new_time(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule flag:
            output: touch("a.done")
            shell: "echo kept > a.done && touch -d 2001-01-01 a.done"
        """)
    r = p.build("-j1", "a.done")
    assert r.code == 0, r
    assert p.read("a.done") == "kept\n"
    assert p.mtime_ns("a.done") > 1_500_000_000 * 10**9


def test_touch_output_is_not_made_when_the_job_fails(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule flag:
            output: touch("a.done")
            shell: "exit 3"
        """)
    r = p.build("-j1", "a.done")
    assert r.code != 0 and "exit code 3" in r.text, r
    assert not p.exists("a.done")


# ---------------------------------------------------------------- ensure


def test_ensure_non_empty_fails_the_job_naming_the_check(tmp_path):
    """guarantees.md: A failed job leaves no output."""
    p = Project(tmp_path)
    p.flowfile("""
        rule empty:
            output: ensure("x.txt", non_empty=true)
            shell: "touch {output}"
        """)
    r = p.build("-j1", "x.txt")
    assert r.code != 0, r
    assert "ensure(non_empty=true) failed: output 'x.txt' is empty" in r.text
    assert not p.exists("x.txt")  # a failed job's outputs are not kept as done
    assert "ensure(non_empty=true)" in r.jobs[-1]["message"]
    p.flowfile("""
        rule empty:
            output: ensure("x.txt", non_empty=true)
            shell: "echo data > {output}"
        """)
    assert p.build("-j1", "x.txt").code == 0


def test_ensure_sha256_checks_the_digest(tmp_path):
    """guarantees.md: A failed job leaves no output."""
    good = hashlib.sha256(b"hello\n").hexdigest()
    p = Project(tmp_path)
    p.flowfile(f"""
        rule good:
            output: ensure("good.txt", sha256="{good.upper()}")
            shell: "echo hello > {{output}}"

        rule bad:
            output: ensure("bad.txt", sha256="{good}")
            shell: "echo bye > {{output}}"
        """)
    assert p.build("-j1", "good.txt").code == 0
    r = p.build("-j1", "bad.txt")
    assert r.code != 0, r
    assert "ensure(sha256=...) failed: output 'bad.txt' has SHA-256" in r.text
    assert f"not {good}" in r.text
    assert not p.exists("bad.txt")


# ---------------------------------------------------------------- hooks

HOOKS = """
onstart: shell="echo {run_id} > started.txt"
onsuccess: shell="cp {log} success.txt"
onerror: shell="cp {log} error.txt"

rule a:
    output: "a.txt"
    shell: "COMMAND"
"""


def test_onstart_and_onsuccess_run_with_the_summary_and_are_recorded(tmp_path):
    p = Project(tmp_path)
    p.flowfile(HOOKS.replace("COMMAND", "echo a > {output}"))
    r = p.build("-j1", "a.txt")
    assert r.code == 0, r
    run_id = p.runs()[-1]["id"]
    assert p.read("started.txt").strip() == str(run_id)
    summary = p.read("success.txt")
    assert f"fileflow run {run_id}: success" in summary
    assert "1 done, 0 failed" in summary and " a in " in summary
    assert not p.exists("error.txt")
    assert [(j["name"], j["state"]) for j in r.jobs] == [
        ("onstart", "done"), ("a", "done"), ("onsuccess", "done")]


def test_onerror_runs_when_a_job_fails_and_names_it(tmp_path):
    p = Project(tmp_path)
    p.flowfile(HOOKS.replace("COMMAND", "echo broken >&2; exit 4"))
    r = p.build("-j1", "a.txt")
    assert r.code != 0
    summary = p.read("error.txt")
    assert "failed" in summary and "exit code 4" in summary
    assert not p.exists("success.txt")


def test_a_failing_hook_is_reported_and_recorded_but_the_build_succeeds(tmp_path):
    """guarantees.md: A hook never changes a build's outcome."""
    p = Project(tmp_path)
    p.flowfile("""
        onsuccess: shell="echo mail is down; exit 7"

        rule a:
            output: "a.txt"
            shell: "echo a > {output}"
        """)
    r = p.build("-j1", "a.txt")
    assert r.code == 0, r
    assert "the onsuccess hook failed (exit code 7)" in r.err
    hook = [j for j in r.jobs if j["name"] == "onsuccess"]
    assert hook and hook[0]["state"] == "failed" and "exit code 7" in hook[0]["message"]
    assert p.runs()[-1]["status"] == "success"
    assert "mail is down" in p.read(hook[0]["log_path"])


def test_hooks_do_not_run_for_a_dry_run(tmp_path):
    """guarantees.md: A hook never changes a build's outcome."""
    p = Project(tmp_path)
    p.flowfile(HOOKS.replace("COMMAND", "echo a > {output}"))
    r = p.build("-n", "a.txt")
    assert r.code == 0, r
    assert not p.exists("started.txt") and not p.exists("success.txt")


# ---------------------------------------------------------------- benchmark

COLUMNS = ["s", "h:m:s", "max_rss", "max_vms", "max_uss", "max_pss", "io_in", "io_out",
           "mean_load", "cpu_time"]


def test_benchmark_file_has_snakemakes_columns_and_is_a_tracked_output(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule all:
            input: "out/a.txt"

        rule grow:
            output: "out/{x}.txt"
            benchmark: "benchmarks/{x}.tsv"
            shell: "GROW; echo {output} > {output}"
        """.replace("GROW", "python3 -c 'b = bytearray(40_000_000); import time; time.sleep(0.3)'"))
    r = p.build("-j1", "out/a.txt")
    assert r.code == 0, r
    assert p.read("out/a.txt") == "out/a.txt\n"  # {output} is not given the benchmark file
    header, *rows = [line.split("\t") for line in p.read("benchmarks/a.tsv").splitlines()]
    assert header == COLUMNS and len(rows) == 1
    row = dict(zip(header, rows[0]))
    assert float(row["s"]) >= 0.3 and row["h:m:s"].startswith("0:00:0")
    assert float(row["max_rss"]) >= 38  # MiB: the bytearray, seen by sampling the tree
    assert float(row["cpu_time"]) > 0
    assert any(str(k).endswith("benchmarks/a.tsv") for k in p.recorded())
    assert p.build("-j1", "out/a.txt").ran == []
    p.path("benchmarks/a.tsv").unlink()
    assert p.build("-j1", "out/a.txt").ran == ["grow[x=a]"]  # a missing benchmark remakes it
    assert p.build("clean", log=False).code == 0
    assert not p.exists("benchmarks/a.tsv")


def test_repeat_runs_the_job_that_many_times_one_row_each(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule count:
            output: "out.txt"
            benchmark: repeat("bench.tsv", 3)
            shell: "echo run >> runs.txt; echo done > {output}"
        """)
    r = p.build("-j1", "out.txt")
    assert r.code == 0, r
    assert p.read("runs.txt") == "run\n" * 3
    lines = p.read("bench.tsv").splitlines()
    assert lines[0].split("\t") == COLUMNS and len(lines) == 4


def test_a_failing_benchmarked_job_fails_and_writes_no_benchmark(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule bad:
            output: "out.txt"
            benchmark: "bench.tsv"
            shell: "exit 5"
        """)
    r = p.build("-j1", "out.txt")
    assert r.code != 0 and "exit code 5" in r.text, r
    assert not p.exists("bench.tsv")


def test_a_benchmarked_script_is_given_its_outputs_without_the_benchmark_file(tmp_path):
    p = Project(tmp_path)
    p.write("write.py", "from fileflow.script import job\n"
                        "open(job.output[0], 'w').write(repr(list(job.output)))\n")
    p.flowfile("""
        rule write:
            output: "out.txt"
            benchmark: "bench.tsv"
            script: "write.py"
        """)
    r = p.build("-j1", "out.txt")
    assert r.code == 0, r
    assert p.read("out.txt") == "['out.txt']"
    assert p.read("bench.tsv").startswith("s\th:m:s\t")


def test_a_hook_whose_summary_cannot_be_written_is_skipped_with_a_warning(tmp_path):
    """guarantees.md: A hook never changes a build's outcome."""
    p = Project(tmp_path)
    p.write(".fileflow/hooks", "a file where the folder of summaries goes")
    p.flowfile("""
        onsuccess: shell="touch hooked"

        rule a:
            output: "a.txt"
            shell: "echo a > {output}"
        """)
    r = p.build("-j1", "a.txt")
    assert r.code == 0, r
    assert "warning: the onsuccess hook did not run: cannot write the run's summary" in r.err
    assert "Traceback" not in r.text and not p.exists("hooked")
