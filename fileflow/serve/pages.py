"""The dashboard's HTML pages: runs, a run, a job, a file. Layer 4: formatting only, from the
rows fileflow.runlog.history reads. Every string from the run log (rule and job names,
paths, commands, hosts, log lines) goes through `esc`; the pages hold no inline script
(the server forbids it), the live parts are static/dashboard.js over the JSON API.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from html import escape
from typing import Any
from urllib.parse import urlencode

from fileflow.views.html_report import JOB_COLOURS, rule_graph_svg, timeline_svg
from fileflow.views.runs import command_line, duration
from fileflow.views.summary import human_size, when

__all__ = ["esc", "page", "rule_graph", "runs_page", "run_page", "job_page", "file_page",
           "search_page", "compare_page",
           "STATES"]

# The job states of the run log, in the order the counts are shown.
STATES = ("done", "running", "waiting", "failed", "cancelled", "skipped")


def esc(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def link(where: str, text: Any, /, **query: Any) -> str:
    given = {k: v for k, v in query.items() if v not in (None, "")}
    href = where + ("?" + urlencode(given) if given else "")
    return f'<a href="{esc(href)}">{esc(text)}</a>'


def page(title: str, body: str, **data: Any) -> str:
    """A whole page: the header with its search box, then `body` (already escaped HTML);
    `data` becomes data- attributes of <body>, what dashboard.js reads."""
    attrs = "".join(f' data-{esc(k)}="{esc(v)}"' for k, v in data.items())
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)}</title><link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/dashboard.css"></head>
<body{attrs}><header><a class="home" href="/">fileflow runs</a>
<form action="/files" method="get"><input type="search" name="q" placeholder="find a file by path"
aria-label="find a file by path"></form></header>
<main><h1>{esc(title)}</h1>
{body}</main><script src="/static/dashboard.js"></script></body></html>
"""


def table(head: Iterable[str], rows: Iterable[Iterable[str]], body_id: str = "") -> str:
    """A table of cells already escaped."""
    ths = "".join(f"<th>{esc(h)}</th>" for h in head)
    trs = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    tbody = f'<tbody id="{esc(body_id)}">' if body_id else "<tbody>"
    return f"<table><thead><tr>{ths}</tr></thead>{tbody}{trs}</tbody></table>"


def _exit(code: int | None) -> str:
    return "-" if code is None else str(code)


def runs_page(runs: list[dict], filters: Mapping[str, str], next_before: int | None) -> str:
    rows = [(link(f"/runs/{r['id']}", r["id"]), esc(when(r["started_at"])),
             esc(duration(r["started_at"], r["ended_at"])),
             f'<span class="state-{esc(r["status"])}">{esc(r["status"])}</span>',
             esc(r["jobs_done"]), esc(r["jobs_failed"]), esc(r["user"]), esc(r["host"]),
             esc(r["workdir"]), f"<code>{esc(command_line(r['argv']))}</code>")
            for r in runs]
    inputs = "".join(f'<label>{esc(name)} <input name="{esc(name)}" value="{esc(filters.get(name, ""))}"'
                     f'{" placeholder=YYYY-MM-DD" if name in ("since", "until") else ""}></label>'
                     for name in ("status", "user", "host", "workdir", "since", "until"))
    form = (f'<form class="filters" method="get">{inputs}<button>filter</button></form>'
            '<form class="filters" action="/compare" method="get"><label>compare run '
            '<input name="a"></label><label>with run <input name="b"></label>'
            '<button>compare</button></form>')
    more = (f'<p class="more">{link("/", "older runs", **filters, before=next_before)}</p>'
            if next_before is not None else "")
    listed = table(("run", "started", "duration", "status", "done", "failed", "user", "host",
                    "working directory", "command"), rows) if runs else "<p>no runs</p>"
    return page("Runs", form + listed + more)


def _counts(counts: Mapping[str, int]) -> str:
    return '<p class="counts">' + "".join(
        f'<span class="state-{s}">{s}: <b data-count="{s}">{counts.get(s, 0):,}</b></span>'
        for s in STATES) + "</p>"


def _running_rows(running: list[dict], now: float) -> list[list[str]]:
    return [[link(f"/jobs/{j['id']}", j["name"]), esc(duration(j["started_at"], now))]
            for j in running]


def _job_rows(jobs: list[dict]) -> list[list[str]]:
    return [[link(f"/jobs/{j['id']}", f"#{j['id']}"), esc(j["name"]),
             f'<span class="state-{esc(j["state"])}">{esc(j["state"])}</span>',
             esc(j["attempt"]), esc(_exit(j["exit_code"])),
             esc(duration(j["started_at"], j["ended_at"])), esc(human_size(j["peak_rss_bytes"])),
             esc(j["host"])] for j in jobs]


