"""Command templates: `{input}`, `{input.reads}`, `{input[0]}`, `{params.x}`, `{wildcards.x}`,
`{threads}`, `{resources.mem_mb}`, `{log}`, `{output:raw}`, `{{` for a literal brace. Pure; layer 0.

As in Python's str.format, a value that is a dict or a list is indexed with brackets:
`{params.p[epsilon]}` takes the key "epsilon", `{params.p[0]}` the first item (digits make
an index, anything else a key).

File names and wildcard values are shell-quoted by default (a file named `a b;rm -rf x`
stays one harmless argument); `:raw` opts out. Params, threads and resources are inserted
as written; `:q` quotes them.
"""
from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from fileflow.slots import slot_builder

__all__ = ["Items", "Field", "Template", "TemplateError", "parse_template", "render", "value_text",
           "lookup", "FIELD_NAMES", "QUOTED_BY_DEFAULT"]

FIELD_NAMES = ("input", "output", "log", "params", "wildcards", "threads", "resources",
               "rule", "attempt")
QUOTED_BY_DEFAULT = frozenset({"input", "output", "log", "wildcards"})
_FILE_FIELDS = frozenset({"input", "output", "log"})
_FIELD = re.compile(r"([A-Za-z_]\w*)((?:\.[A-Za-z_]\w*|\[[^\[\]]+\])*)(?::(\w+))?\Z")
_STEP = re.compile(r"\.([A-Za-z_]\w*)|\[([^\[\]]+)\]")
# A run without braces (group 1), or a field as _FIELD reads it, written without blanks
# (name, steps and format: groups 2, 3 and 4)
_PIECE = re.compile(r"([^{}]+)|\{(?!\{)([A-Za-z_]\w*)((?:\.[A-Za-z_]\w*|\[[^\[\]}]+\])*)"
                    r"(?::(\w+))?\}")
# At a brace: `{{`, `}}`, a field as _PIECE reads it (groups 1, 2 and 3), or a brace that
# starts anything else (a field with blanks, or a mistake), which _PIECE's loop then reads
_BRACE = re.compile(r"\{\{|\}\}|\{([A-Za-z_]\w*)((?:\.[A-Za-z_]\w*|\[[^\[\]}]+\])*)(?::(\w+))?\}|[{}]")


class TemplateError(ValueError):
    """A bad field; `offset` and `length` locate it in the template text."""

    def __init__(self, message: str, offset: int, hint: str = "", length: int = 1):
        super().__init__(message)
        self.offset = offset
        self.hint = hint
        self.length = length


class Items(NamedTuple):
    """An ordered list of values, some with names (input, output, log, params). A named
    tuple: one is made per directive per job. A name given an empty list (`groups =
    expand(...)` over no values) holds no value but is still a name: `empty` lists it, and
    `named()` gives it as [] (`{input.groups}` is then empty text)."""

    values: tuple = ()
    names: tuple = ()  # same length as values; None for unnamed entries
    empty: tuple = ()  # the names that hold no value

    def named(self, name: str) -> list:
        return [v for v, n in zip(self.values, self.names) if n == name]

    def has(self, name: str) -> bool:
        return name in self.names or name in self.empty

    def all_names(self) -> list[str]:
        """Every name, once each, in order (those of empty lists last)."""
        return [n for n in dict.fromkeys((*self.names, *self.empty)) if n]


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    steps: tuple          # attribute names (str) and indexes (int), in order
    spec: str             # "", "raw" or "q"
    offset: int           # where the field starts in the template text
    text: str


_build_field = slot_builder(Field)  # Field(...) made faster: one per field of every command


@dataclass(frozen=True, slots=True)
class Template:
    text: str
    parts: tuple          # str and Field, in order

    @property
    def fields(self) -> tuple[Field, ...]:
        fields = []  # (a loop: no generator for each of a rule's checks)
        for p in self.parts:
            if isinstance(p, Field):
                fields.append(p)
        return tuple(fields)


def parse_template(text: str, names: tuple[str, ...] = FIELD_NAMES) -> Template:
    """A command's text and fields; `names` are the field names it may use."""
    parts: list = []
    literal: list[str] = []
    i, n = 0, len(text)
    for m in _BRACE.finditer(text):  # the text between two matches is literal
        start = m.start()
        if start > i:
            literal.append(text[i:start])
        i = m.end()
        if m.lastindex:  # a field without blanks
            field = _field(text, start, i - 1, m.group(1), m.group(2), m.group(3) or "",
                           text[start + 1:i - 1], names)
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(field)
        elif i - start == 2:  # `{{` or `}}`
            literal.append(text[start])
        else:  # a field with blanks, or a brace alone: read from here on as below
            i = start
            break
    while i < n:  # what follows the last match, and all from a brace the loop above left
        piece = _PIECE.match(text, i)  # a run without braces, or a field without blanks
        if piece and piece.lastindex == 1:
            literal.append(piece.group(1))
            i = piece.end()
            continue
        c = text[i]
        if c == "{":
            if piece:
                end = piece.end() - 1
                field = _field(text, i, end, piece.group(2), piece.group(3), piece.group(4) or "",
                               text[i + 1:end], names)
            else:
                if text.startswith("{{", i):
                    literal.append("{")
                    i += 2
                    continue
                end = text.find("}", i)
                if end < 0:
                    raise TemplateError("unclosed '{' in command", i,
                                        "write '{{' for a literal brace")
                body = text[i + 1:end].strip()
                full = _FIELD.match(body)
                if not full:
                    raise TemplateError(f"'{{{body}}}' is not a valid field", i,
                                        "write '{{' and '}}' for literal braces (e.g. '${{HOME}}')",
                                        end + 1 - i)
                field = _field(text, i, end, full.group(1), full.group(2), full.group(3) or "",
                               body, names)
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(field)
            i = end + 1
        elif c == "}":
            if text.startswith("}}", i):
                literal.append("}")
                i += 2
                continue
            raise TemplateError("single '}' in command", i, "write '}}' for a literal brace")
    if literal:
        parts.append("".join(literal))
    return Template(text, tuple(parts))


