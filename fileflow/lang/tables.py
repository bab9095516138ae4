"""Sample sheets and data files read by a Flowfile: `table()` (CSV or TSV with a header row)
and `load()` (YAML or JSON), each a regular file within the limits of a config file. Layer 1.

Errors about the file itself (missing, a directory, too large, an unknown kind) are the
builtin's, at the call; errors in its content name the file's own `path:line`.
"""
from __future__ import annotations

import os

from fileflow.errors import FlowfileError, Position
from fileflow.lang.config import load_yaml_file, shown_path, unreadable_value
from fileflow.lang.source_files import MAX_CONFIG_BYTES, FileRefused, read_bytes
from fileflow.lang.values import MAX_ITEMS, Record, a_type, closest, expanded_size, record_from

__all__ = ["TableRefused", "read_table", "read_data", "SEPARATORS"]

# The separator a sheet's name implies; any other name needs sep=.
SEPARATORS = {".csv": ",", ".tsv": "\t", ".tab": "\t"}


class TableRefused(Exception):
    """A sheet that cannot be read at all (missing, not a regular file, too large, no
    separator known): the caller reports it at the call."""


def _read_text(full: str, shown: str, what: str) -> str:
    try:
        data = read_bytes(full, MAX_CONFIG_BYTES, what)
    except FileNotFoundError:
        raise TableRefused(f"file not found: {shown}") from None
    except OSError as exc:
        raise TableRefused(f"cannot read {shown}: {exc.strerror}") from None
    except FileRefused as exc:
        raise TableRefused(f"cannot read {shown}: {exc}") from None
    try:
        return data.decode("utf-8-sig")  # a BOM from a spreadsheet program is not a column name
    except UnicodeDecodeError as exc:
        before = data[:exc.start]
        line = before.count(b"\n") + 1
        column = len(before) - (before.rfind(b"\n") + 1) + 1
        raise FlowfileError(f"{shown} is not UTF-8 text (byte 0x{data[exc.start]:02x})",
                            Position(shown_path(full), line, column),
                            "save the sheet as UTF-8 text (CSV or TSV)") from None


def _separator(shown: str, sep: object) -> str:
    if sep is None:
        ext = os.path.splitext(shown)[1].lower()
        if ext not in SEPARATORS:
            raise TableRefused(f"table() cannot tell the separator of {shown!r} from its name "
                               "(.csv, .tsv or .tab): give it, e.g. sep=\",\" or sep=\"\\t\"")
        return SEPARATORS[ext]
    if isinstance(sep, str) and len(sep) == 1 and sep not in "\"\r\n":
        return sep
    given = repr(sep) if isinstance(sep, str) else a_type(sep)
    raise TableRefused(f"table() sep= takes one character such as \",\" or \"\\t\", not {given}")


