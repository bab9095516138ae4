"""The values Flowfile expressions compute, beyond plain Python ones, and how messages name
them. Layer 1.

A Record is a dict read by attribute (`config.samples`, `wildcards.sample`); a Flagged is a
path wrapped in temp(), protected(), directory() or ancient(). `a_type` and `closest` word
the errors of evaluation, loading and the builtins alike.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import repeat
from typing import ClassVar

from fileflow.errors import Position

__all__ = ["Record", "Flagged", "Unpacked", "Attributed", "FILE_FLAGS", "ENSURE_NON_EMPTY",
           "ENSURE_SHA256", "REPEAT", "BENCHMARK", "flag_function", "MAX_ITEMS", "closest",
           "type_name", "a_type", "record_from", "expanded_size", "text_size"]

# The largest list or string a value may hold (range(), expand(), '+', '*', a config file
# once its aliases are expanded): a typo such as range(10000000000) must be an error, not
# an exhausted machine. Lists count every value they hold, nested lists' included.
MAX_ITEMS = 10_000_000
_CONTAINERS = (list, tuple, dict)
FILE_FLAGS = ("temp", "protected", "directory", "ancient", "touch")
# ensure()'s checks, as flags of the output they check: "ensure_non_empty" and
# "ensure_sha256=HEX" (the digest it must have).
ENSURE_NON_EMPTY = "ensure_non_empty"
ENSURE_SHA256 = "ensure_sha256="
# repeat()'s number of runs, as a flag of a benchmark file: "repeat=3".
REPEAT = "repeat="
# The flag of a rule's `benchmark:` file among its outputs: not one of {output}'s.
BENCHMARK = "benchmark"


def flag_function(flag: str) -> str:
    """The builtin that sets a flag, for messages: ensure() for ensure's checks."""
    return "ensure" if flag.startswith("ensure_") else flag.partition("=")[0]


class Record(dict):
    """A dict whose keys read as attributes (`config.samples`, `wildcards.sample`), with
    errors that name what it is and suggest the closest key."""

    __slots__ = ("label",)

    def __init__(self, items=(), label: str = "config"):
        super().__init__(items)
        self.label = label


class Attributed:
    """A value whose attributes an expression reads (`rules.align.output.bam`): `attribute`
    gives one or raises a FlowfileError at `pos`."""

    __slots__ = ()
    methods: ClassVar[frozenset[str]] = frozenset()  # the methods an expression may call on it

    def attribute(self, name: str, pos: Position) -> object:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Flagged:
    """A file path wrapped in temp()/protected()/directory()/ancient()/touch()/ensure()."""

    path: str
    flags: frozenset[str]


@dataclass(frozen=True, slots=True)
class Unpacked:
    """`unpack(VALUE)` in `input:`: a dict's entries as named inputs, a list's as unnamed ones."""

    items: tuple[tuple[str | None, object], ...]


def closest(word: str, options: Iterable[str]) -> str:
    import difflib  # only on an error: not worth its import time on every run

    match = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f"; did you mean '{match[0]}'?" if match else ""


def type_name(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, Record):
        return "dict"
    if isinstance(value, Flagged):
        return "file"
    if isinstance(value, Unpacked):
        return "unpack(...)"
    if isinstance(value, list):
        return "list"
    if isinstance(value, Attributed):
        return "rule reference"
    return {str: "string", int: "int", float: "float", list: "list", tuple: "tuple",
            dict: "dict"}.get(type(value), type(value).__name__)


def a_type(value: object) -> str:
    """The type's name with its article, for messages: 'an int', 'a string', 'none'."""
    name = type_name(value)
    if name == "none":
        return "none"
    return ("an " if name[0] in "aeiou" else "a ") + name


def record_from(value: object, label: str) -> object:
    """Turn nested dicts (from YAML) into Records, so `config.a.b` works and errors name the path."""
    if isinstance(value, dict):
        return Record({k: record_from(v, f"{label}.{k}") for k, v in value.items()}, label)
    if isinstance(value, list):
        return [record_from(v, f"{label}[{i}]") for i, v in enumerate(value)]
    return value


def expanded_size(value: object, limit: int = MAX_ITEMS) -> int:
    """How many values `value` holds, itself included, counting a list or dict each time it
    occurs (a YAML alias, a list repeated with '*' or '+' is counted as often as it is
    shared). Counting stops past `limit` (the result is then limit + 1), so it takes time
    in the number of distinct lists and dicts, never in the expanded size; a value that
    holds itself counts as past the limit."""
    return _measure(value, limit, None)


def text_size(value: object, limit: int = MAX_ITEMS) -> int:
    """About how many characters `value` takes as text (str(), a command), counted as
    expanded_size counts values: shared lists each time they occur, stopping past `limit`."""
    return _measure(value, limit, _text_length)


def _text_length(value: object) -> int:
    return len(value) + 4 if isinstance(value, str) else 24  # quotes and ', '; a number's digits


def _flat_size(items: list | tuple, leaf_size: Callable[[object], int] | None) -> int:
    if leaf_size is None:
        return len(items)
    if all(map(isinstance, items, repeat(str))):  # the usual list of paths: in C
        return sum(map(len, items)) + 4 * len(items)
    return sum(map(leaf_size, items))


def _measure(value: object, limit: int, leaf_size: Callable[[object], int] | None) -> int:
    if not isinstance(value, _CONTAINERS):
        size = 1 if leaf_size is None else leaf_size(value)
        return size if size <= limit else limit + 1
    sizes: dict[int, int] = {}
    stack: list[tuple[object, bool]] = [(value, False)]
    while stack:
        node, done = stack.pop()
        if not done and id(node) in sizes:  # shared, and counted already
            continue
        items = list(node.keys()) + list(node.values()) if isinstance(node, dict) else node
        assert isinstance(items, (list, tuple))
        if not any(map(isinstance, items, repeat(_CONTAINERS))):  # flat: one scan in C
            sizes[id(node)] = 1 + _flat_size(items, leaf_size)
        elif done:
            size = 1
            for item in items:
                if isinstance(item, _CONTAINERS):
                    size += sizes[id(item)]
                else:
                    size += 1 if leaf_size is None else leaf_size(item)
            sizes[id(node)] = size
        else:
            sizes[id(node)] = -1  # being counted: met again below it, it holds itself
            stack.append((node, True))
            for item in items:
                if isinstance(item, _CONTAINERS):
                    seen = sizes.get(id(item))
                    if seen == -1:
                        return limit + 1
                    if seen is None:
                        stack.append((item, False))
            continue
        if sizes[id(node)] > limit:
            return limit + 1
    return sizes[id(value)]
