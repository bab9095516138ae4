"""End to end: `script:` in each language it can be written in, run by its real runtime.

R through Rscript (a `job` list), R Markdown rendered by rmarkdown and pandoc, Jupyter
notebooks executed by nbclient (a first cell defining `job`), bash with arrays. Each test
writes, from inside the script, every field of its job to a file, so the file proves what
arrived: a named input holding several files, a param, a wildcard, threads, a resource, the
log, the config, the rule and the attempt. What a runtime needs is checked before anything
runs. CI installs R, rmarkdown, pandoc and nbclient (.ci/run), so these tests never skip
there (need_service).
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys

import pytest
from buildkit import Project
from conftest import need_service

# One rule, the same in every language but for its script: `show` of sample "s1".
RULE = """
configfile: "config.yaml"

rule show:
    input: reads = ["in/{sample}.1.fq", "in/{sample}.2.fq"], ref = "in/ref.fa"
    output: OUTPUT
    log: LOG
    params: top = 5, tags = ["x", "y"], label = "a b"
    threads: 2
    resources: mem_mb = 300
    script: SCRIPT
"""

CONFIG = "genome: hg38\nqc:\n  min_quality: 20\nsamples: [s1, s2]\n"


def project(tmp_path, script: str, source: str, output: str = '"out/{sample}.txt"',
            log: str = '"logs/{sample}.log"') -> Project:
    p = Project(tmp_path)
    p.write(f"scripts/{script}", source)
    p.write("config.yaml", CONFIG)
    for name in ("in/s1.1.fq", "in/s1.2.fq", "in/ref.fa"):
        p.write(name, name + "\n")
    p.flowfile(RULE.replace("OUTPUT", output).replace("LOG", log)
               .replace("SCRIPT", json.dumps(f"scripts/{script}")))
    return p


def has_r() -> bool:
    return shutil.which("Rscript") is not None


def has_rmarkdown() -> bool:
    if not has_r() or shutil.which("pandoc") is None:
        return False
    check = 'quit(status = !(requireNamespace("rmarkdown", quietly = TRUE)))'
    return subprocess.run(["Rscript", "-e", check], capture_output=True).returncode == 0


def has_jupyter() -> bool:
    return all(importlib.util.find_spec(m) for m in ("nbclient", "nbformat", "ipykernel"))


@pytest.fixture
def needs_r():
    need_service(has_r(), "R (Rscript; apt install r-base-core)")


@pytest.fixture
def needs_rmarkdown():
    need_service(has_rmarkdown(), "R Markdown (apt install r-cran-rmarkdown pandoc)")


@pytest.fixture
def needs_jupyter():
    need_service(has_jupyter(), "Jupyter (pip install nbclient nbformat ipykernel)")


# ---------------------------------------------------------------- R

R_SHOW = r"""
fields <- c(
  paste("reads", paste(job$input$reads, collapse = ",")),
  paste("ref", job$input$ref),
  paste("first", job$input[[1]]),
  paste("n_inputs", length(job$input)),
  paste("by_name", paste(job$input[["reads"]], collapse = ",")),
  paste("top", job$params$top, class(job$params$top)),
  paste("tags", paste(job$params$tags, collapse = ",")),
  paste("label", job$params$label),
  paste("sample", job$wildcards$sample),
  paste("threads", job$threads),
  paste("mem_mb", job$resources$mem_mb),
  paste("log", job$log[[1]]),
  paste("genome", job$config$genome),
  paste("min_quality", job$config$qc$min_quality),
  paste("samples", paste(job$config$samples, collapse = ",")),
  paste("rule", job$rule),
  paste("attempt", job$attempt))
writeLines(fields, job$output[[1]])
cat("R wrote", job$output[[1]], "\n")
"""

R_EXPECTED = [
    "reads in/s1.1.fq,in/s1.2.fq", "ref in/ref.fa", "first in/s1.1.fq", "n_inputs 3",
    "by_name in/s1.1.fq,in/s1.2.fq", "top 5 integer", "tags x,y", "label a b",
    "sample s1", "threads 2", "mem_mb 300", "log logs/s1.log", "genome hg38",
    "min_quality 20", "samples s1,s2", "rule show", "attempt 1"]


def test_r_script_gets_its_job_as_a_list(tmp_path, needs_r):
    p = project(tmp_path, "show.R", R_SHOW)
    r = p.build("out/s1.txt")
    assert r.code == 0, r
    assert p.read("out/s1.txt").splitlines() == R_EXPECTED
    assert "R wrote out/s1.txt" in p.read("logs/s1.log")   # stdout goes to the log
    assert os.listdir(p.path(".fileflow/jobs/1")) == []     # job files gone after success


def test_editing_an_r_script_reruns_its_job(tmp_path, needs_r):
    p = project(tmp_path, "show.R", 'writeLines("v1", job$output[[1]])\n')
    assert p.build("out/s1.txt").ran == ["show[sample=s1]"]
    assert p.build("out/s1.txt").ran == []
    p.write("scripts/show.R", 'writeLines("v2", job$output[[1]])\n')
    assert p.build("out/s1.txt").ran == ["show[sample=s1]"]
    assert p.read("out/s1.txt") == "v2\n"


def test_a_failing_r_script_fails_its_job_with_rs_message_in_the_log(tmp_path, needs_r):
    p = project(tmp_path, "show.R", 'x <- job$input$nope\n')
    r = p.build("out/s1.txt")
    assert r.code == 1, r
    assert "no entry named 'nope' (named: reads, ref)" in p.read("logs/s1.log")
    assert "Execution halted" in r.err                      # the log's tail, shown
    assert not p.exists("out/s1.txt")


# ---------------------------------------------------------------- R Markdown

RMD = """---
title: "Sample report"
output: html_document
---

