"""A rule's software: its `conda:` environment and its `envmodules:` list, checked while
loading. Layer 1.

`conda:` names an environment file (`.yaml`/`.yml`, relative to the Flowfile that names
it), an existing prefix (a path) or a named environment. The file's content goes into the
job signature, so an edited environment reruns its jobs.
"""
from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable

from fileflow.errors import FlowfileError
from fileflow.lang import syntax as s
from fileflow.lang.directives import check_path_text
from fileflow.lang.expr_names import free_names
from fileflow.lang.model import CondaEnv, Software
from fileflow.lang.values import a_type

__all__ = ["read_software"]

_MODULE = re.compile(r"[^\s;&|`$<>()'\"\\]+")


def read_software(conda: s.Directive | None, modules: s.Directive | None,
                  evaluate: Callable[[object], object], flowfile: str,
                  workdir: str) -> Software | None:
    """The rule's Software from its `conda:` and `envmodules:` directives (None without both)."""
    if conda is None and modules is None:
        return None
    for d in (conda, modules):
        if d is None:
            continue
        for arg in d.args:
            if free_names(arg.value if isinstance(arg, s.Keyword) else arg) & {"wildcards",
                                                                                "attempt"}:
                raise FlowfileError(f"'{d.name}:' cannot depend on wildcards or attempt: the "
                                    "software is the same for every job of the rule", arg.pos)
    env = _conda_env(conda, evaluate, flowfile, workdir) if conda is not None else None
    names: list[str] = []
    if modules is not None:
        if not modules.args:
            raise FlowfileError("'envmodules:' takes module names, e.g. \"bwa/0.7.17\"", modules.pos)
        for arg in modules.args:
            if isinstance(arg, s.Keyword):
                raise FlowfileError("'envmodules:' takes module names (strings), not name=value",
                                    arg.pos)
            value = evaluate(arg)
            for name in value if isinstance(value, list) else [value]:
                if not isinstance(name, str):
                    raise FlowfileError(f"'envmodules:' takes module names (strings), not "
                                        f"{a_type(name)}", arg.pos)
                if not _MODULE.fullmatch(name):
                    raise FlowfileError(f"'envmodules:' takes module names; {name!r} is not one", arg.pos,
                                        "a module name has no spaces or shell characters")
                names.append(name)
    return Software(env, tuple(names))


def _conda_env(d: s.Directive, evaluate, flowfile: str, workdir: str) -> CondaEnv:
    if len(d.args) != 1 or isinstance(d.args[0], s.Keyword):
        raise FlowfileError("'conda:' takes one string: an environment file, a prefix or a name",
                            d.pos)
    pos = d.args[0].pos
    value = evaluate(d.args[0])
    if not isinstance(value, str) or not value:
        raise FlowfileError(f"'conda:' takes a string, not {a_type(value)}", pos)
    check_path_text(value, "conda", pos)
    if value.endswith((".yaml", ".yml")):
        full = value if os.path.isabs(value) else os.path.join(os.path.dirname(flowfile), value)
        try:
            with open(full, "rb") as fh:
                digest = hashlib.sha256(fh.read()).hexdigest()
        except OSError as exc:
            raise FlowfileError(f"conda environment file not found: {full} ({exc.strerror})", pos,
                                "environment files are relative to the Flowfile that names them"
                                ) from None
        return CondaEnv("file", os.path.relpath(full, workdir), digest, pos)
    if "/" in value or value.startswith("~"):
        return CondaEnv("prefix", os.path.abspath(os.path.expanduser(value)), "", pos)
    return CondaEnv("name", value, "", pos)
