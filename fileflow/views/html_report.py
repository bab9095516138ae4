"""`fileflow report`: one self-contained HTML page for a run (inline CSS, SVG and a little
script; no network needed to view it): the rule graph, a timeline of the jobs with their
durations and peak memory, the failures with the tails of their logs, and the outputs.
Layer 4: formatting only; fileflow.cli.show gathers the rows.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from html import escape
from typing import Any

from fileflow.views.graph_formats import COLOURS
from fileflow.views.graph_view import FAILED, SOURCE, UP_TO_DATE, WILL_RUN, View
from fileflow.views.runs import command_line, duration, job_log_tail
from fileflow.views.summary import human_size, when

__all__ = ["ReportData", "render_report", "rule_graph_svg", "rule_states", "timeline_svg",
           "JOB_COLOURS", "MAX_BARS",
           "MAX_OUTPUT_ROWS"]

MAX_BARS = 2000          # timeline rows; a larger run shows its first jobs and says so
MAX_OUTPUT_ROWS = 5000
TAIL_LINES = 30

# A job's state in the run -> the colour of its bar (the graph's state colours).
JOB_COLOURS = {"done": COLOURS[UP_TO_DATE], "failed": COLOURS[FAILED],
               "cancelled": ("#e0e0e0", "#9e9e9e"), "skipped": COLOURS[SOURCE],
               "running": COLOURS[WILL_RUN]}


@dataclass(frozen=True, slots=True)
class ReportData:
    run: dict[str, Any]
    jobs: list[dict[str, Any]]
    files: dict[str, dict[str, Any]]     # output path -> its run-log `files` row
    rules: View | None                   # the rule graph, if the Flowfile gives it
    note: str = ""                       # why there is no rule graph


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d1d1f;background:#fafafa}
header{background:#263238;color:#fff;padding:16px 28px}
header h1{margin:0 0 4px;font-size:21px}
header .meta{color:#cfd8dc;font-size:13px}
.status-success{color:#a5d6a7}.status-failed{color:#ef9a9a}.status-interrupted,.status-running{color:#ffe082}
nav{padding:8px 28px;background:#eceff1;font-size:13px}nav a{margin-right:14px;color:#37474f}
section{padding:8px 28px 20px}h2{font-size:17px;border-bottom:1px solid #ddd;padding-bottom:4px}
.counts span{display:inline-block;margin-right:16px}
svg text{font-family:system-ui,sans-serif}
.legend span{display:inline-block;margin-right:14px;font-size:12px}
.legend i{display:inline-block;width:12px;height:12px;border:1px solid #777;
  margin-right:4px;vertical-align:-2px}
table{border-collapse:collapse;font-size:13px;background:#fff}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#eceff1;cursor:pointer;user-select:none}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.failure{background:#fff;border:1px solid #e57373;border-left:5px solid #c62828;
  padding:8px 12px;margin:10px 0}
.failure h3{margin:0 0 4px;font-size:15px}
pre{background:#263238;color:#eceff1;padding:8px;overflow:auto;font-size:12px;max-height:360px}
code{font-size:12px}.note{color:#666;font-style:italic}
#filter{margin:4px 0 8px;padding:3px 6px;width:260px}
.scroll{overflow:auto;max-height:640px;border:1px solid #ddd;background:#fff}
"""

# Sorting the tables, and a filter over the timeline's rows. Plain DOM, no library.
_JS = """
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("fileflow-data").textContent);
  var shown = document.getElementById("shown-count");
  var filter = document.getElementById("filter");
  function applyFilter() {
    var text = filter ? filter.value.toLowerCase() : "";
    var rows = document.querySelectorAll("#timeline g.job");
    var n = 0;
    rows.forEach(function (row) {
      var hit = row.getAttribute("data-name").toLowerCase().indexOf(text) !== -1;
      row.style.display = hit ? "" : "none";
      if (hit) { n += 1; }
    });
    if (shown) { shown.textContent = String(n); }
  }
  if (filter) { filter.addEventListener("input", applyFilter); }
  document.querySelectorAll("table.sortable th").forEach(function (th, column) {
    th.addEventListener("click", function () {
      var body = th.closest("table").tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      var down = th.getAttribute("data-down") !== "1";
      th.setAttribute("data-down", down ? "1" : "0");
      rows.sort(function (a, b) {
        var x = a.cells[column].getAttribute("data-v") || a.cells[column].textContent;
        var y = b.cells[column].getAttribute("data-v") || b.cells[column].textContent;
        var nx = parseFloat(x), ny = parseFloat(y);
        var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
        return down ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
  applyFilter();
  document.getElementById("job-count").textContent = String(data.jobs);
  document.body.setAttribute("data-ready", "1");
})();
"""


