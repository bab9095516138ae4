"""What an expression may build, checked before it is built: sizes of strings and lists
made by operators and methods ('+', '*', join(), replace(), format()), nested literals,
str.format fields, and the operands of 'in'. Layer 1 (the language); evaluate.py calls these
while it runs an expression.
"""
from __future__ import annotations

import re

from fileflow.errors import FlowfileError, Position
from fileflow.lang.values import MAX_ITEMS, a_type, expanded_size, text_size, type_name

__all__ = ["check_membership", "check_nested", "check_operands", "check_size", "item_count",
           "check_method_size", "check_format", "clean_type_error"]


def check_membership(op: str, a: object, b: object, pos: Position) -> None:
    if not isinstance(b, (list, tuple, dict, str)):
        raise FlowfileError(f"'{op}' needs a list, dict or string on its right, got {a_type(b)}", pos)
    if isinstance(b, str) and not isinstance(a, str):
        raise FlowfileError(f"'{op}' a string needs a string on its left, got {a_type(a)}", pos)


def check_nested(value: list | tuple | dict, pos: Position) -> None:
    """A list or dict written with others inside holds them all: `[X, X, X]` over a few
    lines could otherwise hold more values than any machine can show."""
    size = expanded_size(value)
    if size > MAX_ITEMS:
        raise FlowfileError(f"this {type_name(value)} would hold more than {MAX_ITEMS} values once "
                     "the lists and dicts inside it are counted", pos)


def check_operands(op: str, a: object, b: object, pos: Position) -> None:
    """Refuse what Python would allow but a Flowfile should not: printf-style '%' on strings,
    and '+' or '*' making a gigantic string or list (counted before it is made)."""
    if op == "%" and (isinstance(a, str) or isinstance(b, str)):
        raise FlowfileError(f"cannot take the remainder of {a_type(a)} and {a_type(b)} with '%'", pos,
                     "'%' is for numbers; build strings with '+' or \"...{}\".format(...)")
    if op == "*":
        seq, count = (a, b) if isinstance(a, (str, list, tuple)) else (b, a)
        if isinstance(seq, (str, list, tuple)) and isinstance(count, int) and not isinstance(count, bool):
            check_size(op, seq, item_count(seq) * count, pos)
    elif op == "+" and (isinstance(a, str) and isinstance(b, str)
                        or isinstance(a, list) and isinstance(b, list)
                        or isinstance(a, tuple) and isinstance(b, tuple)):
        check_size(op, a, item_count(a) + item_count(b), pos)


def item_count(seq: str | list | tuple) -> int:
    """A string's characters, or the values a list or tuple holds (nested lists' included)."""
    return len(seq) if isinstance(seq, str) else expanded_size(seq) - 1


def check_size(op: str, seq: str | list | tuple, size: int, pos: Position) -> None:
    if size > MAX_ITEMS:
        unit = "characters" if isinstance(seq, str) else "items"
        raise FlowfileError(f"'{op}' would make {a_type(seq)} of {size} {unit} (at most {MAX_ITEMS})", pos)


def check_method_size(obj: str, method: str, args: list, kwargs: dict, pos: Position) -> None:
    """join(), replace() and format() counted before they run: each can make a gigantic
    string."""
    size = 0
    if method == "join" and len(args) == 1 and isinstance(args[0], (list, tuple)):
        parts = args[0]
        size = sum(len(p) if isinstance(p, str) else 0 for p in parts) + len(obj) * max(0, len(parts) - 1)
    elif method == "replace" and len(args) >= 2 and all(isinstance(x, str) for x in args[:2]):
        old, new = args[0], args[1]
        count = obj.count(old) if old else len(obj) + 1
        if len(args) > 2 and isinstance(args[2], int) and args[2] >= 0:
            count = min(count, args[2])
        size = len(obj) + count * (len(new) - len(old))
    elif method == "format":  # str() of each value, about: a value as text is counted once
        if len(obj) + sum(text_size(a, MAX_ITEMS) for a in [*args, *kwargs.values()]) > MAX_ITEMS:
            raise FlowfileError(f"format() would make a string of more than {MAX_ITEMS} characters", pos)
    if size > MAX_ITEMS:
        raise FlowfileError(f"{method}() would make a string of {size} characters (at most {MAX_ITEMS})", pos)


def check_format(text: str, pos: Position) -> None:
    """str.format with plain fields only: `{}`, `{0}`, `{name}`, `{:>5}`; no attribute or
    index lookups (they reach into Python objects) and no huge widths."""
    import string

    try:
        fields = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise FlowfileError(f"format(): {exc}", pos, "write '{{' and '}}' for literal braces") from None
    for _literal, field, spec, _conversion in fields:
        if field is None:
            continue
        if "." in field or "[" in field or "{" in (spec or ""):
            raise FlowfileError(f"format(): the field '{{{field}}}' is not allowed", pos,
                         "use plain fields: {}, {0} or {name}, with an optional format like {:>5}")
        if any(int(n) > 1000 for n in re.findall(r"\d+", spec or "")):
            raise FlowfileError(f"format(): the width in '{{{field}:{spec}}}' is too large", pos)


def clean_type_error(exc: Exception) -> str:
    return re.sub(r"^\w+\(\) ", "", str(exc)).replace("_expand", "expand")
