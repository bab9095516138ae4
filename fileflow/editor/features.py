"""What `fileflow lsp` knows about a Flowfile being edited, as pure functions of (path, text).
Layer 2.

`analyze` reads the editor's unsaved text once: the statements that parse (a statement that
does not is skipped, so one bad line leaves the outline of the rest), the syntax errors, the
checked rule model when the text loads, and the lint findings when it loads cleanly. The
features (diagnostics, symbols, hover, definition, completion, formatting) read that
`Analysis` and return plain records with 1-based lines and columns (end exclusive), which
lsp.py translates to the protocol. Nothing here knows about LSP or pygls.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Mapping, NamedTuple, Sequence

from fileflow.lang import syntax as s
from fileflow.lang.nodes import children
from fileflow.errors import FileflowError, FlowfileError, FlowfileErrors, Position
from fileflow.lang.rules import RULE_DIRECTIVES, TOP_DIRECTIVES

__all__ = ["Span", "Diagnostic", "Symbol", "HoverText", "Location", "Completion", "Analysis",
           "analyze", "diagnostics", "symbols", "hover", "definition", "completion",
           "format_document", "lint_findings", "including_flowfile", "workdir_of", "statement_starts", "DIRECTIVE_DOCS", "BUILTIN_DOCS"]


class Span(NamedTuple):
    """A stretch of text: 1-based line and column of its start, and of the character after it."""

    line: int
    column: int
    end_line: int
    end_column: int


class Diagnostic(NamedTuple):
    span: Span
    severity: str          # "error" | "warning"
    message: str
    code: str | None       # FF1xx for lint findings


class Symbol(NamedTuple):
    name: str
    kind: str              # "rule" | "directive" | "variable"
    detail: str
    span: Span             # the whole statement
    name_span: Span        # the name in it
    children: tuple["Symbol", ...] = ()


class HoverText(NamedTuple):
    markdown: str
    span: Span


class Location(NamedTuple):
    path: str
    span: Span


class Completion(NamedTuple):
    label: str
    kind: str  # "directive" | "keyword" | "rule" | "config" | "variable" | "builtin" | "field"
    detail: str
    insert_text: str


DIRECTIVE_DOCS = {
    "input": "Files the job reads: patterns, file wrappers or lists of them; `name = ...` entries "
             "can be used as `{input.name}`. May read `wildcards` (evaluated per job).",
    "output": "Files the job makes. The output patterns define the rule's `{wildcards}`; all "
              "outputs must use the same set. Wrappers: `temp()`, `protected()`, `directory()`.",
    "log": "Log files of the job (`{log}`, `{log.name}`); may use the outputs' wildcards.",
    "params": "Values of any type for the command (`{params.name}`) or the script "
              "(`job.params.name`).",
    "threads": "A whole number >= 1 (default 1): `{threads}`. May read `wildcards` and `attempt`.",
    "resources": "`name = value` pairs (`mem_mb`, `runtime` in minutes, `disk_mb`, or your own): "
                 "`{resources.mem_mb}`. May read `wildcards`, `attempt` and `threads`.",
    "retries": "How many times a failed job is retried (default 0); each retry has `attempt` "
               "one higher.",
    "priority": "A whole number (default 0): among ready jobs, higher runs first.",
    "message": "A line shown when the job starts, with the same `{...}` fields as `shell:`.",
    "wildcard_constraints": "Regexes for wildcards, `name = \"regex\"`: in a rule, for its own "
                            "wildcards; at the top level, for every rule.",
    "shell": "The command, run by the shell. Fields: `{input}`, `{output}`, `{log}`, `{params.x}`, "
             "`{wildcards.x}`, `{threads}`, `{resources.x}`, `{rule}`, `{attempt}`; files and "
             "wildcards are shell-quoted (`:raw` to insert as is).",
    "script": "A script path relative to this Flowfile: `.py` runs with Python "
              "(`from fileflow.script import job`), anything else with bash.",
    "configfile": "A YAML mapping merged into `config`; the path is relative to the working "
                  "directory.",
    "include": "Loads another Flowfile here, into the same namespace; the path is relative to "
               "this file's directory.",
    "localrules": "Rule names whose jobs run on this machine even with a cluster executor.",
    "ruleorder": "`a > b`: when both rules can make a file, the rule on the left is preferred.",
    "default": "The targets built when none are given (file paths or rule names); without it, "
               "the first rule.",
}

BUILTIN_DOCS = {
    "expand": "`expand(pattern, name=values, ...)`: every combination of the values filled into "
              "the pattern(s); `zip=true` pairs the lists, `allow_missing=true` keeps unfilled "
              "wildcards.",
    "glob_wildcards": "`glob_wildcards(pattern)`: the values of each wildcard in the existing "
                      "paths that match, read as `.name` (a list each).",
    "env": "`env(name)`, `env(name, default)`: an environment variable.",
    "range": "`range(stop)`, `range(start, stop[, step])`: a list of ints.",
    "len": "`len(x)`: the length of a string, list or dict.",
    "int": "`int(x)`: an integer.",
    "float": "`float(x)`: a float.",
    "bool": "`bool(x)`: true or false.",
    "str": "`str(x)`: text (`\"true\"`/`\"false\"` for booleans, a wrapped file's path).",
    "list": "`list(x)`: a list (a string's characters, a dict's keys).",
    "min": "`min(list)` or `min(a, b, ...)`.",
    "max": "`max(list)` or `max(a, b, ...)`.",
    "sum": "`sum(list)`.",
    "abs": "`abs(x)`.",
    "round": "`round(x[, digits])`.",
    "sorted": "`sorted(list, reverse=false)`: a sorted copy.",
    "temp": "`temp(path)`, in `output:`: deleted once every job that needs it has run.",
    "protected": "`protected(path)`, in `output:`: made read-only after the job succeeds.",
    "directory": "`directory(path)`, in `output:`, `input:` or `log:`: the path is a directory.",
    "ancient": "`ancient(path)`, in `input:`: only its existence matters; a newer or changed "
               "file does not rerun the job.",
    "config": "`config`: the merged configuration (`config.key` or `config[\"key\"]`).",
    "wildcards": "`wildcards`: inside a rule, the job's wildcard values (`wildcards.sample`).",
    "attempt": "`attempt`: in `threads:` and `resources:`, 1 for the first try, 2 for the "
               "first retry, ...",
}

FIELD_DOCS = {
    "wildcards": "the job's wildcard values (`{wildcards.NAME}`)",
    "input": "the job's input files", "output": "the job's output files",
    "log": "the job's log files", "params": "the rule's params values",
    "threads": "the job's threads", "resources": "the job's resources",
    "rule": "the rule's name", "attempt": "1 for the first try, 2 for the first retry, ...",
}


# ---------------------------------------------------------------- reading the text

@dataclass
class Analysis:
    path: str
    text: str
    lines: list[str]
    statements: tuple                      # those that parse, in file order
    syntax_errors: list[FlowfileError]
    workdir: str
    workflow: object = None                # rules.Workflow when the text loads
    load_errors: list[FlowfileError] = field(default_factory=list)
    findings: list = field(default_factory=list)   # lint.Finding, when it loads without errors
    linted: bool = False                   # whether `findings` was worked out
    offsets: list[int] = field(default_factory=list)   # where each line starts in text

    def offset(self, line: int, column: int) -> int:
        line = min(max(line, 1), len(self.offsets))
        return self.offsets[line - 1] + column - 1

    def place_of(self, offset: int) -> tuple[int, int]:
        """(line, column) of an offset in the text."""
        from bisect import bisect_right

        line = bisect_right(self.offsets, offset)
        return line, offset - self.offsets[line - 1] + 1


def workdir_of(path: str) -> str:
    """The directory fileflow would run in for this Flowfile: its own, or the parent of a
    `workflow/` directory (where `fileflow` finds workflow/Flowfile)."""
    folder = os.path.dirname(os.path.abspath(path))
    return os.path.dirname(folder) if os.path.basename(folder) == "workflow" else folder


_LONG_STRING = re.compile(r'''[rR]?(?:"""(?s:.*?)(?<!\\)(?:\\\\)*?"""|\'\'\'(?s:.*?)(?<!\\)(?:\\\\)*?\'\'\')''')
_OPEN_END = re.compile(r"[,(\[{\\]\s*(?:#.*)?$")   # a line that ends inside brackets, or with '\\'
_OPERATOR_END = re.compile(r"(?:[+\-*/%=<>]|\b(?:and|or|not|if|else|in))\s*(?:#.*)?$")
_HEAD = re.compile(r"rule\s|[A-Za-z_]\w*\s*(?:=(?!=)|:)")


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
            if (head and line.startswith("rule")) or not (
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


def analyze(path: str, text: str, workdir: str | None = None, lint: bool = True,
            open_texts: Mapping[str, str] | None = None) -> Analysis:
    """Everything the features need about `text`, the unsaved content of the Flowfile at
    `path` (its includes and scripts are found relative to `path`). A file that another
    Flowfile includes (found by `including_flowfile`) is checked as part of that workflow, so
    that the names and rules it uses from there are known. `open_texts` holds the unsaved
    text of other files being edited, by real path."""
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.split("\n")
    offsets, at = [], 0
    for line in lines:
        offsets.append(at)
        at += len(line) + 1
    statements, syntax_errors, broken = parse_statements(path, lines)
    root = None if workdir else including_flowfile(path)
    result = Analysis(path, text, lines, statements, syntax_errors,
                      workdir or workdir_of(root or path), offsets=offsets)
    if root is not None:
        _load(result, broken, root, dict(open_texts or {}))
        if any(not _is_ours(result, e) for e in result.load_errors):
            # the including workflow has errors of its own: check this file by itself
            result.workflow, result.workdir = None, workdir_of(path)
            root = None
    if root is None:
        _load(result, broken)
    if lint:
        result.findings, result.linted = lint_findings(result), True
    return result


_INCLUDE = re.compile(r"""(?m)^include[ \t]*:[ \t]*[rR]?["']([^"'\n]+)["']""")


def including_flowfile(path: str) -> str | None:
    """The Flowfile (`Flowfile` or `workflow/Flowfile`, in this file's directory or up to three
    above) that includes this file, directly or through other included files; None if none
    does. Includes are read with a pattern, so a Flowfile that does not parse still counts."""
    target = os.path.realpath(path)
    folder = os.path.dirname(os.path.abspath(path))
    for _ in range(4):
        for name in ("Flowfile", os.path.join("workflow", "Flowfile")):
            candidate = os.path.join(folder, name)
            if (os.path.realpath(candidate) != target and os.path.isfile(candidate)
                    and _includes(candidate, target)):
                return candidate
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    return None


def _includes(flowfile: str, target: str) -> bool:
    seen, todo = set(), [flowfile]
    while todo and len(seen) < 100:
        current = todo.pop()
        if os.path.realpath(current) in seen:
            continue
        seen.add(os.path.realpath(current))
        try:
            with open(current, encoding="utf-8-sig") as fh:
                text = fh.read()
        except (OSError, UnicodeDecodeError):
            continue
        for m in _INCLUDE.finditer(text):
            included = os.path.join(os.path.dirname(current), m.group(1))
            if os.path.realpath(included) == target:
                return True
            todo.append(included)
    return False


def _is_ours(result: Analysis, err: FlowfileError) -> bool:
    """Whether an error is in this file, or in a file this file brings in."""
    if err.pos is None:
        return False
    return (os.path.realpath(err.pos.path) == os.path.realpath(result.path)
            or include_argument(result, err.pos.path) is not None)


# How many times a load that stopped at a top-level statement is tried again without it.
RELOADS = 5


def _load(result: Analysis, broken: list[tuple[int, int]], root: str | None = None,
          open_texts: dict[str, str] | None = None) -> None:
    """Load the text as `fileflow check` does, with the statements that do not parse blanked
    (so positions stay). A top-level statement whose error stops the load (a missing config
    key, say) is blanked in turn and the text loaded again, a few times, so that errors
    further down still show while one is being fixed."""
    from fileflow.lang.rules import load_workflow

    blank = list(broken)
    errors: list[FlowfileError] = []
    for attempt in range(RELOADS + 1):
        kept = list(result.lines)
        for first, end in blank:
            kept[first - 1:end - 1] = [""] * (end - first)
        try:
            if root is None:
                workflow = load_workflow(result.path, workdir=result.workdir, text="\n".join(kept))
            else:   # this file as part of the workflow that includes it
                texts = {**(open_texts or {}), os.path.realpath(result.path): "\n".join(kept)}
                workflow = load_workflow(root, workdir=result.workdir, text=texts.get(os.path.realpath(root)),
                                         texts=texts)
        except FlowfileErrors as errs:
            found = list(errs.errors)
        except FlowfileError as err:
            found = [err]
        except FileflowError as err:
            found = [FlowfileError(str(err), Position(result.path, 1, 1))]
        except RecursionError:
            found = [FlowfileError("expression nested too deeply", Position(result.path, 1, 1))]
        else:
            if attempt == 0:
                result.workflow = workflow
            break
        errors.extend(found)
        stop = _stopping_statement(result, found[-1], blank)
        if stop is None:
            break
        blank.append(stop)
    unique = {(str(e.pos), e.message): e for e in errors}
    result.load_errors = _without_echoes(result, blank, list(unique.values()))


def _stopping_statement(result: Analysis, err: FlowfileError, blank: list) -> tuple[int, int] | None:
    """The lines [first, end) of the top-level statement of this file at which a load stopped,
    when statements follow it; None when the load went to the end (rule errors, unknown rule
    names found at the end) or stopped in another file."""
    if err.pos is None or os.path.realpath(err.pos.path) != os.path.realpath(result.path):
        return None
    if err.message.startswith(("localrules: no rule", "ruleorder: no rule")):
        return None
    stmt = statement_at(result, err.pos.line)
    if stmt is None or isinstance(stmt, s.RuleDecl) or stmt is result.statements[-1]:
        return None
    lines = (stmt.pos.line, node_end(stmt)[0] + 1)
    return None if lines in blank else lines


def _without_echoes(result: Analysis, blank: list[tuple[int, int]],
                    errors: list[FlowfileError]) -> list[FlowfileError]:
    """Validation errors that are not echoes of a statement left out (it does not parse, or
    its error stopped the load): a name it would assign, a rule it would declare, a config
    file it would read, or the same syntax error again."""
    names = set()
    config_gone = False
    for first, end in blank:
        head = next((x for x in result.lines[first - 1:end - 1] if x.strip() and x[:1] != "#"), "")
        m = re.match(r"rule\s+([A-Za-z_]\w*)|([A-Za-z_]\w*)\s*=", head)
        if m:
            names.add(m.group(1) or m.group(2))
        config_gone = config_gone or bool(re.match(r"configfile\s*:", head))
    seen = {(e.pos.line, e.pos.column, e.message) for e in result.syntax_errors if e.pos}

    def own(e: FlowfileError) -> bool:   # an error of a left-out statement itself
        return bool(e.pos) and any(first <= e.pos.line < end for first, end in blank)

    return [e for e in errors
            if (own(e) or not any(f"'{n}'" in e.message for n in names)
                and not (config_gone and e.message.startswith("config has no key")))
            and not (e.pos and (e.pos.line, e.pos.column, e.message) in seen)]


def lint_findings(result: Analysis) -> list:
    """The lint findings of a text that loads without errors (none otherwise: warnings about
    a half-read workflow would be noise). Separate from `analyze` because it can take long on
    a large workflow: the server runs it off its main loop."""
    from fileflow.editor.lint import lint_workflow

    if result.workflow is None or result.syntax_errors or result.load_errors:
        return []
    modules = []
    for flowfile in result.workflow.flowfiles:
        if os.path.realpath(flowfile) == os.path.realpath(result.path):
            modules.append(s.Module(flowfile, result.text, result.statements))
            continue
        try:
            with open(flowfile, encoding="utf-8-sig") as fh:
                modules.append(s.parse_flowfile(fh.read(), flowfile))
        except (OSError, UnicodeDecodeError, FlowfileError):
            modules = []   # cannot read every file: do not call a name unused
            break
    return lint_workflow(result.workflow, modules)


# ---------------------------------------------------------------- spans

def node_end(node) -> tuple[int, int]:
    """The end of a statement, directive or expression: the furthest end of anything in it."""
    end = (0, 0)
    stack = [node]
    while stack:   # no recursion: expressions may nest deeply
        current = stack.pop()
        pos = current.pos
        end = max(end, (pos.end_line or pos.line, pos.end_column or pos.column))
        stack.extend(children(current))
    return end



def span_of(pos: Position) -> Span:
    return Span(pos.line, pos.column, pos.end_line or pos.line,
                pos.end_column if pos.end_line else pos.column + 1)


def _statement_span(stmt) -> Span:
    start = (stmt.pos.line, 1 if isinstance(stmt, s.RuleDecl) else stmt.pos.column)
    return Span(*start, *node_end(stmt))


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


# ---------------------------------------------------------------- diagnostics

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


def include_argument(result: Analysis, path: str):
    """The path argument of this file's `include:` or `configfile:` that names `path`."""
    target = os.path.realpath(path)
    for stmt in result.statements:
        if isinstance(stmt, s.Directive) and stmt.name in ("include", "configfile") and stmt.args:
            arg = stmt.args[0]
            if isinstance(arg, s.Const) and isinstance(arg.value, str):
                base = os.path.dirname(result.path) if stmt.name == "include" else result.workdir
                if os.path.realpath(os.path.join(base, arg.value)) == target:
                    return arg
    return None


