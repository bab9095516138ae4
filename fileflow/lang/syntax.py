"""Flowfile text -> syntax tree. Layer 1.

`parse_flowfile` takes the tree from the parse cache (parse_cache.py) or from the fast
hand-written parser (fast_parser.py); when that parser does not accept the text, the Lark
parser (lark_parser.py), built from the packaged grammar (LALR, cached on disk by Lark) and
the specification of the language, parses it into the same frozen nodes (nodes.py) or
turns its error into a FlowfileError that says, in words, what was expected
(syntax_errors.py).
"""
from __future__ import annotations

import contextlib
import gc

from fileflow.errors import FlowfileError, Position
from fileflow.lang.nodes import (  # noqa: F401  (re-exported: the tree's public names live here)
    Argument,
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
    Expr,
    FormattedValue,
    FString,
    ImportFrom,
    Index,
    Keyword,
    ListComp,
    ListExpr,
    Module,
    ModuleDecl,
    Name,
    Node,
    Not,
    RuleDecl,
    Slice,
    Statement,
    TupleExpr,
    Unary,
    UseRule,
    decode_with_offsets,
)

__all__ = [
    "Node", "Const", "Name", "Attribute", "Index", "Call", "Binary", "Unary", "Compare",
    "BoolOp", "Not", "Conditional", "ListExpr", "DictExpr", "TupleExpr", "Slice", "CompFor",
    "ListComp", "DictComp", "FString", "FormattedValue", "Keyword", "Assignment",
    "Directive", "RuleDecl", "UseRule", "ModuleDecl", "ImportFrom", "Statement", "Module", "Expr", "Argument",
    "parse_flowfile", "parse_with_lark",
]


# ---------------------------------------------------------------- entry point

@contextlib.contextmanager
def collector_paused():
    """A parse allocates a tree node per token and frees almost nothing until the end, so
    the cyclic garbage collector rescans an ever larger heap for nothing: it took 45% of
    the time of a 5,000-rule parse. Nothing is collected while parsing. Afterwards what was
    made goes straight to the oldest generation (gc.freeze, then gc.unfreeze: both only
    move lists): else the collector's next passes would scan the whole new tree, all of it
    alive, several times over (0.27 s after a 5,000-rule parse). Skipped when something
    else keeps objects frozen (cli/build.py does, after building the graph), not to thaw them."""
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

    A large text parsed before comes from the parse cache (parse_cache.py). Otherwise the
    hand-written parser of fast_parser.py builds the tree when it can, and else (every syntax
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

    from fileflow.lang.lark_parser import BadIndentation, TreeToNodes, lark_parser

    source = text if text.endswith("\n") else text + "\n"
    try:
        with collector_paused():
            tree = lark_parser().parse(source)
            transformer = TreeToNodes(path)
            statements = tuple(_transform_statement(transformer, child, path, text)
                               for child in tree.children)
    except BadIndentation as exc:
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
