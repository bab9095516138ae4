"""`configschema:`: the merged configuration validated with JSON Schema, the schema's
defaults filled in (as Snakemake's `validate(config, schema, set_default=True)`), each
violation reported at the value's line in the config file it came from. Layer 1.
"""
from __future__ import annotations

import copy
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from urllib.parse import unquote, urljoin, urlsplit

from fileflow.errors import FlowfileError, Position
from fileflow.lang.config import load_yaml_file, shown_path
from fileflow.lang.values import a_type

__all__ = ["ConfigSources", "Referred", "validate_config"]


@dataclass(frozen=True)
class ConfigSources:
    """Where the configuration's values came from, lowest priority first: the config files
    (the Flowfile's, then --configfile's) as (full path, shown path), and --config's values."""

    files: Sequence[tuple[str, str]]
    command_line: dict


def validate_config(config: dict, schema_path: str, shown: str, pos: Position,
                    sources: ConfigSources, read: list[str] | None = None) -> list[FlowfileError]:
    """Fill the schema's defaults into `config` (in place) and return its violations, one
    error each, in key order. Raises FlowfileError when the schema cannot be used. A `$ref`
    to another schema file (YAML or JSON, relative to the folder of the schema that names
    it) is read as the validation needs it, and its full path appended to `read`."""
    schema = _load_schema(schema_path, shown, pos)
    from jsonschema import validators  # only for a Flowfile with a schema: a slow import

    dialect = schema.get("$schema")
    if dialect is not None and not isinstance(dialect, str):
        raise FlowfileError(f"config schema {shown} is not a valid JSON Schema: its $schema must "
                            f"be the URI of a draft, not {a_type(dialect)}", pos)
    base = validators.validator_for(schema)
    _check_schema(base, schema, shown, pos)
    referred = Referred(schema_path, shown, pos, base, read)
    rooted = referred.rooted(schema)
    referred.read_all()
    validator = referred.validator_class(referred.uri)(rooted, registry=referred.registry())
    try:
        found = sorted(validator.iter_errors(config), key=lambda e: [str(p) for p in e.absolute_path])
    except Exception as exc:  # a $ref that cannot be followed, a regex Python cannot read, ...
        if referred.failure is not None:
            raise referred.failure from None
        raise FlowfileError(f"config schema {shown} cannot be applied: {exc}", pos) from None
    errors = []
    for err in found:
        path = list(err.absolute_path)
        where, origin = _origin(path, sources)
        said = err.message
        if err.validator == "pattern":  # the pattern as written, not as a Python repr
            said = f"{err.instance!r} does not match '{err.validator_value}'"
        errors.append(FlowfileError(f"{_key_path(path)}{origin}: {said} ({referred.place(err)})",
                                    where or pos))
    return errors


def _load_schema(full: str, shown: str, pos: Position) -> dict:
    schema = load_yaml_file(full, pos, shown, "config schema")
    if not isinstance(schema, dict):
        raise FlowfileError(f"config schema {shown} must hold a mapping (a JSON Schema), "
                            f"not {a_type(schema)}", pos)
    return schema


def _check_schema(base, schema: dict, shown: str, pos: Position) -> None:
    import jsonschema

    try:
        base.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise FlowfileError(f"config schema {shown} is not a valid JSON Schema: {exc.message} "
                            f"(at {_dotted(exc.absolute_path) or 'its top'})", pos) from None


