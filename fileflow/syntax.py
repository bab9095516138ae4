"""Flowfile text -> syntax tree. Layer 1.

Loads the packaged grammar once per process (LALR, cached on disk by Lark), turns the parse
tree into small frozen nodes that carry their source position, and turns every Lark error
into a FlowfileError that says, in words, what was expected.
"""
from __future__ import annotations

import ast
import contextlib
import gc
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterator, Union

from .errors import FlowfileError, Position

__all__ = [
    "Node", "Const", "Name", "Attribute", "Index", "Call", "Binary", "Unary", "Compare",
    "BoolOp", "Not", "Conditional", "ListExpr", "DictExpr", "Keyword", "Assignment",
    "Directive", "RuleDecl", "Module", "Expr", "Argument", "parse_flowfile",
]


# ---------------------------------------------------------------- syntax tree nodes

@dataclass(frozen=True, slots=True)
class Const:
    pos: Position
    value: object


@dataclass(frozen=True, slots=True)
class Name:
    pos: Position
    id: str


@dataclass(frozen=True, slots=True)
class Attribute:
    pos: Position
    obj: "Expr"
    attr: str


@dataclass(frozen=True, slots=True)
class Index:
    pos: Position
    obj: "Expr"
    key: "Expr"


@dataclass(frozen=True, slots=True)
class Keyword:
    pos: Position
    name: str
    value: "Expr"


@dataclass(frozen=True, slots=True)
class Call:
    pos: Position
    func: "Expr"
    args: tuple["Expr", ...]
    kwargs: tuple[Keyword, ...]


@dataclass(frozen=True, slots=True)
class Binary:
    pos: Position
    op: str
    left: "Expr"
    right: "Expr"


@dataclass(frozen=True, slots=True)
class Unary:
    pos: Position
    op: str
    operand: "Expr"


@dataclass(frozen=True, slots=True)
class Compare:
    pos: Position
    left: "Expr"
    ops: tuple[str, ...]
    rights: tuple["Expr", ...]


@dataclass(frozen=True, slots=True)
class BoolOp:
    pos: Position
    op: str  # "and" | "or"
    values: tuple["Expr", ...]


@dataclass(frozen=True, slots=True)
class Not:
    pos: Position
    operand: "Expr"


@dataclass(frozen=True, slots=True)
class Conditional:
    pos: Position
    cond: "Expr"
    then: "Expr"
    otherwise: "Expr"


@dataclass(frozen=True, slots=True)
class ListExpr:
    pos: Position
    items: tuple["Expr", ...]


@dataclass(frozen=True, slots=True)
class DictExpr:
    pos: Position
    pairs: tuple[tuple["Expr", "Expr"], ...]


Expr = Union[Const, Name, Attribute, Index, Call, Binary, Unary, Compare, BoolOp, Not,
             Conditional, ListExpr, DictExpr]
Argument = Union[Expr, Keyword]
Node = Union[Expr, Keyword, "Assignment", "Directive", "RuleDecl"]


@dataclass(frozen=True, slots=True)
class Assignment:
    pos: Position
    name: str
    value: Expr


@dataclass(frozen=True, slots=True)
class Directive:
    pos: Position        # of the directive's name
    name: str
    args: tuple[Argument, ...]


@dataclass(frozen=True, slots=True)
class RuleDecl:
    pos: Position        # of the rule's name
    name: str
    directives: tuple[Directive, ...]
    end_line: int


@dataclass(frozen=True, slots=True)
class Module:
    path: str
    source: str
    statements: tuple[Union[Assignment, Directive, RuleDecl], ...]


# ---------------------------------------------------------------- parser construction

class _IndentationError(Exception):
    def __init__(self, message: str, line: int, column: int):
        super().__init__(message)
        self.line, self.column = line, column


_OPEN = {"LPAR": "RPAR", "LSQB": "RSQB", "LBRACE": "RBRACE"}
_CLOSE = {v: k for k, v in _OPEN.items()}