def _attr(text: Any) -> str:
    return escape(str(text), quote=True)


# ---------------------------------------------------------------- rule graph

def _layers(view: View) -> list[int]:
    """Layer of each node: the longest path from a node nothing feeds (Kahn's order; nodes
    on a cycle of rules go one below everything else)."""
    n = len(view.nodes)
    indegree = [0] * n
    out: list[list[int]] = [[] for _ in range(n)]
    for a, b in view.edges:
        out[a].append(b)
        indegree[b] += 1
    layer = [0] * n
    order = [i for i in range(n) if indegree[i] == 0]
    head = 0
    while head < len(order):
        a = order[head]
        head += 1
        for b in out[a]:
            layer[b] = max(layer[b], layer[a] + 1)
            indegree[b] -= 1
            if indegree[b] == 0:
                order.append(b)
    placed = set(order)
    bottom = max(layer, default=0) + 1
    return [layer[i] if i in placed else bottom for i in range(n)]


def rule_graph_svg(view: View, run_states: dict[str, str]) -> str:
    layer = _layers(view)
    rows: dict[int, list[int]] = {}
    for i, lv in enumerate(layer):
        rows.setdefault(lv, []).append(i)
    box_h, gap_y, gap_x, pad = 40, 46, 26, 14
    widths = [max(90, 8 * max(len(n.name), len(f"{n.jobs:,} jobs")) + 20) for n in view.nodes]
    row_w = {lv: sum(widths[i] for i in ids) + gap_x * (len(ids) - 1) for lv, ids in rows.items()}
    total_w = max(row_w.values(), default=200) + 2 * pad
    pos: dict[int, tuple[float, float]] = {}
    for lv in sorted(rows):
        x = pad + (total_w - 2 * pad - row_w[lv]) / 2
        for i in rows[lv]:
            pos[i] = (x, pad + lv * (box_h + gap_y))
            x += widths[i] + gap_x
    height = pad * 2 + (max(rows, default=0) + 1) * (box_h + gap_y) - gap_y
    parts = [f'<svg id="rule-graph" width="{total_w:.0f}" '
             f'height="{height:.0f}" viewBox="0 0 {total_w:.0f} {height:.0f}">',
             '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
             'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
             'fill="#666"/></marker></defs>']
    for a, b in view.edges:
        (xa, ya), (xb, yb) = pos[a], pos[b]
        x1, y1 = xa + widths[a] / 2, ya + box_h
        x2, y2 = xb + widths[b] / 2, yb
        if y2 <= y1:  # an edge back up (rules that feed each other): bend around
            y2 = yb + box_h
            mid = max(y1, y2) + gap_y / 2
            d = f"M{x1:.0f},{y1:.0f} C{x1:.0f},{mid:.0f} {x2:.0f},{mid:.0f} {x2:.0f},{y2:.0f}"
        else:
            mid = (y1 + y2) / 2
            d = f"M{x1:.0f},{y1:.0f} C{x1:.0f},{mid:.0f} {x2:.0f},{mid:.0f} {x2:.0f},{y2:.0f}"
        parts.append(f'<path d="{d}" fill="none" stroke="#666" marker-end="url(#arrow)"/>')
    for i, node in enumerate(view.nodes):
        x, y = pos[i]
        state = run_states.get(node.name, "")
        fill, border = JOB_COLOURS.get(state, ("#ffffff", "#90a4ae"))
        sub = f"{node.jobs:,} job{'s' if node.jobs != 1 else ''}"
        parts.append(
            f'<g class="rule" data-rule="{_attr(node.name)}"><title>{escape(node.name)}: {sub}'
            f'{", " + state + " in this run" if state else ", not run in this run"}</title>'
            f'<rect x="{x:.0f}" y="{y:.0f}" width="{widths[i]}" height="{box_h}" rx="6" '
            f'fill="{fill}" stroke="{border}" stroke-width="1.5"/>'
            f'<text x="{x + widths[i] / 2:.0f}" y="{y + 17:.0f}" text-anchor="middle" '
            f'font-size="13" font-weight="600">{escape(node.name)}</text>'
            f'<text x="{x + widths[i] / 2:.0f}" y="{y + 32:.0f}" text-anchor="middle" '
            f'font-size="11" fill="#555">{sub}</text></g>')
    parts.append("</svg>")
    return "".join(parts)


