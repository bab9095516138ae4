"""The directives of the language: which exist at the top level and in a rule, which job
names a per-job directive may read, and the checks of directive values that loading and
per-job evaluation share. Layer 1.
"""
from __future__ import annotations

import operator
from itertools import repeat

from fileflow.errors import FlowfileError, Position
from fileflow.lang import syntax as s
from fileflow.lang.model import Action, Rule
from fileflow.lang.values import Flagged, Unpacked, a_type
from fileflow.patterns import regex_problem
from fileflow.printable import not_utf8
from fileflow.template import Items, TemplateError, parse_template, value_text

__all__ = ["RULE_DIRECTIVES", "TOP_DIRECTIVES", "RULE_DIRECTIVE_ORDER", "ACTIONS", "JOB_NAMES",
           "JOB_NAMES_DEFAULT", "flatten_files", "unpacked", "check_int", "check_resource",
           "check_constraints", "check_path_text", "check_script_params", "HOOKS", "HOOK_FIELDS",
           "hook_action"]

RULE_DIRECTIVES = ("input", "output", "params", "log", "threads", "resources", "retries",
                   "timeout", "retry_delay", "retry_backoff", "priority", "message",
                   "wildcard_constraints", "group", "conda", "envmodules", "shell", "script",
                   "benchmark")
TOP_DIRECTIVES = ("configfile", "configschema", "include", "localrules", "ruleorder",
                  "wildcard_constraints", "default", "storage", "onstart", "onsuccess",
                  "onerror")
HOOKS = ("onstart", "onsuccess", "onerror")
# The fields a hook's command may use: the run's summary file and the run's id.
HOOK_FIELDS = ("log", "run_id")
# The order of docs/language.md's "Rule directives": fmt writes a rule's directives in it.
RULE_DIRECTIVE_ORDER = ("input", "output", "log", "benchmark", "params", "threads", "resources",
                        "retries", "timeout", "retry_delay", "retry_backoff", "priority",
                        "message", "wildcard_constraints", "group", "conda", "envmodules", "shell",
                        "script")
ACTIONS = ("shell", "script")
# Names a per-job expression may read, by directive.
JOB_NAMES = {"resources": ("wildcards", "attempt", "threads"), "threads": ("wildcards", "attempt")}
JOB_NAMES_DEFAULT = ("wildcards", "checkpoints")


_NO_FLAGS: frozenset[str] = frozenset()


def unpacked(pairs, pos: Position) -> list[tuple[str | None, object]]:
    """A directive's (name, value) pairs with each `unpack(...)` replaced by its entries."""
    for _, v in pairs:  # (a loop, not any(...): most hold one pair)
        if isinstance(v, Unpacked):
            break
    else:
        return pairs
    out: list[tuple[str | None, object]] = []
    for name, value in pairs:
        if not isinstance(value, Unpacked):
            out.append((name, value))
        elif name is not None:
            raise FlowfileError(f"'{name} = unpack(...)': unpack() gives the names itself", pos,
                                "write it without a name: input: unpack(...)")
        else:
            out.extend(value.items)
    return out


def flatten_files(value, pos: Position, directive: str):
    """Nested lists of paths -> [(path, flags)] in order (a stack, reversed: no recursion)."""
    if type(value) is str:  # one path, as a helper function returns it
        check_path_text(value, directive, pos)
        return [(value, _NO_FLAGS)]
    if type(value) is list and all([type(v) is str for v in value]):
        if any(map(operator.contains, value, repeat("\x00"))):  # one scan in C
            check_path_text(next(v for v in value if "\x00" in v), directive, pos)
        if not all(map(str.isascii, value)):  # each answered without a scan
            for v in value:
                check_path_text(v, directive, pos)
        return [(v, _NO_FLAGS) for v in value]  # the usual expand() result, in one pass
    stack = [value]
    out = []
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            check_path_text(v, directive, pos)
            out.append((v, _NO_FLAGS))
        elif isinstance(v, Flagged):
            check_path_text(v.path, directive, pos)
            out.append((v.path, v.flags))
        elif isinstance(v, (list, tuple)):
            stack.extend(reversed(v))
        else:
            raise FlowfileError(f"{directive} entries must be file paths (strings), not {a_type(v)}", pos)
    return out


