"""The values Flowfile expressions compute, beyond plain Python ones, and how messages name
them. Layer 1.

A Record is a dict read by attribute (`config.samples`, `wildcards.sample`); a Flagged is a
path wrapped in temp(), protected(), directory() or ancient(). `a_type` and `closest` word
the errors of evaluation, loading and the builtins alike.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Record", "Flagged", "FILE_FLAGS", "MAX_ITEMS", "closest", "type_name", "a_type",
           "record_from"]

# The largest list or string an expression may build (range(), '*'): a typo such as
# range(10000000000) must be an error, not an exhausted machine.
MAX_ITEMS = 10_000_000
FILE_FLAGS = ("temp", "protected", "directory", "ancient")


class Record(dict):
    """A dict whose keys read as attributes (`config.samples`, `wildcards.sample`), with
    errors that name what it is and suggest the closest key."""

    __slots__ = ("label",)

    def __init__(self, items=(), label: str = "config"):
        super().__init__(items)
        self.label = label


@dataclass(frozen=True, slots=True)
class Flagged:
    """A file path wrapped in temp()/protected()/directory()/ancient()."""

    path: str
    flags: frozenset[str]


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
    return {str: "string", int: "int", float: "float", list: "list", tuple: "list",
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