class Referred:
    """The schema files that `$ref`s name, read when the validation first follows one,
    through the `referencing` library's registry (as jsonschema >= 4.18 resolves
    references). The main schema's URI is its file's, whatever `$id` it states (as in
    Snakemake), so a relative reference is relative to the folder of the schema that
    writes it; only files are read, never the network. Each file is read under the draft
    its own `$schema` names (the main schema's without one): checked against that draft's
    meta-schema, and its rules applied as that draft means them, defaults filled in alike."""

    def __init__(self, schema_path: str, shown: str, pos: Position, base, read: list[str] | None):
        from pathlib import Path

        self.folder, self.shown_folder = os.path.dirname(schema_path), os.path.dirname(shown)
        self.uri = Path(os.path.abspath(schema_path)).as_uri()
        self.shown, self.pos, self.base, self.read = shown, pos, base, read
        self.documents: dict[str, tuple[str, dict]] = {}  # URI -> (shown path, schema)
        self.drafts: dict[str, type] = {}  # URI -> the validator class of its draft
        self.classes: dict[type, type] = {}  # a draft's validator class -> it extended
        self.ref_in: dict[int, str] = {}  # id of a schema node with a `$ref` -> its file's URI
        self.failure: FlowfileError | None = None
        self._registry = None

    def rooted(self, schema: dict) -> dict:
        """The main schema with its file's URI as its id (a copy: the file's text stays)."""
        key = "id" if self.base.ID_OF({"id": "x", "$id": ""}) == "x" else "$id"  # drafts 3, 4
        rooted = _without_dialect({**schema, key: self.uri})
        self._known(self.uri, self.shown, rooted, self.base)
        return rooted

    def _known(self, uri: str, shown: str, document: dict, draft: type) -> None:
        self.documents[uri] = (shown, document)
        self.drafts[uri] = draft
        for node in _with_refs(document):
            self.ref_in.setdefault(id(node), uri)

    def validator_class(self, uri: str) -> type:
        """The validator class for the file at `uri`: its draft's, filling defaults in and
        following each `$ref` under the draft of the file it leads to."""
        draft = self.drafts[uri]
        extended = self.classes.get(draft)
        if extended is None:
            from jsonschema import validators

            extended = self.classes[draft] = validators.extend(
                draft, {"properties": _with_defaults(draft), "$ref": self._follow(draft)})
        return extended

    def _follow(self, draft):
        """The `$ref` check of `draft`, made absolute by the file the reference is written
        in; one that leads into a file of another draft goes on under that file's draft."""
        follow = draft.VALIDATORS["$ref"]

        def ref(validator, ref: str, instance, schema) -> Iterator:
            uri = self.ref_in.get(id(schema))
            if uri is None:
                yield from follow(validator, ref, instance, schema)
                return
            target = urljoin(uri, ref)
            where = target.partition("#")[0]
            other = self.validator_class(where) if where in self.drafts else type(validator)
            if other is type(validator):
                yield from follow(validator, target, instance, schema)
                return
            registry = self.registry()
            node = registry.resolver().lookup(target).contents
            yield from other(node, registry=registry).iter_errors(instance)
        return ref

    def read_all(self) -> None:
        """Read every schema file a `$ref` names, from the main schema on, and check that
        each place a reference names is there: a missing, unreadable or invalid file, or a
        reference to nowhere, is an error before any value is checked (and every file read
        is watched, whichever values the configuration has)."""
        from referencing.exceptions import NoSuchResource

        todo = [self.uri]
        while todo:
            uri = todo.pop()
            shown, document = self.documents[uri]
            for ref in _refs(document):
                target, _, fragment = urljoin(uri, ref).partition("#")
                if target not in self.documents:
                    try:
                        self.retrieve(target)
                    except NoSuchResource:
                        raise self.failure or FlowfileError(
                            f"config schema {shown}: cannot read $ref {ref!r}", self.pos) from None
                    todo.append(target)
                node: object = self.documents[target][1]
                for part in _pointer(fragment):
                    node = _step(node, part)
                if node is None:
                    raise FlowfileError(
                        f"config schema {shown}: $ref {ref!r} names no place in "
                        f"{self.documents[target][0]}: it has no {fragment!r}", self.pos)

    def registry(self):
        if self._registry is None:
            from referencing import Registry

            self._registry = Registry(retrieve=self.retrieve)
        return self._registry

    def retrieve(self, uri: str):
        from urllib.request import url2pathname

        from jsonschema import validators
        from referencing.exceptions import NoSuchResource

        known = self.documents.get(uri)
        if known is not None:
            return _resource(known[1], self.drafts[uri])
        parts = urlsplit(uri)
        if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
            self.failure = FlowfileError(
                f"config schema {self.shown} refers to {uri!r} (a $ref): only schema files "
                "are read, by a path relative to the schema that names them", self.pos)
            raise NoSuchResource(uri)
        full = url2pathname(parts.path)
        shown = os.path.normpath(os.path.join(self.shown_folder, os.path.relpath(full, self.folder)))
        try:
            contents = _load_schema(full, shown, self.pos)
            draft = validators.validator_for(contents, default=self.base)
            _check_schema(draft, contents, shown, self.pos)
        except FlowfileError as err:
            self.failure = FlowfileError(f"{err.message} (a $ref of config schema {self.shown})",
                                         err.pos)
            raise NoSuchResource(uri) from None
        contents = _without_dialect(contents)
        self._known(uri, shown, contents, draft)
        if self.read is not None:
            self.read.append(full)
        return _resource(contents, draft)

    def place(self, err) -> str:
        """`file: dotted.path` of the schema rule an error broke: the error's path in the
        main schema when it leads to the rule there, else where the rule is found in the
        schema files read (a `$ref` is not on the error's path)."""
        path = list(err.absolute_schema_path)
        node: object = self.documents[self.uri][1]
        for part in path[:-1]:
            node = _step(node, part)
        if node is err.schema:
            return f"{self.shown}: {_dotted(path)}"
        for shown, document in self.documents.values():
            inside = _path_to(document, err.schema)
            if inside is not None:
                return f"{shown}: {_dotted([*inside, path[-1]])}"
        return f"{self.shown}: {_dotted(path)}"


