"""`configschema:`: the merged configuration validated with JSON Schema, the schema's
defaults filled in (as Snakemake's `validate(config, schema, set_default=True)`), each
violation reported at the value's line in the config file it came from. Layer 1.
"""
from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from fileflow.errors import FlowfileError, Position
from fileflow.lang.config import load_yaml_file, shown_path
from fileflow.lang.values import a_type

__all__ = ["ConfigSources", "validate_config"]


@dataclass(frozen=True)
class ConfigSources:
    """Where the configuration's values came from, lowest priority first: the config files
    (the Flowfile's, then --configfile's) as (full path, shown path), and --config's values."""

    files: Sequence[tuple[str, str]]
    command_line: dict


def validate_config(config: dict, schema_path: str, shown: str, pos: Position,
                    sources: ConfigSources) -> list[FlowfileError]:
    """Fill the schema's defaults into `config` (in place) and return its violations, one
    error each, in key order. Raises FlowfileError when the schema cannot be used."""
    schema = load_yaml_file(schema_path, pos, shown, "config schema")
    if not isinstance(schema, dict):
        raise FlowfileError(f"config schema {shown} must hold a mapping (a JSON Schema), "
                            f"not {a_type(schema)}", pos)
    import jsonschema  # only for a Flowfile with a schema: a slow import
    from jsonschema import validators

    base = validators.validator_for(schema)
    try:
        base.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise FlowfileError(f"config schema {shown} is not a valid JSON Schema: {exc.message} "
                            f"(at {_dotted(exc.absolute_path) or 'its top'})", pos) from None
    validator = validators.extend(base, {"properties": _with_defaults(base)})(schema)
    try:
        found = sorted(validator.iter_errors(config), key=lambda e: [str(p) for p in e.absolute_path])
    except Exception as exc:  # an unresolvable $ref, a regex Python cannot read, ...
        raise FlowfileError(f"config schema {shown} cannot be applied: {exc}", pos) from None
    errors = []
    for err in found:
        path = list(err.absolute_path)
        where, origin = _origin(path, sources)
        said = err.message
        if err.validator == "pattern":  # the pattern as written, not as a Python repr
            said = f"{err.instance!r} does not match '{err.validator_value}'"
        message = (f"{_key_path(path)}{origin}: {said} "
                   f"({shown}: {_dotted(err.absolute_schema_path)})")
        errors.append(FlowfileError(message, where or pos))
    return errors


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