# ---------------------------------------------------------------- symbols

def symbols(result: Analysis) -> list[Symbol]:
    """The outline: rules with their directives, top-level assignments and directives."""
    out = []
    for stmt in result.statements:
        if isinstance(stmt, s.RuleDecl):
            directives = tuple(Symbol(d.name, "directive", source_text(result, d, 60),
                                    _statement_span(d), span_of(d.pos)) for d in stmt.directives)
            out.append(Symbol(stmt.name, "rule", "rule", _statement_span(stmt), span_of(stmt.pos),
                              directives))
        elif isinstance(stmt, s.Assignment):
            out.append(Symbol(stmt.name, "variable", source_text(result, stmt.value, 60),
                              _statement_span(stmt), span_of(stmt.pos)))
        elif isinstance(stmt, s.Directive):
            out.append(Symbol(stmt.name, "directive", source_text(result, stmt, 60),
                              _statement_span(stmt), span_of(stmt.pos)))
    return out


def source_text(result: Analysis, node, limit: int = 0) -> str:
    """The text of a directive's values, an expression or a statement, as written (one line
    when `limit`, cut to that length)."""
    if isinstance(node, s.Directive):
        if not node.args:
            return ""
        start = (node.args[0].pos.line, node.args[0].pos.column)
    else:
        start = (node.pos.line, node.pos.column)
    end = node_end(node)
    text = result.text[result.offset(*start):result.offset(*end)]
    if limit:
        text = " ".join(text.split())
        if len(text) > limit:
            text = text[:limit - 3] + "..."
    return text


