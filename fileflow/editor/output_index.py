"""Every rule's output patterns indexed by their literal ends, for lint. Layer 2.

Two checks ask which outputs a pattern could overlap (FF107 follows inputs to the rules that
can make them, FF108 reports outputs that two rules can both make), once per input or
output of every rule: the index answers from the few outputs whose literal prefix or suffix
fits, not from all of them.
"""
from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable

from fileflow.editor.pattern_overlap import can_overlap
from fileflow.patterns import Pattern

__all__ = ["OutputIndex"]

def _suffix(p: Pattern) -> str:
    last = p.parts[-1] if p.parts else ""
    return last if isinstance(last, str) else ""


def _could_overlap(a: Pattern, b: Pattern, a_constraints=None, b_constraints=None) -> bool:
    """Whether some path could match both patterns: exact for a constant; else the literal
    prefixes and suffixes must agree (one a prefix/suffix of the other), and then the two
    patterns as automata, their wildcards' regexes included, must accept a common path."""
    if a.is_constant and b.is_constant:
        return a.text == b.text
    if a.is_constant:
        return b.match(a.text, b_constraints) is not None
    if b.is_constant:
        return a.match(b.text, a_constraints) is not None
    pa, pb = a.literal_prefix, b.literal_prefix
    sa, sb = _suffix(a), _suffix(b)
    return ((pa.startswith(pb) or pb.startswith(pa)) and (sa.endswith(sb) or sb.endswith(sa))
            and can_overlap(a, b, a_constraints, b_constraints))


def _top_dir(p: Pattern) -> str | None:
    """The literal first directory of a pattern's paths ("results/"), None when a wildcard
    comes first: two patterns with different top directories cannot overlap."""
    prefix = p.literal_prefix
    cut = prefix.find("/")
    return prefix[:cut + 1] if cut >= 0 else None


class _LiteralIndex:
    """Entry numbers filed under literal keys, to find the keys that are a prefix of a text
    and the keys that start with a text without looking at every key: the keys are kept
    sorted, so those that start with a text are one slice."""

    def __init__(self, entries: Iterable[tuple[str, int]]) -> None:
        self.by_key: dict[str, list[int]] = {}
        for key, number in entries:
            self.by_key.setdefault(key, []).append(number)
        self.keys = sorted(self.by_key)
        self.lengths = sorted({len(k) for k in self.keys})
        self.before = [0]  # entries under the keys before keys[i]
        for key in self.keys:
            self.before.append(self.before[-1] + len(self.by_key[key]))

    def prefixes_of(self, text: str) -> list[list[int]]:
        """The entry lists of the keys that `text` starts with (itself included)."""
        found = []
        for n in self.lengths:
            if n > len(text):
                break
            numbers = self.by_key.get(text[:n])
            if numbers is not None:
                found.append(numbers)
        return found

    def _extending(self, text: str) -> tuple[int, int]:
        """The slice of `keys` that start with `text`: from `text` up to the first string
        after all of them (`text` with its last character raised by one)."""
        if not text:
            return 0, len(self.keys)
        lo = bisect_left(self.keys, text)
        if text[-1] == "\U0010ffff":  # no character above it
            return lo, bisect_left(self.keys, True, lo, key=lambda k: not k.startswith(text))
        return lo, bisect_left(self.keys, text[:-1] + chr(ord(text[-1]) + 1), lo)

    def count_extending(self, text: str) -> int:
        lo, hi = self._extending(text)
        return self.before[hi] - self.before[lo]

    def extending(self, text: str) -> Iterable[int]:
        """The entries of the keys that start with `text` (itself included)."""
        lo, hi = self._extending(text)
        for key in self.keys[lo:hi]:
            yield from self.by_key[key]


