"""One rule's directives checked and turned into its Rule: each directive evaluated at load
time, or compiled into a Lazy when it reads job names; file patterns, wildcards, numbers,
resources, the action and the command's fields checked. Layer 1.
"""
from __future__ import annotations

import os
import string
from collections.abc import Callable, Mapping, Sequence
from operator import attrgetter
from typing import Protocol, cast

from fileflow.errors import FlowfileError, Position
from fileflow.lang import syntax as s
from fileflow.lang.command_fields import RESOURCES_MAYBE_DEFAULT, field_problem
from fileflow.lang.directives import (
    ACTIONS,
    JOB_NAMES,
    JOB_NAMES_DEFAULT,
    RULE_DIRECTIVES,
    check_constraints,
    check_int,
    check_path_text,
    check_script_params,
    flatten_files,
    unpacked,
)
from fileflow.lang.evaluate import UndefinedName, compile_expr, fstring_text
from fileflow.lang.expr_names import free_names, names_and_uses, walk
from fileflow.lang.literal_positions import position_in_literal
from fileflow.lang.model import Action, FileItem, Lazy, Rule, build_rule
from fileflow.lang.script_kinds import REPORT_NAME, SUPPORTED, script_kind
from fileflow.lang.software import read_software
from fileflow.lang.units import DERIVED, UnitError, seconds, with_units
from fileflow.lang.values import BENCHMARK, REPEAT, a_type, closest, flag_function
from fileflow.patterns import PatternError, parse_pattern
from fileflow.template import Items, Template, TemplateError, parse_template

__all__ = ["LoadingState", "RuleBuilder"]

_POS = attrgetter("pos")  # a node's position


class LoadingState(Protocol):
    """What a rule is built against: the loader's state where the rule is written."""

    @property
    def workdir(self) -> str: ...

    @property
    def builtins(self) -> Mapping[str, Callable]: ...

    @property
    def scope(self) -> Mapping[str, object]:
        """The names assigned above the rule, and config."""

    def scope_copy(self) -> Mapping[str, object]:
        """A copy of `scope` as it is now, for per-job values to read later (the Flowfile's
        later assignments are not theirs); never written to, so rules may share it."""

    @property
    def sources(self) -> Mapping[str, str]:
        """Flowfile path -> text, for positions inside strings."""

    @property
    def read_files(self) -> list[str]:
        """Files read besides the Flowfiles: a script is added."""

    @property
    def default_resources(self) -> Mapping[str, object] | None:
        """--default-resources: every job's resources unless its rule sets them (None: not
        known, as in the editor)."""

    @property
    def set_resources(self) -> Mapping[str, Mapping[str, object]]:
        """--set-resources, by rule name: what the command line gives a rule's jobs."""

    def evaluate(self, node) -> object: ...


