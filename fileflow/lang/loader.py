"""Syntax tree -> checked rule model (Workflow of Rules). Layer 1.

Top-level statements run in order: assignments bind names, `configfile:` merges YAML into
`config`, `include:` loads another Flowfile into the same namespace, and each rule is
checked and built (rule_builder.py). A rule's directives are evaluated now when they can be,
or kept as compiled expressions (`Lazy`) when they read `wildcards` (or `attempt`, in
resources and threads), to be evaluated per job (job_values.py).
"""
from __future__ import annotations

import copy
import os
from collections.abc import Callable, Mapping, Sequence
from itertools import accumulate

from fileflow.errors import FlowfileError, FlowfileErrors, Position
from fileflow.lang import syntax as s
from fileflow.lang.builtins import BUILTIN_NAMES, EvalContext, make_builtins
from fileflow.lang.checkpoints import check_checkpoint_uses, checkpoint_uses
from fileflow.lang.config import load_config_file, merge_config, shown_path
from fileflow.lang.directives import (
    RULE_DIRECTIVES,
    TOP_DIRECTIVES,
    check_constraints,
    check_path_text,
    hook_action,
)
from fileflow.lang.evaluate import UndefinedName, compile_expr
from fileflow.lang.file_reads import Reads
from fileflow.lang.model import Action, Rule, Workflow, replaced
from fileflow.lang.modules import (
    LoadedModule,
    line_of,
    load_module,
    module_settings,
    untaken_checkpoints,
    use_local_rule,
    use_module_rules,
)
from fileflow.lang.output_overlaps import inside_directory_outputs
from fileflow.lang.python_imports import FunctionInfo, PythonModule, import_module_file, imported_function
from fileflow.lang.rule_builder import RuleBuilder
from fileflow.lang.rule_refs import ReferredRuleFailed, RuleRefs, mentions_rules
from fileflow.lang.source_files import MAX_FLOWFILE_BYTES, MAX_LOAD_BYTES, FileRefused, read_bytes
from fileflow.lang.values import Flagged, a_type, closest, record_from
from fileflow.storage_options import check_storage, merge_storage

__all__ = ["load_workflow"]

# Words the grammar reads as keywords inside expressions (so a variable of that name could never be read).
KEYWORDS = frozenset({"rule", "checkpoint", "if", "else", "and", "or", "not", "in", "true", "false", "none",
                      "True", "False", "None"})


