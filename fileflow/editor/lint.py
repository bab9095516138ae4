"""`fileflow lint`: warnings about a valid workflow, each with a code and a one-line fix. Layer 2.

Reads the checked rule model (and, for unused names, the syntax tree of each Flowfile); it
never runs anything. Every check is an approximation that prefers silence to a false alarm:
per-job values (`Lazy`) are not guessed at.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from fileflow.editor.output_index import OutputIndex
from fileflow.errors import Position

__all__ = ["Finding", "CODES", "lint_workflow", "select_findings", "SEVERITIES", "text_pos"]

SEVERITIES = ("warning", "error")

# code -> (severity, short title) for the codes fileflow knows.
CODES = {
    "FF101": ("warning", "rule without log"),
    "FF102": ("warning", "absolute path"),
    "FF103": ("warning", "indexed input/output where the item has a name"),
    "FF104": ("warning", "unconstrained wildcard can match '/'"),
    "FF105": ("warning", "unused top-level variable"),
    "FF106": ("warning", "temp() output is a default target"),
    "FF107": ("warning", "rule unreachable from the default targets"),
    "FF108": ("warning", "output pattern overlaps another rule's output"),
    "FF109": ("warning", "params value is an existing file"),
    "FF110": ("warning", "config key that no Flowfile reads"),
    "FF111": ("warning", "params value made from wildcards in the shell command without :q"),
    "FF112": ("warning", "imported function never called"),
}


@dataclass(frozen=True)
class Finding:
    pos: Position
    code: str
    message: str
    fix: str

    @property
    def severity(self) -> str:
        return CODES[self.code][0]

    def render(self) -> str:
        return f"{self.pos}: {self.code} {self.message} (fix: {self.fix})"


def select_findings(findings: Iterable[Finding], select: Sequence[str] = (),
                    ignore: Sequence[str] = ()) -> list[Finding]:
    """Keep the codes in `select` (all when empty) minus those in `ignore`; a code may be a
    prefix ("FF10" selects FF101..FF109)."""
    def matches(code: str, wanted: Sequence[str]) -> bool:
        return any(code.startswith(w) for w in wanted)
    return [f for f in findings
            if (not select or matches(f.code, select)) and not matches(f.code, ignore)]


def lint_workflow(workflow, modules: Sequence = (), configfiles: Sequence[str] = ()) -> list[Finding]:
    """Every finding for a loaded Workflow, in file order. `modules` are the parsed syntax
    trees of its Flowfiles (for FF105 and FF110); without them those are skipped.
    `configfiles` are the command line's --configfile files (FF110 also reads the
    Flowfiles' `configfile:` files)."""
    from fileflow.editor.shell_params import unquoted_wildcard_params
    from fileflow.lang.syntax import collector_paused

    found: list[Finding] = []
    # Lint frees what it allocates as it goes; the cyclic collector would only rescan the
    # workflow's large heap again and again (more than half the time on 5,000 rules).
    with collector_paused():
        outputs = OutputIndex(workflow.rules)
        for check in (_missing_log, _absolute_paths, _slash_wildcards, _temp_targets):
            found.extend(check(workflow))
        found.extend(_unreachable(workflow, outputs))
        found.extend(_overlapping_outputs(workflow, outputs))
        found.extend(_file_params(workflow))
        found.extend(_indexed_fields(workflow, {m.path: m.source for m in modules}))
        if modules:
            found.extend(unquoted_wildcard_params(workflow, {m.path: m.source for m in modules}))
            found.extend(_unused_names(workflow, modules))
            found.extend(_unused_config_keys(workflow, modules, configfiles))
    return sorted(found, key=lambda f: (f.pos.path, f.pos.line, f.pos.column, f.code))


def _file_items(items) -> tuple:
    return items if isinstance(items, tuple) else ()  # a Lazy is per job: not guessed


# ---------------------------------------------------------------- the checks

