"""Long lists cut into batches of a bounded size. Layer 0.

A SQL statement takes a limited number of parameters, a command line a limited length, and a
graph layout a limited line: every place that hands many items to one of them cuts them here.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

__all__ = ["chunked"]

T = TypeVar("T")


def chunked(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Consecutive slices of `items`, each at most `size` long, in order."""
    if size < 1:
        raise ValueError(f"chunk size must be positive, not {size}")
    for start in range(0, len(items), size):
        yield items[start:start + size]
