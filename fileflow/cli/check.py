"""`fileflow check`: a loaded workflow's summary line, or what is wrong with it. Layer 5.

Loading has checked each Flowfile line by line; here come the errors of the graph that the
rules alone show (fileflow.engine.rule_checks) and the warnings: a literal input that no
rule makes and that is not on disk, and a wildcard-made param in a shell command without
`:q` (lint's FF111). Errors and warnings go to standard error, each as
`path:line:col: error|warning: ...` with the line, a caret and a hint; warnings leave the
exit status alone.
"""
from __future__ import annotations

import sys
from collections.abc import Callable

from fileflow.errors import EXIT_OK, EXIT_USAGE, Position, render_at
from fileflow.printable import printable

__all__ = ["check_workflow"]


def _param_warnings(workflow) -> list[tuple[Position, str]]:
    """FF111's findings (read from the Flowfiles' text only when some rule has params made
    per job)."""
    from fileflow.editor.shell_params import unquoted_wildcard_params
    from fileflow.lang.model import Lazy

    if not any(isinstance(rule.params, Lazy) for rule in workflow.rules):
        return []
    sources = {}
    for flowfile in workflow.flowfiles:
        try:
            with open(flowfile, encoding="utf-8-sig") as f:
                sources[flowfile] = f.read()
        except (OSError, UnicodeDecodeError):
            continue  # loaded a moment ago: changed since, so nothing to say about it
    return [(f.pos, render_at("warning", f"{f.message} (lint {f.code})", f.pos, f.fix))
            for f in unquoted_wildcard_params(workflow, sources)]


def _sort_key(pos: Position | None) -> tuple:
    return (pos.path, pos.line, pos.column) if pos else ("", 0, 0)


def check_workflow(workflow, print_line: Callable[[str], None]) -> int:
    """Print the summary line (stdout) or the errors, and the warnings (stderr); the exit status."""
    from fileflow.editor.rule_checks import rule_problems

    errors, warnings = rule_problems(workflow)
    notes = [(e.pos, e.render()) for e in errors]
    notes += [(w.pos, render_at("warning", w.message, w.pos, w.hint)) for w in warnings]
    notes += _param_warnings(workflow)
    if notes:
        notes.sort(key=lambda note: _sort_key(note[0]))
        print(printable("\n\n".join(text for _, text in notes)), file=sys.stderr)
    if errors:
        return EXIT_USAGE
    rules = workflow.rules
    shown = ", ".join(r.name for r in rules[:8]) + (", ..." if len(rules) > 8 else "")
    includes = len(workflow.flowfiles) - 1
    extra = f", {includes} included file{'s' if includes != 1 else ''}" if includes else ""
    targets = ", ".join(workflow.default_targets) or "none"
    count = len(notes)
    warned = f"; {count} warning{'s' if count != 1 else ''}" if count else ""
    print_line(f"{workflow.flowfiles[0]}: ok: {len(rules)} rule{'s' if len(rules) != 1 else ''}"
               f"{f' ({shown})' if rules else ''}{extra}; default target: {targets}{warned}")
    return EXIT_OK
