"""The outline of a Flowfile: rules with their directives, top-level assignments and
directives. Layer 2.
"""
from __future__ import annotations

from typing import NamedTuple

from fileflow.editor.analysis import Analysis, Span, node_end, source_text, span_of
from fileflow.lang import syntax as s

__all__ = ["Symbol", "symbols"]


class Symbol(NamedTuple):
    name: str
    kind: str              # "rule" | "directive" | "variable" | "function"
    detail: str
    span: Span             # the whole statement
    name_span: Span        # the name in it
    children: tuple[Symbol, ...] = ()


def symbols(result: Analysis) -> list[Symbol]:
    """The outline: rules with their directives, top-level assignments, directives and
    imported functions."""
    out = []
    for stmt in result.statements:
        if isinstance(stmt, s.RuleDecl):
            directives = tuple(Symbol(d.name, "directive", source_text(result, d, 60),
                                    _statement_span(d), span_of(d.pos)) for d in stmt.directives)
            out.append(Symbol(stmt.name, "rule", "rule", _statement_span(stmt), span_of(stmt.pos),
                              directives))
        elif isinstance(stmt, s.UseRule) and stmt.new_name is not None:
            directives = tuple(Symbol(d.name, "directive", source_text(result, d, 60),
                                    _statement_span(d), span_of(d.pos)) for d in stmt.directives)
            used = ", ".join(n.id for n in stmt.names)
            origin = f"use rule {used}" + (f" from {stmt.module.id}" if stmt.module else "")
            out.append(Symbol(stmt.new_name.id, "rule", origin, _statement_span(stmt),
                              span_of(stmt.new_name.pos), directives))
        elif isinstance(stmt, s.ModuleDecl):
            out.append(Symbol(stmt.name, "variable", "module", _statement_span(stmt),
                              span_of(stmt.pos)))
        elif isinstance(stmt, s.Assignment):
            out.append(Symbol(stmt.name, "variable", source_text(result, stmt.value, 60),
                              _statement_span(stmt), span_of(stmt.pos)))
        elif isinstance(stmt, s.ImportFrom):
            out.extend(Symbol(n.id, "function", f"from {source_text(result, stmt.path)}",
                              _statement_span(stmt), span_of(n.pos)) for n in stmt.names)
        elif isinstance(stmt, s.Directive):
            out.append(Symbol(stmt.name, "directive", source_text(result, stmt, 60),
                              _statement_span(stmt), span_of(stmt.pos)))
    return out


def _statement_span(stmt) -> Span:
    start = (stmt.pos.line, 1 if isinstance(stmt, s.RuleDecl) else stmt.pos.column)
    return Span(*start, *node_end(stmt))
