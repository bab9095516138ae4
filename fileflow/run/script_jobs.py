"""How a `script:` job runs, by the script's language, and what it sees of its job. Layer 4.

Every kind gets the job's values (inputs, outputs, log, params, wildcards, threads,
resources, the workflow's config, the rule, the attempt) in its own idiom, written when the
job starts to .fileflow/jobs/RUN/JOB.* (kept after a failure, to look at):

- Python (`.py`): JOB.json, named by FILEFLOW_JOB, read by `from fileflow.script import job`.
- R (`.R`) and R Markdown (`.Rmd`): JOB.R, R source defining the list `job` (`job$input$reads`,
  `job$output[[1]]`), read before the script as the R profile; an `.Rmd` is rendered with
  rmarkdown::render to the output named `report`, else the first output.
- Jupyter notebooks (`.ipynb`): fileflow.notebook runs it with a first cell importing `job`;
  the executed copy goes to the log (else output) named `notebook`, else to the first
  `.ipynb` log.
- bash (`.sh`): JOB.sh, read by bash (through BASH_ENV) before the script: arrays
  `job_input`, `job_input_NAME`, ..., scalars `job_params_NAME`, `job_threads`, ...

Before a build starts anything, check_runtimes checks that what the jobs to run need is
installed (Rscript, rmarkdown and pandoc, nbclient), naming what to install when not.
"""
from __future__ import annotations

import json
import math
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterable, Mapping

from fileflow.engine.graph import Job
from fileflow.errors import FileflowError
from fileflow.fs import remove_path
from fileflow.lang.job_values import command_outputs
from fileflow.lang.script_kinds import LANGUAGE, NOTEBOOK_NAME, REPORT_NAME, script_kind
from fileflow.template import Items, value_text

