"""Where the workflow's outputs lie, checked across its rules: an output inside another
rule's directory() output would be removed with that folder. Layer 1.
"""
from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence

from fileflow.errors import FlowfileError
from fileflow.lang.model import Rule

__all__ = ["inside_directory_outputs"]


def inside_directory_outputs(rules: Sequence[Rule]) -> list[FlowfileError]:
    """Outputs inside a directory() output without wildcards ("out/x.txt" in "out"): the
    directory's job removes its old output, the whole folder, before it runs. Found by the
    outputs' literal prefixes, sorted, so each directory looks only at those under it."""
    folders = [(rule, item) for rule in rules for item in rule.outputs
               if "directory" in item.flags and item.pattern.is_constant]
    if not folders:
        return []
    entries = sorted((_plain(item.pattern.literal_prefix), i, rule.name, item)
                     for rule in rules for i, item in enumerate(rule.outputs))
    prefixes = [e[0] for e in entries]
    errors = []
    for rule, folder in folders:
        under = _plain(folder.pattern.text).rstrip("/") + "/"
        for k in range(bisect_left(prefixes, under), len(entries)):
            prefix, _, name, item = entries[k]
            if not prefix.startswith(under):
                break
            if item is folder:  # "out/" itself
                continue
            errors.append(FlowfileError(
                f"output {item.pattern.text!r} of rule '{name}' is inside the directory() output "
                f"{folder.pattern.text!r} of rule '{rule.name}'", item.pos,
                f"a directory() output is removed as a whole before rule '{rule.name}' runs; "
                f"write {item.pattern.text!r} outside it"))
    return errors


def _plain(path: str) -> str:
    return path[2:] if path.startswith("./") else path
