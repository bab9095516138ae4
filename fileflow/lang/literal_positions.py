"""Where characters of a string literal's value are in the Flowfile's text, through
dedenting and escapes: the place an error in a command or a message points at. Layer 1.
"""
from __future__ import annotations

from fileflow.errors import Position
from fileflow.lang import syntax as s

__all__ = ["position_in_literal"]


def position_in_literal(node, offset: int, length: int = 1, source: str | None = None) -> Position:
    """Where characters [offset, offset + length) of a string literal's value are in the source,
    through dedenting and escapes. The literal's own position when the value is not one
    literal's (strings joined over lines, or a computed value)."""
    pos = node.pos
    if not (isinstance(node, s.Const) and isinstance(node.value, str) and source is not None):
        return pos
    lines = source.split("\n")
    if not 1 <= pos.line <= pos.end_line <= len(lines):
        return pos
    if pos.line == pos.end_line:
        text = lines[pos.line - 1][pos.column - 1:pos.end_column - 1]
    else:
        text = "\n".join([lines[pos.line - 1][pos.column - 1:], *lines[pos.line:pos.end_line - 1],
                          lines[pos.end_line - 1][:pos.end_column - 1]])
    try:
        value, offsets = s.decode_with_offsets(text)
    except Exception:  # not a single literal after all
        return pos
    if value != node.value or not 0 <= offset < len(offsets):
        return pos

    def where(index: int) -> tuple[int, int]:
        before = text[:index]
        if "\n" not in before:
            return pos.line, pos.column + index
        return pos.line + before.count("\n"), index - before.rindex("\n")

    line, column = where(offsets[offset])
    end_line, end_column = where(offsets[min(offset + length, len(offsets)) - 1])
    width = end_column - column + 1 if end_line == line and end_column >= column else 1
    return Position(pos.path, line, column, line, column + width)
