"""Lark's parse errors -> messages in words. Layer 1 (used only by syntax.py, on the error path).

The parser knows which terminals it expected; this module looks at the tokens just before
the error to say what the user most likely meant ("expected ':' after the rule name").
"""
from __future__ import annotations

from fileflow.errors import Position

__all__ = ["describe"]

WORDS = {
    "NAME": "a name", "STRING": "a string", "LONG_STRING": "a string", "NUMBER": "a number",
    "COLON": "':'", "EQUAL": "'='", "COMMA": "','", "DOT": "'.'",
    "LPAR": "'('", "RPAR": "')'", "LSQB": "'['", "RSQB": "']'", "LBRACE": "'{'", "RBRACE": "'}'",
    "_NL": "the end of the line", "_INDENT": "an indented block", "_DEDENT": "the end of the block",
    "$END": "the end of the file", "RULE": "'rule'", "IF": "'if'", "ELSE": "'else'",
    "AND": "'and'", "OR": "'or'", "NOT": "'not'", "IN": "'in'", "TRUE": "true", "FALSE": "false",
    "NONE": "none", "SUM_OP": "'+' or '-'", "TERM_OP": "'*', '/', '//' or '%'",
    "EQEQUAL": "'=='", "NOTEQUAL": "'!='", "LESSTHAN": "'<'", "MORETHAN": "'>'",
    "LESSEQUAL": "'<='", "MOREEQUAL": "'>='",
}
VALUE_START = {"NAME", "STRING", "LONG_STRING", "NUMBER", "LSQB", "LBRACE", "LPAR", "TRUE",
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
    if kind in ("STRING", "LONG_STRING"):
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


def _tokens_before(source: str, line: int, column: int, inclusive: bool = False) -> list:
    """The tokens (after the indentation postlexer) that come before a position (or at it,
    when `inclusive`: an indent or dedent token shares its position with the newline before it)."""
    from fileflow.lang.lark_parser import lark_parser

    tokens = []
    try:
        for tok in lark_parser().lex(source):
            if tok.type in ("_INDENT", "_DEDENT"):
                pass
            elif (tok.line, tok.column) > (line, column) or (
                    not inclusive and (tok.line, tok.column) == (line, column)):
                break
            tokens.append(tok)
    except Exception:  # the lexer stops at the bad character; what came before is enough
        pass
    return tokens


def _unclosed_bracket(tokens) -> object | None:
    stack = []
    for tok in tokens:
        if tok.type in CLOSERS:
            stack.append(tok)
        elif stack and tok.type == CLOSERS[stack[-1].type]:
            stack.pop()
    return stack[-1] if stack else None


def _pos(path: str, line: int, column: int, width: int = 1) -> Position:
    return Position(path, line, column, line, column + width)


def describe(exc, source: str, path: str) -> tuple[str, Position, str]:
    """(message, position, hint) for a Lark UnexpectedInput."""
    from lark.exceptions import UnexpectedCharacters

    if isinstance(exc, UnexpectedCharacters):
        return _bad_character(exc, source, path)
    token = exc.token
    expected = set(exc.expected)
    line = getattr(token, "line", None) or exc.line
    column = getattr(token, "column", None) or exc.column
    at_end = token.type == "$END" or line in (None, -1)
    if at_end:
        line, column = source.count("\n"), 1
    prev = _tokens_before(source, line + 1 if at_end else line, column,
                          inclusive=token.type in ("_INDENT", "_DEDENT"))
    significant = [t for t in prev if t.type not in ("_INDENT", "_DEDENT")]
    last = significant[-1] if significant else None
    before_last = significant[-2] if len(significant) > 1 else None
    here = _pos(path, line, column, max(1, len(str(token))) if token.type not in ("_NL", "$END") else 1)
    if token.type == "_INDENT":  # the token carries the newline's position; show the indented line
        here = _pos(path, token.end_line, token.end_column)
    kinds = [t.type for t in significant[-4:]]

    if token.type == "$END":
        opened = _unclosed_bracket(prev)
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
        return (f"unexpected end of file; expected {_expected_words(expected)}", here, "")

    opened = _unclosed_bracket(prev)
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
    # `rule b:` inside a rule's block: there, `rule` is read as a directive's name.
    if (last is not None and str(last) == "rule" and last.column > 1 and token.type == "NAME"
            and before_last is not None and before_last.type == "_NL"):
        return ("a rule cannot be defined inside another rule", _pos(path, last.line, last.column, 4),
                f"start 'rule {token}:' at the beginning of the line")
    if token.type == "RULE" and column > 1 and last is not None and last.type == "_NL":
        return ("a rule cannot be defined inside another rule", here,
                "start 'rule NAME:' at the beginning of the line")
    # A directive indented further than the one above reads as a continuation of its values.
    if (token.type == "COLON" and last is not None and last.type == "NAME"
            and before_last is not None and before_last.type == "_NL"
            and prev and prev[-2].type == "_INDENT"):
        return (f"'{last}:' is indented more than the line above it",
                _pos(path, last.line, last.column, len(str(last))),
                "the directives of a rule line up under each other")
    # `rule` with no name, or a name with no colon.
    if last is not None and last.type == "RULE" and token.type != "NAME":
        return ("expected a rule name after 'rule'", here, "write it as: rule NAME:")
    if last is not None and last.type == "NAME" and before_last is not None and before_last.type == "RULE":
        return (f"expected ':' after the rule name '{last}'", here, f"write it as: rule {last}:")
    # The body of a rule must start on the next line, indented.
    if (before_last is not None and last.type == "COLON" and before_last.type == "NAME"
            and len(significant) >= 3 and significant[-3].type == "RULE"):
        return (f"the directives of rule '{before_last}' go on the lines below 'rule {before_last}:', "
                "indented", here, "")
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
    return (f"unexpected {_what(token)}; expected {_expected_words(expected)}", here, "")


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
