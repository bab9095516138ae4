"""End to end: what a Flowfile reads beyond itself to make its jobs: sample sheets
(`table()`), data files (`load()`), and resources written in units. Real builds on real
files: an edited sheet makes exactly the jobs it changes run again."""
from __future__ import annotations

import os
import time

import pytest
from buildkit import Project

SHEET_FLOW = """
    SAMPLES = table("samples.tsv", key="sample")
    rule all:
        input: expand("out/{s}.txt", s=list(SAMPLES))
    rule copy:
        input: SAMPLES[wildcards.s].fq1
        output: "out/{s}.txt"
        params: lane = SAMPLES[wildcards.s].lane
        shell: "cat {input} > {output}; echo {params.lane} >> {output}"
    """


def test_an_edited_sample_sheet_runs_the_jobs_it_changes(tmp_path):
    p = Project(tmp_path)
    p.flowfile(SHEET_FLOW)
    for name in ("a", "b", "c"):
        p.write(f"{name}.fq", f"{name}\n")
    p.write("samples.tsv", "sample\tfq1\tlane\nA\ta.fq\t1\nB\tb.fq\t1\n")
    assert p.build().ran == ["copy[s=A]", "copy[s=B]"]
    time.sleep(0.02)
    assert "nothing to do" in p.build(log=False).out  # and the no-op shortcut is written
    time.sleep(0.02)
    # B's lane changes, C is new, A is as it was.
    p.write("samples.tsv", "sample\tfq1\tlane\nA\ta.fq\t1\nB\tb.fq\t2\nC\tc.fq\t1\n")
    again = p.build()
    assert again.code == 0, again
    assert again.ran == ["copy[s=B]", "copy[s=C]"]
    assert p.read("out/B.txt") == "b\n2\n"


def test_an_error_in_a_sample_sheet_names_its_line(tmp_path):
    p = Project(tmp_path)
    p.flowfile(SHEET_FLOW)
    p.write("samples.tsv", "sample\tfq1\tlane\nA\ta.fq\t1\nB\tb.fq\n")
    result = p.build()
    assert result.code == 2
    assert "samples.tsv:3:1: error: this row of samples.tsv has 2 fields, the header has 3" in result.err
    assert "Traceback" not in result.err


def test_a_sheet_with_a_very_wide_header_is_read_in_linear_time(tmp_path):
    # 200,000 columns, one of them twice at the end: found at once, not in quadratic time.
    p = Project(tmp_path)
    p.flowfile(SHEET_FLOW)
    header = "\t".join(f"c{i}" for i in range(200_000))
    p.write("samples.tsv", f"{header}\tc7\n")
    result = p.run("build", timeout=60)
    assert result.code == 2, result
    assert "samples.tsv:1:1: error: column 'c7' appears twice in the header of samples.tsv" in result.err
    p.write("samples.tsv", header + "\n")
    result = p.run("build", timeout=60)
    assert result.code == 2, result
    assert "samples.tsv has no column 'sample', the key of table()" in result.err
    assert "hint: columns: c0, c1, c2, c3" in result.err and "c19 and 199980 more" in result.err
    assert "c199999" not in result.err and len(result.err) < 1000  # the line is shown cut short


def test_an_error_on_a_very_long_line_shows_the_part_around_its_place(tmp_path):
    p = Project(tmp_path)
    p.flowfile(SHEET_FLOW)
    p.write("samples.tsv", "sample\tfq1\tlane\nA\t" + "x" * 100_000 + "\n")
    result = p.run("build")
    assert result.code == 2, result
    assert "samples.tsv:2:1: error: this row of samples.tsv has 2 fields, the header has 3" in result.err
    excerpt = next(line for line in result.err.splitlines() if line.startswith("    2 | "))
    assert excerpt == "    2 | A " + "x" * 198 + "…"
    assert len(result.err) < 2000


BIG = "9" * 5000  # more digits than Python turns into a number


