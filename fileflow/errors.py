"""The exception types every stage raises; the CLI turns them into messages and exit codes.

Layer 0: imports nothing from fileflow.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "EXIT_OK", "EXIT_JOB_FAILED", "EXIT_USAGE", "EXIT_LOCKED", "EXIT_INTERRUPTED",
    "Position", "FileflowError", "FlowfileError", "FlowfileErrors",
    "WorkflowError", "CycleError", "AmbiguousRuleError", "MissingInputError",
    "JobFailed", "LockError",
]

# Documented exit codes (docs/cli.md).
EXIT_OK = 0
EXIT_JOB_FAILED = 1
EXIT_USAGE = 2
EXIT_LOCKED = 3
EXIT_INTERRUPTED = 130


@dataclass(frozen=True, slots=True)
class Position:
    """Where something is in a Flowfile. Lines and columns count from 1."""

    path: str
    line: int
    column: int
    end_line: int = 0
    end_column: int = 0

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


class FileflowError(Exception):
    """Base of every error meant for the user (never shown with a traceback)."""

    exit_code = EXIT_USAGE

    def render(self) -> str:
        return str(self)


def _source_excerpt(pos: Position, source: str | None) -> str:
    """The offending line with a caret under the column (and a run of them to the end column)."""
    if source is None:
        try:
            with open(pos.path, encoding="utf-8", errors="replace") as fh:
                source = fh.read()
        except OSError:
            return ""
    lines = source.split("\n")  # Lark counts lines by \n only, not \f or \x85
    if not 1 <= pos.line <= len(lines):
        return ""
    text = lines[pos.line - 1].expandtabs(1)
    width = 1
    if pos.end_line == pos.line and pos.end_column > pos.column:
        width = pos.end_column - pos.column
    width = max(1, min(width, len(text) - pos.column + 1))
    gutter = f"{pos.line:>5} | "
    return f"{gutter}{text}\n{' ' * (len(gutter) - 2)}| {' ' * (pos.column - 1)}{'^' * width}"


class FlowfileError(FileflowError):
    """A syntax or validation error at a place in a Flowfile (or a config file)."""

    def __init__(self, message: str, pos: Position | None = None, hint: str = "", *,
                 source: str | None = None):
        super().__init__(message)
        self.message = message
        self.pos = pos
        self.hint = hint
        self.source = source

    def __str__(self) -> str:
        where = f"{self.pos}: " if self.pos else ""
        return f"{where}{self.message}"

    def render(self) -> str:
        parts = [f"{self.pos}: error: {self.message}" if self.pos else f"error: {self.message}"]
        if self.pos:
            excerpt = _source_excerpt(self.pos, self.source)
            if excerpt:
                parts.append(excerpt)
        if self.hint:
            parts.append(f"hint: {self.hint}")
        return "\n".join(parts)


class FlowfileErrors(FileflowError):
    """Several independent validation errors, reported together."""

    def __init__(self, errors: list[FlowfileError]):
        super().__init__("\n".join(str(e) for e in errors))
        self.errors = errors

    def render(self) -> str:
        return "\n\n".join(e.render() for e in self.errors)


class WorkflowError(FileflowError):
    """A problem with the workflow as a whole (the graph), not with one line of it."""


class CycleError(WorkflowError):
    def __init__(self, cycle: list[str]):
        self.cycle = cycle
        super().__init__("dependency cycle: " + " -> ".join(cycle))


class AmbiguousRuleError(WorkflowError):
    def __init__(self, path: str, rules: list[str]):
        self.path = path
        self.rules = rules
        names = " and ".join(repr(r) for r in rules)
        super().__init__(
            f"rules {names} can both make {path!r}; add 'ruleorder: {rules[0]} > {rules[1]}' "
            "or a wildcard constraint to choose one")


class MissingInputError(WorkflowError):
    """An input that is no file and that no rule makes. For a `target` asked for on the
    command line, the closest literal output or rule name (`suggestion`) if any."""

    def __init__(self, path: str, needed_by: str, tried: list[str], *, target: bool = False,
                 suggestion: str | None = None):
        self.path = path
        self.needed_by = needed_by
        self.tried = tried
        if target:
            tried_text = f" (rules tried: {', '.join(tried)})" if tried else ""
            guess = f"; did you mean {suggestion!r}?" if suggestion is not None else ""
            super().__init__(f"no rule makes {path!r} and there is no such file{tried_text}{guess}")
            return
        tried_text = ", ".join(tried) if tried else "no rule has a matching output"
        super().__init__(
            f"missing input {path!r} needed by {needed_by}: the file does not exist and no rule "
            f"can make it (rules tried: {tried_text})")


class JobFailed(FileflowError):
    exit_code = EXIT_JOB_FAILED


class LockError(FileflowError):
    exit_code = EXIT_LOCKED
