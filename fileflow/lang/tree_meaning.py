"""What a Flowfile's syntax tree means, without where it was written: the form `fileflow fmt`
compares to prove that a formatted file says the same as the file it came from. Layer 1."""
from __future__ import annotations

from fileflow.lang.nodes import Const, Directive, Keyword, Module, Name, RuleDecl, UseRule

__all__ = ["comparable"]


def comparable(module: Module):
    """The module's tree without positions, and each rule's directives by name (their
    order in a rule carries no meaning): equal for a file and its formatted text."""
    fields: dict[type, tuple[str, ...]] = {}

    def strip(node):
        kind = type(node)
        if kind is Const:
            return (type(node.value), node.value)  # 1 and true compare equal in Python
        if kind is Name:
            return node.id
        if kind is tuple:
            return many(node)
        if kind is Keyword:
            value = node.value
            return ("=", node.name, (type(value.value), value.value) if type(value) is Const
                    else strip(value))
        if kind is Directive:
            return (":", node.name, many(node.args))
        if kind is RuleDecl:
            keyword = "checkpoint" if node.checkpoint else "rule"
            return (keyword, node.name, tuple(sorted([(d.name, strip(d)) for d in node.directives],
                                                     key=lambda pair: pair[0])))
        if kind is UseRule:
            return ("use", many(node.names), strip(node.module), strip(node.new_name),
                    tuple(sorted([(d.name, strip(d)) for d in node.directives],
                                 key=lambda pair: pair[0])))
        names = fields.get(kind)
        if names is None:
            if not hasattr(node, "__dataclass_fields__"):
                return node
            names = fields[kind] = tuple(f for f in node.__dataclass_fields__
                                         if f not in ("pos", "end_line"))
        return (kind.__name__, *[strip(getattr(node, f)) for f in names])

    def many(nodes: tuple) -> tuple:  # strip of each, constants inline (the most common)
        return tuple([(type(n.value), n.value) if type(n) is Const else strip(n) for n in nodes])

    return strip(module.statements)