class _Loader:
    """One load: the statements of the Flowfile and its includes run in order, with the names,
    rules and settings they make so far (what a RuleBuilder reads: rule_builder.LoadingState)."""

    def __init__(self, workdir: str, overrides: dict, files_dir: str | None = None,
                 parent: _Loader | None = None):
        self.workdir = workdir
        self.files_dir = files_dir or workdir  # configfile:, sample sheets: a module's own folder
        self.overrides = overrides
        # Where config values came from, for the positions of configschema: errors.
        self.config_files: list[tuple[str, str]] = []
        self.command_line_config: dict = {}
        self.command_line_configfiles: list[tuple[str, str]] = []
        # Besides the Flowfiles, what loading (and later the jobs' values) read, and the
        # folders glob_wildcards() listed: a module's loader adds to its parent's, so that
        # what its rules read per job is watched too.
        self.read_files: list[str] = parent.read_files if parent else []
        self.listed_dirs: dict[str, None] = parent.listed_dirs if parent else {}
        # what helper modules read, importing and called: watched too
        self.reads: Reads = parent.reads if parent else Reads(self.read_files, self.listed_dirs)
        self.builtins = make_builtins(EvalContext(workdir, self.read_files, self.listed_dirs,
                                                  files_dir=self.files_dir))
        self.config: dict = dict(overrides)
        self.rule_decls: dict[str, Position] = {}
        self.built: dict[str, Rule] = {}
        # rules whose directives read `rules`: built last, in the scope of their place
        self.deferred: dict[str, tuple[s.RuleDecl, str, int, dict[str, object]]] = {}
        self.checkpoint_uses: list[tuple[str, Position]] = []  # checkpoints.NAME read by rules
        self.building: list[str] = []  # deferred rules being built, outermost first
        self.refs = RuleRefs(self.rule_named, self.rule_decls.keys)
        self.scope: dict[str, object] = {"config": record_from(self.config, "config"),
                                         "rules": self.refs}
        self.copied_scope: dict[str, object] | None = None  # scope_copy's, until scope changes
        self.names: dict[str, Position] = {}
        self.assigned: dict[str, Position] = {}   # every top-level assignment parsed so far
        self.rules: list[Rule] = []
        self.first_main_rule: str | None = None   # the default target, unless 'default:' names one
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
        self.default_resources: Mapping[str, object] | None = None  # None: not known
        self.set_resources: Mapping[str, Mapping[str, object]] = {}  # --set-resources, by rule
        self.bytes_read = 0   # of Flowfiles: an include read many times adds up
        self.storage: dict[str, dict[str, object]] = {}
        self.hooks: dict[str, Action] = {}  # onstart/onsuccess/onerror -> its shell command
        self.python_modules: dict[str, PythonModule] = {}   # real path -> the module, run once
        self.functions: dict[str, tuple[Position, FunctionInfo]] = {}  # imported, by name
        self.decls: dict[str, tuple[s.RuleDecl, str]] = {}  # what `use rule` copies
        self.modules: dict[str, LoadedModule] = {}

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
            # utf-8-sig: a BOM from a Windows editor is not text
            text = read_bytes(path, MAX_FLOWFILE_BYTES, "a Flowfile").decode("utf-8-sig")
        except FileNotFoundError:
            raise FlowfileError(f"file not found: {path}", pos) from None
        except OSError as exc:
            raise FlowfileError(f"cannot read {path}: {exc.strerror}", pos) from None
        except FileRefused as exc:
            raise FlowfileError(f"cannot read {path}: {exc}", pos) from None
        except UnicodeDecodeError:
            raise FlowfileError(f"cannot read {path}: it is not UTF-8 text", pos) from None
        self.bytes_read += len(text)
        if self.bytes_read > MAX_LOAD_BYTES:
            raise FlowfileError(f"cannot read {path}: the Flowfile and its includes would be larger "
                                f"than {MAX_LOAD_BYTES // (1024 * 1024)} MiB together", pos,
                                "is a file included many times?")
        self.load_text(text, path, real)

    def load_text(self, text: str, path: str, real: str | None = None) -> None:
        module = s.parse_flowfile(text, path)
        for stmt in module.statements:
            if isinstance(stmt, s.Assignment):
                self.assigned.setdefault(stmt.name, stmt.pos)
        self.flowfiles.append(path)
        self.sources[path] = text
        self.including.append((real or os.path.realpath(path), path))
        may_refer = _lines_holding("rules", text)
        may_read_checkpoints = _lines_holding("checkpoints", text)
        try:
            for stmt in module.statements:
                try:
                    if isinstance(stmt, s.RuleDecl):
                        self.add_rule(stmt, path, may_refer, may_read_checkpoints)
                    elif isinstance(stmt, s.Assignment):
                        self.assign(stmt)
                    elif isinstance(stmt, s.ImportFrom):
                        self.import_from(stmt, path)
                    elif isinstance(stmt, s.UseRule):
                        self.use_rule(stmt, path)
                    elif isinstance(stmt, s.ModuleDecl):
                        self.module(stmt, path)
                    elif isinstance(stmt, s.Directive):
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
            same_file = err.pos is not None and where.path == err.pos.path  # an UndefinedName has a pos
            shown = f"line {where.line}" if same_file else str(where)
            err.hint = (f"'{err.name}' is assigned later, at {shown}; names are defined in order, "
                        "so move that assignment above this line")
        self.errors.append(err)

    def evaluate(self, node) -> object:
        return compile_expr(node, self.builtins)(self.scope)

    def scope_copy(self) -> dict[str, object]:
        """The scope now, copied once for all the rules until a name is set (which drops it)."""
        if self.copied_scope is None:
            self.copied_scope = dict(self.scope)
        return self.copied_scope

    # -- top level

    def assign(self, stmt: s.Assignment) -> None:
        if (stmt.name in ("config", "rules", "checkpoints", "wildcards", "attempt")
                or stmt.name in BUILTIN_NAMES):
            raise FlowfileError(f"cannot assign to '{stmt.name}': it is a built-in name", stmt.pos)
        if stmt.name in KEYWORDS:
            raise FlowfileError(f"cannot assign to '{stmt.name}': it is a keyword", stmt.pos)
        if stmt.name in self.functions:
            raise FlowfileError(f"cannot assign to '{stmt.name}': it is a function imported on "
                                f"{line_of(self.functions[stmt.name][0], stmt.pos)}", stmt.pos)
        self.scope[stmt.name], self.copied_scope = self.evaluate(stmt.value), None
        self.names[stmt.name] = stmt.pos

    def import_from(self, stmt: s.ImportFrom, path: str) -> None:
        """`from "workflow/common.py" import get_fastq`: the file, relative to the Flowfile,
        runs once per load; each name becomes a function expressions can call."""
        target = stmt.path.value
        assert isinstance(target, str)  # the grammar takes a string
        check_path_text(target, "import", stmt.path.pos)
        full = target if os.path.isabs(target) else os.path.normpath(
            os.path.join(os.path.dirname(path), target))
        real = os.path.realpath(full)
        module = self.python_modules.get(real)
        if module is None:
            self.read_files.append(full)
            module = self.python_modules[real] = import_module_file(full, target, stmt.path.pos,
                                                                           self.reads)
        for name in stmt.names:
            self.check_import_name(name, real)
            fn, info = imported_function(module, name.id, name.pos)
            self.builtins[name.id] = fn
            self.functions[name.id] = (name.pos, info)

    def check_import_name(self, name: s.Name, module: str) -> None:
        ident = name.id
        if ident in ("config", "wildcards", "attempt") or ident in BUILTIN_NAMES:
            raise FlowfileError(f"cannot import '{ident}': it is a built-in name", name.pos)
        if ident in KEYWORDS:
            raise FlowfileError(f"cannot import '{ident}': it is a keyword", name.pos)
        if ident in self.names:
            raise FlowfileError(f"cannot import '{ident}': it is assigned on "
                                f"{line_of(self.names[ident], name.pos)}", name.pos)
        first = self.functions.get(ident)
        if first is not None and os.path.realpath(first[1].file) != module:
            raise FlowfileError(f"'{ident}' is imported from two files (first on "
                                f"{line_of(first[0], name.pos)})", name.pos,
                                "give one of the functions another name")

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
        check_path_text(target, "configfile", d.args[0].pos)
        full = target if os.path.isabs(target) else os.path.join(self.files_dir, target)
        self.read_files.append(full)
        data = load_config_file(full, d.args[0].pos, shown=target)
        self.config_files.append((full, target))
        # The Flowfile's config files come first; the command line's overrides always win.
        self.config = merge_config(merge_config(self.config, data), self.overrides)
        self.scope["config"], self.copied_scope = record_from(self.config, "config"), None

    def top_configschema(self, d: s.Directive, path: str) -> None:
        """Validate the configuration so far (files and --config) with a JSON Schema and
        fill its defaults in: expressions below see them."""
        from fileflow.lang.config_schema import ConfigSources, validate_config

        target = self._one_string(d)
        check_path_text(target, "configschema", d.args[0].pos)
        full = target if os.path.isabs(target) else os.path.join(self.files_dir, target)
        self.read_files.append(full)
        sources = ConfigSources([*self.config_files, *self.command_line_configfiles],
                                self.command_line_config)
        self.config = copy.deepcopy(self.config)  # defaults go in: nothing shared with the files'
        for err in validate_config(self.config, full, target, d.args[0].pos, sources,
                                   self.read_files):
            self.fail(err)
        self.scope["config"], self.copied_scope = record_from(self.config, "config"), None

    def top_include(self, d: s.Directive, path: str) -> None:
        target = self._one_string(d)
        check_path_text(target, "include", d.args[0].pos)
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
        operands: list[s.Expr] = []
        if isinstance(arg, s.Compare) and set(arg.ops) == {">"}:
            operands = [arg.left, *arg.rights]
        chain = [n for n in operands if isinstance(n, s.Name)]
        if len(chain) < 2 or len(chain) != len(operands):
            raise FlowfileError("'ruleorder:' takes rule names separated by '>' "
                                "(e.g. ruleorder: specific > general)", d.pos)
        self.ruleorder_names.extend((n.id, n.pos) for n in chain)
        self.ruleorder.extend((a.id, b.id) for a, b in zip(chain, chain[1:]))

    def top_storage(self, d: s.Directive, path: str) -> None:
        """`storage: s3 = {"endpoint": URL}, https = {"headers": {...}}`: the options of
        remote stores, by protocol; later statements add to earlier ones."""
        for arg in d.args:
            if not isinstance(arg, s.Keyword):
                raise FlowfileError("'storage:' takes protocol = {options} pairs, e.g. "
                                    "s3 = {\"endpoint\": \"http://127.0.0.1:9000\"}", arg.pos)
            value = self.evaluate(arg.value)
            try:
                checked = check_storage({arg.name: value}, "storage")
            except ValueError as exc:
                raise FlowfileError(str(exc).removeprefix("storage: "), arg.value.pos) from None
            self.storage = merge_storage(self.storage, checked)

    def top_onstart(self, d: s.Directive, path: str) -> None:
        self.hooks["onstart"] = hook_action(d, self.evaluate, self.hooks.get("onstart"))

    def top_onsuccess(self, d: s.Directive, path: str) -> None:
        self.hooks["onsuccess"] = hook_action(d, self.evaluate, self.hooks.get("onsuccess"))

    def top_onerror(self, d: s.Directive, path: str) -> None:
        self.hooks["onerror"] = hook_action(d, self.evaluate, self.hooks.get("onerror"))

    def top_wildcard_constraints(self, d: s.Directive, path: str) -> None:
        self.constraints.update(check_constraints(d, self.evaluate))

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
                check_path_text(item, "default target", arg.pos)
                targets.append(item)
        if self.default is not None:
            first = self.default_pos
            assert first is not None  # set together with self.default
            where = f"line {first.line}" + (f" of {shown_path(first.path)}"
                                            if first.path != d.pos.path else "")
            raise FlowfileError(f"a second 'default:' (the first is on {where})", d.pos,
                                "give every default target in one 'default:'")
        self.default, self.default_pos = targets, d.pos

    # -- rules

    def add_rule(self, decl: s.RuleDecl, path: str,
                 may_refer: Callable[[int, int], bool] = lambda first, last: True,
                 may_read_checkpoints: Callable[[int, int], bool] = lambda first, last: True
                 ) -> None:
        """`may_refer` and `may_read_checkpoints`: whether the rule's lines may hold `rules`
        and `checkpoints` (False: no walk of its directives looks for them)."""
        if decl.name in self.rule_decls:
            self.fail(FlowfileError(f"duplicate rule name '{decl.name}'", decl.pos,
                                    f"first defined at {self.rule_decls[decl.name]}"))
            return
        self.rule_decls[decl.name] = decl.pos
        self.decls[decl.name] = (decl, path)
        if self.first_main_rule is None and len(self.including) == 1:
            # As in Snakemake, a rule from an included file is never the default target.
            self.first_main_rule = decl.name
        index = len(self.rule_decls) - 1
        if may_read_checkpoints(decl.pos.line, decl.end_line):
            self.checkpoint_uses.extend(checkpoint_uses(decl))
        if may_refer(decl.pos.line, decl.end_line) and mentions_rules(decl):
            self.deferred[decl.name] = (decl, path, index, dict(self.scope))
        else:
            self.build_rule(RuleBuilder(self, decl, path, index))

    def use_rule(self, use: s.UseRule, path: str) -> None:
        """`use rule NAME as NEW [with: ...]`: a copy of a rule above, its directives replaced;
        with `from MODULE`, rules of a module."""
        if use.module is not None:
            use_module_rules(self, use)
            return
        use_local_rule(self, use, path)

    def module(self, decl: s.ModuleDecl, path: str) -> None:
        """`module qc:`: the module's Flowfile loaded now, with its own config and names (a
        loader of its own, its files relative to its folder)."""
        if decl.name in self.modules:
            raise FlowfileError(f"a second module named '{decl.name}'", decl.pos,
                                f"the first is at {self.modules[decl.name].settings.pos}")
        settings = module_settings(decl, path, self.evaluate)
        self.modules[decl.name] = LoadedModule(settings, None, None)
        sub = _Loader(self.workdir, settings.config,
                      os.path.dirname(os.path.abspath(settings.flowfile)), parent=self)
        sub.texts, sub.default_resources, sub.including = (
            self.texts, self.default_resources, list(self.including))
        sub.set_resources = self.set_resources
        self.modules[decl.name] = load_module(self, sub, settings)

    def build_rule(self, builder: RuleBuilder) -> Rule | None:
        try:
            rule = builder.build()
        except FlowfileError as err:
            if not isinstance(err, ReferredRuleFailed):  # the rule referred to has its errors
                self.fail(err)
            return None
        self.rules.append(rule)
        self.built[rule.name] = rule
        return rule

    def rule_named(self, name: str, pos: Position) -> Rule | None:
        """The rule `rules.NAME` names: built now if it was deferred (None: no such rule)."""
        rule = self.built.get(name)
        if rule is not None or name not in self.rule_decls:
            return rule
        if self.building and name == self.building[-1]:
            raise FlowfileError(f"rules.{name}: a rule cannot refer to its own patterns", pos)
        if name in self.building:
            raise FlowfileError(f"rules.{name}: rule '{name}' refers back to this rule through its "
                                f"own directives ({' -> '.join([*self.building, name])})", pos)
        rule = self.build_deferred(name) if name in self.deferred else None
        if rule is None:
            raise ReferredRuleFailed(f"rules.{name}: rule '{name}' has errors", pos)
        return rule

    def build_deferred(self, name: str) -> Rule | None:
        decl, path, index, scope = self.deferred.pop(name)
        self.building.append(name)
        try:
            return self.build_rule(RuleBuilder(AtRule(self, scope), decl, path, index))
        finally:
            self.building.pop()

    def finish(self) -> Workflow:
        while self.deferred:
            self.build_deferred(next(iter(self.deferred)))
        self.rules.sort(key=lambda rule: rule.index)
        self.refs.settle(self.built)
        names = set(self.rule_decls)
        for name, pos in self.localrules:
            if name not in names:
                self.fail(FlowfileError(f"localrules: no rule named '{name}'", pos,
                                        closest(name, names)[2:]))
        for name, pos in self.ruleorder_names:
            if name not in names:
                self.fail(FlowfileError(f"ruleorder: no rule named '{name}'", pos, closest(name, names)[2:]))
        for err in inside_directory_outputs(self.rules):
            self.fail(err)
        # a rule with errors of its own is not reported again as "no checkpoint"
        uses = [(n, p) for n, p in self.checkpoint_uses if n in self.built or n not in names]
        for err in check_checkpoint_uses(uses, self.built) + untaken_checkpoints(self.modules.values()):
            self.fail(err)
        if self.errors:
            # Keep one error per place, in file order.
            unique = {(str(e.pos), e.message): e for e in self.errors}
            raise FlowfileErrors(sorted(unique.values(), key=lambda e: (
                e.pos.path if e.pos else "", e.pos.line if e.pos else 0, e.pos.column if e.pos else 0)))
        local = frozenset(n for n, _ in self.localrules)
        rules = tuple(_with_local(_with_constraints(r, self.constraints), r.name in local)
                      for r in self.rules)
        default = tuple(self.default) if self.default is not None else (
            (self.first_main_rule,) if self.first_main_rule else ())
        order = tuple(dict.fromkeys(self.ruleorder))
        return Workflow(rules, {r.name: r for r in rules}, default, order, local,
                        dict(self.constraints), self.config, tuple(self.flowfiles), self.workdir,
                        dict(self.names), self.read_files, self.storage,
                        {name: info for name, (_, info) in self.functions.items()},
                        dict(self.hooks), listed_dirs=self.listed_dirs)


