"""Syntax tree -> checked rule model (Workflow of Rules). Layer 1.

Top-level statements run in order: assignments bind names, `configfile:` merges YAML into
`config`, `include:` loads another Flowfile into the same namespace. Each rule's directives
are evaluated now when they can be, or kept as compiled expressions (`Lazy`) when they read
`wildcards` (or `attempt`, in resources and threads), to be evaluated per job.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable, Mapping, NamedTuple, Sequence

from fileflow.lang import syntax as s
from fileflow.errors import FlowfileError, FlowfileErrors, Position
from fileflow.lang.builtins import BUILTIN_NAMES, EvalContext, make_builtins
from fileflow.lang.evaluate import UndefinedName, attribute_uses, compile_expr, free_names, walk
from fileflow.lang.values import Flagged, Record, a_type, closest, record_from
from fileflow.patterns import Pattern, PatternError, parse_pattern, regex_problem
from fileflow.template import Items, Template, TemplateError, parse_template

__all__ = ["FileItem", "Lazy", "Action", "Rule", "Workflow", "JobValues", "load_workflow",
           "job_values", "load_config_file", "parse_config_overrides", "RULE_DIRECTIVES", "TOP_DIRECTIVES"]

RULE_DIRECTIVES = ("input", "output", "params", "log", "threads", "resources", "retries",
                   "priority", "message", "wildcard_constraints", "shell", "script")
TOP_DIRECTIVES = ("configfile", "include", "localrules", "ruleorder", "wildcard_constraints",
                  "default")
ACTIONS = ("shell", "script")
# Words the grammar reads as keywords inside expressions (so a variable of that name could never be read).
KEYWORDS = frozenset({"rule", "if", "else", "and", "or", "not", "in", "true", "false", "none",
                      "True", "False", "None"})
# Names a per-job expression may read, by directive.
JOB_NAMES = {"resources": ("wildcards", "attempt", "threads"), "threads": ("wildcards", "attempt")}
JOB_NAMES_DEFAULT = ("wildcards",)


class FileItem(NamedTuple):
    """One entry of input/output/log: a pattern, an optional name and flags (temp, ...).
    A named tuple: `expand()` can give a rule 100,000 of them."""

    pattern: Pattern
    name: str | None
    flags: frozenset[str]
    pos: Position


@dataclass(frozen=True, slots=True)
class Lazy:
    """A directive value that is evaluated per job (it reads `wildcards` or `attempt`)."""

    fn: Callable[[Mapping[str, object]], object]
    scope: Mapping[str, object]
    pos: Position

    def __call__(self, **job_names) -> object:
        try:
            return self.fn(_JobScope(job_names, self.scope))
        except RecursionError:
            raise FlowfileError("expression nested too deeply", self.pos) from None


class _JobScope(dict):
    """A job's own names (wildcards, attempt) over the Flowfile's names, without copying them."""

    __slots__ = ("outer",)

    def __init__(self, own: Mapping[str, object], outer: Mapping[str, object]):
        super().__init__(own)
        self.outer = outer

    def __missing__(self, key: str) -> object:
        return self.outer[key]

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or key in self.outer


@dataclass(frozen=True, slots=True)
class Action:
    kind: str                     # "shell" | "script"
    text: str                     # the command template, or the script path (relative to workdir)
    template: Template | None     # shell only
    pos: Position


@dataclass(frozen=True, slots=True, eq=False)
class Rule:
    name: str
    pos: Position
    index: int                                   # definition order (earlier wins nothing; for display)
    outputs: tuple[FileItem, ...]
    wildcards: tuple[str, ...]                   # defined by the outputs
    inputs: tuple[FileItem, ...] | Lazy
    log: tuple[FileItem, ...] | Lazy
    params: Items | Lazy
    threads: int | Lazy
    resources: Mapping[str, object] | Lazy
    retries: int
    priority: int
    message: Template | None
    action: Action | None
    constraints: Mapping[str, str]
    local: bool
    directive_pos: Mapping[str, Position]
    source_hash: str = ""                        # script content digest, for the signature

    @property
    def lazy(self) -> bool:
        """Whether any directive is evaluated per job."""
        return (isinstance(self.inputs, Lazy) or isinstance(self.log, Lazy)  # per job: no genexpr
                or isinstance(self.params, Lazy) or isinstance(self.threads, Lazy)
                or isinstance(self.resources, Lazy))


@dataclass(frozen=True, slots=True)
class Workflow:
    rules: tuple[Rule, ...]
    by_name: Mapping[str, Rule]
    default_targets: tuple[str, ...]
    ruleorder: tuple[tuple[str, str], ...]       # (preferred, other) pairs
    localrules: frozenset[str]
    constraints: Mapping[str, str]
    config: Mapping[str, object]
    flowfiles: tuple[str, ...]
    workdir: str
    names: Mapping[str, Position] = field(default_factory=dict)  # top-level assignments
    read_files: tuple[str, ...] = ()             # config files and scripts read while loading


class JobValues(NamedTuple):
    """Everything a rule's directives evaluate to for one job (a named tuple: cheap to make)."""

    inputs: Items
    outputs: Items
    log: Items
    params: Items
    threads: int
    resources: Mapping[str, object]
    flags: Mapping[str, frozenset[str]]          # path -> flags, only for flagged paths


