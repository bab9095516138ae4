"""What the thing under the cursor is: a rule, a directive, a builtin, a variable, a
wildcard in a pattern or a command, or a field of a command. Layer 2.
"""
from __future__ import annotations

import os
import re
from typing import NamedTuple

from fileflow.editor.analysis import Analysis, Span, node_end, source_text, span_of, statement_at
from fileflow.editor.language_docs import (
    BUILTIN_DOCS,
    DIRECTIVE_DOCS,
    FIELD_DOCS,
    MODULE_DOC,
    MODULE_DOCS,
    USE_RULE_DOC,
)
from fileflow.editor.lookup import (
    Place,
    assignment_for,
    contains,
    imported_function,
    named_entry,
    place_at,
    rule_decl,
    rule_strings,
    string_field_at,
    wildcards_of,
)
from fileflow.lang import syntax as s

__all__ = ["HoverText", "hover"]


class HoverText(NamedTuple):
    markdown: str
    span: Span


def hover(result: Analysis, line: int, column: int) -> HoverText | None:
    """What the thing under the cursor is: a rule, a directive, a builtin, a variable, a
    wildcard in a pattern or a command, or a field of a command."""
    stmt = statement_at(result, line)
    if stmt is None:
        return None
    if isinstance(stmt, s.RuleDecl) and contains(stmt.pos, line, column):
        return HoverText(_rule_text(result, stmt.name), span_of(stmt.pos))
    if isinstance(stmt, s.UseRule | s.ModuleDecl) and line == stmt.pos.line:
        return _reuse_hover(result, stmt, column)
    if isinstance(stmt, s.Assignment) and contains(stmt.pos, line, column):
        return HoverText(_variable_text(result, stmt), span_of(stmt.pos))
    place = place_at(result, line, column)
    if place is None:
        return None
    if place.directive is not None and contains(place.directive.pos, line, column):
        name = place.directive.name
        where = "rule directive" if isinstance(stmt, s.RuleDecl | s.UseRule) else "top-level directive"
        doc = DIRECTIVE_DOCS.get(name, "not a fileflow directive")
        if isinstance(stmt, s.ModuleDecl):
            where, doc = "module setting", MODULE_DOCS.get(name, "not a module setting")
        return HoverText(f"**`{name}:`** ({where})\n\n{doc}", span_of(place.directive.pos))
    if not place.chain:
        return None
    node = place.chain[-1]
    if isinstance(node, s.Name):
        return _name_hover(result, place, node)
    if isinstance(node, s.Attribute) and isinstance(node.obj, s.Name) and node.obj.id == "rules":
        text = _rule_text(result, node.attr)  # rules.NAME: that rule
        return HoverText(text, span_of(node.pos)) if text else None
    if isinstance(node, s.Const) and isinstance(node.value, str):
        found = string_field_at(result, node, line, column)
        if found is not None:
            text = _field_text(result, place, found[0])
            return HoverText(text, found[1]) if text else None
    return None


def _reuse_hover(result: Analysis, stmt: s.UseRule | s.ModuleDecl, column: int
                 ) -> HoverText | None:
    """On a `use rule` line: the rule a name names, else what `use rule` does; on a
    `module NAME:` line, what a module is."""
    if isinstance(stmt, s.ModuleDecl):
        return HoverText(f"**module `{stmt.name}`**\n\n{MODULE_DOC}", span_of(stmt.pos))
    line = stmt.pos.line
    for name in (*stmt.names, stmt.new_name):
        if name is not None and contains(name.pos, line, column):
            text = _rule_text(result, name.id) if "*" not in name.id else _rules_named(result, name.id)
            if text:
                return HoverText(text, span_of(name.pos))
    if stmt.module is not None and contains(stmt.module.pos, line, column):
        return HoverText(f"**module `{stmt.module.id}`**\n\n{MODULE_DOC}", span_of(stmt.module.pos))
    return HoverText(f"**`use rule`**\n\n{USE_RULE_DOC}", span_of(stmt.pos))


def _rules_named(result: Analysis, pattern: str) -> str:
    """`qc_*`: the rules whose names the pattern gives."""
    head, _, tail = pattern.partition("*")
    rules = result.workflow.rules if result.workflow is not None else ()
    names = [r.name for r in rules if r.name.startswith(head) and r.name.endswith(tail)]
    return f"**rules `{pattern}`**\n\n" + (", ".join(f"`{n}`" for n in names) or "none")


