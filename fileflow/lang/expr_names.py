"""Which names an expression reads, found without evaluating it: every free name (a
comprehension's own names excluded), and every `base.attr` (which wildcards, which config
keys). What the rule builder, the checks and the editor ask of the syntax tree. Layer 1.
"""
from __future__ import annotations

from collections.abc import Iterable

from fileflow.errors import Position
from fileflow.lang import syntax as s
from fileflow.lang.nodes import children

__all__ = ["walk", "free_names", "names_and_uses", "attribute_uses"]


def walk(node) -> Iterable:
    """The node and every sub-expression below it (no recursion)."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(children(n))


def free_names(node) -> set[str]:
    """Every name an expression reads (function names in calls included); a comprehension's
    own names (`s` in `[s for s in SAMPLES]`) are not read from outside."""
    kind = type(node)
    if kind is s.Keyword:
        node = node.value
        kind = type(node)
    if kind is s.Const:  # most arguments are plain values: no walk
        return set()
    if kind is s.Name:
        return {node.id}
    names = set()
    stack = [node]
    while stack:
        n = stack.pop()
        kind = type(n)
        if kind is s.Name:
            names.add(n.id)
        elif kind is s.Const:  # a leaf, the most common node: no children() call
            continue
        elif kind is s.ListComp or kind is s.DictComp:
            names |= _comprehension_free_names(n)
        else:
            stack.extend(children(n))
    return names


def _comprehension_free_names(node: s.ListComp | s.DictComp) -> set[str]:
    return _comprehension_reads(node, None)[0]


def _comprehension_reads(node: s.ListComp | s.DictComp, base: str | None
                         ) -> tuple[set[str], list[tuple[str, Position]]]:
    """names_and_uses of a comprehension: a clause's names are bound from its conditions
    on, and in the next clauses and the element; `uses` in the walk's order (the last
    part's first, as `walk` pops them)."""
    names: set[str] = set()
    bound: set[str] = set()
    parts = (node.element,) if isinstance(node, s.ListComp) else (node.key, node.value)
    # each part's uses, in source order: the element (or key and value) first, read last
    found: list[list[tuple[str, Position]]] = [[] for _ in parts]
    for clause in node.clauses:
        reads, uses = names_and_uses(clause.iterable, base)
        names |= reads - bound
        found.append(uses)
        bound.update(clause.targets)
        for condition in clause.conditions:
            reads, uses = names_and_uses(condition, base)
            names |= reads - bound
            found.append(uses)
    for i, part in enumerate(parts):
        reads, found[i] = names_and_uses(part, base)
        names |= reads - bound
    return names, [use for uses in reversed(found) for use in uses]


def names_and_uses(node, base: str | None) -> tuple[set[str], list[tuple[str, Position]]]:
    """free_names(node) and attribute_uses(node, base) (of a Keyword's value) in one walk,
    in their orders: what the rule builder asks of every argument of every directive."""
    kind = type(node)
    if kind is s.Keyword:
        node = node.value
        kind = type(node)
    if kind is s.Const:
        return set(), []
    if kind is s.Name:
        return {node.id}, []
    names: set[str] = set()
    uses: list[tuple[str, Position]] = []
    stack = [node]
    # Leaves, and `name.attr` (its one child a leaf), are taken without a children() call:
    # the walk meets them most, and leaves add nothing to the order of `uses`.
    while stack:
        n = stack.pop()
        kind = type(n)
        if kind is s.Name:
            names.add(n.id)
            continue
        if kind is s.Const:
            continue
        if kind is s.Attribute and type(n.obj) is s.Name:
            if n.obj.id == base:
                uses.append((n.attr, n.pos))
            names.add(n.obj.id)
            continue
        if kind is s.ListComp or kind is s.DictComp:  # its own names are not read from outside
            reads, comprehension_uses = _comprehension_reads(n, base)
            names |= reads
            uses += comprehension_uses  # the walk's order: its subtree now
            continue
        if kind is s.FString:  # its fields' expressions, in order (its text parts are leaves)
            for part in n.parts:
                if type(part) is s.FormattedValue:
                    stack.append(part.value)
            continue
        stack.extend(children(n))
    return names, uses


def attribute_uses(node, base: str) -> list[tuple[str, Position]]:
    """Every `base.attr` in an expression (e.g. which wildcards an input expression reads)."""
    if type(node) is s.Const or type(node) is s.Name:
        return []
    uses = []
    stack = [node]  # walk's order, without its generator: this runs for every argument
    while stack:
        n = stack.pop()
        kind = type(n)
        if kind is s.Name or kind is s.Const:  # leaves: no children() call
            continue
        if kind is s.Attribute and type(n.obj) is s.Name:
            if n.obj.id == base:
                uses.append((n.attr, n.pos))
            continue
        stack.extend(children(n))
    return uses
