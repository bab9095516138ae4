"""Reusing rules: `use rule NAME as NEW with:` and modules (`module qc:`, another Flowfile
whose rules `use rule ... from qc` takes, its relative paths under a prefix). Layer 1.

The loader (loader.py) runs the statements; here are what they are made of: a used rule's
declaration with its replaced directives, a module's settings, and a module's rule renamed,
with its file paths moved under the module's prefix.
"""
from __future__ import annotations

import dataclasses
import os
import posixpath
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from fileflow.errors import FlowfileError, FlowfileErrors, Position
from fileflow.lang import syntax as s
from fileflow.lang.checkpoints import checkpoint_uses
from fileflow.lang.config import shown_path
from fileflow.lang.directives import RULE_DIRECTIVES
from fileflow.lang.model import FileItem, Lazy, Rule, Workflow, replaced
from fileflow.lang.rule_builder import RuleBuilder
from fileflow.lang.values import Attributed, Flagged, Record, Unpacked, a_type, closest
from fileflow.patterns import PatternError, parse_pattern

__all__ = ["MODULE_SETTINGS", "ModuleSettings", "LoadedModule", "derived_decl", "module_settings",
           "new_rule_name", "moved_rule", "PathMove", "load_module", "use_module_rules",
           "untaken_checkpoints", "use_local_rule", "line_of"]

MODULE_SETTINGS = ("flowfile", "config", "prefix", "replace_prefix")


def derived_decl(original: s.RuleDecl, use: s.UseRule, name: str, pos: Position) -> s.RuleDecl:
    """The declaration of the rule `use rule` makes: the original's directives, each one the
    `with:` block gives replaced by it, the new ones added after them."""
    given = {d.name: d for d in use.directives}
    seen: dict[str, s.Directive] = {}
    for d in use.directives:
        if d.name in seen:
            raise FlowfileError(f"directive '{d.name}' given twice in 'use rule ... with:'", d.pos,
                                f"first given at line {seen[d.name].pos.line}")
        seen[d.name] = d
        if d.name not in RULE_DIRECTIVES:
            raise FlowfileError(f"unknown directive '{d.name}' in 'use rule ... with:'", d.pos,
                                closest(d.name, RULE_DIRECTIVES)[2:]
                                or "directives: " + ", ".join(RULE_DIRECTIVES))
    actions = {"shell", "script"}
    replaces_action = bool(actions & set(given))
    kept = [given.pop(d.name, d) for d in original.directives
            if not (replaces_action and d.name in actions and d.name not in given)]
    kept += given.values()
    return s.RuleDecl(pos, name, tuple(kept), use.end_line, original.checkpoint)


def new_rule_name(use: s.UseRule, name: str) -> str:
    """The name a used rule gets: `as NEW`, `as PREFIX_*` (the '*' is the old name), or its own."""
    if use.new_name is None:
        return name
    return use.new_name.id.replace("*", name)


@dataclass(frozen=True)
class PathMove:
    """Where a module's relative paths go: `replace_prefix` first (the longest matching
    start), else under `prefix`; absolute paths and URLs stay."""

    prefix: str
    replace: tuple[tuple[str, str], ...]

    def __call__(self, path: str) -> str:
        if os.path.isabs(path) or "://" in path:
            return path
        if self.prefix and (path + "/").startswith(self.prefix.rstrip("/") + "/"):
            return path  # already under it: a checkpoint's output, as the module's rules read it
        for old, new in self.replace:
            if path.startswith(old):
                return new + path[len(old):]
        return posixpath.join(self.prefix, path) if self.prefix else path


@dataclass(frozen=True)
class ModuleSettings:
    name: str
    flowfile: str          # the module's Flowfile, as the path to read
    config: dict
    move: PathMove
    pos: Position


