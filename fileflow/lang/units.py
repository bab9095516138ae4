"""Resources written with units, read as Snakemake reads them: `mem = "8G"` and
`disk = "2TB"` give `mem_mb` and `disk_mb` (megabytes, 10^6 bytes, rounded up),
`mem_mib = 1024` gives `mem_mb` too, `runtime = "2h30m"` gives whole minutes. Layer 1.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping

from fileflow.errors import FlowfileError, Position
from fileflow.lang.directives import check_resource

__all__ = ["UnitError", "size_mb", "minutes", "seconds", "span", "with_units", "given_resources",
           "layered",
           "SIZED", "DERIVED"]

# Sized resources: the name with a unit, in MiB, and the number of MB every consumer reads.
SIZED = ("mem", "disk")
# Every name that sets a size's MB: `mem`, `mem_mib` and `mem_mb` are one resource.
DERIVED = {f"{base}{suffix}": f"{base}_mb" for base in SIZED for suffix in ("", "_mib", "_mb")}

_SIZE_UNITS = {"b": 1, "byte": 1, "bytes": 1}
for _i, _p in enumerate("kmgtpe", start=1):
    for _spelling in (_p, _p + "b"):
        _SIZE_UNITS[_spelling] = 1000 ** _i
    for _spelling in (_p + "i", _p + "ib"):
        _SIZE_UNITS[_spelling] = 1024 ** _i
_TIME_UNITS = {"s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
               "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
               "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
               "d": 86400, "day": 86400, "days": 86400, "w": 604800, "week": 604800,
               "weeks": 604800}
_NUMBER_UNIT = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([A-Za-z]*)")
_MIB_IN_MB = 1.048576


class UnitError(ValueError):
    """A value that cannot be read as a size or a time span; the message says why."""


def size_mb(text: str) -> int:
    """Megabytes (10^6 bytes, rounded up, at least 1) of a size such as "8G", "500MB",
    "2TiB"; a string of digits alone is already megabytes."""
    body = text.strip()
    if body.isdecimal():
        return int(body)
    m = _NUMBER_UNIT.fullmatch(body)
    unit = m.group(2).lower() if m else ""
    if not m or unit not in _SIZE_UNITS:
        raise UnitError(f"{text!r} is not a size: write a number and a unit, e.g. \"8G\", "
                        "\"500MB\" or \"2TiB\" (SI: k, M, G, T, P, with or without B; "
                        "IEC: KiB, MiB, GiB, TiB, PiB)")
    return max(math.ceil(float(m.group(1)) * _SIZE_UNITS[unit] / 1e6), 1)


def minutes(text: str) -> int:
    """Whole minutes (at least 1) of a time span such as "2h30m", "90m", "1d", "1h 30m";
    a string of digits alone is already minutes."""
    body = text.strip()
    if body.isdecimal():
        return int(body)
    return max(int(round(_span_seconds(text)) / 60), 1)


def seconds(text: str) -> float:
    """Seconds of a time span such as "2h", "90s", "1h 30m", "0.5s" (a job's timeout); a
    string of digits alone is already seconds."""
    body = text.strip()
    if body.isdecimal():
        return float(body)
    return _span_seconds(text)


def _span_seconds(text: str) -> float:
    body = text.strip()
    total, at = 0.0, 0
    for m in _NUMBER_UNIT.finditer(body):
        unit = m.group(2).lower()
        if m.start() != at or unit not in _TIME_UNITS:
            break
        total += float(m.group(1)) * _TIME_UNITS[unit]
        at = m.end()
    else:
        if at and not body[at:].strip():
            return total
    raise UnitError(f"{text!r} is not a time span: write numbers with units, e.g. \"90m\", "
                    "\"2h30m\" or \"1d\" (s, m, h, d, w)")


def span(total: float) -> str:
    """A number of seconds as a time span is written: 7200 -> "2h", 90 -> "1m30s",
    0.5 -> "0.5s"."""
    whole = int(total)
    if total != whole or whole == 0:
        return f"{total:g}s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if whole >= size:
            parts.append(f"{whole // size}{unit}")
            whole %= size
    return "".join(parts)


def with_units(pairs: Iterable[tuple[str, object]], pos_of: Callable[[str], Position | None],
               below: Mapping[str, object] | None = None) -> dict[str, object]:
    """A job's resources from the rule's `pairs` over `below` (the default ones): sizes
    and times with units turned into `mem_mb`, `disk_mb` and `runtime`, each value checked.
    A size the rule sets replaces every spelling of it below (`mem_mb` under `mem`)."""
    own: dict[str, object] = {}
    derived: dict[str, object] = {}
    for name, value in pairs:
        pos = pos_of(name)
        target = DERIVED.get(name)
        if target is not None:
            other = next((n for n in own if DERIVED.get(n) == target), None)
            if other is not None:
                raise FlowfileError(f"resources '{other}' and '{name}' give the same size twice",
                                    pos, f"keep one of them: '{target}' is derived from "
                                    f"'{target[:-3]}' (with a unit) and '{target[:-3]}_mib'")
            derived[target] = _size(name, value, pos)
        elif name == "runtime" and isinstance(value, str):
            value = _read(minutes, name, value, pos)
        else:
            check_resource(name, value, pos)
        own[name] = value
    own.update(derived)
    return layered(below or {}, own)


def layered(below: Mapping[str, object], above: Mapping[str, object]) -> dict[str, object]:
    """Resources read with their units, `above` over `below`: a size `above` sets in any
    spelling (`mem`, `mem_mib`, `mem_mb`) replaces every spelling of it below, so that
    `mem` and the `mem_mb` derived from it never disagree. A spelling only `below` has is
    kept, restating the new size in its own unit (`mem` "2000MB" under `mem_mb=2000`):
    a command reading `{resources.mem}` still finds it."""
    sizes = {DERIVED[name] for name in above if name in DERIVED}
    out = dict(below)
    for name in below:
        mb_name = DERIVED.get(name)
        if mb_name in sizes and name not in above:
            mb = above.get(mb_name)
            if name in SIZED and isinstance(mb, int | float):
                out[name] = f"{int(mb) if float(mb).is_integer() else mb}MB"
            elif name.endswith("_mib") and isinstance(mb, int | float):
                out[name] = math.floor(mb / _MIB_IN_MB)
            else:
                del out[name]
    out.update(above)
    return out


def _size(name: str, value: object, pos: Position | None) -> int | float:
    """The MB a size resource stands for: `mem` with a unit or in MB, `mem_mib` in MiB,
    `mem_mb` in MB."""
    if isinstance(value, str) and name in SIZED:
        return _read(size_mb, name, value, pos)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
        hint = (f"for a size with a unit, write {name.rsplit('_', 1)[0]} = \"{value}\""
                if isinstance(value, str) else "")
        what = "a size such as \"8G\" or a number of MB" if name in SIZED else "a non-negative number"
        raise FlowfileError(f"resource '{name}' must be {what}, got {value!r}", pos, hint)
    return math.floor(value * _MIB_IN_MB) if name.endswith("_mib") else value


def _read(parse: Callable[[str], int], name: str, value: str, pos: Position | None) -> int:
    try:
        return parse(value)
    except UnitError as exc:
        raise FlowfileError(f"resource '{name}': {exc}", pos) from None


def given_resources(values: Mapping[str, object], option: str) -> dict[str, object]:
    """Resources given on the command line or in a profile (`--default-resources mem=8G`),
    read with their units as a rule's are."""
    try:
        return with_units(values.items(), lambda _: None)
    except FlowfileError as exc:
        raise FlowfileError(f"{option}: {exc.message}", None, exc.hint) from None