class AtRule:
    """The loading state a deferred rule is built with: the names as they were where the
    rule stands, the rest as the loader has it."""

    def __init__(self, loader: _Loader, scope: dict[str, object]):
        self.loader, self.scope = loader, scope

    @property
    def workdir(self) -> str:
        return self.loader.workdir

    @property
    def builtins(self) -> Mapping[str, Callable]:
        return self.loader.builtins

    @property
    def sources(self) -> Mapping[str, str]:
        return self.loader.sources

    @property
    def read_files(self) -> list[str]:
        return self.loader.read_files

    @property
    def default_resources(self) -> Mapping[str, object] | None:
        return self.loader.default_resources

    @property
    def set_resources(self) -> Mapping[str, Mapping[str, object]]:
        return self.loader.set_resources

    def scope_copy(self) -> dict[str, object]:
        return self.scope  # a copy already, made for this rule

    def evaluate(self, node) -> object:
        return compile_expr(node, self.loader.builtins)(self.scope)


def _with_constraints(rule: Rule, flowfile_wide: Mapping[str, str]) -> Rule:
    """Top-level wildcard_constraints apply to every rule, wherever they are written (as in
    Snakemake); a rule's own constraint for a wildcard wins."""
    if not flowfile_wide:
        return rule
    return replaced(rule, constraints={**flowfile_wide, **rule.constraints})