def _make_postlex():
    from lark.indenter import Indenter
    from lark.lexer import Token

    class FlowIndenter(Indenter):
        """Indent/dedent tokens, with all state local to one `process` call (reentrant),
        tabs mixed with spaces refused, and bad dedents reported with their line."""

        NL_type = "_NL"
        OPEN_PAREN_types = list(_OPEN)
        CLOSE_PAREN_types = list(_CLOSE)
        INDENT_type = "_INDENT"
        DEDENT_type = "_DEDENT"
        tab_len = 8

        def process(self, stream):
            return self._indent(stream)

        def _indent(self, stream) -> Iterator:
            levels = [0]
            open_brackets: list = []
            indent_char = ""
            token = None
            for token in stream:
                if token.type == "_NL":
                    if open_brackets:
                        continue
                    yield token
                    indent_str = token.rsplit("\n", 1)[1] if "\n" in token else ""
                    line = token.end_line
                    if indent_str:
                        chars = set(indent_str)
                        if len(chars) > 1 or (indent_char and indent_char not in chars):
                            raise _IndentationError(
                                "inconsistent use of tabs and spaces in indentation "
                                "(indent with spaces only)", line, 1)
                        indent_char = indent_str[0]
                    indent = len(indent_str.expandtabs(self.tab_len))
                    if indent > levels[-1]:
                        levels.append(indent)
                        yield Token.new_borrow_pos("_INDENT", indent_str, token)
                    else:
                        while indent < levels[-1]:
                            levels.pop()
                            yield Token.new_borrow_pos("_DEDENT", indent_str, token)
                        if indent != levels[-1]:
                            raise _IndentationError(
                                "unindent does not match any outer indentation level",
                                line, indent + 1)
                    continue
                yield token
                if token.type in _OPEN:
                    open_brackets.append(token)
                elif token.type in _CLOSE and open_brackets:
                    open_brackets.pop()
            for _ in levels[1:]:
                yield Token.new_borrow_pos("_DEDENT", "", token) if token else Token("_DEDENT", "")

    return FlowIndenter()


@lru_cache(maxsize=1)
def _parser():
    from importlib.resources import files

    from lark import Lark

    grammar = files("fileflow.grammar").joinpath("fileflow.lark").read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", lexer="contextual", postlex=_make_postlex(),
                propagate_positions=True, maybe_placeholders=True, cache=True)


# ---------------------------------------------------------------- tree -> nodes

class _BadLiteral(ValueError):
    """A string or number literal that cannot be decoded; the caller adds the position."""


def _decode_string(text: str) -> str:
    """The value of a string literal: quotes removed, triple-quoted text dedented (as
    inspect.cleandoc does, but tabs kept), then escapes decoded (not in r-strings).
    Dedenting comes first so that an escaped "\\t" or "\\n" is never taken for indentation."""
    raw = text[0] in "rR"
    body = text[1:] if raw else text
    quote = 3 if body[:3] in ('"""', "'''") else 1
    inner = body[quote:-quote]
    if quote == 3 and "\n" in inner:
        inner = _dedent(inner)
    return inner if raw or "\\" not in inner else _unescape(inner)


def _dedent(text: str) -> str:
    lines = text.split("\n")
    margins = [len(line) - len(line.lstrip()) for line in lines[1:] if line.lstrip()]
    margin = min(margins) if margins else 0
    lines = [lines[0].lstrip()] + [line[margin:] for line in lines[1:]]
    while lines and not lines[-1].strip():
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    return "\n".join(lines)


# Python's escapes; malformed ones (a short \x4, an unknown \N{name}) are caught by literal_eval.
_ESCAPE = re.compile(r"\\(\r?\n|[\\'\"abfnrtv]|[0-7]{1,3}|x.{0,2}|N\{[^}\n]*\}?|u.{0,4}|U.{0,8})",
                     re.DOTALL)


def _unescape(text: str) -> str:
    def one(m: re.Match) -> str:
        escape = m.group(0)
        if escape[1] in "\r\n":  # a backslash at the end of a line joins the lines
            return ""
        try:
            return ast.literal_eval('"' + escape + '"')
        except (SyntaxError, ValueError) as exc:
            detail = str(exc.msg if isinstance(exc, SyntaxError) else exc).rsplit(": ", 1)[-1]
            raise _BadLiteral(f"bad escape sequence '{escape}' in string: {detail}"
                              " (write '\\\\' for a backslash, or use a raw string r\"...\")") from None

    return _ESCAPE.sub(one, text)