```{r}
cat("reads=", paste(job$input$reads, collapse = ","), ";top=", job$params$top,
    ";sample=", job$wildcards$sample, ";threads=", job$threads,
    ";genome=", job$config$genome, ";rule=", job$rule, ";dir=", basename(getwd()), sep = "")
writeLines(job$wildcards$sample, job$output$data)
```
"""


def test_rmarkdown_renders_to_the_output_named_report_with_its_job(tmp_path, needs_rmarkdown):
    p = project(tmp_path, "report.Rmd", RMD,
                output='data = "out/{sample}.txt", report = "reports/{sample}.html"')
    r = p.build("reports/s1.html")
    assert r.code == 0, r
    html = p.read("reports/s1.html")
    assert html.lstrip().lower().startswith("<!doctype html>")
    assert "Sample report" in html
    assert ("reads=in/s1.1.fq,in/s1.2.fq;top=5;sample=s1;threads=2;genome=hg38;rule=show;"
            f"dir={tmp_path.name}") in html              # the chunks ran in the working dir
    assert p.read("out/s1.txt") == "s1\n"
    assert sorted(os.listdir(p.path("scripts"))) == ["report.Rmd"]  # nothing left beside it


# ---------------------------------------------------------------- notebooks

def notebook(*cells: str) -> str:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python",
                                 "display_name": "Python 3"}
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    return nbformat.writes(nb)


NB_SHOW = """
import json, os
fields = {"reads": job.input.reads, "ref": job.input.ref, "inputs": list(job.input),
          "top": job.params.top, "tags": job.params.tags, "sample": job.wildcards.sample,
          "threads": job.threads, "mem_mb": job.resources.mem_mb, "log": list(job.log),
          "genome": job.config.genome, "min_quality": job.config.qc.min_quality,
          "rule": job.rule, "attempt": job.attempt, "cwd": os.getcwd()}
with open(job.output[0], "w") as out:
    json.dump(fields, out)
