"""Where a run log lives: the SQLite file a run log URL names. Layer 3.

Apart from fileflow.runlog.log so that what only needs the file's path (the no-op
shortcut's key, whether a graph may be kept) imports nothing else of the run log.
"""
from __future__ import annotations

import os

__all__ = ["sqlite_file"]


def sqlite_file(url: str | None, workdir: str) -> str | None:
    """The database file of a SQLite log (None for a server URL)."""
    if url is None:
        return os.path.join(os.path.abspath(workdir), ".fileflow", "runlog.db")
    if url.startswith("sqlite:///") and "?" not in url:
        path = url[len("sqlite:///"):]
        if path and path != ":memory:":
            return os.path.join(os.path.abspath(workdir), path)
    return None
