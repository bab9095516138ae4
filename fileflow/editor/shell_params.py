"""Lint's FF111: a `params:` value that can hold a wildcard's text, put into a shell command
without `:q`. Params go into commands as written (file names and wildcards are quoted, params
are not), so a requested path such as `out/$(touch X).txt` would run as shell code.
`fileflow check` prints the same findings as warnings. Layer 2.

The rule model keeps no syntax, so the `params:` directive of each rule that needs looking
at is parsed again from its own lines: cheaper than parsing every Flowfile a second time.
"""
from __future__ import annotations

from collections.abc import Iterable

from fileflow.editor.lint import Finding, text_pos

__all__ = ["unquoted_wildcard_params"]

_NUMBERS = frozenset({"int", "float", "len", "bool", "round", "abs", "min", "max"})


def _carries_wildcards(node, s) -> bool:
    """Whether an expression's value can hold the text of a wildcard: `wildcards.x`,
    `"x" + wildcards.x`, `wildcards.x.upper()`, `"_".join([wildcards.a])`. A wildcard used
    only to look something up (`config.depth[wildcards.x]`, `config.get(wildcards.x)`),
    compared, or turned into a number does not count."""
    kind = type(node)
    if kind is s.Name:
        return node.id == "wildcards"
    if kind is s.Attribute:
        return _carries_wildcards(node.obj, s)
    if kind is s.Index:
        return _carries_wildcards(node.obj, s)
    if kind is s.Call:
        func = node.func
        if type(func) is s.Name and func.id in _NUMBERS:
            return False
        if type(func) is s.Attribute:
            if _carries_wildcards(func.obj, s):
                return True
            if func.attr == "get":
                return False  # a lookup: the value comes from the mapping
        return any(_carries_wildcards(a.value if type(a) is s.Keyword else a, s)
                   for a in (*node.args, *node.kwargs))
    if kind is s.Binary:
        return _carries_wildcards(node.left, s) or _carries_wildcards(node.right, s)
    if kind is s.Conditional:
        return _carries_wildcards(node.then, s) or _carries_wildcards(node.otherwise, s)
    if kind is s.BoolOp:
        return any(_carries_wildcards(v, s) for v in node.values)
    if kind is s.ListExpr:
        return any(_carries_wildcards(v, s) for v in node.items)
    if kind is s.DictExpr:
        return any(_carries_wildcards(k, s) or _carries_wildcards(v, s) for k, v in node.pairs)
    return False  # constants, numbers, comparisons, `not`


def _params_directive(rule, sources: dict, split: dict):
    """The syntax of a rule's `params:` directive, parsed again from its lines alone (the
    rule model keeps no syntax, and parsing a whole Flowfile again would cost more than all
    of check); None when it cannot be had."""
    from fileflow.errors import FlowfileError
    from fileflow.lang import syntax as s

    pos = rule.directive_pos.get("params")
    if pos is None or pos.path not in sources:
        return None
    lines = split.get(pos.path)
    if lines is None:
        lines = split[pos.path] = sources[pos.path].split("\n")
    later = [p.line for p in rule.directive_pos.values() if p.path == pos.path and p.line > pos.line]
    end = min(later) - 1 if later else len(lines)
    for number in range(pos.line, end):  # the rule ends at the next line that is not indented
        if lines[number][:1] not in ("", " ", "\t", "#"):
            end = number
            break
    text = "rule r:\n" + "\n".join(lines[pos.line - 1:end]) + "\n"
    try:
        module = s.parse_flowfile(text, pos.path)
    except (FlowfileError, RecursionError):
        return None
    decl = module.statements[0] if module.statements else None
    if not isinstance(decl, s.RuleDecl):
        return None
    return next((d for d in decl.directives if d.name == "params"), None)


def _params_from_wildcards(directive) -> tuple[set[str], set[int]]:
    """The names and indexes of the `params:` values that can hold a wildcard's text."""
    from fileflow.lang import syntax as s

    names: set[str] = set()
    indexes: set[int] = set()
    for index, arg in enumerate(directive.args):
        expr = arg.value if isinstance(arg, s.Keyword) else arg
        try:
            carries = _carries_wildcards(expr, s)
        except RecursionError:
            carries = False  # loading has said what it thinks of such an expression
        if carries:
            indexes.add(index)
            if isinstance(arg, s.Keyword):
                names.add(arg.name)
    return names, indexes


def _unquoted_params_fields(template) -> list:
    return [f for f in template.fields if f.name == "params" and f.spec != "q"]


def unquoted_wildcard_params(workflow, sources: dict) -> Iterable[Finding]:
    """FF111: `{params.x}` in a shell command, without `:q`, where `x` can hold the text of
    a wildcard: params go into the command as written, so a requested path such as
    `out/$(touch X).txt` would run as shell code. `sources` are the Flowfiles' texts by
    path. Also what `fileflow check` warns about."""
    from fileflow.lang.model import Lazy

    split: dict[str, list[str]] = {}  # path -> its lines
    for rule in workflow.rules:
        action = rule.action
        if (action is None or action.template is None
                or not isinstance(rule.params, Lazy)):  # params that read no wildcards are not Lazy
            continue
        fields = _unquoted_params_fields(action.template)
        directive = _params_directive(rule, sources, split) if fields else None
        if directive is None:
            continue
        names, indexes = _params_from_wildcards(directive)
        for field in fields:
            step = field.steps[0] if field.steps else None
            if not indexes or not (step is None or step in names
                                   or (isinstance(step, int) and step in indexes)):
                continue
            quoted = field.text[:-1] + ":q}" if field.spec == "" else field.text.replace(":raw}", ":q}")
            yield Finding(text_pos(sources, action.pos, field.text), "FF111",
                          f"'{field.text}' in the shell command of rule '{rule.name}' inserts a value "
                          "made from wildcards unquoted: a requested file name such as "
                          "'out/$(touch X).txt' would run as shell code",
                          f"write {quoted}")
