"""Lark's parse errors -> messages in words. Layer 1 (used only by syntax.py, on the error path).

The parser knows which terminals it expected; this module looks at the tokens just before
the error to say what the user most likely meant ("expected ':' after the rule name").
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from fileflow.errors import Position

if TYPE_CHECKING:  # the module imports Lark: loaded only to read the tokens before an error
    from collections.abc import Iterator

    from fileflow.lang.lark_parser import LexedToken

__all__ = ["describe"]

WORDS = {
    "NAME": "a name", "STRING": "a string", "LONG_STRING": "a string", "FSTRING": "an f-string",
    "NUMBER": "a number", "FOR": "'for'",
    "COLON": "':'", "EQUAL": "'='", "COMMA": "','", "DOT": "'.'",
    "LPAR": "'('", "RPAR": "')'", "LSQB": "'['", "RSQB": "']'", "LBRACE": "'{'", "RBRACE": "'}'",
    "_NL": "the end of the line", "_INDENT": "an indented block", "_DEDENT": "the end of the block",
    "$END": "the end of the file", "RULE": "'rule'", "FROM": "'from'", "IMPORT": "'import'",
    "IF": "'if'", "ELSE": "'else'",
    "AND": "'and'", "OR": "'or'", "NOT": "'not'", "IN": "'in'", "TRUE": "true", "FALSE": "false",
    "NONE": "none", "SUM_OP": "'+' or '-'", "TERM_OP": "'*', '/', '//' or '%'",
    "EQEQUAL": "'=='", "NOTEQUAL": "'!='", "LESSTHAN": "'<'", "MORETHAN": "'>'",
    "LESSEQUAL": "'<='", "MOREEQUAL": "'>='",
}
VALUE_START = {"NAME", "STRING", "LONG_STRING", "FSTRING", "NUMBER", "LSQB", "LBRACE", "LPAR", "TRUE",
               "FALSE", "NONE", "SUM_OP", "NOT"}
OPERATORS = {"SUM_OP", "TERM_OP", "EQEQUAL", "NOTEQUAL", "LESSTHAN", "MORETHAN", "LESSEQUAL",
             "MOREEQUAL", "IN", "NOT", "IF", "AND", "OR", "DOT", "LPAR", "LSQB"}
CLOSERS = {"LPAR": "RPAR", "LSQB": "RSQB", "LBRACE": "RBRACE"}


def _what(token) -> str:
    kind = token.type
    if kind == "_NL":
        return "end of line"
    if kind == "$END":
        return "end of file"
    if kind == "_INDENT":
        return "indentation"
    if kind == "_DEDENT":
        return "end of the indented block"
    if kind in ("STRING", "LONG_STRING", "FSTRING"):
        return f"string {_short(token)}"
    if kind == "NAME":
        return f"name '{token}'"
    if kind == "NUMBER":
        return f"number {token}"
    return f"'{token}'"


def _short(token) -> str:
    text = str(token)
    return text if len(text) <= 30 else text[:27] + "..."


def _expected_words(expected) -> str:
    names = sorted({WORDS.get(e, e.lower()) for e in expected if not e.startswith("__")})
    if not names:
        return "something else"
    if len(names) > 6:
        if expected & VALUE_START:
            return "a value"
        names = names[:6] + ["..."]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _tokens_before(source: str, line: int, column: int, inclusive: bool = False) -> list[LexedToken]:
    """The tokens (after the indentation postlexer) that come before a position (or at it,
    when `inclusive`: an indent or dedent token shares its position with the newline before it)."""
    from fileflow.lang.lark_parser import lark_parser

    tokens: list[LexedToken] = []
    try:
        for tok in cast("Iterator[LexedToken]", lark_parser().lex(source)):
            if tok.type in ("_INDENT", "_DEDENT"):
                pass
            elif (tok.line, tok.column) > (line, column) or (
                    not inclusive and (tok.line, tok.column) == (line, column)):
                break
            tokens.append(tok)
    except Exception:  # the lexer stops at the bad character; what came before is enough
        pass
    return tokens


def _unclosed_bracket(tokens: list[LexedToken]) -> LexedToken | None:
    stack: list[LexedToken] = []
    for tok in tokens:
        if tok.type in CLOSERS:
            stack.append(tok)
        elif stack and tok.type == CLOSERS[stack[-1].type]:
            stack.pop()
    return stack[-1] if stack else None


def _pos(path: str, line: int, column: int, width: int = 1) -> Position:
    return Position(path, line, column, line, column + width)


@dataclass(frozen=True)
class _Site:
    """Where Lark stopped: the unexpected token, what it expected, and the tokens before it."""

    path: str
    token: LexedToken
    expected: set[str]
    line: int
    column: int
    prev: list[LexedToken]          # the tokens before the error, indents and dedents included
    significant: list[LexedToken]   # the same without indents and dedents
    here: Position                  # where to point

    @property
    def last(self) -> LexedToken | None:
        return self.significant[-1] if self.significant else None

    @property
    def before_last(self) -> LexedToken | None:
        return self.significant[-2] if len(self.significant) > 1 else None

    @property
    def kinds(self) -> list[str]:
        return [t.type for t in self.significant[-4:]]


def describe(exc, source: str, path: str) -> tuple[str, Position, str]:
    """(message, position, hint) for a Lark UnexpectedInput: the first of the checks below
    that recognises the situation, else what was expected."""
    from lark.exceptions import UnexpectedCharacters

    if isinstance(exc, UnexpectedCharacters):
        return _bad_character(exc, source, path)
    site = _site(exc, source, path)
    if site.token.type == "$END":
        return _at_end_of_file(site)
    return (_python_construct(site, source) or _bracket_or_empty_block(site)
            or _misplaced_rule_or_directive(site)
            or _missing_piece(site)
            or (f"unexpected {_what(site.token)}; expected {_expected_words(site.expected)}",
                site.here, ""))


def _site(exc, source: str, path: str) -> _Site:
    token = exc.token
    line = getattr(token, "line", None) or exc.line
    column = getattr(token, "column", None) or exc.column
    at_end = token.type == "$END" or line in (None, -1)
    if at_end:
        line, column = source.count("\n"), 1
    prev = _tokens_before(source, line + 1 if at_end else line, column,
                          inclusive=token.type in ("_INDENT", "_DEDENT"))
    significant = [t for t in prev if t.type not in ("_INDENT", "_DEDENT")]
    here = _pos(path, line, column, max(1, len(str(token))) if token.type not in ("_NL", "$END") else 1)
    if token.type == "_INDENT":  # the token carries the newline's position; show the indented line
        here = _pos(path, token.end_line, token.end_column)
    return _Site(path, token, set(exc.expected), line, column, prev, significant, here)


def _at_end_of_file(site: _Site) -> tuple[str, Position, str]:
    path, significant, kinds = site.path, site.significant, site.kinds
    opened = _unclosed_bracket(site.prev)
    if opened is not None:
        return (f"'{opened}' is never closed", _pos(path, opened.line, opened.column),
                f"add the matching '{ {'LPAR': ')', 'LSQB': ']', 'LBRACE': '}'}[opened.type]}'")
    if kinds[-3:] == ["NAME", "COLON", "_NL"]:
        colon = significant[-2]
        after = _pos(path, colon.line, colon.column + 1)
        if kinds[0] == "RULE":
            return (f"expected an indented block of directives after 'rule {significant[-3]}:'",
                    after, "indent the rule's directives (for example 4 spaces)")
        return (f"expected a value after '{significant[-3]}:'", after,
                "put the values on the same line, or on the lines below, indented further")
    return (f"unexpected end of file; expected {_expected_words(site.expected)}", site.here, "")


def _bracket_or_empty_block(site: _Site) -> tuple[str, Position, str] | None:
    """An unclosed or unmatched bracket, a stray '=', a rule or directive with nothing under it."""
    path, token, line, here, significant, kinds = (site.path, site.token, site.line, site.here,
                                                   site.significant, site.kinds)
    opened = _unclosed_bracket(site.prev)
    if opened is not None and opened.line < line:
        closer = {"LPAR": ")", "LSQB": "]", "LBRACE": "}"}[opened.type]
        return (f"'{opened}' opened here is never closed", _pos(path, opened.line, opened.column),
                f"add the matching '{closer}' before line {line}")
    if token.type in CLOSERS.values() and opened is None:
        return (f"unmatched '{token}'", here, "remove it, or add the opening bracket")
    if token.type == "EQUAL":
        return ("unexpected '=' (use '==' to compare; 'name=value' is only for arguments)", here, "")
    if kinds == ["RULE", "NAME", "COLON", "_NL"]:
        if token.type == "RULE":  # the next rule starts: nothing was written under this one
            here = _pos(path, significant[-2].line, significant[-2].column + 1)
        return (f"expected an indented block of directives after 'rule {significant[-3]}:'", here,
                "indent the rule's directives (for example 4 spaces)")
    if kinds[-3:-1] == ["NAME", "COLON"] and kinds[-1] == "_NL":
        colon = significant[-2]
        return (f"expected a value after '{significant[-3]}:'",
                _pos(path, colon.line, colon.column + 1),
                "put the values on the same line, or on the lines below, indented further")
    return None


def _misplaced_rule_or_directive(site: _Site) -> tuple[str, Position, str] | None:
    """A rule inside a rule, a directive indented too far, a rule line missing its name or ':'."""
    path, token, here, prev = site.path, site.token, site.here, site.prev
    last, before_last = site.last, site.before_last
    # `rule b:` inside a rule's block: there, `rule` is read as a directive's name.
    if (last is not None and str(last) == "rule" and last.column > 1 and token.type == "NAME"
            and before_last is not None and before_last.type == "_NL"):
        return ("a rule cannot be defined inside another rule", _pos(path, last.line, last.column, 4),
                f"start 'rule {token}:' at the beginning of the line")
    if token.type == "RULE" and site.column > 1 and last is not None and last.type == "_NL":
        return ("a rule cannot be defined inside another rule", here,
                "start 'rule NAME:' at the beginning of the line")
    # A directive indented further than the one above reads as a continuation of its values.
    if (token.type == "COLON" and last is not None and last.type == "NAME"
            and before_last is not None and before_last.type == "_NL"
            and prev and prev[-2].type == "_INDENT"):
        return (f"'{last}:' is indented more than the line above it",
                _pos(path, last.line, last.column, len(str(last))),
                "the directives of a rule line up under each other")
    # `from "file.py" import names` with a part missing.
    if last is not None and (last.type == "FROM" or before_last is not None and before_last.type == "FROM"
                             or last.type == "IMPORT"):
        return ("expected 'from \"FILE.py\" import NAME, ...'", here,
                "write it as: from \"workflow/common.py\" import get_fastq, sample_groups"
                + (" ('from' starts an import: it cannot be a name here)" if last.type == "FROM" else ""))
    # `rule` with no name, or a name with no colon.
    if last is not None and last.type == "RULE" and token.type != "NAME":
        return ("expected a rule name after 'rule'", here, "write it as: rule NAME:")
    if last is not None and last.type == "NAME" and before_last is not None and before_last.type == "RULE":
        return (f"expected ':' after the rule name '{last}'", here, f"write it as: rule {last}:")
    # The body of a rule must start on the next line, indented.
    if (before_last is not None and last is not None and last.type == "COLON" and before_last.type == "NAME"
            and len(site.significant) >= 3 and site.significant[-3].type == "RULE"):
        return (f"the directives of rule '{before_last}' go on the lines below 'rule {before_last}:', "
                "indented", here, "")
    return None


_HELPER_HINT = ("put the function in a Python file next to the Flowfile and import it: "
                "from \"helpers.py\" import NAME")


def _python_construct(site: _Site, source: str) -> tuple[str, Position, str] | None:
    """Python (and Snakemake) written where a Flowfile has its own way: a lambda, def,
    import, or unpacking glob_wildcards; each said with what to write instead."""
    path, significant, token = site.path, site.significant, site.token
    if str(token) == "for" and token.type in ("FOR", "NAME"):
        opened = _unclosed_bracket(site.prev)
        if opened is not None and opened.type == "LPAR":
            return ("generator expressions are not Flowfile syntax", site.here,
                    "write a list comprehension, in brackets: any([x > 0 for x in VALUES])")
        if opened is not None and opened.type == "LBRACE":
            return ("set comprehensions are not Flowfile syntax", site.here,
                    "a dict comprehension has 'key: value'; for distinct values write "
                    "set([x for x in VALUES])")
    prefix = site.last
    if (token.type == "LONG_STRING" and prefix is not None and prefix.type == "NAME"
            and str(prefix).lower() in ("f", "rf", "fr")):
        return ("f-strings are written on one line", _pos(path, prefix.line, prefix.column),
                "join one-line f-strings with '+', or use a triple-quoted string's "
                "\"...{}\".format(...)")
    start = len(significant)
    while start and significant[start - 1].type != "_NL":
        start -= 1
    statement = significant[start:]
    last = site.last
    if last is not None and last.type == "NAME" and str(last) == "lambda" and statement:
        return ("'lambda' is not Flowfile syntax", _pos(path, last.line, last.column, 6),
                "a directive's value that reads 'wildcards' is evaluated for each job: write "
                "the expression itself, e.g. input: f\"data/{wildcards.sample}.txt\" (or call "
                "a function imported from a Python file)")
    if not statement or statement[0].type not in ("NAME", "FROM", "IMPORT"):
        return None
    first, word = statement[0], str(statement[0])
    at_first = _pos(path, first.line, first.column, len(word))
    if len(statement) == 1 and word == "def" and site.token.type == "NAME":
        return ("functions are not defined in a Flowfile ('def')", at_first, _HELPER_HINT)
    # `import os`, `from os import path`; `from "helpers.py" import NAME` is the Flowfile's own.
    if len(statement) == 1 and word in ("import", "from") and site.token.type == "NAME":
        return (f"Python's '{word}' statement is not Flowfile syntax", at_first, _HELPER_HINT)
    if len(statement) == 1 and site.token.type == "COMMA":
        line = source.splitlines()[first.line - 1] if first.line <= source.count("\n") + 1 else ""
        names = re.findall(r"\{(\w+)", line.split("glob_wildcards", 1)[1]) if "glob_wildcards" in line else []
        if len(names) == 1:
            instead = f"{word} = glob_wildcards(...).{names[0]}"
        else:
            instead = "W = glob_wildcards(...), then W.NAME for each wildcard's values"
        return ("unpacking several names ('A, B = ...') is not Flowfile syntax", site.here,
                f"assign one name: {instead}")
    return None


def _missing_piece(site: _Site) -> tuple[str, Position, str] | None:
    """An indented block, a ':' or '=', a value or a ',' that should be there and is not."""
    token, expected, here, last = site.token, site.expected, site.here, site.last
    if expected == {"_INDENT"}:
        return ("expected an indented block after the ':'", here,
                "put the values on the same line, or on the lines below, indented")
    if token.type == "_INDENT":
        return ("unexpected indentation", here, "only the directives inside a rule are indented")
    if last is not None and last.type == "NAME" and "COLON" in expected:
        if "EQUAL" in expected:
            return (f"expected ':' or '=' after '{last}'", here,
                    f"a setting is written '{last}: value', a variable '{last} = value'")
        return (f"expected ':' after directive name '{last}'", here, f"write it as: {last}: value")
    if token.type == "_NL" and expected & VALUE_START:
        after = f" after '{last}'" if last is not None else ""
        return (f"expected a value{after}, but the line ends", here, "")
    if token.type in VALUE_START and ("COMMA" in expected or expected & OPERATORS):
        return (f"unexpected {_what(token)}: a ',' or an operator is missing before it", here,
                "separate values with ','")
    return None


def _bad_character(exc, source: str, path: str) -> tuple[str, Position, str]:
    line, column = exc.line, exc.column
    text = source.splitlines()[line - 1] if 0 < line <= len(source.splitlines()) else ""
    char = text[column - 1] if 0 < column <= len(text) else ""
    rest = text[column - 1:]
    here = _pos(path, line, column)
    if char in "\"'":
        if rest.startswith(char * 3):
            return ("unterminated triple-quoted string", here, f"close it with {char * 3}")
        return ("unterminated string", here,
                f"close it with {char} on the same line, or use {char * 3} for text over several lines")
    if char in ")]}":
        return (f"unmatched '{char}'", here, "")
    if char == "\\":
        return ("a '\\' outside a string must end the line (line continuation)", here, "")
    return (f"unexpected character {char!r}", here, "")