# ---------------------------------------------------------------- config

def load_config_file(path: str, pos: Position | None = None, shown: str | None = None) -> dict:
    """Read a YAML mapping. `shown` is the name used in messages (the path as the user wrote it)."""
    import yaml

    shown = shown or path
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except FileNotFoundError:
        raise FlowfileError(f"config file not found: {shown}", pos) from None
    except OSError as exc:
        raise FlowfileError(f"cannot read config file {shown}: {exc.strerror}", pos) from None
    except UnicodeDecodeError:
        raise FlowfileError(f"config file {shown} is not UTF-8 text", pos) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = Position(_shown_path(path), mark.line + 1, mark.column + 1) if mark else pos
        problem = getattr(exc, "problem", None) or str(exc)
        context, start = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and start is not None and (mark is None or start.line != mark.line):
            problem += f" ({context} that starts at line {start.line + 1}, column {start.column + 1})"
        raise FlowfileError(f"invalid YAML in config file: {problem}", where) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise FlowfileError(f"config file {shown} must hold a mapping (key: value), "
                            f"not {a_type(data)}", pos)
    return data


def _shown_path(path: str) -> str:
    """A path for messages: relative to the current directory when it is inside it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        return path
    return path if rel.startswith("..") else rel


def parse_config_overrides(pairs: Sequence[str]) -> dict:
    """`--config key=value` (value read as YAML; `a.b=1` sets a nested key)."""
    if not pairs:
        return {}
    import yaml  # only when there is something to read: a slow import

    out: dict = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise FlowfileError(f"--config expects key=value, got {pair!r}")
        try:
            value = yaml.safe_load(raw) if raw else ""
        except yaml.YAMLError:
            value = raw
        node = out
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def _merge(base: dict, extra: Mapping) -> dict:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


# ---------------------------------------------------------------- loading

class _Loader:
    def __init__(self, workdir: str, overrides: dict):
        self.workdir = workdir
        self.overrides = overrides
        self.builtins = make_builtins(EvalContext(workdir))
        self.config: dict = dict(overrides)
        self.scope: dict[str, object] = {"config": record_from(self.config, "config")}
        self.names: dict[str, Position] = {}
        self.assigned: dict[str, Position] = {}   # every top-level assignment parsed so far
        self.rules: list[Rule] = []
        self.rule_decls: dict[str, Position] = {}
        self.errors: list[FlowfileError] = []
        self.default: list[str] | None = None
        self.default_pos: Position | None = None
        self.localrules: list[tuple[str, Position]] = []
        self.ruleorder: list[tuple[str, str]] = []
        self.ruleorder_names: list[tuple[str, Position]] = []
        self.constraints: dict[str, str] = {}
        self.flowfiles: list[str] = []
        self.including: list[tuple[str, str]] = []   # (real path, path as shown), outermost first
        self.sources: dict[str, str] = {}
        self.texts: Mapping[str, str] = {}   # real path -> text read instead of the file's
        self.read_files: list[str] = []  # besides the Flowfiles: what else loading read

    # -- files

    def load_file(self, path: str, pos: Position | None = None) -> None:
        real = os.path.realpath(path)
        reals = [r for r, _ in self.including]
        if real in reals:
            shown = [p for _, p in self.including[reals.index(real):]]
            raise FlowfileError(f"include cycle: {' -> '.join(shown + [path])}", pos,
                                "a file cannot include itself, directly or through other files")
        if real in self.texts:   # a file being edited: its unsaved text
            self.load_text(self.texts[real], path, real)
            return
        try:
            with open(path, encoding="utf-8-sig") as fh:  # a BOM from a Windows editor is not text
                text = fh.read()
        except FileNotFoundError:
            raise FlowfileError(f"file not found: {path}", pos) from None
        except OSError as exc:
            raise FlowfileError(f"cannot read {path}: {exc.strerror}", pos) from None
        except UnicodeDecodeError:
            raise FlowfileError(f"cannot read {path}: it is not UTF-8 text", pos) from None
        self.load_text(text, path, real)

    def load_text(self, text: str, path: str, real: str | None = None) -> None:
        module = s.parse_flowfile(text, path)
        for stmt in module.statements:
            if isinstance(stmt, s.Assignment):
                self.assigned.setdefault(stmt.name, stmt.pos)
        self.flowfiles.append(path)
        self.sources[path] = text
        self.including.append((real or os.path.realpath(path), path))
        try:
            for stmt in module.statements:
                try:
                    if isinstance(stmt, s.RuleDecl):
                        self.add_rule(stmt, path)
                    elif isinstance(stmt, s.Assignment):
                        self.assign(stmt)
                    else:
                        self.top_directive(stmt, path)
                except RecursionError:
                    raise FlowfileError("expression nested too deeply", stmt.pos) from None
        finally:
            self.including.pop()

    def fail(self, err: FlowfileError) -> None:
        if err.pos is not None and err.source is None:
            err.source = self.sources.get(err.pos.path)
        if isinstance(err, UndefinedName) and err.name in self.assigned:
            where = self.assigned[err.name]
            shown = f"line {where.line}" if where.path == err.pos.path else str(where)
            err.hint = (f"'{err.name}' is assigned later, at {shown}; names are defined in order, "
                        "so move that assignment above this line")
        self.errors.append(err)

    def evaluate(self, node) -> object:
        return compile_expr(node, self.builtins)(self.scope)

    # -- top level

    def assign(self, stmt: s.Assignment) -> None:
        if stmt.name in ("config", "wildcards", "attempt") or stmt.name in BUILTIN_NAMES:
            raise FlowfileError(f"cannot assign to '{stmt.name}': it is a built-in name", stmt.pos)
        if stmt.name in KEYWORDS:
            raise FlowfileError(f"cannot assign to '{stmt.name}': it is a keyword", stmt.pos)
        self.scope[stmt.name] = self.evaluate(stmt.value)
        self.names[stmt.name] = stmt.pos

    def top_directive(self, d: s.Directive, path: str) -> None:
        name = d.name
        if name not in TOP_DIRECTIVES:
            if name in RULE_DIRECTIVES:
                raise FlowfileError(f"'{name}:' is a rule directive; it belongs inside a rule",
                                    d.pos, "indent it under a 'rule NAME:' line")
            if name == "rule":
                raise FlowfileError("expected a rule name after 'rule'", d.pos)
            raise FlowfileError(f"unknown top-level directive '{name}'", d.pos,
                                closest(name, TOP_DIRECTIVES)[2:]
                                or "top-level directives: " + ", ".join(TOP_DIRECTIVES))
        handler = getattr(self, "top_" + name)
        handler(d, path)

    def _one_string(self, d: s.Directive) -> str:
        if len(d.args) != 1 or isinstance(d.args[0], s.Keyword):
            raise FlowfileError(f"'{d.name}:' takes exactly one string", d.pos)
        value = self.evaluate(d.args[0])
        if not isinstance(value, str):
            raise FlowfileError(f"'{d.name}:' takes a string, not {a_type(value)}", d.args[0].pos)
        return value

    def top_configfile(self, d: s.Directive, path: str) -> None:
        target = self._one_string(d)
        full = target if os.path.isabs(target) else os.path.join(self.workdir, target)
        self.read_files.append(full)
        data = load_config_file(full, d.args[0].pos, shown=target)
        # The Flowfile's config files come first; the command line's overrides always win.
        self.config = _merge(_merge(self.config, data), self.overrides)
        self.scope["config"] = record_from(self.config, "config")

    def top_include(self, d: s.Directive, path: str) -> None:
        target = self._one_string(d)
        full = target if os.path.isabs(target) else os.path.normpath(
            os.path.join(os.path.dirname(path), target))
        self.load_file(full, d.args[0].pos)

    def top_localrules(self, d: s.Directive, path: str) -> None:
        for arg in d.args:
            if not isinstance(arg, s.Name):
                raise FlowfileError("'localrules:' takes rule names separated by ','", arg.pos)
            self.localrules.append((arg.id, arg.pos))

    def top_ruleorder(self, d: s.Directive, path: str) -> None:
        arg = d.args[0] if len(d.args) == 1 else None
        chain: list[s.Name] = []
        if isinstance(arg, s.Compare) and set(arg.ops) == {">"}:
            chain = [arg.left, *arg.rights]
        if len(chain) < 2 or not all(isinstance(n, s.Name) for n in chain):
            raise FlowfileError("'ruleorder:' takes rule names separated by '>' "
                                "(e.g. ruleorder: specific > general)", d.pos)
        self.ruleorder_names.extend((n.id, n.pos) for n in chain)
        self.ruleorder.extend((a.id, b.id) for a, b in zip(chain, chain[1:]))

    def top_wildcard_constraints(self, d: s.Directive, path: str) -> None:
        self.constraints.update(self._constraints(d, self.evaluate))

    def _constraints(self, d: s.Directive, evaluate) -> dict[str, str]:
        out = {}
        for arg in d.args:
            if not isinstance(arg, s.Keyword):
                raise FlowfileError("'wildcard_constraints:' takes name=\"regex\" pairs", arg.pos)
            value = evaluate(arg.value)
            if not isinstance(value, str):
                raise FlowfileError(f"constraint for '{arg.name}' must be a regex string", arg.value.pos)
            problem = regex_problem(value)
            if problem:
                raise FlowfileError(f"bad regex for wildcard '{arg.name}': {problem}", arg.value.pos)
            out[arg.name] = value
        return out

    def top_default(self, d: s.Directive, path: str) -> None:
        targets: list[str] = []
        for arg in d.args:
            if isinstance(arg, s.Keyword):
                raise FlowfileError("'default:' takes file paths or rule names as strings", arg.pos)
            value = self.evaluate(arg)
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, Flagged):
                    item = item.path
                if not isinstance(item, str):
                    raise FlowfileError(f"'default:' takes strings, not {a_type(item)}", arg.pos)
                targets.append(item)
        if self.default is not None:
            first = self.default_pos
            where = f"line {first.line}" + (f" of {_shown_path(first.path)}"
                                            if first.path != d.pos.path else "")
            raise FlowfileError(f"a second 'default:' (the first is on {where})", d.pos,
                                "give every default target in one 'default:'")
        self.default, self.default_pos = targets, d.pos

    # -- rules

    def add_rule(self, decl: s.RuleDecl, path: str) -> None:
        if decl.name in self.rule_decls:
            self.fail(FlowfileError(f"duplicate rule name '{decl.name}'", decl.pos,
                                    f"first defined at {self.rule_decls[decl.name]}"))
            return
        self.rule_decls[decl.name] = decl.pos
        try:
            self.rules.append(_RuleBuilder(self, decl, path, len(self.rules)).build())
        except FlowfileError as err:
            self.fail(err)

    def finish(self) -> Workflow:
        names = set(self.rule_decls)
        for name, pos in self.localrules:
            if name not in names:
                self.fail(FlowfileError(f"localrules: no rule named '{name}'", pos,
                                        closest(name, names)[2:]))
        for name, pos in self.ruleorder_names:
            if name not in names:
                self.fail(FlowfileError(f"ruleorder: no rule named '{name}'", pos, closest(name, names)[2:]))
        if self.errors:
            # Keep one error per place, in file order.
            unique = {(str(e.pos), e.message): e for e in self.errors}
            raise FlowfileErrors(sorted(unique.values(), key=lambda e: (
                e.pos.path if e.pos else "", e.pos.line if e.pos else 0, e.pos.column if e.pos else 0)))
        local = frozenset(n for n, _ in self.localrules)
        rules = tuple(_with_local(_with_constraints(r, self.constraints), r.name in local)
                      for r in self.rules)
        default = tuple(self.default) if self.default is not None else (
            (rules[0].name,) if rules else ())
        order = tuple(dict.fromkeys(self.ruleorder))
        return Workflow(rules, {r.name: r for r in rules}, default, order, local,
                        dict(self.constraints), self.config, tuple(self.flowfiles), self.workdir,
                        dict(self.names), tuple(self.read_files))


def _with_constraints(rule: Rule, flowfile_wide: Mapping[str, str]) -> Rule:
    """Top-level wildcard_constraints apply to every rule, wherever they are written (as in
    Snakemake); a rule's own constraint for a wildcard wins."""
    if not flowfile_wide:
        return rule
    import dataclasses

    return dataclasses.replace(rule, constraints={**flowfile_wide, **rule.constraints})


