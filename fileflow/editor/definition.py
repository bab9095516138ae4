"""Where the thing under the cursor is defined: go to definition. Layer 2."""
from __future__ import annotations

import os
from typing import NamedTuple

from fileflow.editor.analysis import Analysis, Span, span_of
from fileflow.editor.lookup import (
    assignment_for,
    import_target,
    imported_function,
    named_entry,
    place_at,
    rule_decl,
    rule_strings,
    string_field_at,
)
from fileflow.errors import Position
from fileflow.lang import syntax as s

__all__ = ["Location", "definition"]


class Location(NamedTuple):
    path: str
    span: Span


def definition(result: Analysis, line: int, column: int) -> list[Location]:
    """Where the thing under the cursor is defined: the rule whose output makes a path, the
    assignment of a name, the `def` of an imported Python function, the rule a name in
    ruleorder/localrules/default refers to, the file an include/script/configfile/import names."""
    place = place_at(result, line, column)
    if place is None or not place.chain:
        return []
    node = place.chain[-1]
    directive = place.directive.name if place.directive else ""
    if isinstance(node, s.Name):
        if directive in ("ruleorder", "localrules"):
            return _rule_locations(result, node.id)
        function = imported_function(result, node.id)
        if function is not None:   # into the Python file, at its `def`
            line = max(function.line, 1)
            return [Location(function.file, Span(line, 1, line, 1))] if os.path.isfile(function.file) else []
        assignment = assignment_for(result, node.id, node.pos.line)
        if assignment is not None:
            return [Location(result.path, span_of(assignment.pos))]
        where = result.workflow.names.get(node.id) if result.workflow is not None else None
        return [Location(where.path, span_of(where))] if where else []
    if not (isinstance(node, s.Const) and isinstance(node.value, str)):
        return []
    value = node.value
    if isinstance(place.statement, s.ImportFrom):
        target = import_target(result, place.statement)
        return [Location(target, Span(1, 1, 1, 1))] if os.path.isfile(target) else []
    if directive in ("include", "script", "conda"):  # conda: an environment file
        base = os.path.dirname(os.path.abspath(result.path))
        target = os.path.join(base, value)
        return [Location(target, Span(1, 1, 1, 1))] if os.path.isfile(target) else []
    if directive == "configfile":
        target = os.path.join(result.workdir, value)
        return [Location(target, Span(1, 1, 1, 1))] if os.path.isfile(target) else []
    if directive in ("shell", "message") and isinstance(place.statement, s.RuleDecl):
        found = string_field_at(result, node, line, column)   # {input.reads} -> reads = ...
        entry = named_entry(place.statement, found[0].split(":")[0]) if found else None
        return [Location(result.path, span_of(entry.pos))] if entry is not None else []
    if directive in ("output", "shell", "message", "params", "wildcard_constraints",
                     "envmodules"):
        return []
    if directive == "default" and _rule_locations(result, value):
        return _rule_locations(result, value)
    return [Location(path, span) for path, span in _producers(result, value)]


def _rule_locations(result: Analysis, name: str) -> list[Location]:
    decl = rule_decl(result, name)
    if decl is not None:
        return [Location(result.path, span_of(decl.pos))]
    rule = result.workflow.by_name.get(name) if result.workflow is not None else None
    return [Location(rule.pos.path, span_of(rule.pos))] if rule is not None else []


def _producers(result: Analysis, path_text: str) -> list[tuple[str, Span]]:
    """The rules whose output pattern can make `path_text` (a path, or a pattern whose
    wildcards are filled with a sample value), as the places of their names."""
    from fileflow.patterns import PatternError, parse_pattern

    try:
        wanted = parse_pattern(path_text)
        sample = wanted.format({w: "x" for w in wanted.wildcards}) if wanted.wildcards else wanted.text
    except (PatternError, KeyError, ValueError):
        return []
    found: dict[tuple, None] = {}
    here = os.path.realpath(result.path)
    local = {st.name: st for st in result.statements if isinstance(st, s.RuleDecl)}
    candidates: list[tuple[str, Position]] = []   # (output pattern, the rule's name)
    for decl in local.values():
        candidates.extend((text, decl.pos) for text, _ in rule_strings(decl, "output"))
    if result.workflow is not None:   # evaluated outputs, and the rules of included files
        for rule in result.workflow.rules:
            mine = rule.name in local and os.path.realpath(rule.pos.path) == here
            pos = local[rule.name].pos if mine else rule.pos
            candidates.extend((o.pattern.text, pos) for o in rule.outputs)
    for text, pos in candidates:
        try:
            pattern = parse_pattern(text)
        except PatternError:
            continue
        if pattern.match(sample) is not None:
            found[(pos.path, span_of(pos))] = None
    return list(found)