@pytest.mark.parametrize("flowfile, files, args, needle", [
    ('configfile: "c.yaml"\n', {"c.yaml": f"n: {BIG}\n"}, (),
     "Flowfile:1:13: error: invalid YAML in config file c.yaml: a number has more than 4300 digits"),
    ('configfile: "c.yaml"\n', {"c.yaml": "day: 2001-13-45\n"}, (),
     "Flowfile:1:13: error: invalid YAML in config file c.yaml: a value cannot be read (month must "
     "be in 1..12)"),
    ("", {}, ("--config", f"n={BIG}"), "--config n=...: a number has more than 4300 digits"),
    ('M = load("m.yaml")\n', {"m.yaml": f"n: {BIG}\n"}, (),
     "Flowfile:1:5: error: invalid YAML in data file m.yaml: a number has more than 4300 digits"),
    ('M = load("m.json")\n', {"m.json": f'{{"n": {BIG}}}'}, (),
     "Flowfile:1:5: error: invalid JSON in m.json: a number has more than 4300 digits"),
    ('from "h.py" import big\nN = big()\n', {"h.py": "def big():\n    return 10 ** 5000\n"}, (),
     "Flowfile:2:5: error: big() returned an integer of more than 4300 digits"),
])
def test_a_value_python_cannot_read_is_an_error_at_its_place(tmp_path, flowfile, files, args, needle):
    p = Project(tmp_path)
    p.write("Flowfile", flowfile + 'rule a:\n    output: "a"\n    shell: "touch a"\n')
    for name, text in files.items():
        p.write(name, text)
    result = p.run("build", *args)
    assert result.code == 2, result
    assert "Traceback" not in result.err
    assert needle in result.err
    assert not p.exists("a")


# ---------------------------------------------------------------- resources in units

def test_sizes_and_times_with_units_reach_the_command_as_mb_and_minutes(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule a:
            output: "a.txt"
            resources: mem = "8G", disk = "2TiB", runtime = "2h30m"
            shell: "echo {resources.mem_mb} {resources.disk_mb} {resources.runtime} {resources.mem} >{output}"
        rule b:
            output: "b.txt"
            shell: "echo {resources.mem_mb} > {output}"
        """)
    r = p.build("a.txt", "b.txt", "--default-resources", "mem=1GiB")
    assert r.code == 0, r
    assert p.read("a.txt") == "8000 2199024 150 8G\n"
    assert p.read("b.txt") == "1074\n"


def test_command_line_sizes_and_times_with_units_override_the_rules_consistently(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule align:
            output: "align.txt"
            resources: mem = "8G", runtime = "2h30m"
            shell: "echo {resources.mem} {resources.mem_mb} {resources.runtime} > {output}"
        rule plain:
            output: "plain.txt"
            shell: "echo {resources.mem_mb} {resources.runtime} > {output}"
        """)
    targets = ("align.txt", "plain.txt")
    r = p.build(*targets, "--set-resources", "align:mem=16G", "align:runtime=2h",
                "plain:mem=2GiB", "plain:runtime=1h30m")
    assert r.code == 0, r
    assert (p.read("align.txt"), p.read("plain.txt")) == ("16G 16000 120\n", "2148 90\n")
    for target in targets:  # a resource changed by the command line reruns nothing
        os.remove(tmp_path / target)
    r = p.build(*targets, "--set-resources", "align:mem_mb=2000", "--default-resources", "mem=4GB",
                "runtime=1h")
    assert r.code == 0, r  # mem and the mem_mb derived from it agree: one size
    assert (p.read("align.txt"), p.read("plain.txt")) == ("2000MB 2000 150\n", "4000 60\n")
    p.write("profiles/big/config.yaml", "set-resources: {align: {mem: 32G}}\n"
                                        "default-resources: {mem: 1G, runtime: 5m}\n")
    for target in targets:
        os.remove(tmp_path / target)
    r = p.build(*targets, "--profile", "big")
    assert r.code == 0, r
    assert (p.read("align.txt"), p.read("plain.txt")) == ("32G 32000 150\n", "1000 5\n")
    for flag, value, said in (
            ("--set-resources", "align:mem=16X", "--set-resources align: resource 'mem': '16X' is "
                                                 "not a size"),
            ("--set-resources", "align:runtime=2hours30", "--set-resources align: resource "
                                                          "'runtime': '2hours30' is not a time span"),
            ("--default-resources", "mem=lots", "--default-resources: resource 'mem': 'lots' is "
                                                "not a size")):
        bad = p.build(*targets, flag, value)
        assert bad.code == 2 and said in bad.err and "Traceback" not in bad.err, bad


