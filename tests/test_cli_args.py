"""The command line's words: numbers out of range, unknown options (did-you-mean, Snakemake's
spellings), mistyped targets, options of several values before targets, options before the
command. Each bad word is exit 2 with one line saying what is wrong. In-process: main()."""
from __future__ import annotations

import os
import textwrap

import pytest

from fileflow.cli.main import COMMANDS, main, parser_for
from fileflow.errors import EXIT_OK, EXIT_USAGE
from fileflow.runlog.log import open_runlog

FLOWFILE = '''\
    rule summary:
        input: "data.txt"
        output: "results/summary.json"
        shell: "cp {input} {output}"

    rule count:
        input: "data.txt"
        output: "counts/{sample}.txt"
        shell: "wc -l {input} > {output}"

    rule other:
        output: "out.txt"
        shell: "echo hi > {output}"
    '''


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "Flowfile").write_text(textwrap.dedent(FLOWFILE))
    (tmp_path / "data.txt").write_text("x\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == EXIT_USAGE, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err and "usage:" not in err, err
    for needle in needles:
        assert needle in err, err


def a_run_log(path: str | None = None) -> None:
    """A run log with one run, at .fileflow/runlog.db or at `path`."""
    url = f"sqlite:///{path}" if path else None
    with open_runlog(url, os.getcwd()) as log:
        run_id = log.start_run(["fileflow"], os.getcwd(), "test")
        log.finish_run(run_id, "success", 0, 0)


# ---------------------------------------------------------------- numbers

DEEP = "a=" + "[" * 3000 + "]" * 3000


@pytest.mark.parametrize("argv, needle", [
    (["--resources", "mem=nan"], "--resources expects NAME=N with N a number >= 0, got 'mem=nan'"),
    (["--resources", "mem=inf"], "got 'mem=inf'"),
    (["--resources", "mem=-1"], "got 'mem=-1'"),
    (["--latency-wait", "nan"], "argument --latency-wait: expected a number of seconds >= 0"),
    (["--latency-wait", "inf"], "got 'inf'"),
    (["--latency-wait", "-1"], "got '-1'"),
    (["--lock-timeout", "inf"], "argument --lock-timeout: expected a number of seconds >= 0"),
    (["--lock-timeout", "nan"], "got 'nan'"),
    (["-j", "0"], "argument -j/--jobs/--cores: expected a whole number >= 1 or 'all', got '0'"),
    (["-j", "-2"], "got '-2'"),
    (["--cores", "inf"], "got 'inf'"),
    (["--cores", "2.5"], "got '2.5'"),
    (["--local-cores", "0"], "argument --local-cores: expected a whole number >= 1 or 'all'"),
    (["--default-resources", "mem_mb=nan"], "--default-resources expects NAME=VALUE with a number >= 0"),
    (["--set-resources", "summary:threads=-1"], "--set-resources expects NAME=VALUE with a number >= 0"),
    (["--config", "a..b=1"], "--config a..b=1: the key 'a..b' has an empty part"),
    (["--config", ".a=1"], "the key '.a' has an empty part"),
    (["--config", DEEP], "--config a=...: the value is nested too deeply to read"),
])
def test_a_number_or_key_out_of_range_is_one_line(project, capsys, argv, needle):
    code, out, err = run(capsys, "-n", *argv)
    assert_one_line_error(code, err, needle)
    assert out == ""


def test_a_config_file_nested_too_deeply_is_one_line(project, capsys):
    (project / "deep.yaml").write_text("a: " + "[" * 3000 + "]" * 3000 + "\n")
    code, _, err = run(capsys, "-n", "--configfile", "deep.yaml")
    assert_one_line_error(code, err, "config file deep.yaml is nested too deeply to read")


def test_a_profile_with_a_bad_number_says_which(project, capsys):
    (project / "profiles" / "p").mkdir(parents=True)
    (project / "profiles" / "p" / "config.yaml").write_text("jobs: 0\n")
    code, _, err = run(capsys, "-n", "--profile", "p")
    assert_one_line_error(code, err, "bad value for 'jobs': 0 (expected a whole number >= 1 or 'all'")


@pytest.mark.parametrize("content, needle", [
    (b"jobs: 2\xff\n", "profile profiles/p/config.yaml is not UTF-8 text"),
    (b"jobs: " + b"9" * 5000 + b"\n",
     "invalid YAML in profile profiles/p/config.yaml: a number has more than 4300 digits"),
    (b"jobs: &x [*x]\n", "profile profiles/p/config.yaml is too large once its aliases"),
])
def test_a_profile_yaml_that_cannot_be_read_is_one_line(project, capsys, content, needle):
    (project / "profiles" / "p").mkdir(parents=True)
    (project / "profiles" / "p" / "config.yaml").write_bytes(content)
    code, _, err = run(capsys, "-n", "--profile", "p")
    assert_one_line_error(code, err, needle)


def test_a_storage_value_yaml_reads_as_a_number_python_cannot_hold_is_text(project, capsys):
    code, _, err = run(capsys, "-n", "--storage", "s3:token=" + "9" * 5000)
    assert code == EXIT_OK, err


@pytest.mark.parametrize("argv, needle", [
    (["runs", "-n", "99999999999999999999"],
     "fileflow runs: argument -n/--limit: expected a whole number from 1 to 9223372036854775807"),
    (["runs", "-n", "0"], "got '0'"),
    (["log", "--tail", "-5"], "fileflow log: argument --tail: expected a whole number >= 0"),
    (["log", "#99999999999999999999999"], "log #99999999999999999999999: no such job in the run log"),
    (["log", "99999999999999999999999"], "log 99999999999999999999999: no such run in the run log"),
    (["report", "99999999999999999999999"], "report: no run 99999999999999999999999 in the run log"),
])
def test_run_and_job_numbers_beyond_the_run_logs_integers_are_one_line(project, capsys, argv, needle):
    a_run_log()
    code, _, err = run(capsys, *argv)
    assert_one_line_error(code, err, needle)
    assert not (project / "report.html").exists()


@pytest.mark.parametrize("port, needle", [
    ("abc", "the port is not a number"),
    ("99999999", "the port must be a number from 1 to 65535, not 99999999"),
    ("0", "the port must be a number from 1 to 65535, not 0"),
])
@pytest.mark.parametrize("command", [["runs"], ["-n"], ["log"]])
def test_a_postgresql_url_with_a_bad_port_is_one_line(project, capsys, port, needle, command):
    url = f"postgresql://user:secret@localhost:{port}/db"
    code, _, err = run(capsys, *command, "--db", url)
    assert_one_line_error(code, err, "invalid run log database URL 'postgresql://user:***@localhost:",
                          needle)
    assert "secret" not in err


# ---------------------------------------------------------------- --cores

def test_cores_all_or_without_a_number_means_every_core(project, capsys):
    parse = parser_for("build").parse_args
    assert parse(["--cores", "all"]).jobs == parse([]).jobs == 0  # 0: the number of cores
    assert parse(["--cores"]).jobs == parse(["-j"]).jobs == parse(["--jobs", "ALL"]).jobs == 0
    assert (parse(["-j", "4"]).jobs, parse(["-j4"]).jobs, parse(["--cores=3"]).jobs) == (4, 4, 3)
    bare = parse(["--cores", "out.txt", "-n"])  # a target after it is a target
    assert (bare.jobs, bare.targets, bare.dry_run) == (0, ["out.txt"], True)
    code, out, err = run(capsys, "--cores", "all", "-n", "out.txt")
    assert code == EXIT_OK, err
    assert "out.txt" in out
    code, out, err = run(capsys, "-n", "out.txt", "--cores")
    assert code == EXIT_OK, err


# ---------------------------------------------------------------- unknown options

def test_an_unknown_option_is_one_line_with_a_did_you_mean(project, capsys):
    code, out, err = run(capsys, "--dryrun")
    assert (code, out, err) == (EXIT_USAGE, "",
                                "fileflow build: unknown option --dryrun; did you mean --dry-run?\n")
    code, _, err = run(capsys, "graph", "--levle", "rules")
    assert err == "fileflow graph: unknown option --levle; did you mean --level?\n"
    code, _, err = run(capsys, "build", "--zzz-nothing-like-it")
    assert_one_line_error(code, err, "fileflow build: unknown option --zzz-nothing-like-it "
                                     "(see 'fileflow build --help')")
    code, _, err = run(capsys, "runs", "extra")
    assert_one_line_error(code, err, "fileflow runs: unexpected argument 'extra'")
    code, _, err = run(capsys, "--config")
    assert_one_line_error(code, err, "fileflow: argument --config: expected one argument")


@pytest.mark.parametrize("flag, spelling", [
    ("--dag", "'fileflow graph'"),
    ("--rulegraph", "'fileflow graph --level rules'"),
    ("--filegraph", "'fileflow graph --level files'"),
    ("--printshellcmds", "-p/--print-commands"),
    ("--delete-all-output", "'fileflow clean'"),
    ("--unlock", "'fileflow unlock'"),
    ("-s", "-f/--file"),
    ("--snakefile", "-f/--file"),
    ("-c", "-j/--cores"),
    ("--report", "'fileflow report'"),
])
def test_snakemakes_spelling_of_an_option_names_fileflows(project, capsys, flag, spelling):
    code, out, err = run(capsys, flag, "Snakefile") if flag in ("-s", "--snakefile") else run(capsys, flag)
    assert_one_line_error(code, err, f"fileflow build: unknown option {flag}; "
                                     f"for Snakemake's {flag}, use {spelling}")
    # the spelling named exists
    words = spelling.strip("'").split()
    if words[0] == "fileflow":
        assert words[1] in COMMANDS
        options = [w for w in words[2:] if w.startswith("-")]
    else:
        options = words[0].split("/")
    known = parser_for(words[1] if words[0] == "fileflow" else "build").format_help()
    for option in options:
        assert option in known


# ---------------------------------------------------------------- targets

def test_a_mistyped_target_names_the_closest_output_or_rule(project, capsys):
    code, out, err = run(capsys, "-n", "results/sumary.json")
    assert (code, out) == (EXIT_USAGE, "")
    assert err == ("no rule makes 'results/sumary.json' and there is no such file; "
                   "did you mean 'results/summary.json'?\n")
    code, _, err = run(capsys, "-n", "sumary")
    assert err.endswith("; did you mean 'summary'?\n")
    code, _, err = run(capsys, "-n", "outt.txt")
    assert err.endswith("; did you mean 'out.txt'?\n")
    code, _, err = run(capsys, "-n", "count")  # a rule with wildcards is not a target: no guess
    assert "did you mean" not in err
    code, _, err = run(capsys, "-n", "zzzz/qqqq.bin")
    assert_one_line_error(code, err, "no rule makes 'zzzz/qqqq.bin' and there is no such file")
    assert "did you mean" not in err


@pytest.mark.parametrize("argv, values, targets", [
    (["--resources", "mem_mb=1", "out.txt"], ("resources", ["mem_mb=1"]), ["out.txt"]),
    (["--resources", "mem_mb=1", "gpu=2", "out.txt", "b.txt"],
     ("resources", ["mem_mb=1", "gpu=2"]), ["out.txt", "b.txt"]),
    (["-R", "summary", "other", "out.txt"], ("forcerun", ["summary", "other"]), ["out.txt"]),
    (["a.txt", "--forcerun", "summary", "results/x.json"], ("forcerun", ["summary"]),
     ["a.txt", "results/x.json"]),
    (["--set-resources", "summary:mem_mb=8", "out.txt"], ("set_resources", ["summary:mem_mb=8"]),
     ["out.txt"]),
    (["--default-resources", "mem_mb=2", "out.txt"], ("default_resources", ["mem_mb=2"]),
     ["out.txt"]),
    (["--resources", "a=1", "--resources", "b=2"], ("resources", ["a=1", "b=2"]), []),
    (["a.txt", "-n", "b.txt"], ("dry_run", True), ["a.txt", "b.txt"]),
    (["-R", "summary", "--", "other"], ("forcerun", ["summary"]), ["other"]),
    (["--rerun-triggers", "content", "code", "out.txt"], ("rerun_triggers", ["content", "code"]),
     ["out.txt"]),
    (["out.txt", "--until", "summary", "counts/a.txt"], ("until", ["summary", "counts/a.txt"]),
     ["out.txt"]),
    (["--omit-from", "count", "--", "out.txt"], ("omit_from", ["count"]), ["out.txt"]),
    (["--batch", "count=1/2", "out.txt"], ("batch", "count=1/2"), ["out.txt"]),
])
def test_an_option_of_several_values_stops_at_a_word_of_another_form(argv, values, targets):
    args = parser_for("build").parse_args(argv)
    assert getattr(args, values[0]) == values[1]
    assert args.targets == targets


def test_a_target_after_resources_is_built(project, capsys):
    code, out, err = run(capsys, "-n", "--resources", "mem_mb=1", "out.txt")
    assert code == EXIT_OK, err
    assert "other" in out and "summary" not in out  # out.txt's job, not the default target's
    code, _, err = run(capsys, "-n", "--resources", "out.txt")
    assert_one_line_error(code, err, "argument --resources: expected NAME=N, got 'out.txt'")


@pytest.mark.parametrize("argv, needle", [
    (["--rerun-triggers", "hash"], "argument --rerun-triggers: expected "
                                   "mtime|content|params|code|input|software-env, got 'hash'"),
    (["--list-changes", "all"], "argument --list-changes: invalid choice: 'all'"),
    (["--batch", "count=2/1"], "--batch count=2/1: the batch must be from 1 to 1, got 2"),
    (["--until", "nothing.txt"], "--until nothing.txt: no rule has that name and no job of "
                                 "this build makes that file"),
    (["graph", "--omit-from", "nothing"], "--omit-from nothing: no rule has that name"),
    (["summary", "--batch", "other"], "--batch expects RULE=i/n"),
])
def test_bad_values_of_the_partial_build_options_are_one_line(project, capsys, argv, needle):
    code, _, err = run(capsys, *argv)
    assert_one_line_error(code, err, needle)


# ---------------------------------------------------------------- the command's place

def test_options_before_the_command(project, capsys):
    a_run_log("elsewhere.db")
    code, out, err = run(capsys, "--db", "sqlite:///elsewhere.db", "runs")
    assert code == EXIT_OK, err
    assert out.startswith("run ") and "success" in out
    code, out, err = run(capsys, "--db", "sqlite:///elsewhere.db", "runs", "-n", "1")
    assert code == EXIT_OK, err
    code, out, err = run(capsys, "-j", "2", "build", "-n", "out.txt")
    assert code == EXIT_OK and "out.txt" in out, err
    code, out, err = run(capsys, "build", "-n", "runs")  # a target named like a command
    assert_one_line_error(code, err, "no rule makes 'runs'")


def test_among_thousands_of_outputs_the_closest_is_still_found(tmp_path, monkeypatch, capsys):
    samples = ", ".join(f'"s{i}"' for i in range(3000))
    (tmp_path / "Flowfile").write_text(
        f'SAMPLES = [{samples}]\n\nrule many:\n'
        '    output: expand("results/sample_{s}/summary.json", s=SAMPLES)\n'
        '    shell: "touch {output}"\n')
    monkeypatch.chdir(tmp_path)
    for typo, meant in [("results/sampl_s1234/summary.json", "results/sample_s1234/summary.json"),
                        ("results/sample_s2999/sumary.json", "results/sample_s2999/summary.json"),
                        ("reslts/sample_s7/summary.json", "results/sample_s7/summary.json")]:
        code, _, err = run(capsys, "-n", typo)
        assert_one_line_error(code, err, f"no rule makes {typo!r}", f"did you mean {meant!r}?")
