"""`fileflow fmt`: a Flowfile's text in one canonical layout. Layer 1.

The layout is printed from the syntax tree (so it cannot change what the file means) with
the source text consulted only for what the tree does not keep: comments, which the
tokenizer lists with their offsets (tokenizer.comment_offsets), and the spelling of
string and number literals (quotes are normalised, escapes and triple-quoted text are kept
as written). Each comment is attached to the thing it was written next to: an own-line
comment to the statement, directive, argument or list item that follows it, an end-of-line
comment to the line it ends. `format_text` checks that the result parses to the same tree.
"""
from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass

from fileflow.errors import FileflowError
from fileflow.lang.directives import RULE_DIRECTIVE_ORDER
from fileflow.lang.nodes import (
    Assignment,
    Attribute,
    Binary,
    BoolOp,
    Call,
    Compare,
    CompFor,
    Conditional,
    Const,
    DictComp,
    DictExpr,
    Directive,
    FString,
    ImportFrom,
    Index,
    Keyword,
    ListComp,
    ListExpr,
    Module,
    ModuleDecl,
    Name,
    Not,
    RuleDecl,
    Slice,
    TupleExpr,
    Unary,
    UseRule,
)

__all__ = ["format_text", "format_module"]

WIDTH = 88
INDENT = "    "

# Precedence levels of the grammar, loosest first (`?test` ... `?atom`).
_TEST, _OR, _AND, _NOT, _COMPARE, _SUM, _TERM, _FACTOR, _POSTFIX = range(1, 10)
_BINARY_LEVEL = {"+": _SUM, "-": _SUM, "*": _TERM, "/": _TERM, "//": _TERM, "%": _TERM}
_LITERAL = re.compile(r"""[rR]?(?:\"\"\"(?s:.*?)(?<!\\)(?:\\\\)*?\"\"\"|'''(?s:.*?)(?<!\\)(?:\\\\)*?'''"""
                      r"""|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')|#[^\n]*""")
_CONCAT_MARK = "\x00"  # where a joined string's next literal starts a line (see _const)


@dataclass(frozen=True)
class _Comment:
    line: int
    column: int
    text: str


def _level(node) -> int:
    if isinstance(node, Conditional):
        return _TEST
    if isinstance(node, BoolOp):
        return _OR if node.op == "or" else _AND
    if isinstance(node, Not):
        return _NOT
    if isinstance(node, Compare):
        return _COMPARE
    if isinstance(node, Binary):
        return _BINARY_LEVEL[node.op]
    if isinstance(node, Unary):
        return _FACTOR
    return _POSTFIX + 1


def _start(node) -> tuple[int, int]:
    return node.pos.line, node.pos.column


def _use_rule_head(node: UseRule) -> str:
    """`use rule a, b from qc as qc_* with:`, the `with:` only when directives follow."""
    head = "use rule " + ", ".join(n.id for n in node.names)
    if node.module is not None:
        head += " from " + node.module.id
    if node.new_name is not None:
        head += " as " + node.new_name.id
    return head + (" with:" if node.directives else "")


def _end(node) -> tuple[int, int]:
    kind = type(node)
    if kind is ImportFrom:
        node = node.names[-1]
        kind = type(node)
    if kind is UseRule and not node.directives:
        node = node.new_name or node.module or node.names[-1]
        kind = type(node)
    while (kind is Keyword or kind is Directive or kind is RuleDecl or kind is Assignment
           or kind is UseRule or kind is ModuleDecl):
        if kind is Keyword or kind is Assignment:
            node = node.value
        elif kind is Directive:
            node = node.args[-1]  # in source order
        else:
            node = node.directives[-1]
        kind = type(node)
    pos = node.pos
    return pos.end_line, pos.end_column


def _normalise_quotes(literal: str) -> str:
    """'text' -> "text" unless the text holds a double quote; triple quotes kept."""
    prefix = literal[0] if literal[0] in "rR" else ""
    body = literal[len(prefix):]
    if body[:3] in ('"""', "'''") or body[0] == '"' or '"' in body[1:-1]:
        return literal
    return prefix + '"' + body[1:-1] + '"'


