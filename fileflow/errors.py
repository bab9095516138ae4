"""The exception types every stage raises; the CLI turns them into messages and exit codes.

Layer 0: imports nothing from fileflow.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "EXIT_OK", "EXIT_JOB_FAILED", "EXIT_USAGE", "EXIT_LOCKED", "EXIT_INTERRUPTED",
    "Position", "FileflowError", "FlowfileError", "FlowfileErrors",
    "WorkflowError", "CycleError", "AmbiguousRuleError", "MissingInputError", "NoRuleCanRunError",
    "JobFailed", "LockError", "NothingToDo", "render_at", "shorten",
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


# The most characters of the offending line an error shows.
MAX_EXCERPT = 200


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
    column = pos.column
    if len(text) > MAX_EXCERPT:  # a very long line (a sheet's huge field): the part around the place
        start = max(0, min(column - 1 - MAX_EXCERPT // 4, len(text) - MAX_EXCERPT))
        before = "…" if start else ""
        after = "…" if start + MAX_EXCERPT < len(text) else ""
        width = max(1, min(width, start + MAX_EXCERPT - column + 1))
        column = column - start + len(before)
        text = before + text[start:start + MAX_EXCERPT] + after
    gutter = f"{pos.line:>5} | "
    return f"{gutter}{text}\n{' ' * (len(gutter) - 2)}| {' ' * (column - 1)}{'^' * width}"


def render_at(kind: str, message: str, pos: Position | None, hint: str = "",
              source: str | None = None) -> str:
    """`path:line:col: KIND: message`, the line with a caret under the place, and the hint:
    how errors (kind "error") and check's warnings (kind "warning") are printed."""
    parts = [f"{pos}: {kind}: {message}" if pos else f"{kind}: {message}"]
    if pos:
        excerpt = _source_excerpt(pos, source)
        if excerpt:
            parts.append(excerpt)
    if hint:
        parts.append(f"hint: {hint}")
    return "\n".join(parts)


def shorten(text: str, limit: int = 160) -> str:
    """`text`, or its start and end around an ellipsis when longer than `limit` characters:
    a wildcard value or path in a message stays readable however long it grew."""
    if len(text) <= limit:
        return text
    tail = limit // 4
    return f"{text[:limit - tail - 1]}…{text[-tail:]}"


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
        return render_at("error", self.message, self.pos, self.hint, self.source)


class FlowfileErrors(FileflowError):
    """Several independent validation errors, reported together."""

    def __init__(self, errors: list[FlowfileError]):
        super().__init__("\n".join(str(e) for e in errors))
        self.errors = errors

    def render(self) -> str:
        return "\n\n".join(e.render() for e in self.errors)


class WorkflowError(FileflowError):
    """A problem with the workflow as a whole (the graph), not with one line of it; `pos`
    points at the Flowfile line most involved, when there is one."""

    def __init__(self, message: str, pos: Position | None = None, hint: str = ""):
        super().__init__(message)
        self.message = message
        self.pos = pos
        self.hint = hint

    def render(self) -> str:
        if self.pos is None and not self.hint:
            return self.message
        return render_at("error", self.message, self.pos, self.hint)


def _rule_at(name: str, pos: Position | None) -> str:
    return f"'{name}' ({pos})" if pos else repr(name)


CYCLE_HINT = ("each one needs a file the one before it makes, so none can run first; break "
              "the cycle by giving one of these rules an input that no rule of the cycle makes "
              "(another file name, or a file in another folder), or drop that input")


class CycleError(WorkflowError):
    def __init__(self, cycle: list[str], pos: Position | None = None):
        self.cycle = cycle
        super().__init__("dependency cycle: " + " -> ".join(shorten(c) for c in cycle), pos,
                         CYCLE_HINT)


class AmbiguousRuleError(WorkflowError):
    def __init__(self, path: str, rules: list[str], pos: Position | None = None,
                 rule_pos: list[Position] | tuple = ()):
        self.path = path
        self.rules = rules
        places = list(rule_pos) + [None] * (len(rules) - len(rule_pos))
        named = [_rule_at(r, p) for r, p in zip(rules, places)]
        names = ", ".join(named[:-1]) + " and " + named[-1]
        both = "both" if len(rules) == 2 else "all"
        super().__init__(
            f"rules {names} can {both} make {shorten(path)!r}; add 'ruleorder: "
            f"{' > '.join(rules)}' or a wildcard constraint to choose one", pos)


