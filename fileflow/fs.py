"""Small file-system operations that every stage shares. Layer 0.

Removing something that is already gone is never an error in a build tool: an output may
have been removed by its job, by the user, or by a build that ran before.
"""
from __future__ import annotations

import contextlib
import os
import shutil

__all__ = ["remove_file", "remove_path"]


def remove_file(path: str) -> None:
    """Unlink a file or a symlink; nothing there is fine."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def remove_path(path: str) -> None:
    """Remove a file, a symlink or a directory tree; nothing there is fine. One unlink in
    the usual case (a file, or nothing: a full build's outputs)."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError:
        if not os.path.isdir(path) or os.path.islink(path):
            raise
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(path)