def _field(text: str, i: int, end: int, name: str, path: str, spec: str, body: str,
           names: tuple[str, ...]) -> Field:
    """The field written text[i:end + 1] (`body` is what is between its braces, stripped),
    read as name, steps and format; a TemplateError for a name or format it cannot have."""
    width = end + 1 - i
    if name == "config":
        raise TemplateError(
            f"a command cannot read config: '{{{body}}}'", i,
            "pass the value as a parameter and use that: 'params: x=config.x', "
            "then '{params.x}' in the command", width)
    if name not in names:
        import difflib  # only on an error

        guess = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
        raise TemplateError(
            f"unknown field '{{{body}}}' in the command"
            + (f"; did you mean '{{{guess[0]}{path}}}'?" if guess else ""), i,
            f"fields are {', '.join(names)}; write '{{{{' and '}}}}' "
            "for literal braces (e.g. '${{HOME}}')", width)
    if spec not in ("", "raw", "q"):
        raise TemplateError(f"unknown format ':{spec}' in '{{{body}}}' (use ':raw' or ':q')",
                            i, "", width)
    if not path:
        steps: tuple = ()
    elif path.count(".") == 1 and "[" not in path:  # `.name`, the usual step
        steps = (path[1:],)
    else:
        steps = tuple(a or (int(b) if b.isdigit() and b.isascii() else b)
                      for a, b in _STEP.findall(path))
    return _build_field(name, steps, spec, i, text[i:end + 1])


def lookup(field: Field, namespaces: Mapping[str, object]) -> object:
    """The value a field names. Raises TemplateError (at the field) when it names nothing."""
    def error(message: str) -> TemplateError:
        return TemplateError(f"{field.text}: {message}", field.offset, length=len(field.text))

    if field.name not in namespaces:
        raise error(f"'{field.name}' is not available in this command")
    value = namespaces[field.name]
    shown = field.name   # the part of the field looked up so far
    for i, step in enumerate(field.steps):
        if isinstance(value, Items):
            if isinstance(step, int):
                if step >= len(value.values):
                    raise error(f"index {step} is out of range ({shown} has "
                                f"{len(value.values)} items)")
                value = value.values[step]
            else:
                if not value.has(step):
                    known = ", ".join(value.all_names()) or "none"
                    raise error(f"{shown} has no entry named '{step}' (named entries: {known})")
                found = value.named(step)
                # A named file entry is a list of files ({input.reads[0]}: its first file);
                # a named param is one value, indexed itself ({params.p[0]}).
                indexed_next = (field.name in _FILE_FIELDS and i + 1 < len(field.steps)
                                and isinstance(field.steps[i + 1], int))
                value = found[0] if len(found) == 1 and not indexed_next else found
        elif isinstance(value, Mapping):
            if step not in value:
                known = ", ".join(map(str, value)) or "none"
                raise error(f"no '{step}' in {shown} (has: {known})")
            value = value[step]
        elif isinstance(value, (list, tuple)) and isinstance(step, int):
            if step >= len(value):
                raise error(f"index {step} is out of range ({shown} has {len(value)} items)")
            value = value[step]
        else:
            raise error(f"cannot take {step!r} of {shown}")
        shown += f"[{step}]" if isinstance(step, int) else f".{step}"
    return value


def value_text(value: object, quote: bool) -> str:
    if isinstance(value, Items):
        value = list(value.values)
    if isinstance(value, (list, tuple)):
        return " ".join(value_text(v, quote) for v in value)
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, Mapping):
        text = " ".join(f"{k}={v}" for k, v in value.items())
    else:
        text = str(value)
    return shlex.quote(text) if quote else text


_quote = shlex.quote


def render(template: Template, namespaces: Mapping[str, Any]) -> str:
    """Fill a template for one job. Raises TemplateError for a field the job cannot fill.
    `namespaces` maps each field name to its value: Items for the file fields and params,
    a mapping for wildcards and resources, a number or a string for the others."""
    out = []
    for part in template.parts:
        if part.__class__ is str:
            out.append(part)
            continue
        quote = part.spec == "q" or (part.name in QUOTED_BY_DEFAULT and part.spec != "raw")
        # Fast paths for the usual fields ({input}, {output}, {wildcards.x}): one command
        # is rendered per job, for the signature of every job of a build.
        if not part.steps and part.name in _FILE_FIELDS:
            paths = namespaces[part.name].values
            out.append(" ".join(map(_quote, paths)) if quote else " ".join(paths))
            continue
        if part.name == "wildcards" and len(part.steps) == 1:
            value = namespaces["wildcards"].get(part.steps[0])
            if value.__class__ is str:
                out.append(_quote(value) if quote else value)
                continue
        out.append(value_text(lookup(part, namespaces), quote))
    return "".join(out)