def _with_local(rule: Rule, local: bool) -> Rule:
    if rule.local == local:
        return rule
    import dataclasses
    return dataclasses.replace(rule, local=local)


class _RuleBuilder:
    """Checks one rule's directives and builds its Rule."""

    def __init__(self, loader: _Loader, decl: s.RuleDecl, path: str, index: int):
        self.loader, self.decl, self.path, self.index = loader, decl, path, index
        self.directives: dict[str, s.Directive] = {}

    def build(self) -> Rule:
        decl = self.decl
        action_seen: s.Directive | None = None
        for d in decl.directives:
            if d.name not in RULE_DIRECTIVES:
                if d.name == "run":
                    raise FlowfileError("'run:' blocks of Python are not supported", d.pos,
                                        "use 'shell:' for a command or 'script:' for a Python script")
                raise FlowfileError(f"unknown directive '{d.name}' in rule '{decl.name}'", d.pos,
                                    closest(d.name, RULE_DIRECTIVES)[2:]
                                    or "directives: " + ", ".join(RULE_DIRECTIVES))
            if d.name in self.directives:
                raise FlowfileError(f"directive '{d.name}' given twice in rule '{decl.name}'", d.pos,
                                    f"first given at line {self.directives[d.name].pos.line}")
            if d.name in ACTIONS:
                if action_seen is not None:
                    raise FlowfileError(f"rule '{decl.name}' has two actions ('{action_seen.name}' at "
                                        f"line {action_seen.pos.line} and '{d.name}')", d.pos,
                                        "a rule runs exactly one 'shell:' or 'script:'")
                action_seen = d
            self.directives[d.name] = d

        constraints: dict[str, str] = {}  # the Flowfile's own are added by finish(), to every rule
        if "wildcard_constraints" in self.directives:
            constraints.update(self.loader._constraints(self.directives["wildcard_constraints"],
                                                        self.loader.evaluate))
        outputs = self.outputs()
        wildcards = outputs[0].pattern.wildcards if outputs else ()
        for item in outputs[1:]:
            if set(item.pattern.wildcards) != set(wildcards):
                raise FlowfileError(
                    f"all outputs of rule '{decl.name}' must use the same wildcards: "
                    f"{{{', '.join(wildcards) or 'none'}}} vs {{{', '.join(item.pattern.wildcards) or 'none'}}}",
                    item.pos)
        inputs = self.files("input", wildcards)
        log = self.files("log", wildcards)
        params = self.params(wildcards)
        threads = self.integer("threads", 1, minimum=1, wildcards=wildcards)
        resources = self.resources(wildcards)
        retries = self.integer("retries", 0, minimum=0, wildcards=wildcards)
        priority = self.integer("priority", 0, wildcards=wildcards)
        message = self.template("message")
        action = self.action()
        script_digest = ""
        if action and action.kind == "script":
            script_digest = _file_digest(action.text, self.loader.workdir)
            self.loader.read_files.append(os.path.join(self.loader.workdir, action.text))
        rule = Rule(decl.name, decl.pos, self.index, outputs, wildcards, inputs, log, params,
                    threads, resources, retries, priority, message, action, constraints, False,
                    {name: d.pos for name, d in self.directives.items()}, script_digest)
        self.check_templates(rule)
        return rule

    # -- helpers

    def job_names(self, directive: str) -> tuple[str, ...]:
        return JOB_NAMES.get(directive, JOB_NAMES_DEFAULT)

    def compile_args(self, d: s.Directive, directive: str, wildcards: Sequence[str]):
        """Evaluate the directive's arguments now, or return a Lazy if they read job names."""
        builtins = self.loader.builtins
        reads = set()
        for arg in d.args:
            reads |= free_names(arg)
        job_names = self.job_names(directive)
        lazy_names = reads & set(job_names)
        scope = self.loader.scope
        # (not `reads - set(scope) - ...`: a set of the whole scope for every directive)
        unknown = {n for n in reads if n not in scope and n not in builtins and n not in job_names}
        for name in unknown:
            if name in ("wildcards", "attempt", "threads"):
                raise FlowfileError(f"'{name}' cannot be used in '{directive}:'", d.pos,
                                    f"it is available in: {', '.join(k for k, v in JOB_NAMES.items() if name in v) or 'input, output, params, log'}")
        for arg in d.args:
            value = arg.value if isinstance(arg, s.Keyword) else arg
            for attr, pos in attribute_uses(value, "wildcards"):
                if attr not in wildcards:
                    raise FlowfileError(f"rule '{self.decl.name}' has no wildcard '{attr}' "
                                        f"(its outputs define: {', '.join(wildcards) or 'none'})", pos)
        names = [a.name if isinstance(a, s.Keyword) else None for a in d.args]
        for i, arg in enumerate(d.args):
            if isinstance(arg, s.Keyword) and arg.name in names[:i]:
                raise FlowfileError(f"'{arg.name}' given twice in '{directive}:' of rule "
                                    f"'{self.decl.name}'", arg.pos)
        fns = [compile_expr(a.value if isinstance(a, s.Keyword) else a, builtins) for a in d.args]

        def evaluate(scope):
            return [(n, fn(scope)) for n, fn in zip(names, fns)]

        if lazy_names:
            # Undefined names still fail now, at load time, not per job.
            if unknown:
                name = sorted(unknown)[0]
                raise UndefinedName(name, self._name_pos(d, name),
                                    closest(name, self.loader.scope)[2:] or
                                    "define it above this rule (names are defined in order)")
            return Lazy(evaluate, dict(self.loader.scope), d.pos)
        return evaluate(self.loader.scope)

    def _name_pos(self, d: s.Directive, name: str) -> Position:
        for arg in d.args:
            for n in walk(arg.value if isinstance(arg, s.Keyword) else arg):
                if isinstance(n, s.Name) and n.id == name:
                    return n.pos
        return d.pos

    def outputs(self) -> tuple[FileItem, ...]:
        d = self.directives.get("output")
        if d is None:
            return ()
        for arg in d.args:
            for n in walk(arg.value if isinstance(arg, s.Keyword) else arg):
                if isinstance(n, s.Name) and n.id in ("wildcards", "attempt"):
                    raise FlowfileError(f"'output:' cannot use '{n.id}': the outputs define the "
                                        "wildcards", n.pos,
                                        "write the wildcard in the pattern, e.g. \"out/{sample}.txt\"")
        value = self.compile_args(d, "output", ())
        if isinstance(value, Lazy):
            raise FlowfileError("'output:' cannot depend on wildcards (the outputs define them)", d.pos)
        items = self.file_items(d, value, "output")
        for item in items:
            if "ancient" in item.flags:
                raise FlowfileError("ancient() applies to inputs, not outputs", item.pos)
        return items

    def files(self, directive: str, wildcards: Sequence[str]) -> tuple[FileItem, ...] | Lazy:
        d = self.directives.get(directive)
        if d is None:
            return ()
        value = self.compile_args(d, directive, wildcards)
        if isinstance(value, Lazy):
            return value
        items = self.file_items(d, value, directive)
        for item in items:
            for w in item.pattern.wildcards:
                if w not in wildcards:
                    raise FlowfileError(
                        f"wildcard '{{{w}}}' in {directive} of rule '{self.decl.name}' is not defined "
                        f"by any output (outputs define: {', '.join(wildcards) or 'none'})", item.pos,
                        "use the same wildcard names as the outputs, or '{{' for a literal brace")
            bad = item.flags and item.flags - ({"ancient", "directory"} if directive == "input"
                                               else {"directory"})
            if bad:
                raise FlowfileError(f"{sorted(bad)[0]}() applies to outputs, not to {directive}", item.pos)
        return items

    def file_items(self, d: s.Directive, values: list, directive: str) -> tuple[FileItem, ...]:
        items = []
        for arg, (name, value) in zip(d.args, values):
            for path, flags in _flatten_files(value, arg.pos, directive):
                try:
                    pattern = parse_pattern(path)
                except PatternError as exc:
                    raise FlowfileError(str(exc), arg.pos) from None
                items.append(FileItem(pattern, name, flags, arg.pos))
        return tuple(items)

    def params(self, wildcards) -> Items | Lazy:
        d = self.directives.get("params")
        if d is None:
            return Items()
        value = self.compile_args(d, "params", wildcards)
        if isinstance(value, Lazy):
            return value
        return Items(tuple(v for _, v in value), tuple(n for n, _ in value))

    def integer(self, directive: str, default: int, minimum: int | None = None,
                wildcards: Sequence[str] = ()) -> int | Lazy:
        d = self.directives.get(directive)
        if d is None:
            return default
        if len(d.args) != 1 or isinstance(d.args[0], s.Keyword):
            raise FlowfileError(f"'{directive}:' takes one whole number", d.pos)
        value = self.compile_args(d, directive, wildcards)
        if isinstance(value, Lazy):
            if directive not in JOB_NAMES:  # retries, priority: decided before any job exists
                raise FlowfileError(f"'{directive}:' cannot depend on wildcards or attempt; "
                                    "give a number", d.args[0].pos)
            return value
        number = value[0][1]
        _check_int(number, directive, minimum, d.args[0].pos)
        return number

    def resources(self, wildcards) -> Mapping[str, object] | Lazy:
        d = self.directives.get("resources")
        if d is None:
            return {}
        for arg in d.args:
            if not isinstance(arg, s.Keyword):
                raise FlowfileError("'resources:' takes name=value pairs (e.g. mem_mb=2000)", arg.pos)
        value = self.compile_args(d, "resources", wildcards)
        if isinstance(value, Lazy):
            return value
        out = dict(value)
        for arg in d.args:
            _check_resource(arg.name, out[arg.name], arg.value.pos)
        return out

    def template(self, directive: str) -> Template | None:
        d = self.directives.get(directive)
        if d is None:
            return None
        text = self._one_string(d)
        try:
            return parse_template(text)
        except TemplateError as exc:
            raise FlowfileError(str(exc), self._offset_pos(d.args[0], exc.offset, exc.length),
                                hint=exc.hint) from None

    def _one_string(self, d: s.Directive) -> str:
        if len(d.args) != 1 or isinstance(d.args[0], s.Keyword):
            raise FlowfileError(f"'{d.name}:' takes exactly one string", d.pos)
        reads = free_names(d.args[0])
        if reads & {"wildcards", "attempt"}:
            raise FlowfileError(f"'{d.name}:' cannot depend on wildcards; write {{wildcards.NAME}} "
                                "inside the string instead", d.args[0].pos)
        value = self.loader.evaluate(d.args[0])
        if not isinstance(value, str):
            raise FlowfileError(f"'{d.name}:' takes a string, not {a_type(value)}", d.args[0].pos)
        return value

    def action(self) -> Action | None:
        if "shell" in self.directives:
            d = self.directives["shell"]
            return Action("shell", self._one_string(d), self.template("shell"), d.pos)
        if "script" in self.directives:
            d = self.directives["script"]
            rel = self._one_string(d)
            full = rel if os.path.isabs(rel) else os.path.join(os.path.dirname(self.path), rel)
            if not os.path.isfile(full):
                raise FlowfileError(f"script not found: {full}", d.args[0].pos,
                                    "script paths are relative to the Flowfile that names them")
            return Action("script", os.path.relpath(full, self.loader.workdir), None, d.pos)
        return None

    def check_templates(self, rule: Rule) -> None:
        """Fields that can be checked now: names of inputs, params, wildcards, log, resources."""
        for directive, template in (("shell", rule.action.template if rule.action else None),
                                    ("message", rule.message)):
            if template is None:
                continue
            d = self.directives[directive]
            for f in template.fields:
                problem = _field_problem(rule, f)
                if problem:
                    raise FlowfileError(problem, self._offset_pos(d.args[0], f.offset, len(f.text)))

    def _offset_pos(self, node, offset: int, length: int) -> Position:
        return _offset_pos(node, offset, length, self.loader.sources.get(node.pos.path))