def module_settings(decl: s.ModuleDecl, path: str, evaluate: Callable[[object], object]
                    ) -> ModuleSettings:
    """A `module NAME:` block's settings, checked; the Flowfile relative to `path`'s folder."""
    values: dict[str, object] = {}
    for d in decl.directives:
        if d.name not in MODULE_SETTINGS:
            raise FlowfileError(f"unknown setting '{d.name}' in module '{decl.name}'", d.pos,
                                closest(d.name, MODULE_SETTINGS)[2:]
                                or "settings: " + ", ".join(MODULE_SETTINGS))
        if d.name in values:
            raise FlowfileError(f"'{d.name}:' given twice in module '{decl.name}'", d.pos)
        if len(d.args) != 1 or isinstance(d.args[0], s.Keyword):
            raise FlowfileError(f"'{d.name}:' takes one value", d.pos)
        values[d.name] = _checked(d, evaluate(d.args[0]))
    if "flowfile" not in values:
        raise FlowfileError(f"module '{decl.name}' has no 'flowfile:'", decl.pos,
                            'e.g. flowfile: "modules/qc/Flowfile"')
    target = str(values["flowfile"])
    full = target if os.path.isabs(target) or "://" in target else os.path.normpath(
        os.path.join(os.path.dirname(path), target))
    replace = values.get("replace_prefix", {})
    assert isinstance(replace, dict)  # checked
    move = PathMove(str(values.get("prefix", "")),
                    tuple(sorted(replace.items(), key=lambda kv: -len(kv[0]))))
    config = _plain(values.get("config", {}))
    assert isinstance(config, dict)  # checked
    return ModuleSettings(decl.name, full, config, move, decl.pos)


def _checked(d: s.Directive, value: object) -> object:
    if d.name in ("flowfile", "prefix") and not isinstance(value, str):
        raise FlowfileError(f"'{d.name}:' takes a string, not {a_type(value)}", d.args[0].pos)
    if d.name == "config" and not isinstance(value, dict):
        raise FlowfileError(f"'config:' takes a mapping (e.g. config.qc), not {a_type(value)}",
                            d.args[0].pos)
    if d.name == "replace_prefix" and not (
            isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str)
                                            for k, v in value.items())):
        raise FlowfileError("'replace_prefix:' takes a mapping of strings, e.g. "
                            '{"data/": "raw/"}', d.args[0].pos)
    return value


