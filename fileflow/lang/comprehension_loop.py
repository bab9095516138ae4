"""The loop of a comprehension: the scope its names are bound in, what it may loop over,
and its conditions that are a string test of the loop's name, run without the general
path's steps. Layer 1; evaluate.py compiles comprehensions with these.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from itertools import compress, repeat

from fileflow.errors import FlowfileError, Position
from fileflow.lang import syntax as s
from fileflow.lang.values import MAX_ITEMS, a_type

__all__ = ["LoopScope", "loop_scope", "loop_items", "nested_loops", "bind", "string_test",
           "strings_passing"]


class LoopScope(dict):
    """A comprehension's own names over the enclosing scope, which is read through, not
    copied: ChainMap({}, outer), at a dict's speed for the loop's names. Made by
    `loop_scope` (no __init__ of its own: dict's, in C, is cheaper for every evaluation)."""

    __slots__ = ("outer",)
    outer: Mapping[str, object]

    def __missing__(self, key: str) -> object:
        return self.outer[key]

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or key in self.outer

    def __iter__(self) -> Iterator[str]:  # ChainMap's order: the outer names, then the own
        return iter({**dict.fromkeys(self.outer), **dict.fromkeys(dict.keys(self))})


def loop_scope(outer: Mapping[str, object]) -> LoopScope:
    """A new LoopScope over `outer`, with no names of its own yet."""
    scope = LoopScope()
    scope.outer = outer
    return scope


def loop_items(value: object, pos: Position) -> Sequence:
    """What a comprehension's `for` loops over: a list, tuple or string as it is, a dict's keys."""
    if isinstance(value, (list, tuple, str)):
        return value
    if isinstance(value, dict):
        return list(value)
    raise FlowfileError(f"'for' needs a list, dict or string to loop over, got {a_type(value)}", pos)


def bind(scope: dict, targets: tuple[str, ...], item: object, pos: Position) -> None:
    """Bind the loop's names to one item (unpacked when there are several names)."""
    if len(targets) == 1:
        scope[targets[0]] = item
        return
    names = ", ".join(targets)
    if not isinstance(item, (list, tuple)):
        raise FlowfileError(f"cannot unpack {a_type(item)} into {len(targets)} names ({names})", pos)
    if len(item) != len(targets):
        raise FlowfileError(f"cannot unpack {len(item)} values into {len(targets)} names ({names})",
                            pos)
    scope.update(zip(targets, item))


def string_test(condition: object, target: str) -> Callable[[Sequence[str]], list] | None:
    """For a condition `TARGET.startswith(...)` or `TARGET.endswith(...)` with literal
    arguments (`if s.endswith("1")`, the common filter): the filter of a list of strings,
    str's own method mapped over them in C with no scope to read (see strings_passing).
    None for any other condition."""
    if type(condition) is not s.Call or condition.kwargs:
        return None
    func, args = condition.func, condition.args
    if not (type(func) is s.Attribute and func.attr in ("startswith", "endswith")
            and type(func.obj) is s.Name and func.obj.id == target):
        return None
    values = []
    for a in args:
        if type(a) is not s.Const:
            return None
        values.append(a.value)
    method = getattr(str, func.attr)

    def passing(items: Sequence[str]) -> list:
        return list(compress(items, map(method, items, *map(repeat, values))))
    return passing


def strings_passing(test: Callable[[Sequence[str]], list], items: Sequence) -> list | None:
    """The items that pass `test` (string_test's), in order, filtered in C, when every
    item is a string; None when one is not or the test raises: the comprehension's
    general loop then evaluates the condition for each item (and raises the error at its
    position)."""
    if set(map(type, items)) != {str}:
        return None
    try:
        return test(items)
    except Exception:
        return None


def nested_loops(clauses: list, depth: int, inner: LoopScope, out, store: Callable,
                 steps: list[int], pos: Position) -> None:
    """The loop of clause `depth` of a comprehension (its clauses as evaluate.py compiles
    them: targets, iterable, conditions, node), the next clause's inside it, `store` at the
    innermost. A function of the module's, not a closure made per evaluation: a closure
    that calls itself is a reference cycle, kept (with all it reads) until the collector
    runs, which it does not while a Flowfile loads."""
    targets, iterable_fn, condition_fns, clause = clauses[depth]
    for item in loop_items(iterable_fn(inner), clause.iterable.pos):
        steps[0] += 1
        if steps[0] > MAX_ITEMS:
            raise FlowfileError(f"this comprehension would take more than {MAX_ITEMS} steps", pos)
        bind(inner, targets, item, clause.pos)
        if not all(fn(inner) for fn in condition_fns):
            continue
        if depth + 1 < len(clauses):
            nested_loops(clauses, depth + 1, inner, out, store, steps, pos)
        else:
            store(inner, out)
