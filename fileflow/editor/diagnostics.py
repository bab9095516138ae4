"""The editor's diagnostics of a Flowfile: syntax errors, validation errors and lint
warnings, each at a span of the text. Layer 2.
"""
from __future__ import annotations

import os
import re
from typing import NamedTuple

from fileflow.editor.analysis import Analysis, Span, include_argument, span_of
from fileflow.errors import FlowfileError, Position

__all__ = ["Diagnostic", "diagnostics"]


class Diagnostic(NamedTuple):
    span: Span
    severity: str          # "error" | "warning"
    message: str
    code: str | None       # FF1xx for lint findings


def diagnostics(result: Analysis) -> list[Diagnostic]:
    """Syntax errors, validation errors (the messages of `fileflow check`) and lint warnings
    of the document. An error in another file (an included Flowfile, a config file) is shown
    at the statement that brings that file in."""
    out: list[Diagnostic] = []
    seen = set()
    for err in [*result.syntax_errors, *result.load_errors]:
        span, message = _error_place(result, err)
        if err.hint:
            message += f"\nhint: {err.hint}"
        if (span, message) not in seen:
            seen.add((span, message))
            out.append(Diagnostic(span, "error", message, None))
    here = os.path.realpath(result.path)
    for finding in result.findings:
        if os.path.realpath(finding.pos.path) == here:
            out.append(Diagnostic(_finding_span(result, finding.pos), finding.severity,
                                  f"{finding.message} (fix: {finding.fix})", finding.code))
    return sorted(out, key=lambda d: (d.span, d.code or ""))


def _finding_span(result: Analysis, pos: Position) -> Span:
    span = span_of(pos)
    if (span.end_line, span.end_column) <= (span.line, span.column):
        return _word_span(result, pos.line, pos.column)   # no extent: the token there
    return span


def _error_place(result: Analysis, err: FlowfileError) -> tuple[Span, str]:
    pos = err.pos
    if pos is None:
        return Span(1, 1, 1, 1), err.message
    if os.path.realpath(pos.path) == os.path.realpath(result.path):
        return _finding_span(result, pos), err.message
    arg = include_argument(result, pos.path)
    return (span_of(arg.pos) if arg is not None else Span(1, 1, 1, 1)), f"{pos}: {err.message}"


def _word_span(result: Analysis, line: int, column: int) -> Span:
    """The token at a place where an error has no end: a name, a string, or one character."""
    if not 1 <= line <= len(result.lines):
        return Span(line, column, line, column)
    text = result.lines[line - 1].rstrip("\r")
    i = column - 1
    if i >= len(text):   # at the end of the line: the last character, if any
        return Span(line, max(1, len(text)), line, max(1, len(text)) + (1 if text else 0))
    m = re.compile(r"[A-Za-z_0-9]+|[rR]?\"(?:[^\"\\]|\\.)*\"?|[rR]?'(?:[^'\\]|\\.)*'?").match(text, i)
    end = m.end() if m else i + 1
    return Span(line, column, line, end + 1)