def _field_problem(rule: Rule, f) -> str:
    step = f.steps[0] if f.steps else None
    if f.name in ("threads", "rule", "attempt") and f.steps:
        return f"{f.text}: '{f.name}' is a single value; write {{{f.name}}}"
    if f.name == "wildcards" and isinstance(step, str) and step not in rule.wildcards:
        return (f"{f.text}: rule '{rule.name}' has no wildcard '{step}' "
                f"(its outputs define: {', '.join(rule.wildcards) or 'none'})")
    if f.name == "log" and not isinstance(rule.log, Lazy) and not rule.log:
        return f"{f.text}: rule '{rule.name}' has no 'log:'"
    sources = {"input": rule.inputs, "output": rule.outputs, "log": rule.log}
    if f.name in sources and not isinstance(sources[f.name], Lazy):
        items = sources[f.name]
        names = [i.name for i in items if i.name]
        if isinstance(step, str) and step not in names:
            return (f"{f.text}: {f.name} of rule '{rule.name}' has no entry named '{step}'"
                    f"{closest(step, names) or ' (named entries: ' + (', '.join(names) or 'none') + ')'}")
        if isinstance(step, int) and step >= len(items):
            return f"{f.text}: {f.name} of rule '{rule.name}' has only {len(items)} entries"
    if f.name == "params" and isinstance(rule.params, Items) and isinstance(step, str):
        names = [n for n in rule.params.names if n]
        if step not in names:
            return (f"{f.text}: rule '{rule.name}' has no param '{step}'"
                    f"{closest(step, names) or ' (params: ' + (', '.join(names) or 'none') + ')'}")
    if f.name == "params" and isinstance(rule.params, Items) and isinstance(step, int):
        if step >= len(rule.params.values):
            return f"{f.text}: rule '{rule.name}' has only {len(rule.params.values)} params"
    if f.name == "wildcards" and isinstance(step, int):
        return f"{f.text}: wildcards are taken by name, e.g. {{wildcards.NAME}}"
    if f.name == "resources" and isinstance(step, str) and not isinstance(rule.resources, Lazy):
        if step not in rule.resources and step not in ("mem_mb", "runtime", "disk_mb"):
            return f"{f.text}: rule '{rule.name}' has no resource '{step}'"
    return ""


