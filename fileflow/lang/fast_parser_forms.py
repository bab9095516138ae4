"""The fast parser's forms beyond operators and calls: tuples, slices, comprehension
clauses, f-strings and adjacent string literals, as methods that fast_parser.py's parser
inherits; and the `Fallback` it raises where Lark is to parse instead. Layer 1.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fileflow.errors import Position
from fileflow.lang.nodes import (
    BadLiteral,
    Const,
    FString,
    build_comp_for,
    build_const,
    build_formatted_value,
    build_fstring,
    build_name_at,
    build_slice,
    build_tuple,
    decode_string,
    split_fstring,
)
from fileflow.lang.tokenizer import TokenizerStop, tokenize

__all__ = ["ExpressionForms", "Fallback", "token_end", "CONSTANT_WORDS"]

# The words that are values, not names (Lark's constants).
CONSTANT_WORDS = {"true": True, "True": True, "false": False, "False": False,
                  "none": None, "None": None}
# The words that are not names in an f-string's field.
_WORDS = frozenset({*CONSTANT_WORDS, "not"})
# Words after which a comprehension's iterable or condition (an `or_test`) has ended.
_ENDS_OR_TEST = frozenset({"for", "if"})


class Fallback(Exception):
    """This text is not for the fast path: parse it with Lark (which also reports errors).

    When the text was tokenized and the parse stopped inside a top-level statement, `line`
    is the line that statement starts on and `before` the statements parsed before it:
    they are valid, so Lark need only parse from that line on."""

    line = 0
    before: tuple = ()


def token_end(tok: tuple) -> tuple[int, int]:
    kind, text, line, column = tok
    if kind == "S" and "\n" in text:
        return line + text.count("\n"), len(text) - text.rindex("\n")
    return line, column + len(text)


class ExpressionForms:
    """Tuples, slices, comprehension clauses and string literals, for the parser class of
    fast_parser.py (which provides the state and the expression levels declared here)."""

    toks: list[tuple]
    i: int
    path: str
    extent: dict[int, tuple[int, int, int, int]]
    position: Callable[..., Position]

    if TYPE_CHECKING:
        def __init__(self, tokens: list[tuple], path: str) -> None: ...
        def expect(self, kind: str) -> tuple: ...
        def start_of(self, node: Any) -> tuple[int, int]: ...
        def end_of(self, node: Any) -> tuple[int, int]: ...
        def tok_pos(self, tok: tuple) -> Position: ...
        def expr(self) -> Any: ...
        def or_test(self) -> Any: ...
        def quick(self, parse: Callable[[], Any], end_words: frozenset[str]) -> Any: ...

    def at_word(self, word: str) -> bool:
        tok = self.toks[self.i]
        return tok[0] == "N" and tok[1] == word

    def parenthesised(self, tok: tuple):
        """`(expr)`, or a tuple: `()`, `(a,)`, `(a, b)`."""
        toks = self.toks
        self.i += 1
        if toks[self.i][0] == ")":
            close = self.expect(")")
            return build_tuple(self.position(tok[2], tok[3], *token_end(close)), ())
        inner = self.expr()
        if toks[self.i][0] != ",":
            close = self.expect(")")
            self.extent[id(inner)] = (tok[2], tok[3], *token_end(close))
            return inner
        items = [inner]
        while toks[self.i][0] == ",":
            self.i += 1
            if toks[self.i][0] == ")":
                break
            items.append(self.expr())
        close = self.expect(")")
        return build_tuple(self.position(tok[2], tok[3], *token_end(close)), tuple(items))

    def slice(self, lower):
        """`[lower] ':' [upper] [':' [step]]` inside an index's brackets, at the first ':'."""
        toks = self.toks
        colon = self.expect(":")
        start = self.start_of(lower) if lower is not None else (colon[2], colon[3])
        end = token_end(colon)
        upper = step = None
        if toks[self.i][0] not in (":", "]"):
            upper = self.expr()
            end = self.end_of(upper)
        if toks[self.i][0] == ":":
            end = token_end(self.expect(":"))
            if toks[self.i][0] != "]":
                step = self.expr()
                end = self.end_of(step)
        return build_slice(self.position(*start, *end), lower, upper, step)

    def comp_fors(self) -> tuple:
        """(`for NAME ("," NAME)* in or_test (if or_test)*`)+"""
        toks = self.toks
        clauses = []
        while self.at_word("for"):
            first = toks[self.i]
            self.i += 1
            names = [self.expect("N")[1]]
            while toks[self.i][0] == ",":
                self.i += 1
                names.append(self.expect("N")[1])
            if not self.at_word("in"):
                raise Fallback
            self.i += 1
            iterable = self.quick(self.or_test, _ENDS_OR_TEST)
            conditions = []
            while self.at_word("if"):
                self.i += 1
                conditions.append(self.quick(self.or_test, _ENDS_OR_TEST))
            last = conditions[-1] if conditions else iterable
            clauses.append(build_comp_for(self.position(first[2], first[3], *self.end_of(last)),
                                   tuple(names), iterable, tuple(conditions)))
        return tuple(clauses)

    def fstring(self, tok: tuple) -> FString:
        """An f-string: its text split, each field's expression parsed on its own."""
        pos = self.tok_pos(tok)
        try:
            pieces = split_fstring(tok[1])
        except BadLiteral:
            raise Fallback from None
        parts: list = []
        for piece in pieces:
            if isinstance(piece, str):
                parts.append(build_const(pos, piece))
                continue
            column = tok[3] + piece.offset
            expr = piece.expr
            # `{name}`, the common field: an ASCII identifier (NAME), told in C, not by a regex
            if expr.isidentifier() and expr.isascii() and expr not in _WORDS:
                value = build_name_at(self.path, tok[2], column, tok[2], column + len(expr), expr)
                parts.append(build_formatted_value(
                    self.position(tok[2], tok[3] + piece.start, tok[2], tok[3] + piece.end),
                    value, piece.spec))
                continue
            value = self.field(expr, tok[2], column)
            parts.append(build_formatted_value(
                self.position(tok[2], tok[3] + piece.start, tok[2], tok[3] + piece.end),
                value, piece.spec))
        return build_fstring(pos, tuple(parts))

    def field(self, expr: str, line: int, column: int):
        """The expression of an f-string's field, which starts at (line, column): tokenized
        where it stands and parsed by this parser, its tokens in place of the text's for
        the while."""
        try:
            tokens = tokenize(expr + "\n", line, column)
        except TokenizerStop:
            raise Fallback from None
        for t in tokens:
            if len(t) != 4 or t[0] == "IN" or t[0] == "DE":  # `name = value`; lines
                raise Fallback
        toks, i = self.toks, self.i
        self.toks, self.i = tokens, 0
        try:
            value = self.expr()
            self.expect("NL")
            self.expect("END")
        finally:
            self.toks, self.i = toks, i
        return value

    def strings(self, run: list[tuple]) -> Const:
        """`string+`: adjacent literals on separate lines are joined (on one line, a comma is
        missing: Lark's path reports it)."""
        parts = []
        prev_end_line = 0
        for tok in run:
            if tok[2] == prev_end_line:
                raise Fallback
            try:
                parts.append(decode_string(tok[1]))
            except BadLiteral:
                raise Fallback from None
            prev_end_line = token_end(tok)[0]
        end_line, end_column = token_end(run[-1])
        first = run[0]
        return build_const(self.position(first[2], first[3], end_line, end_column),
                     parts[0] if len(parts) == 1 else "".join(parts))
