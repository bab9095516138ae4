"""Python functions imported into a Flowfile: `from "workflow/common.py" import get_fastq`.
Layer 1.

The module is the user's own Python file, executed once per load under a name of its own
(so that two loads, or two workflows, never share it). Its functions are called with plain
values (wildcards as a read-only object, config as dicts and lists) and must return plain
values; anything else, and any exception, is an error in words that names the function and
the line of the Python file where it raised.
"""
from __future__ import annotations

import importlib.util
import os
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import NamedTuple

from fileflow.errors import FlowfileError, Position
from fileflow.lang.builtins import BuiltinError
from fileflow.lang.file_reads import Reads, call_recording
from fileflow.lang.source_files import MAX_FLOWFILE_BYTES, FileRefused, read_bytes
from fileflow.lang.values import MAX_ITEMS, Flagged, Record, closest, expanded_size

__all__ = ["Wildcards", "PythonModule", "FunctionInfo", "ImportedFunction", "import_module_file",
           "imported_function"]

_RETURNS = "a string, a number, a bool, a list, a tuple, a dict or None"


class Wildcards(Mapping[str, str]):
    """A job's wildcards as an imported function sees them: `wildcards.sample` or
    `wildcards["sample"]`, read-only."""

    __slots__ = ("_values",)
    _values: dict[str, str]

    def __init__(self, values: Mapping[str, str]):
        object.__setattr__(self, "_values", dict(values))

    def __getattr__(self, name: str) -> str:
        values = object.__getattribute__(self, "_values")
        try:
            return values[name]
        except KeyError:
            shown = ", ".join(values) or "none"
            raise AttributeError(f"no wildcard '{name}' (this job's wildcards: {shown})") from None

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("wildcards are read-only")

    def __getitem__(self, key: str) -> str:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return "Wildcards(" + ", ".join(f"{k}={v!r}" for k, v in self._values.items()) + ")"


class FunctionInfo(NamedTuple):
    """Where an imported function is defined, for the editor: its file, line (1-based, 0 when
    unknown), signature and docstring."""

    file: str
    line: int
    signature: str
    doc: str


class PythonModule(NamedTuple):
    path: str            # the file, as loading reached it
    shown: str           # the file, as the Flowfile writes it
    namespace: dict      # the module's names after it ran
    lines: tuple[str, ...]
    reads: Reads         # where what it reads, importing and called, is recorded (watched)


def import_module_file(path: str, shown: str, pos: Position, reads: Reads) -> PythonModule:
    """Run the Python file `path` as a module of its own; errors at `pos` (the path's string).
    The files it reads, then and when its functions are called, go into `reads`."""
    try:
        data = read_bytes(path, MAX_FLOWFILE_BYTES, "a Python file")
    except FileNotFoundError:
        raise FlowfileError(f"file not found: {shown}", pos) from None
    except OSError as exc:
        raise FlowfileError(f"cannot read {shown}: {exc.strerror}", pos) from None
    except FileRefused as exc:
        raise FlowfileError(f"cannot read {shown}: {exc}", pos) from None
    try:
        source = importlib.util.decode_source(data)
        # Compiled from the text read now, never from a cached .pyc: an edit within the
        # second of the last one (same size, same mtime seconds) is still seen.
        code = compile(source, path, "exec", dont_inherit=True)
    except SyntaxError as exc:
        raise FlowfileError(f"cannot import {shown}: {exc.msg} (line {exc.lineno})", pos) from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise FlowfileError(f"cannot import {shown}: {exc}", pos) from None
    stem = re.sub(r"\W", "_", os.path.splitext(os.path.basename(path))[0])
    # 12 random hex digits, as a uuid's would be, without importing uuid (and platform)
    name = f"fileflow_flowfile_{stem}_{os.urandom(6).hex()}"
    spec = importlib.util.spec_from_loader(name, loader=None, origin=path)
    assert spec is not None  # spec_from_loader returns None only without a loader and origin
    module = importlib.util.module_from_spec(spec)
    module.__file__ = path
    lines = tuple(source.splitlines())
    # Its folder is searched for the modules it imports (as Python does for a script), after
    # the installed ones, so that a sibling file never hides a module fileflow uses.
    folder = os.path.dirname(os.path.abspath(path))
    if folder not in sys.path:
        sys.path.append(folder)
    # Registered while it runs only: dataclasses and typing look a module up by name.
    sys.modules[name] = module
    try:
        call_recording(reads, exec, code, module.__dict__)
    except KeyboardInterrupt:  # Ctrl-C while the file runs: the build stops, as anywhere
        raise
    except BaseException as exc:  # SystemExit and any other the user's code raises
        where = _where(exc, path, shown, lines)
        raise FlowfileError(f"importing {shown} raised {_exception_text(exc)}"
                            + (f" at {where}" if where else ""), pos) from None
    finally:
        sys.modules.pop(name, None)
    return PythonModule(path, shown, module.__dict__, lines, reads)