def _offset_pos(node, offset: int, length: int = 1, source: str | None = None) -> Position:
    """Where characters [offset, offset + length) of a string literal's value are in the source,
    through dedenting and escapes. The literal's own position when the value is not one
    literal's (strings joined over lines, or a computed value)."""
    pos = node.pos
    if not (isinstance(node, s.Const) and isinstance(node.value, str) and source is not None):
        return pos
    lines = source.split("\n")
    if not 1 <= pos.line <= pos.end_line <= len(lines):
        return pos
    if pos.line == pos.end_line:
        text = lines[pos.line - 1][pos.column - 1:pos.end_column - 1]
    else:
        text = "\n".join([lines[pos.line - 1][pos.column - 1:], *lines[pos.line:pos.end_line - 1],
                          lines[pos.end_line - 1][:pos.end_column - 1]])
    try:
        value, offsets = s.decode_with_offsets(text)
    except Exception:  # not a single literal after all
        return pos
    if value != node.value or not 0 <= offset < len(offsets):
        return pos

    def where(index: int) -> tuple[int, int]:
        before = text[:index]
        if "\n" not in before:
            return pos.line, pos.column + index
        return pos.line + before.count("\n"), index - before.rindex("\n")

    line, column = where(offsets[offset])
    end_line, end_column = where(offsets[min(offset + length, len(offsets)) - 1])
    width = end_column - column + 1 if end_line == line and end_column >= column else 1
    return Position(pos.path, line, column, line, column + width)