def _run_meta(run: dict) -> str:
    return (f'<p class="meta"><code>{esc(command_line(run["argv"]))}</code><br>'
            f'started {esc(when(run["started_at"]))} on {esc(run["host"] or "?")} by '
            f'{esc(run["user"] or "?")}; in {esc(run["workdir"])} '
            f'(fileflow {esc(run["fileflow_version"] or "?")})<br>status '
            f'<b id="run-status" class="state-{esc(run["status"])}">{esc(run["status"])}</b>, '
            f'took <span id="run-duration">{esc(duration(run["started_at"], run["ended_at"]))}'
            f'</span></p>')


def _failure(job: dict, tail: list[str]) -> str:
    shown = esc("\n".join(tail)) or "(no log)"
    named = link(f"/jobs/{job['id']}", job["name"])
    what = job["message"] or f"exit code {_exit(job['exit_code'])}"
    return f'<div class="failure"><p>{named}: {esc(what)}</p><pre>{shown}</pre></div>'


def rule_graph(view: Any, states: Mapping[str, str]) -> str:
    """The rule graph of `fileflow report`, coloured by each rule's state in the run; the
    colours ride along for dashboard.js, which recolours it as the run goes on."""
    colours = json.dumps(JOB_COLOURS)
    legend = "".join(
        f'<span><svg width="12" height="12"><rect width="12" height="12" fill="{esc(fill)}" '
        f'stroke="{esc(border)}"/></svg> {esc(state)}</span>'
        for state, (fill, border) in JOB_COLOURS.items())
    return (f'<p class="legend">{legend}</p><div id="rule-graph-box" data-colours="{esc(colours)}">'
            f"{rule_graph_svg(view, dict(states))}</div>")


def _timeline(run: dict, jobs: list[dict]) -> str:
    """The timeline of `fileflow report`, of the jobs on this page."""
    if not any(j["started_at"] for j in jobs):
        return ""
    return ('<h2>Timeline of these jobs</h2><div class="scroll" id="timeline">'
            + timeline_svg(run, jobs) + "</div>")


def run_page(run: dict, live: dict, jobs: list[dict], failures: list[tuple[dict, list[str]]],
             next_after: int | None, now: float, graph: str = "") -> str:
    running = table(("running job", "elapsed"), _running_rows(live["running"], now), "running-jobs")
    failed = "".join(_failure(j, tail) for j, tail in failures)
    more = ('<p class="more">' + link(f"/runs/{run['id']}", "more jobs", after=next_after)
            + "</p>" if next_after is not None else "")
    body = (_run_meta(run) + _counts(live["counts"])
            + (f"<h2>Rule graph</h2>{graph}" if graph else "") + "<h2>Running</h2>" + running
            + "<h2>Failures</h2>" + (failed or "<p>none</p>") + "<h2>Jobs</h2>"
            + table(("job", "name", "state", "attempt", "exit", "duration", "peak memory", "host"),
                    _job_rows(jobs)) + more + _timeline(run, jobs))
    return page(f"Run {run['id']}", body, run=run["id"], status=run["status"])


