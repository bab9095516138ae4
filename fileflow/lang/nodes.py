"""The syntax tree's node classes and the decoding of literals. Layer 1.

Shared by the two parsers (lark_parser.py's, the specification, and fast_parser.py's
hand-written one), so that both build the same nodes.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Union

from fileflow.errors import Position
from fileflow.slots import slot_builder

__all__ = [
    "Node", "Const", "Name", "Attribute", "Index", "Call", "Binary", "Unary", "Compare",
    "BoolOp", "Not", "Conditional", "ListExpr", "DictExpr", "TupleExpr", "Slice", "CompFor",
    "ListComp", "DictComp", "FString", "FormattedValue", "Keyword", "Assignment",
    "Directive", "RuleDecl", "ImportFrom", "UseRule", "ModuleDecl", "Module", "Statement", "Expr",
    "Argument", "children",
    "BadLiteral", "decode_string", "decode_number", "decode_with_offsets", "split_fstring",
    "FStringField",
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
    obj: Expr
    attr: str


@dataclass(frozen=True, slots=True)
class Index:
    pos: Position
    obj: Expr
    key: Expr


@dataclass(frozen=True, slots=True)
class Keyword:
    pos: Position
    name: str
    value: Expr


@dataclass(frozen=True, slots=True)
class Call:
    pos: Position
    func: Expr
    args: tuple[Expr, ...]
    kwargs: tuple[Keyword, ...]


@dataclass(frozen=True, slots=True)
class Binary:
    pos: Position
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Unary:
    pos: Position
    op: str
    operand: Expr


@dataclass(frozen=True, slots=True)
class Compare:
    pos: Position
    left: Expr
    ops: tuple[str, ...]
    rights: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class BoolOp:
    pos: Position
    op: str  # "and" | "or"
    values: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Not:
    pos: Position
    operand: Expr


@dataclass(frozen=True, slots=True)
class Conditional:
    pos: Position
    cond: Expr
    then: Expr
    otherwise: Expr


@dataclass(frozen=True, slots=True)
class ListExpr:
    pos: Position
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class DictExpr:
    pos: Position
    pairs: tuple[tuple[Expr, Expr], ...]


@dataclass(frozen=True, slots=True)
class TupleExpr:
    pos: Position
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Slice:
    """The key of `x[lower:upper:step]` (an Index's key); absent parts are None."""

    pos: Position
    lower: Expr | None
    upper: Expr | None
    step: Expr | None


@dataclass(frozen=True, slots=True)
class CompFor:
    """`for a, b in iterable if cond if cond` in a comprehension."""

    pos: Position
    targets: tuple[str, ...]
    iterable: Expr
    conditions: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class ListComp:
    pos: Position
    element: Expr
    clauses: tuple[CompFor, ...]


@dataclass(frozen=True, slots=True)
class DictComp:
    pos: Position
    key: Expr
    value: Expr
    clauses: tuple[CompFor, ...]


@dataclass(frozen=True, slots=True)
class FormattedValue:
    """`{expr}` or `{expr:spec}` inside an f-string; pos spans the braces."""

    pos: Position
    value: Expr
    spec: str


@dataclass(frozen=True, slots=True)
class FString:
    """`f"text {expr} {{literal braces}}"`: text parts (Const) and fields, in order."""

    pos: Position
    parts: tuple[Const | FormattedValue, ...]


Expr = (Const | Name | Attribute | Index | Call | Binary | Unary | Compare | BoolOp | Not
        | Conditional | ListExpr | DictExpr | TupleExpr | Slice | ListComp | DictComp | FString)
Argument = Expr | Keyword
Node = Union[Expr, Keyword, "Assignment", "Directive", "RuleDecl", "ImportFrom", "UseRule", "ModuleDecl"]  # noqa: UP007 (names defined below)


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
    checkpoint: bool = False  # written `checkpoint NAME:`


@dataclass(frozen=True, slots=True)
class ImportFrom:
    """`from "workflow/common.py" import get_fastq, sample_groups`."""

    pos: Position        # of the word 'from'
    path: Const          # the Python file, relative to the Flowfile
    names: tuple[Name, ...]


@dataclass(frozen=True, slots=True)
class UseRule:
    """`use rule NAME as NEW with:` and its directives; `use rule * from MODULE as PREFIX_*`;
    `use rule a, b from MODULE`."""

    pos: Position                    # of the word 'use'
    names: tuple[Name, ...]          # the rules used; a lone Name '*' for all of a module's
    module: Name | None              # `from MODULE`
    new_name: Name | None            # `as NEW` (or `as PREFIX_*`, the '*' in its id)
    directives: tuple[Directive, ...]  # `with:`'s, replacing the rule's own
    end_line: int


@dataclass(frozen=True, slots=True)
class ModuleDecl:
    """`module NAME:` and its settings: another Flowfile whose rules `use rule` takes."""

    pos: Position        # of the module's name
    name: str
    directives: tuple[Directive, ...]
    end_line: int


Statement = Assignment | Directive | RuleDecl | ImportFrom | UseRule | ModuleDecl


@dataclass(frozen=True, slots=True)
class Module:
    path: str
    source: str
    statements: tuple[Statement, ...]


# ---------------------------------------------------------------- literals

def children(node) -> tuple:
    """The nodes directly below `node`, in source order: a rule's directives, a directive's
    arguments, an expression's operands (a call's keyword arguments as Keyword nodes)."""
    kind = type(node)
    # the most common kinds first: leaves (most nodes) and what the rule builder walks
    if kind is Const or kind is Name:
        return ()
    if kind is Directive:
        return node.args
    if kind is Keyword or kind is Assignment or kind is FormattedValue:
        return (node.value,)
    if kind is Call:
        return (node.func, *node.args, *node.kwargs)
    if kind is Attribute:
        return (node.obj,)
    if kind is FString:
        return node.parts
    if kind is RuleDecl or kind is ModuleDecl:
        return node.directives
    if kind is Index:
        return (node.obj, node.key)
    if kind is Binary:
        return (node.left, node.right)
    if kind is ListExpr or kind is TupleExpr:
        return node.items
    if kind is ListComp:
        return (node.element, *node.clauses)
    if kind is CompFor:
        return (node.iterable, *node.conditions)
    if kind is DictExpr:
        return tuple(x for pair in node.pairs for x in pair)
    if kind is DictComp:
        return (node.key, node.value, *node.clauses)
    if kind is Unary or kind is Not:
        return (node.operand,)
    if kind is Compare:
        return (node.left, *node.rights)
    if kind is BoolOp:
        return node.values
    if kind is Conditional:
        return (node.cond, node.then, node.otherwise)
    if kind is Slice:
        return tuple(x for x in (node.lower, node.upper, node.step) if x is not None)
    if kind is UseRule:
        return (*node.names, *((node.module,) if node.module else ()),
                *((node.new_name,) if node.new_name else ()), *node.directives)
    if kind is ImportFrom:
        return (node.path, *node.names)
    return ()


class BadLiteral(ValueError):
    """A string or number literal that cannot be decoded; the caller adds the position.
    `offset`: where in the literal as written, when known."""

    def __init__(self, message: str, offset: int = 0):
        super().__init__(message)
        self.offset = offset


def decode_string(text: str) -> str:
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
            raise BadLiteral(f"bad escape sequence '{escape}' in string: {detail}"
                             " (write '\\\\' for a backslash, or use a raw string r\"...\")") from None

    return _ESCAPE.sub(one, text)


def decode_with_offsets(text: str) -> tuple[str, list[int]]:
    """Like decode_string, and also, for each character of the value, the index in `text`
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
        for char in chars:
            if char[0] == "\n":
                lines.append([])
                newlines.append(char[1])
            else:
                lines[-1].append(char)

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


@dataclass(frozen=True, slots=True)
class FStringField:
    """A `{...}` of an f-string as split_fstring finds it: the expression's text, its offset
    in the literal as written, the format spec, and the offsets of the braces."""

    expr: str
    offset: int
    spec: str
    start: int
    end: int


_FSTRING_PLAIN = re.compile(r"[^{}\\]+")
# A field with no string, format spec, '!', '#' or backslash in it, and brackets at most one
# deep (`{name}`, `{config.ref}`, `{f(a, b)}`, `{d[k]}`): read in one match, as _fstring_field
# would read it character by character.
_FIELD_CHARS = r"[^{}()\[\]\"'!:\\#]"
_FSTRING_SIMPLE_FIELD = re.compile(
    r"\{((?:C|\(C*+\)|\[C*+\])++)\}".replace("C", _FIELD_CHARS))


def split_fstring(text: str) -> list[str | FStringField]:
    """The parts of an f-string literal as written (`f"..."`, `rf'...'`): decoded text and
    fields, in order. `{{` and `}}` are literal braces. BadLiteral(message, offset) for a
    brace left open or alone, an empty field, or a bad escape."""
    prefix = 0
    while text[prefix] not in "\"'":
        prefix += 1
    raw = "r" in text[:prefix].lower()
    quote = text[prefix]
    body_start, body_end = prefix + 1, len(text) - 1
    body = text[body_start:body_end]
    unpaired = body.replace("{{", "\x00").replace("}}", "\x00")  # pairs as the scan pairs them
    if "{" not in unpaired and "}" not in unpaired and "\\" not in body:  # no field, nothing to decode
        body = body.replace("{{", "{").replace("}}", "}")
        return [body] if body else []
    parts: list[str | FStringField] = []
    literal: list[str] = []
    i = body_start

    def flush() -> None:
        if literal:
            chunk = "".join(literal)
            parts.append(chunk if raw or "\\" not in chunk else decode_string(quote + chunk + quote))
            literal.clear()

    while i < body_end:
        c = text[i]
        if c == "\\" and not raw:
            literal.append(text[i:i + 2])
            i += 2
            continue
        if c == "}":
            if text[i + 1:i + 2] != "}":
                raise BadLiteral("single '}' in an f-string (write '}}' for a literal brace)", i)
            literal.append("}")
            i += 2
            continue
        if c != "{":
            plain = _FSTRING_PLAIN.match(text, i, body_end)  # the run of ordinary characters
            literal.append(plain.group() if plain else c)
            i = plain.end() if plain else i + 1
            continue
        if text[i + 1:i + 2] == "{":
            literal.append("{")
            i += 2
            continue
        flush()
        simple = _FSTRING_SIMPLE_FIELD.match(text, i, body_end)
        if simple and not simple.group(1).isspace():
            field = build_fstring_field(simple.group(1), i + 1, "", i, simple.end())
        else:
            field = _fstring_field(text, i, body_end)
        parts.append(field)
        i = field.end
    flush()
    return parts


def _fstring_field(text: str, start: int, body_end: int) -> FStringField:
    """The field whose '{' is at `start`: up to its '}' at bracket depth 0, a ':' there
    starting the format spec (strings inside the expression skipped)."""
    depth = 0
    i = start + 1
    colon = -1
    while i < body_end:
        c = text[i]
        if c in "\"'":
            close = text.find(c, i + 1, body_end)
            if close < 0:
                raise BadLiteral("unterminated string inside an f-string field", i)
            i = close + 1
            continue
        if c in "([{":
            depth += 1
        elif c in ")]" or c == "}" and depth:
            depth -= 1
        elif c == "}":
            break
        elif c == ":" and not depth:
            colon = i
            break
        elif c == "!" and not depth and text[i + 1:i + 2] != "=":
            raise BadLiteral("conversions such as '!r' are not supported in f-strings "
                             "(call str(...) inside the braces)", i)
        elif c == "\\":
            raise BadLiteral("a backslash cannot appear inside an f-string field", i)
        elif c == "#":
            raise BadLiteral("'#' cannot appear inside an f-string field", i)
        i += 1
    if colon >= 0:
        close = text.find("}", colon, body_end)
        if close < 0:
            raise BadLiteral("'{' in an f-string is never closed (write '{{' for a literal brace)",
                             start)
        spec = text[colon + 1:close]
        if "{" in spec:
            raise BadLiteral("a format spec cannot hold '{' in an f-string", colon + 1)
        end_expr = colon
    else:
        if i >= body_end:
            raise BadLiteral("'{' in an f-string is never closed (write '{{' for a literal brace)",
                             start)
        close, spec, end_expr = i, "", i
    expr = text[start + 1:end_expr]
    if not expr.strip():
        raise BadLiteral("empty expression in an f-string's braces (write '{{' and '}}' for "
                         "literal braces)", start)
    return build_fstring_field(expr, start + 1, spec, start, close + 1)


def decode_number(text: str) -> int | float:
    """The value of a number literal (underscores between digits allowed)."""
    if not text.isdecimal():
        text = text.replace("_", "")
        if any(c in text for c in ".eE"):
            return float(text)
    try:
        return int(text)
    except ValueError:  # more digits than Python converts
        raise BadLiteral(f"number too long ({len(text)} digits)") from None


# ---------------------------------------------------------------- fast construction

# The fast parser builds hundreds of thousands of nodes and positions with these.
build_position = slot_builder(Position)
build_const = slot_builder(Const)
build_keyword = slot_builder(Keyword)
build_attribute = slot_builder(Attribute)
build_index = slot_builder(Index)
build_call = slot_builder(Call)
build_binary = slot_builder(Binary)
build_unary = slot_builder(Unary)
build_compare = slot_builder(Compare)
build_bool_op = slot_builder(BoolOp)
build_not = slot_builder(Not)
build_conditional = slot_builder(Conditional)
build_list = slot_builder(ListExpr)
build_dict = slot_builder(DictExpr)
build_tuple = slot_builder(TupleExpr)
build_slice = slot_builder(Slice)
build_comp_for = slot_builder(CompFor)
build_list_comp = slot_builder(ListComp)
build_dict_comp = slot_builder(DictComp)
build_formatted_value = slot_builder(FormattedValue)
build_fstring = slot_builder(FString)
build_assignment = slot_builder(Assignment)
build_fstring_field = slot_builder(FStringField)
# (path, line, column, end_line, end_column, fields after pos...) -> the node
build_const_at = slot_builder(Const, with_position=True)
build_name_at = slot_builder(Name, with_position=True)
build_keyword_at = slot_builder(Keyword, with_position=True)
build_directive_at = slot_builder(Directive, with_position=True)
build_assignment_at = slot_builder(Assignment, with_position=True)
build_rule_at = slot_builder(RuleDecl, with_position=True)