class _Formatter:
    def __init__(self, module: Module):
        from fileflow.lang.tokenizer import comment_offsets

        text = module.source
        self.text = text if text.endswith("\n") else text + "\n"
        self.lines = self.text.split("\n")
        self.line_starts = [0]
        for text_line in self.lines[:-1]:
            self.line_starts.append(self.line_starts[-1] + len(text_line) + 1)
        self.comments = []
        for offset, body in comment_offsets(self.text):
            line = bisect_right(self.line_starts, offset)
            self.comments.append(_Comment(line, offset - self.line_starts[line - 1] + 1, body.rstrip()))
        self.keys = [(c.line, c.column) for c in self.comments]
        self.used = [False] * len(self.comments)
        self.first_unused = 0  # every comment before this index is placed
        self.tail_line = 0  # the last line of the last rule's tail comments
        # No comment is left in the statement being formatted: every comment lookup is
        # empty (most statements of a large file), so none is made.
        self.quiet = False
        self.tree = module

    # -- comments

    def take(self, start: tuple[int, int], end: tuple[int, int]) -> list[_Comment]:
        """The comments not yet placed in [start, end), now placed."""
        out: list[_Comment] = []
        if self.quiet:
            return out
        used = self.used
        first = self.first_unused
        if first == len(used) or end <= self.keys[first]:
            return out
        if start > self.keys[first]:
            first = bisect_left(self.keys, start)
        for i in range(first, bisect_left(self.keys, end)):
            if not used[i]:
                used[i] = True
                out.append(self.comments[i])
        while self.first_unused < len(used) and used[self.first_unused]:
            self.first_unused += 1
        return out

    def has_comments(self, start: tuple[int, int], end: tuple[int, int]) -> bool:
        if self.quiet or self.first_unused == len(self.used):
            return False
        return any(not self.used[i] for i in range(bisect_left(self.keys, start),
                                                   bisect_left(self.keys, end)))

    def trailing(self, node) -> str:
        """The end-of-line comments after `node` on its last line, as a suffix."""
        if self.quiet:
            return ""
        line, column = _end(node)
        found = self.take((line, column), (line + 1, 0))
        return "".join("  " + c.text for c in found)

    def blank_between(self, line_a: int, line_b: int) -> bool:
        """Whether a blank line lies strictly between 1-based lines a and b."""
        return any(not self.lines[k].strip() for k in range(line_a, line_b - 1))

    def with_leftovers(self, lines: list[str], node, indent: str) -> list[str]:
        """Comments inside `node` that its layout had no place for go above it, so that no
        comment is ever lost."""
        if self.quiet:
            return lines
        left = self.take(_start(node), _end(node))
        return [indent + c.text for c in left] + lines

    # -- expressions on one line

    def literal_texts(self, node: Const) -> list[str]:
        pos = node.pos
        begin = self.line_starts[pos.line - 1] + pos.column - 1
        end = self.line_starts[pos.end_line - 1] + pos.end_column - 1
        if pos.line == pos.end_line:  # one literal: joined ones stand on separate lines
            return [self.text[begin:end]]
        return [m.group(0) for m in _LITERAL.finditer(self.text, begin, end)
                if m.group(0)[0] != "#"]

    def const(self, node: Const) -> str:
        value = node.value
        if value is True:
            return "true"
        if value is False:
            return "false"
        if value is None:
            return "none"
        if isinstance(value, str):
            literals = [_normalise_quotes(t) for t in self.literal_texts(node)]
            if len(literals) == 1:
                return literals[0]
            # Strings joined by sitting on separate lines: parenthesised, one per line.
            return "(" + ("\n" + _CONCAT_MARK).join(literals) + ")"
        pos = node.pos
        return self.lines[pos.line - 1][pos.column - 1:pos.end_column - 1]

    def flat(self, node, level: int = _TEST) -> str:
        """`node` on one line (but for triple-quoted text), parenthesised if its precedence
        is looser than `level` requires."""
        kind = type(node)
        if kind is Const:  # the leaves (most nodes), never parenthesised
            return self.const(node)
        if kind is Name:
            return node.id
        text = self.flat_bare(node)
        return "(" + text + ")" if _level(node) < level else text

    def flat_bare(self, node) -> str:
        flat = self.flat
        if isinstance(node, Const):
            return self.const(node)
        if isinstance(node, Name):
            return node.id
        if isinstance(node, Attribute):
            obj = flat(node.obj, _POSTFIX)
            if isinstance(node.obj, Const) and not obj.startswith(("(", '"', "'", "r", "R")):
                obj = "(" + obj + ")"  # `1 .real`, not `1.real`
            return obj + "." + node.attr
        if isinstance(node, Index):
            return flat(node.obj, _POSTFIX) + "[" + flat(node.key) + "]"
        if isinstance(node, Slice):
            bounds = [node.lower, node.upper] + ([node.step] if node.step is not None else [])
            return ":".join("" if bound is None else flat(bound) for bound in bounds)
        if isinstance(node, TupleExpr):
            items = [flat(i) for i in node.items]
            return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
        if isinstance(node, ListComp):
            return "[" + flat(node.element) + self.clauses(node.clauses) + "]"
        if isinstance(node, DictComp):
            return ("{" + flat(node.key) + ": " + flat(node.value) + self.clauses(node.clauses)
                    + "}")
        if isinstance(node, FString):  # one line, kept as written
            pos = node.pos
            return self.lines[pos.line - 1][pos.column - 1:pos.end_column - 1]
        if isinstance(node, Call):
            args = [flat(a) for a in node.args] + [k.name + "=" + flat(k.value) for k in node.kwargs]
            return flat(node.func, _POSTFIX) + "(" + ", ".join(args) + ")"
        if isinstance(node, Binary):
            level = _BINARY_LEVEL[node.op]
            return flat(node.left, level) + " " + node.op + " " + flat(node.right, level + 1)
        if isinstance(node, Unary):
            operand = flat(node.operand, _FACTOR)
            return node.op + (" " if operand[:1] in "+-" else "") + operand  # `- -x`
        if isinstance(node, Compare):
            parts = [flat(node.left, _SUM)]
            for op, right in zip(node.ops, node.rights):
                parts += [op, flat(right, _SUM)]
            return " ".join(parts)
        if isinstance(node, BoolOp):
            level = _AND if node.op == "or" else _NOT
            return (" " + node.op + " ").join(flat(v, level) for v in node.values)
        if isinstance(node, Not):
            return "not " + flat(node.operand, _NOT)
        if isinstance(node, Conditional):
            return (flat(node.then, _OR) + " if " + flat(node.cond, _OR) + " else "
                    + flat(node.otherwise, _TEST))
        if isinstance(node, ListExpr):
            return "[" + ", ".join(flat(i) for i in node.items) + "]"
        if isinstance(node, DictExpr):
            return "{" + ", ".join(flat(k) + ": " + flat(v) for k, v in node.pairs) + "}"
        raise TypeError(f"cannot format {type(node).__name__}")

    def clauses(self, clauses: tuple[CompFor, ...]) -> str:
        """A comprehension's `for ... in ... if ...` clauses: the iterable and conditions are
        or_tests (a conditional there is parenthesised)."""
        text = ""
        for clause in clauses:
            text += " for " + ", ".join(clause.targets) + " in " + self.flat(clause.iterable, _OR)
            text += "".join(" if " + self.flat(c, _OR) for c in clause.conditions)
        return text

    # -- expressions over lines

    def layout(self, node, indent: str, prefix: str, suffix: str = "",
               bracketed: bool = False) -> list[str]:
        """Lines for `prefix + node + suffix` at `indent`: one line when it fits and holds no
        comment, else the outermost brackets opened one item per line, with trailing commas.
        `bracketed`: the node is an item inside brackets, where newlines are not tokens."""
        if type(node) is Const and type(node.value) is str:
            literals = self.literal_texts(node)
            if len(literals) > 1:  # joined strings: one literal per line, each with its comments
                pos = node.pos
                begin = self.line_starts[pos.line - 1] + pos.column - 1
                end = self.line_starts[pos.end_line - 1] + pos.end_column - 1
                rows: list[tuple[str | None, str]] = []  # (literal or None for a comment line, text after it)
                for m in _LITERAL.finditer(self.text, begin, end):
                    if m.group(0)[0] == "#":
                        continue
                    if rows:  # comments on lines of their own between two literals
                        line = bisect_right(self.line_starts, m.start())
                        column = m.start() - self.line_starts[line - 1] + 1
                        rows += [(None, c.text) for c in self.take(_start(node), (line, column))]
                    line = bisect_right(self.line_starts, m.end() - 1)
                    column = m.end() - self.line_starts[line - 1] + 1
                    comments = self.take((line, column), (line + 1, 0))
                    rows.append((_normalise_quotes(m.group(0)),
                                 "".join("  " + c.text for c in comments)))
                inner = indent if bracketed else indent + INDENT
                lines = [] if bracketed else [indent + prefix + "("]
                for i, (literal, after) in enumerate(rows):
                    if literal is None:
                        lines.append(inner + after)
                        continue
                    head = prefix if bracketed and i == 0 else ""
                    end_mark = suffix if bracketed and i == len(rows) - 1 else ""
                    lines.append(inner + head + literal + end_mark + after)
                if not bracketed:
                    lines.append(indent + ")" + suffix)
                return self.with_leftovers(lines, node, indent)
        text = self.flat(node)
        first = text.split("\n", 1)[0]
        inside = (not self.quiet and self.has_comments(_start(node), _end(node))
                  or self.kept_open(node))
        fits = len(indent) + len(prefix) + len(first) + len(suffix) <= WIDTH and "\n" not in text
        if not inside and (fits or not _opens(node)):
            return self.one_line(indent + prefix + text + suffix, indent)
        if not _opens(node):
            return self.with_leftovers(self.one_line(indent + prefix + text + suffix, indent),
                                       node, indent)
        items: list[tuple[str | None, object]]  # (label, node), or (None, (key, value)) for a dict
        if isinstance(node, Call):
            opener = self.flat(node.func, _POSTFIX) + "("
            items = [("", a) for a in node.args] + [(k.name + "=", k) for k in node.kwargs]
            closer = ")"
        elif isinstance(node, ListExpr):
            opener, closer = "[", "]"
            items = [("", i) for i in node.items]
        else:
            opener, closer = "{", "}"
            items = [(None, pair) for pair in node.pairs]
        lines = [indent + prefix + opener]
        lines += self.items(items, indent + INDENT, (node.pos.end_line, node.pos.end_column - 1))
        lines.append(indent + closer + suffix)
        return self.with_leftovers(lines, node, indent)

    def kept_open(self, node) -> bool:
        """Whether the source has `node`'s brackets open over lines with a comma after the
        last item (as fmt writes them): then they stay open, as the author chose."""
        if not _opens(node) or node.pos.line == node.pos.end_line:
            return False
        if isinstance(node, Call):
            last = node.kwargs[-1] if node.kwargs else node.args[-1]
        elif isinstance(node, ListExpr):
            last = node.items[-1]
        else:
            last = node.pairs[-1][1]
        line, column = _end(last)
        begin = self.line_starts[line - 1] + column - 1
        end = self.line_starts[node.pos.end_line - 1] + node.pos.end_column - 2
        between = self.text[begin:end]
        return "," in "".join(part.split("#", 1)[0] for part in between.split("\n"))

    def items(self, items: list, indent: str, close: tuple[int, int]) -> list[str]:
        """One item per line, each with its comments; then the comments before `close`."""
        lines = []
        for label, item in items:
            if label is None:  # a dict entry
                key, value = item
                head = self.flat(key) + ": "
                lines += [indent + c.text for c in self.take((0, 0), _start(key))]
                body = self.layout(value, indent, head, ",", bracketed=True)
                node_end = value
            else:
                lines += [indent + c.text for c in self.take((0, 0), _start(item))]
                value = item.value if isinstance(item, Keyword) else item
                body = self.layout(value, indent, label, ",", bracketed=True)
                node_end = item
            lines += body
            lines[-1] += self.trailing(node_end)
        lines += [indent + c.text for c in self.take((0, 0), close)]
        return lines

    def one_line(self, text: str, indent: str) -> list[str]:
        if _CONCAT_MARK in text:
            text = text.replace(_CONCAT_MARK, indent + INDENT)
        return text.split("\n")

    # -- statements

    def directive(self, node: Directive, indent: str) -> list[str]:
        head = node.name + ":"
        inside = not self.quiet and self.has_comments(_start(node), _end(node))
        args = [(a.name + " = " if isinstance(a, Keyword) else "", a) for a in node.args]
        texts = [label + self.flat(a.value if isinstance(a, Keyword) else a) for label, a in args]
        line = indent + head + " " + ", ".join(texts)
        # Entries on the lines below the name stay there, one per line (the docs' block form).
        block = len(args) > 1 and _start(node.args[0])[0] > node.pos.line
        if not inside and not block and len(line.split("\n", 1)[0]) <= WIDTH and (
                "\n" not in line or len(args) == 1 and _CONCAT_MARK not in line):
            return self.one_line(line, indent)
        if len(args) == 1:
            label, arg = args[0]
            value = arg.value if isinstance(arg, Keyword) else arg
            joined = type(value) is Const and "\n" in self.flat(value) and _CONCAT_MARK in self.flat(value)
            if _opens(value) or not inside or joined:
                return self.layout(value, indent, head + " " + label)
        lines = [indent + head]
        for label, arg in args:
            lines += [indent + INDENT + c.text for c in self.take((0, 0), _start(arg))]
            value = arg.value if isinstance(arg, Keyword) else arg
            lines += self.layout(value, indent + INDENT, label, ",")
            lines[-1] += self.trailing(arg)
        return lines

    def rule(self, node: RuleDecl | UseRule | ModuleDecl, tail_end: tuple[int, int]) -> list[str]:
        """A rule, a `use rule ... with:` or a module: a header, then its directives."""
        if isinstance(node, RuleDecl):
            head = ("checkpoint " if node.checkpoint else "rule ") + node.name + ":"
        elif isinstance(node, ModuleDecl):
            head = "module " + node.name + ":"
        else:
            head = _use_rule_head(node)
        header = head + "".join(
            "  " + c.text for c in self.take(_start(node), (node.pos.line + 1, 0)))
        placed = []  # (order key, lines) in source order
        for d in node.directives:
            leading = [INDENT + c.text for c in self.take((0, 0), _start(d))]
            body = self.directive(d, INDENT)
            body[-1] += self.trailing(d)
            body = self.with_leftovers(body, d, INDENT)
            # unknown names go last, as written; a module's settings stay in their order
            known = d.name in RULE_DIRECTIVE_ORDER and not isinstance(node, ModuleDecl)
            key = (RULE_DIRECTIVE_ORDER.index(d.name) if known else len(RULE_DIRECTIVE_ORDER))
            placed.append((key, leading + body))
        placed.sort(key=lambda p: p[0])  # stable: unknown names keep their order
        lines = [header] + [line for _, block in placed for line in block]
        # Indented comments right after the last directive stay in the rule.
        end_line = _end(node)[0]
        for i in range(bisect_left(self.keys, (end_line + 1, 0)), bisect_left(self.keys, tail_end)):
            comment = self.comments[i]
            if self.used[i] or comment.column == 1:
                break
            self.used[i] = True
            self.tail_line = comment.line
            lines.append(INDENT + comment.text)
        return lines

    def statement(self, node, next_start: tuple[int, int]) -> list[str]:
        if isinstance(node, RuleDecl | ModuleDecl) or isinstance(node, UseRule) and node.directives:
            return self.rule(node, next_start)
        if isinstance(node, UseRule):
            lines = [_use_rule_head(node)]
        elif isinstance(node, Assignment):
            lines = self.layout(node.value, "", node.name + " = ")
        elif isinstance(node, ImportFrom):
            lines = self.layout(node.path, "", "from ")
            lines[-1] += " import " + ", ".join(name.id for name in node.names)
        else:
            lines = self.directive(node, "")
        lines[-1] += self.trailing(node)
        return self.with_leftovers(lines, node, "")

    def render(self) -> str:
        out: list[str] = []
        statements = self.tree.statements
        prev_line = 0
        prev_rule = False
        for i, node in enumerate(statements):
            start = (node.pos.line, 0)
            next_start = (statements[i + 1].pos.line, 0) if i + 1 < len(statements) else (10 ** 9, 0)
            is_rule = isinstance(node, RuleDecl | ModuleDecl) or (
                isinstance(node, UseRule) and bool(node.directives))
            prev_line = self.gap(out, self.take((0, 0), start), prev_line, node.pos.line,
                                 force_blank=is_rule or prev_rule)
            # every comment before the statement is placed now: any left in it?
            self.quiet = (self.first_unused == len(self.keys)
                          or self.keys[self.first_unused] >= next_start)
            out += self.statement(node, next_start)
            self.quiet = False
            prev_line = _end(node)[0]
            if is_rule:  # the rule's tail comments were placed with it
                prev_line = max(prev_line, self.tail_line)
            prev_rule = is_rule
        self.gap(out, self.take((0, 0), (10 ** 9, 0)), prev_line, 0, force_blank=prev_rule)
        while out and not out[-1]:
            out.pop()
        # No line is stripped: a line may be inside triple-quoted text, blanks and all.
        return "\n".join(out) + "\n" if out else ""

    def gap(self, out: list[str], comments: list[_Comment], prev_line: int, next_line: int,
            force_blank: bool) -> int:
        """Own-line comments between two statements, keeping (single) blank lines; a rule
        is always set apart by one. Returns the last source line used."""
        first = True
        for line, text in [(c.line, c.text) for c in comments] + [(next_line, None)]:
            if text is None and not next_line:
                break
            blank = prev_line and self.blank_between(prev_line, line)
            if first and force_blank:
                blank = True
            first = False
            if blank and out and out[-1]:
                out.append("")
            if text is not None:
                out.append(text)
                prev_line = line
        return prev_line


