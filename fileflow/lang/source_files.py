"""The files a load reads besides scripts (the Flowfile, its includes, config files): regular
files only, of a bounded size, so that `include: "/dev/zero"` or a FIFO named as a config
file is an error instead of a machine out of memory or a load that never ends. Layer 1.
"""
from __future__ import annotations

import os
import stat

__all__ = ["MAX_FILE_BYTES", "FileRefused", "read_bytes"]

# The largest Flowfile or config file a load reads (a Flowfile of 100,000 rules is about
# 10 MiB).
MAX_FILE_BYTES = 16 * 1024 * 1024

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


class FileRefused(Exception):
    """A file a load will not read; the message says why, in words."""


def read_bytes(path: str) -> bytes:
    """The content of a regular file of at most MAX_FILE_BYTES. Raises OSError as open()
    does (FileNotFoundError for a missing file), FileRefused for another kind of file or a
    larger one. The kind is looked at before opening: opening a FIFO would wait for a writer."""
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
        raise FileRefused(f"it is {kind}, not a regular file")
    with open(path, "rb") as fh:
        data = fh.read(MAX_FILE_BYTES + 1)  # no more, even if the file grew meanwhile
    if len(data) > MAX_FILE_BYTES:
        raise FileRefused(f"it is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB, the most a "
                          "Flowfile or config file may hold")
    return data
