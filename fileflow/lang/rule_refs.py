"""`rules.NAME.output`, `.input`, `.log`: another rule's file patterns in an expression, as
in Snakemake (wildcards left as they are: `rules.align.output.bam` is "mapped/{sample}.bam").
Layer 1.

The loader binds `rules` to a RuleRefs over its rules; a rule whose directives mention
`rules` is built after the others (loader.py), so it may refer to a rule defined anywhere in
the Flowfile or its includes. A list of patterns is a NamedList: a list, read by index
(`rules.align.output[0]`) or by name (`rules.align.output.bam`).
"""
from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

from fileflow.errors import FlowfileError, Position
from fileflow.lang import syntax as s
from fileflow.lang.expr_names import walk
from fileflow.lang.model import FileItem, Lazy, Rule
from fileflow.lang.values import Attributed, closest

__all__ = ["RuleRefs", "RuleRef", "NamedList", "RULE_FIELDS", "mentions_rules", "ReferredRuleFailed"]

RULE_FIELDS = ("input", "output", "log")


class ReferredRuleFailed(FlowfileError):
    """`rules.NAME` of a rule that has errors: those are reported, this one is not."""


class NamedList(list, Attributed):
    """File patterns read by index or by name (a name given to several is a list of them,
    a name given an empty list, in `empty`, is [])."""

    def __init__(self, items: tuple[FileItem, ...], label: str, rule: str, kind: str,
                 empty: tuple[str, ...] = ()):
        super().__init__(item.pattern.text for item in items)
        self.label, self.rule, self.kind = label, rule, kind
        self.names: dict[str, list[str]] = {}
        for item in items:
            if item.name is not None:
                self.names.setdefault(item.name, []).append(item.pattern.text)
        for name in empty:
            self.names.setdefault(name, [])

    def attribute(self, name: str, pos: Position) -> object:
        found = self.names.get(name)
        if found is not None:
            return found[0] if len(found) == 1 else found
        hint = (f"its named {self.kind}s: {', '.join(self.names)}" if self.names else
                f"its {self.kind}s have no names: use {self.label}[0]")
        raise FlowfileError(f"{self.label}.{name}: rule '{self.rule}' has no {self.kind} named "
                            f"'{name}'{closest(name, self.names)}", pos, hint)


class RuleRef(Attributed):
    """One rule, as `rules.NAME` gives it."""

    def __init__(self, rule: Rule):
        self.rule = rule

    def attribute(self, name: str, pos: Position) -> object:
        rule = self.rule
        label = f"rules.{rule.name}.{name}"
        if name not in RULE_FIELDS:
            raise FlowfileError(f"{label}: a rule reference gives input, output and log"
                                f"{closest(name, RULE_FIELDS)}", pos)
        items = {"input": rule.inputs, "output": rule.outputs, "log": rule.log}[name]
        if isinstance(items, Lazy):
            raise FlowfileError(f"{label}: the {name} of rule '{rule.name}' is evaluated for each "
                                "job (it reads wildcards), so it has no patterns to give", pos)
        return NamedList(items, label, rule.name, "input" if name == "input" else name,
                         rule.empty_names.get(name, ()))


class RuleRefs(Attributed):
    """`rules`: `lookup(name, pos)` gives the rule of that name (None if there is none);
    `names()` every rule name, for the suggestion."""

    def __init__(self, lookup: Callable[[str, Position], Rule | None],
                 names: Callable[[], Collection[str]]):
        self.lookup, self.names = lookup, names

    def settle(self, rules: Mapping[str, Rule]) -> None:
        """Every rule is built: look them up in `rules` from now on (per-job expressions
        keep this value, and need the loader no longer)."""
        self.lookup = lambda name, pos: rules.get(name)
        self.names = rules.keys

    def attribute(self, name: str, pos: Position) -> object:
        rule = self.lookup(name, pos)
        if rule is None:
            raise FlowfileError(f"rules.{name}: no rule named '{name}'{closest(name, self.names())}",
                                pos)
        return RuleRef(rule)


def mentions_rules(decl: s.RuleDecl) -> bool:
    """Whether any directive of the rule reads the name `rules`."""
    return any(isinstance(n, s.Name) and n.id == "rules"
               for d in decl.directives for arg in d.args
               for n in walk(arg.value if isinstance(arg, s.Keyword) else arg))
