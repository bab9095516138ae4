"""What of a Flowfile can shape the job graph: its syntax tree without positions and without
the rules' `shell:` commands, as a digest. Layer 1.

Two Flowfiles with the same digest make the same jobs from the same files (the command a
rule runs is rendered from its jobs' values; it decides no job, path or edge), so a graph
kept from one serves the other (fileflow.run.graph_cache) once it is bound to the rules
loaded now: an edited command reruns that rule's jobs (their signatures differ) without
resolving the graph again. Layout (blank lines, comments, positions) does not count either.
"""
from __future__ import annotations

import dataclasses
import hashlib

from fileflow.lang.nodes import Directive, Module, RuleDecl, UseRule

__all__ = ["shape_digest"]

_SKIPPED = frozenset({"pos", "end_line", "source"})
# Directives of a rule that never decide a job, a path or an edge.
_COMMANDS = frozenset({"shell"})


def shape_digest(text: str, path: str) -> str:
    """The digest of what in the Flowfile `text` can shape the graph; raises FlowfileError
    as parsing does."""
    from fileflow.lang.syntax import parse_flowfile

    module = parse_flowfile(text, path)
    out: list[str] = []
    _write(module, out, False)
    return hashlib.sha256("\x00".join(out).encode("utf-8", "surrogatepass")).hexdigest()


def _write(node: object, out: list[str], in_rule: bool) -> None:
    """The node's kind and fields, depth first, positions left out (no recursion limit is
    reached: a syntax tree is as deep as the parser allowed)."""
    if isinstance(node, (tuple, list)):
        out.append(f"[{len(node)}")
        for item in node:
            _write(item, out, in_rule)
        out.append("]")
        return
    if not dataclasses.is_dataclass(node) or isinstance(node, type):
        out.append(repr(node))
        return
    kind = type(node)
    if kind is Directive and in_rule and node.name in _COMMANDS:  # type: ignore[attr-defined]
        out.append(f"Directive {node.name} (command)")  # type: ignore[attr-defined]
        return
    out.append(kind.__name__)
    inside = in_rule or kind is RuleDecl or kind is UseRule
    for f in dataclasses.fields(node):
        if f.name not in _SKIPPED or (kind is not Module and f.name == "source"):
            out.append(f.name)
            _write(getattr(node, f.name), out, inside)
