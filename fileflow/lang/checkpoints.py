"""`checkpoints.NAME.get(sample=...)`: the outputs of a checkpoint's job, read by a per-job
expression once that job is complete. Layer 1.

A checkpoint is a rule written `checkpoint NAME:`; what its job writes may decide the graph
below it (how many chunks a split made, which branch a sample takes). `checkpoints` is a job
name, as `wildcards` is: a directive that reads it is evaluated per job, with the
`Checkpoints` the engine gives (`complete` says whether a job's outputs are all there).
Reading a job that is not complete raises CheckpointPending: the engine then runs the
checkpoint first and evaluates the expression again. Without an engine (check, lint, the
editor) every checkpoint is pending.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from fileflow.errors import FlowfileError, Position
from fileflow.lang import syntax as s
from fileflow.lang.expr_names import walk
from fileflow.lang.model import Rule
from fileflow.lang.values import Attributed, closest

__all__ = ["CheckpointPending", "Checkpoints", "CheckpointJob", "checkpoint_uses",
           "check_checkpoint_uses"]


class CheckpointPending(Exception):  # noqa: N818 (not an error: the job waits for a checkpoint)
    """An expression read a checkpoint job that has not run yet: the job that asked waits."""

    def __init__(self, rule: str, wildcards: Mapping[str, str]):
        super().__init__(rule, dict(wildcards))
        self.rule, self.wildcards = rule, dict(wildcards)


class OutputList(list, Attributed):
    """A checkpoint job's outputs, by index (`.output[0]`) or by name (`.output.dir`)."""

    def __init__(self, values: Iterable[str], names: Iterable[str | None], label: str):
        super().__init__(values)
        self.label = label
        self.names = {name: value for name, value in zip(names, self) if name is not None}

    def attribute(self, name: str, pos: Position) -> object:
        if name in self.names:
            return self.names[name]
        raise FlowfileError(f"{self.label}.{name}: no output named '{name}'"
                            f"{closest(name, self.names)}", pos,
                            "" if self.names else f"its outputs have no names: use {self.label}[0]")


class CheckpointJob(Attributed):
    """What `.get(...)` gives: the job's outputs as its wildcards render them."""

    def __init__(self, outputs: OutputList):
        self.output = outputs

    def attribute(self, name: str, pos: Position) -> object:
        if name == "output":
            return self.output
        raise FlowfileError(f"{self.output.label[:-len('.output')]}.{name}: a checkpoint job "
                            "gives its output", pos)


class CheckpointRef(Attributed):
    """`checkpoints.NAME`: `.get(**wildcards)` gives its job, or raises CheckpointPending."""

    methods = frozenset({"get"})

    def __init__(self, name: str, rule: Rule | None, complete: Callable | None):
        self.name, self.rule, self.complete = name, rule, complete

    def attribute(self, name: str, pos: Position) -> object:
        raise FlowfileError(f"checkpoints.{self.name}.{name}: a checkpoint gives its job with "
                            f"checkpoints.{self.name}.get(WILDCARD=value, ...)", pos)

    def get(self, **wildcards: object) -> CheckpointJob:
        rule = self.rule
        if rule is not None:
            given, wanted = set(wildcards), set(rule.wildcards)
            if given != wanted:
                raise ValueError(f"checkpoint '{self.name}' has the wildcards "
                                 f"{', '.join(rule.wildcards) or 'none'}; give exactly those "
                                 f"(given: {', '.join(sorted(given)) or 'none'})")
        values = {k: v if isinstance(v, str) else str(v) for k, v in wildcards.items()}
        if rule is None or self.complete is None:
            raise CheckpointPending(self.name, values)
        outputs = [item.pattern.fmt.format_map(values) if item.pattern.wildcards else
                   item.pattern.text for item in rule.outputs]
        if not self.complete(rule, values, outputs):
            raise CheckpointPending(self.name, values)
        label = f"checkpoints.{self.name}.get(...).output"
        return CheckpointJob(OutputList(outputs, [i.name for i in rule.outputs], label))


class Checkpoints(Attributed):
    """`checkpoints`: the checkpoint rules by name. `complete(rule, wildcards, outputs)` says
    whether that job is done (None: nothing is, as when no build runs)."""

    def __init__(self, rules: Mapping[str, Rule] | None = None, complete: Callable | None = None):
        self.rules, self.complete = rules, complete

    def attribute(self, name: str, pos: Position) -> object:
        rule = self.rules.get(name) if self.rules is not None else None
        return CheckpointRef(name, rule, self.complete)


def checkpoint_uses(decl: s.RuleDecl) -> list[tuple[str, Position]]:
    """Each `checkpoints.NAME` a rule's directives read: (NAME, its position)."""
    found = []
    for d in decl.directives:
        for arg in d.args:
            for node in walk(arg.value if isinstance(arg, s.Keyword) else arg):
                if (isinstance(node, s.Attribute) and isinstance(node.obj, s.Name)
                        and node.obj.id == "checkpoints"):
                    found.append((node.attr, node.pos))
    return found


def check_checkpoint_uses(uses: Iterable[tuple[str, Position]], rules: Mapping[str, Rule]
                          ) -> list[FlowfileError]:
    """An error for each `checkpoints.NAME` that names no rule, or a rule that is not a
    checkpoint."""
    errors = []
    for name, pos in uses:
        rule = rules.get(name)
        if rule is None:
            points = [r.name for r in rules.values() if r.checkpoint]
            errors.append(FlowfileError(f"checkpoints.{name}: no checkpoint named '{name}'"
                                        f"{closest(name, points)}", pos))
        elif not rule.checkpoint:
            errors.append(FlowfileError(
                f"checkpoints.{name}: rule '{name}' is not a checkpoint", pos,
                f"write 'checkpoint {name}:' instead of 'rule {name}:' if its outputs decide "
                "which jobs come after it"))
    return errors
