"""Runs a Jupyter notebook as a job: `python -m fileflow.notebook NOTEBOOK [EXECUTED]`. Layer 3.

The `script:` of a rule, when it ends in `.ipynb`. A first cell defining `job` (`from
fileflow.script import job`, which reads the job file named by FILEFLOW_JOB) is put before
the notebook's own, the notebook is executed with nbclient in the working directory, and
the executed copy (every cell's output; up to the failing cell when one fails) is written
to EXECUTED when one is given. The notebook file itself is never changed.
"""
from __future__ import annotations

import os
import signal
import sys
import tempfile

__all__ = ["JOB_CELL", "JOB_CELL_TAG", "execute", "main"]

JOB_CELL = ("# Inserted by fileflow when it runs this notebook as a job.\n"
            "from fileflow.script import job\n")
JOB_CELL_TAG = "fileflow-job"


def execute(notebook: str, executed: str | None = None) -> int:
    """Run `notebook`; 0 when every cell ran, 1 (with the error on stderr) when not."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(notebook, as_version=4)
    spec = nb.metadata.get("kernelspec", {})
    language = spec.get("language") or nb.metadata.get("language_info", {}).get("name") or "python"
    if language.lower() != "python":
        print(f"fileflow: {notebook}: a {language} notebook; fileflow runs Python notebooks "
              "(an R script or an R Markdown document can be a script: too)", file=sys.stderr)
        return 1
    cell = nbformat.v4.new_code_cell(JOB_CELL)
    cell.metadata["tags"] = [JOB_CELL_TAG]
    nb.cells.insert(0, cell)
    client = NotebookClient(nb, timeout=None, kernel_name=spec.get("name") or "python3",
                            resources={"metadata": {"path": os.getcwd()}})
    # The kernel runs in a session of its own: a stopped job must end it, not leave it.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    try:
        client.execute()
    except CellExecutionError as exc:
        print(f"fileflow: {notebook}: a cell failed\n{exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"fileflow: {notebook}: stopped", file=sys.stderr)
        return 130
    except Exception as exc:  # no kernel of that name, the kernel died, ...: a message, no traceback
        print(f"fileflow: {notebook}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        if executed:
            _write(nb, executed)
    return 0


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _write(nb, path: str) -> None:
    """Written whole or not at all (a temporary file renamed over `path`)."""
    import nbformat

    folder = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=".fileflow-", suffix=".ipynb", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            nbformat.write(nb, fh)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (1, 2):
        print("usage: python -m fileflow.notebook NOTEBOOK [EXECUTED]", file=sys.stderr)
        return 2
    return execute(args[0], args[1] if len(args) == 2 else None)


if __name__ == "__main__":
    sys.exit(main())