class RuleBuilder:
    """Checks one rule's directives and builds its Rule."""

    def __init__(self, loader: LoadingState, decl: s.RuleDecl, path: str, index: int):
        self.loader, self.decl, self.path, self.index = loader, decl, path, index
        self.directives: dict[str, s.Directive] = {}
        self.empty_names: dict[str, tuple[str, ...]] = {}  # Rule.empty_names

    def build(self) -> Rule:
        decl = self.decl
        action_seen: s.Directive | None = None
        for d in decl.directives:
            if d.name not in RULE_DIRECTIVES:
                if d.name == "run":
                    raise FlowfileError("'run:' blocks of Python are not supported", d.pos,
                                        "use 'shell:' for a command or 'script:' for a Python script")
                if d.name == "notebook":
                    raise FlowfileError(f"unknown directive 'notebook' in rule '{decl.name}'", d.pos,
                                        "a notebook is a script: 'script: \"NAME.ipynb\"' runs it, "
                                        "and 'log: notebook = \"PATH.ipynb\"' keeps the executed copy")
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
            constraints.update(check_constraints(self.directives["wildcard_constraints"],
                                                 self.loader.evaluate))
        outputs = self.outputs()
        wildcards = outputs[0].pattern.wildcards if outputs else ()
        for item in outputs[1:]:
            if set(item.pattern.wildcards) != set(wildcards):
                first = ", ".join(wildcards) or "none"
                this = ", ".join(item.pattern.wildcards) or "none"
                raise FlowfileError(
                    f"all outputs of rule '{decl.name}' must use the same wildcards: "
                    f"{{{first}}} vs {{{this}}}", item.pos)
        inputs = self.files("input", wildcards)
        log = self.files("log", wildcards)
        outputs += self.benchmark(outputs, wildcards)  # an output, but not {output}'s
        params = self.params(wildcards)
        threads = self.integer("threads", 1, minimum=0, wildcards=wildcards)  # 0: needs no core
        resources = self.resources(wildcards)
        retries = self.fixed_integer("retries", 0, minimum=0, wildcards=wildcards)
        priority = self.fixed_integer("priority", 0, wildcards=wildcards)
        message = self.template("message")
        action = self.action()
        script_digest = ""
        if action and action.kind == "script":
            if script_kind(action.text) == "rmarkdown" and not outputs:
                raise FlowfileError(f"rule '{decl.name}' runs the R Markdown script "
                                    f"{action.text!r} but has no output to render it to",
                                    self.directives["script"].pos,
                                    "give the rule the output document, e.g. "
                                    f'output: {REPORT_NAME} = "reports/{{sample}}.html"')
            script_digest = _file_digest(action.text, self.loader.workdir)
            self.loader.read_files.append(os.path.join(self.loader.workdir, action.text))
        software = read_software(self.directives.get("conda"), self.directives.get("envmodules"),
                                 self.loader.evaluate, self.path, self.loader.workdir)
        if software and software.conda and software.conda.kind == "file":
            self.loader.read_files.append(os.path.join(self.loader.workdir, software.conda.value))
        rule = build_rule(decl.name, decl.pos, self.index, outputs, wildcards, inputs, log, params,
                          threads, resources, retries, priority, message, action, constraints, False,
                          dict(zip(self.directives, map(_POS, self.directives.values()))),
                          script_digest,
                          decl.checkpoint, software, self.time_span("timeout"),
                          self.time_span("retry_delay"), self.backoff(), self.group(wildcards),
                          self.empty_names)
        self.check_templates(rule)
        if isinstance(params, Items):
            check_script_params(rule, params)
        return rule

    # -- helpers

    def job_names(self, directive: str) -> tuple[str, ...]:
        return JOB_NAMES.get(directive, JOB_NAMES_DEFAULT)

    def compile_args(self, d: s.Directive, directive: str, wildcards: Sequence[str]):
        """Evaluate the directive's arguments now, or return a Lazy if they read job names."""
        for arg in d.args:
            value = arg.value if type(arg) is s.Keyword else arg
            if type(value) is not s.Const and (type(value) is not s.FString
                                               or fstring_text(value) is None):
                break
        else:  # literals (text-only f-strings too): no name to read or check
            names, values = self._named_args(d, directive)
            literals = []  # (a loop: a comprehension is a call, and most directives hold one)
            for n, v in zip(names, values):
                literals.append((n, v.value if type(v) is s.Const else fstring_text(v)))
            return literals
        builtins = self.loader.builtins
        reads: set[str] = set()
        uses: list[tuple[str, Position]] = []  # every `wildcards.NAME`, in order
        for arg in d.args:
            arg_reads, arg_uses = names_and_uses(arg, "wildcards")
            reads |= arg_reads
            uses += arg_uses
        job_names = self.job_names(directive)
        lazy_names = reads & set(job_names)
        scope = self.loader.scope
        # (not `reads - set(scope) - ...`: a set of the whole scope for every directive)
        unknown = set()
        for name in reads:  # (a loop, not a set comprehension: most directives read one name)
            if name not in scope and name not in builtins and name not in job_names:
                unknown.add(name)
        for name in unknown:
            if name in ("wildcards", "attempt", "threads", "checkpoints"):
                where = (", ".join(k for k, v in JOB_NAMES.items() if name in v)
                         or "input, output, params, log")
                raise FlowfileError(f"'{name}' cannot be used in '{directive}:'", d.pos,
                                    f"it is available in: {where}")
        for attr, pos in uses:
            if attr not in wildcards:
                raise FlowfileError(f"rule '{self.decl.name}' has no wildcard '{attr}' "
                                    f"(its outputs define: {', '.join(wildcards) or 'none'})", pos)
        if directive != "input":
            for arg in d.args:
                value = arg.value if isinstance(arg, s.Keyword) else arg
                if isinstance(value, s.Call) and isinstance(value.func, s.Name) \
                        and value.func.id == "unpack":
                    raise FlowfileError("unpack() belongs in 'input:'", value.pos,
                                        "it turns a dict into named inputs")
        names, values = self._named_args(d, directive)
        if not lazy_names:  # evaluated now: a literal is its value, nothing to compile
            # All compiled, then all evaluated; loops, not comprehensions (a call each), as
            # a directive has a few arguments
            fixed = []
            for v in values:
                fixed.append(None if type(v) is s.Const else compile_expr(v, builtins))
            now = []
            for n, v, fn in zip(names, values, fixed):
                now.append((n, v.value if fn is None else cast("Callable", fn)(scope)))
            return now
        fns = [compile_expr(v, builtins) for v in values]

        def evaluate(scope):
            return [(n, fn(scope)) for n, fn in zip(names, fns)]

        # Undefined names still fail now, at load time, not per job.
        if unknown:
            name = sorted(unknown)[0]
            raise UndefinedName(name, self._name_pos(d, name),
                                closest(name, self.loader.scope)[2:] or
                                "define it above this rule (names are defined in order)")
        return Lazy(evaluate, self.loader.scope_copy(), d.pos)

    def _named_args(self, d: s.Directive, directive: str) -> tuple[list[str | None], list]:
        """The arguments' keywords (None for a positional one) and values, in order; an
        error for a keyword given twice."""
        names: list[str | None] = []
        values = []
        for arg in d.args:
            if isinstance(arg, s.Keyword):
                if arg.name in names:
                    raise FlowfileError(f"'{arg.name}' given twice in '{directive}:' of rule "
                                        f"'{self.decl.name}'", arg.pos)
                names.append(arg.name)
                values.append(arg.value)
            else:
                names.append(None)
                values.append(arg)
        return names, values

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
        first: dict[str, FileItem] = {}
        for item in items:
            if "ancient" in item.flags:
                raise FlowfileError("ancient() applies to inputs, not outputs", item.pos)
            if any(f.startswith(REPEAT) for f in item.flags):
                raise FlowfileError("repeat() applies to a 'benchmark:' file, not to outputs",
                                    item.pos)
            seen = first.setdefault(item.pattern.text, item)
            if seen is not item:
                raise FlowfileError(f"output {item.pattern.text!r} is given twice in rule "
                                    f"'{self.decl.name}'", item.pos,
                                    f"first given at line {seen.pos.line}, column {seen.pos.column}")
        return items

    def benchmark(self, outputs: tuple[FileItem, ...], wildcards: Sequence[str]
                  ) -> tuple[FileItem, ...]:
        """`benchmark: "b/{sample}.tsv"` or `repeat("b/{sample}.tsv", 3)`: an output flagged
        "benchmark" (and "repeat=N"), with the outputs' wildcards."""
        d = self.directives.get("benchmark")
        if d is None:
            return ()
        if len(d.args) != 1 or isinstance(d.args[0], s.Keyword):
            raise FlowfileError("'benchmark:' takes one file path", d.pos,
                                'e.g. benchmark: "benchmarks/{sample}.tsv"')
        value = self.compile_args(d, "benchmark", ())
        if isinstance(value, Lazy):
            raise FlowfileError("'benchmark:' cannot depend on wildcards; write the wildcards "
                                "in the path", d.pos)
        items = self.file_items(d, value, "benchmark")
        if len(items) != 1:
            raise FlowfileError("'benchmark:' takes one file path", d.pos)
        item = items[0]
        if set(item.pattern.wildcards) != set(wildcards):
            raise FlowfileError(f"the benchmark file of rule '{self.decl.name}' must use the "
                                f"outputs' wildcards: {{{', '.join(wildcards) or 'none'}}}",
                                item.pos)
        bad = {f for f in item.flags if not f.startswith(REPEAT)}
        if bad:
            raise FlowfileError(f"{flag_function(sorted(bad)[0])}() does not apply to a "
                                "benchmark file", item.pos)
        if any(o.pattern.text == item.pattern.text for o in outputs):
            raise FlowfileError(f"{item.pattern.text!r} is both an output and the benchmark file",
                                item.pos)
        return (item._replace(flags=item.flags | {BENCHMARK}),)

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
                raise FlowfileError(f"{flag_function(sorted(bad)[0])}() applies to outputs, not to "
                                    f"{directive}", item.pos)
        return items

    def file_items(self, d: s.Directive, values: list, directive: str) -> tuple[FileItem, ...]:
        """The directive's files; a name given an empty list is kept in self.empty_names
        (an output's is an error: an output names a file the job makes)."""
        items = []
        new = tuple.__new__  # FileItem's own __new__ is a Python frame: a million per expand()
        empty: list[str] = []
        for arg, pair in zip(d.args, values):
            pos = arg.pos
            for name, value in unpacked([pair], pos):
                files = flatten_files(value, pos, directive)
                if not files and name is not None:
                    if directive == "output":
                        raise FlowfileError(
                            f"output '{name}' of rule '{self.decl.name}' is an empty list: an "
                            "output names the files a job makes", pos,
                            "give it at least one path, or leave the name out of 'output:'")
                    empty.append(name)
                for path, flags in files:
                    try:
                        pattern = parse_pattern(path)
                    except PatternError as exc:
                        raise FlowfileError(str(exc), pos) from None
                    items.append(new(FileItem, (pattern, name, flags, pos)))
        if empty:
            self.empty_names[directive] = tuple(empty)
        return tuple(items)

    def params(self, wildcards) -> Items | Lazy:
        d = self.directives.get("params")
        if d is None:
            return Items()
        value = self.compile_args(d, "params", wildcards)
        if isinstance(value, Lazy):
            return value
        names, values = zip(*value) if value else ((), ())  # (no generator per rule)
        return Items(values, names)

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
        check_int(number, directive, minimum, d.args[0].pos)
        return number

    def fixed_integer(self, directive: str, default: int, minimum: int | None = None,
                      wildcards: Sequence[str] = ()) -> int:
        """A whole number decided before any job exists (retries, priority): integer() rejects
        a per-job one, as the directive is not in JOB_NAMES."""
        number = self.integer(directive, default, minimum, wildcards)
        assert not isinstance(number, Lazy)
        return number

    def resources(self, wildcards) -> Mapping[str, object] | Lazy:
        """The rule's resources over the default ones: what every job of it has."""
        defaults = self.loader.default_resources or {}
        d = self.directives.get("resources")
        if d is None:
            return dict(defaults)
        keywords: list[s.Keyword] = []
        for arg in d.args:
            if not isinstance(arg, s.Keyword):
                raise FlowfileError("'resources:' takes name=value pairs (e.g. mem_mb=2000)", arg.pos)
            keywords.append(arg)
        value = self.compile_args(d, "resources", wildcards)
        if isinstance(value, Lazy):
            return _over_defaults(value, defaults)
        positions = {keyword.name: keyword.value.pos for keyword in keywords}
        return with_units(dict(value).items(), positions.__getitem__, defaults)

    def template(self, directive: str) -> Template | None:
        d = self.directives.get(directive)
        if d is None:
            return None
        return self._template_of(d, self._one_string(d))

    def _template_of(self, d: s.Directive, text: str) -> Template:
        try:
            return parse_template(text)
        except TemplateError as exc:
            raise FlowfileError(str(exc), self._offset_pos(d.args[0], exc.offset, exc.length),
                                hint=exc.hint) from None

    def time_span(self, directive: str) -> float:
        """`timeout: "2h"`, `retry_delay: "30s"`: seconds (a number alone is seconds),
        longer than 0, the same for every job; 0 when the rule does not set it."""
        value, pos = self._one_fixed_value(directive, "time span", "\"2h\" or \"90s\"")
        if pos is None:
            return 0.0
        try:
            if isinstance(value, str):
                limit = seconds(value)
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                limit = float(value)
            else:
                raise UnitError(f"'{directive}:' takes a time span such as \"2h\", not "
                                f"{a_type(value)}")
        except UnitError as exc:
            raise FlowfileError(str(exc), pos) from None
        if not limit > 0 or limit == float("inf"):
            raise FlowfileError(f"'{directive}:' must be a time longer than 0, not {value!r}", pos)
        return limit

    def group(self, wildcards: Sequence[str]) -> str:
        """`group: "per_sample"`: the group its jobs run in on a cluster; `{NAME}` in it is
        the job's wildcard NAME (one group per sample: `group: "s_{sample}"`)."""
        d = self.directives.get("group")
        if d is None:
            return ""
        name = self._one_string(d)
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(name) if f is not None]
        except ValueError as exc:
            raise FlowfileError(f"'group:' {name!r}: {exc}", d.args[0].pos) from None
        for field_name in fields:
            if field_name not in wildcards:
                known = ", ".join(wildcards) or "none"
                raise FlowfileError(f"'group:' {name!r} names {{{field_name}}}, which is not a "
                                    f"wildcard of rule '{self.decl.name}' (its wildcards: {known})",
                                    d.args[0].pos)
        if not name.strip():
            raise FlowfileError("'group:' takes a group name, not an empty string", d.args[0].pos)
        return name

    def backoff(self) -> float:
        """`retry_backoff: 2`: each retry waits this many times longer than the one before."""
        value, pos = self._one_fixed_value("retry_backoff", "number", "2")
        if pos is None:
            return 1.0
        if (isinstance(value, bool) or not isinstance(value, (int, float))
                or not 1 <= value < float("inf")):
            raise FlowfileError(f"'retry_backoff:' takes a number >= 1 (each retry waits that "
                                f"many times longer), not {value!r}", pos)
        return float(value)

    def _one_fixed_value(self, directive: str, what: str, example: str):
        """The value of a directive that takes one value decided before any job exists,
        and its position; (None, None) when the rule does not set it."""
        d = self.directives.get(directive)
        if d is None:
            return None, None
        if len(d.args) != 1 or isinstance(d.args[0], s.Keyword):
            raise FlowfileError(f"'{directive}:' takes one {what}, e.g. {example}", d.pos)
        if free_names(d.args[0]) & {"wildcards", "attempt"}:
            raise FlowfileError(f"'{directive}:' cannot depend on wildcards or attempt; give a "
                                f"{what}", d.args[0].pos)
        return self.loader.evaluate(d.args[0]), d.args[0].pos

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
            text = self._one_string(d)
            return Action("shell", text, self._template_of(d, text), d.pos)
        if "script" in self.directives:
            d = self.directives["script"]
            rel = self._one_string(d)
            check_path_text(rel, "script", d.args[0].pos)
            if script_kind(rel) is None:
                ext = os.path.splitext(rel)[1]
                raise FlowfileError(f"cannot run script {rel!r}: "
                                    + (f"unknown extension {ext!r}" if ext else "no extension"),
                                    d.args[0].pos, f"a script ends in {SUPPORTED}")
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
            resources = self.resource_names(rule.name)
            for f in template.fields:
                problem = field_problem(rule, f, resources)
                if problem:
                    raise FlowfileError(problem, self._offset_pos(d.args[0], f.offset, len(f.text)))

    def resource_names(self, name: str) -> frozenset[str]:
        """The resources every job of rule `name` has: its own (their values may be per
        job, their names are not), those --set-resources gives it, and the default ones
        (RESOURCES_MAYBE_DEFAULT when those are not known)."""
        defaults = self.loader.default_resources
        d = self.directives.get("resources")
        own = set()
        for arg in d.args if d else ():  # (loops: no comprehension's call per rule)
            if isinstance(arg, s.Keyword):
                own.add(arg.name)
        own.update(self.loader.set_resources.get(name, ()))
        own.update([DERIVED[n] for n in own if n in DERIVED])
        return frozenset(own.union(RESOURCES_MAYBE_DEFAULT if defaults is None else defaults))

    def _offset_pos(self, node, offset: int, length: int) -> Position:
        return position_in_literal(node, offset, length, self.loader.sources.get(node.pos.path))


def _over_defaults(resources: Lazy, defaults: Mapping[str, object]) -> Lazy:
    """Per-job resources, read with their units, over the default ones."""
    fn, pos = resources.fn, resources.pos
    def evaluate(scope):  # every argument is a keyword: resources() checked
        pairs = cast("list[tuple[str, object]]", fn(scope))
        return list(with_units(pairs, lambda _: pos, defaults).items())
    return Lazy(evaluate, resources.scope, pos)


def _file_digest(rel: str, workdir: str) -> str:
    import hashlib
    full = rel if os.path.isabs(rel) else os.path.join(workdir, rel)
    digest = hashlib.sha256()
    with open(full, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):  # in chunks: a script of any size
            digest.update(chunk)
    return digest.hexdigest()