def _missing_log(workflow) -> Iterable[Finding]:
    for rule in workflow.rules:
        if rule.action is not None and isinstance(rule.log, tuple) and not rule.log:
            wild = "".join("/{" + w + "}" for w in rule.wildcards)
            yield Finding(rule.pos, "FF101", f"rule '{rule.name}' has no log",
                          f'add log: "logs/{rule.name}{wild}.log" and send the output there')


def _absolute_paths(workflow) -> Iterable[Finding]:
    for rule in workflow.rules:
        for directive, items in (("input", rule.inputs), ("output", rule.outputs), ("log", rule.log)):
            for item in _file_items(items):
                if item.pattern.text.startswith("/"):
                    yield Finding(item.pos, "FF102",
                                  f"absolute path '{item.pattern.text}' in {directive} of rule '{rule.name}'",
                                  "use a path relative to the workflow directory (or a config value)")


def text_pos(sources: dict, start: Position, text: str) -> Position:
    """Where `text` first occurs at or after `start` in its file's source (`start` itself when
    the source is not at hand or the text is not found)."""
    source = sources.get(start.path)
    if source is None:
        return start
    lines = source.split("\n")
    offset = sum(len(line) + 1 for line in lines[:start.line - 1]) + start.column - 1
    found = source.find(text, offset)
    if found < 0:
        return start
    line = source.count("\n", 0, found) + 1
    column = found - (source.rfind("\n", 0, found) + 1) + 1
    return Position(start.path, line, column, line, column + len(text))


def _indexed_fields(workflow, sources: dict) -> Iterable[Finding]:
    for rule in workflow.rules:
        action = rule.action
        if action is None or action.template is None:
            continue
        for field in action.template.fields:
            if (field.name not in ("input", "output") or not field.steps
                    or not isinstance(field.steps[0], int)):
                continue
            items = _file_items(rule.inputs if field.name == "input" else rule.outputs)
            index = field.steps[0]
            if 0 <= index < len(items) and items[index].name:
                better = "{" + f"{field.name}.{items[index].name}" + "}"
                yield Finding(text_pos(sources, action.pos, field.text), "FF103",
                              f"'{field.text}' in the shell command of rule '{rule.name}' "
                              "indexes a named item",
                              f"write {better}")


def _slash_wildcards(workflow) -> Iterable[Finding]:
    for rule in workflow.rules:
        for item in rule.outputs:
            loose = [part[0] for part in item.pattern.parts
                     if not isinstance(part, str) and part[1] is None and part[0] not in rule.constraints]
            for name in dict.fromkeys(loose):
                yield Finding(item.pos, "FF104",
                              f"wildcard '{{{name}}}' in '{item.pattern.text}' (rule '{rule.name}') "
                              "has no constraint and can match '/'",
                              f'add wildcard_constraints: {name}="[^/]+" (or write {{{name},[^/]+}})')


def _default_paths(workflow) -> tuple[list, list[str]]:
    """(rules named as default targets, file paths the default targets ask for): a target rule
    without outputs asks for its constant inputs."""
    rules, paths = [], []
    for target in workflow.default_targets:
        rule = workflow.by_name.get(target)
        if rule is None:
            paths.append(target)
            continue
        rules.append(rule)
        if not rule.outputs:
            paths.extend(i.pattern.text for i in _file_items(rule.inputs) if i.pattern.is_constant)
    return rules, paths


def _temp_targets(workflow) -> Iterable[Finding]:
    target_rules, paths = _default_paths(workflow)
    for rule in workflow.rules:
        for item in rule.outputs:
            if "temp" not in item.flags:
                continue
            if rule in target_rules or any(item.pattern.match(p, rule.constraints) is not None
                                           for p in paths):
                yield Finding(item.pos, "FF106",
                              f"temp() output '{item.pattern.text}' of rule '{rule.name}' "
                              "is a default target",
                              "drop temp() here, or make a later rule's output the target")