def check_path_text(path: str, what: str, pos: Position | None) -> None:
    """A path with a NUL byte names no file: no operating system call takes one. A path
    that is not UTF-8 text (a lone surrogate) can be neither opened nor kept in the run log."""
    if "\x00" in path:
        raise FlowfileError(f"{what} path {path!r} contains a NUL byte; no file name can hold one",
                            pos)
    bad = not_utf8(path)
    if bad is not None:
        raise FlowfileError(f"{what} path {path!r} is not UTF-8 text (it holds {bad!r}); "
                            "fileflow reads and records paths as UTF-8", pos)


def check_script_params(rule: Rule, params: Items) -> None:
    """A script is given its params in environment variables (FILEFLOW_PARAMS_NAME) and a
    job file: no text of them may hold a NUL byte or a character UTF-8 cannot encode."""
    if not params.values or rule.action is None or rule.action.kind != "script":
        return
    for name, value in zip(params.names, params.values):
        text = value_text(value, quote=False)
        bad = "\x00" if "\x00" in text else not_utf8(text)
        if bad is not None:
            shown = f"param {name!r}" if name else "a param"
            raise FlowfileError(f"{shown} of rule '{rule.name}' holds {bad!r}, which a script "
                                "cannot be given (in an environment variable or its job file)",
                                rule.directive_pos.get("params"))


def check_int(value, directive: str, minimum: int | None, pos: Position) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise FlowfileError(f"'{directive}:' takes a whole number, not {a_type(value)}", pos)
    if minimum is not None and value < minimum:
        raise FlowfileError(f"'{directive}:' must be at least {minimum}, got {value}", pos)


def check_resource(name: str, value, pos: Position | None) -> None:
    if name in ("mem_mb", "runtime", "disk_mb", "mem_mb_per_cpu"):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise FlowfileError(f"resource '{name}' must be a non-negative number, got {value!r}", pos)
    elif not isinstance(value, (str, int, float, bool)) and value is not None:
        raise FlowfileError(f"resource '{name}' must be a number or a string, not {a_type(value)}", pos)


def hook_action(d: s.Directive, evaluate, earlier) -> Action:
    """`onsuccess: shell="mail -s done me < {log}"`: the hook's command, its fields checked."""
    arg = d.args[0] if len(d.args) == 1 else None
    if not isinstance(arg, s.Keyword) or arg.name != "shell":
        raise FlowfileError(f"'{d.name}:' takes one shell command: {d.name}: shell=\"...\"",
                            d.pos, "the command may use {log} (the run's summary file) and "
                                   "{run_id}")
    if earlier is not None:
        raise FlowfileError(f"'{d.name}:' is given twice", d.pos,
                            f"first given at line {earlier.pos.line}")
    text = evaluate(arg.value)
    if not isinstance(text, str):
        raise FlowfileError(f"'{d.name}:' takes a command string, not {a_type(text)}",
                            arg.value.pos)
    try:
        template = parse_template(text, HOOK_FIELDS)
    except TemplateError as exc:
        raise FlowfileError(f"in '{d.name}:': {exc.args[0]}", arg.value.pos, exc.hint) from None
    return Action("shell", text, template, d.pos)


def check_constraints(d: s.Directive, evaluate) -> dict[str, str]:
    """The name="regex" pairs of a wildcard_constraints: directive, each regex checked."""
    out = {}
    for arg in d.args:
        if not isinstance(arg, s.Keyword):
            raise FlowfileError("'wildcard_constraints:' takes name=\"regex\" pairs", arg.pos)
        value = evaluate(arg.value)
        if not isinstance(value, str):
            raise FlowfileError(f"constraint for '{arg.name}' must be a regex string", arg.value.pos)
        problem = regex_problem(value)
        if problem:
            raise FlowfileError(f"bad regex for wildcard '{arg.name}': {problem}", arg.value.pos)
        out[arg.name] = value
    return out
