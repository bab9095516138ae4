"""The functions a Flowfile expression can call: expand, glob_wildcards, env, the file flags
and a few of Python's (len, str, range, ...), each with errors in words. Layer 1.
"""
from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import repeat

from fileflow.errors import FlowfileError
from fileflow.lang.tables import TableRefused, read_data, read_table
from fileflow.lang.values import (
    ENSURE_NON_EMPTY,
    ENSURE_SHA256,
    FILE_FLAGS,
    MAX_ITEMS,
    REPEAT,
    Flagged,
    Record,
    Unpacked,
    a_type,
    text_size,
)
from fileflow.patterns import PatternError, parse_pattern
from fileflow.patterns import expand as expand_patterns

__all__ = ["BuiltinError", "EvalContext", "make_builtins", "BUILTIN_NAMES"]


@dataclass(frozen=True, slots=True)
class EvalContext:
    """What builtins need beyond their arguments: where relative paths start, the files
    table() and load() read (each read once per load, then watched as config files are),
    and the folders glob_wildcards() listed (watched for entries added or removed)."""

    workdir: str = "."
    read_files: list[str] = field(default_factory=list)
    listed_dirs: dict[str, None] = field(default_factory=dict)  # an ordered set
    read_cache: dict[tuple, object] = field(default_factory=dict)
    # where table(), load() and read_text() start: a module's own folder ("": workdir)
    files_dir: str = ""


class BuiltinError(Exception):
    """A builtin's complaint about its arguments; the caller adds the position."""


def _want(cond: bool, message: str) -> None:
    if not cond:
        raise BuiltinError(message)


def _flag(flag: str):
    def wrap(value=None, *extra):
        _want(not extra and value is not None, f"{flag}() takes one file path or a list of them")
        if isinstance(value, (list, tuple)):
            return [wrap(v) for v in value]
        if isinstance(value, Flagged):
            return Flagged(value.path, value.flags | {flag})
        _want(isinstance(value, str), f"{flag}() takes a file path, not {a_type(value)}")
        return Flagged(value, frozenset((flag,)))
    return wrap


_SCALARS = (str, int, float)


def _expand(pattern=None, *extra, zip=False, allow_missing=False, **values):
    _want(not extra, "expand() takes one pattern (or a list of patterns) and keyword values")
    items = pattern if isinstance(pattern, (list, tuple)) else [pattern]
    _want(pattern is not None and all(isinstance(p, str) for p in items),
          f"expand() takes a pattern string or a list of them, not {a_type(pattern)}")
    for name, value in values.items():
        ok = (isinstance(value, _SCALARS) or  # the check runs in C: lists may be 100,000 long
              isinstance(value, (list, tuple)) and all(map(isinstance, value, repeat(_SCALARS))))
        _want(ok, f"expand() value for '{name}' must be a string, a number or a list of them, "
                  f"not {a_type(value)}")
    lengths = [len(v) if isinstance(v, (list, tuple)) else 1 for v in values.values()]
    count = len(items) * (max(lengths, default=1) if zip else math.prod(lengths))
    _want(count <= MAX_ITEMS, f"expand() would make {count} paths (at most {MAX_ITEMS})")
    try:
        return expand_patterns(items, values, zip_values=bool(zip), allow_missing=bool(allow_missing))
    except PatternError as exc:
        raise BuiltinError(str(exc)) from None