def _unreachable(workflow, outputs: OutputIndex) -> Iterable[Finding]:
    target_rules, paths = _default_paths(workflow)
    reached = {r.name: r for r in target_rules}
    for path in paths:
        for rule, _ in outputs.matching(path):
            reached[rule.name] = rule
    todo = list(reached.values())
    while todo:
        rule = todo.pop()
        if not isinstance(rule.inputs, tuple):
            return  # per-job inputs could ask for anything: say nothing rather than guess
        for item in rule.inputs:
            for producer, _ in outputs.overlapping(item.pattern, rule.constraints):
                if producer.name not in reached:
                    reached[producer.name] = producer
                    todo.append(producer)
    for rule in workflow.rules:
        if rule.name not in reached:
            yield Finding(rule.pos, "FF107",
                          f"rule '{rule.name}' is not needed by any default target",
                          "add its output to a default target's inputs, or remove the rule")


def _ordered_pairs(ruleorder) -> set[frozenset]:
    """Rule pairs whose order `ruleorder` settles, directly or through a chain (a > b > c)."""
    after: dict[str, set[str]] = {}
    for first, second in ruleorder:
        after.setdefault(first, set()).add(second)
    pairs: set[frozenset] = set()
    for start in after:
        seen: set[str] = set()
        todo = [start]
        while todo:
            for nxt in after.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        pairs.update(frozenset((start, other)) for other in seen if other != start)
    return pairs


def _overlapping_outputs(workflow, outputs: OutputIndex) -> Iterable[Finding]:
    ordered = _ordered_pairs(workflow.ruleorder)
    index = {rule.name: i for i, rule in enumerate(workflow.rules)}
    for later in workflow.rules:
        reported: set[str] = set()  # one finding per pair of rules
        for mine in later.outputs:
            for earlier, theirs in outputs.overlapping(mine.pattern, later.constraints):
                if (index[earlier.name] >= index[later.name] or earlier.name in reported
                        or frozenset((earlier.name, later.name)) in ordered
                        or bool(earlier.wildcards) != bool(later.wildcards)):
                    # ruleorder or the rule without wildcards decides (as `choose` does)
                    continue
                reported.add(earlier.name)
                yield Finding(mine.pos, "FF108",
                              f"output '{mine.pattern.text}' of rule '{later.name}' can match output "
                              f"'{theirs.pattern.text}' of rule '{earlier.name}'",
                              f"make the patterns distinct, constrain the wildcards, or add "
                              f"ruleorder: {later.name} > {earlier.name}")


def _file_params(workflow) -> Iterable[Finding]:
    for rule in workflow.rules:
        params = rule.params
        if not hasattr(params, "values"):
            continue  # per job
        for value, name in zip(params.values, params.names):
            if (isinstance(value, str) and value.strip() and "\n" not in value
                    and os.path.isfile(os.path.join(workflow.workdir, value))):
                label = f"params.{name}" if name else "a params value"
                yield Finding(rule.directive_pos.get("params", rule.pos), "FF109",
                              f"{label} of rule '{rule.name}' is the existing file '{value}'",
                              "move it to input: so a change to the file reruns the rule")


def _unused_names(workflow, modules) -> Iterable[Finding]:
    from fileflow.lang import syntax as s
    from fileflow.lang.expr_names import walk

    read: set[str] = set()
    imported: list[s.Name] = []
    for module in modules:
        for stmt in module.statements:
            stack = [stmt]
            while stack:  # statements -> directives -> expressions
                node = stack.pop()
                if isinstance(node, s.RuleDecl | s.UseRule | s.ModuleDecl):
                    stack.extend(node.directives)
                elif isinstance(node, s.Directive):
                    stack.extend(node.args)
                elif isinstance(node, s.Assignment):
                    stack.append(node.value)
                elif isinstance(node, s.ImportFrom):
                    imported.extend(node.names)  # naming a function is not calling it
                else:
                    read.update(n.id for n in walk(node) if type(n) is s.Name)
    for rule in workflow.rules:  # `{NAME}` in a command or message reads it too
        for template in (rule.action.template if rule.action else None, rule.message):
            if template is not None:
                read.update(f.name for f in template.fields)
    for name, pos in workflow.names.items():
        if name not in read and not name.startswith("_"):
            yield Finding(pos, "FF105", f"variable '{name}' is assigned but never read",
                          "remove the assignment (or prefix the name with '_')")
    for name in imported:
        if name.id not in read:
            yield Finding(name.pos, "FF112", f"function '{name.id}' is imported but never called",
                          "remove it from the import")


