"""Finding things in an analysed Flowfile: what is under the cursor, and the declarations
a name, a field or a wildcard refers to. What hover, definition and completion share. Layer 2.
"""
from __future__ import annotations

import os
import re
from typing import NamedTuple

from fileflow.editor.analysis import Analysis, Span, node_end, statement_at
from fileflow.errors import Position
from fileflow.lang import syntax as s
from fileflow.lang.nodes import children

__all__ = ["Place", "contains", "place_at", "string_field_at", "rule_decl", "assignment_for",
           "named_entry", "rule_strings", "wildcards_of", "ImportedName", "imported_function",
           "import_target"]


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
    directives = stmt.directives if isinstance(stmt, s.RuleDecl | s.UseRule | s.ModuleDecl) else (
        (stmt,) if isinstance(stmt, s.Directive) else ())
    directive = next((d for d in directives if d.pos.line <= line <= node_end(d)[0]), None)
    roots: tuple[s.Expr | s.Keyword, ...] = ()
    if directive is not None:
        roots = directive.args
    elif isinstance(stmt, s.Assignment):
        roots = (stmt.value,)
    elif isinstance(stmt, s.ImportFrom):
        roots = (stmt.path, *stmt.names)
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


class ImportedName(NamedTuple):
    """A function imported with `from "file.py" import name`: where it is defined."""

    file: str
    line: int        # of its `def`, 0 when not found
    signature: str
    doc: str


def import_target(result: Analysis, stmt: s.ImportFrom) -> str:
    """The Python file an import statement names (relative to the Flowfile)."""
    value = stmt.path.value
    assert isinstance(value, str)  # the grammar takes a string
    return os.path.join(os.path.dirname(os.path.abspath(result.path)), value)


def imported_function(result: Analysis, name: str) -> ImportedName | None:
    """The function `name` imported into the workflow: from the loaded workflow when there is
    one, else from this file's import statements and a look at the Python file's text."""
    if result.workflow is not None and name in result.workflow.functions:
        info = result.workflow.functions[name]
        return ImportedName(info.file, info.line, info.signature, info.doc)
    for stmt in result.statements:
        if isinstance(stmt, s.ImportFrom) and any(n.id == name for n in stmt.names):
            target = import_target(result, stmt)
            try:
                with open(target, encoding="utf-8", errors="replace") as fh:
                    text = fh.read(4 * 1024 * 1024)
            except OSError:
                return ImportedName(target, 0, f"{name}(...)", "")
            m = re.search(rf"^(?:async\s+)?def\s+{re.escape(name)}\s*(\([^)]*\))?", text, re.M)
            line = text.count("\n", 0, m.start()) + 1 if m else 0
            signature = name + (" ".join(m.group(1).split()) if m and m.group(1) else "(...)")
            return ImportedName(target, line, signature, "")
    return None


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