_NO_FLAGS: frozenset[str] = frozenset()


def _flatten_files(value, pos: Position, directive: str):
    """Nested lists of paths -> [(path, flags)] in order (a stack, reversed: no recursion)."""
    if type(value) is list and all([type(v) is str for v in value]):
        return [(v, _NO_FLAGS) for v in value]  # the usual expand() result, in one pass
    stack = [value]
    out = []
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            out.append((v, _NO_FLAGS))
        elif isinstance(v, Flagged):
            out.append((v.path, v.flags))
        elif isinstance(v, (list, tuple)):
            stack.extend(reversed(v))
        else:
            raise FlowfileError(f"{directive} entries must be file paths (strings), not {a_type(v)}", pos)
    return out


def _check_int(value, directive: str, minimum: int | None, pos: Position) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise FlowfileError(f"'{directive}:' takes a whole number, not {a_type(value)}", pos)
    if minimum is not None and value < minimum:
        raise FlowfileError(f"'{directive}:' must be at least {minimum}, got {value}", pos)


def _check_resource(name: str, value, pos: Position) -> None:
    if name in ("mem_mb", "runtime", "disk_mb", "mem_mb_per_cpu"):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise FlowfileError(f"resource '{name}' must be a non-negative number, got {value!r}", pos)
    elif not isinstance(value, (str, int, float, bool)) and value is not None:
        raise FlowfileError(f"resource '{name}' must be a number or a string, not {a_type(value)}", pos)