def _functions(module: PythonModule) -> list[str]:
    import inspect

    return [k for k, v in module.namespace.items()
            if not k.startswith("_") and inspect.isfunction(v)]


def imported_function(module: PythonModule, name: str, pos: Position
                      ) -> tuple[ImportedFunction, FunctionInfo]:
    """The function `name` of `module`, ready to be called from Flowfile expressions; an
    error at `pos` (the name in the import) when the module has no such function."""
    import inspect

    fn = module.namespace.get(name)
    if fn is None or not callable(fn) or isinstance(fn, type):
        have = _functions(module)
        message = (f"{module.shown} has no function '{name}'" if fn is None
                   else f"'{name}' in {module.shown} is not a function (it is {_python_type(fn)})")
        raise FlowfileError(f"{message}; it has: {', '.join(have) if have else 'no functions'}", pos,
                            closest(name, have)[2:])
    info = FunctionInfo(module.path, 0, f"{name}(...)", "")
    try:
        signature = f"{name}{inspect.signature(fn)}"
    except (TypeError, ValueError):
        signature = info.signature
    code = getattr(fn, "__code__", None)
    if code is not None and os.path.realpath(code.co_filename) == os.path.realpath(module.path):
        info = info._replace(line=code.co_firstlineno)
    return ImportedFunction(name, fn, module), info._replace(signature=signature,
                                                             doc=inspect.getdoc(fn) or "")


class ImportedFunction:
    """An imported function as a Flowfile expression calls it: arguments made plain, the
    result checked, failures turned into BuiltinError (the caller adds the call's position)."""

    __slots__ = ("name", "fn", "module", "configs")

    def __init__(self, name: str, fn: Callable, module: PythonModule):
        self.name, self.fn, self.module = name, fn, module
        # id(config or a part of it) -> (it, its plain copy): config is the same for every
        # job, and copying a large one for each of 100,000 calls would take minutes.
        self.configs: dict[int, tuple[object, object]] = {}

    def plain(self, value: object) -> object:
        if type(value) in _PLAIN:  # a number, string, boolean or none: as it is
            return value
        if isinstance(value, Record):
            label = value.label
            if label == "wildcards":  # a job's: as to_python gives them
                return Wildcards(value)
            if label.startswith("config"):
                known = self.configs.get(id(value))
                if known is None:
                    known = self.configs[id(value)] = (value, to_python(value))
                return known[1]
        return to_python(value)

    def __call__(self, *args: object, **kwargs: object) -> object:
        plain = self.plain
        plain_args = []
        for a in args:  # (a loop, not a comprehension: a call saved on each call)
            plain_args.append(plain(a))
        plain_kwargs = {k: self.plain(v) for k, v in kwargs.items()} if kwargs else kwargs
        try:
            result = call_recording(self.module.reads, self.fn, *plain_args, **plain_kwargs)
        except KeyboardInterrupt:  # Ctrl-C in a slow function: the build stops, as anywhere
            raise
        except BaseException as exc:  # SystemExit, GeneratorExit, a class of the user's own
            module = self.module
            where = _where(exc, module.path, module.shown, module.lines)
            raise BuiltinError(f"{self.name}() raised {_exception_text(exc)}"
                               + (f" at {where}" if where else "")) from None
        return self.returned(result)

    def returned(self, value: object) -> object:
        """The result as a Flowfile value: tuples as lists, dicts as dicts readable by
        attribute; anything else is an error."""
        if type(value) in _PLAIN:  # a path (the common result), a number, a boolean or none
            if type(value) is int and value.bit_length() > _DIGITS_BITS:
                _check_digits(value, self.name)
            return value
        try:
            if expanded_size(value) > MAX_ITEMS:
                raise BuiltinError(f"{self.name}() returned a value holding more than {MAX_ITEMS} "
                                   "values (or holding itself)")
            return _from_python(value, self.name)
        except RecursionError:
            raise BuiltinError(f"{self.name}() returned a value nested too deeply") from None
        except BuiltinError:
            raise
        except Exception as exc:  # the value's own code (a subclass's __len__, __iter__) failed
            raise BuiltinError(f"{self.name}() returned a value that cannot be read: "
                               f"{_exception_text(exc)}") from None


