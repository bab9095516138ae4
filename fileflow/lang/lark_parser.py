"""The Lark parser, the specification of the language: the grammar, built once per process;
the indentation post-lexer; Lark's tree turned into the syntax nodes. Layer 1.

Imported (and Lark with it) only when it is needed: by syntax.py when the fast parser does
not accept a text, and by syntax_errors.py to look at the tokens before an error. A valid
Flowfile is parsed without Lark.
"""
from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from importlib.resources import files
from typing import Protocol, cast

from lark import Lark, Token, Transformer, Tree, v_args
from lark.indenter import Indenter

from fileflow.errors import FlowfileError, Position
from fileflow.lang.nodes import (
    Assignment,
    Attribute,
    BadLiteral,
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
    FormattedValue,
    FString,
    ImportFrom,
    Index,
    Keyword,
    ListComp,
    ListExpr,
    ModuleDecl,
    Name,
    Not,
    RuleDecl,
    Slice,
    TupleExpr,
    Unary,
    UseRule,
    decode_number,
    decode_string,
    split_fstring,
)

__all__ = ["BadIndentation", "FlowIndenter", "LexedToken", "lark_parser", "TreeToNodes"]


class BadIndentation(Exception):
    """A line indented wrongly: Lark's own DedentError has no position."""

    def __init__(self, message: str, line: int, column: int):
        super().__init__(message)
        self.line, self.column = line, column