# ---------------------------------------------------------------- finding what is under the cursor

class Place(NamedTuple):
    statement: object              # the top-level statement
    directive: s.Directive | None  # the directive the place is in
    chain: tuple                   # expression nodes from the outermost to the one at the place


def contains(pos: Position, line: int, column: int) -> bool:
    end = (pos.end_line, pos.end_column) if pos.end_line else (pos.line, pos.column + 1)
    return (pos.line, pos.column) <= (line, column) <= end


def statement_at(result: Analysis, line: int):
    """The top-level statement that spans a line (statements are in line order, one per line)."""
    from bisect import bisect_right

    index = bisect_right([st.pos.line for st in result.statements], line) - 1
    if index >= 0 and line <= node_end(result.statements[index])[0]:
        return result.statements[index]
    return None


def place_at(result: Analysis, line: int, column: int) -> Place | None:
    stmt = statement_at(result, line)
    if stmt is None:
        return None
    directives = stmt.directives if isinstance(stmt, s.RuleDecl) else (
        (stmt,) if isinstance(stmt, s.Directive) else ())
    directive = next((d for d in directives if d.pos.line <= line <= node_end(d)[0]), None)
    roots = directive.args if directive else ((stmt.value,) if isinstance(stmt, s.Assignment) else ())
    best: tuple = ()
    stack = [(root, (root,)) for root in roots]
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
    literal = re.compile(r'''[rR]?(?:"""(?s:.*?)"""|\'\'\'(?s:.*?)\'\'\'|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')''')
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


