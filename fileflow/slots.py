"""Fast construction of frozen slotted dataclasses. Layer 0.

The generated `__init__` of a frozen dataclass stores each field with an object.__setattr__
call; code that makes hundreds of thousands of small records (the fast parser's nodes, a
command template's fields) builds them with `slot_builder` instead.
"""
from __future__ import annotations

from collections.abc import Callable

from fileflow.errors import Position

__all__ = ["slot_builder"]


def _draft_class(cls):
    """A plain class with `cls`'s slots: an instance of it can be filled with ordinary
    (fast, specialised) attribute stores and then turned into a `cls` by assigning
    __class__, which Python allows between classes of the same layout."""
    return type(f"_{cls.__name__}Draft", (), {"__slots__": cls.__slots__})


def slot_builder(cls, with_position: bool = False) -> Callable:
    """A function equal to `cls(*fields)` for a frozen slotted dataclass, several times
    faster than the generated __init__ (one object.__setattr__ call per field): the fields
    are stored on a draft of the same layout, which then becomes a `cls`.
    `with_position`: the function takes the record's first field, a Position, as (path,
    line, column, end_line, end_column) and builds both, one Python call instead of two."""
    names = list(cls.__slots__)
    position_names = list(Position.__slots__)
    scope = {"_cls": cls, "_Draft": _draft_class(cls),
             "_Position": Position, "_PositionDraft": _draft_class(Position)}
    params = names
    body = ""
    if with_position:
        params = [f"p_{name}" for name in position_names] + names[1:]
        body = ("    pos = _PositionDraft()\n"
                + "".join(f"    pos.{name} = p_{name}\n" for name in position_names)
                + "    pos.__class__ = _Position\n")
    body += "    _built = _Draft()\n" + "".join(f"    _built.{name} = {name}\n" for name in names)
    exec(f"def build({', '.join(params)}):\n{body}    _built.__class__ = _cls\n    return _built\n",
         scope)
    build = scope["build"]
    build.__qualname__ = build.__name__ = f"build_{cls.__name__}{'_at' if with_position else ''}"
    return build