def _config_step(node, s):
    """(key, the node the key is read from) when the node reads one key of something
    (`x.key`, `x["key"]`, `x.get("key", ...)`), else None."""
    kind = type(node)
    if kind is s.Attribute:
        return node.attr, node.obj
    if kind is s.Index and type(node.key) is s.Const and isinstance(node.key.value, (str, int)):
        return str(node.key.value), node.obj
    if (kind is s.Call and type(node.func) is s.Attribute and node.func.attr == "get"
            and node.args and type(node.args[0]) is s.Const and isinstance(node.args[0].value, str)):
        return node.args[0].value, node.func.obj
    return None


def _config_path(node, s) -> tuple | None:
    """The keys of a static read of config (`config.a["b"].get("c")` -> ("a", "b", "c")),
    None when the node is not one."""
    keys: list = []
    while type(node) is not s.Name:
        step = _config_step(node, s)
        if step is None:
            return None
        keys.append(step[0])
        node = step[1]
    return tuple(reversed(keys)) if node.id == "config" else None


def _config_reads(modules) -> set[tuple]:
    """Every config path some Flowfile expression uses as a whole: `config.a.b` uses ("a", "b")
    and all below it; `config.a[wildcards.x]`, `config.a.keys()` or `f(config.a)` use ("a",);
    a bare `config` uses () (everything)."""
    from fileflow.lang import syntax as s
    from fileflow.lang.expr_names import walk

    roots: list = []
    for module in modules:
        for stmt in module.statements:
            if isinstance(stmt, s.RuleDecl | s.UseRule | s.ModuleDecl):
                roots.extend(a for d in stmt.directives for a in d.args)
            elif isinstance(stmt, s.Directive):
                roots.extend(stmt.args)
            elif isinstance(stmt, s.Assignment):
                roots.append(stmt.value)
    used: set[tuple] = set()
    for root in roots:
        inner: set[int] = set()  # the lower links of a chain already counted (walk goes top down)
        for node in walk(root):
            if id(node) in inner:
                step = _config_step(node, s)
                if step is not None:
                    inner.update((id(step[1]), id(getattr(node, "func", None))))
                continue
            path = _config_path(node, s)
            method = type(node) is s.Call and type(node.func) is s.Attribute
            if path is None and method and _config_path(node.func.obj, s) is not None:
                path = _config_path(node.func.obj, s)  # keys(), upper(): the value is used whole
                inner.update((id(node.func), id(node.func.obj)))
            elif path is not None:
                step = _config_step(node, s)
                if step is not None:
                    inner.update((id(step[1]), id(getattr(node, "func", None))))
            if path is not None:
                used.add(path)
    return used


def _yaml_keys(path: str, shown: str) -> list[tuple[tuple, Position]]:
    """(key path, position) of every mapping key of a YAML file, outermost first; [] when
    the file cannot be read (loading the workflow has already reported that)."""
    import yaml

    try:
        with open(path, encoding="utf-8") as f:
            root = yaml.compose(f, Loader=yaml.SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return []
    keys: list[tuple[tuple, Position]] = []
    todo: list[tuple[tuple, object]] = [((), root)]
    while todo:
        prefix, node = todo.pop()
        if not isinstance(node, yaml.MappingNode):
            continue
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode) or key.value == "<<":
                continue
            here = prefix + (key.value,)
            start, end = key.start_mark, key.end_mark
            keys.append((here, Position(shown, start.line + 1, start.column + 1,
                                        end.line + 1, end.column + 1)))
            todo.append((here, value))
    return keys