# ---------------------------------------------------------------- hover

def hover(result: Analysis, line: int, column: int) -> HoverText | None:
    """What the thing under the cursor is: a rule, a directive, a builtin, a variable, a
    wildcard in a pattern or a command, or a field of a command."""
    stmt = statement_at(result, line)
    if stmt is None:
        return None
    if isinstance(stmt, s.RuleDecl) and contains(stmt.pos, line, column):
        return HoverText(_rule_text(result, stmt.name), span_of(stmt.pos))
    if isinstance(stmt, s.Assignment) and contains(stmt.pos, line, column):
        return HoverText(_variable_text(result, stmt), span_of(stmt.pos))
    place = place_at(result, line, column)
    if place.directive is not None and contains(place.directive.pos, line, column):
        name = place.directive.name
        where = "rule directive" if isinstance(stmt, s.RuleDecl) else "top-level directive"
        doc = DIRECTIVE_DOCS.get(name, "not a fileflow directive")
        return HoverText(f"**`{name}:`** ({where})\n\n{doc}", span_of(place.directive.pos))
    if not place.chain:
        return None
    node = place.chain[-1]
    if isinstance(node, s.Name):
        return _name_hover(result, place, node)
    if isinstance(node, s.Const) and isinstance(node.value, str):
        found = string_field_at(result, node, line, column)
        if found is not None:
            text = _field_text(result, place, found[0])
            return HoverText(text, found[1]) if text else None
    return None


