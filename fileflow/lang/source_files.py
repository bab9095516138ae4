"""The files a load reads besides scripts (the Flowfile, its includes, config files): regular
files only, of a bounded size, so that `include: "/dev/zero"` or a FIFO named as a config
file is an error instead of a machine out of memory or a load that never ends. Layer 1.
"""
from __future__ import annotations

import os
import stat

__all__ = ["MAX_FLOWFILE_BYTES", "MAX_CONFIG_BYTES", "MAX_LOAD_BYTES", "FileRefused", "read_bytes"]

_MIB = 1024 * 1024
# The largest Flowfile a load reads (a rule takes about 500 bytes: 100,000 rules are about
# 50 MiB), the most text of Flowfiles one load reads (its includes, each time they are
# included, together), and the largest config file.
MAX_FLOWFILE_BYTES = 64 * _MIB
MAX_LOAD_BYTES = 2 * MAX_FLOWFILE_BYTES
MAX_CONFIG_BYTES = 16 * _MIB

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


class FileRefused(Exception):
    """A file a load will not read; the message says why, in words."""


def read_bytes(path: str, limit: int, what: str) -> bytes:
    """The content of a regular file of at most `limit` bytes. Raises OSError as open()
    does (FileNotFoundError for a missing file), FileRefused for another kind of file or a
    larger one. The kind is looked at before opening: opening a FIFO would wait for a writer."""
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
        raise FileRefused(f"it is {kind}, not a regular file")
    with open(path, "rb") as fh:
        data = fh.read(limit + 1)  # no more, even if the file grew meanwhile
    if len(data) > limit:
        raise FileRefused(f"it is larger than {limit // _MIB} MiB, the most {what} may hold")
    return data