def _plain(value: object) -> object:
    """A config Record as the plain dicts a loaded YAML file gives."""
    if isinstance(value, Record | dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def moved_rule(rule: Rule, name: str, index: int, move: PathMove, taken: Mapping[str, str]
               ) -> Rule:
    """A module's rule under its new name, its inputs, outputs, log and benchmark moved; its
    per-job expressions read `checkpoints.NAME` by the module's names (`taken`: the module's
    rule names -> this workflow's)."""
    def renamed(value):
        return _renamed_checkpoints(value, taken) if isinstance(value, Lazy) else value

    return replaced(rule, name=name, index=index, outputs=_moved_items(rule.outputs, move),
                    inputs=_moved_files(renamed(rule.inputs), move),
                    log=_moved_files(renamed(rule.log), move),
                    params=renamed(rule.params), threads=renamed(rule.threads),
                    resources=renamed(rule.resources))


class _RenamedCheckpoints(Attributed):
    """`checkpoints` in a module's expression: `checkpoints.split` is the module's `split`,
    whatever name `use rule` gave it."""

    __slots__ = ("inner", "taken")

    def __init__(self, inner: Attributed, taken: Mapping[str, str]):
        self.inner, self.taken = inner, taken

    def attribute(self, name: str, pos: Position) -> object:
        return self.inner.attribute(self.taken.get(name, name), pos)


class _Overlay(dict):
    """A job's scope with `checkpoints` replaced, the rest read from the scope below."""

    __slots__ = ("below",)

    def __init__(self, own: Mapping[str, object], below: Mapping[str, object]):
        super().__init__(own)
        self.below = below

    def __missing__(self, key: str) -> object:
        return self.below[key]

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or key in self.below


def _renamed_checkpoints(spec: Lazy, taken: Mapping[str, str]) -> Lazy:
    fn = spec.fn

    def evaluate(scope):
        given = scope["checkpoints"] if "checkpoints" in scope else None
        if isinstance(given, Attributed):
            scope = _Overlay({"checkpoints": _RenamedCheckpoints(given, taken)}, scope)
        return fn(scope)
    return dataclasses.replace(spec, fn=evaluate)


def _moved_files(spec: tuple[FileItem, ...] | Lazy, move: PathMove) -> tuple[FileItem, ...] | Lazy:
    if isinstance(spec, Lazy):
        fn = spec.fn
        return dataclasses.replace(spec, fn=lambda scope: [(k, _moved_value(v, move))
                                                           for k, v in fn(scope)])
    return _moved_items(spec, move)


def _moved_items(items: tuple[FileItem, ...], move: PathMove) -> tuple[FileItem, ...]:
    moved = []
    for item in items:
        try:
            pattern = parse_pattern(move(item.pattern.text))
        except PatternError as exc:
            raise FlowfileError(str(exc), item.pos) from None
        moved.append(item._replace(pattern=pattern))
    return tuple(moved)


def _moved_value(value: object, move: PathMove) -> object:
    """A per-job input or log value (what flatten_files reads) with its paths moved."""
    if isinstance(value, str):
        return move(value)
    if isinstance(value, Flagged):
        return Flagged(move(value.path), value.flags)
    if isinstance(value, list | tuple):
        return [_moved_value(v, move) for v in value]
    if isinstance(value, Unpacked):
        return Unpacked(tuple((k, _moved_value(v, move)) for k, v in value.items))
    if isinstance(value, Mapping):
        return {k: _moved_value(v, move) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class LoadedModule:
    """A declared module: its settings, and once loaded without errors its loader (whose
    state a rule rebuilt with `with:` is built against) and the Workflow it made."""

    settings: ModuleSettings
    loader: Any
    workflow: Workflow | None
    taken: dict[str, str] = dataclasses.field(default_factory=dict)  # its rule -> name here
    # (checkpoint, where it is read, the rule reading it) for each rule taken
    reads: list[tuple[str, Position, str]] = dataclasses.field(default_factory=list)


def load_module(loader: Any, sub: Any, settings: ModuleSettings) -> LoadedModule:
    """Load a module's Flowfile with `sub`, a loader of its own; its files and errors join
    `loader`'s (errors name the module's file and line)."""
    if os.path.realpath(settings.flowfile) in (r for r, _ in loader.including):
        raise FlowfileError(f"module '{settings.name}' is a Flowfile that declares it",
                            settings.pos)
    workflow = None
    try:
        sub.load_file(settings.flowfile, settings.pos)
        workflow = sub.finish()
    except FlowfileErrors as errs:
        sub.errors = list(errs.errors)
    except FlowfileError as error:
        sub.fail(error)
    loader.flowfiles += sub.flowfiles
    loader.sources.update(sub.sources)
    for err in sub.errors:
        loader.fail(err)
    return LoadedModule(settings, sub if workflow is not None else None, workflow)


def use_module_rules(loader: Any, use: s.UseRule) -> None:
    """`use rule * from qc [as qc_*]`, `use rule a, b from qc`, `use rule a from qc as b with:`."""
    assert use.module is not None  # the caller's test
    name = use.module.id
    if name not in loader.modules:
        raise FlowfileError(f"use rule: no module named '{name}' above", use.module.pos,
                            closest(name, loader.modules)[2:] or "declare it with 'module NAME:'")
    module: LoadedModule = loader.modules[name]
    if module.workflow is None:
        return  # its errors are reported
    rules = module.workflow.by_name
    star = use.names[0].id == "*"
    for given in use.names if not star else ():
        if given.id not in rules:
            raise FlowfileError(f"use rule: module '{name}' has no rule '{given.id}'", given.pos,
                                closest(given.id, rules)[2:])
    chosen = [r.name for r in module.workflow.rules] if star else [n.id for n in use.names]
    if use.new_name is not None and "*" not in use.new_name.id and len(chosen) != 1:
        raise FlowfileError("'as NEW' names one rule; for several, write a pattern such as "
                            f"'as {name}_*'", use.new_name.pos)
    if use.directives and len(chosen) != 1:
        raise FlowfileError("'with:' applies to one rule", use.pos)
    renamed = {old: new_rule_name(use, old) for old in chosen}
    loader.ruleorder += [(renamed[a], renamed[b]) for a, b in module.workflow.ruleorder
                         if a in renamed and b in renamed]
    where = use.new_name.pos if use.new_name is not None else use.pos
    for old in chosen:
        new = renamed[old]
        if new in loader.rule_decls:
            raise FlowfileError(f"duplicate rule name '{new}'", where,
                                f"first defined at {loader.rule_decls[new]}")
        rule = rules[old]
        if use.directives:
            rule = _rebuilt(module, use, rule)
        loader.rule_decls[new] = where
        if loader.first_main_rule is None and len(loader.including) == 1:
            loader.first_main_rule = new
        if old in module.workflow.localrules:
            loader.localrules.append((new, where))
        module.taken[old] = new
        decl = module.loader.decls[old][0]
        module.reads.extend((cp, pos, old) for cp, pos in checkpoint_uses(decl))
        moved = moved_rule(rule, new, len(loader.rule_decls) - 1, module.settings.move,
                           module.taken)
        loader.rules.append(moved)
        loader.built[new] = moved


def _rebuilt(module: LoadedModule, use: s.UseRule, rule: Rule) -> Rule:
    """A module's rule built again with `with:`'s directives, against the module's names."""
    assert module.workflow is not None
    decl, path = module.loader.decls[rule.name]
    built = RuleBuilder(module.loader, derived_decl(decl, use, rule.name, decl.pos), path,
                        rule.index).build()
    return replaced(built, local=rule.local,
                    constraints={**module.workflow.constraints, **built.constraints})


def untaken_checkpoints(modules: Iterable[LoadedModule]) -> list[FlowfileError]:
    """An error for each checkpoint a module's rule reads that no `use rule` took."""
    errors = []
    for module in modules:
        for name, pos, rule in module.reads:
            if name not in module.taken:
                errors.append(FlowfileError(
                    f"rule '{rule}' of module '{module.settings.name}' reads checkpoints.{name}, "
                    f"which no 'use rule' takes", pos,
                    f"take it too: use rule {name} from {module.settings.name}"))
    return errors


def use_local_rule(loader: Any, use: s.UseRule, path: str) -> None:
    """`use rule NAME as NEW [with: ...]`: a rule of this workflow, written above, copied."""
    if len(use.names) != 1 or use.names[0].id == "*":
        raise FlowfileError("'use rule' takes one rule of this workflow (several, or '*', only "
                            "'from' a module)", use.names[0].pos)
    old = use.names[0]
    if use.new_name is None or "*" in use.new_name.id:
        raise FlowfileError(f"'use rule {old.id}' needs a new name: 'use rule {old.id} as NEW'",
                            use.new_name.pos if use.new_name else old.pos)
    if old.id not in loader.decls:
        taken = old.id in loader.rule_decls  # a module's rule, taken by a `use rule ... from`
        raise FlowfileError(f"use rule: no rule named '{old.id}' above", old.pos,
                            "a module's rule is reused from its module: 'use rule NAME from "
                            "MODULE as NEW with:'" if taken else closest(old.id, loader.decls)[2:])
    decl, _ = loader.decls[old.id]
    before = len(loader.errors)
    loader.add_rule(derived_decl(decl, use, use.new_name.id, use.new_name.pos), path)
    for err in loader.errors[before:]:  # an error in a directive the new rule inherits
        if err.pos is not None and not (err.pos.path == use.pos.path
                                        and use.pos.line <= err.pos.line <= use.end_line):
            note = (f"rule '{use.new_name.id}' inherits this directive from rule '{old.id}' "
                    f"('use rule' on {line_of(use.pos, err.pos)})")
            err.hint = f"{err.hint}; {note}" if err.hint else note


def line_of(pos: Position, here: Position) -> str:
    """`line 3`, or `line 3 of rules/common.flow` when `pos` is in another file than `here`."""
    return f"line {pos.line}" + (f" of {shown_path(pos.path)}" if pos.path != here.path else "")
