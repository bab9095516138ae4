"""The one-paragraph documentation of each directive, builtin and command field, as the
editor shows it on hover and in completion. Layer 2.
"""
from __future__ import annotations

__all__ = ["DIRECTIVE_DOCS", "BUILTIN_DOCS", "FIELD_DOCS", "MODULE_DOCS", "USE_RULE_DOC", "MODULE_DOC"]


USE_RULE_DOC = ("`use rule NAME as NEW with:` makes rule NEW from rule NAME: the directives "
                "indented under `with:` replace NAME's own, the rest are NAME's. "
                "`use rule * from MODULE as PREFIX_*` (or `use rule a, b from MODULE`) takes "
                "rules of a module.")
MODULE_DOC = ("`module NAME:` loads another Flowfile (`flowfile:`) with its own `config:` and "
              "names; its relative paths go under `prefix:`. `use rule ... from NAME` takes "
              "its rules.")
MODULE_DOCS = {
    "flowfile": "The module's Flowfile, relative to this file's directory; its includes, "
                "imports, sample sheets and scripts are relative to its own directory.",
    "config": "The module's `config` (e.g. `config.qc`): wins over the module's own configfile.",
    "prefix": "A folder the module's relative input, output, log and benchmark paths are put "
              "under (absolute paths and URLs stay as they are).",
    "replace_prefix": "`{\"data/\": \"raw/\"}`: a module's relative path that starts with a key "
                      "starts with its value instead (and is not put under `prefix`).",
}


DIRECTIVE_DOCS = {
    "input": "Files the job reads: patterns, file wrappers or lists of them; `name = ...` entries "
             "can be used as `{input.name}`. May read `wildcards` (evaluated per job).",
    "output": "Files the job makes. The output patterns define the rule's `{wildcards}`; all "
              "outputs must use the same set. Wrappers: `temp()`, `protected()`, `directory()`.",
    "log": "Log files of the job (`{log}`, `{log.name}`); may use the outputs' wildcards. "
           "Made by the job: another rule can read one, a target can name one.",
    "params": "Values of any type for the command (`{params.name}`) or the script "
              "(`job.params.name`).",
    "threads": "A whole number >= 1 (default 1): `{threads}`. May read `wildcards` and `attempt`.",
    "resources": "`name = value` pairs (`mem_mb`, `runtime` in minutes, `disk_mb`, or your own): "
                 "`{resources.mem_mb}`. May read `wildcards`, `attempt` and `threads`.",
    "retries": "How many times a failed job is retried (default 0); each retry has `attempt` "
               "one higher.",
    "timeout": "How long a job may run, e.g. `\"2h\"` or `\"90s\"` (a number: seconds): "
               "past it the job's processes are stopped and it fails (retried if `retries:` "
               "allow).",
    "retry_delay": "How long a failed job waits before its next attempt, e.g. `\"30s\"` (a "
                   "number: seconds); it holds no core meanwhile.",
    "retry_backoff": "A number >= 1 (default 1): each retry waits this many times longer than "
                     "the one before (at most one hour).",
    "priority": "A whole number (default 0): among ready jobs, higher runs first.",
    "group": "A group name, e.g. `\"per_sample\"` (`{sample}` in it: the job's wildcard): "
             "on a cluster, connected jobs of one group run as one cluster job (see "
             "`--groups`, `--group-components`); ignored in a local build.",
    "message": "A line shown when the job starts, with the same `{...}` fields as `shell:`.",
    "wildcard_constraints": "Regexes for wildcards, `name = \"regex\"`: in a rule, for its own "
                            "wildcards; at the top level, for every rule.",
    "conda": "A conda environment for the job, used with `--use-conda`: an environment file "
             "(`.yaml`, relative to this Flowfile; its content is part of the job's signature), "
             "a prefix path or a named environment. The job runs with it activated.",
    "envmodules": "Environment modules loaded for the job with `--use-envmodules` "
                  "(`module purge && module load ...`), e.g. `\"bwa/0.7.17\", \"samtools/1.19\"`.",
    "shell": "The command, run by the shell. Fields: `{input}`, `{output}`, `{log}`, `{params.x}`, "
             "`{wildcards.x}`, `{threads}`, `{resources.x}`, `{rule}`, `{attempt}`; files and "
             "wildcards are shell-quoted (`:raw` to insert as is).",
    "script": "A script path relative to this Flowfile, run with its job: `.py` with Python "
              "(`from fileflow.script import job`), `.R` with Rscript (`job$input[[1]]`), "
              "`.Rmd` rendered to the output named `report` or the first, `.ipynb` executed "
              "(the copy kept in the log named `notebook`), `.sh` with bash (`\"${job_input[@]}\"`).",
    "benchmark": "A file fileflow writes with the job's time, memory, I/O and CPU "
                 "(Snakemake's columns, one row per run), measured while it runs; an output "
                 "of the job, not one of `{output}`'s. `repeat(path, n)` runs the job n times.",
    "onstart": "`onstart: shell=\"...\"`: a command run on this machine when a build starts "
               "running jobs; `{log}` is a summary of the run, `{run_id}` its number. Not run "
               "for `-n`; its failure is reported, never the build's.",
    "onsuccess": "`onsuccess: shell=\"...\"`: a command run on this machine when a build's "
                 "jobs all succeeded; `{log}` is a summary of the run, `{run_id}` its number.",
    "onerror": "`onerror: shell=\"...\"`: a command run on this machine when a job of the "
               "build failed; `{log}` is a summary of the run (the failed jobs, their "
               "messages and logs), `{run_id}` its number.",
    "configfile": "A YAML mapping merged into `config`; the path is relative to the working "
                  "directory.",
    "configschema": "A JSON Schema (YAML or JSON) the configuration so far (config files and "
                    "`--config`) must satisfy; its defaults are filled in. The path is relative "
                    "to the working directory.",
    "include": "Loads another Flowfile here, into the same namespace; the path is relative to "
               "this file's directory.",
    "localrules": "Rule names whose jobs run on this machine even with a cluster executor.",
    "ruleorder": "`a > b`: when both rules can make a file, the rule on the left is preferred.",
    "default": "The targets built when none are given (file paths or rule names); without it, "
               "the first rule of the main Flowfile (never one from an include).",
    "storage": "`s3 = {\"endpoint\": URL, \"region\": ..., \"profile\": ..., \"anonymous\": true}`, "
               "`https = {\"headers\": {...}}`: options of remote stores, by protocol; "
               "`--storage` and a profile's `storage` win over them.",
}


