"""`fileflow serve`: the run log in a browser (fileflow.serve). Layer 5: checks the extra is
installed, opens the run log look-only, picks the token rule from the address and starts
the server.
"""
from __future__ import annotations

import importlib.util
import os
import secrets
import sys

from fileflow.cli.steps import BuildOptions, print_line
from fileflow.errors import EXIT_OK, FileflowError
from fileflow.printable import printable

__all__ = ["serve_dashboard", "TOKEN_ENV"]

TOKEN_ENV = "FILEFLOW_SERVE_TOKEN"


def serve_dashboard(db_url: str | None, host: str, port: int, options: BuildOptions | None) -> int:
    """Serve the dashboard until Ctrl-C. On a loopback address no token is needed; on any
    other, FILEFLOW_SERVE_TOKEN or one made now, printed with the address. With the options
    of a Flowfile here, the runs made here show its rule graph."""
    missing = [m for m in ("starlette", "uvicorn") if importlib.util.find_spec(m) is None]
    if missing:
        raise FileflowError(f"fileflow serve needs {' and '.join(missing)}: "
                            "pip install 'fileflow[serve]'")
    from fileflow.cli.show import flowfile_rule_graph, open_history
    from fileflow.serve.app import RuleGraph, is_loopback, serve

    log = open_history(db_url)
    if log is None:
        raise FileflowError("no run log here (.fileflow/runlog.db); build first, or give --db URL")
    token = None
    if not is_loopback(host):
        token = os.environ.get(TOKEN_ENV) or secrets.token_urlsafe(24)
    try:
        log.query("SELECT id FROM runs WHERE id = 0")   # a run log that cannot be read: now
        rules = None
        if options is not None:
            view, note = flowfile_rule_graph(options)
            if view is None:
                print(printable(note), file=sys.stderr)
            else:
                rules = RuleGraph(os.getcwd(), view)
        serve(log, host, port, token, _announce, rules)
    finally:
        log.close()
    return EXIT_OK


def _announce(line: str) -> None:
    print_line(line)
    sys.stdout.flush()