# A job that writes when it started and ended, taking a while.
SPAN = ('mkdir -p spans; date +%s.%N > spans/{wildcards.x}.start; sleep 0.3; '
        'date +%s.%N > spans/{wildcards.x}.end; touch {output}')


def test_a_limit_on_memory_counts_the_mb_of_sizes_with_units(tmp_path):
    p = Project(tmp_path)
    p.flowfile(f"""
        rule all:
            input: "out/a", "out/b"
        rule heavy:
            output: "out/{{x}}"
            resources: mem = "600M"
            shell: "{SPAN}"
        """)
    r = p.build("-j", "2", "--resources", "mem=1G")
    assert r.code == 0, r
    (a0, a1), (b0, b1) = ((float(p.read(f"spans/{n}.start")), float(p.read(f"spans/{n}.end")))
                          for n in "ab")
    assert not (a0 < b1 and b0 < a1), "the two jobs ran together"


# ---------------------------------------------------------------- configschema:

def test_a_schema_file_a_ref_names_is_read_and_watched_like_the_schema(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        configfile: "config.yaml"
        configschema: "schemas/config.schema.yaml"
        rule a:
            output: "a.txt"
            params: level = config.opts.level
            shell: "echo {params.level} > {output}"
        """)
    p.write("config.yaml", "opts: {}\n")
    p.write("schemas/config.schema.yaml", "properties:\n  opts: {$ref: 'opts.schema.json'}\n")
    p.write("schemas/opts.schema.json", '{"properties": {"level": {"type": "integer", "default": 3}}}')
    assert p.build().ran == ["a"]
    assert p.read("a.txt") == "3\n"
    time.sleep(0.02)
    assert "nothing to do" in p.build(log=False).out  # and the no-op shortcut is written
    time.sleep(0.02)
    p.write("schemas/opts.schema.json", '{"properties": {"level": {"type": "integer", "default": 5}}}')
    assert p.build().ran == ["a"]
    assert p.read("a.txt") == "5\n"
    p.write("config.yaml", "opts: {level: high}\n")
    bad = p.build()
    assert bad.code == 2
    assert ("config.yaml:1:15: error: config.opts.level: 'high' is not of type 'integer' "
            "(schemas/opts.schema.json: properties.level.type)") in bad.err
    p.write("config.yaml", "opts: {}\n")
    os.remove(tmp_path / "schemas/opts.schema.json")
    gone = p.build()
    assert gone.code == 2
    assert ("Flowfile:2:15: error: config schema not found: schemas/opts.schema.json (a $ref of "
            "config schema schemas/config.schema.yaml)") in gone.err


def test_a_schema_default_reaches_the_job_and_an_edited_schema_is_read_again(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        configfile: "config.yaml"
        configschema: "config.schema.yaml"
        rule a:
            output: "a.txt"
            params: level = config.level
            shell: "echo {params.level} > {output}"
        """)
    p.write("config.yaml", "name: x\n")
    p.write("config.schema.yaml", "properties:\n  level: {type: integer, default: 3}\n")
    assert p.build().ran == ["a"]
    assert p.read("a.txt") == "3\n"
    time.sleep(0.02)
    assert "nothing to do" in p.build(log=False).out  # and the no-op shortcut is written
    time.sleep(0.02)
    p.write("config.schema.yaml", "properties:\n  level: {type: integer, default: 5}\n")
    assert p.build().ran == ["a"]
    assert p.read("a.txt") == "5\n"
    p.write("config.yaml", "level: high\n")
    bad = p.build()
    assert bad.code == 2
    assert ("config.yaml:1:8: error: config.level: 'high' is not of type 'integer' "
            "(config.schema.yaml: properties.level.type)") in bad.err