def _without_dialect(schema: dict) -> dict:
    """A schema without its `$schema`: its draft is known (Referred.drafts), and jsonschema
    would otherwise step out of the extended validator class where a `$ref` leads to it."""
    return {k: v for k, v in schema.items() if k != "$schema"} if "$schema" in schema else schema


def _resource(contents: dict, draft):
    """`contents` as a resource of the registry, under `draft`."""
    from referencing import Resource
    from referencing.jsonschema import DRAFT202012, specification_with

    dialect = specification_with(draft.ID_OF(draft.META_SCHEMA) or "", default=DRAFT202012)
    return Resource.from_contents(contents, default_specification=dialect)


def _pointer(fragment: str) -> list[str]:
    """The steps of a JSON pointer fragment (`/definitions/a~1b`); none for an anchor."""
    if not fragment.startswith("/"):
        return []
    return [unquote(part).replace("~1", "/").replace("~0", "~") for part in fragment.split("/")[1:]]


def _with_refs(document: object) -> Iterator[dict]:
    """The mappings of a schema that hold a `$ref`, anywhere in it."""
    stack = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                yield node
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def _step(node: object, part) -> object:
    if isinstance(node, dict):
        return node.get(part)
    if isinstance(part, str) and part.isdigit():
        part = int(part)
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return None


def _refs(document: object) -> Iterator[str]:
    """The `$ref` strings of a schema, anywhere in it."""
    for node in _with_refs(document):
        yield node["$ref"]


def _path_to(document: object, wanted: object) -> list | None:
    """The keys from `document` to the very object `wanted` (depth first, no recursion)."""
    stack: list[tuple[object, list]] = [(document, [])]
    while stack:
        node, path = stack.pop()
        if node is wanted:
            return path
        if isinstance(node, dict):
            stack.extend((v, [*path, k]) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, [*path, i]) for i, v in enumerate(node))
    return None


def _with_defaults(base):
    """The `properties` check of `base`, filling each missing property that has a default."""
    check_properties = base.VALIDATORS["properties"]

    def properties(validator, props, instance, schema) -> Iterator:
        if validator.is_type(instance, "object"):
            for name, sub in props.items():
                if isinstance(sub, dict) and "default" in sub and name not in instance:
                    instance[name] = copy.deepcopy(sub["default"])
        yield from check_properties(validator, props, instance, schema)
    return properties


def _dotted(parts) -> str:
    return ".".join(str(p) for p in parts)


def _key_path(path: list) -> str:
    out = "config"
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and part.isidentifier():
            out += f".{part}"
        else:
            out += f"[{part!r}]"
    return out


def _origin(path: list, sources: ConfigSources) -> tuple[Position | None, str]:
    """The position of the value at `path` in the config file it came from, or a note that
    --config set it; (None, "") when no file holds it (a default, a missing key)."""
    if _holds(sources.command_line, path):
        return None, " (set by --config)"
    for full, _ in reversed(sources.files):
        where = _position(full, path)
        if where is not None:
            return where, ""
    return None, ""


def _holds(value: object, path: list) -> bool:
    for part in path:
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value):
            value = value[part]
        else:
            return False
    return bool(path)


def _position(full: str, path: list) -> Position | None:
    """Where the value at `path` is written in a YAML (or JSON) file, from its nodes."""
    import yaml

    try:
        with open(full, encoding="utf-8") as fh:
            node = yaml.compose(fh)
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError):
        return None
    for part in path:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if isinstance(k, yaml.ScalarNode)
                         and _same_key(k, part)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) \
                and 0 <= part < len(node.value):
            node = node.value[part]
        else:
            node = None
        if node is None:
            return None
    if node is None:
        return None
    mark = node.start_mark
    return Position(shown_path(full), mark.line + 1, mark.column + 1)


def _same_key(node, part) -> bool:
    return node.value == str(part)
