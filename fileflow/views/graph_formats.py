"""A graph View -> text in a format: Graphviz DOT, Mermaid, JSON (schema in docs/cli.md) or
an indented tree for the terminal; and DOT -> SVG/PNG through Graphviz's `dot`. Layer 4.
"""
from __future__ import annotations

import json
from collections.abc import Callable

from fileflow.chunks import chunked
from fileflow.errors import FileflowError
from fileflow.views.graph_view import (
    FAILED,
    SOURCE,
    UP_TO_DATE,
    WAITING,
    WILL_RUN,
    Node,
    View,
    collapse_by_rule,
)

__all__ = ["FORMATS", "IMAGE_FORMATS", "COLOURS", "render", "to_dot", "to_mermaid", "to_json",
           "to_text", "format_for_path", "render_image", "JSON_SCHEMA", "TEXT_LIMIT"]

FORMATS = ("dot", "mermaid", "json", "text")
IMAGE_FORMATS = ("svg", "png", "pdf")
JSON_SCHEMA = "fileflow-graph/1"
TEXT_LIMIT = 150      # more nodes than this: the text tree is summarised per rule
MAX_DEPTH = 40        # deeper levels of the text tree are not indented further

# state -> (fill, border); shared by DOT, Mermaid and the HTML report.
COLOURS = {
    UP_TO_DATE: ("#d8f0d8", "#2e7d32"),
    WILL_RUN: ("#fff1bf", "#b7791f"),
    FAILED: ("#f7c9c9", "#c62828"),
    SOURCE: ("#eeeeee", "#777777"),
    WAITING: ("#e3ecfa", "#3b6bb5"),
    "": ("#ffffff", "#555555"),
}
_CLASS = {UP_TO_DATE: "uptodate", WILL_RUN: "willrun", FAILED: "failed", SOURCE: "source",
          WAITING: "waiting", "": "plain"}
_EXTENSIONS = {".dot": "dot", ".gv": "dot", ".mmd": "mermaid", ".mermaid": "mermaid",
               ".json": "json", ".txt": "text", ".svg": "svg", ".png": "png", ".pdf": "pdf"}


def format_for_path(path: str) -> str | None:
    import os

    return _EXTENSIONS.get(os.path.splitext(path)[1].lower())


def _label_lines(node: Node, level: str) -> list[str]:
    if node.kind == "job":
        return [node.rule, *(f"{k}={v}" for k, v in node.wildcards.items())]
    if node.kind == "rule":
        if node.jobs == 1:
            return [node.name]
        ran = f", {node.running} to run" if node.running and node.running != node.jobs else ""
        return [node.name, f"{node.jobs:,} jobs{ran}"]
    return [node.name]


# ---------------------------------------------------------------- DOT