def _glob_wildcards(ctx: EvalContext):
    def glob_wildcards(pattern=None, *extra) -> Record:
        _want(isinstance(pattern, str) and not extra, "glob_wildcards() takes one pattern string")
        try:
            parsed = parse_pattern(pattern)
        except PatternError as exc:
            raise BuiltinError(str(exc)) from None
        prefix = parsed.literal_prefix
        # The text after the literal prefix, matched from the prefix's end: its regex is the
        # same for every job that globs another folder of one shape (compiled once).
        regex = parsed._replace(text="", parts=parsed.parts[1:] if prefix else parsed.parts,
                                fmt="").regex()
        base = os.path.dirname(prefix)
        found: dict[str, list[str]] = {name: [] for name in parsed.wildcards}
        absolute = os.path.isabs(pattern)
        root = base if absolute else os.path.join(ctx.workdir, base) if base else ctx.workdir
        paths: list[str] = []
        listed = ctx.listed_dirs
        listed[root] = None  # watched even while missing: a folder made later holds files
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            listed[dirpath] = None  # its entries decide the result: the no-op shortcut watches it
            # Paths as the pattern spells them: absolute, or relative to the working directory.
            rel_dir = dirpath if absolute else os.path.relpath(dirpath, ctx.workdir)
            lead = "" if rel_dir == "." else rel_dir.rstrip("/") + "/"
            paths.extend([lead + name for name in filenames + dirnames])
        start, fullmatch = len(prefix), regex.fullmatch
        for rel in sorted(paths):
            m = fullmatch(rel, start) if rel.startswith(prefix) else None
            if m:
                for key, value in m.groupdict().items():
                    found[key].append(value)
        return Record(found, f"glob_wildcards({pattern!r})")
    return glob_wildcards


def _env(name=None, *default):
    _want(isinstance(name, str) and len(default) <= 1,
          "env() takes a variable name and an optional default: env(\"VAR\", \"default\")")
    if name in os.environ:
        return os.environ[name]
    _want(bool(default), f"environment variable {name} is not set (give a default: env(\"{name}\", ...))")
    return default[0]


def _describe(value: object) -> str:
    if isinstance(value, str) and len(value) <= 40:
        return f"the string {value!r}"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"the number {value!r}"
    return a_type(value)


def _typed(fn: Callable, name: str, takes: str, keywords: tuple[str, ...] = ()) -> Callable:
    def call(*args, **kwargs):
        unknown = sorted(set(kwargs) - set(keywords))
        if unknown:
            allowed = ", ".join(f"{k}=" for k in keywords)
            raise BuiltinError(f"{name}() got an unknown keyword argument '{unknown[0]}'"
                                + (f" (it takes {allowed})" if keywords else " (it takes none)"))
        try:
            return fn(*args, **kwargs)
        except (TypeError, ValueError, OverflowError):
            shown = ", ".join(_describe(a) for a in args) or "no arguments"
            raise BuiltinError(f"{name}() cannot take {shown}: it takes {takes}") from None
    return call


def _range(*args):
    if not 1 <= len(args) <= 3 or not all(isinstance(a, int) and not isinstance(a, bool) for a in args):
        raise TypeError("range() takes whole numbers")
    values = range(*args)
    _want(len(values) <= MAX_ITEMS, f"range() would make {len(values)} numbers (at most {MAX_ITEMS})")
    return list(values)


def _str(value=""):
    if isinstance(value, Flagged):
        return value.path
    if isinstance(value, (list, tuple, dict)):
        _want(text_size(value) <= MAX_ITEMS, f"str() would make a string of more than {MAX_ITEMS} "
                                             "characters")
    return str(value) if not isinstance(value, bool) else ("true" if value else "false")


def _sequence(name: str, value: object) -> list | tuple | str:
    """A list, string or dict's keys, for the builtins that go through one."""
    if isinstance(value, dict):
        return list(value)
    _want(isinstance(value, (list, tuple, str)),
          f"{name}() takes a list, a dict or a string, not {a_type(value)}")
    return value  # type: ignore[return-value]


def _zip(*lists):
    _want(len(lists) >= 1, "zip() takes one list or more: zip(a, b)")
    return list(zip(*(_sequence("zip", x) for x in lists)))


def _enumerate(items=None, start=0):
    _want(isinstance(start, int) and not isinstance(start, bool),
          f"enumerate() takes a whole number as start, not {a_type(start)}")
    return list(enumerate(_sequence("enumerate", items), start))


