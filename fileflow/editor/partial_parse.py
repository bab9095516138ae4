"""The top-level statements of a Flowfile that may not parse. Layer 2.

An editor's text is often broken while it is being typed: where the whole text does not
parse, each top-level statement is parsed on its own and those that do not are skipped, so
one bad line leaves the rest known.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

from fileflow.errors import FlowfileError, Position
from fileflow.lang import syntax as s

__all__ = ["statement_starts", "parse_statements"]


_LONG_STRING = re.compile(
    r'''[rR]?(?:"""(?s:.*?)(?<!\\)(?:\\\\)*?"""|\'\'\'(?s:.*?)(?<!\\)(?:\\\\)*?\'\'\')''')  # noqa: E501 (one regular expression)
_OPEN_END = re.compile(r"[,(\[{\\]\s*(?:#.*)?$")   # a line that ends inside brackets, or with '\\'
_OPERATOR_END = re.compile(r"(?:[+\-*/%=<>]|\b(?:and|or|not|if|else|in))\s*(?:#.*)?$")
_HEAD = re.compile(r"(?:rule|checkpoint)\s|[A-Za-z_]\w*\s*(?:=(?!=)|:)")


def statement_starts(lines: Sequence[str]) -> list[int]:
    """The lines (1-based) on which a top-level statement seems to start: a line beginning in
    column 1 with something other than a comment or a closing bracket, not inside a
    triple-quoted string, and not continuing the line before it (which ends with ',', an
    opening bracket or '\\'; or with an operator, unless the line reads like the head of a
    statement, `rule x` or `name =` or `name:`). A guess that needs no parse, so it works
    on broken text; line 1 always starts the first piece."""
    text = "\n".join(lines)
    inside: set[int] = set()
    for m in _LONG_STRING.finditer(text):
        first = text.count("\n", 0, m.start()) + 1
        inside.update(range(first + 1, first + m.group(0).count("\n") + 1))
    starts = [1]
    previous = ""
    for number, line in enumerate(lines, 1):
        if number > 1 and number not in inside and line[:1] not in ("", " ", "\t", "#", ")", "]", "}", "\r"):
            head = _HEAD.match(line)
            if (head and line.startswith(("rule", "checkpoint"))) or not (
                    _OPEN_END.search(previous) or (_OPERATOR_END.search(previous) and not head)):
                starts.append(number)
        if line.strip() and not line.lstrip().startswith("#"):
            previous = line.rstrip()
    return starts


def parse_statements(path: str, lines: list[str]) -> tuple[tuple, list[FlowfileError], list[tuple[int, int]]]:
    """Parse the text, and where it fails, each top-level statement on its own, skipping those
    that do not parse. Returns (statements, errors, broken line ranges [first, end)). The
    parser is the project's own (syntax.parse_flowfile); a piece is parsed with the lines
    before it blanked so that positions stay those of the whole text."""
    starts = statement_starts(lines)
    bounds = starts + [len(lines) + 1]
    statements: list = []
    errors: list[FlowfileError] = []
    broken: list[tuple[int, int]] = []

    def parse(lo: int, hi: int):
        first, end = bounds[lo], bounds[hi]
        text = "\n" * (first - 1) + "\n".join(lines[first - 1:end - 1])
        return s.parse_flowfile(text, path).statements

    def piece_of(line: int, lo: int, hi: int) -> int:
        for k in range(hi - 1, lo - 1, -1):
            if bounds[k] <= line:
                return k
        return lo

    # A stack of ranges of pieces to parse, and of checks that splitting a range that failed
    # found an error in one of its pieces (if not, the pieces only fail together, e.g.
    # indented with tabs in one and spaces in another: the range's own error is reported).
    todo: list[tuple] = [("range", 0, len(starts))]
    while todo:
        item = todo.pop()
        if item[0] == "check":
            if len(errors) == item[1]:
                errors.append(item[2])
            continue
        _, lo, hi = item
        if lo >= hi:
            continue
        try:
            statements.extend(parse(lo, hi))
            continue
        except FlowfileError as err:
            failure = err
        except RecursionError:
            failure = FlowfileError("expression nested too deeply", Position(path, bounds[lo], 1))
        if hi - lo == 1:
            errors.append(failure)
            broken.append((bounds[lo], bounds[hi]))
            continue
        k = piece_of(failure.pos.line if failure.pos else bounds[lo], lo, hi)
        todo.extend([("check", len(errors), failure), ("range", k + 1, hi), ("range", k, k + 1),
                     ("range", lo, k)])
    statements.sort(key=lambda st: (st.pos.line, st.pos.column))
    return tuple(statements), errors, broken