def _with_local(rule: Rule, local: bool) -> Rule:
    if rule.local == local:
        return rule
    return replaced(rule, local=local)


def _lines_holding(word: str, text: str) -> Callable[[int, int], bool]:
    """`(first, last) -> whether lines first..last of text hold `word``: a rule whose lines
    do not hold `rules` (or `checkpoints`) reads no rule references (or checkpoints), and
    needs no walk to tell."""
    if word not in text:
        return lambda first, last: False
    starts = list(accumulate((len(line) + 1 for line in text.split("\n")), initial=0))
    end = len(starts) - 1
    return lambda first, last: word in text[starts[min(first - 1, end)]:starts[min(last, end)]]


def load_workflow(path: str, *, workdir: str | None = None, config: Mapping | None = None,
                  configfiles: Sequence[str] = (), text: str | None = None,
                  texts: Mapping[str, str] | None = None,
                  default_resources: Mapping[str, object] | None = None,
                  set_resources: Mapping[str, Mapping[str, object]] | None = None) -> Workflow:
    """Load and check a Flowfile (and its includes). Raises FlowfileError(s). `text` is the
    Flowfile's text, and `texts` that of included files by real path, when they are not to be
    read from disk (the language server's unsaved documents). `default_resources` (the
    command line's --default-resources) are every job's resources unless its rule sets them;
    None when they cannot be known (lint, the editor): `{resources.KEY}` is then checked
    less strictly (command_fields.RESOURCES_MAYBE_DEFAULT). `set_resources` (--set-resources,
    by rule) are only the names a rule's jobs will have too: they are applied later
    (fileflow.lang.overrides)."""
    workdir = workdir or os.path.dirname(os.path.abspath(path)) or "."
    overrides: dict = {}
    for extra in configfiles:
        overrides = merge_config(overrides, load_config_file(extra))
    overrides = merge_config(overrides, dict(config or {}))
    loader = _Loader(workdir, overrides)
    loader.command_line_config = dict(config or {})
    loader.command_line_configfiles = [(extra, extra) for extra in configfiles]
    loader.texts = texts or {}
    loader.default_resources = None if default_resources is None else dict(default_resources)
    loader.set_resources = set_resources or {}
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