def _any(items=None):
    return any(_sequence("any", items))


def _all(items=None):
    return all(_sequence("all", items))


def _set(items=()):
    """The distinct values, in the order they first occur (a list: a build's order stays
    the same from run to run)."""
    values = _sequence("set", items)
    try:
        return list(dict.fromkeys(values))
    except TypeError:
        raise BuiltinError("set() takes values that are strings, numbers or booleans") from None
def _unpack(value=None, *extra) -> Unpacked:
    _want(not extra and isinstance(value, (dict, list, tuple)),
          f"unpack() takes one dict (named inputs) or list, not {a_type(value)}")
    if isinstance(value, dict):
        for key in value:
            _want(isinstance(key, str) and key.isidentifier(),
                  f"unpack(): input names must be names, not {key!r}")
        return Unpacked(tuple(value.items()))
    return Unpacked(tuple((None, v) for v in value))


def _multiext(prefix=None, *extensions, **named):
    """`multiext("ref/genome", ".amb", ".bwt")`: one path per extension; with names
    (`multiext("ref/genome", amb=".amb")`) named entries, as unpack() gives them."""
    _want(isinstance(prefix, str), f"multiext() takes a path prefix first, not {a_type(prefix)}")
    _want(bool(extensions) != bool(named), "multiext() takes a prefix and either extensions "
          "(multiext(\"ref/genome\", \".amb\", \".bwt\")) or named ones "
          "(multiext(\"ref/genome\", amb=\".amb\")), not both nor neither")
    for ext in (*extensions, *named.values()):
        _want(isinstance(ext, str) and ext != "",
              f"multiext() extensions are non-empty strings, not {_describe(ext)}")
    if named:
        return Unpacked(tuple((name, prefix + ext) for name, ext in named.items()))
    return [prefix + ext for ext in extensions]


def _ensure(path=None, *extra, non_empty=False, sha256=None):
    """`ensure("x.txt", non_empty=true, sha256="...")`: checks of an output after its job."""
    _want(not extra and isinstance(path, (str, Flagged)),
          f"ensure() takes one file path and the checks, not {a_type(path)}")
    flags: set[str] = set()
    _want(isinstance(non_empty, bool), "ensure(): non_empty= takes true or false")
    if non_empty:
        flags.add(ENSURE_NON_EMPTY)
    if sha256 is not None:
        digest = sha256.lower() if isinstance(sha256, str) else ""
        _want(len(digest) == 64 and all(c in "0123456789abcdef" for c in digest),
              f"ensure(): sha256= takes 64 hexadecimal digits, not {_describe(sha256)}")
        flags.add(ENSURE_SHA256 + digest)
    _want(bool(flags), "ensure() needs a check: non_empty=true or sha256=\"...\"")
    if isinstance(path, Flagged):
        return Flagged(path.path, path.flags | flags)
    return Flagged(path, frozenset(flags))


def _repeat(path=None, times=None, *extra):
    """`repeat("benchmarks/a.tsv", 3)`: a benchmark file whose job runs 3 times."""
    _want(not extra and isinstance(path, str),
          "repeat() takes a benchmark file path and a number of runs: repeat(\"b.tsv\", 3)")
    _want(isinstance(times, int) and not isinstance(times, bool) and 1 <= times <= 1000,
          f"repeat() takes a number of runs from 1 to 1000, not {_describe(times)}")
    return Flagged(path, frozenset((REPEAT + str(times),)))


