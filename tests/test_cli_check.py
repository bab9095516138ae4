"""`fileflow check`: file lookup, -f/-C, config overrides, the summary line, exit codes, and a
command line that stays light to import."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from fileflow.cli.main import main
from fileflow.errors import EXIT_OK, EXIT_USAGE

TREE = {
    "Flowfile": '''\
        configfile: "config.yaml"
        include: "rules/prepare.flow"
        include: "rules/report.flow"
        default: config.target
        ''',
    "rules/prepare.flow": '''\
        include: "common/names.flow"
        rule prepare:
            input: "data/{sample}.txt"
            output: "prepared/{sample}.txt"
            shell: "sort {input} > {output}"
        ''',
    "rules/common/names.flow": '''\
        SAMPLES = config.samples
        ''',
    "rules/report.flow": '''\
        rule report:
            input: expand("prepared/{sample}.txt", sample=SAMPLES)
            output: config.target
            shell: "cat {input} > {output}"
        ''',
    "config.yaml": "samples: [a, b]\ntarget: results/report.txt\n",
    "other.yaml": "target: results/other.txt\n",
}
SUMMARY = ("{flowfile}: ok: 2 rules (prepare, report), 3 included files; "
           "default target: {target}\n")


def write_tree(root: Path, files: dict[str, str] = TREE) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_mtime_ns, p.stat().st_size)
            for p in root.rglob("*")}


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def tree(tmp_path, monkeypatch):
    write_tree(tmp_path)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_check_an_include_tree_with_a_config_file(tree, capsys):
    before = snapshot(tree)
    code, out, err = run(capsys, "check")
    assert (code, err) == (EXIT_OK, "")
    assert out == SUMMARY.format(flowfile="Flowfile", target="results/report.txt")
    assert snapshot(tree) == before  # check changes nothing, not even an mtime


def test_config_on_the_command_line_overrides_the_files(tree, capsys):
    code, out, _ = run(capsys, "check", "--configfile", "other.yaml")
    assert out == SUMMARY.format(flowfile="Flowfile", target="results/other.txt")
    code, out, _ = run(capsys, "check", "--configfile", "other.yaml",
                       "--config", "target=results/cli.txt")
    assert out == SUMMARY.format(flowfile="Flowfile", target="results/cli.txt")
    # global options before the command work as well
    code, out, _ = run(capsys, "--config", "target=results/early.txt", "check")
    assert (code, out) == (EXIT_OK, SUMMARY.format(flowfile="Flowfile", target="results/early.txt"))


def test_a_config_override_reaches_an_included_file(tree, capsys):
    code, out, err = run(capsys, "check", "--config", "samples=[]", "--config", "target=t.txt")
    assert code == EXIT_OK, err
    code, out, err = run(capsys, "check", "--config", "samples={a: 1}")
    assert code == EXIT_USAGE
    assert err.startswith("rules/report.flow:2:12: error: expand() value for 'sample' must be")


def test_bad_command_line_config(tree, capsys):
    code, out, err = run(capsys, "check", "--config", "novalue")
    assert (code, out) == (EXIT_USAGE, "")
    assert err == "error: --config expects key=value, got 'novalue'\n"
    code, out, err = run(capsys, "check", "--configfile", "missing.yaml")
    assert (code, err) == (EXIT_USAGE, "error: config file not found: missing.yaml\n")


def test_default_lookup_prefers_flowfile_then_workflow_flowfile(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    one_rule = 'rule {name}:\n    output: "{name}.txt"\n    shell: "touch {{output}}"\n'
    (tmp_path / "workflow").mkdir()
    (tmp_path / "workflow" / "Flowfile").write_text(one_rule.format(name="nested"))
    code, out, err = run(capsys, "check")
    assert (code, out) == (EXIT_OK, f"{os.path.join('workflow', 'Flowfile')}: ok: 1 rule (nested); "
                                    "default target: nested\n")
    (tmp_path / "Flowfile").write_text(one_rule.format(name="top"))
    code, out, err = run(capsys, "check")
    assert (code, out) == (EXIT_OK, "Flowfile: ok: 1 rule (top); default target: top\n")


def test_file_and_directory_options(tree, tmp_path_factory, monkeypatch, capsys):
    (tree / "Flowfile").rename(tree / "main.flow")
    code, out, err = run(capsys, "check", "-f", "main.flow")
    assert (code, out) == (EXIT_OK, SUMMARY.format(flowfile="main.flow", target="results/report.txt"))
    code, out, err = run(capsys, "check", "--file", "main.flow")
    assert code == EXIT_OK
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    monkeypatch.chdir(elsewhere)
    code, out, err = run(capsys, "-C", str(tree), "check", "-f", "main.flow")
    assert (code, out, err) == (EXIT_OK, SUMMARY.format(flowfile="main.flow",
                                                        target="results/report.txt"), "")
    code, out, err = run(capsys, "check", "--directory", str(tree), "--file", "main.flow")
    assert code == EXIT_OK


def test_a_missing_flowfile_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "check")
    assert (code, out) == (EXIT_USAGE, "")
    assert err == (f"no Flowfile found in {tmp_path} (looked for Flowfile, "
                   f"{os.path.join('workflow', 'Flowfile')}; use -f FILE or -C DIR)\n")
    code, out, err = run(capsys, "check", "-f", "nope.flow")
    assert (code, err) == (EXIT_USAGE, "no Flowfile at nope.flow\n")
    code, out, err = run(capsys, "-C", str(tmp_path / "no_such_dir"), "check")
    assert code == EXIT_USAGE and "cannot change to directory" in err


def test_a_bad_flowfile_exits_2_with_the_located_message(tree, capsys):
    (tree / "rules" / "report.flow").write_text("rule report\n")
    code, out, err = run(capsys, "check")
    assert (code, out) == (EXIT_USAGE, "")
    assert err.splitlines() == [
        "rules/report.flow:1:12: error: expected ':' after the rule name 'report'",
        "    1 | rule report",
        "      |            ^",
        "hint: write it as: rule report:"]


def test_check_imports_the_python_file_and_reports_a_name_it_lacks(tmp_path, monkeypatch, capsys):
    """`check` runs the Python file a Flowfile imports functions from, and no job."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "workflow").mkdir()
    (tmp_path / "workflow" / "common.py").write_text(
        "open('imported', 'w').close()\ndef get_fastq(wildcards):\n    return 'raw.fq'\n")
    (tmp_path / "Flowfile").write_text(
        'from "workflow/common.py" import get_fq\nrule a:\n    input: get_fq(wildcards)\n'
        '    output: "out/{s}.txt"\n    shell: "touch {output}"\n')
    code, out, err = run(capsys, "check")
    assert (code, out) == (EXIT_USAGE, "")
    assert err.splitlines() == [
        "Flowfile:1:34: error: workflow/common.py has no function 'get_fq'; it has: get_fastq",
        '    1 | from "workflow/common.py" import get_fq',
        "      |                                  ^^^^^^",
        "hint: did you mean 'get_fastq'?"]
    assert (tmp_path / "imported").exists()
    (tmp_path / "Flowfile").write_text((tmp_path / "Flowfile").read_text().replace("get_fq", "get_fastq"))
    code, out, err = run(capsys, "check")
    assert (code, err) == (EXIT_OK, "")
    assert out.startswith("Flowfile: ok: 1 rule")


