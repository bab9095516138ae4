"""Whether two `{wildcard}` output patterns can match one path, their wildcards' regexes
(inline, else the constraints, else `.+`) included. Layer 2.

Each pattern becomes a small automaton whose edges are sets of characters (ranges of code
points); a path both patterns accept exists when the product of the two automata reaches
both accepting states. That is exact for what wildcard regexes are made of: literals,
classes, `.`, groups, `|`, `?`, `*`, `+` and `{m,n}`. A construct outside those (a
lookaround, an anchor, a backreference, a flag) gives the answer "can overlap", and a
wildcard used twice in one pattern is taken as any value its regex allows each time: the
answer errs only towards an overlap, never towards a missed one. The classes `\\w`, `\\d`
and `\\s` count every non-ASCII character as a member (and their negations every character
that is not an ASCII member), for the same reason.
"""
from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

from fileflow.patterns import DEFAULT_REGEX, Pattern

__all__ = ["can_overlap"]

MAX_CHAR = 0x10FFFF
MAX_COPIES = 30  # {m,n} with larger bounds is taken as {min(m, 30),} (a larger language)
Chars = tuple[tuple[int, int], ...]  # sorted, disjoint, inclusive ranges of code points

ANY: Chars = ((0, MAX_CHAR),)
_NON_ASCII: Chars = ((0x80, MAX_CHAR),)


def _union(*sets: Chars) -> Chars:
    ranges = sorted(r for s in sets for r in s)
    out: list[tuple[int, int]] = []
    for lo, hi in ranges:
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return tuple(out)


def _complement(chars: Chars) -> Chars:
    out, start = [], 0
    for lo, hi in chars:
        if lo > start:
            out.append((start, lo - 1))
        start = hi + 1
    if start <= MAX_CHAR:
        out.append((start, MAX_CHAR))
    return tuple(out)


def _meet(a: Chars, b: Chars) -> bool:
    i = j = 0
    while i < len(a) and j < len(b):
        if a[i][1] < b[j][0]:
            i += 1
        elif b[j][1] < a[i][0]:
            j += 1
        else:
            return True
    return False


def _chars(text: str) -> Chars:
    return _union(*(((ord(c), ord(c)),) for c in text))


_DIGITS = _chars("0123456789")
_WORD = _union(_DIGITS, ((ord("A"), ord("Z")), (ord("a"), ord("z")), (ord("_"), ord("_"))))
_SPACE = _chars(" \t\n\r\f\v")
# (members, whether the set is exact): a member of the real class is always in the set
_CLASSES: dict[str, tuple[Chars, bool]] = {
    "d": (_union(_DIGITS, _NON_ASCII), False), "D": (_complement(_DIGITS), False),
    "w": (_union(_WORD, _NON_ASCII), False), "W": (_complement(_WORD), False),
    "s": (_union(_SPACE, _chars("\x1c\x1d\x1e\x1f"), _NON_ASCII), False),
    "S": (_complement(_SPACE), False),
}
_CONTROL = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v", "a": "\a"}


class _Unsupported(Exception):
    """A regex construct the automaton does not model."""


class _Parser:
    """A wildcard regex -> a tree of ("chars", set), ("cat", [...]), ("alt", [...]) and
    ("rep", node, least, most-or-None)."""

    def __init__(self, text: str) -> None:
        self.text, self.i = text, 0

    def peek(self) -> str:
        return self.text[self.i] if self.i < len(self.text) else ""

    def take(self) -> str:
        c = self.peek()
        self.i += 1
        return c

    def parse(self) -> tuple:
        node = self.alternatives()
        if self.i != len(self.text):
            raise _Unsupported(self.text)
        return node

    def alternatives(self) -> tuple:
        options = [self.sequence()]
        while self.peek() == "|":
            self.i += 1
            options.append(self.sequence())
        return options[0] if len(options) == 1 else ("alt", options)

    def sequence(self) -> tuple:
        items = []
        while self.peek() not in ("", "|", ")"):
            items.append(self.quantified(self.atom()))
        return ("cat", items)

    def atom(self) -> tuple:
        c = self.take()
        if c == "(":
            if self.peek() == "?":
                if self.text[self.i:self.i + 2] != "?:":
                    raise _Unsupported(self.text)
                self.i += 2
            node = self.alternatives()
            if self.take() != ")":
                raise _Unsupported(self.text)
            return node
        if c == "[":
            return ("chars", self.char_class())
        if c == ".":
            return ("chars", ANY)
        if c in "^$*+?{":
            if c == "{" and not self.quantifier_ahead(self.i - 1):
                return ("chars", _chars(c))
            raise _Unsupported(self.text)
        if c == "\\":
            chars, _ = self.escape()
            return ("chars", chars)
        return ("chars", _chars(c))

    def escape(self) -> tuple[Chars, bool]:
        c = self.take()
        if c in _CLASSES:
            return _CLASSES[c]
        if c in _CONTROL:
            return _chars(_CONTROL[c]), True
        if c in ("x", "u", "U"):
            width = {"x": 2, "u": 4, "U": 8}[c]
            digits = self.text[self.i:self.i + width]
            self.i += width
            try:
                return _chars(chr(int(digits, 16))), True
            except ValueError:
                raise _Unsupported(self.text) from None
        if c == "" or c.isalnum():  # \b, \A, \Z, backreferences, octal escapes
            raise _Unsupported(self.text)
        return _chars(c), True

    def char_class(self) -> Chars:
        negated = self.peek() == "^"
        if negated:
            self.i += 1
        members: list[Chars] = []
        exact, first = True, True
        while True:
            c = self.take()
            if c == "":
                raise _Unsupported(self.text)
            if c == "]" and not first:
                break
            first = False
            if c == "\\":
                chars, is_exact = self.escape()
                exact = exact and is_exact
            else:
                chars = _chars(c)
            if self.peek() == "-" and self.text[self.i + 1:self.i + 2] not in ("]", ""):
                self.i += 1
                end = self.take()
                if end == "\\":
                    end_chars, is_exact = self.escape()
                    if not is_exact or len(end_chars) != 1 or end_chars[0][0] != end_chars[0][1]:
                        raise _Unsupported(self.text)
                    end_code = end_chars[0][0]
                else:
                    end_code = ord(end)
                if len(chars) != 1 or chars[0][0] != chars[0][1]:
                    raise _Unsupported(self.text)
                chars = ((chars[0][0], end_code),)
            members.append(chars)
        found = _union(*members)
        if not negated:
            return found
        return _complement(found) if exact else ANY  # the complement of a guess is no guess

    def quantifier_ahead(self, at: int) -> bool:
        """Whether a `{m}`, `{m,}`, `{,n}` or `{m,n}` starts at `at` (else `{` is a literal)."""
        end = self.text.find("}", at)
        if end < 0:
            return False
        low, comma, high = self.text[at + 1:end].partition(",")
        return ((low.isdigit() or (bool(comma) and not low)) and (not high or high.isdigit())
                and bool(low or high))

    def quantified(self, node: tuple) -> tuple:
        c = self.peek()
        if c in ("*", "+", "?"):
            self.i += 1
            least, most = {"*": (0, None), "+": (1, None), "?": (0, 1)}[c]
        elif c == "{" and self.quantifier_ahead(self.i):
            end = self.text.find("}", self.i)
            low, comma, high = self.text[self.i + 1:end].partition(",")
            self.i = end + 1
            least = int(low or 0)
            most = int(high) if high else (None if comma else least)
        else:
            return node
        if self.peek() in ("?", "+"):  # lazy or possessive: the same language
            self.i += 1
        if self.peek() in ("*", "+", "?", "{") and (self.peek() != "{" or self.quantifier_ahead(self.i)):
            raise _Unsupported(self.text)
        if least > MAX_COPIES or (most is not None and most > MAX_COPIES):
            least, most = min(least, MAX_COPIES), None
        return ("rep", node, least, most)


