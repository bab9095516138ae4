"""`fileflow clean`: delete the outputs of rules (never sources), under the build lock, and
forget them in the run log. Layer 5.
"""
from __future__ import annotations

import os
from collections.abc import Sequence

from fileflow.cli.steps import BuildOptions, load_graph, open_store, print_line, read_recorded
from fileflow.errors import EXIT_OK, FileflowError

__all__ = ["clean"]


def clean(options: BuildOptions, rules: Sequence[str], dry_run: bool) -> int:
    """Delete the outputs of the selected rules' jobs (never sources) and forget them."""
    from fileflow.fs import remove_path

    workflow, graph = load_graph(options, open_store())
    unknown = [r for r in rules if r not in workflow.by_name]
    if unknown:
        raise FileflowError(f"clean: no rule named {unknown[0]!r}")
    chosen = set(rules) or set(workflow.by_name)
    paths = [p for job in graph.jobs if job.rule.name in chosen for p in job.outputs
             if os.path.lexists(p)]
    if dry_run or not paths:
        for path in paths:
            print_line("would remove " + path)
    else:
        from fileflow.run.locks import BuildLock

        lock = BuildLock(".", paths)  # never pull files from under a build making them
        lock.acquire(options.lock_timeout, getattr(options, "quiet", False))
        try:
            for path in paths:
                print_line("removed " + path)
                remove_path(path)
            runlog, _ = read_recorded(options.db_url, write=True)
            try:
                runlog.forget(paths)
            finally:
                runlog.close()
        finally:
            lock.release()
    if not paths:
        print_line("nothing to clean")
    return EXIT_OK
