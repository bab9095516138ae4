"""Text on its way to a terminal, made safe to show: a file name or a wildcard value may hold
any character but `/` and NUL, and an escape sequence in one (ESC `[2J`, a title change, a
hyperlink) must be seen, not obeyed. Layer 0: imports nothing from fileflow.
"""
from __future__ import annotations

import re

__all__ = ["printable", "not_utf8"]

# C0 controls but tab and newline, DEL, C1 controls; and the lone surrogates that stand for
# the bytes of a file name that is not UTF-8 (os.fsdecode), which no terminal encoding takes.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:  # an undecodable byte of a file name: that byte
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(text: str) -> str:
    """`text` with every control character (ESC, CR, BEL, backspace, C1 controls ...) shown as
    `\\x1b` and the like; tabs and line breaks stay, so whole messages may pass through. Plain
    text comes back as it is."""
    return _UNPRINTABLE.sub(_escaped, text)


def not_utf8(text: str) -> str | None:
    """The first character of `text` that UTF-8 cannot encode (a lone surrogate: the byte of
    a file name that is not UTF-8, or a `\\ud800` escape), or None. No process argument,
    environment variable or run log row can hold one."""
    if text.isascii():  # the usual case, answered without a scan
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return text[exc.start]
    return None