def test_examples_quickstart_checks(capsys):
    quickstart = Path(__file__).resolve().parent.parent / "examples" / "quickstart"
    if not (quickstart / "Flowfile").is_file():
        pytest.skip("no examples/quickstart yet")
    code, out, err = run(capsys, "-C", str(quickstart), "check")
    assert code == EXIT_OK, err
    assert out.startswith("Flowfile: ok: ")


def python(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def test_python_m_fileflow_help_and_check(tree):
    done = python("-m", "fileflow", "--help")
    assert done.returncode == 0 and done.stdout.startswith("usage: fileflow")
    assert "check" in done.stdout
    done = python("-m", "fileflow", "check", cwd=tree)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == SUMMARY.format(flowfile="Flowfile", target="results/report.txt")
    done = python("-m", "fileflow", "check", "-f", "nope", cwd=tree)
    assert done.returncode == EXIT_USAGE and "Traceback" not in done.stderr


def test_importing_the_cli_stays_light():
    done = python("-c", "import sys, fileflow.cli.main; "
                        "print(sorted({m.split('.')[0] for m in sys.modules} & "
                        "{'lark', 'sqlalchemy', 'rich', 'starlette', 'uvicorn'}))")
    assert (done.returncode, done.stdout.strip()) == (0, "[]"), done.stderr


# ---------------------------------------------------------------- what the rules alone show

def check_text(tmp_path: Path, monkeypatch, capsys, text: str, *args: str) -> tuple[int, str, str]:
    (tmp_path / "Flowfile").write_text(textwrap.dedent(text))
    monkeypatch.chdir(tmp_path)
    return run(capsys, "check", *args)


CYCLE = '''\
    rule all:
        input: "b.txt"
    rule a:
        input: "b.txt", "src.txt"
        output: "a.txt"
        shell: "cp {input} {output}"
    rule b:
        input: "a.txt"
        output: "{name,b}.txt"
        shell: "cp {input} {output}"
    '''


def test_a_cycle_between_rules_is_an_error_with_a_place_and_a_hint(tmp_path, monkeypatch, capsys):
    (tmp_path / "src.txt").write_text("x\n")
    code, out, err = check_text(tmp_path, monkeypatch, capsys, CYCLE)
    assert (code, out) == (EXIT_USAGE, "")
    assert err.splitlines()[:3] == [
        "Flowfile:4:12: error: dependency cycle: b[name=b] -> a -> b[name=b]",
        '    4 |     input: "b.txt", "src.txt"',
        "      |            ^^^^^^^"]
    assert err.splitlines()[3].startswith("hint: ") and "break the cycle" in err


def test_a_rule_without_wildcards_beats_a_pattern_with_no_ruleorder(tmp_path, monkeypatch, capsys):
    text = '''\
        rule all:
            input: "qc/multiqc.txt"
        rule fastqc:
            output: "qc/{sample}.txt"
            shell: "touch {output}"
        rule multiqc:
            output: "qc/multiqc.txt"
            shell: "touch {output}"
        '''
    code, out, err = check_text(tmp_path, monkeypatch, capsys, text)
    assert (code, err) == (EXIT_OK, "")


def test_an_output_two_rules_can_make_is_settled_by_the_inputs_on_disk(tmp_path, monkeypatch, capsys):
    text = '''\
        rule all:
            input: "out/x.txt"
        rule from_raw:
            input: "raw/{n}.txt"
            output: "out/{n}.txt"
            shell: "cp {input} {output}"
        rule from_sra:
            input: "sra/{n}.sra"
            output: "out/{n}.txt"
            shell: "cp {input} {output}"
        '''
    code, out, err = check_text(tmp_path, monkeypatch, capsys, text)
    # neither can run now: a warning naming what each lacks, as a build would stop on it
    assert code == EXIT_OK and "can both make" not in err
    assert err.startswith(
        "Flowfile:2:12: warning: no rule can make 'out/x.txt' and there is no such file: none "
        "of the rules that could make it can run (rule 'from_raw' (Flowfile:3:6) needs "
        "'raw/x.txt'; rule 'from_sra' (Flowfile:7:6) needs 'sra/x.sra': files that do not "
        "exist and that no rule makes)")
    (tmp_path / "sra").mkdir()
    (tmp_path / "sra" / "x.sra").write_text("x\n")
    code, out, err = check_text(tmp_path, monkeypatch, capsys, text)
    assert (code, err) == (EXIT_OK, "")


def test_an_output_two_rules_can_make_is_an_error_unless_ruleorder_settles_it(
        tmp_path, monkeypatch, capsys):
    text = '''\
        rule all:
            input: "ref/genome.fa"
        rule reference:
            output: "ref/{name}.fa"
            shell: "touch {output}"
        rule download:
            output: "ref/{name}.fa"
            shell: "touch {output}"
        '''
    code, out, err = check_text(tmp_path, monkeypatch, capsys, text)
    assert (code, out) == (EXIT_USAGE, "")
    assert err.startswith("Flowfile:2:12: error: rules 'reference' (Flowfile:3:6) and 'download' "
                          "(Flowfile:6:6) can both make 'ref/genome.fa'; add 'ruleorder: "
                          "reference > download'")
    code, out, err = check_text(tmp_path, monkeypatch, capsys,
                                text + "ruleorder: reference > download\n")
    assert (code, err) == (EXIT_OK, "")
    # a constraint that keeps the pattern off the literal path settles it too
    code, out, err = check_text(tmp_path, monkeypatch, capsys,
                                text.replace("ref/{name}.fa", "ref/{name,[0-9]+}.fa", 1))
    assert (code, err) == (EXIT_OK, "")


def test_a_literal_input_no_rule_makes_is_a_warning_only_when_it_is_not_on_disk(
        tmp_path, monkeypatch, capsys):
    text = '''\
        rule all:
            input: expand("raw/{s}.txt", s=["a", "b", "c"]), "ref.fa"
        '''
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "b.txt").write_text("x\n")
    code, out, err = check_text(tmp_path, monkeypatch, capsys, text)
    assert code == EXIT_OK
    assert out == "Flowfile: ok: 1 rule (all); default target: all; 2 warnings\n"
    assert err.split("\n\n") == [
        "Flowfile:2:12: warning: input 'raw/a.txt' (and 1 more) of rule 'all' is made by no rule "
        "and does not exist now\n"
        '    2 |     input: expand("raw/{s}.txt", s=["a", "b", "c"]), "ref.fa"\n'
        "      |            ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n"
        "hint: the build stops with 'missing input' unless the file is there by then; if a rule "
        "is meant to make it, that rule's output pattern does not match this path",
        "Flowfile:2:54: warning: input 'ref.fa' of rule 'all' is made by no rule and does not "
        "exist now\n"
        '    2 |     input: expand("raw/{s}.txt", s=["a", "b", "c"]), "ref.fa"\n'
        "      |                                                      ^^^^^^^^\n"
        "hint: the build stops with 'missing input' unless the file is there by then; if a rule "
        "is meant to make it, that rule's output pattern does not match this path\n"]
    for name in ("raw/a.txt", "raw/c.txt", "ref.fa"):
        (tmp_path / name).write_text("x\n")
    code, out, err = run(capsys, "check")
    assert (code, out, err) == (EXIT_OK, "Flowfile: ok: 1 rule (all); default target: all\n", "")


