"""What may be written at the cursor in a Flowfile: the editor's completion (the shell's
completion of the command line is cli/shell_completion.py). Layer 2.
"""
from __future__ import annotations

import os
import re
from typing import NamedTuple

from fileflow.editor.analysis import Analysis, source_text
from fileflow.editor.language_docs import (
    BUILTIN_DOCS,
    DIRECTIVE_DOCS,
    FIELD_DOCS,
    MODULE_DOC,
    MODULE_DOCS,
    USE_RULE_DOC,
)
from fileflow.editor.lookup import rule_decl, rule_strings, wildcards_of
from fileflow.errors import FlowfileError
from fileflow.lang import syntax as s
from fileflow.lang.directives import RULE_DIRECTIVES, TOP_DIRECTIVES

__all__ = ["Completion", "completion"]


class Completion(NamedTuple):
    label: str
    kind: str  # "directive" | "keyword" | "rule" | "config" | "variable" | "builtin" | "field"
    detail: str
    insert_text: str


_CONFIG_PATH = re.compile(
    r"""\bconfig((?:\.[A-Za-z_]\w*|\[\s*["'][^"'\]]*["']\s*\])*)(?:\.|\[\s*["'])([\w-]*)$""")  # noqa: E501 (one regular expression)


_RULE_REF = re.compile(r"(?<![\w.])rules\.(?:([A-Za-z_]\w*)\.(?:(input|output|log)\.)?)?\w*$")


def completion(result: Analysis, line: int, column: int) -> list[Completion]:
    """What may be written at the cursor: config keys after `config.` or `config["`, rule
    names after `rules.` (then input/output/log, then the names given to them), rule names in
    ruleorder/localrules, directive names at the start of a line (a rule's inside a rule),
    else names: variables assigned above and builtins."""
    text = result.lines[line - 1] if 1 <= line <= len(result.lines) else ""
    before = text[:column - 1]
    m = _CONFIG_PATH.search(before)
    if m:
        return _config_keys(result, m.group(1))
    m = _RULE_REF.search(before)
    if m:
        return _rule_ref_completions(result, m.group(1), m.group(2))
    rule_name = _rule_around(result, line) if before[:1] in (" ", "\t") else None
    field = re.search(r"(?<!\{)\{\s*(?:(wildcards|input|output|log|params|resources)\.)?(\w*)$", before)
    if field and rule_name and re.search(r"""["']""", before):
        return _field_completions(result, rule_name, field.group(1))
    use = re.match(r"use\s+rule\s+(?:[\w*,\s]*?\s(from)\s+)?[\w*]*$", before)
    if use:  # `use rule ` then rule names; `use rule * from ` then module names
        if use.group(1):
            modules = dict.fromkeys(re.findall(r"(?m)^module\s+([A-Za-z_]\w*)\s*:", result.text))
            return [Completion(name, "keyword", "module", name) for name in modules]
        return [Completion(name, "rule", "rule", name) for name in _rule_names(result)]
    if before[:1] in (" ", "\t") and _module_around(result, line):
        if re.fullmatch(r"\s*[A-Za-z_]*", before):
            return [Completion(k, "directive", doc, f"{k}: ") for k, doc in MODULE_DOCS.items()]
    head = re.match(r"\s*(ruleorder|localrules)\s*:", text)
    if head and column - 1 >= head.end():
        return [Completion(name, "rule", "rule", name) for name in _rule_names(result)]
    if re.fullmatch(r"\s*[A-Za-z_]*", before):
        if before[:1] in (" ", "\t") and _rule_around(result, line) is not None:
            present = _directives_written(result, line)
            return [Completion(d, "directive", DIRECTIVE_DOCS[d], f"{d}: ")
                    for d in RULE_DIRECTIVES if d not in present]
        if not before[:1].isspace():
            return ([Completion("rule", "keyword", "rule NAME: and its directives", "rule "),
                     Completion("checkpoint", "keyword", "checkpoint NAME: a rule whose outputs "
                                "decide the jobs below it", "checkpoint "),
                     Completion("from", "keyword", 'from "FILE.py" import NAME, ...: Python functions',
                                "from "),
                     Completion("use rule", "keyword", USE_RULE_DOC, "use rule "),
                     Completion("module", "keyword", MODULE_DOC, "module ")]
                    + [Completion(d, "directive", DIRECTIVE_DOCS[d], f"{d}: ") for d in TOP_DIRECTIVES])
    if re.search(r"""["']""", before) and before.count('"') % 2 + before.count("'") % 2:
        return []   # inside a string
    names = [Completion(st.name, "variable", source_text(result, st.value, 60), st.name)
             for st in result.statements if isinstance(st, s.Assignment) and st.pos.line < line]
    names += [Completion(n.id, "builtin", f"Python function from {source_text(result, st.path)}", n.id)
              for st in result.statements if isinstance(st, s.ImportFrom) and st.pos.line < line
              for n in st.names]
    unique = list({c.label: c for c in names}.values())
    return unique + [Completion(b, "builtin", BUILTIN_DOCS[b], b) for b in sorted(BUILTIN_DOCS)]


