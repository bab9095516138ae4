"""Expressions of the Flowfile language: compiled once into Python closures, then evaluated
against a scope (a dict of names). Layer 1.

Expressions are evaluated at load time when they can be, and per job when they depend on
`wildcards` (or on `attempt`, in resources), like Snakemake's input functions. Every error
is a FlowfileError at the position of the offending sub-expression.
"""
from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping

from fileflow.errors import FlowfileError, Position
from fileflow.lang import syntax as s
from fileflow.lang.builtins import BuiltinError
from fileflow.lang.comprehension_loop import (
    LoopScope,
    loop_items,
    loop_scope,
    nested_loops,
    string_test,
    strings_passing,
)
from fileflow.lang.value_checks import (
    check_format,
    check_membership,
    check_method_size,
    check_nested,
    check_operands,
    clean_type_error,
)
from fileflow.lang.values import (
    MAX_ITEMS,
    Attributed,
    Flagged,
    Record,
    a_type,
    closest,
)

__all__ = ["compile_expr", "fstring_text", "get_attribute", "UndefinedName", "METHODS"]

Compiled = Callable[[Mapping[str, object]], object]

# Methods callable on values (`config.get("x", 1)`, `name.replace("a", "b")`).
METHODS = {
    str: {"replace", "split", "strip", "lstrip", "rstrip", "lower", "upper", "startswith",
          "endswith", "join", "format", "removeprefix", "removesuffix"},
    Record: {"get", "keys", "values", "items"},
    dict: {"get", "keys", "values", "items"},
    list: {"index", "count"},
    tuple: {"index", "count"},
}

# ---------------------------------------------------------------- compiler

_BINARY = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
           "//": operator.floordiv, "%": operator.mod}
_BINARY_WORDS = {"+": "add", "-": "subtract", "*": "multiply", "/": "divide", "//": "divide",
                 "%": "take the remainder of"}
_COMPARE = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
            ">": operator.gt, ">=": operator.ge,
            "in": lambda a, b: a in b, "not in": lambda a, b: a not in b}


class UndefinedName(FlowfileError):
    """`name 'X' is not defined`; the loader may add where X is defined later."""

    def __init__(self, name: str, pos: Position, hint: str = ""):
        super().__init__(f"name '{name}' is not defined", pos, hint)
        self.name = name


def _error(message: str, pos: Position, hint: str = "") -> FlowfileError:
    return FlowfileError(message, pos, hint=hint)


def compile_expr(node, builtins: Mapping[str, Callable]) -> Compiled:
    """Compile an expression node into `fn(scope) -> value`."""
    compile_node = _COMPILERS.get(type(node))
    if compile_node is None:
        raise _error(f"unsupported expression {type(node).__name__}", node.pos)
    return compile_node(node, builtins)


# One compiler per node kind; each returns the closure that evaluates the node. The closures
# run for every job that reads wildcards: they keep to local names and plain calls.

def _compile_const(node: s.Const, builtins: Mapping[str, Callable]) -> Compiled:
    value = node.value
    return lambda scope: value


def _compile_name(node: s.Name, builtins: Mapping[str, Callable]) -> Compiled:
    ident, pos = node.id, node.pos

    def name(scope):
        try:
            return scope[ident]
        except KeyError:
            pass
        if ident in builtins:
            raise _error(f"'{ident}' is a function; call it as {ident}(...)", pos)
        if ident in ("wildcards", "attempt"):
            raise _error(f"'{ident}' is only known inside a rule's directives "
                         "(they are evaluated for each job)", pos)
        raise UndefinedName(ident, pos, _name_hint(ident, scope))
    return name


def _compile_attribute(node: s.Attribute, builtins: Mapping[str, Callable]) -> Compiled:
    obj_fn = compile_expr(node.obj, builtins)
    attr, pos = node.attr, node.pos

    def attribute(scope):
        obj = obj_fn(scope)
        return get_attribute(obj, attr, pos)
    return attribute


