"""`{wildcard}` patterns: parse, match a path, fill in values, expand. Pure; layer 0.

A pattern is text with fields `{name}` or `{name,regex}`; `{{` and `}}` are literal braces.
A field with no regex matches `.+` (any text, `/` included) unless a constraint applies.
"""
from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Mapping
from functools import lru_cache
from itertools import product
from typing import NamedTuple

__all__ = ["Pattern", "PatternError", "parse_pattern", "expand", "regex_problem", "WILDCARD_NAME"]

WILDCARD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
DEFAULT_REGEX = ".+"


class PatternError(ValueError):
    """A malformed pattern; the caller adds the Flowfile position."""


class Pattern(NamedTuple):
    """A parsed pattern (a named tuple: a workflow may hold 100,000 of them)."""

    text: str
    # Alternating literal text and (name, regex or None) fields, in order.
    parts: tuple[str | tuple[str, str | None], ...]
    wildcards: tuple[str, ...]  # distinct names, in order of first appearance
    fmt: str = ""               # the same as a str.format template: filled in C, per job

    @property
    def is_constant(self) -> bool:
        return not self.wildcards

    def regex(self, constraints: Mapping[str, str] | None = None) -> re.Pattern:
        """The compiled regex matching whole paths; inline regexes beat `constraints`."""
        key = tuple(sorted((constraints or {}).items()))
        return _compile(self, key)

    def match(self, path: str, constraints: Mapping[str, str] | None = None) -> dict[str, str] | None:
        m = self.regex(constraints).fullmatch(path)
        return m.groupdict() if m else None

    def format(self, values: Mapping[str, object], *, allow_missing: bool = False) -> str:
        if not allow_missing:
            return self.fmt.format_map(values) if self.wildcards else self.text
        out = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            name, regex = part
            if name in values:
                out.append(str(values[name]))
            elif allow_missing:
                out.append("{" + name + ("," + regex if regex else "") + "}")
            else:
                raise KeyError(name)
        return "".join(out)

    @property
    def literal_prefix(self) -> str:
        """The text before the first wildcard (used to narrow directory scans and rule lookups)."""
        first = self.parts[0] if self.parts else ""
        return first if isinstance(first, str) else ""


@lru_cache(maxsize=4096)
def _compile(pattern: Pattern, constraints: tuple[tuple[str, str], ...]) -> re.Pattern:
    given = dict(constraints)
    seen: set[str] = set()
    out = []
    for part in pattern.parts:
        if isinstance(part, str):
            out.append(re.escape(part))
        else:
            name, regex = part
            if name in seen:
                out.append(f"(?P={name})")
            else:
                seen.add(name)
                out.append(f"(?P<{name}>{regex or given.get(name, DEFAULT_REGEX)})")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return re.compile("".join(out), re.DOTALL)


_new = tuple.__new__  # a named tuple without its Python-level __new__
_PLAIN = re.compile(r"[^{}]+")


def parse_pattern(text: str) -> Pattern:
    """A plain path (the common case: `expand()` may give a rule a million of them) is made
    at once, outside the cache, which it would only churn; a pattern with fields is parsed
    once per text."""
    if "{" not in text and "}" not in text:
        return _new(Pattern, (text, (text,) if text else (), (), ""))
    return _parse_fields(text)


@lru_cache(maxsize=65536)
def _parse_fields(text: str) -> Pattern:
    parts: list[str | tuple[str, str | None]] = []
    names: list[str] = []
    literal: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "{":
            if text.startswith("{{", i):
                literal.append("{")
                i += 2
                continue
            end, field = _read_field(text, i)
            name, _, regex = field.partition(",")
            name = name.strip()
            if not WILDCARD_NAME.match(name):
                raise PatternError(f"bad wildcard name {name!r} in pattern {text!r}")
            if regex:
                problem = regex_problem(regex)
                if problem:
                    raise PatternError(f"bad regex for wildcard {name!r} in pattern {text!r}: {problem}")
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append((name, regex or None))
            if name not in names:
                names.append(name)
            i = end + 1
        elif c == "}":
            if text.startswith("}}", i):
                literal.append("}")
                i += 2
                continue
            raise PatternError(f"single '}}' in pattern {text!r} (write '}}}}' for a literal brace)")
        else:  # the run of characters up to the next brace, in one step
            plain = _PLAIN.match(text, i)
            assert plain is not None  # text[i] is not a brace
            literal.append(plain.group())
            i = plain.end()
    if literal:
        parts.append("".join(literal))
    pieces = []  # of the format string; and whether a field has its own regex
    inline_regex = False
    for p in parts:
        if isinstance(p, str):
            pieces.append(p.replace("{", "{{").replace("}", "}}"))
        else:
            pieces.append("{" + p[0] + "}")
            inline_regex = inline_regex or bool(p[1])
    pattern = Pattern(text, tuple(parts), tuple(names), "".join(pieces))
    if not inline_regex:
        return pattern  # no inline regex: nothing that could fail to compile
    try:
        _compile(pattern, ())
    except re.error as exc:  # e.g. a backreference to a group of another field
        raise PatternError(f"bad regex in pattern {text!r}: {exc}") from None
    return pattern


def _positional(pattern: Pattern, names: tuple[str, ...]) -> str:
    """The pattern as a str.format template whose fields are indexes into `names`."""
    return "".join(p.replace("{", "{{").replace("}", "}}") if isinstance(p, str)
                   else "{" + str(names.index(p[0])) + "}" for p in pattern.parts)


def regex_problem(regex: str) -> str:
    """Why a wildcard's regex (inline or a constraint) cannot be used, or "" when it can."""
    if "(?P<" in regex or "(?P=" in regex:
        return "named groups are not allowed (use (?:...) to group)"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # FutureWarning about sets; not the user's business
            re.compile(regex)
    except re.error as exc:
        return str(exc)
    return ""


def _read_field(text: str, start: int) -> tuple[int, str]:
    """Find the `}` closing the field that opens at `start`; regexes may nest braces (`\\d{2}`)."""
    depth = 0
    for j in range(start, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return j, text[start + 1:j]
    raise PatternError(f"unclosed '{{' in pattern {text!r} (write '{{{{' for a literal brace)")


def expand(patterns: str | Iterable[str], values: Mapping[str, object], *,
           zip_values: bool = False, allow_missing: bool = False) -> list[str]:
    """Fill patterns with every combination of values (or pairwise with `zip_values`)."""
    pattern_list = [patterns] if isinstance(patterns, str) else list(patterns)
    names = list(values)
    columns = [v if isinstance(v, (list, tuple)) else [v] for v in values.values()]
    if zip_values:
        lengths = {len(c) for c in columns}
        if len(lengths) > 1:
            raise PatternError("expand(zip=true) needs lists of the same length, got lengths "
                               + ", ".join(str(len(c)) for c in columns))
        combos = list(zip(*columns))
    else:
        combos = list(product(*columns))
    out: list[str] = []
    for text in pattern_list:
        pattern = parse_pattern(text)
        if set(pattern.wildcards) <= set(names):  # fill by position: no dict per combination
            fill = _positional(pattern, tuple(names)).format
            out.extend([fill(*combo) for combo in combos])
            continue
        for combo in combos:
            given = dict(zip(names, combo))
            try:
                out.append(pattern.format(given, allow_missing=allow_missing))
            except KeyError as exc:
                raise PatternError(f"expand() got no value for wildcard {{{exc.args[0]}}} in {text!r}"
                                   " (give it, or pass allow_missing=true)") from None
    return out
