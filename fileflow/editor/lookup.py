"""Finding things in an analysed Flowfile: what is under the cursor, and the declarations
a name, a field or a wildcard refers to. What hover, definition and completion share. Layer 2.
"""
from __future__ import annotations

import re
from typing import NamedTuple

from fileflow.editor.analysis import Analysis, Span, node_end, statement_at
from fileflow.errors import Position
from fileflow.lang import syntax as s
from fileflow.lang.nodes import children

__all__ = ["Place", "contains", "place_at", "string_field_at", "rule_decl", "assignment_for",
           "named_entry", "rule_strings", "wildcards_of"]


# ---------------------------------------------------------------- what is under the cursor

class Place(NamedTuple):
    """Where a line and column fall in the syntax tree."""

    statement: object              # the top-level statement
    directive: s.Directive | None  # the directive the place is in
    chain: tuple                   # expression nodes from the outermost to the one at the place


def contains(pos: Position, line: int, column: int) -> bool:
    """Whether a place is within a node's extent, its end included."""
    end = (pos.end_line, pos.end_column) if pos.end_line else (pos.line, pos.column + 1)
    return (pos.line, pos.column) <= (line, column) <= end


def place_at(result: Analysis, line: int, column: int) -> Place | None:
    """The statement, directive and smallest expression at a place; None between statements."""
    stmt = statement_at(result, line)
    if stmt is None:
        return None
    directives = stmt.directives if isinstance(stmt, s.RuleDecl) else (
        (stmt,) if isinstance(stmt, s.Directive) else ())
    directive = next((d for d in directives if d.pos.line <= line <= node_end(d)[0]), None)
    roots = directive.args if directive else ((stmt.value,) if isinstance(stmt, s.Assignment) else ())
    best: tuple = ()
    stack: list[tuple[s.Expr | s.Keyword, tuple]] = [(root, (root,)) for root in roots]
    while stack:   # the smallest node whose extent holds the place
        node, chain = stack.pop()
        if contains(node.pos, line, column) and not isinstance(node, s.Keyword):
            if not best or _size(node.pos) <= _size(best[-1].pos):
                best = chain
        stack.extend((child, chain + (child,)) for child in children(node))
    return Place(stmt, directive, best)


def _size(pos: Position) -> tuple[int, int]:
    return ((pos.end_line or pos.line) - pos.line,
            (pos.end_column or pos.column + 1) - pos.column if pos.end_line == pos.line else 10**9)


def string_field_at(result: Analysis, const: s.Const, line: int, column: int) -> tuple[str, Span] | None:
    """The text inside the `{...}` field of a string literal at a place ("sample",
    "sample,[a-z]+", " wildcards.sample :q") and the field's span, or None when the place is
    not in a field."""
    start = result.offset(const.pos.line, const.pos.column)
    end = result.offset(const.pos.end_line, const.pos.end_column)
    cursor = result.offset(line, column)
    literal = re.compile(
        r'''[rR]?(?:"""(?s:.*?)"""|\'\'\'(?s:.*?)\'\'\'|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')''')  # noqa: E501 (one regular expression)
    for m in literal.finditer(result.text, start, end):
        if not m.start() <= cursor < m.end():
            continue
        try:
            value, where = s.decode_with_offsets(m.group(0))
        except ValueError:
            return None
        index = next((i for i, w in enumerate(where) if w >= cursor - m.start()), len(value))
        for f in re.finditer(r"\{\{|\}\}|\{((?:[^{}]|\{[^{}]*\})*)\}", value):
            if f.group(1) is not None and f.start() <= index < f.end():
                first = result.place_of(m.start() + where[f.start()])
                last = result.place_of(m.start() + where[f.end() - 1] + 1)
                return f.group(1), Span(*first, *last)
    return None


# ---------------------------------------------------------------- declarations

def rule_decl(result: Analysis, name: str) -> s.RuleDecl | None:
    """The declaration of a rule in this file, if it parses."""
    return next((st for st in result.statements if isinstance(st, s.RuleDecl) and st.name == name), None)


def assignment_for(result: Analysis, name: str, line: int) -> s.Assignment | None:
    """The assignment of `name` a use on `line` reads: the last one above it (or the first one
    of the file, when the use comes first: an error the diagnostics report)."""
    found = [st for st in result.statements if isinstance(st, s.Assignment) and st.name == name]
    above = [st for st in found if st.pos.line < line]
    return above[-1] if above else (found[0] if found else None)


def named_entry(rule: s.RuleDecl | None, field: str) -> s.Keyword | None:
    """The `name = ...` entry of a rule that a command field such as `input.reads` names."""
    m = re.fullmatch(r"\s*(input|output|log|params|resources)\.([A-Za-z_]\w*)\s*", field)
    if rule is None or m is None:
        return None
    return next((arg for d in rule.directives if d.name == m.group(1) for arg in d.args
                 if isinstance(arg, s.Keyword) and arg.name == m.group(2)), None)


def rule_strings(rule: s.RuleDecl, directive: str) -> list[tuple[str, Position]]:
    """The string literals among a rule directive's values (inside wrappers and lists too)."""
    out = []
    for d in rule.directives:
        if d.name == directive:
            stack = list(reversed(d.args))
            while stack:
                node = stack.pop()
                if isinstance(node, s.Const) and isinstance(node.value, str):
                    out.append((node.value, node.pos))
                elif isinstance(node, s.Call):
                    stack.extend(reversed(node.args))
                elif isinstance(node, (s.ListExpr, s.Keyword)):
                    stack.extend(reversed(children(node)))
    return out


def wildcards_of(text: str) -> dict[str, str | None]:
    """The wildcards of a pattern, each with its inline constraint or None ({} when the text
    is not a pattern)."""
    from fileflow.patterns import PatternError, parse_pattern

    try:
        parts = parse_pattern(text).parts
    except PatternError:
        return {}
    out: dict[str, str | None] = {}
    for part in parts:
        if not isinstance(part, str):
            out[part[0]] = out.get(part[0]) or part[1]
    return out