def _compile_index(node: s.Index, builtins: Mapping[str, Callable]) -> Compiled:
    if type(node.key) is s.Slice:
        return _compile_slice(node, node.key, builtins)
    obj_fn, key_fn = compile_expr(node.obj, builtins), compile_expr(node.key, builtins)
    pos = node.pos

    def index(scope):
        obj, key = obj_fn(scope), key_fn(scope)
        try:
            return obj[key]
        except KeyError:
            if isinstance(obj, Record):
                raise _missing_key(obj, key, pos) from None
            hint = closest(str(key), map(str, obj)).lstrip("; ")
            raise _error(f"key {key!r} not found", pos, hint) from None
        except IndexError:
            raise _error(f"index {key} is out of range (the list has {len(obj)} items)", pos) from None
        except TypeError:
            raise _error(f"cannot index {a_type(obj)} with {a_type(key)}", pos) from None
    return index


def _compile_slice(node: s.Index, key: s.Slice, builtins: Mapping[str, Callable]) -> Compiled:
    obj_fn = compile_expr(node.obj, builtins)
    part_fns = [None if part is None else compile_expr(part, builtins)
                for part in (key.lower, key.upper, key.step)]
    pos = node.pos

    def slice_(scope):
        obj = obj_fn(scope)
        if not isinstance(obj, (list, tuple, str)):
            raise _error(f"cannot slice {a_type(obj)}: slices take a list or a string", pos)
        bounds = [None if fn is None else fn(scope) for fn in part_fns]
        for value in bounds:
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise _error(f"a slice's bounds and step are whole numbers, not {a_type(value)}",
                             key.pos)
        if bounds[2] == 0:
            raise _error("a slice's step cannot be zero", key.pos)
        return obj[bounds[0]:bounds[1]:bounds[2]]
    return slice_


def _compile_binary(node: s.Binary, builtins: Mapping[str, Callable]) -> Compiled:
    left_fn, right_fn = compile_expr(node.left, builtins), compile_expr(node.right, builtins)
    op, op_fn = node.op, _BINARY[node.op]
    pos = node.pos

    def binary(scope):
        a, b = left_fn(scope), right_fn(scope)
        check_operands(op, a, b, pos)
        try:
            return op_fn(a, b)
        except ZeroDivisionError:
            raise _error("division by zero", pos) from None
        except TypeError:
            hint = "convert with str(...) or int(...) first" if str in (type(a), type(b)) else ""
            raise _error(f"cannot {_BINARY_WORDS[op]} {a_type(a)} and {a_type(b)} "
                         f"with '{op}'", pos, hint) from None
    return binary


def _compile_unary(node: s.Unary, builtins: Mapping[str, Callable]) -> Compiled:
    operand_fn = compile_expr(node.operand, builtins)
    negate = node.op == "-"
    pos = node.pos

    def unary(scope):
        v = operand_fn(scope)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise _error(f"cannot apply '{node.op}' to {a_type(v)}", pos)
        return -v if negate else v
    return unary


def _compile_not(node: s.Not, builtins: Mapping[str, Callable]) -> Compiled:
    operand_fn = compile_expr(node.operand, builtins)
    return lambda scope: not operand_fn(scope)


def _compile_bool_op(node: s.BoolOp, builtins: Mapping[str, Callable]) -> Compiled:
    fns = [compile_expr(v, builtins) for v in node.values]
    if node.op == "and":
        def and_(scope):
            value = True
            for fn in fns:
                value = fn(scope)
                if not value:
                    return value
            return value
        return and_

    def or_(scope):
        value = False
        for fn in fns:
            value = fn(scope)
            if value:
                return value
        return value
    return or_


