"""Running part of a workflow, and what changed: the options `--until`, `--omit-from`,
`--batch` (build, graph, summary), `--rerun-triggers` and `--list-changes` (build), with
Snakemake's names and meaning, and `--list-changes` itself. Layer 5.

The selection is made by fileflow.engine.selection once the graph is resolved
(fileflow.cli.steps.load_graph); the triggers go to the decision
(fileflow.engine.staleness.decide) through the plan.
"""
from __future__ import annotations

import argparse
import re

from fileflow.cli.arguments import FormedValues
from fileflow.engine.staleness import TRIGGERS

__all__ = ["add_selection_options", "add_change_options", "selection_values", "list_changes",
           "CHANGE_PARTS"]

CHANGE_PARTS = ("params", "code", "input")
_TRIGGER = re.compile("|".join(re.escape(t) for t in TRIGGERS))


def add_selection_options(parser: argparse.ArgumentParser) -> None:
    """--until, --omit-from, --batch: which part of the graph a command works on."""
    parser.add_argument("--until", nargs="+", action="extend", default=[], metavar="RULE|FILE",
                        help="run only the jobs of these rules or files and the jobs they need, "
                             "nothing below them (the words after it are its values: put "
                             "targets before it, or after --)")
    parser.add_argument("--omit-from", nargs="+", action="extend", default=[],
                        metavar="RULE|FILE",
                        help="leave out the jobs of these rules or files and every job below "
                             "them")
    parser.add_argument("--batch", default=None, metavar="RULE=i/n",
                        help="build the i-th of n parts of the inputs of RULE's jobs; RULE "
                             "itself runs with the last part")


def add_change_options(parser: argparse.ArgumentParser) -> None:
    """--rerun-triggers and --list-changes: which recorded changes count, and listing them."""
    parser.add_argument("--rerun-triggers", action=FormedValues, form=_TRIGGER, default=None,
                        metavar="|".join(TRIGGERS),
                        help="the kinds of change that rerun a job (default: all of them; "
                             "'content' alone is Make's rule with hashes)")
    parser.add_argument("--list-changes", choices=CHANGE_PARTS, default=None,
                        help="print the outputs whose recorded params, code or set of inputs "
                             "differ from the workflow's now, one per line, and build nothing")


def selection_values(args: argparse.Namespace) -> dict:
    """The BuildOptions fields of these options (the commands without them get none)."""
    triggers = getattr(args, "rerun_triggers", None)
    return dict(until=tuple(getattr(args, "until", ())),
                omit_from=tuple(getattr(args, "omit_from", ())),
                batch=getattr(args, "batch", None),
                rerun_triggers=frozenset(triggers) if triggers is not None else None)


def list_changes(options, part: str) -> int:
    """Print, one per line, each output of the graph whose record differs from the
    workflow now in `part`: "params" or "code" (that part of the signature), "input" (the
    set of inputs). An output with no complete record is not listed; a record of an older
    run log, without the parts, is listed under both code and params when its signature
    differs."""
    from fileflow.cli.steps import (
        load_graph,
        local_view_of,
        open_store,
        print_line,
        read_recorded,
    )
    from fileflow.engine.plan import Plan, job_facts
    from fileflow.engine.staleness import signature_changes
    from fileflow.errors import EXIT_OK

    store = open_store()
    _, graph = load_graph(options, store)
    runlog, recorded = read_recorded(options.db_url, write=False)
    try:
        # signed as its command sees it, as a build does
        plan = Plan(graph, [], {}, {}, recorded, local_view=local_view_of(graph, store))
        for job in graph.jobs:
            records = [(o, r) for o in job.outputs
                       if (r := recorded.get(o)) is not None and r.complete]
            if not records:
                continue
            facts = job_facts(job, plan.signature(job.id), plan.parts(job.id))
            for path, rec in records:
                if part == "input":
                    changed = set(job.inputs) != set(rec.input_digests)
                else:
                    changed = part in signature_changes(facts, rec)
                if changed:
                    print_line(path)
    finally:
        if runlog is not None:
            runlog.close()
    return EXIT_OK