print("the notebook ran for", job.wildcards.sample)
"""


def test_notebook_runs_with_a_first_cell_defining_job_and_keeps_the_executed_copy(
        tmp_path, needs_jupyter):
    source = notebook(NB_SHOW)
    p = project(tmp_path, "show.ipynb", source,
                log='"logs/{sample}.log", notebook = "logs/{sample}.ipynb"')
    r = p.build("out/s1.txt")
    assert r.code == 0, r
    assert json.loads(p.read("out/s1.txt")) == {
        "reads": ["in/s1.1.fq", "in/s1.2.fq"], "ref": "in/ref.fa",
        "inputs": ["in/s1.1.fq", "in/s1.2.fq", "in/ref.fa"], "top": 5, "tags": ["x", "y"],
        "sample": "s1", "threads": 2, "mem_mb": 300, "log": ["logs/s1.log", "logs/s1.ipynb"],
        "genome": "hg38", "min_quality": 20, "rule": "show", "attempt": 1,
        "cwd": str(tmp_path)}
    executed = json.loads(p.read("logs/s1.ipynb"))
    first, mine = executed["cells"]
    assert "from fileflow.script import job" in "".join(first["source"])
    assert "".join("".join(o.get("text", [])) for o in mine["outputs"]) == "the notebook ran for s1\n"
    assert p.read("scripts/show.ipynb") == source            # the notebook itself unchanged


def test_a_failing_notebook_fails_its_job_and_its_copy_shows_the_failing_cell(tmp_path, needs_jupyter):
    p = project(tmp_path, "show.ipynb", notebook("print('before')", "1 / 0", "print('never')"),
                log='notebook = "logs/{sample}.ipynb"')
    r = p.build("out/s1.txt")
    assert r.code == 1, r
    assert "ZeroDivisionError" in r.err                      # the log's tail, shown
    cells = json.loads(p.read("logs/s1.ipynb"))["cells"]
    assert [o.get("ename") for o in cells[2]["outputs"]] == ["ZeroDivisionError"]
    assert cells[3]["outputs"] == []                          # never ran
    # The job's stdout and stderr went to a log of their own, not over the notebook.
    assert "ZeroDivisionError" in p.read(".fileflow/logs/show/sample=s1.log")


# ---------------------------------------------------------------- bash

SH_SHOW = r"""
set -euo pipefail
{
  echo "inputs=${#job_input[@]}"
  printf 'input=%s\n' "${job_input[@]}"
  printf 'reads=%s\n' "${job_input_reads[@]}"
  echo "ref=$job_input_ref"
  echo "top=$job_params_top"
  echo "tags=${job_params_tags[*]} (${#job_params_tags[@]})"
  echo "label=$job_params_label"
  echo "sample=$job_wildcards_sample threads=$job_threads mem_mb=$job_resources_mem_mb"
  echo "log=${job_log[0]}"
  echo "genome=${job_config[genome]} min_quality=${job_config[qc.min_quality]}"
  echo "samples=${job_config[samples]}"
  echo "rule=$job_rule attempt=$job_attempt"
  echo "BASH_ENV=${BASH_ENV-unset} child=$(bash -c 'echo ${job_rule-none}')"
} > "${job_output[0]}"
"""


def test_bash_script_gets_arrays_of_its_files_and_variables_of_its_values(tmp_path):
    p = project(tmp_path, "show.sh", SH_SHOW, output='"out/{sample} it\'s.txt"')
    r = p.build("out/s1 it's.txt")
    assert r.code == 0, r
    assert p.read("out/s1 it's.txt").splitlines() == [
        "inputs=3", "input=in/s1.1.fq", "input=in/s1.2.fq", "input=in/ref.fa",
        "reads=in/s1.1.fq", "reads=in/s1.2.fq", "ref=in/ref.fa", "top=5", "tags=x y (2)",
        "label=a b", "sample=s1 threads=2 mem_mb=300", "log=logs/s1.log",
        "genome=hg38 min_quality=20", "samples=s1 s2", "rule=show attempt=1",
        "BASH_ENV=unset child=none"]


# ---------------------------------------------------------------- a name given an empty list

EMPTY_GROUP = """
rule merge:
    input: groups = expand("g/{g}.txt", g=[]), main = "a.txt"
    output: "out.txt"
    log: notes = [], main = "merge.log"
    script: SCRIPT
"""

EMPTY_GROUP_SCRIPTS = {
    "show.py": "import os\nfrom fileflow.script import job\n"
               "open(job.output[0], 'w').write(f'{job.input.groups!r} {job.log.notes!r} '\n"
               "    f'{list(job.input)!r} {job.input.main} '\n"
               "    f'[{os.environ[\"FILEFLOW_INPUT_groups\"]}]\\n')\n",
    "show.R": 'writeLines(paste(length(job$input$groups), length(job$log$notes),\n'
              '                 length(job$input), job$input$main), job$output[[1]])\n',
    "show.sh": 'set -eu\ndeclare -p job_input_groups job_log_notes > /dev/null  # each defined\n'
               'echo "${#job_input_groups[@]} ${#job_log_notes[@]} ${#job_input[@]} '
               '${job_input_main[0]}" > "${job_output[0]}"\n',
}


@pytest.mark.parametrize("script, expected", [
    ("show.py", "[] [] ['a.txt'] a.txt []\n"), ("show.R", "0 0 1 a.txt\n"), ("show.sh", "0 0 1 a.txt\n"),
])
def test_a_name_given_an_empty_list_reaches_the_script_as_an_empty_list(tmp_path, script, expected):
    if script.endswith(".R"):
        need_service(has_r(), "R (Rscript; apt install r-base-core)")
    p = Project(tmp_path)
    p.write("a.txt", "a\n")
    p.write(f"scripts/{script}", EMPTY_GROUP_SCRIPTS[script])
    p.flowfile(EMPTY_GROUP.replace("SCRIPT", json.dumps(f"scripts/{script}")))
    r = p.build()
    assert r.code == 0, r
    assert p.read("out.txt") == expected


# ---------------------------------------------------------------- what must be installed

def restricted_path(tmp_path, *without: str) -> str:
    """A PATH folder with every command of this one but those named."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if not os.path.isdir(directory):
            continue
        for name in os.listdir(directory):
            target = os.path.join(directory, name)
            if name in without or (folder / name).exists() or not os.access(target, os.X_OK):
                continue
            (folder / name).symlink_to(target)
    return str(folder)


