"""Formatting a Flowfile in the editor: `fileflow fmt`'s layout. Layer 2."""
from __future__ import annotations

from fileflow.errors import FileflowError

__all__ = ["format_document"]


def format_document(text: str, path: str) -> str | None:
    """The text in `fileflow fmt`'s layout, or None when it does not parse."""
    from fileflow.lang.fmt import format_text

    try:
        return format_text(text, path)
    except FileflowError:
        return None