class _Automaton:
    """States 0..n; `edges[s]` are (characters, next state), `empty[s]` the states reached
    without reading a character. State 0 starts; `accept` is the one accepting state."""

    def __init__(self) -> None:
        self.edges: list[list[tuple[Chars, int]]] = [[]]
        self.empty: list[list[int]] = [[]]
        self.accept = 0

    def state(self) -> int:
        self.edges.append([])
        self.empty.append([])
        return len(self.edges) - 1

    def add(self, node: tuple, start: int) -> int:
        """Wire `node` from `start`; the state it ends in."""
        kind = node[0]
        if kind == "chars":
            end = self.state()
            self.edges[start].append((node[1], end))
            return end
        if kind == "cat":
            for item in node[1]:
                start = self.add(item, start)
            return start
        if kind == "alt":
            end = self.state()
            for option in node[1]:
                self.empty[self.add(option, start)].append(end)
            return end
        _, inner, least, most = node
        for _ in range(least):
            start = self.add(inner, start)
        if most is None:  # a loop: back to its start, or on
            loop = self.state()
            self.empty[start].append(loop)
            self.empty[self.add(inner, loop)].append(loop)
            return loop
        end = self.state()
        for _ in range(most - least):
            self.empty[start].append(end)
            start = self.add(inner, start)
        self.empty[start].append(end)
        return end


@lru_cache(maxsize=4096)
def _automaton(pattern: Pattern, constraints: tuple[tuple[str, str], ...]) -> _Automaton | None:
    given = dict(constraints)
    parts: list[tuple] = []
    for part in pattern.parts:
        if isinstance(part, str):
            parts.extend(("chars", _chars(c)) for c in part)
            continue
        name, regex = part
        try:
            parts.append(_Parser(regex or given.get(name, DEFAULT_REGEX)).parse())
        except (_Unsupported, IndexError, ValueError):
            return None
    automaton = _Automaton()
    automaton.accept = automaton.add(("cat", parts), 0)
    return automaton


def _both_accept(a: _Automaton, b: _Automaton) -> bool:
    """Whether some text takes both automata from their start to their accepting state."""
    seen = {(0, 0)}
    todo = [(0, 0)]
    while todo:
        x, y = todo.pop()
        if x == a.accept and y == b.accept:
            return True
        steps = [(t, y) for t in a.empty[x]] + [(x, t) for t in b.empty[y]]
        for chars_a, next_a in a.edges[x]:
            for chars_b, next_b in b.edges[y]:
                if _meet(chars_a, chars_b):
                    steps.append((next_a, next_b))
        for step in steps:
            if step not in seen:
                seen.add(step)
                todo.append(step)
    return False


def _key(constraints: Mapping[str, str] | None) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(constraints.items())) if constraints else ()


def can_overlap(a: Pattern, b: Pattern, a_constraints: Mapping[str, str] | None = None,
                b_constraints: Mapping[str, str] | None = None) -> bool:
    """Whether some path could match both patterns (each under its own constraints)."""
    first = _automaton(a, _key({k: v for k, v in (a_constraints or {}).items() if k in a.wildcards}))
    second = _automaton(b, _key({k: v for k, v in (b_constraints or {}).items() if k in b.wildcards}))
    if first is None or second is None:
        return True
    return _both_accept(first, second)