class MissingInputError(WorkflowError):
    """An input that is no file and that no rule makes. For a `target` asked for on the
    command line, the closest literal output or rule name (`suggestion`) if any; `chain`
    the jobs that want `path`, from a target down to the one needing it (named at the end
    when the one needing it is no target itself)."""

    def __init__(self, path: str, needed_by: str, tried: list[str], pos: Position | None = None,
                 rule_pos: Position | None = None, *, target: bool = False,
                 suggestion: str | None = None, chain: list[str] | tuple = ()):
        self.path = path
        self.needed_by = needed_by
        self.tried = tried
        self.chain = list(chain)
        if target:
            tried_text = f" (rules tried: {', '.join(tried)})" if tried else ""
            guess = f"; did you mean {suggestion!r}?" if suggestion is not None else ""
            super().__init__(f"no rule makes {path!r} and there is no such file{tried_text}{guess}")
            return
        tried_text = ", ".join(tried) if tried else "no rule has a matching output"
        rule = f" (rule at {rule_pos})" if rule_pos else ""
        super().__init__(
            f"missing input {shorten(path)!r} needed by {shorten(needed_by)}{rule}: the file does "
            f"not exist and no rule can make it (rules tried: {tried_text})"
            f"{_wanted_through(self.chain)}", pos)


class NoRuleCanRunError(MissingInputError):
    """Several rules can make `path`, a file that does not exist, and none can run: each
    needs a file that does not exist and that no rule makes (or needs `path` itself).
    `candidates` are (rule name, its place, the files it lacks; empty: it needs `path`);
    `chain` the jobs that want `path`, from a target down to the one needing it."""

    def __init__(self, path: str, candidates: list[tuple[str, Position | None, list[str]]],
                 needed_by: str = "", pos: Position | None = None,
                 rule_pos: Position | None = None, chain: list[str] | tuple = ()):
        self.path = path
        self.needed_by = needed_by
        self.candidates = candidates
        self.tried = [name for name, _, _ in candidates]
        self.chain = list(chain)
        lacks = "; ".join(
            f"rule {_rule_at(name, place)} needs " + (
                _and(lacking) if lacking else f"{shorten(path)!r} itself")
            for name, place, lacking in candidates)
        if needed_by and needed_by != "the command line":
            rule = f" (rule at {rule_pos})" if rule_pos else ""
            head = (f"missing input {shorten(path)!r} needed by {shorten(needed_by)}{rule}: "
                    "the file does not exist and")
        else:
            head = f"no rule can make {shorten(path)!r} and there is no such file:"
        WorkflowError.__init__(
            self, f"{head} none of the rules that could make it can run ({lacks}: files that "
            f"do not exist and that no rule makes){_wanted_through(self.chain)}", pos,
            "add the missing files, or a rule that makes one of them")


def _and(paths: list[str]) -> str:
    named = [repr(shorten(p)) for p in paths[:5]]
    if len(paths) > 5:
        named[-1] = f"{len(paths) - 4} more"
    return named[0] if len(named) == 1 else ", ".join(named[:-1]) + " and " + named[-1]


def _wanted_through(chain: list[str], most: int = 8) -> str:
    """`; wanted through a -> b -> c`, the end of a missing-input message naming the jobs
    that want the file, a long chain with its middle left out; "" when the job needing the
    file is a target itself (a chain of one job, or none)."""
    if len(chain) < 2:
        return ""
    named = [shorten(j, 60) for j in chain]
    if len(named) > most:
        named = [*named[:2], f"({len(named) - most + 1} more)", *named[-(most - 3):]]
    return "; wanted through " + " -> ".join(named)


class JobFailed(FileflowError):
    exit_code = EXIT_JOB_FAILED


class LockError(FileflowError):
    exit_code = EXIT_LOCKED


class NothingToDo(FileflowError):
    """Not a failure: there is nothing to build (a Flowfile without rules). Exit 0."""

    exit_code = EXIT_OK