_OPEN = {"LPAR": "RPAR", "LSQB": "RSQB", "LBRACE": "RBRACE"}
_CLOSE = {v: k for k, v in _OPEN.items()}


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
                        raise BadIndentation(
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
                        raise BadIndentation(
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


class LexedToken(Protocol):
    """A token from Lark's lexer, whose position is always set (Token types it Optional, for
    tokens made by hand)."""

    type: str
    line: int
    column: int
    end_line: int
    end_column: int


@lru_cache(maxsize=1)
def lark_parser() -> Lark:
    """The parser of grammar/fileflow.lark, built once per process."""
    grammar = files("fileflow.grammar").joinpath("fileflow.lark").read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", lexer="contextual", postlex=FlowIndenter(),
                propagate_positions=True, maybe_placeholders=True, cache=True)


# ---------------------------------------------------------------- tree -> nodes

@v_args(meta=True)
class TreeToNodes(Transformer):
    """Lark's tree of one Flowfile -> the syntax nodes: a method per grammar rule, given the
    rule's position (meta) and its children, already transformed."""

    def __init__(self, path: str, line: int = 1, column: int = 1):
        super().__init__()
        self.path = path
        # Where the text starts in its file: an f-string's field is parsed on its own.
        self.lines, self.columns = line - 1, column - 1

    def _pos_of(self, meta) -> Position:
        return self._shifted(meta.line, meta.column, meta.end_line, meta.end_column)

    def _tok_pos(self, tok: LexedToken) -> Position:
        return self._shifted(tok.line, tok.column, tok.end_line, tok.end_column)

    def _shifted(self, line: int, column: int, end_line: int, end_column: int) -> Position:
        if self.lines or self.columns:
            column += self.columns if line == 1 else 0
            end_column += self.columns if end_line == 1 else 0
            line, end_line = line + self.lines, end_line + self.lines
        return Position(self.path, line, column, end_line, end_column)

    def start(self, meta, children):
        return tuple(children)

    def assignment(self, meta, children):
        name, value = children
        return Assignment(self._tok_pos(name), str(name), value)

    def rule(self, meta, children):
        keyword, name, *directives = children
        return RuleDecl(self._tok_pos(name), str(name), tuple(directives), meta.end_line,
                        str(keyword) == "checkpoint")

    def use_rule(self, meta, children):
        use, _rule, names, _from, module, as_word, new, star, *rest = children
        self._word(use, "use", "a statement starts with a name and ':' or '=', or with 'rule'")
        new_name = None
        if as_word is not None:
            self._word(as_word, "as", "after the rules used: 'as NEW' or 'with:'")
            if star is not None and str(star) != "*":
                raise FlowfileError(f"unexpected '{star}' after the new name", self._tok_pos(star))
            pos = self._tok_pos(new)
            if star is not None:
                end = self._tok_pos(star)
                pos = Position(pos.path, pos.line, pos.column, end.end_line, end.end_column)
            new_name = Name(pos, str(new) + ("*" if star is not None else ""))
        directives: tuple = ()
        last = star or new or module
        end_line = last.end_line if last is not None else names[-1].pos.end_line
        if rest:
            self._word(rest[0], "with", "after the rules used: 'as NEW' or 'with:'")
            directives, end_line = tuple(rest[1:]), meta.end_line
        return UseRule(self._tok_pos(use), names,
                       Name(self._tok_pos(module), str(module)) if module is not None else None,
                       new_name, directives, end_line)

    def use_names(self, meta, children):
        if len(children) == 1 and children[0].type == "TERM_OP" and str(children[0]) != "*":
            raise FlowfileError(f"unexpected '{children[0]}' after 'use rule'",
                                self._tok_pos(children[0]), "name the rules, or '*' for all")
        return tuple(Name(self._tok_pos(c), str(c)) for c in children)

    def module(self, meta, children):
        _module, name, *directives = children
        return ModuleDecl(self._tok_pos(name), str(name), tuple(directives), meta.end_line)

    def _word(self, tok, word: str, hint: str) -> None:
        if str(tok) != word:
            raise FlowfileError(f"unexpected '{tok}': expected '{word}'", self._tok_pos(tok), hint)

    def import_from(self, meta, children):
        keyword, path, _import, *names = children
        try:
            value = decode_string(str(path))
        except BadLiteral as exc:
            raise FlowfileError(str(exc), self._tok_pos(path)) from None
        return ImportFrom(self._tok_pos(keyword), Const(self._tok_pos(path), value),
                          tuple(Name(self._tok_pos(n), str(n)) for n in names if n is not None))

    def directive(self, meta, children):
        name, *groups = children
        args = tuple(a for group in groups for a in group)
        return Directive(self._tok_pos(name), str(name), args)

    def arguments(self, meta, children):
        return tuple(c for c in children if c is not None)

    call_arguments = arguments

    def keyword_argument(self, meta, children):
        name, value = children
        return Keyword(self._tok_pos(name), str(name), value)

    def conditional(self, meta, children):
        then, _if, cond, _else, otherwise = children
        return Conditional(self._pos_of(meta), cond, then, otherwise)

    def or_(self, meta, children):
        return BoolOp(self._pos_of(meta), "or", tuple(children[::2]))

    def and_(self, meta, children):
        return BoolOp(self._pos_of(meta), "and", tuple(children[::2]))

    def not_(self, meta, children):
        return Not(self._pos_of(meta), children[1])

    def compare(self, meta, children):
        return Compare(self._pos_of(meta), children[0], tuple(children[1::2]), tuple(children[2::2]))

    def comp_op(self, meta, children):
        return " ".join(str(c) for c in children)

    def binary(self, meta, children):
        node = children[0]
        for op, right in zip(children[1::2], children[2::2]):
            node = Binary(Position(self.path, node.pos.line, node.pos.column,
                                   right.pos.end_line, right.pos.end_column), str(op), node, right)
        return node

    def unary(self, meta, children):
        return Unary(self._pos_of(meta), str(children[0]), children[1])

    def attribute(self, meta, children):
        return Attribute(self._pos_of(meta), children[0], str(children[1]))

    def index(self, meta, children):
        return Index(self._pos_of(meta), children[0], children[1])

    def call(self, meta, children):
        func, args = children
        args = args or ()
        positional = tuple(a for a in args if not isinstance(a, Keyword))
        keywords = tuple(a for a in args if isinstance(a, Keyword))
        for i, a in enumerate(args):
            if isinstance(a, Keyword) and i < len(args) - 1 and not isinstance(args[i + 1], Keyword):
                raise FlowfileError("positional argument after a keyword argument",
                                    args[i + 1].pos)
        return Call(self._pos_of(meta), func, positional, keywords)

    def name(self, meta, children):
        return Name(self._pos_of(meta), str(children[0]))

    def number(self, meta, children):
        try:
            return Const(self._pos_of(meta), decode_number(str(children[0])))
        except BadLiteral as exc:
            raise FlowfileError(str(exc), self._pos_of(meta)) from None

    def string(self, meta, children):
        return children[0]

    def strings(self, meta, tokens):
        parts = []
        for prev, tok in zip([None, *tokens], tokens):
            if prev is not None and tok.line == prev.end_line:
                # `"a.txt" "b.txt"` on one line is almost always a forgotten comma.
                raise FlowfileError(
                    "two strings side by side: a ',' is missing between them", self._tok_pos(tok),
                    "separate values with ','; to join strings use '+' "
                    "(strings on separate lines inside brackets are joined)")
            try:
                parts.append(decode_string(str(tok)))
            except BadLiteral as exc:
                raise FlowfileError(str(exc), self._tok_pos(tok)) from None
        return Const(self._pos_of(meta), "".join(parts))

    def true(self, meta, children):
        return Const(self._pos_of(meta), True)

    def false(self, meta, children):
        return Const(self._pos_of(meta), False)

    def none(self, meta, children):
        return Const(self._pos_of(meta), None)

    def list(self, meta, children):
        return ListExpr(self._pos_of(meta), tuple(c for c in children if c is not None))

    def dict(self, meta, children):
        return DictExpr(self._pos_of(meta), tuple(c for c in children if c is not None))

    def pair(self, meta, children):
        return (children[0], children[1])

    def tuple(self, meta, children):
        return TupleExpr(self._pos_of(meta), tuple(c for c in children if c is not None))

    def slice(self, meta, children):
        lower, upper, step = children
        return Slice(self._pos_of(meta), lower, upper, step)

    def list_comp(self, meta, children):
        return ListComp(self._pos_of(meta), children[0], tuple(children[1:]))

    def dict_comp(self, meta, children):
        key, value = children[0]
        return DictComp(self._pos_of(meta), key, value, tuple(children[1:]))

    def comp_for(self, meta, children):
        names = []
        rest = iter(children[1:])
        for tok in rest:
            if tok.type == "IN":
                break
            names.append(str(tok))
        iterable, *conditions = [c for c in rest if not isinstance(c, Token)]
        return CompFor(self._pos_of(meta), tuple(names), iterable, tuple(conditions))

    def fstring(self, meta, children):
        tok = children[0]
        pos = self._tok_pos(tok)
        text = str(tok)
        try:
            pieces = split_fstring(text)
        except BadLiteral as exc:
            column = pos.column + exc.offset
            raise FlowfileError(str(exc), Position(self.path, pos.line, column, pos.line,
                                                   column + 1)) from None
        parts: list = []
        for piece in pieces:
            if isinstance(piece, str):
                parts.append(Const(pos, piece))
                continue
            value = parse_field(piece.expr, self.path, pos.line, pos.column + piece.offset)
            parts.append(FormattedValue(
                Position(self.path, pos.line, pos.column + piece.start, pos.line,
                         pos.column + piece.end), value, piece.spec))
        return FString(pos, tuple(parts))


def parse_field(text: str, path: str, line: int, column: int):
    """The expression of an f-string's field, at its place in the file."""
    from lark.exceptions import UnexpectedInput

    # Read as the value of an assignment `_=EXPR` (two characters before the field's text):
    # one start symbol keeps the parser's tables as small as they were.
    try:
        tree = lark_parser().parse("_=" + text + "\n")
    except UnexpectedInput as exc:
        if getattr(getattr(exc, "token", None), "type", "") in ("$END", "_NL"):
            end = column + len(text.rstrip())
            raise FlowfileError(f"in an f-string's braces: the expression '{text.strip()}' is "
                                "incomplete", Position(path, line, end, line, end + 1)) from None
        at = column + max(1, exc.column - 2) - 1
        raise FlowfileError(f"in an f-string's braces: '{text.strip()}' is not an expression",
                            Position(path, line, at, line, at + 1)) from None
    except BadIndentation as exc:
        raise FlowfileError(str(exc), Position(path, line, column, line, column + 1)) from None
    (assignment,) = tree.children
    value = cast("Tree", assignment).children[1]
    return TreeToNodes(path, line, column - 2).transform(cast("Tree", value))
