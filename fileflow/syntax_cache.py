"""A cache of parsed Flowfiles, outside the project: the user's cache directory. Layer 1.

An entry is keyed by a hash of the Flowfile's text, the grammar, the parser's own source and
fileflow's version, so an edit to any of them is a miss. It holds the statements as plain
tuples written with `marshal` (several times faster to load than pickled dataclasses); the
file's path is not in it, so a copy of a Flowfile elsewhere hits the same entry. Only
successful parses are stored, and only of texts large enough to be worth a file. The cache
is best effort: an unreadable, corrupt or unwritable cache is ignored and the text parsed.

Location: $FILEFLOW_CACHE_DIR, else $XDG_CACHE_HOME/fileflow, else ~/.cache/fileflow; the
entries are in its `parse/` folder.
"""
from __future__ import annotations

import hashlib
import marshal
import os
import tempfile
from functools import lru_cache, partial
from pathlib import Path

from . import __version__
from .syntax_nodes import (
    Assignment, Attribute, Binary, BoolOp, Call, Compare, Conditional, Const, DictExpr,
    Directive, Index, Keyword, ListExpr, Module, Name, Not, RuleDecl, Unary, build_const,
    build_directive, build_keyword, build_name, build_position)

__all__ = ["MIN_SIZE", "cache_dir", "load", "store"]

MIN_SIZE = 32 * 1024  # smaller texts parse in a few milliseconds: a file would cost more
FORMAT = 1            # the layout of an entry; change it when the encoding below changes
MAX_ENTRIES = 64      # older entries are removed beyond this