def _field_completions(result: Analysis, rule_name: str, namespace: str | None) -> list[Completion]:
    """Inside `{` in a string of a rule: the fields of a command, or after `{wildcards.`,
    `{input.` ... the rule's wildcards or the names it gives its entries."""
    if namespace is None:
        return [Completion(name, "field", doc, name) for name, doc in FIELD_DOCS.items()]
    decl = rule_decl(result, rule_name)
    if decl is None:
        return []
    if namespace == "wildcards":
        names = dict.fromkeys(w for text, _ in rule_strings(decl, "output") for w in wildcards_of(text))
        return [Completion(w, "field", f"wildcard of rule {rule_name}", w) for w in names]
    named = [arg for d in decl.directives if d.name == namespace for arg in d.args
             if isinstance(arg, s.Keyword)]
    return [Completion(k.name, "field", source_text(result, k.value, 60), k.name) for k in named]


def _rule_ref_completions(result: Analysis, rule_name: str | None, field: str | None
                          ) -> list[Completion]:
    """After `rules.`: the rule names; after `rules.NAME.`: input, output and log; after
    `rules.NAME.output.`: the names that rule gives its outputs."""
    if rule_name is None:
        return [Completion(name, "rule", "rule", name) for name in _rule_names(result)]
    if field is None:
        return [Completion(f, "field", f"the {f} patterns of rule {rule_name}", f)
                for f in ("input", "output", "log")]
    decl = rule_decl(result, rule_name)
    if decl is None:
        return []
    return [Completion(k.name, "field", source_text(result, k.value, 60), k.name)
            for d in decl.directives if d.name == field for k in d.args if isinstance(k, s.Keyword)]


def _rule_names(result: Analysis) -> list[str]:
    names = [st.name for st in result.statements if isinstance(st, s.RuleDecl)]
    names += [m.group(1) for m in re.finditer(r"(?m)^rule\s+([A-Za-z_]\w*)", result.text)]
    if result.workflow is not None:
        names += [r.name for r in result.workflow.rules]
    return list(dict.fromkeys(names))


def _rule_around(result: Analysis, line: int) -> str | None:
    """The rule a line is indented under, read from the text (the rule may not parse now)."""
    for number in range(min(line, len(result.lines)) - 1, 0, -1):
        text = result.lines[number - 1]
        if text[:1] not in ("", " ", "\t", "#", "\r"):
            m = re.match(r"rule\s+([A-Za-z_]\w*)|use\s+rule\s.*\bas\s+(\w+)\s+with\b", text)
            return (m.group(1) or m.group(2)) if m else None
    return None


def _module_around(result: Analysis, line: int) -> bool:
    """Whether a line is indented under `module NAME:` (read from the text)."""
    for number in range(min(line, len(result.lines)) - 1, 0, -1):
        text = result.lines[number - 1]
        if text[:1] not in ("", " ", "\t", "#", "\r"):
            return re.match(r"module\s+\w+\s*:", text) is not None
    return False


def _directives_written(result: Analysis, line: int) -> set[str]:
    """The directives written in the rule around a line, but on other lines (read from the
    text: the rule may not parse while it is being typed)."""
    names = set()
    first = line
    while first > 1 and result.lines[first - 1][:1] in ("", " ", "\t", "#", "\r"):
        first -= 1
    number = first + 1
    while number <= len(result.lines) and result.lines[number - 1][:1] in ("", " ", "\t", "#", "\r"):
        m = re.match(r"[ \t]+([A-Za-z_]\w*)[ \t]*:", result.lines[number - 1])
        if m and number != line:
            names.add(m.group(1))
        number += 1
    return names


def _config(result: Analysis) -> dict:
    """The config: the loaded workflow's, else the config files the text names (read now)."""
    if result.workflow is not None:
        return dict(result.workflow.config)
    from fileflow.lang.config import load_config_file

    merged: dict = {}
    for stmt in result.statements:
        if isinstance(stmt, s.Directive) and stmt.name == "configfile" and len(stmt.args) == 1:
            arg = stmt.args[0]
            if isinstance(arg, s.Const) and isinstance(arg.value, str):
                try:
                    merged.update(load_config_file(os.path.join(result.workdir, arg.value)))
                except FlowfileError:
                    pass
    return merged


def _config_keys(result: Analysis, path: str) -> list[Completion]:
    value: object = _config(result)
    for key in re.findall(r"""\.([A-Za-z_]\w*)|\[\s*["']([^"']*)["']\s*\]""", path):
        value = value.get(key[0] or key[1]) if isinstance(value, dict) else None
    if not isinstance(value, dict):
        return []
    return [Completion(str(k), "config", _short_value(v), str(k)) for k, v in value.items()]


def _short_value(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