_PLAIN = frozenset({str, int, float, bool, type(None)})  # values passed and returned as they are
_STRINGS = {str}
# An int of fewer bits has fewer digits than Python turns into text (4300 by default).
_DIGITS_BITS = 14_000


def _check_digits(value: int, name: str) -> None:
    """An int with more digits than Python turns into text could be neither shown nor put in
    a command: an error at the call, as the same number written in the Flowfile would be."""
    try:
        str(value)
    except ValueError:
        raise BuiltinError(f"{name}() returned an integer of more than "
                           f"{sys.get_int_max_str_digits()} digits; return it as a string") from None


def _from_python(value: object, name: str) -> object:
    """The value as plain Flowfile values. A subclass (of str, int, list, dict ...) becomes
    its base type through the base type's own methods: what the subclass overrides
    (__str__, __iter__, __hash__) is never called, now or later."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, int):
        value = int.__int__(value)
        if value.bit_length() > _DIGITS_BITS:
            _check_digits(value, name)
        return value
    if isinstance(value, list):
        return [_from_python(v, name) for v in list.__iter__(value)]
    if isinstance(value, tuple):
        return tuple(_from_python(v, name) for v in tuple.__iter__(value))
    if isinstance(value, dict):
        out = Record(label="dict")
        for key, item in dict.items(value):
            if not isinstance(key, (str, int, float, bool)):
                raise BuiltinError(f"{name}() returned a dict with {_python_type(key)} as a key; "
                                   "keys must be strings or numbers")
            out[_from_python(key, name)] = _from_python(item, name)
        return out
    hint = "; convert it with str(...)" if isinstance(value, os.PathLike) else ""
    raise BuiltinError(f"{name}() returned {_python_type(value)}; an imported function must return "
                       f"{_RETURNS}{hint}")


def _python_type(value: object) -> str:
    name = type(value).__name__
    return f"a Python {name}" if name[0] not in "aeiou" else f"an {name}"


def to_python(value: object) -> object:
    """A Flowfile value as an imported function receives it: wildcards as a Wildcards,
    other dicts (config, a table's rows) as plain dicts (copies), a flagged path as its path."""
    if type(value) is str:
        return value
    if isinstance(value, Record) and value.label == "wildcards":
        return Wildcards(value)
    if isinstance(value, dict):  # a table's row: strings, copied without a call for each
        return {k: v if type(v) is str else to_python(v) for k, v in value.items()}
    if isinstance(value, list):
        if set(map(type, value)) == _STRINGS:  # a list of names (SAMPLES): copied in C
            return list(value)
        return [v if type(v) is str else to_python(v) for v in value]
    if isinstance(value, tuple):
        return tuple(to_python(v) for v in value)
    if isinstance(value, Flagged):
        return value.path
    return value


def _exception_text(exc: BaseException) -> str:
    try:
        text = str(exc)
    except Exception as inner:  # the exception's own __str__ failed
        text = f"(its text cannot be shown: {type(inner).__name__} in its __str__)"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _where(exc: BaseException, path: str, shown: str, lines: tuple[str, ...]) -> str:
    """`workflow/common.py:12: the line`, the last frame of the traceback in the module's file."""
    import traceback

    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == path]
    if isinstance(exc, SyntaxError) and exc.filename == path and exc.lineno:
        line = exc.lineno
    elif frames and frames[-1].lineno:
        line = frames[-1].lineno
    else:
        return ""
    text = lines[line - 1].strip() if 0 < line <= len(lines) else ""
    return f"{shown}:{line}" + (f" ({text})" if text else "")
