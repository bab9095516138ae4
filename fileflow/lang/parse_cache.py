"""A cache of parsed Flowfiles, outside the project: the user's cache directory. Layer 1.

An entry is keyed by a hash of the Flowfile's text, the grammar, the parser's own source and
fileflow's version, so an edit to any of them is a miss. It holds the text's tokens (what
tokenizer.tokenize makes: tuples of strings and numbers) written with `marshal`: writing
them is one call, a few times cheaper than walking the tree to encode it, and a hit skips
the tokenizer, the larger half of a parse, and runs only the recursive descent. The file's
path is not in it, so a copy of a Flowfile elsewhere hits the same entry. Only texts the
fast parser parsed are stored (not the rare valid ones only Lark reads, never errors), and
only texts large enough to be worth a file. The cache is best effort: an unreadable,
corrupt or unwritable cache is ignored and the text parsed.

Location: $FILEFLOW_CACHE_DIR, else $XDG_CACHE_HOME/fileflow, else ~/.cache/fileflow; the
entries are in its `parse/` folder.
"""
from __future__ import annotations

import hashlib
import marshal
import os
import tempfile
from functools import lru_cache
from pathlib import Path

from fileflow import __version__
from fileflow.lang.nodes import Module

__all__ = ["MIN_SIZE", "TREE_MODULES", "cache_dir", "load", "store"]

MIN_SIZE = 32 * 1024  # smaller texts parse in a few milliseconds: a file would cost more
FORMAT = 2            # the layout of an entry: 1 held encoded trees, 2 holds tokens
MAX_ENTRIES = 64      # older entries are removed beyond this


def cache_dir() -> Path:
    explicit = os.environ.get("FILEFLOW_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "fileflow"


# The modules whose code decides the cached tokens and the tree made of them: an edit to
# any is a miss (tests/test_syntax_cache.py checks that the fast parser imports no other).
TREE_MODULES = ("syntax.py", "syntax_errors.py", "lark_parser.py", "tokenizer.py",
                "fast_parser.py", "fast_parser_forms.py", "fast_parser_statements.py", "nodes.py",
                "parse_cache.py")


@lru_cache(maxsize=1)
def _parser_fingerprint() -> bytes:
    """The grammar and the source of the modules that shape the tree."""
    from importlib.resources import files

    digest = hashlib.blake2b(f"{__version__}/{FORMAT}".encode())
    digest.update(files("fileflow.grammar").joinpath("fileflow.lark").read_bytes())
    here = Path(__file__).resolve().parent
    for name in TREE_MODULES:
        digest.update((here / name).read_bytes())
    return digest.digest()


def _entry(text: str) -> Path:
    digest = hashlib.blake2b(_parser_fingerprint(), digest_size=20)
    digest.update(text.encode("utf-8", "surrogatepass"))
    return cache_dir() / "parse" / (digest.hexdigest() + ".marshal")


def load(text: str, path: str) -> Module | None:
    """The cached Module of `text` (its positions naming `path`), or None."""
    if len(text) < MIN_SIZE:
        return None
    try:
        entry = _entry(text)
        with open(entry, "rb") as fh:
            data = marshal.loads(fh.read())  # marshal.load(fh) reads in small pieces: 10x slower
        version, tokens = data
        if version != FORMAT:
            return None
        from fileflow.lang.fast_parser import parse_tokens

        return parse_tokens(tokens, text, path)
    except Exception:  # missing, unreadable or corrupt: parse instead
        return None


def store(text: str, tokens: list) -> None:
    """Keep the tokens of a parsed text for next time (best effort, atomic: a temp file
    renamed)."""
    if len(text) < MIN_SIZE or not tokens:
        return
    try:
        data = marshal.dumps((FORMAT, tokens))
        entry = _entry(text)
        entry.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=entry.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(temp, entry)
        except BaseException:
            os.unlink(temp)
            raise
        _prune(entry.parent)
    except (OSError, ValueError):  # read-only, full
        pass


def _prune(folder: Path) -> None:
    entries = sorted(folder.glob("*.marshal"), key=lambda p: p.stat().st_mtime)
    for old in entries[:-MAX_ENTRIES]:
        old.unlink(missing_ok=True)