def _shown(path: str) -> str:
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


def _unused_config_keys(workflow, modules, configfiles: Sequence[str]) -> Iterable[Finding]:
    from fileflow.lang import syntax as s

    files = [(os.path.abspath(c), _shown(c)) for c in configfiles]
    for module in modules:
        for stmt in module.statements:
            if (isinstance(stmt, s.Directive) and stmt.name == "configfile" and len(stmt.args) == 1
                    and type(stmt.args[0]) is s.Const and isinstance(stmt.args[0].value, str)):
                target = stmt.args[0].value  # relative to the working directory, as the loader reads it
                full = target if os.path.isabs(target) else os.path.join(workflow.workdir, target)
                files.append((os.path.abspath(full), _shown(full)))
    if not files:
        return
    used = _config_reads(modules)
    if () in used:
        return  # the whole config is read somewhere: any key may be
    for full, shown in dict(files).items():
        reported: list[tuple] = []
        for keys, pos in _yaml_keys(full, shown):
            if any(keys[:len(u)] == u or u[:len(keys)] == keys for u in used):
                continue  # inside something read whole, or on the way to something read
            if any(keys[:len(r)] == r for r in reported):
                continue  # below an unused key: that one finding covers it
            reported.append(keys)
            read = "config" + "".join(f".{k}" if k.isidentifier() else f"[{k!r}]" for k in keys)
            yield Finding(pos, "FF110", f"config key '{'.'.join(keys)}' is not read by any Flowfile",
                          f"remove it from {os.path.basename(shown)}, or read it as {read}")


# ---------------------------------------------------------------- the command

def _codes(text: str) -> list[str]:
    return [c.strip().upper() for c in text.split(",") if c.strip()]


def run_lint(paths: Sequence[str], *, select: str = "", ignore: str = "", fail_on: str = "warning",
             config: Sequence[str] = (), configfiles: Sequence[str] = (), print_line=print,
             workdir: str | None = None) -> int:
    """Lint each Flowfile and print its findings; the exit status of `fileflow lint`. A file
    that does not load gets its error printed as by `check`; the others are still linted and
    the exit status is 2."""
    from fileflow.errors import EXIT_USAGE, FileflowError
    from fileflow.lang.config import parse_config_overrides
    from fileflow.lang.loader import load_workflow
    from fileflow.lang.syntax import parse_flowfile

    selected, ignored = _codes(select), _codes(ignore)
    for code in selected + ignored:
        if not any(known.startswith(code) for known in CODES):
            raise FileflowError(f"lint: unknown code {code!r} (known: {', '.join(CODES)})")
    overrides = parse_config_overrides(config)
    worst, broken = -1, False
    for path in paths:
        try:
            workflow = load_workflow(path, workdir=workdir, config=overrides, configfiles=configfiles)
        except FileflowError as err:  # as fmt does: report it, lint the other files, exit 2
            print(err.render(), file=sys.stderr)
            broken = True
            continue
        modules = []
        for flowfile in workflow.flowfiles:
            try:
                with open(flowfile, encoding="utf-8") as f:
                    modules.append(parse_flowfile(f.read(), flowfile))
            except OSError:
                modules = []  # cannot see every file: do not call a name unused
                break
        for finding in select_findings(lint_workflow(workflow, modules, configfiles), selected, ignored):
            print_line(finding.render())
            worst = max(worst, SEVERITIES.index(finding.severity))
    if broken:
        return EXIT_USAGE
    if fail_on == "never" or worst < 0:
        return 0
    return 1 if worst >= SEVERITIES.index(fail_on) else 0
