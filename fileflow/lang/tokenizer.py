"""The fast parser's tokenizer: one combined regex over the text, with the indentation,
dedent and bracket rules of the Lark parser's FlowIndenter applied. Layer 1.

Its tokens are what fast_parser.py's recursive descent reads and what the parse cache keeps.
Where the text has something it leaves to Lark (tabs mixed with spaces, a dedent to no outer
level, a character no terminal starts with) it raises `TokenizerStop`. `comment_offsets`
finds comments with the same string patterns, for the formatter.
"""
from __future__ import annotations

import re

__all__ = ["TokenizerStop", "tokenize", "comment_offsets"]


# The terminals of grammar/fileflow.lark, each one capturing group, in an order that gives
# Lark's choice: LONG_STRING before STRING (its priority), STRING before NAME for r"..."
# (NAME refuses an r or R that a quote follows), NUMBER before '.' for ".5". Blanks before
# a token are skipped as Lark's %ignore does; group 13 is an f-string (NAME refuses an f
# that a quote follows, as r); anything else is group 14, a Fallback.
# A NAME followed on its line by ':' or '=' and one plain string, name, integer or f-string
# (the most common line shape, `name: value` or `name = value`) is read as one combined
# token: fewer matches and tuples. `m.lastindex` is the token's kind: 1 for _NL (newlines,
# blank lines and comments; the group is the indentation of the line after them), 2 for a
# lone NAME, and for a combined token its value's group (4 to 7). _NL, the most common
# token, comes first (no other terminal starts with its characters). The possessive `*+`
# spare the regex engine backtracking that could never lead to a match: this regex is half
# the tokenizer.
_NAME = (r"(?:[rR](?![\"']|[fF][\"'])|[fF](?![\"']|[rR][\"'])|[A-EG-QS-Za-eg-qs-z_])"
         r"[A-Za-z0-9_]*+")
_STRING = r"""(?:"(?!"")[^"\\\n]*+(?:\\.[^"\\\n]*+)*+"|'(?!'')[^'\\\n]*+(?:\\.[^'\\\n]*+)*+')"""
_TOKEN = re.compile(r"""[\t ]*+(?:
 (?:\#[^\n]*+)?\r?\n(?:[\t ]*+(?:\#[^\n]*+)?\r?\n)*+([\t ]*+)                     # 1 _NL
|(NAME)(?:[\t ]*+([:=])(?!=)[\t ]*+                                                 # 2 NAME, 3 ':' or '=',
   (?:(STRING)|(NAME)|(\d[\d_]*+)|(FSTRING))  # 4 string, 5 name, 6 integer, 7 f-string
   (?=[\t ]*+(?:[,)\]}\#]|\r?\n)))?                                                 #   then an end
|((?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?)                           # 8 NUMBER
|(==|!=|<=|>=|//|[-+*/%<>=:,.()\[\]{}])                                            # 9 operators
|([rR]?STRING)                                                                      # 10 STRING
|([rR]?(?:\"\"\"(?s:.*?)(?<!\\)(?:\\\\)*?\"\"\"|'''(?s:.*?)(?<!\\)(?:\\\\)*?'''))   # 11 LONG_STRING
|(\\[\t ]*\r?\n)                                                                   # 12 LINE_CONTINUATION
|(FSTRING)                                                                          # 13 FSTRING
|(.)                                                                               # 14 not ours
)""".replace("FSTRING", r"(?:[fF][rR]?|[rR][fF])STRING").replace("NAME", _NAME)
                    .replace("STRING", _STRING), re.VERBOSE)
_VALUE_KIND = (None, None, None, None, "S", "N", "D", "F")  # by the combined token's lastindex
_ONE_LINE = {8: "D", 10: "S", 13: "F"}  # by lastindex: a number, string or f-string on one line

_TAB_SIZE = 8  # as FlowIndenter.tab_len

# Tokens are tuples (kind, text, line, column). Kinds: "S" string, "F" f-string, "N" name (keywords are
# names, told apart by where they occur, as Lark's contextual lexer does), "D" number, an
# operator's own text, "NL" (always the tuple _NEWLINE: nothing reads a newline's line),
# "IN" (indent), "DE" (dedent; its line is the end line of the newline it follows, which is
# what Lark gives a rule's end), "END"; and "C", a combined `name: value` or `name = value`
# outside brackets, flat so that it is one tuple: ("C", ":" or "=", line, name column,
# name, value kind, value text, value column).
_NEWLINE = ("NL", None, 0, 0)


class TokenizerStop(Exception):
    """The tokenizer met text it leaves to Lark, after `tokens`, which end where a top-level
    statement starts on `line`; `indent_char` is the indentation character seen so far."""

    def __init__(self, tokens: list, line: int, indent_char: str, mixed: bool):
        super().__init__()
        self.tokens, self.line, self.indent_char, self.mixed = tokens, line, indent_char, mixed