def _rows(text: str, sep: str, full: str, shown: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and each non-blank row with the line it starts on."""
    import csv

    where = shown_path(full)
    reader = csv.reader(text.splitlines(keepends=True), delimiter=sep, strict=True)
    rows: list[tuple[int, list[str]]] = []
    cells = 0
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            hint = ("a field that starts with a double quote ends with one"
                    if "field limit" not in str(exc) else
                    f"a field of a sheet holds at most {csv.field_size_limit()} characters; "
                    "keep a longer value in a file of its own and give its path")
            raise FlowfileError(f"cannot read {shown}: {exc}", Position(where, start, 1),
                                hint) from None
        if not any(row):
            continue  # a blank line
        cells += len(row)
        if cells > MAX_ITEMS:
            raise FlowfileError(f"{shown} holds more than {MAX_ITEMS} cells", Position(where, start, 1))
        rows.append((start, row))
    if not rows:
        raise TableRefused(f"{shown} is empty: a sheet starts with a header row naming its columns")
    (_, header), body = rows[0], rows[1:]
    seen: set[str] = set()  # a set: a header of many columns is checked in linear time
    for i, name in enumerate(header):
        if not name.strip():
            raise FlowfileError(f"column {i + 1} of the header of {shown} has no name",
                                Position(where, rows[0][0], 1))
        if name in seen:
            raise FlowfileError(f"column {name!r} appears twice in the header of {shown}",
                                Position(where, rows[0][0], 1))
        seen.add(name)
    for line, row in body:
        if len(row) != len(header):
            raise FlowfileError(
                f"this row of {shown} has {len(row)} field{'s' if len(row) != 1 else ''}, "
                f"the header has {len(header)}", Position(where, line, 1),
                f"fields are separated by {sep!r}; a field holding it is written in double quotes")
    return header, body


def _columns_hint(header: list[str], shown: int = 20) -> str:
    more = f" and {len(header) - shown} more" if len(header) > shown else ""
    return "columns: " + ", ".join(header[:shown]) + more


def read_table(workdir: str, path: object, sep: object = None, key: object = None,
               na: object = False) -> list[Record] | Record:
    """A CSV or TSV sheet: a list of rows, or a dict of rows by the column `key`. A row is
    a Record of strings ("" for an empty cell, none with na=true)."""
    if not isinstance(path, str):
        raise TableRefused(f"table() takes a file path, not {a_type(path)}")
    if "\x00" in path:
        raise TableRefused(f"table() path {path!r} contains a NUL byte; no file name can hold one")
    if key is not None and not isinstance(key, str):
        raise TableRefused(f"table() key= takes a column name, not {a_type(key)}")
    delimiter = _separator(path, sep)
    full = path if os.path.isabs(path) else os.path.join(workdir, path)
    header, body = _rows(_read_text(full, path, "a sample sheet"), delimiter, full, path)
    where = shown_path(full)
    empty = None if na else ""
    if na:
        rows = [(line, Record({h: (v if v else empty) for h, v in zip(header, row)},
                              f"{path}:{line}")) for line, row in body]
    else:  # the cells as they are: each row's dict made in one call
        rows = [(line, Record(zip(header, row), f"{path}:{line}")) for line, row in body]
    if key is None:
        return [row for _, row in rows]
    if key not in header:
        raise FlowfileError(f"{path} has no column {key!r}, the key of table()",
                            Position(where, 1, 1),
                            closest(key, header)[2:] or _columns_hint(header))
    keyed = Record(label=f"table({path!r})")
    first: dict[str, int] = {}
    for line, row in rows:
        value = row[key]
        if not value:
            raise FlowfileError(f"this row of {path} has no {key!r}, the key of table()",
                                Position(where, line, 1))
        if value in first:
            raise FlowfileError(f"{key} {value!r} appears twice in {path}", Position(where, line, 1),
                                f"first at line {first[value]}; keys must be unique")
        first[value] = line
        keyed[value] = row
    return keyed


def read_data(workdir: str, path: object) -> object:
    """A YAML or JSON file's value (JSON by the name .json), with dicts read by attribute."""
    if not isinstance(path, str):
        raise TableRefused(f"load() takes a file path, not {a_type(path)}")
    if "\x00" in path:
        raise TableRefused(f"load() path {path!r} contains a NUL byte; no file name can hold one")
    full = path if os.path.isabs(path) else os.path.join(workdir, path)
    if os.path.splitext(path)[1].lower() == ".json":
        data = _read_json(full, path)
    else:
        data = load_yaml_file(full, None, path, "data file")
    return record_from(data, f"load({path!r})")


def _read_json(full: str, shown: str) -> object:
    import json

    text = _read_text(full, shown, "a data file")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FlowfileError(f"invalid JSON in {shown}: {exc.msg}",
                            Position(shown_path(full), exc.lineno, exc.colno)) from None
    except RecursionError:
        raise FlowfileError(f"data file {shown} is nested too deeply to read") from None
    except ValueError as exc:  # a number of more digits than Python reads
        raise FlowfileError(f"invalid JSON in {shown}: {unreadable_value(exc)}") from None
    if expanded_size(data) > MAX_ITEMS:
        raise FlowfileError(f"data file {shown} holds more than {MAX_ITEMS} values")
    return data