def with_a_shell_job(p: Project) -> None:
    """Add a rule that runs before `show` (its input), to prove nothing ran."""
    text = p.read("Flowfile").replace('"in/ref.fa"', '"made/ref.fa"')
    p.write("Flowfile", text + '\nrule ref:\n    output: "made/ref.fa"\n    shell: "touch {output}"\n')


def test_without_rscript_an_r_job_is_an_error_before_anything_runs(tmp_path):
    """guarantees.md: Errors in words, never a traceback."""
    p = project(tmp_path, "show.R", R_SHOW)
    with_a_shell_job(p)
    r = p.run("out/s1.txt", env=p.env(PATH=restricted_path(tmp_path, "Rscript")))
    assert r.code == 2, r
    assert ("job show[sample=s1] runs the R script 'scripts/show.R', but Rscript is not on "
            "PATH: install R (e.g. 'apt install r-base-core')") in r.err
    assert r.jobs == [] and not p.exists("made/ref.fa")


def test_without_pandoc_an_rmarkdown_job_is_an_error_before_anything_runs(tmp_path, needs_r):
    """guarantees.md: Errors in words, never a traceback."""
    p = project(tmp_path, "report.Rmd", RMD, output='data = "out/{sample}.txt", '
                                                    'report = "reports/{sample}.html"')
    with_a_shell_job(p)
    r = p.run("reports/s1.html", env=p.env(PATH=restricted_path(tmp_path, "pandoc")))
    assert r.code == 2, r
    assert "pandoc is not installed (e.g. 'apt install pandoc')" in r.err
    assert r.jobs == [] and not p.exists("made/ref.fa")


def test_without_nbclient_a_notebook_job_is_an_error_before_anything_runs(tmp_path):
    """guarantees.md: Errors in words, never a traceback."""
    p = project(tmp_path, "show.ipynb", '{"cells": [], "metadata": {}, "nbformat": 4, '
                                        '"nbformat_minor": 5}')
    with_a_shell_job(p)
    hide = tmp_path / "hide" / "nbclient"
    hide.mkdir(parents=True)
    (hide / "__init__.py").write_text("raise ImportError('No module named nbclient')\n")
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.pathsep.join([str(hide.parent), here, os.environ.get("PYTHONPATH", "")])
    r = p.run("out/s1.txt", env=p.env(PYTHONPATH=path))
    assert r.code == 2, r
    assert (f"job show[sample=s1] runs the Jupyter notebook script 'scripts/show.ipynb', but "
            f"{sys.executable} cannot run notebooks (ImportError: No module named nbclient): "
            "install them with 'pip install nbclient nbformat ipykernel'") in r.err
    assert r.jobs == [] and not p.exists("made/ref.fa")


def test_an_up_to_date_r_job_needs_no_r(tmp_path, needs_r):
    p = project(tmp_path, "show.R", 'writeLines("v1", job$output[[1]])\n')
    assert p.build("out/s1.txt").code == 0
    r = p.run("out/s1.txt", env=p.env(PATH=restricted_path(tmp_path, "Rscript")))
    assert r.code == 0, r
    assert "nothing to do" in r.out


def test_r_reads_back_every_value_of_its_job_exactly(tmp_path, needs_r):
    """guarantees.md: Quoting (in the C locale too)."""
    from fileflow.run.script_jobs import r_preamble

    nasty = ["a b;rm -rf x", "it's \"quoted\"", "back\\slash", "line\nbreak", "ünïcødé 😀", "$(x)"]
    data = {"rule": "r", "attempt": 1, "threads": 1, "wildcards": {"w": nasty[4]},
            "resources": {}, "config": {"k": nasty, "n": {"x": 1.5}},
            "input": {"values": nasty, "names": ["f"] * len(nasty)},
            "output": {"values": [], "names": []}, "log": {"values": [], "names": []},
            "params": {"values": [nasty[1]], "names": ["p"]}}
    (tmp_path / "job.R").write_text(r_preamble(data))
    show = ('x <- c(job$input$f, job$wildcards$w, job$config$k, job$params$p, '
            'as.character(job$config$n$x)); '
            'writeBin(charToRaw(enc2utf8(paste(x, collapse = "\\x1f"))), "out.txt")')
    subprocess.run(["Rscript", "--no-save", "--no-restore", "--no-site-file", "--no-environ",
                    "-e", show], cwd=tmp_path, check=True, env={**os.environ, "LC_ALL": "C",
                                                               "R_PROFILE_USER": str(tmp_path / "job.R")})
    assert (tmp_path / "out.txt").read_bytes().decode().split("\x1f") == [
        *nasty, nasty[4], *nasty, nasty[1], "1.5"]