def _compile_compare(node: s.Compare, builtins: Mapping[str, Callable]) -> Compiled:
    left_fn = compile_expr(node.left, builtins)
    steps = [(op, _COMPARE[op], compile_expr(r, builtins)) for op, r in zip(node.ops, node.rights)]
    pos = node.pos

    def compare(scope):
        a = left_fn(scope)
        for op, op_fn, right_fn in steps:
            b = right_fn(scope)
            if op == "in" or op == "not in":
                check_membership(op, a, b, pos)
            try:
                if not op_fn(a, b):
                    return False
            except TypeError:
                raise _error(f"cannot compare {a_type(a)} and {a_type(b)} with '{op}'",
                             pos) from None
            a = b
        return True
    return compare


def _compile_conditional(node: s.Conditional, builtins: Mapping[str, Callable]) -> Compiled:
    cond_fn = compile_expr(node.cond, builtins)
    then_fn = compile_expr(node.then, builtins)
    else_fn = compile_expr(node.otherwise, builtins)
    return lambda scope: then_fn(scope) if cond_fn(scope) else else_fn(scope)


def _compile_list(node: s.ListExpr, builtins: Mapping[str, Callable]) -> Compiled:
    fns = [compile_expr(i, builtins) for i in node.items]
    pos = node.pos

    def list_(scope):
        out = [fn(scope) for fn in fns]
        check_nested(out, pos)
        return out
    return list_


def _compile_dict(node: s.DictExpr, builtins: Mapping[str, Callable]) -> Compiled:
    pairs = [(compile_expr(k, builtins), compile_expr(v, builtins)) for k, v in node.pairs]
    pos = node.pos

    def dict_(scope):
        out = Record(label="dict")
        for kf, vf in pairs:
            key = kf(scope)
            if not isinstance(key, (str, int, float, bool)):
                raise _error(f"a dict key must be a string or a number, not {a_type(key)}", pos)
            out[key] = vf(scope)
        check_nested(out, pos)
        return out
    return dict_


def _compile_tuple(node: s.TupleExpr, builtins: Mapping[str, Callable]) -> Compiled:
    fns = [compile_expr(i, builtins) for i in node.items]
    pos = node.pos

    def tuple_(scope):
        out = tuple(fn(scope) for fn in fns)
        check_nested(out, pos)
        return out
    return tuple_


def _compile_comprehension(node: s.ListComp | s.DictComp, builtins: Mapping[str, Callable]) -> Compiled:
    """A list or dict comprehension: the clauses' loops nested, the first outermost, each
    name bound in a scope of the comprehension's own. Every step of every loop counts
    towards MAX_ITEMS, as the items a list holds do."""
    first = node.clauses[0]
    # One clause with one name, the common case: the loop of nested_loops flattened.
    simple = len(node.clauses) == 1 and len(first.targets) == 1
    # `[s for s in ...]`: the element is the item itself
    element_is_target = (type(node) is s.ListComp and type(node.element) is s.Name
                         and node.element.id == first.targets[0])
    # `[s for s in S if s.endswith("1")]`: the items filtered in C when they are strings.
    # Such a condition cannot fail to compile: it is compiled only for items that are not.
    test = (string_test(first.conditions[0], first.targets[0])
            if simple and element_is_target and len(first.conditions) == 1 else None)
    clauses = []  # (loops, not comprehensions: a call each, and most have one clause)
    for c in node.clauses:
        iterable_fn, condition_fns = compile_expr(c.iterable, builtins), []
        if test is None:
            for x in c.conditions:
                condition_fns.append(compile_expr(x, builtins))
        clauses.append((c.targets, iterable_fn, condition_fns, c))
    is_dict = isinstance(node, s.DictComp)
    if isinstance(node, s.DictComp):
        key_fn, value_fn = compile_expr(node.key, builtins), compile_expr(node.value, builtins)
        key_pos = node.key.pos
    else:
        element_fn = compile_expr(node.element, builtins)
    pos = node.pos

    def store(inner: LoopScope, out) -> None:
        """The innermost step: the element (or key and value) kept."""
        if is_dict:
            key = key_fn(inner)
            if not isinstance(key, (str, int, float, bool)):
                raise _error(f"a dict key must be a string or a number, not {a_type(key)}",
                             key_pos)
            out[key] = value_fn(inner)
        else:
            out.append(element_fn(inner))

    simple_loop = _simple_loop(clauses[0], element_is_target, test, store, pos, builtins)

    def comprehension(scope):
        # The loop's names over the enclosing ones, which are read through, not copied: a
        # job's scope holds only its own names over the Flowfile's (model.Lazy)
        inner = loop_scope(scope)
        out: list | Record = Record(label="dict") if is_dict else []
        if not simple:
            nested_loops(clauses, 0, inner, out, store, [0], pos)
        elif simple_loop(inner, out):
            return out  # strings only, fewer than MAX_ITEMS: nothing nested to count
        check_nested(out, pos)
        return out
    return comprehension


