"""Command templates: `{input}`, `{input.reads}`, `{input[0]}`, `{params.x}`, `{wildcards.x}`,
`{threads}`, `{resources.mem_mb}`, `{log}`, `{output:raw}`, `{{` for a literal brace. Pure; layer 0.

File names and wildcard values are shell-quoted by default (a file named `a b;rm -rf x`
stays one harmless argument); `:raw` opts out. Params, threads and resources are inserted
as written; `:q` quotes them.
"""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Mapping

__all__ = ["Items", "Field", "Template", "TemplateError", "parse_template", "render",
           "FIELD_NAMES", "QUOTED_BY_DEFAULT"]

FIELD_NAMES = ("input", "output", "log", "params", "wildcards", "threads", "resources",
               "rule", "attempt")
QUOTED_BY_DEFAULT = frozenset({"input", "output", "log", "wildcards"})
_FIELD = re.compile(r"([A-Za-z_]\w*)((?:\.[A-Za-z_]\w*|\[\d+\])*)(?::(\w+))?\Z")
_STEP = re.compile(r"\.([A-Za-z_]\w*)|\[(\d+)\]")


class TemplateError(ValueError):
    def __init__(self, message: str, offset: int, hint: str = ""):
        super().__init__(message)
        self.offset = offset
        self.hint = hint


@dataclass(frozen=True, slots=True)
class Items:
    """An ordered list of values, some with names (input, output, log, params)."""

    values: tuple = ()
    names: tuple = ()  # same length as values; None for unnamed entries

    def named(self, name: str) -> list:
        return [v for v, n in zip(self.values, self.names) if n == name]

    def has(self, name: str) -> bool:
        return name in self.names


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    steps: tuple          # attribute names (str) and indexes (int), in order
    spec: str             # "", "raw" or "q"
    offset: int           # where the field starts in the template text
    text: str


@dataclass(frozen=True, slots=True)
class Template:
    text: str
    parts: tuple          # str and Field, in order

    @property
    def fields(self) -> tuple[Field, ...]:
        return tuple(p for p in self.parts if isinstance(p, Field))


def parse_template(text: str) -> Template:
    parts: list = []
    literal: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "{":
            if text.startswith("{{", i):
                literal.append("{")
                i += 2
                continue
            end = text.find("}", i)
            if end < 0:
                raise TemplateError("unclosed '{' in command", i, "write '{{' for a literal brace")
            body = text[i + 1:end].strip()
            m = _FIELD.match(body)
            if not m:
                raise TemplateError(f"'{{{body}}}' is not a valid field", i,
                                    "write '{{' and '}}' for literal braces (e.g. '${{HOME}}')")
            name, path, spec = m.group(1), m.group(2), m.group(3) or ""
            if name not in FIELD_NAMES:
                raise TemplateError(f"unknown name '{name}' in command", i,
                                    f"fields are {', '.join(FIELD_NAMES)}; write '{{{{' and '}}}}' "
                                    "for literal braces (e.g. '${{HOME}}')")
            if spec not in ("", "raw", "q"):
                raise TemplateError(f"unknown format ':{spec}' (use ':raw' or ':q')", i)
            steps = tuple(a if a else int(b) for a, b in _STEP.findall(path))
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(Field(name, steps, spec, i, text[i:end + 1]))
            i = end + 1
        elif c == "}":
            if text.startswith("}}", i):
                literal.append("}")
                i += 2
                continue
            raise TemplateError("single '}' in command", i, "write '}}' for a literal brace")
        else:
            literal.append(c)
            i += 1
    if literal:
        parts.append("".join(literal))
    return Template(text, tuple(parts))


def _lookup(field: Field, namespaces: Mapping[str, object]) -> object:
    value = namespaces[field.name]
    for step in field.steps:
        if isinstance(value, Items):
            if isinstance(step, int):
                if step >= len(value.values):
                    raise TemplateError(f"{field.text}: index {step} is out of range "
                                        f"({field.name} has {len(value.values)} items)", field.offset)
                value = value.values[step]
            else:
                if not value.has(step):
                    known = ", ".join(n for n in dict.fromkeys(value.names) if n) or "none"
                    raise TemplateError(f"{field.text}: {field.name} has no entry named '{step}' "
                                        f"(named entries: {known})", field.offset)
                found = value.named(step)
                value = found[0] if len(found) == 1 else found
        elif isinstance(value, Mapping):
            if step not in value:
                known = ", ".join(map(str, value)) or "none"
                raise TemplateError(f"{field.text}: no '{step}' in {field.name} (has: {known})",
                                    field.offset)
            value = value[step]
        elif isinstance(value, (list, tuple)) and isinstance(step, int) and step < len(value):
            value = value[step]
        else:
            raise TemplateError(f"{field.text}: cannot take {step!r} of {field.name}", field.offset)
    return value


def _text(value: object, quote: bool) -> str:
    if isinstance(value, Items):
        value = list(value.values)
    if isinstance(value, (list, tuple)):
        return " ".join(_text(v, quote) for v in value)
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, Mapping):
        text = " ".join(f"{k}={v}" for k, v in value.items())
    else:
        text = str(value)
    return shlex.quote(text) if quote else text


def render(template: Template, namespaces: Mapping[str, object]) -> str:
    """Fill a template for one job. Raises TemplateError for a field the job cannot fill."""
    out = []
    for part in template.parts:
        if isinstance(part, str):
            out.append(part)
            continue
        quote = part.spec == "q" or (part.name in QUOTED_BY_DEFAULT and part.spec != "raw")
        out.append(_text(_lookup(part, namespaces), quote))
    return "".join(out)