def _name_hover(result: Analysis, place: Place, node: s.Name) -> HoverText | None:
    name = node.id
    if place.directive is not None and place.directive.name in ("ruleorder", "localrules"):
        text = _rule_text(result, name)
        return HoverText(text, span_of(node.pos)) if text else None
    assignment = assignment_for(result, name, node.pos.line)
    if assignment is not None:
        return HoverText(_variable_text(result, assignment), span_of(node.pos))
    if name in BUILTIN_DOCS:
        return HoverText(f"**`{name}`** (builtin)\n\n{BUILTIN_DOCS[name]}", span_of(node.pos))
    return None


def rule_decl(result: Analysis, name: str) -> s.RuleDecl | None:
    return next((st for st in result.statements if isinstance(st, s.RuleDecl) and st.name == name), None)


def _rule_text(result: Analysis, name: str) -> str:
    decl = rule_decl(result, name)
    if decl is not None:
        first, end = decl.pos.line, node_end(decl)[0]
        body = "\n".join(result.lines[first - 1:min(end, first + 14)])
        more = "\n    ..." if end > first + 14 else ""
        return f"**rule `{name}`** (line {first})\n\n```\n{body}{more}\n```"
    rule = result.workflow.by_name.get(name) if result.workflow is not None else None
    if rule is not None:
        outputs = ", ".join(f"`{o.pattern.text}`" for o in rule.outputs) or "none"
        return f"**rule `{name}`** ({rule.pos})\n\noutputs: {outputs}"
    return ""


