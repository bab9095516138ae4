"""What `fileflow lsp` knows about a Flowfile being edited: its reading. Layer 2.

`analyze` reads the editor's unsaved text once: the statements that parse (a statement that
does not is skipped, so one bad line leaves the outline of the rest), the syntax errors, the
checked rule model when the text loads, and the lint findings when it loads cleanly. The
features (diagnostics, symbols, hover, definition, completion, formatting: a module each)
read that `Analysis` and return plain records with 1-based lines and columns (end
exclusive), which cli/lsp.py translates to the protocol. Nothing here knows about LSP or
pygls.
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from fileflow.editor.partial_parse import parse_statements
from fileflow.errors import FileflowError, FlowfileError, FlowfileErrors, Position
from fileflow.lang import syntax as s
from fileflow.lang.nodes import children

if TYPE_CHECKING:
    from fileflow.lang.model import Workflow

__all__ = ["Span", "Analysis", "analyze", "lint_findings", "including_flowfile", "workdir_of",
           "node_end", "span_of", "statement_at", "source_text", "include_argument"]


class Span(NamedTuple):
    """A stretch of text: 1-based line and column of its start, and of the character after it."""

    line: int
    column: int
    end_line: int
    end_column: int


@dataclass
class Analysis:
    """What `analyze` read in one Flowfile's text; every feature answers from it."""

    path: str
    text: str
    lines: list[str]
    statements: tuple                      # those that parse, in file order
    syntax_errors: list[FlowfileError]
    workdir: str
    workflow: Workflow | None = None       # when the text loads
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
    seen: set[str] = set()
    todo = [flowfile]
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
    from fileflow.lang.loader import load_workflow

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
        pos = e.pos
        return pos is not None and any(first <= pos.line < end for first, end in blank)

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


# ---------------------------------------------------------------- positions

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
    """The span of a node's position; one character when it has no end."""
    return Span(pos.line, pos.column, pos.end_line or pos.line,
                pos.end_column if pos.end_line else pos.column + 1)


def statement_at(result: Analysis, line: int):
    """The top-level statement that spans a line (statements are in line order, one per line)."""
    from bisect import bisect_right

    index = bisect_right([st.pos.line for st in result.statements], line) - 1
    if index >= 0 and line <= node_end(result.statements[index])[0]:
        return result.statements[index]
    return None


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


# Calls whose first argument names a file the Flowfile reads, relative to the working
# directory (as the loader reads them).
_READING_CALLS = frozenset({"table", "load"})


def include_argument(result: Analysis, path: str):
    """The argument of this file that names `path`: the path of an `include:`,
    `configfile:` or `configschema:`, of a module's `flowfile:`, of a `from "x.py" import`,
    or of a `table()` or `load()` call with a constant path; None if none does."""
    target = os.path.realpath(path)
    here = os.path.dirname(result.path)

    def names_target(arg, base: str) -> bool:
        return (isinstance(arg, s.Const) and isinstance(arg.value, str)
                and os.path.realpath(os.path.join(base, arg.value)) == target)

    for stmt in result.statements:
        if isinstance(stmt, s.Directive) and stmt.name in ("include", "configfile", "configschema") \
                and stmt.args:
            if names_target(stmt.args[0], here if stmt.name == "include" else result.workdir):
                return stmt.args[0]
        elif isinstance(stmt, s.ImportFrom):
            if names_target(stmt.path, here):
                return stmt.path
        elif isinstance(stmt, s.ModuleDecl):
            flowfile = next((d for d in stmt.directives if d.name == "flowfile" and d.args), None)
            if flowfile is not None and names_target(flowfile.args[0], here):
                return flowfile.args[0]
        else:
            found = _reading_call_argument(stmt, result.workdir, names_target)
            if found is not None:
                return found
    return None


def _reading_call_argument(stmt, workdir: str, names_target):
    """The constant path of a `table()`/`load()` call inside `stmt` that names the target."""
    work = [stmt]
    while work:
        node = work.pop()
        if (isinstance(node, s.Call) and isinstance(node.func, s.Name)
                and node.func.id in _READING_CALLS and node.args
                and names_target(node.args[0], workdir)):
            return node.args[0]
        work.extend(children(node))
    return None