BUILTIN_DOCS = {
    "expand": "`expand(pattern, name=values, ...)`: every combination of the values filled into "
              "the pattern(s); `zip=true` pairs the lists, `allow_missing=true` keeps unfilled "
              "wildcards.",
    "glob_wildcards": "`glob_wildcards(pattern)`: the values of each wildcard in the existing "
                      "paths that match, read as `.name` (a list each).",
    "env": "`env(name)`, `env(name, default)`: an environment variable.",
    "table": "`table(path, key=None, sep=None, na=false)`: a CSV or TSV sample sheet with a "
             "header row: a list of rows, or a dict of rows by the column `key`; a row is read "
             "as `row.col` or `row[\"col\"]`, its values strings (`\"\"` or, with `na=true`, "
             "none for an empty cell).",
    "load": "`load(path)`: the value of a YAML or JSON file (dicts read as `x.key`).",
    "range": "`range(stop)`, `range(start, stop[, step])`: a list of ints.",
    "len": "`len(x)`: the length of a string, list or dict.",
    "int": "`int(x)`: an integer.",
    "float": "`float(x)`: a float.",
    "bool": "`bool(x)`: true or false.",
    "str": "`str(x)`: text (`\"true\"`/`\"false\"` for booleans, a wrapped file's path).",
    "list": "`list(x)`: a list (a string's characters, a dict's keys).",
    "min": "`min(list)` or `min(a, b, ...)`.",
    "max": "`max(list)` or `max(a, b, ...)`.",
    "sum": "`sum(list)`.",
    "abs": "`abs(x)`.",
    "round": "`round(x[, digits])`.",
    "sorted": "`sorted(list, reverse=false)`: a sorted copy.",
    "zip": "`zip(a, b, ...)`: the lists' values paired by position, as a list of tuples "
           "(as long as the shortest list).",
    "enumerate": "`enumerate(list, start=0)`: a list of `(index, value)` tuples.",
    "any": "`any(list)`: true if any value is true.",
    "all": "`all(list)`: true if every value is true (and for an empty list).",
    "set": "`set(list)`: the distinct values, in the order they first occur, as a list; "
           "`sorted(set(...))` to sort them.",
    "unpack": "`unpack(dict)` in `input:`: the dict's entries as named inputs (a list's as "
              "unnamed ones), e.g. `input: unpack(get_inputs(wildcards))`.",
    "temp": "`temp(path)`, in `output:`: deleted once no job of the build needs it (kept when "
            "the targets name it).",
    "protected": "`protected(path)`, in `output:`: made read-only after the job succeeds.",
    "directory": "`directory(path)`, in `output:`, `input:` or `log:`: the path is a directory.",
    "ancient": "`ancient(path)`, in `input:`: only its existence matters; a newer or changed "
               "file does not rerun the job.",
    "touch": "`touch(path)`, in `output:`: a flag file fileflow makes (or dates now) after "
             "the job succeeds; the command need not write it.",
    "ensure": "`ensure(path, non_empty=true, sha256=\"...\")`, in `output:`: checked after "
              "the job; a failed check fails the job.",
    "multiext": "`multiext(prefix, \".a\", \".b\")`: the prefix with each extension; with "
                "names, `multiext(prefix, a=\".a\")`, named files.",
    "repeat": "`repeat(path, n)`, in `benchmark:`: the job runs n times, one row each.",
    "config": "`config`: the merged configuration (`config.key` or `config[\"key\"]`).",
    "wildcards": "`wildcards`: inside a rule, the job's wildcard values (`wildcards.sample`).",
    "checkpoints": "`checkpoints.NAME.get(WILDCARD=value)`: in `input:`, `params:` or `log:`, a "
                   "checkpoint's job once it has run; `.output[0]`, `.output.NAME` are its "
                   "outputs (jobs that read it are decided after it runs).",
    "read_text": "`read_text(path)`: a text file's content, blanks around it removed, e.g. "
                 "`read_text(checkpoints.qc.get(sample=wildcards.sample).output[0]) == \"pass\"`.",
    "attempt": "`attempt`: in `threads:` and `resources:`, 1 for the first try, 2 for the "
               "first retry, ...",
}


FIELD_DOCS = {
    "wildcards": "the job's wildcard values (`{wildcards.NAME}`)",
    "input": "the job's input files", "output": "the job's output files",
    "log": "the job's log files", "params": "the rule's params values",
    "threads": "the job's threads", "resources": "the job's resources",
    "rule": "the rule's name", "attempt": "1 for the first try, 2 for the first retry, ...",
}