def assignment_for(result: Analysis, name: str, line: int) -> s.Assignment | None:
    """The assignment of `name` a use on `line` reads: the last one above it (or the first one
    of the file, when the use comes first: an error the diagnostics report)."""
    found = [st for st in result.statements if isinstance(st, s.Assignment) and st.name == name]
    above = [st for st in found if st.pos.line < line]
    return above[-1] if above else (found[0] if found else None)


def _variable_text(result: Analysis, stmt: s.Assignment) -> str:
    return f"**`{stmt.name}`** (line {stmt.pos.line})\n\n```\n{stmt.name} = {source_text(result, stmt.value, 200)}\n```"


def _field_text(result: Analysis, place: Place, inner: str) -> str:
    directive = place.directive.name if place.directive else ""
    rule = place.statement if isinstance(place.statement, s.RuleDecl) else None
    if directive in ("shell", "message"):
        name = inner.split(":")[0].strip()
        if name.startswith("wildcards."):
            return _wildcard_text(result, rule, name[len("wildcards."):].strip())
        head = re.split(r"[.\[]", name, maxsplit=1)[0]
        if head not in FIELD_DOCS:
            return ""
        text = f"**`{{{name}}}`**: {FIELD_DOCS[head]}" + (
            " (shell-quoted)" if head in ("input", "output", "log") else "")
        entry = named_entry(rule, name)
        if entry is not None:
            text += f"\n\n```\n{entry.name} = {source_text(result, entry.value, 200)}\n```"
        return text
    name = inner.split(",")[0].strip()
    if not re.fullmatch(r"[A-Za-z_]\w*", name):
        return ""
    for outer in place.chain:
        if isinstance(outer, s.Call) and isinstance(outer.func, s.Name) and outer.func.id == "expand":
            if any(k.name == name for k in outer.kwargs):
                return f"**wildcard `{{{name}}}`**: filled by `expand()`'s `{name}=` values"
    if rule is None:
        return f"**wildcard `{{{name}}}`**"
    return _wildcard_text(result, rule, name, inline=inner.partition(",")[2] or None)


def named_entry(rule: s.RuleDecl | None, field: str) -> s.Keyword | None:
    """The `name = ...` entry of a rule that a command field such as `input.reads` names."""
    m = re.fullmatch(r"\s*(input|output|log|params|resources)\.([A-Za-z_]\w*)\s*", field)
    if rule is None or m is None:
        return None
    return next((arg for d in rule.directives if d.name == m.group(1) for arg in d.args
                 if isinstance(arg, s.Keyword) and arg.name == m.group(2)), None)


def _wildcard_text(result: Analysis, rule: s.RuleDecl | None, name: str, inline: str | None = None) -> str:
    if rule is None:
        return f"**wildcard `{{{name}}}`**"
    outputs = rule_strings(rule, "output")
    defined = [(text, pos) for text, pos in outputs if name in wildcards_of(text)]
    head = f"**wildcard `{{{name}}}`** of rule `{rule.name}`"
    if not defined:
        every = sorted({w for text, _ in outputs for w in wildcards_of(text)})
        return f"{head}\n\nnot defined by the rule's outputs (they define: {', '.join(every) or 'none'})"
    text, pos = defined[0]
    lines = [head, "", f"defined by output `{text}` (line {pos.line})"]
    constraint = inline or wildcards_of(text).get(name)
    source = "in the pattern"
    if constraint is None:
        constraint, source = _constraint(result, rule, name)
    if constraint is None:
        lines.append("no constraint: matches any non-empty text, `/` included")
    else:
        lines.append(f"constraint: `{constraint}` ({source})")
    return "\n".join(lines)


def wildcards_of(text: str) -> dict[str, str | None]:
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


def _constraint(result: Analysis, rule: s.RuleDecl, name: str) -> tuple[str | None, str]:
    for d in rule.directives:
        if d.name == "wildcard_constraints":
            for arg in d.args:
                if isinstance(arg, s.Keyword) and arg.name == name and isinstance(arg.value, s.Const):
                    return str(arg.value.value), "the rule's wildcard_constraints"
    found = None
    for stmt in result.statements:
        if isinstance(stmt, s.Directive) and stmt.name == "wildcard_constraints":
            for arg in stmt.args:
                if isinstance(arg, s.Keyword) and arg.name == name and isinstance(arg.value, s.Const):
                    found = str(arg.value.value)   # a later one wins
    return found, "top-level wildcard_constraints"


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


# ---------------------------------------------------------------- definition

