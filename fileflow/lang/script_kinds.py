"""The languages a `script:` can be written in, told by the file's extension. Layer 1.

Each kind runs in its own idiom (fileflow.run.script_jobs): Python imports `job` from
fileflow.script, R and R Markdown get a `job` list, a notebook a first cell defining `job`,
bash arrays named `job_input` and so on. An extension not listed here is an error when
the Flowfile is loaded.
"""
from __future__ import annotations

import os

__all__ = ["KINDS", "SUPPORTED", "script_kind", "LANGUAGE", "REPORT_NAME", "NOTEBOOK_NAME"]

# Lower-cased extension -> kind.
KINDS = {".py": "python", ".r": "r", ".rmd": "rmarkdown", ".ipynb": "notebook",
         ".sh": "bash", ".bash": "bash"}

LANGUAGE = {"python": "Python", "r": "R", "rmarkdown": "R Markdown", "notebook": "Jupyter notebook",
            "bash": "bash"}

SUPPORTED = ".py (Python), .R (R), .Rmd (R Markdown), .ipynb (Jupyter notebook), .sh (bash)"

# The output an R Markdown script renders to when one has this name (else the first).
REPORT_NAME = "report"
# The log (or else output) an executed notebook is written to when one has this name.
NOTEBOOK_NAME = "notebook"


def script_kind(path: str) -> str | None:
    """The kind of the script at `path` ("python", "r", "rmarkdown", "notebook", "bash"),
    or None for an extension fileflow cannot run."""
    return KINDS.get(os.path.splitext(path)[1].lower())