class OutputIndex:
    """Every rule's output items, indexed by their literal prefixes and suffixes, so that a
    lookup tests a pattern against the few outputs whose literal ends are compatible with
    its own (the only ones `_could_overlap` can accept) rather than against all of them. It
    yields what `every_overlapping` yields, in the same order; tests hold it to that."""

    def __init__(self, rules) -> None:
        self.entries = [(rule, item) for rule in rules for item in rule.outputs]
        self.top_dirs = [_top_dir(item.pattern) for _, item in self.entries]
        patterns = [(n, item.pattern) for n, (_, item) in enumerate(self.entries)]
        wild = [(n, p) for n, p in patterns if not p.is_constant]
        fixed = [(n, p) for n, p in patterns if p.is_constant]
        # wildcard patterns by literal prefix, and by last literal part reversed
        self.wild_starts = _LiteralIndex((p.literal_prefix, n) for n, p in wild)
        self.wild_ends = _LiteralIndex((_suffix(p)[::-1], n) for n, p in wild)
        # constant paths by text, and by text reversed
        self.fixed_starts = _LiteralIndex((p.text, n) for n, p in fixed)
        self.fixed_ends = _LiteralIndex((p.text[::-1], n) for n, p in fixed)
        # constants written with {{ or }}: filed under their text, but they match the path
        # with single braces
        self.braced = [n for n, p in fixed if p.text != "".join(p.parts)]
        self.memo: dict[tuple, list[int]] = {}  # (pattern, constraints) -> what overlaps it

    def _candidates(self, pattern: Pattern) -> Iterable[int]:
        """Entry numbers that include every output `pattern` could overlap (and some more):
        those whose literal prefix, and those whose literal suffix, fits `pattern`'s, from
        whichever of the two sides has fewer."""
        if pattern.is_constant:
            text = pattern.text
            yield from self.fixed_starts.by_key.get(text, ())
            starts = self.wild_starts.prefixes_of(text)
            ends = self.wild_ends.prefixes_of(text[::-1])
            side = starts if sum(map(len, starts)) <= sum(map(len, ends)) else ends
            for numbers in side:
                yield from numbers
            return
        prefix, suffix = pattern.literal_prefix, _suffix(pattern)[::-1]
        for by_start, by_end, own_keys_too in ((self.fixed_starts, self.fixed_ends, False),
                                                (self.wild_starts, self.wild_ends, True)):
            # a wildcard pattern's literal end may also be a prefix of this pattern's one
            starts = by_start.prefixes_of(prefix) if own_keys_too else []
            ends = by_end.prefixes_of(suffix) if own_keys_too else []
            start_count = sum(map(len, starts)) + by_start.count_extending(prefix)
            end_count = sum(map(len, ends)) + by_end.count_extending(suffix)
            if start_count <= end_count:
                index, text, lists = by_start, prefix, starts
            else:
                index, text, lists = by_end, suffix, ends
            for numbers in lists:
                yield from numbers
            yield from index.extending(text)  # may repeat the entries of `text` itself

    def _rank(self, key: str | None):
        """The order `every_overlapping` tries entries in: the pattern's top directory, then
        the patterns without one."""
        if key is None:
            return lambda n: n
        return lambda n: (self.top_dirs[n] is None, n)

    def overlapping(self, pattern: Pattern, constraints) -> Iterable[tuple]:
        """The (rule, output item) pairs whose pattern could overlap `pattern` (under
        `constraints`), in the order of `every_overlapping`."""
        memo_key = (pattern, tuple(sorted(constraints.items())) if constraints else ())
        found = self.memo.get(memo_key)
        if found is None:  # many inputs share a pattern (a reference file, the raw data)
            key = _top_dir(pattern)
            hits = set()
            for n in self._candidates(pattern):
                if n in hits or (key is not None and self.top_dirs[n] not in (key, None)):
                    continue
                rule, item = self.entries[n]
                if _could_overlap(pattern, item.pattern, constraints, rule.constraints):
                    hits.add(n)
            found = self.memo[memo_key] = sorted(hits, key=self._rank(key))
        for n in found:
            yield self.entries[n]

    def matching(self, path: str) -> Iterable[tuple]:
        """The (rule, output item) pairs whose pattern matches the file `path`."""
        for n in dict.fromkeys([*self._candidates(Pattern(path, (path,), ())), *self.braced]):
            rule, item = self.entries[n]
            if item.pattern.match(path, rule.constraints) is not None:
                yield rule, item

    def every_overlapping(self, pattern: Pattern, constraints) -> Iterable[tuple]:
        """`overlapping` the slow and obvious way, pair by pair: the reference for tests.
        A pattern whose literal prefix names a top directory is tried against the outputs
        under that directory, then against those that start with a wildcard."""
        key = _top_dir(pattern)
        order = [n for n, top in enumerate(self.top_dirs) if key is None or top == key]
        if key is not None:
            order += [n for n, top in enumerate(self.top_dirs) if top is None]
        for n in order:
            rule, item = self.entries[n]
            if _could_overlap(pattern, item.pattern, constraints, rule.constraints):
                yield rule, item