def tokenize(source: str, line: int = 1, column: int = 1) -> list[tuple]:
    """Tokens of `source` (which ends with a newline), with FlowIndenter's indent, dedent
    and bracket rules applied; TokenizerStop where Lark must take over. `line` and `column`:
    where `source` starts (an f-string's field is tokenized where it stands)."""
    tokens: list[tuple] = []
    append = tokens.append
    count = source.count
    base = -column  # a token's column is its offset - base (base: its line's offset - 1)
    levels = [0]
    level = 0
    depth = 0  # open brackets: newlines inside them are not tokens
    indent_char = ""
    widths = {"": 0}  # indentation text -> its width
    boundary, boundary_line = 0, line  # tokens before the top-level statement being read
    for m in _TOKEN.finditer(source):
        kind: int = m.lastindex  # type: ignore[assignment]  # every alternative of _TOKEN is a group
        if kind == 1:  # the most common token first
            indent_str, end = m[1], m.end()
            base = end - len(indent_str) - 1
            line += count("\n", m.start(), end)
            if depth:
                continue
            append(_NEWLINE)
            indent = widths.get(indent_str)
            if indent is None:  # a new indentation (never ""): tabs mixed with spaces stop us
                if len(set(indent_str)) > 1 or indent_char and indent_str[0] != indent_char:
                    raise TokenizerStop(tokens[:boundary], boundary_line, indent_char, True)
                indent_char = indent_str[0]
                indent = widths[indent_str] = len(indent_str.expandtabs(_TAB_SIZE))
            if indent == level:
                if not indent:
                    boundary, boundary_line = len(tokens), line
                continue
            if indent > level:
                levels.append(indent)
                append(("IN", None, line, 0))
            elif not _dedent(levels, indent, line, append):
                raise TokenizerStop(tokens[:boundary], boundary_line, indent_char, False)
            level = levels[-1]
            if not level:
                boundary, boundary_line = len(tokens), line
        elif kind == 2:
            append(("N", m[2], line, m.start(2) - base))
        elif kind == 9:
            text = m[9]
            if text in "([{":
                depth += 1
            elif depth and text in ")]}":
                depth -= 1
            append((text, text, line, m.start(9) - base))
        elif kind <= 7:  # name ':' or '=' value
            name, sep, value = m.group(2, 3, kind)
            name_column = m.start(2) - base
            value_column = m.start(kind) - base
            if depth:  # inside brackets, a dict entry or a keyword argument: plain tokens
                append(("N", name, line, name_column))
                append((sep, sep, line, m.start(3) - base))
                append((_VALUE_KIND[kind], value, line, value_column))
            else:
                append(("C", sep, line, name_column, name, _VALUE_KIND[kind], value, value_column))
        elif kind in _ONE_LINE:
            append((_ONE_LINE[kind], m[kind], line, m.start(kind) - base))
        elif kind == 11:  # a triple-quoted string, which may span lines
            text = m[11]
            append(("S", text, line, m.start(11) - base))
            if "\n" in text:
                line += text.count("\n")
                base = m.start(11) + text.rindex("\n")
        elif kind == 12:
            line += 1
            base = m.end() - 1
        else:
            raise TokenizerStop(tokens[:boundary], boundary_line, indent_char, False)
    for _ in levels[1:]:
        append(("DE", None, line, 0))
    append(("END", None, line, 0))
    return tokens


def _dedent(levels: list[int], indent: int, line: int, append) -> bool:
    """Append a dedent token for each level above `indent`, popping it from `levels`; False
    when `indent` then matches no outer level."""
    while indent < levels[-1]:
        levels.pop()
        append(("DE", None, line, 0))
    return indent == levels[-1]


# Strings (with the tokenizer's patterns) or a comment, group 1: a scan that skips all else.
_STRING_OR_COMMENT = re.compile(
    r"""\"\"\"(?s:.*?)(?<!\\)(?:\\\\)*?\"\"\"|'''(?s:.*?)(?<!\\)(?:\\\\)*?'''|STRING|(\#[^\n]*)"""
    .replace("STRING", _STRING))


def comment_offsets(source: str) -> list[tuple[int, str]]:
    """(offset, text) of every `#` comment in `source` (a text that tokenizes), found with
    the tokenizer's string patterns so that a '#' inside a string (triple-quoted ones too)
    is not taken for one. The syntax tree has no comments; the formatter (fmt.py) puts
    them back from this list."""
    if "#" not in source:
        return []
    return [(m.start(1), m.group(1).rstrip("\r"))
            for m in _STRING_OR_COMMENT.finditer(source) if m.lastindex]