def cache_dir() -> Path:
    explicit = os.environ.get("FILEFLOW_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "fileflow"


@lru_cache(maxsize=1)
def _parser_fingerprint() -> bytes:
    """The grammar and the source of the modules that shape the tree."""
    from importlib.resources import files

    digest = hashlib.blake2b(f"{__version__}/{FORMAT}".encode())
    digest.update(files("fileflow.grammar").joinpath("fileflow.lark").read_bytes())
    here = Path(__file__).resolve().parent
    for name in ("syntax.py", "syntax_fast.py", "syntax_nodes.py", "syntax_cache.py"):
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
        version, encoded = data
        if version != FORMAT:
            return None
        return Module(path, text, _Decoder(path).statements(encoded))
    except Exception:  # missing, unreadable or corrupt: parse instead
        return None


def store(module: Module) -> None:
    """Keep a parsed Module for next time (best effort, atomic: a temp file renamed)."""
    if len(module.source) < MIN_SIZE:
        return
    try:
        data = marshal.dumps((FORMAT, _many(module.statements)))
        entry = _entry(module.source)
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
    except (OSError, ValueError, RecursionError):  # read-only, full, or a tree too deep
        pass


def _prune(folder: Path) -> None:
    entries = sorted(folder.glob("*.marshal"), key=lambda p: p.stat().st_mtime)
    for old in entries[:-MAX_ENTRIES]:
        old.unlink(missing_ok=True)


# ---------------------------------------------------------------- nodes <-> tuples
# Each node is (tag, line, column, end_line, end_column, fields...), its children encoded
# the same way; the tag is the node class's index in _CLASSES.

_CLASSES = (Const, Name, Attribute, Index, Call, Binary, Unary, Compare, BoolOp, Not,
            Conditional, ListExpr, DictExpr, Keyword, Assignment, Directive, RuleDecl)
_TAG = {cls: tag for tag, cls in enumerate(_CLASSES)}


def _encode(node) -> tuple:
    p = node.pos
    return (_TAG[type(node)], p.line, p.column, p.end_line, p.end_column,
            *_FIELDS[type(node)](node))


def _pair(pair: tuple) -> tuple:
    return _encode(pair[0]), _encode(pair[1])


# The fields after the position, children encoded, by node class.
_FIELDS = {
    Const: lambda n: (n.value,),
    Name: lambda n: (n.id,),
    Attribute: lambda n: (_encode(n.obj), n.attr),
    Index: lambda n: (_encode(n.obj), _encode(n.key)),
    Call: lambda n: (_encode(n.func), _many(n.args), _many(n.kwargs)),
    Binary: lambda n: (n.op, _encode(n.left), _encode(n.right)),
    Unary: lambda n: (n.op, _encode(n.operand)),
    Compare: lambda n: (_encode(n.left), n.ops, _many(n.rights)),
    BoolOp: lambda n: (n.op, _many(n.values)),
    Not: lambda n: (_encode(n.operand),),
    Conditional: lambda n: (_encode(n.cond), _encode(n.then), _encode(n.otherwise)),
    ListExpr: lambda n: (_many(n.items),),
    DictExpr: lambda n: (tuple(map(_pair, n.pairs)),),
    Keyword: lambda n: (n.name, _encode(n.value)),
    Assignment: lambda n: (n.name, _encode(n.value)),
    Directive: lambda n: (n.name, _many(n.args)),
    RuleDecl: lambda n: (n.name, _many(n.directives), n.end_line),
}


def _many(nodes) -> tuple:
    """_encode of each node, the common leaves inline (a store encodes every node)."""
    out = []
    append = out.append
    for n in nodes:
        cls = type(n)
        if cls is Const:
            p = n.pos
            append((0, p.line, p.column, p.end_line, p.end_column, n.value))
        elif cls is Name:
            p = n.pos
            append((1, p.line, p.column, p.end_line, p.end_column, n.id))
        elif cls is Keyword and type(n.value) is Const:
            p, value = n.pos, n.value
            q = value.pos
            append((13, p.line, p.column, p.end_line, p.end_column, n.name,
                    (0, q.line, q.column, q.end_line, q.end_column, value.value)))
        else:
            append(_encode(n))
    return tuple(out)


class _Decoder:
    """Tuples back to nodes. The common leaves (strings, names, keyword arguments) are built
    inline: a cached load builds as many nodes as a parse, and calls are what cost."""

    def __init__(self, path: str):
        self.position = partial(build_position, path)

    def statements(self, encoded: tuple) -> tuple:
        return self.many(encoded)

    def many(self, encoded: tuple) -> tuple:
        position = self.position
        out = []
        append = out.append
        for e in encoded:
            tag = e[0]
            if tag == 0:
                append(build_const(position(e[1], e[2], e[3], e[4]), e[5]))
            elif tag == 1:
                append(build_name(position(e[1], e[2], e[3], e[4]), e[5]))
            elif tag == 13:
                value = e[6]
                append(build_keyword(position(e[1], e[2], e[3], e[4]), e[5],
                                     build_const(position(value[1], value[2], value[3], value[4]),
                                                 value[5])
                                     if value[0] == 0 else self.node(value)))
            else:
                append(self.node(e))
        return tuple(out)

    def node(self, e: tuple):
        tag = e[0]
        pos = self.position(e[1], e[2], e[3], e[4])
        if tag == 0:
            return build_const(pos, e[5])
        if tag == 1:
            return build_name(pos, e[5])
        if tag == 15:
            return build_directive(pos, e[5], self.many(e[6]))
        if tag == 13:
            return build_keyword(pos, e[5], self.node(e[6]))
        node = self.node
        many = self.many
        if tag == 2:
            return Attribute(pos, node(e[5]), e[6])
        if tag == 3:
            return Index(pos, node(e[5]), node(e[6]))
        if tag == 4:
            return Call(pos, node(e[5]), many(e[6]), many(e[7]))
        if tag == 5:
            return Binary(pos, e[5], node(e[6]), node(e[7]))
        if tag == 6:
            return Unary(pos, e[5], node(e[6]))
        if tag == 7:
            return Compare(pos, node(e[5]), e[6], many(e[7]))
        if tag == 8:
            return BoolOp(pos, e[5], many(e[6]))
        if tag == 9:
            return Not(pos, node(e[5]))
        if tag == 10:
            return Conditional(pos, node(e[5]), node(e[6]), node(e[7]))
        if tag == 11:
            return ListExpr(pos, many(e[5]))
        if tag == 12:
            return DictExpr(pos, tuple((node(k), node(v)) for k, v in e[5]))
        if tag == 14:
            return Assignment(pos, e[5], node(e[6]))
        if tag == 16:
            return RuleDecl(pos, e[5], many(e[6]), e[7])
        raise ValueError(f"unknown tag {tag}")