def _file_digest(rel: str, workdir: str) -> str:
    import hashlib
    full = rel if os.path.isabs(rel) else os.path.join(workdir, rel)
    with open(full, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


# ---------------------------------------------------------------- per job

def job_values(rule: Rule, wildcards: Mapping[str, str], attempt: int = 1) -> JobValues:
    """Evaluate every directive of a rule for one job. Raises FlowfileError (with the
    directive's position) when a per-job expression fails."""
    wc = Record(wildcards, "wildcards") if rule.lazy else wildcards
    outputs = _format_items(rule.outputs, wildcards, rule)
    flags: dict[str, frozenset[str]] = {}
    for item, path in zip(rule.outputs, outputs.values):
        if item.flags:
            flags[path] = item.flags
    inputs = _job_files(rule, rule.inputs, "input", wc, flags)
    log = _job_files(rule, rule.log, "log", wc, flags)
    params = rule.params
    if isinstance(params, Lazy):
        pairs = params(wildcards=wc)
        params = Items(tuple(v for _, v in pairs), tuple(n for n, _ in pairs))
    threads = rule.threads
    if isinstance(threads, Lazy):
        threads = threads(wildcards=wc, attempt=attempt)[0][1]
        _check_int(threads, "threads", 1, rule.directive_pos["threads"])
    resources = rule.resources
    if isinstance(resources, Lazy):
        resources = dict(resources(wildcards=wc, attempt=attempt, threads=threads))
        for key, value in resources.items():
            _check_resource(key, value, rule.directive_pos["resources"])
    return JobValues(inputs, outputs, log, params, threads, resources, flags)


def _format_items(items: Sequence[FileItem], wildcards: Mapping[str, str], rule: Rule) -> Items:
    return Items(tuple([i.pattern.fmt.format_map(wildcards) if i.pattern.wildcards else i.pattern.text
                        for i in items]), tuple([i.name for i in items]))


def _job_files(rule: Rule, spec, directive: str, wc: Record,
               flags: dict[str, frozenset[str]]) -> Items:
    if not isinstance(spec, Lazy):
        items = _format_items(spec, wc, rule)
        for item, path in zip(spec, items.values):
            if item.flags:
                flags[path] = item.flags
        return items
    values, names = [], []
    for name, value in spec(wildcards=wc):
        for path, item_flags in _flatten_files(value, spec.pos, directive):
            try:
                if "{" in path or "}" in path:
                    path = parse_pattern(path).format(wc)
            except (PatternError, KeyError) as exc:
                raise FlowfileError(f"{directive} of rule '{rule.name}': cannot fill {path!r} "
                                    f"({exc})", spec.pos) from None
            values.append(path)
            names.append(name)
            if item_flags:
                flags[path] = item_flags
    return Items(tuple(values), tuple(names))


# ---------------------------------------------------------------- entry point

def load_workflow(path: str, *, workdir: str | None = None, config: Mapping | None = None,
                  configfiles: Sequence[str] = (), text: str | None = None,
                  texts: Mapping[str, str] | None = None) -> Workflow:
    """Load and check a Flowfile (and its includes). Raises FlowfileError(s). `text` is the
    Flowfile's text, and `texts` that of included files by real path, when they are not to be
    read from disk (the language server's unsaved documents)."""
    workdir = workdir or os.path.dirname(os.path.abspath(path)) or "."
    overrides: dict = {}
    for extra in configfiles:
        overrides = _merge(overrides, load_config_file(extra))
    overrides = _merge(overrides, dict(config or {}))
    loader = _Loader(workdir, overrides)
    loader.texts = texts or {}
    with s.collector_paused():  # the rule model, like the tree, is built without GC passes
        try:
            if text is None:
                loader.load_file(path)
            else:
                loader.load_text(text, path)
        except FlowfileError as err:
            loader.fail(err)
            raise FlowfileErrors(loader.errors) if len(loader.errors) > 1 else err from None
        return loader.finish()