def test_a_wildcard_param_in_a_command_without_q_is_a_warning(tmp_path, monkeypatch, capsys):
    text = '''\
        rule all:
            input: "out/a.txt"
        rule make:
            output: "out/{name}.txt"
            params: label = "sample " + wildcards.name
            shell: "echo {params.label} > {output}"
        '''
    code, out, err = check_text(tmp_path, monkeypatch, capsys, text)
    assert code == EXIT_OK
    assert out.endswith("; default target: all; 1 warning\n")
    assert err.splitlines() == [
        "Flowfile:6:18: warning: '{params.label}' in the shell command of rule 'make' inserts a "
        "value made from wildcards unquoted: a requested file name such as 'out/$(touch X).txt' "
        "would run as shell code (lint FF111)",
        '    6 |     shell: "echo {params.label} > {output}"',
        "      |                  ^^^^^^^^^^^^^^",
        "hint: write {params.label:q}"]
    code, out, err = check_text(tmp_path, monkeypatch, capsys,
                                text.replace("{params.label}", "{params.label:q}"))
    assert (code, err) == (EXIT_OK, "")


def test_no_false_alarm_on_patterns_that_only_look_alike(tmp_path, monkeypatch, capsys):
    text = '''\
        rule all:
            input: "r/a.sorted.txt", "calls/a.vcf"
        rule sort:
            input: "r/{s}.txt"
            output: "r/{s}.sorted.txt"
            shell: "sort {input} > {output}"
        rule make:
            output: "r/{s,[a-z]+}.txt"
            shell: "touch {output}"
        rule merge:
            input: "calls/a/chr1.vcf"
            output: "calls/{sample,[A-Za-z0-9]+}.vcf"
            shell: "cat {input} > {output}"
        rule call:
            output: "calls/{sample}/{chrom}.vcf"
            shell: "touch {output}"
        '''
    code, out, err = check_text(tmp_path, monkeypatch, capsys, text)
    assert (code, err) == (EXIT_OK, "")