def definition(result: Analysis, line: int, column: int) -> list[Location]:
    """Where the thing under the cursor is defined: the rule whose output makes a path, the
    assignment of a name, the rule a name in ruleorder/localrules/default refers to, the
    file an include/script/configfile names."""
    place = place_at(result, line, column)
    if place is None or not place.chain:
        return []
    node = place.chain[-1]
    directive = place.directive.name if place.directive else ""
    if isinstance(node, s.Name):
        if directive in ("ruleorder", "localrules"):
            return _rule_locations(result, node.id)
        assignment = assignment_for(result, node.id, node.pos.line)
        if assignment is not None:
            return [Location(result.path, span_of(assignment.pos))]
        where = result.workflow.names.get(node.id) if result.workflow is not None else None
        return [Location(where.path, span_of(where))] if where else []
    if not (isinstance(node, s.Const) and isinstance(node.value, str)):
        return []
    value = node.value
    if directive in ("include", "script"):
        base = os.path.dirname(os.path.abspath(result.path))
        target = os.path.join(base, value)
        return [Location(target, Span(1, 1, 1, 1))] if os.path.isfile(target) else []
    if directive == "configfile":
        target = os.path.join(result.workdir, value)
        return [Location(target, Span(1, 1, 1, 1))] if os.path.isfile(target) else []
    if directive in ("shell", "message") and isinstance(place.statement, s.RuleDecl):
        found = string_field_at(result, node, line, column)   # {input.reads} -> reads = ...
        entry = named_entry(place.statement, found[0].split(":")[0]) if found else None
        return [Location(result.path, span_of(entry.pos))] if entry is not None else []
    if directive in ("output", "shell", "message", "params", "wildcard_constraints"):
        return []
    if directive == "default" and _rule_locations(result, value):
        return _rule_locations(result, value)
    return [Location(path, span) for path, span in _producers(result, value)]


def _rule_locations(result: Analysis, name: str) -> list[Location]:
    decl = rule_decl(result, name)
    if decl is not None:
        return [Location(result.path, span_of(decl.pos))]
    rule = result.workflow.by_name.get(name) if result.workflow is not None else None
    return [Location(rule.pos.path, span_of(rule.pos))] if rule is not None else []


def _producers(result: Analysis, path_text: str) -> list[tuple[str, Span]]:
    """The rules whose output pattern can make `path_text` (a path, or a pattern whose
    wildcards are filled with a sample value), as the places of their names."""
    from fileflow.patterns import PatternError, parse_pattern

    try:
        wanted = parse_pattern(path_text)
        sample = wanted.format({w: "x" for w in wanted.wildcards}) if wanted.wildcards else wanted.text
    except (PatternError, KeyError, ValueError):
        return []
    found: dict[tuple, None] = {}
    here = os.path.realpath(result.path)
    local = {st.name: st for st in result.statements if isinstance(st, s.RuleDecl)}
    candidates: list[tuple[str, Position]] = []   # (output pattern, the rule's name)
    for decl in local.values():
        candidates.extend((text, decl.pos) for text, _ in rule_strings(decl, "output"))
    if result.workflow is not None:   # evaluated outputs, and the rules of included files
        for rule in result.workflow.rules:
            mine = rule.name in local and os.path.realpath(rule.pos.path) == here
            pos = local[rule.name].pos if mine else rule.pos
            candidates.extend((o.pattern.text, pos) for o in rule.outputs)
    for text, pos in candidates:
        try:
            pattern = parse_pattern(text)
        except PatternError:
            continue
        if pattern.match(sample) is not None:
            found[(pos.path, span_of(pos))] = None
    return list(found)


# ---------------------------------------------------------------- completion

_CONFIG_PATH = re.compile(r"""\bconfig((?:\.[A-Za-z_]\w*|\[\s*["'][^"'\]]*["']\s*\])*)(?:\.|\[\s*["'])([\w-]*)$""")


def completion(result: Analysis, line: int, column: int) -> list[Completion]:
    """What may be written at the cursor: config keys after `config.` or `config["`, rule
    names in ruleorder/localrules, directive names at the start of a line (a rule's inside a
    rule), else names: variables assigned above and builtins."""
    text = result.lines[line - 1] if 1 <= line <= len(result.lines) else ""
    before = text[:column - 1]
    m = _CONFIG_PATH.search(before)
    if m:
        return _config_keys(result, m.group(1))
    rule_name = _rule_around(result, line) if before[:1] in (" ", "\t") else None
    field = re.search(r"(?<!\{)\{\s*(?:(wildcards|input|output|log|params|resources)\.)?(\w*)$", before)
    if field and rule_name and re.search(r"""["']""", before):
        return _field_completions(result, rule_name, field.group(1))
    head = re.match(r"\s*(ruleorder|localrules)\s*:", text)
    if head and column - 1 >= head.end():
        return [Completion(name, "rule", "rule", name) for name in _rule_names(result)]
    if re.fullmatch(r"\s*[A-Za-z_]*", before):
        if before[:1] in (" ", "\t") and _rule_around(result, line) is not None:
            present = _directives_written(result, line)
            return [Completion(d, "directive", DIRECTIVE_DOCS[d], f"{d}: ")
                    for d in RULE_DIRECTIVES if d not in present]
        if not before[:1].isspace():
            return ([Completion("rule", "keyword", "rule NAME: and its directives", "rule ")]
                    + [Completion(d, "directive", DIRECTIVE_DOCS[d], f"{d}: ") for d in TOP_DIRECTIVES])
    if re.search(r"""["']""", before) and before.count('"') % 2 + before.count("'") % 2:
        return []   # inside a string
    names = [Completion(st.name, "variable", source_text(result, st.value, 60), st.name)
             for st in result.statements if isinstance(st, s.Assignment) and st.pos.line < line]
    unique = list({c.label: c for c in names}.values())
    return unique + [Completion(b, "builtin", BUILTIN_DOCS[b], b) for b in sorted(BUILTIN_DOCS)]