def _name_hover(result: Analysis, place: Place, node: s.Name) -> HoverText | None:
    name = node.id
    if place.directive is not None and place.directive.name in ("ruleorder", "localrules"):
        text = _rule_text(result, name)
        return HoverText(text, span_of(node.pos)) if text else None
    assignment = assignment_for(result, name, node.pos.line)
    if assignment is not None:
        return HoverText(_variable_text(result, assignment), span_of(node.pos))
    if name == "rules":
        return HoverText("**`rules`**\n\nanother rule's file patterns: `rules.NAME.output`, "
                         "`.input`, `.log`, by index or by name", span_of(node.pos))
    function = imported_function(result, name)
    if function is not None:
        where = os.path.relpath(function.file, os.path.dirname(os.path.abspath(result.path)))
        line = f", line {function.line}" if function.line else ""
        doc = f"\n\n{function.doc}" if function.doc else ""
        return HoverText(f"**`{function.signature}`** (Python function, {where}{line}){doc}",
                         span_of(node.pos))
    if name in BUILTIN_DOCS:
        return HoverText(f"**`{name}`** (builtin)\n\n{BUILTIN_DOCS[name]}", span_of(node.pos))
    return None


def _rule_text(result: Analysis, name: str) -> str:
    decl = rule_decl(result, name)
    if decl is not None:
        first, end = decl.pos.line, node_end(decl)[0]
        body = "\n".join(result.lines[first - 1:min(end, first + 14)])
        more = "\n    ..." if end > first + 14 else ""
        return f"**rule `{name}`** (line {first})\n\n```\n{body}{more}\n```"
    rule = result.workflow.by_name.get(name) if result.workflow is not None else None
    if rule is not None:
        outputs = ", ".join(f"`{o.pattern.text}`" for o in rule.outputs) or "none"
        return f"**rule `{name}`** ({rule.pos})\n\noutputs: {outputs}"
    return ""


def _variable_text(result: Analysis, stmt: s.Assignment) -> str:
    value = source_text(result, stmt.value, 200)
    return f"**`{stmt.name}`** (line {stmt.pos.line})\n\n```\n{stmt.name} = {value}\n```"


def _field_text(result: Analysis, place: Place, inner: str) -> str:
    directive = place.directive.name if place.directive else ""
    rule = place.statement if isinstance(place.statement, s.RuleDecl) else None
    if directive in ("shell", "message"):
        name = inner.split(":")[0].strip()
        if name.startswith("wildcards."):
            return _wildcard_text(result, rule, name[len("wildcards."):].strip())
        head = re.split(r"[.\[]", name, maxsplit=1)[0]
        if head not in FIELD_DOCS:
            return ""
        text = f"**`{{{name}}}`**: {FIELD_DOCS[head]}" + (
            " (shell-quoted)" if head in ("input", "output", "log") else "")
        entry = named_entry(rule, name)
        if entry is not None:
            text += f"\n\n```\n{entry.name} = {source_text(result, entry.value, 200)}\n```"
        return text
    name = inner.split(",")[0].strip()
    if not re.fullmatch(r"[A-Za-z_]\w*", name):
        return ""
    for outer in place.chain:
        if isinstance(outer, s.Call) and isinstance(outer.func, s.Name) and outer.func.id == "expand":
            if any(k.name == name for k in outer.kwargs):
                return f"**wildcard `{{{name}}}`**: filled by `expand()`'s `{name}=` values"
    if rule is None:
        return f"**wildcard `{{{name}}}`**"
    return _wildcard_text(result, rule, name, inline=inner.partition(",")[2] or None)


def _wildcard_text(result: Analysis, rule: s.RuleDecl | None, name: str, inline: str | None = None) -> str:
    if rule is None:
        return f"**wildcard `{{{name}}}`**"
    outputs = rule_strings(rule, "output")
    defined = [(text, pos) for text, pos in outputs if name in wildcards_of(text)]
    head = f"**wildcard `{{{name}}}`** of rule `{rule.name}`"
    if not defined:
        every = sorted({w for text, _ in outputs for w in wildcards_of(text)})
        return f"{head}\n\nnot defined by the rule's outputs (they define: {', '.join(every) or 'none'})"
    text, pos = defined[0]
    lines = [head, "", f"defined by output `{text}` (line {pos.line})"]
    constraint = inline or wildcards_of(text).get(name)
    source = "in the pattern"
    if constraint is None:
        constraint, source = _constraint(result, rule, name)
    if constraint is None:
        lines.append("no constraint: matches any non-empty text, `/` included")
    else:
        lines.append(f"constraint: `{constraint}` ({source})")
    return "\n".join(lines)


def _constraint(result: Analysis, rule: s.RuleDecl, name: str) -> tuple[str | None, str]:
    for d in rule.directives:
        if d.name == "wildcard_constraints":
            for arg in d.args:
                if isinstance(arg, s.Keyword) and arg.name == name and isinstance(arg.value, s.Const):
                    return str(arg.value.value), "the rule's wildcard_constraints"
    found = None
    for stmt in result.statements:
        if isinstance(stmt, s.Directive) and stmt.name == "wildcard_constraints":
            for arg in stmt.args:
                if isinstance(arg, s.Keyword) and arg.name == name and isinstance(arg.value, s.Const):
                    found = str(arg.value.value)   # a later one wins
    return found, "top-level wildcard_constraints"