def _opens(node) -> bool:
    """Whether `node` has brackets that can be opened over several lines."""
    if isinstance(node, (ListExpr, DictExpr)):
        return bool(node.items if isinstance(node, ListExpr) else node.pairs)
    return isinstance(node, Call) and bool(node.args or node.kwargs)


def format_module(module: Module) -> str:
    """The canonical text of a parsed Flowfile (its `source` gives the comments)."""
    return _Formatter(module).render()


def format_text(text: str, path: str = "Flowfile", verify: bool = True) -> str:
    """`text` formatted; FlowfileError (with its position) if it does not parse. The result
    is checked to parse to the same tree, so a formatter bug can never change a file;
    `verify=False` skips that second parse where nothing is written (`--check`, `--diff`)."""
    from fileflow.lang.syntax import collector_paused, parse_flowfile
    from fileflow.lang.tree_meaning import comparable

    if text.startswith("\ufeff"):
        text = text[1:]
    # The collector is paused throughout, not only while parsing (as parse_flowfile does):
    # formatting and comparing allocate in a heap that holds the whole tree, and each of
    # the collector's passes would scan that tree again (80% of a comparison's time).
    with collector_paused():
        module = parse_flowfile(text, path)
        result = format_module(module)
        if result == text or not verify:  # the same text has the same tree
            return result
        again = parse_flowfile(result, path)
        same = comparable(again) == comparable(module)
    if not same:
        raise FileflowError(f"{path}: fmt would change the file's meaning (a fileflow bug; "
                            "the file is left as it is)")
    return result