def _simple_loop(clause: tuple, element_is_target: bool, test: Callable | None,
                 store: Callable, pos: Position, builtins: Mapping[str, Callable]) -> Callable:
    """The loop of a comprehension of one clause with one name: `loop(inner, out)`, True
    when its items were strings that `test` filtered (all of `out`)."""
    targets, iterable_fn, condition_fns, node = clause
    target = targets[0]

    def simple_loop(inner: LoopScope, out) -> bool:
        items = loop_items(iterable_fn(inner), node.iterable.pos)
        head = items[:MAX_ITEMS] if len(items) > MAX_ITEMS else items
        kept = strings_passing(test, head) if test is not None else None
        if kept is not None:
            out += kept
            if len(items) < MAX_ITEMS:
                return True
            head = ()
        elif test is not None and head and not condition_fns:  # compiled once, if ever
            condition_fns.append(compile_expr(node.conditions[0], builtins))
        for item in head:
            inner[target] = item
            for fn in condition_fns:
                if not fn(inner):
                    break
            else:
                if element_is_target:
                    out.append(item)
                else:
                    store(inner, out)
        if len(items) > MAX_ITEMS:  # as nested_loops: after the steps allowed
            raise _error(f"this comprehension would take more than {MAX_ITEMS} steps", pos)
        return False
    return simple_loop


def fstring_text(node: s.FString) -> str | None:
    """The value of an f-string without fields (`f"out/{{sample}}.txt"`): text only, known
    without evaluating it and never an error; None when it has a field."""
    parts = node.parts
    for part in parts:
        if type(part) is not s.Const:
            return None
    if len(parts) == 1:  # `f"out/{{sample}}.txt"`: one part, without a comprehension's call
        return parts[0].value  # type: ignore[return-value]  # Const parts: text
    return "".join([part.value for part in parts])  # type: ignore[misc]


def _compile_fstring(node: s.FString, builtins: Mapping[str, Callable]) -> Compiled:
    text = fstring_text(node)
    if text is not None:
        return lambda scope: text
    to_text = builtins["str"]
    parts: list = []
    for part in node.parts:
        if isinstance(part, s.Const):
            parts.append(part.value)
        else:
            if part.spec and any(int(n) > 1000 for n in re.findall(r"\d+", part.spec)):
                raise _error(f"the width in '{{...:{part.spec}}}' is too large", part.pos)
            parts.append((compile_expr(part.value, builtins), part.spec, part.pos))
    pos = node.pos

    def fstring(scope):
        out = []
        size = 0
        for part in parts:
            if type(part) is str:
                out.append(part)
                size += len(part)
                continue
            fn, spec, part_pos = part
            value = fn(scope)
            if spec:
                if isinstance(value, Flagged):
                    value = value.path
                try:
                    text = format(value, spec)
                except (TypeError, ValueError) as exc:
                    raise _error(f"cannot format {a_type(value)} with '{spec}': {exc}",
                                 part_pos) from None
            elif type(value) is str:  # as str() gives it back
                text = value
            else:
                try:
                    text = to_text(value)
                except BuiltinError as exc:
                    raise _error(str(exc), part_pos) from None
            out.append(text)
            size += len(text)
            if size > MAX_ITEMS:
                raise _error(f"this f-string would make more than {MAX_ITEMS} characters", pos)
        return "".join(out)
    return fstring