def decode_with_offsets(text: str) -> tuple[str, list[int]]:
    """Like _decode_string, and also, for each character of the value, the index in `text`
    (the literal as written) of the character it came from: error carets can then point
    inside a string even through dedenting and escapes. Used only on the error path."""
    raw = text[0] in "rR"
    begin = 1 if raw else 0
    quote = 3 if text[begin:begin + 3] in ('"""', "'''") else 1
    begin += quote
    inner = text[begin:len(text) - quote]
    chars = list(zip(inner, range(begin, begin + len(inner))))
    if quote == 3 and "\n" in inner:
        lines: list[list] = [[]]
        newlines = [-1]  # index of the newline before each line
        for c in chars:
            if c[0] == "\n":
                lines.append([])
                newlines.append(c[1])
            else:
                lines[-1].append(c)

        def text_of(line: list) -> str:
            return "".join(c for c, _ in line)

        margins = [len(text_of(x)) - len(text_of(x).lstrip()) for x in lines[1:] if text_of(x).lstrip()]
        margin = min(margins) if margins else 0
        first = text_of(lines[0])
        lines = [lines[0][len(first) - len(first.lstrip()):]] + [x[margin:] for x in lines[1:]]
        while lines and not text_of(lines[-1]).strip():
            lines.pop()
            newlines.pop()
        while lines and not lines[0]:
            lines.pop(0)
            newlines.pop(0)
        chars = []
        for i, line in enumerate(lines):
            if i:
                chars.append(("\n", newlines[i]))
            chars.extend(line)
    if raw or not any(c == "\\" for c, _ in chars):
        return "".join(c for c, _ in chars), [i for _, i in chars]
    value, offsets = [], []
    text_now = "".join(c for c, _ in chars)
    last = 0
    for m in _ESCAPE.finditer(text_now):
        for c, i in chars[last:m.start()]:
            value.append(c)
            offsets.append(i)
        decoded = _unescape(m.group(0))
        value.append(decoded)
        offsets.extend([chars[m.start()][1]] * len(decoded))
        last = m.end()
    for c, i in chars[last:]:
        value.append(c)
        offsets.append(i)
    return "".join(value), offsets


def _number(text: str) -> int | float:
    text = text.replace("_", "")
    if any(c in text for c in ".eE"):
        return float(text)
    try:
        return int(text)
    except ValueError:  # more digits than Python converts
        raise _BadLiteral(f"number too long ({len(text)} digits)") from None