def _field_completions(result: Analysis, rule_name: str, namespace: str | None) -> list[Completion]:
    """Inside `{` in a string of a rule: the fields of a command, or after `{wildcards.`,
    `{input.` ... the rule's wildcards or the names it gives its entries."""
    if namespace is None:
        return [Completion(name, "field", doc, name) for name, doc in FIELD_DOCS.items()]
    decl = rule_decl(result, rule_name)
    if decl is None:
        return []
    if namespace == "wildcards":
        names = dict.fromkeys(w for text, _ in rule_strings(decl, "output") for w in wildcards_of(text))
        return [Completion(w, "field", f"wildcard of rule {rule_name}", w) for w in names]
    named = [arg for d in decl.directives if d.name == namespace for arg in d.args
             if isinstance(arg, s.Keyword)]
    return [Completion(k.name, "field", source_text(result, k.value, 60), k.name) for k in named]


def _rule_names(result: Analysis) -> list[str]:
    names = [st.name for st in result.statements if isinstance(st, s.RuleDecl)]
    names += [m.group(1) for m in re.finditer(r"(?m)^rule\s+([A-Za-z_]\w*)", result.text)]
    if result.workflow is not None:
        names += [r.name for r in result.workflow.rules]
    return list(dict.fromkeys(names))


def _rule_around(result: Analysis, line: int) -> str | None:
    """The rule a line is indented under, read from the text (the rule may not parse now)."""
    for number in range(min(line, len(result.lines)) - 1, 0, -1):
        text = result.lines[number - 1]
        if text[:1] not in ("", " ", "\t", "#", "\r"):
            m = re.match(r"rule\s+([A-Za-z_]\w*)", text)
            return m.group(1) if m else None
    return None


def _directives_written(result: Analysis, line: int) -> set[str]:
    """The directives written in the rule around a line, but on other lines (read from the
    text: the rule may not parse while it is being typed)."""
    names = set()
    first = line
    while first > 1 and result.lines[first - 1][:1] in ("", " ", "\t", "#", "\r"):
        first -= 1
    number = first + 1
    while number <= len(result.lines) and result.lines[number - 1][:1] in ("", " ", "\t", "#", "\r"):
        m = re.match(r"[ \t]+([A-Za-z_]\w*)[ \t]*:", result.lines[number - 1])
        if m and number != line:
            names.add(m.group(1))
        number += 1
    return names


def _config(result: Analysis) -> dict:
    """The config: the loaded workflow's, else the config files the text names (read now)."""
    if result.workflow is not None:
        return dict(result.workflow.config)
    from fileflow.lang.rules import load_config_file

    merged: dict = {}
    for stmt in result.statements:
        if isinstance(stmt, s.Directive) and stmt.name == "configfile" and len(stmt.args) == 1:
            arg = stmt.args[0]
            if isinstance(arg, s.Const) and isinstance(arg.value, str):
                try:
                    merged.update(load_config_file(os.path.join(result.workdir, arg.value)))
                except FlowfileError:
                    pass
    return merged


def _config_keys(result: Analysis, path: str) -> list[Completion]:
    value: object = _config(result)
    for key in re.findall(r"""\.([A-Za-z_]\w*)|\[\s*["']([^"']*)["']\s*\]""", path):
        value = value.get(key[0] or key[1]) if isinstance(value, dict) else None
    if not isinstance(value, dict):
        return []
    return [Completion(str(k), "config", _short_value(v), str(k)) for k, v in value.items()]


def _short_value(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# ---------------------------------------------------------------- formatting

def format_document(text: str, path: str) -> str | None:
    """The text in `fileflow fmt`'s layout, or None when it does not parse."""
    from fileflow.lang.fmt import format_text

    try:
        return format_text(text, path)
    except FileflowError:
        return None