__all__ = ["job_data", "r_value", "r_preamble", "bash_preamble", "script_command",
           "report_output", "notebook_copy", "check_runtimes", "remove_job_files"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# Rscript --vanilla, but for the profile: ours defines `job` (R_PROFILE_USER).
_R_OPTIONS = "--no-save --no-restore --no-site-file --no-environ"


def _items(items: Items) -> dict:
    return {"values": list(items.values), "names": list(items.names), "empty": list(items.empty)}


def job_data(job: Job, attempt: int, config: Mapping[str, object]) -> dict:
    """The job's values, as the job file holds them (what every kind of script is given)."""
    v = job.values
    data = {
        "rule": job.rule.name, "attempt": attempt, "threads": v.threads,
        "input": _items(v.inputs), "output": _items(command_outputs(v)), "log": _items(v.log),
        "params": _items(v.params), "wildcards": dict(job.wildcards),
        "resources": dict(v.resources), "config": config,
    }
    return data


# ---------------------------------------------------------------- R

def _r_string(text: str) -> str:
    """An R string literal: ASCII only (non-ASCII as \\u{...}), so any locale reads it."""
    out = []
    for ch in text:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 32 <= code < 127:
            out.append(ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        else:
            out.append(f"\\u{{{code:x}}}" if code <= 0xFFFF else f"\\U{{{code:x}}}")
    return '"' + "".join(out) + '"'


def _r_scalar(value: object) -> str | None:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return f"{value}L" if -2**31 < value < 2**31 else repr(float(value))
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        return ("Inf" if value > 0 else "-Inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return _r_string(value)
    return None


def r_value(value: object) -> str:
    """R source for a JSON value: a mapping is a named list, a list of scalars of one type a
    vector (`c(...)`), any other list a list."""
    scalar = _r_scalar(value)
    if scalar is not None:
        return scalar
    if isinstance(value, Mapping):
        return "list(" + ", ".join(f"{_r_string(str(k))} = {r_value(v)}"
                                   for k, v in value.items()) + ")"
    if isinstance(value, list):
        if value and _one_scalar_type(value):
            return "c(" + ", ".join(r_value(v) for v in value) + ")"
        return "list(" + ", ".join(r_value(v) for v in value) + ")"
    return _r_string(str(value))


def _one_scalar_type(values: list) -> bool:
    kinds = {bool if isinstance(v, bool) else float if isinstance(v, (int, float))
             else str if isinstance(v, str) else None for v in values}
    return len(kinds) == 1 and None not in kinds


def _r_items(items: dict) -> str:
    values = ", ".join(r_value(v) for v in items["values"])
    names = ", ".join(_r_string(n or "") for n in items["names"])
    empty = ", ".join(_r_string(n) for n in items.get("empty", ()))
    return (f"fileflow_items(list({values}), c({names})" if values else
            "fileflow_items(list(), character(0)") + (f", c({empty}))" if empty else ")")


# `job$input$reads` is every file of that name (a vector when several), `job$input[[1]]`
# the first file; the methods live where the script runs (the global environment).
_R_HELPERS = r'''fileflow_items <- function(values, names, empty = character(0))
    structure(values, names = names, empty = if (length(empty)) empty,
              class = c("fileflow_items", "list"))
`$.fileflow_items` <- function(x, name) {
    hits <- unclass(x)[names(x) == name]
    if (length(hits) == 0 && name %in% attr(x, "empty")) return(character(0))
    if (length(hits) == 0)
        stop(sprintf("job: no entry named '%s' (named: %s)", name,
                     paste(unique(c(names(x)[names(x) != ""], attr(x, "empty"))),
                           collapse = ", ")), call. = FALSE)
    if (length(hits) == 1) return(hits[[1]])
    if (all(vapply(hits, function(h) is.atomic(h) && length(h) == 1, TRUE)))
        return(unlist(hits, use.names = FALSE))
    unname(hits)
}
`[[.fileflow_items` <- function(x, i, ...)
    if (is.character(i)) `$.fileflow_items`(x, i) else unclass(x)[[i]]
print.fileflow_items <- function(x, ...) {
    attr(x, "empty") <- NULL
    print(unclass(x), ...)
}
'''


def r_preamble(data: dict) -> str:
    """R source defining `job` (and the helpers its lists use), read before the script."""
    fields = [
        ("input", _r_items(data["input"])), ("output", _r_items(data["output"])),
        ("log", _r_items(data["log"])), ("params", _r_items(data["params"])),
        ("wildcards", r_value(data["wildcards"])), ("threads", r_value(data["threads"])),
        ("resources", r_value(data["resources"])), ("config", r_value(data["config"])),
        ("rule", r_value(data["rule"])), ("attempt", r_value(data["attempt"])),
    ]
    body = ",\n    ".join(f"{name} = {value}" for name, value in fields)
    return ("# This job's values, written by fileflow when the job started.\n"
            "Sys.unsetenv(\"R_PROFILE_USER\")  # R started by the script reads its own profile\n"
            + _R_HELPERS + f"job <- list(\n    {body}\n)\n")


# ---------------------------------------------------------------- bash

def _bash_text(value: object) -> str:
    """A value as one word of text: true/false, a list of scalars joined by spaces,
    other lists and mappings as JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list) and all(not isinstance(v, (list, Mapping)) for v in value):
        return " ".join(_bash_text(v) for v in value)
    if isinstance(value, (list, Mapping)):
        return json.dumps(value)
    return str(value)


def _flat(value: Mapping, prefix: str = "") -> Iterable[tuple[str, str]]:
    """Nested mappings as (dotted key, text) pairs: {"qc": {"min": 3}} -> ("qc.min", "3")."""
    for key, item in value.items():
        if isinstance(item, Mapping) and item:
            yield from _flat(item, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", _bash_text(item)


def _bash_variable(name: str, value: object) -> str:
    if isinstance(value, list):
        return f"{name}=(" + " ".join(shlex.quote(_bash_text(v)) for v in value) + ")"
    if isinstance(value, Mapping):
        return _bash_map(name, value)
    return f"{name}={shlex.quote(_bash_text(value))}"


def _bash_map(name: str, value: Mapping) -> str:
    pairs = " ".join(f"[{shlex.quote(k)}]={shlex.quote(v)}" for k, v in _flat(value))
    return f"declare -A {name}=({pairs})"


def bash_preamble(data: dict) -> str:
    """bash source defining the job's variables: `job_input` (every input, an array),
    `job_input_NAME` (the inputs of that name, an array), the same for output and log;
    `job_params_NAME` (an array for a list, an associative array for a mapping),
    `job_wildcards_NAME`, `job_resources_NAME`, `job_threads`, `job_rule`, `job_attempt`;
    `job_config`, an associative array keyed by dotted paths (`${job_config[qc.min]}`)."""
    lines = ["# This job's values, written by fileflow when the job started.",
             "unset BASH_ENV  # bash started by the script starts as usual",
             _bash_variable("job_rule", data["rule"]),
             _bash_variable("job_attempt", data["attempt"]),
             _bash_variable("job_threads", data["threads"])]
    for kind in ("input", "output", "log"):
        items = data[kind]
        lines.append(_bash_variable(f"job_{kind}", items["values"]))
        names = (*items["names"], *items.get("empty", ()))
        for name in dict.fromkeys(n for n in names if n and _NAME.match(n)):
            named = [v for v, n in zip(items["values"], items["names"]) if n == name]
            lines.append(_bash_variable(f"job_{kind}_{name}", named))
    params = data["params"]
    for name, value in zip(params["names"], params["values"]):
        if name and _NAME.match(name):
            lines.append(_bash_variable(f"job_params_{name}", value))
    for kind in ("wildcards", "resources"):
        for name, value in data[kind].items():
            if _NAME.match(name):
                lines.append(f"job_{kind}_{name}={shlex.quote(_bash_text(value))}")
    lines.append(_bash_map("job_config", data["config"]))
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- the command

def report_output(job: Job) -> str:
    """The file an R Markdown script renders to: the output named `report`, else the first."""
    outputs = job.values.outputs
    named = outputs.named(REPORT_NAME)
    return named[0] if named else outputs.values[0]


def notebook_copy(job: Job) -> str | None:
    """Where a notebook's executed copy goes: the log named `notebook`, else the output of
    that name, else the first log ending in .ipynb; None: not kept."""
    v = job.values
    for items in (v.log, v.outputs):
        named = items.named(NOTEBOOK_NAME)
        if named:
            return named[0]
    return next((p for p in v.log.values if p.endswith(".ipynb")), None)


def _r_call(function: str, *args: str, **keywords: str) -> str:
    parts = [_r_string(a) for a in args] + [f"{k} = {v}" for k, v in keywords.items()]
    return f"{function}({', '.join(parts)})"


def script_command(job: Job, attempt: int, script: str, run_id: int, python: str,
                   config: Mapping[str, object]) -> tuple[str, dict[str, str]]:
    """The command that runs a `script:` and its environment; the job's values are written
    to .fileflow/jobs/RUN/JOB.json (and JOB.R or JOB.sh for those kinds)."""
    text = json.dumps(job_data(job, attempt, config), default=str)
    folder = os.path.join(".fileflow", "jobs", str(run_id))
    os.makedirs(folder, exist_ok=True)
    base = os.path.abspath(os.path.join(folder, str(job.id)))
    _write(base + ".json", text)
    env = {"FILEFLOW_JOB": base + ".json", **_variables(job)}
    kind = script_kind(script)
    quoted = shlex.quote(script)
    # R and bash are given the values as read back from the JSON, so that every kind sees
    # the same plain values (a tuple is a list, a value JSON has no form for is its text).
    if kind in ("r", "rmarkdown"):
        _write(base + ".R", r_preamble(json.loads(text)))
        if kind == "r":
            run = f"Rscript {_R_OPTIONS} {quoted}"
        else:
            render = _r_call("rmarkdown::render", script,
                             output_file=_r_string(os.path.abspath(report_output(job))),
                             intermediates_dir="tempdir()", knit_root_dir="getwd()",
                             envir="globalenv()", quiet="TRUE")
            run = f"Rscript {_R_OPTIONS} -e {shlex.quote(render)}"
        return f"R_PROFILE_USER={shlex.quote(base + '.R')} exec {run}", env
    if kind == "bash":
        _write(base + ".sh", bash_preamble(json.loads(text)))
        return f"BASH_ENV={shlex.quote(base + '.sh')} exec bash {quoted}", env
    if kind == "notebook":
        copy = notebook_copy(job)
        extra = f" {shlex.quote(copy)}" if copy else ""
        return f"exec {shlex.quote(python)} -m fileflow.notebook {quoted}{extra}", env
    return f"exec {shlex.quote(python)} {quoted}", env


def remove_job_files(job_file: str) -> None:
    """Remove a finished job's files: JOB.json and the JOB.R or JOB.sh beside it."""
    base = job_file[:-len(".json")] if job_file.endswith(".json") else job_file
    for path in (job_file, base + ".R", base + ".sh"):
        remove_path(path)


def _write(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)


def _variables(job: Job) -> dict[str, str]:
    """FILEFLOW_INPUT, FILEFLOW_INPUT_NAME, ... FILEFLOW_PARAMS_NAME, FILEFLOW_WILDCARDS_NAME,
    FILEFLOW_THREADS: the job's values as environment variables, for any kind of script."""
    v = job.values
    env = {"FILEFLOW_THREADS": str(v.threads)}
    for kind, items in (("INPUT", v.inputs), ("OUTPUT", command_outputs(v)), ("LOG", v.log)):
        env[f"FILEFLOW_{kind}"] = " ".join(shlex.quote(str(x)) for x in items.values)
        for name in items.all_names():
            env[f"FILEFLOW_{kind}_{name}"] = " ".join(shlex.quote(str(x))
                                                      for x in items.named(name))
    for name, value in zip(v.params.names, v.params.values):
        if name:
            env[f"FILEFLOW_PARAMS_{name}"] = value_text(value, quote=False)
    for name, value in job.wildcards.items():
        env[f"FILEFLOW_WILDCARDS_{name}"] = str(value)
    return env


# ---------------------------------------------------------------- what must be installed

_R_CHECK = ('if (!requireNamespace("rmarkdown", quietly = TRUE)) quit(status = 3); '
            'if (!rmarkdown::pandoc_available()) quit(status = 4)')


def check_runtimes(jobs: Iterable[Job], python: str) -> None:
    """Raise FileflowError, before any job starts, when a script of `jobs` cannot run here:
    Rscript missing (R, R Markdown), the rmarkdown package or pandoc missing (R Markdown),
    nbclient, nbformat or ipykernel not importable by `python` (notebooks)."""
    first: dict[str, Job] = {}
    for job in jobs:
        action = job.rule.action
        if action is not None and action.kind == "script":
            kind = script_kind(action.text)
            if kind in ("r", "rmarkdown", "notebook"):
                first.setdefault(kind, job)
    for kind, job in first.items():
        problem = _missing(kind, python)
        if problem:
            script = job.rule.action.text if job.rule.action else ""
            raise FileflowError(f"job {job.name} runs the {LANGUAGE[kind]} script {script!r}, "
                                f"but {problem}")


def _missing(kind: str, python: str) -> str:
    """What is missing to run scripts of this kind, with what to install; "" when nothing."""
    if kind in ("r", "rmarkdown") and shutil.which("Rscript") is None:
        return "Rscript is not on PATH: install R (e.g. 'apt install r-base-core')"
    if kind == "rmarkdown":
        status = subprocess.run(["Rscript", *_R_OPTIONS.split(), "-e", _R_CHECK],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
        if status == 3:
            return ("the R package rmarkdown is not installed (e.g. 'apt install "
                    "r-cran-rmarkdown', or install.packages(\"rmarkdown\") in R)")
        if status == 4:
            return "pandoc is not installed (e.g. 'apt install pandoc')"
        if status != 0:
            return f"R could not be started (Rscript exited with {status})"
    if kind == "notebook":
        probe = subprocess.run([python, "-c", "import nbclient, nbformat, ipykernel"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if probe.returncode != 0:
            lines = probe.stderr.strip().splitlines()
            return (f"{python} cannot run notebooks ({lines[-1] if lines else 'import failed'}): "
                    "install them with 'pip install nbclient nbformat ipykernel' "
                    "(or 'pip install fileflow[notebooks]')")
    return ""
