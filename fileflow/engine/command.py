"""What a job runs: its rendered command, its signature and its log path. Layer 2.

The signature is what the run log keeps to notice "the command changed": the rendered
shell command (or the script's path and content digest) and the params. Resources and
threads are left out on purpose: they change how a job runs, not what it makes; a command
that reads them is signed with those fields as written (`signed_template`).
"""
from __future__ import annotations

import hashlib
import json
import re

from fileflow.engine.graph import Job
from fileflow.errors import FlowfileError
from fileflow.lang.job_values import command_outputs
from fileflow.printable import not_utf8
from fileflow.template import Template, TemplateError, render

__all__ = ["render_command", "render_message", "signed_template", "job_signature",
           "signature_parts", "code_digest", "default_log_path", "cluster_log_path"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._=-]+")


def _namespaces(job: Job, attempt: int) -> dict:
    v = job.values
    return {"input": v.inputs, "output": command_outputs(v), "log": v.log, "params": v.params,
            "wildcards": job.wildcards, "threads": v.threads, "resources": v.resources,
            "rule": job.rule.name, "attempt": attempt}


def render_command(job: Job, attempt: int = 1, template: Template | None = None) -> str:
    """The shell command of a `shell:` rule for this job ("" for rules without one);
    `template` instead of the rule's (signed_template)."""
    action = job.rule.action
    if action is None or action.template is None:
        return ""
    try:
        command = render(template or action.template, _namespaces(job, attempt))
    except TemplateError as exc:
        raise FlowfileError(f"cannot render the command of job {job.name}: {exc}", action.pos) from None
    if "\x00" in command:  # no process can be given one
        raise FlowfileError(f"the command of job {job.name} contains a NUL byte", action.pos)
    bad = not_utf8(command)
    if bad is not None:  # nor a character UTF-8 cannot encode, which no run log row holds
        raise FlowfileError(f"the command of job {job.name} is not UTF-8 text (it holds {bad!r})",
                            action.pos)
    return command


def render_message(job: Job) -> str:
    template = job.rule.message
    if template is None:
        return ""
    try:
        return render(template, _namespaces(job, 1))
    except TemplateError as exc:
        raise FlowfileError(f"cannot render the message of job {job.name}: {exc}",
                            job.rule.directive_pos.get("message")) from None


_RUN_FIELDS = frozenset({"threads", "resources"})


def signed_template(template: Template) -> Template | None:
    """The command template a signature is made from when it reads `{threads}` or
    `{resources.x}`: those fields left as written, so that -j, --set-threads or
    --set-resources never rerun a job; None when the template reads neither."""
    if not any(p.__class__ is not str and p.name in _RUN_FIELDS for p in template.parts):
        return None
    return Template(template.text, tuple(
        p.text if p.__class__ is not str and p.name in _RUN_FIELDS else p for p in template.parts))


def job_signature(job: Job, command: str) -> str:
    """A digest of what the job runs. Fields are joined with a separator that cannot occur
    in them unescaped (params go through JSON); computed for every job of a build."""
    action = job.rule.action
    params = job.values.params
    parts = [
        action.kind if action else "",
        command,
        f"{action.text}\x00{job.rule.source_hash}" if action and action.kind == "script" else "",
        json.dumps([[n, _plain(v)] for n, v in zip(params.names, params.values)],
                   sort_keys=True, default=str) if params.values else "",
        "\x00".join(job.outputs),
    ]
    if job.rule.software is not None:  # only then: other jobs keep the signatures they had
        parts.append(job.rule.software.signature)
    text = "\x1e".join(parts)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def signature_parts(job: Job, code: str | None = None) -> tuple[str, str]:
    """The parts of the signature apart, recorded beside it so that `--rerun-triggers` and
    `--list-changes` can tell which changed: the code (the action as written: its kind, the
    command template or the script's path and content digest; `code_digest`, the same for
    every job of a rule, may be given) and the params' values. The rendered command reads
    params and inputs, so the signature can change with either; a change in it that
    neither part shows (inputs in another order, other outputs) counts as code."""
    params = job.values.params
    if not params.values:
        values = _NO_PARAMS
    else:
        values = _digest(json.dumps([[n, _plain(v)] for n, v in zip(params.names, params.values)],
                                    sort_keys=True, default=str))
    return code_digest(job.rule) if code is None else code, values


def code_digest(rule) -> str:
    """The digest of a rule's action as written (the code part of its jobs' signatures)."""
    action = rule.action
    return _digest(f"{action.kind}\x1e{action.text}\x1e{rule.source_hash}" if action else "")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


_NO_PARAMS = _digest("")


def _plain(value: object) -> object:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def default_log_path(job: Job, use_log: bool = True) -> str:
    """Where a job's stdout and stderr go: its first log (unless `use_log` is false), else
    a file of its own under .fileflow/logs."""
    if use_log and job.values.log.values:
        return job.values.log.values[0]
    if not job.wildcards:
        return f".fileflow/logs/{job.rule.name}.log"
    return f".fileflow/logs/{job.rule.name}/{','.join(map(_log_name, job.wildcards.items()))}.log"


def cluster_log_path(job: Job, executor: str, use_log: bool = True) -> str:
    """Where a cluster job's log goes when its rule has no `log:` (or `use_log` is false):
    `.fileflow/<executor>/<rule>/<wildcards>/%j.log`, %j being the cluster's job id."""
    if use_log and job.values.log.values:
        return job.values.log.values[0]
    parts = [".fileflow", executor, job.rule.name]
    if job.wildcards:
        parts.append(",".join(map(_log_name, job.wildcards.items())))
    return "/".join(parts) + "/%j.log"


def _log_name(item: tuple[str, str]) -> str:
    """`name=value` made safe for a file name; when characters had to be replaced or cut,
    a digest of the real value keeps apart values that would look alike ('a b', 'a;b')."""
    text = f"{item[0]}={item[1]}"
    safe = _UNSAFE.sub("_", text)
    if safe == text and len(safe) <= 100:
        return safe
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"{safe[:89]}-{digest}"