def rule_states(jobs: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """rule -> how its jobs ended in this run: failed beats cancelled beats done (`jobs`:
    rows with a `rule` and a `state`, a job each or a group of them)."""
    rank = {"failed": 4, "cancelled": 3, "running": 2, "done": 1, "skipped": 0}
    out: dict[str, str] = {}
    for j in jobs:
        old = out.get(j["rule"])
        if old is None or rank.get(j["state"], 0) > rank.get(old, 0):
            out[j["rule"]] = j["state"]
    return out


# ---------------------------------------------------------------- timeline

def _ticks(span: float) -> list[float]:
    for step in (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600,
                 7200, 14400, 43200, 86400):
        if span / step <= 10:
            return [k * step for k in range(int(span / step) + 1)]
    return [0.0, span]


def _tick_label(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:g} s"
    if seconds < 3600:
        return f"{seconds / 60:g} min"
    return f"{seconds / 3600:g} h"


def timeline_svg(run: dict, jobs: list[dict]) -> str:
    timed = [j for j in jobs if j["started_at"]]
    timed.sort(key=lambda j: (j["started_at"], j["id"]))
    timed = timed[:MAX_BARS]
    start = min([run["started_at"], *(j["started_at"] for j in timed)])
    end = max([run["ended_at"] or start, *((j["ended_at"] or j["started_at"]) for j in timed)])
    span = max(end - start, 1e-3)
    label_w, bar_w, row_h, top = 260, 640, 20, 26
    info_w = 170
    width = label_w + bar_w + info_w
    height = top + row_h * len(timed) + 8
    scale = bar_w / span
    parts = [f'<svg width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}">']
    for t in _ticks(span):
        x = label_w + t * scale
        parts.append(f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{height}" '
                     f'stroke="#e0e0e0"/><text x="{x:.1f}" y="{top - 10}" font-size="10" '
                     f'text-anchor="middle" fill="#666">{_tick_label(t)}</text>')
    for row, j in enumerate(timed):
        y = top + row * row_h
        x = label_w + (j["started_at"] - start) * scale
        w = max(2.0, ((j["ended_at"] or j["started_at"]) - j["started_at"]) * scale)
        fill, border = JOB_COLOURS.get(j["state"], ("#ffffff", "#90a4ae"))
        took = duration(j["started_at"], j["ended_at"])
        mem = human_size(j["peak_rss_bytes"])
        name = j["name"] if len(j["name"]) <= 38 else j["name"][:36] + "…"
        tip = (f"{j['name']} (#{j['id']}): {j['state']}, {took}, peak memory {mem}"
               + (f", exit code {j['exit_code']}" if j["exit_code"] not in (None, 0) else ""))
        parts.append(
            f'<g class="job" data-name="{_attr(j["name"])}" data-state="{_attr(j["state"])}">'
            f'<title>{escape(tip)}</title>'
            f'<text x="{label_w - 8}" y="{y + 14}" font-size="12" text-anchor="end">{escape(name)}</text>'
            f'<rect class="bar" x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" '
            f'rx="2" fill="{fill}" stroke="{border}"/>'
            f'<text x="{label_w + bar_w + 8}" y="{y + 14}" font-size="11" fill="#444">'
            f'{escape(took)} · {escape(mem)}</text></g>')
    parts.append("</svg>")
    return "".join(parts)


# ---------------------------------------------------------------- page

def _failures(jobs: list[dict]) -> str:
    failed = [j for j in jobs if j["state"] == "failed"]
    if not failed:
        return '<p class="note">No job failed in this run.</p>'
    out = []
    for j in failed:
        message = j["message"] or ""
        message = "" if message in ("", f"exit code {j['exit_code']}") else f": {message}"
        tail, why = job_log_tail(j, TAIL_LINES) if j["log_path"] else ([], "none")
        log = (f'<p>log <code>{escape(j["log_path"])}</code>, last {len(tail)} lines:</p>'
               f'<pre>{escape(chr(10).join(tail))}</pre>' if tail else
               f'<p class="note">log {escape(j["log_path"] or "-")}: {escape(why)}</p>')
        out.append(
            f'<div class="failure" id="job-{j["id"]}"><h3>{escape(j["name"])} '
            f'<small>(job #{j["id"]}, attempt {j["attempt"]})</small></h3>'
            f'<p>exit code {escape(str(j["exit_code"]))}{escape(message)}; '
            f'on {escape(j["host"] or "?")}, after {escape(duration(j["started_at"], j["ended_at"]))}</p>'
            f'<p>command: <code>{escape(j["command"] or "")}</code></p>{log}</div>')
    return "".join(out)


def _outputs(jobs: list[dict], files: dict[str, dict]) -> str:
    rows = []
    for j in jobs:
        for path in j["outputs"]:
            rec = files.get(path)
            made = rec if rec is not None and bool(rec["complete"]) and rec["job_id"] == j["id"] else None
            size = made["size"] if made is not None and made["size"] is not None else None
            rows.append(
                f'<tr><td>{escape(path)}</td><td>{escape(j["name"])}</td>'
                f'<td>{escape(j["state"])}</td><td class="num" data-v="{size if size is not None else -1}">'
                f'{human_size(size)}</td><td><code>{escape(_short(made["digest"])) if made else ""}'
                f'</code></td></tr>')
    if not rows:
        return '<p class="note">This run made no outputs.</p>'
    more = (f'<p class="note">showing the first {MAX_OUTPUT_ROWS:,} of {len(rows):,} outputs</p>'
            if len(rows) > MAX_OUTPUT_ROWS else "")
    return (f'{more}<div class="scroll"><table class="sortable" id="outputs-table"><thead><tr>'
            '<th>path</th><th>job</th><th>job state</th><th>size</th><th>sha256</th></tr>'
            f'</thead><tbody>{"".join(rows[:MAX_OUTPUT_ROWS])}</tbody></table></div>')


def _short(digest: str | None) -> str:
    return (digest or "").rpartition(":")[2][:12]


def _legend() -> str:
    items = [("done", "done"), ("failed", "failed"), ("cancelled", "cancelled"),
             ("skipped", "skipped (inputs unchanged)")]
    return '<p class="legend">' + "".join(
        f'<span><i style="background:{JOB_COLOURS[k][0]};border-color:{JOB_COLOURS[k][1]}"></i>'
        f'{escape(text)}</span>' for k, text in items) + "</p>"


def render_report(data: ReportData) -> str:
    run, jobs = data.run, data.jobs
    states: dict[str, int] = {}
    for j in jobs:
        states[j["state"]] = states.get(j["state"], 0) + 1
    peak = max((j["peak_rss_bytes"] or 0 for j in jobs), default=0)
    counts = "".join(f"<span>{escape(k)}: <b>{v:,}</b></span>" for k, v in sorted(states.items()))
    if data.rules is not None and data.rules.nodes:
        graph = _legend() + rule_graph_svg(data.rules, rule_states(jobs))
    else:
        graph = f'<p class="note">{escape(data.note or "no rule graph")}</p>'
    bars = min(len([j for j in jobs if j["started_at"]]), MAX_BARS)
    capped = (f'<p class="note">showing the first {MAX_BARS:,} of {len(jobs):,} jobs</p>'
              if len(jobs) > MAX_BARS else "")
    payload = json.dumps({"run": run["id"], "jobs": len(jobs), "states": states},
                         separators=(",", ":")).replace("</", "<\\/")
    status = escape(run["status"])
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>fileflow run {run['id']}: {status}</title>
<style>{_CSS}</style></head>
<body data-ready="0">
<header><h1>fileflow run {run['id']}: <span class="status-{status}">{status}</span></h1>
<div class="meta"><code>{escape(command_line(run['argv']))}</code><br>
started {escape(when(run['started_at']))} on {escape(run['host'] or '?')} by {escape(run['user'] or '?')},
took {escape(duration(run['started_at'], run['ended_at']))}; in {escape(run['workdir'])}
(fileflow {escape(run['fileflow_version'] or '?')})</div></header>
<nav><a href="#rules">rule graph</a><a href="#timeline">timeline</a>
<a href="#failures">failures</a><a href="#outputs">outputs</a></nav>
<section id="overview"><p class="counts"><span><b id="job-count">{len(jobs)}</b> jobs</span>{counts}
<span>peak memory of one job: <b>{human_size(peak)}</b></span></p></section>
<section id="rules"><h2>Rule graph</h2>{graph}</section>
<section id="timeline"><h2>Timeline</h2>
<p>Each job from its start to its end, with its duration and peak memory.
<input id="filter" type="search" placeholder="filter jobs by name" aria-label="filter jobs">
<span><b id="shown-count">{bars}</b> shown</span></p>{capped}
<div class="scroll">{timeline_svg(run, jobs) if bars else '<p class="note">no jobs ran</p>'}</div></section>
<section id="failures"><h2>Failures</h2>{_failures(jobs)}</section>
<section id="outputs"><h2>Outputs</h2>{_outputs(jobs, data.files)}</section>
<script type="application/json" id="fileflow-data">{payload}</script>
<script>{_JS}</script>
</body></html>
"""