def _file_reader(ctx: EvalContext, name: str, read: Callable, keywords: tuple[str, ...]) -> Callable:
    """table() or load(): the file read once per load (per-job calls share the value) and
    added to the files the load read."""
    def call(*args, **kwargs):
        unknown = sorted(set(kwargs) - set(keywords))
        if unknown:
            takes = ", ".join(f"{k}=" for k in keywords) or "none"
            raise BuiltinError(f"{name}() got an unknown keyword argument '{unknown[0]}' "
                               f"(it takes {takes})")
        _want(len(args) == 1, f"{name}() takes one file path")
        memo = (name, args[0], tuple(sorted(kwargs.items(), key=lambda kv: kv[0])))
        try:
            hash(memo)
        except TypeError:
            memo = None  # an argument of the wrong type: the reader says which
        if memo is not None and memo in ctx.read_cache:
            return ctx.read_cache[memo]
        try:
            value = read(ctx.files_dir or ctx.workdir, *args, **kwargs)
        except TableRefused as exc:
            raise BuiltinError(str(exc)) from None
        except FlowfileError as exc:
            if exc.pos is None:
                raise BuiltinError(exc.message) from None
            raise
        finally:
            if isinstance(args[0], str) and "\x00" not in args[0]:
                full = os.path.join(ctx.files_dir or ctx.workdir, args[0])
                if full not in ctx.read_files:
                    ctx.read_files.append(full)
        if memo is not None:
            ctx.read_cache[memo] = value
        return value
    return call


def _read_text_file(workdir: str, path: object) -> str:
    """`read_text(path)`: a text file's content, its surrounding blanks removed (a job that
    writes one word to decide a branch usually ends it with a newline)."""
    if not isinstance(path, str) or "\x00" in path:
        raise BuiltinError(f"read_text() takes a file path, not {a_type(path)}")
    full = path if os.path.isabs(path) else os.path.join(workdir, path)
    try:
        with open(full, encoding="utf-8") as f:
            text = f.read(MAX_ITEMS + 1)
    except (OSError, UnicodeDecodeError) as exc:
        raise BuiltinError(f"read_text({path!r}): cannot read it ({exc.__class__.__name__}: "
                           f"{getattr(exc, 'strerror', None) or exc})") from None
    _want(len(text) <= MAX_ITEMS, f"read_text({path!r}): the file holds more than {MAX_ITEMS} "
          "characters")
    return text.strip()


def make_builtins(ctx: EvalContext) -> dict[str, Callable]:
    table: dict[str, Callable] = {
        "expand": _expand, "glob_wildcards": _glob_wildcards(ctx), "env": _env,
        "range": _typed(_range, "range",
                        "one to three whole numbers: range(stop) or range(start, stop[, step])"),
        "len": _typed(len, "len", "a list, a string or a dict"),
        "int": _typed(int, "int", "a number or a string of digits"),
        "str": _typed(_str, "str", "one value"),
        "float": _typed(float, "float", "a number or a string holding one"),
        "bool": _typed(bool, "bool", "one value"),
        "list": _typed(list, "list", "a list, a string or a dict"),
        "sum": _typed(sum, "sum", "a list of numbers"),
        "min": _typed(min, "min", "a non-empty list, or several values of one kind"),
        "max": _typed(max, "max", "a non-empty list, or several values of one kind"),
        "abs": _typed(abs, "abs", "a number"),
        "round": _typed(round, "round", "a finite number and an optional number of digits"),
        "sorted": _typed(sorted, "sorted", "a list of values of one kind", ("reverse",)),
        "zip": _typed(_zip, "zip", "lists: zip(a, b)"),
        "enumerate": _typed(_enumerate, "enumerate", "a list and an optional start",
                            ("start",)),
        "any": _typed(_any, "any", "one list"),
        "all": _typed(_all, "all", "one list"),
        "set": _typed(_set, "set", "one list"),
        "unpack": _unpack,
        "multiext": _multiext,
        "ensure": _ensure,
        "repeat": _repeat,
        "table": _file_reader(ctx, "table", read_table, ("sep", "key", "na")),
        "load": _file_reader(ctx, "load", read_data, ()),
        "read_text": _file_reader(ctx, "read_text", _read_text_file, ()),
    }
    for flag in FILE_FLAGS:
        table[flag] = _flag(flag)
    return table


BUILTIN_NAMES = frozenset(make_builtins(EvalContext()))