def _compile_call(node: s.Call, builtins: Mapping[str, Callable]) -> Compiled:
    pos = node.pos
    arg_fns = []
    for a in node.args:  # (a loop, not a comprehension: a call saved, most calls have few)
        arg_fns.append(compile_expr(a, builtins))
    kw_fns: list[tuple[str, Compiled]] = []
    if node.kwargs:  # (most calls have none: no comprehension, no set)
        kw_fns = [(k.name, compile_expr(k.value, builtins)) for k in node.kwargs]
        seen = set()
        for k in node.kwargs:
            if k.name in seen:
                raise _error(f"keyword argument '{k.name}' given twice", k.pos)
            seen.add(k.name)

    if isinstance(node.func, s.Name):
        return _compile_function_call(node, node.func.id, arg_fns, kw_fns, builtins)
    if isinstance(node.func, s.Attribute):
        return _compile_method_call(node, node.func, arg_fns, kw_fns, builtins)
    raise _error("only functions and methods can be called", pos)


def _compile_function_call(node: s.Call, fname: str, arg_fns: list[Compiled],
                           kw_fns: list[tuple[str, Compiled]],
                           builtins: Mapping[str, Callable]) -> Compiled:
    """A call of a builtin or helper function by name: `f(a, k=b)`."""
    pos = node.pos
    if fname not in builtins:
        raise _error(f"unknown function '{fname}'", node.func.pos,
                     ("available functions: " + ", ".join(sorted(builtins)))
                     if not closest(fname, builtins) else closest(fname, builtins)[2:])
    fn = builtins[fname]
    if fname == "expand":
        _check_expand_arguments(node)

    if len(arg_fns) == 1 and not kw_fns:  # the common case, kept cheap for per-job calls
        only = arg_fns[0]

        def call(scope):
            arg = only(scope)
            try:
                return fn(arg)
            except BuiltinError as exc:
                raise _error(str(exc), pos) from None
            except TypeError as exc:
                raise _error(f"{fname}(): {clean_type_error(exc)}", pos) from None
        return call

    def call_many(scope):
        args = [f(scope) for f in arg_fns]
        kwargs = {k: f(scope) for k, f in kw_fns} if kw_fns else None
        try:
            return fn(*args, **kwargs) if kwargs is not None else fn(*args)
        except BuiltinError as exc:
            raise _error(str(exc), pos) from None
        except TypeError as exc:  # wrong keywords for a builtin
            raise _error(f"{fname}(): {clean_type_error(exc)}", pos) from None
    return call_many