def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(view: View) -> str:
    lines = ["digraph fileflow {",
             '    graph [rankdir=TB, fontname="sans-serif"];',
             '    node [shape=box, style="rounded,filled", fontname="sans-serif", fontsize=10];',
             '    edge [color="#666666"];']
    for i, node in enumerate(view.nodes):
        fill, border = COLOURS.get(node.state, COLOURS[""])
        label = "\n".join(_label_lines(node, view.level))
        shape = (", shape=note" if node.kind == "source" else
                 ", shape=hexagon" if node.checkpoint else "")
        tip = f", tooltip={_dot_quote(node.state)}" if node.state else ""
        lines.append(f"    n{i} [label={_dot_quote(label)}, fillcolor=\"{fill}\", "
                     f"color=\"{border}\"{shape}{tip}];")
    lines.extend(f"    n{a} -> n{b};" for a, b in view.edges)
    lines.append("}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- Mermaid

def _mermaid_text(text: str) -> str:
    # Mermaid reads entity codes inside a quoted label; these characters would end it.
    return (text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;")
            .replace(">", "#gt;"))


def to_mermaid(view: View) -> str:
    lines = ["flowchart TB"]
    for i, node in enumerate(view.nodes):
        label = "<br/>".join(_mermaid_text(t) for t in _label_lines(node, view.level))
        lines.append(f'    n{i}{{{{"{label}"}}}}' if node.checkpoint else f'    n{i}["{label}"]')
    lines.extend(f"    n{a} --> n{b}" for a, b in view.edges)
    by_class: dict[str, list[str]] = {}
    for i, node in enumerate(view.nodes):
        by_class.setdefault(_CLASS.get(node.state, "plain"), []).append(f"n{i}")
    for state, cls in _CLASS.items():
        members = by_class.get(cls)
        if members:
            fill, border = COLOURS[state]
            lines.append(f"    classDef {cls} fill:{fill},stroke:{border},color:#000")
            for chunk in chunked(members, 500):  # keep lines a parser can take
                lines.append(f"    class {','.join(chunk)} {cls}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- JSON

def _json_node(i: int, node: Node, level: str) -> dict:
    if level == "jobs":
        return {"id": i, "name": node.name, "rule": node.rule, "wildcards": dict(node.wildcards),
                "state": node.state or None, "reasons": list(node.reasons),
                "outputs": list(node.outputs), "checkpoint": node.checkpoint}
    if level == "rules":
        return {"id": i, "name": node.name, "jobs": node.jobs, "jobs_to_run": node.running,
                "state": node.state or None, "examples": list(node.examples),
                "checkpoint": node.checkpoint}
    return {"id": i, "path": node.name, "kind": "source" if node.kind == "source" else "output",
            "rule": node.rule or None, "state": node.state or None}


def to_json(view: View) -> str:
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    head = encode({"schema": JSON_SCHEMA, "level": view.level, "total_jobs": view.total_jobs,
                   "roots": view.roots})[:-1]
    nodes = ",\n".join(encode(_json_node(i, n, view.level)) for i, n in enumerate(view.nodes))
    edges = ",".join(f"[{a},{b}]" for a, b in view.edges)
    return f'{head},\n"nodes":[\n{nodes}\n],\n"edges":[{edges}]}}\n'


# ---------------------------------------------------------------- text

def _text_label(node: Node, hide_state: str = "") -> str:
    if node.kind == "rule" or (node.kind == "source" and node.jobs > 1):
        what = "file" if node.kind == "source" else "job"
        mark = " (checkpoint)" if node.checkpoint else ""
        head = f"{node.name}{mark}  {node.jobs:,} {what}{'s' if node.jobs != 1 else ''}"
        if node.running:
            head += f", {node.running:,} to run"
        elif node.state == UP_TO_DATE:
            head += ", up to date"
        if node.jobs > 1 or node.examples != (node.name,):
            more = ", ..." if node.jobs > len(node.examples) else ""
            head += ": " + ", ".join(node.examples) + more
        if node.reasons:
            head += f"  (e.g. {node.reasons[0]})" if node.jobs > 1 else f": {node.reasons[0]}"
        return head
    text = node.name + (" (checkpoint)" if node.checkpoint else "")
    if node.kind == "file" and node.rule:
        text += f"  <- {node.rule}"
    if node.state and node.state != hide_state:
        text += f"  [{node.state}]"
    if node.reasons:
        text += ": " + "; ".join(node.reasons[:2]) + (" ..." if len(node.reasons) > 2 else "")
    return text


def _tree(view: View, label: Callable[[Node], str]) -> list[str]:
    """Each node under the nodes it feeds (roots first); a node met again is referenced,
    not repeated. A work list, no recursion: a 50,000-step chain prints."""
    feeders = view.feeders()
    seen: set[int] = set()
    lines: list[str] = []
    roots = list(view.roots) + [i for i in range(len(view.nodes))]  # anything unreached
    for root in roots:
        if root in seen:
            continue
        stack = [(root, "", "")]
        while stack:
            node, lead, cont = stack.pop()
            if node in seen:
                lines.append(f"{lead}{view.nodes[node].name}  (shown above)")
                continue
            seen.add(node)
            lines.append(lead + label(view.nodes[node]))
            kids = feeders[node]
            if len(cont) >= 3 * MAX_DEPTH:  # a long chain: stop indenting, keep the lines short
                cont = cont[:3 * (MAX_DEPTH - 1)] + "·  "
            for k in range(len(kids) - 1, -1, -1):
                last = k == len(kids) - 1
                stack.append((kids[k], cont + ("└─ " if last else "├─ "),
                              cont + ("   " if last else "│  ")))
    return lines


def to_text(view: View, limit: int = TEXT_LIMIT, hide_state: str = "") -> str:
    """An indented tree: each node under what it feeds. More than `limit` nodes are
    shown per rule (count and first few) instead. Nodes in `hide_state` carry no state
    mark (a dry run's tree: they all will run)."""
    def label(node: Node) -> str:
        return _text_label(node, hide_state)

    if len(view.nodes) > limit and view.level != "rules":
        shown = collapse_by_rule(view)
        what = "jobs" if view.level == "jobs" else "files"
        head = [f"{len(view.nodes):,} {what}: too many to list, shown per rule "
                f"(count, first {len(shown.nodes[0].examples) if shown.nodes else 0} of each)"]
        return "\n".join(head + _tree(shown, label)) + "\n"
    return "\n".join(_tree(view, label)) + "\n" if view.nodes else ""


RENDERERS: dict[str, Callable[[View], str]] = {
    "dot": to_dot, "mermaid": to_mermaid, "json": to_json, "text": to_text}


def render(view: View, fmt: str) -> str:
    return RENDERERS[fmt](view)


# ---------------------------------------------------------------- images

def render_image(dot_text: str, fmt: str, path: str) -> bytes:
    """DOT drawn as svg/png/pdf by Graphviz's `dot`; `path` (where it goes) is for messages."""
    import os
    import shutil
    import subprocess

    exe = shutil.which("dot")
    if exe is None:
        raise FileflowError(
            f"cannot write {path}: drawing .{fmt} needs Graphviz's 'dot' program, which is not "
            "installed (not on PATH). Install Graphviz (apt install graphviz, brew install "
            f"graphviz), or write the graph as DOT (-o {os.path.splitext(path)[0]}.dot) or "
            "Mermaid (.mmd) instead")
    proc = subprocess.run([exe, f"-T{fmt}"], input=dot_text.encode("utf-8"), capture_output=True)
    if proc.returncode != 0 or not proc.stdout:
        detail = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise FileflowError(f"cannot write {path}: Graphviz's dot failed (exit "
                            f"{proc.returncode}): {detail[-1] if detail else 'no output'}")
    return proc.stdout