# ---------------------------------------------------------------- resources check and build agree on

RUNTIME = '''\
    rule a:
        output: "a.txt"
        shell: "echo {resources.runtime} {resources.mem_mb} > {output}"
    '''


def test_check_accepts_a_resource_only_when_every_job_has_it(tmp_path, monkeypatch, capsys):
    code, out, err = check_text(tmp_path, monkeypatch, capsys, RUNTIME)
    assert (code, out) == (EXIT_USAGE, "")
    assert err.startswith("Flowfile:3:18: error: {resources.runtime}: rule 'a' has no resource "
                          "'runtime' (set it in its 'resources:', or give every job one: "
                          "--default-resources runtime=VALUE)")
    code, out, err = run(capsys, "check", "--default-resources", "runtime=5", "mem_mb=100")
    assert (code, err) == (EXIT_OK, "")
    (tmp_path / "profiles" / "hpc").mkdir(parents=True)
    (tmp_path / "profiles" / "hpc" / "config.yaml").write_text(
        "jobs: 4\ndefault-resources:\n  runtime: 60\n  mem_mb: 2000\n")
    code, out, err = run(capsys, "check", "--profile", "hpc")
    assert (code, err) == (EXIT_OK, "")
    # the rule's own resources count, with or without defaults
    own = RUNTIME.replace('"a.txt"', '"a.txt"\n        resources: runtime = 3, mem_mb = 1')
    code, out, err = check_text(tmp_path, monkeypatch, capsys, own)
    assert (code, err) == (EXIT_OK, "")
    # per-job values: their names are known all the same
    per_job = RUNTIME.replace('"a.txt"', '"a.txt"\n        resources: mem_mb = 100 * attempt')
    code, out, err = check_text(tmp_path, monkeypatch, capsys, per_job)
    assert code == EXIT_USAGE and "has no resource 'runtime'" in err
    code, out, err = run(capsys, "check", "--default-resources", "runtime=5")
    assert (code, err) == (EXIT_OK, "")