def job_page(job: dict, attempts: list[dict], log: dict | None) -> str:
    cpu = "-" if job["cpu_seconds"] is None else f"{job['cpu_seconds']:.2f} s"
    facts = [("run", link(f"/runs/{job['run_id']}", job["run_id"])), ("rule", esc(job["rule"])),
             ("state", f'<span class="state-{esc(job["state"])}">{esc(job["state"])}</span>'),
             ("command", f"<pre>{esc(job['command'] or '-')}</pre>"),
             ("reasons", esc("; ".join(job["reasons"]) or "-")),
             ("exit code", esc(_exit(job["exit_code"]))),
             ("host", esc(f"{job['host'] or '-'} ({job['executor'] or '?'} executor"
                          + (f", id {job['external_id']}" if job["external_id"] else "") + ")")),
             ("started", esc(when(job["started_at"]))),
             ("duration", esc(duration(job["started_at"], job["ended_at"]))),
             ("peak memory", esc(human_size(job["peak_rss_bytes"]))), ("cpu time", esc(cpu)),
             ("outputs", "<br>".join(link("/files", p, path=p) for p in job["outputs"]) or "-"),
             ("message", esc(job["message"] or "-"))]
    dl = "<dl>" + "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in facts) + "</dl>"
    tries = table(("attempt", "state", "exit", "host", "cluster id", "started", "ended",
                   "peak memory", "cpu"),
                  [[link(f"/jobs/{a['id']}", a["attempt"]), esc(a["state"]),
                    esc(_exit(a["exit_code"])), esc(a["host"]), esc(a["external_id"]),
                    esc(when(a["started_at"])), esc(when(a["ended_at"])),
                    esc(human_size(a["peak_rss_bytes"])),
                    esc("-" if a["cpu_seconds"] is None else f"{a['cpu_seconds']:.2f} s")]
                   for a in attempts])
    if log is None:
        shown = "<p>no log recorded</p>"
    elif "error" in log:
        shown = f'<p class="note">{esc(job["log_path"])}: {esc(log["error"])}</p>'
    else:
        note = ('<p class="note">written again since this attempt ended (by a later one): '
                'its lines may not be this attempt\'s</p>' if log.get("rewritten") else "")
        shown = note + (f'<p>{esc(job["log_path"])} <label><input type="checkbox" id="follow"'
                 f'{" checked" if job["state"] == "running" else ""}> follow</label></p>'
                 f'<pre id="job-log" data-offset="{esc(log["next_offset"])}">{esc(log["text"])}</pre>')
    return page(f"Job #{job['id']} {job['name']}", dl + "<h2>Attempts</h2>" + tries
                + "<h2>Log</h2>" + shown, job=job["id"], state=job["state"])


def file_page(path: str, record: dict | None, history: list[dict], next_before: int | None) -> str:
    if record:
        maker = (link(f"/jobs/{record['job_id']}", f"#{record['job_id']}")
                 if record["job_id"] else "-")
        facts = (f'<dl><dt>size</dt><dd>{esc(human_size(record["size"]))}</dd>'
                 f'<dt>digest</dt><dd><code>{esc(record["digest"] or "-")}</code></dd>'
                 f'<dt>built</dt><dd>{esc(when(record["built_at"]))}</dd>'
                 f'<dt>made by</dt><dd>{maker}</dd>'
                 f'<dt>complete</dt><dd>{"yes" if record["complete"] else "no"}</dd></dl>')
    else:
        facts = "<p>the run log records nothing of this file</p>"
    rows = [[link(f"/jobs/{j['id']}", f"#{j['id']}"), link(f"/runs/{j['run_id']}", j["run_id"]),
             esc(j["name"]), esc(j["state"]), esc(when(j["started_at"])),
             esc(duration(j["started_at"], j["ended_at"]))] for j in history]
    more = (f'<p class="more">{link("/files", "older", path=path, before=next_before)}</p>'
            if next_before is not None else "")
    return page(f"File {path}", facts + "<h2>History</h2>"
                + table(("job", "run", "name", "state", "started", "duration"), rows) + more)


def search_page(text: str, found: list[dict]) -> str:
    rows = [[link("/files", f["path"], path=f["path"]), esc(human_size(f["size"])),
             esc(when(f["built_at"]))] for f in found]
    return page(f"Files matching {text}", table(("path", "size", "built"), rows)
                if rows else "<p>no recorded file matches</p>")


def compare_page(found: dict) -> str:
    a, b = found["a"], found["b"]
    head = "<p>run {} ({}, {}) against run {} ({}, {})</p>".format(
        link(f"/runs/{a['id']}", a["id"]), esc(when(a["started_at"])), esc(a["status"]),
        link(f"/runs/{b['id']}", b["id"]), esc(when(b["started_at"])), esc(b["status"]))

    def names(title: str, listed: list[str]) -> str:
        return f"<h2>{esc(title)}</h2>" + ("<p>" + ", ".join(esc(n) for n in listed) + "</p>"
                                           if listed else "<p>none</p>")

    def changes(title: str, rows: list[dict], shown: Callable[[Any], str]) -> str:
        cells = [[esc(c["name"]), link(f"/jobs/{c['a_job']}", shown(c["a"])),
                  link(f"/jobs/{c['b_job']}", shown(c["b"]))] for c in rows]
        return f"<h2>{esc(title)}</h2>" + (table(("job", f"run {a['id']}", f"run {b['id']}"),
                                                 cells) if cells else "<p>none</p>")

    return page(f"Run {a['id']} and run {b['id']}", head
                + names(f"Only in run {a['id']}", found["only_a"])
                + names(f"Only in run {b['id']}", found["only_b"])
                + changes("Largest changes in duration", found["duration"],
                          lambda v: duration(0.000001, 0.000001 + v))
                + changes("Largest changes in peak memory", found["memory"], human_size))
