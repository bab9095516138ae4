"""`config`: YAML config files and `--config key=value` overrides, merged. Layer 1.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

from fileflow.errors import FlowfileError, Position
from fileflow.lang.source_files import MAX_CONFIG_BYTES, FileRefused, read_bytes
from fileflow.lang.values import a_type, expanded_size

__all__ = ["load_config_file", "load_yaml_file", "parse_config_overrides", "merge_config", "shown_path",
           "unreadable_value", "MAX_CONFIG_VALUES"]

# The most values config may hold, every YAML alias counted where it is used.
MAX_CONFIG_VALUES = 1_000_000


def load_config_file(path: str, pos: Position | None = None, shown: str | None = None) -> dict:
    """Read a YAML mapping. `shown` is the name used in messages (the path as the user wrote it)."""
    shown = shown or path
    data = load_yaml_file(path, pos, shown, "config file")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise FlowfileError(f"config file {shown} must hold a mapping (key: value), "
                            f"not {a_type(data)}", pos)
    return data


def load_yaml_file(path: str, pos: Position | None, shown: str, what: str) -> object:
    """Any YAML value (a config file, a file `load()` reads), within the limits of a
    config file; errors name `what` and the file as `shown`, at the YAML's own line."""
    import yaml

    if "\x00" in path:
        raise FlowfileError(f"{what} path {shown!r} contains a NUL byte; no file name can "
                            "hold one", pos)
    text = ""
    try:
        text = read_bytes(path, MAX_CONFIG_BYTES, "a " + what).decode("utf-8")
        data = yaml.safe_load(text)
    except FileNotFoundError:
        raise FlowfileError(f"{what} not found: {shown}", pos) from None
    except OSError as exc:
        raise FlowfileError(f"cannot read {what} {shown}: {exc.strerror}", pos) from None
    except FileRefused as exc:
        raise FlowfileError(f"cannot read {what} {shown}: {exc}", pos) from None
    except UnicodeDecodeError:
        raise FlowfileError(f"{what} {shown} is not UTF-8 text", pos) from None
    except RecursionError:
        raise FlowfileError(f"{what} {shown} is nested too deeply to read", pos) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow, at its offset
        before = text[:exc.position]
        at = Position(shown_path(path), before.count("\n") + 1, len(before) - before.rfind("\n"))
        character = chr(exc.character) if isinstance(exc.character, int) else exc.character
        raise FlowfileError(f"invalid YAML in {what}: the character {character!r} is not allowed "
                            "in YAML text", at) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = Position(shown_path(path), mark.line + 1, mark.column + 1) if mark else pos
        problem = getattr(exc, "problem", None) or str(exc)
        context, start = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and start is not None and (mark is None or start.line != mark.line):
            problem += f" ({context} that starts at line {start.line + 1}, column {start.column + 1})"
        raise FlowfileError(f"invalid YAML in {what}: {problem}", where) from None
    except ValueError as exc:  # a value YAML reads but Python cannot hold (a number, a date)
        raise FlowfileError(f"invalid YAML in {what} {shown}: {unreadable_value(exc)}", pos) from None
    _check_size(data, f"{what} {shown}", pos)
    return data


def unreadable_value(exc: ValueError) -> str:
    """What a ValueError of a YAML or JSON reader says, in the user's words: an integer with
    more digits than Python reads, a date such as 2001-13-45."""
    if "integer string conversion" in str(exc):
        return (f"a number has more than {sys.get_int_max_str_digits()} digits; "
                "write it in quotes, as a string")
    return f"a value cannot be read ({exc}); write it in quotes, as a string"


def _check_size(data: object, what: str, pos: Position | None) -> None:
    """YAML aliases share a value wherever they are written: a few lines of them (a
    "billion laughs") can stand for more values than any machine holds once used."""
    if expanded_size(data, MAX_CONFIG_VALUES) > MAX_CONFIG_VALUES:
        raise FlowfileError(f"{what} is too large once its aliases (*name) are expanded: more "
                            f"than {MAX_CONFIG_VALUES} values, or a value that holds itself", pos)


def shown_path(path: str) -> str:
    """A path for messages: relative to the current directory when it is inside it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        return path
    return path if rel.startswith("..") else rel


def parse_config_overrides(pairs: Sequence[str]) -> dict:
    """`--config key=value` (value read as YAML; `a.b=1` sets a nested key), each merged
    over the ones before it."""
    if not pairs:
        return {}
    import yaml  # only when there is something to read: a slow import

    out: dict = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise FlowfileError(f"--config expects key=value, got {pair!r}")
        parts = key.strip().split(".")
        if not all(part.strip() for part in parts):
            raise FlowfileError(f"--config {pair}: the key {key.strip()!r} has an empty part "
                                "(nested keys are written a.b.c)")
        try:
            value = yaml.safe_load(raw) if raw else ""
        except yaml.YAMLError:
            value = raw
        except ValueError as exc:
            raise FlowfileError(f"--config {key.strip()}=...: {unreadable_value(exc)}") from None
        except RecursionError:
            raise FlowfileError(f"--config {key.strip()}=...: the value is nested too deeply "
                                "to read") from None
        _check_size(value, f"--config {key.strip()}=...", None)
        *outer, last = parts
        entry: dict = {last: value}
        for part in reversed(outer):
            entry = {part: entry}
        # Merged over the earlier ones, as Snakemake merges its --config entries: mappings
        # merge key by key (`a.b=1` then `a.c=2`), any other value replaces.
        out = merge_config(out, entry)
    return out


def merge_config(base: dict, extra: Mapping) -> dict:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge_config(dict(out[key]), value)
        else:
            out[key] = value
    return out
