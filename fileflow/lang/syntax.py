"""Flowfile text -> syntax tree. Layer 1.

`parse_flowfile` takes the tree from the parse cache (syntax_cache.py) or from the fast
hand-written parser (syntax_fast.py); when that parser does not accept the text, the Lark
parser here, built from the packaged grammar (LALR, cached on disk by Lark) and the
specification of the language, parses it into the same frozen nodes (syntax_nodes.py) or
turns its error into a FlowfileError that says, in words, what was expected.
"""
from __future__ import annotations

import contextlib
import gc
from functools import lru_cache
from typing import Iterator

from fileflow.errors import FlowfileError, Position
from fileflow.lang.nodes import (  # noqa: F401  (re-exported: the tree's public names live here)
    Argument, Assignment, Attribute, BoolOp, Call, Compare, Conditional, Const, DictExpr,
    Directive, Expr, Index, Keyword, ListExpr, Module, Name, Node, Not, RuleDecl, Unary,
    Binary, BadLiteral, decode_string, decode_number, decode_with_offsets)

__all__ = [
    "Node", "Const", "Name", "Attribute", "Index", "Call", "Binary", "Unary", "Compare",
    "BoolOp", "Not", "Conditional", "ListExpr", "DictExpr", "Keyword", "Assignment",
    "Directive", "RuleDecl", "Module", "Expr", "Argument", "parse_flowfile", "parse_with_lark",
]


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
                return Const(pos_of(meta), decode_number(str(children[0])))
            except BadLiteral as exc:
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
                    parts.append(decode_string(str(tok)))
                except BadLiteral as exc:
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
    the time of a 5,000-rule parse. Nothing is collected while parsing. Afterwards what was
    made goes straight to the oldest generation (gc.freeze, then gc.unfreeze: both only
    move lists): else the collector's next passes would scan the whole new tree, all of it
    alive, several times over (0.27 s after a 5,000-rule parse). Skipped when something
    else keeps objects frozen (api.py does, after building the graph), not to thaw them."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if not gc.get_freeze_count():
                gc.freeze()
                gc.unfreeze()
            gc.enable()


def parse_flowfile(text: str, path: str = "Flowfile") -> Module:
    """Parse Flowfile text into a Module, or raise FlowfileError with a position.

    A large text parsed before comes from the parse cache (syntax_cache.py). Otherwise the
    hand-written parser of syntax_fast.py builds the tree when it can, and else (every syntax
    error among them) the Lark parser, the specification, builds it or words the error.
    """
    from fileflow.lang import parse_cache as syntax_cache
    from fileflow.lang.fast_parser import Fallback, parse_fast

    with collector_paused():
        module = syntax_cache.load(text, path)
        if module is not None:
            return module
        source = text if text.endswith("\n") else text + "\n"
        tokens: list = []  # what the cache keeps: the tokens of a fast parse
        try:
            module = parse_fast(text, source, path, tokens)
        except Fallback as stop:
            module = _parse_rest_with_lark(text, path, stop)
        syntax_cache.store(text, tokens)
    return module


def _parse_rest_with_lark(text: str, path: str, stop) -> Module:
    """Lark's parse of the text from the top-level statement where the fast parser stopped
    (the lines before it blanked, so positions stay), after the statements it parsed: an
    error near the end of a large Flowfile is reported in a fraction of a second, with the
    words and position a parse from the start gives."""
    if stop.line <= 1 or not stop.before:
        return parse_with_lark(text, path)
    start = 0
    for _ in range(stop.line - 1):
        start = text.find("\n", start) + 1
        if start == 0:  # fewer lines than the parser saw: parse it all
            return parse_with_lark(text, path)
    try:
        rest = parse_with_lark("\n" * (stop.line - 1) + text[start:], path)
    except FlowfileError as err:
        raise FlowfileError(err.message, err.pos, hint=err.hint, source=text) from None
    return Module(path, text, stop.before + rest.statements)


def parse_with_lark(text: str, path: str = "Flowfile") -> Module:
    """parse_flowfile with the Lark parser only."""
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
        from fileflow.lang.syntax_errors import describe
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