def _build_transformer(path: str):
    from lark import Token, Transformer, v_args

    def pos_of(meta) -> Position:
        return Position(path, meta.line, meta.column, meta.end_line, meta.end_column)

    def tok_pos(tok: Token) -> Position:
        return Position(path, tok.line, tok.column, tok.end_line, tok.end_column)

    @v_args(meta=True)
    class ToNodes(Transformer):
        def start(self, meta, children):
            return tuple(children)

        def assignment(self, meta, children):
            name, value = children
            return Assignment(tok_pos(name), str(name), value)

        def rule(self, meta, children):
            _kw, name, *directives = children
            return RuleDecl(tok_pos(name), str(name), tuple(directives), meta.end_line)

        def directive(self, meta, children):
            name, *groups = children
            args = tuple(a for group in groups for a in group)
            return Directive(tok_pos(name), str(name), args)

        def arguments(self, meta, children):
            return tuple(c for c in children if c is not None)

        call_arguments = arguments

        def keyword_argument(self, meta, children):
            name, value = children
            return Keyword(tok_pos(name), str(name), value)

        def conditional(self, meta, children):
            then, _if, cond, _else, otherwise = children
            return Conditional(pos_of(meta), cond, then, otherwise)

        def or_(self, meta, children):
            return BoolOp(pos_of(meta), "or", tuple(children[::2]))

        def and_(self, meta, children):
            return BoolOp(pos_of(meta), "and", tuple(children[::2]))

        def not_(self, meta, children):
            return Not(pos_of(meta), children[1])

        def compare(self, meta, children):
            return Compare(pos_of(meta), children[0], tuple(children[1::2]), tuple(children[2::2]))

        def comp_op(self, meta, children):
            return " ".join(str(c) for c in children)

        def binary(self, meta, children):
            node = children[0]
            for op, right in zip(children[1::2], children[2::2]):
                node = Binary(Position(path, node.pos.line, node.pos.column,
                                       right.pos.end_line, right.pos.end_column), str(op), node, right)
            return node

        def unary(self, meta, children):
            return Unary(pos_of(meta), str(children[0]), children[1])

        def attribute(self, meta, children):
            return Attribute(pos_of(meta), children[0], str(children[1]))

        def index(self, meta, children):
            return Index(pos_of(meta), children[0], children[1])

        def call(self, meta, children):
            func, args = children
            args = args or ()
            positional = tuple(a for a in args if not isinstance(a, Keyword))
            keywords = tuple(a for a in args if isinstance(a, Keyword))
            for i, a in enumerate(args):
                if isinstance(a, Keyword) and i < len(args) - 1 and not isinstance(args[i + 1], Keyword):
                    raise FlowfileError("positional argument after a keyword argument",
                                        args[i + 1].pos)
            return Call(pos_of(meta), func, positional, keywords)

        def name(self, meta, children):
            return Name(pos_of(meta), str(children[0]))

        def number(self, meta, children):
            try:
                return Const(pos_of(meta), _number(str(children[0])))
            except _BadLiteral as exc:
                raise FlowfileError(str(exc), pos_of(meta)) from None

        def string(self, meta, children):
            return children[0]

        def strings(self, meta, tokens):
            parts = []
            for prev, tok in zip([None, *tokens], tokens):
                if prev is not None and tok.line == prev.end_line:
                    # `"a.txt" "b.txt"` on one line is almost always a forgotten comma.
                    raise FlowfileError(
                        "two strings side by side: a ',' is missing between them", tok_pos(tok),
                        "separate values with ','; to join strings use '+' "
                        "(strings on separate lines inside brackets are joined)")
                try:
                    parts.append(_decode_string(str(tok)))
                except _BadLiteral as exc:
                    raise FlowfileError(str(exc), tok_pos(tok)) from None
            return Const(pos_of(meta), "".join(parts))

        def true(self, meta, children):
            return Const(pos_of(meta), True)

        def false(self, meta, children):
            return Const(pos_of(meta), False)

        def none(self, meta, children):
            return Const(pos_of(meta), None)

        def list(self, meta, children):
            return ListExpr(pos_of(meta), tuple(c for c in children if c is not None))

        def dict(self, meta, children):
            return DictExpr(pos_of(meta), tuple(c for c in children if c is not None))

        def pair(self, meta, children):
            return (children[0], children[1])

    return ToNodes()


# ---------------------------------------------------------------- entry point

@contextlib.contextmanager
def collector_paused():
    """A parse allocates a tree node per token and frees almost nothing until the end, so
    the cyclic garbage collector rescans an ever larger heap for nothing: it took 45% of
    the time of a 5,000-rule parse. Nothing is collected while parsing."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def parse_flowfile(text: str, path: str = "Flowfile") -> Module:
    """Parse Flowfile text into a Module, or raise FlowfileError with a position."""
    from lark.exceptions import UnexpectedInput, VisitError

    source = text if text.endswith("\n") else text + "\n"
    try:
        with collector_paused():
            tree = _parser().parse(source)
            transformer = _build_transformer(path)
            statements = tuple(_transform_statement(transformer, child, path, text)
                               for child in tree.children)
    except _IndentationError as exc:
        raise FlowfileError(str(exc), Position(path, exc.line, exc.column), source=text) from None
    except UnexpectedInput as exc:
        from .syntax_errors import describe
        message, pos, hint = describe(exc, source, path)
        raise FlowfileError(message, pos, hint=hint, source=text) from None
    except VisitError as exc:
        if isinstance(exc.orig_exc, FlowfileError):
            err = exc.orig_exc
            raise FlowfileError(err.message, err.pos, hint=err.hint, source=text) from None
        raise
    return Module(path, text, statements)


def _transform_statement(transformer, tree, path: str, text: str):
    """One top-level statement -> node; an absurdly deep expression is an error, not a crash."""
    from lark.exceptions import VisitError

    try:
        return transformer.transform(tree)
    except RecursionError:
        pass
    except VisitError as exc:
        if not isinstance(exc.orig_exc, RecursionError):
            raise
    raise FlowfileError("expression nested too deeply",
                        Position(path, tree.meta.line, tree.meta.column), source=text)