def _compile_method_call(node: s.Call, func: s.Attribute, arg_fns: list[Compiled],
                         kw_fns: list[tuple[str, Compiled]],
                         builtins: Mapping[str, Callable]) -> Compiled:
    """A call of a value's method: `x.m(a)`, among the methods its type allows."""
    pos = node.pos
    obj_fn = compile_expr(func.obj, builtins)
    method = func.attr

    sized = method in ("join", "replace", "format")
    listed = method in ("keys", "values", "items", "split")
    # A string's method that makes nothing large (`s.endswith("1")` in a comprehension's
    # condition, run for every item): called without the general path's steps.
    plain_str = method in METHODS[str] and not sized and not listed and not kw_fns
    # Arguments written as literals are passed as they are, not evaluated each time.
    literals = [a.value for a in node.args if type(a) is s.Const]
    fixed_args = tuple(literals) if len(literals) == len(node.args) else None

    def method_call(scope):
        obj = obj_fn(scope)
        if plain_str and type(obj) is str:
            try:
                result = getattr(obj, method)(
                    *(fixed_args if fixed_args is not None else [f(scope) for f in arg_fns]))
            except (TypeError, ValueError, IndexError, KeyError) as exc:
                raise _error(f"{method}(): {clean_type_error(exc)}", pos) from None
            if type(result) is str and len(result) > MAX_ITEMS:
                raise _error(f"{method}() would make a string of {len(result)} characters "
                             f"(at most {MAX_ITEMS})", pos)
            return result
        if isinstance(obj, Attributed):
            allowed = obj.methods
        else:
            allowed = METHODS.get(type(obj))  # the value's own type: most are plain ones
            if allowed is None:
                allowed = next((names for t, names in METHODS.items() if isinstance(obj, t)), set())
        if method not in allowed:
            raise _error(f"{a_type(obj)} has no method '{method}'", func.pos,
                         ("methods: " + ", ".join(sorted(allowed))) if allowed else "")
        args = [f(scope) for f in arg_fns]
        kwargs = {k: f(scope) for k, f in kw_fns} if kw_fns else {}
        if sized:
            if method == "format":
                check_format(obj, pos)
            check_method_size(obj, method, args, kwargs, pos)
        try:
            result = getattr(obj, method)(*args, **kwargs)
        except (TypeError, ValueError, IndexError, KeyError) as exc:
            raise _error(f"{method}(): {clean_type_error(exc)}", pos) from None
        if isinstance(result, str) and len(result) > MAX_ITEMS:
            raise _error(f"{method}() would make a string of {len(result)} characters "
                         f"(at most {MAX_ITEMS})", pos)
        return list(result) if listed else result
    return method_call


_COMPILERS: dict[type, Callable[..., Compiled]] = {
    s.Const: _compile_const, s.Name: _compile_name, s.Attribute: _compile_attribute,
    s.Index: _compile_index, s.Binary: _compile_binary, s.Unary: _compile_unary,
    s.Not: _compile_not, s.BoolOp: _compile_bool_op, s.Compare: _compile_compare,
    s.Conditional: _compile_conditional, s.ListExpr: _compile_list, s.DictExpr: _compile_dict,
    s.Call: _compile_call, s.TupleExpr: _compile_tuple, s.ListComp: _compile_comprehension,
    s.DictComp: _compile_comprehension, s.FString: _compile_fstring,
}


def _check_expand_arguments(node: s.Call) -> None:
    """Snakemake's positional `zip` (`expand(pattern, zip, a=A, b=B)`) is a keyword here."""
    for arg in node.args:
        if type(arg) is s.Name and arg.id in ("zip", "product"):
            raise _error(f"expand() takes '{arg.id}' as a keyword, not as a value", arg.pos,
                         "write zip=true to pair the lists' values one by one (the default "
                         "combines every value with every other)")


def get_attribute(obj: object, attr: str, pos: Position) -> object:
    if isinstance(obj, dict):
        try:
            return obj[attr]
        except KeyError:
            raise _missing_key(obj, attr, pos) from None
    if isinstance(obj, Attributed):
        return obj.attribute(attr, pos)
    raise _error(f"{a_type(obj)} has no attribute '{attr}'", pos)


def _missing_key(obj: dict, key: object, pos: Position) -> FlowfileError:
    label = obj.label if isinstance(obj, Record) else "dict"
    keys = [str(k) for k in obj]
    if label == "wildcards":
        shown = ", ".join(keys) if keys else "none"
        return _error(f"no wildcard '{key}' (this job's wildcards: {shown})", pos)
    hint = closest(str(key), keys)[2:] or (f"keys: {', '.join(keys[:10])}" if keys else f"{label} is empty")
    return _error(f"{label} has no key '{key}'", pos, hint)


def _name_hint(ident: str, scope: Mapping[str, object]) -> str:
    guess = closest(ident, [k for k in scope if not k.startswith("_")])
    if guess:
        return guess[2:]
    return "define it above this line (names are defined in order)"
