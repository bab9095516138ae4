"""The fast path of the parse: a recursive-descent parser over tokenizer.py's tokens. Layer 1.

It builds exactly the tree that the Lark parser (lark_parser.py) builds from grammar/fileflow.lark
(same node classes, same positions), at a fraction of the cost, for text it fully
understands. The grammar stays the specification: on anything this parser does not accept
(every syntax error, and rare corners such as form feeds) it raises `Fallback` and the
caller parses with Lark, which also words the error. tests/test_syntax_fast.py checks that
both parsers build equal trees.

Positions follow Lark's `propagate_positions`: a node spans from its first child to its last
child, and a parenthesised child counts with its parentheses (Lark's "container"), although
the child's own position leaves them out. Such extents that differ from a node's own
position are kept in a side table keyed by the node's id.
"""
from __future__ import annotations

from functools import partial

from fileflow.errors import Position
from fileflow.lang.fast_parser_forms import CONSTANT_WORDS, ExpressionForms, Fallback, token_end
from fileflow.lang.fast_parser_statements import StatementForms
from fileflow.lang.nodes import (
    Assignment,
    BadLiteral,
    Directive,
    Keyword,
    Module,
    RuleDecl,
    build_assignment,
    build_assignment_at,
    build_attribute,
    build_binary,
    build_bool_op,
    build_call,
    build_compare,
    build_conditional,
    build_const_at,
    build_dict,
    build_dict_comp,
    build_directive_at,
    build_index,
    build_keyword,
    build_keyword_at,
    build_list,
    build_list_comp,
    build_name_at,
    build_not,
    build_position,
    build_rule_at,
    build_unary,
    decode_number,
    decode_string,
)
from fileflow.lang.tokenizer import TokenizerStop, tokenize

__all__ = ["Fallback", "parse_fast", "parse_tokens"]


# After a complete operand, these tokens end the expression: a plain string, name or
# number followed by one of them is a node at once, without the precedence levels.
_ENDS_EXPR = frozenset({",", "NL", ")", "]", "}", ":"})
_POSTFIX_STARTS = frozenset({"(", ".", "["})
# Words after which a `test` has ended (a comprehension's element).
_ENDS_TEST = frozenset({"for"})
_CONSTANTS = CONSTANT_WORDS
_COMPARISONS = frozenset({"==", "!=", "<", "<=", ">", ">="})


class _Parser(StatementForms, ExpressionForms):
    def __init__(self, tokens: list[tuple], path: str):
        self.toks = tokens
        self.i = 0
        self.path = path
        self.statement_line = 1
        self.position = partial(build_position, path)  # Position(path, ...) made faster
        # id(node) -> (line, column, end_line, end_column) where the extent Lark gives the
        # node as a child differs from node.pos (parentheses; a binary chain's ends).
        self.extent: dict[int, tuple[int, int, int, int]] = {}
        # Nodes built and then parsed again (see expr): kept so that no new node gets
        # the id of one that `extent` may hold.
        self.discarded: list = []

    # -- helpers

    def expect(self, kind: str) -> tuple:
        tok = self.toks[self.i]
        if tok[0] != kind:
            raise Fallback
        self.i += 1
        return tok

    def start_of(self, node) -> tuple[int, int]:
        ext = self.extent.get(id(node))
        if ext is not None:
            return ext[0], ext[1]
        pos = node.pos
        return pos.line, pos.column

    def end_of(self, node) -> tuple[int, int]:
        ext = self.extent.get(id(node))
        if ext is not None:
            return ext[2], ext[3]
        pos = node.pos
        return pos.end_line, pos.end_column

    def span(self, first, last_end: tuple[int, int]) -> Position:
        """Position from a node's (container) start to an end point."""
        line, column = self.start_of(first)
        return self.position(line, column, last_end[0], last_end[1])

    def tok_pos(self, tok: tuple) -> Position:
        kind, text, line, column = tok
        if kind == "S" and "\n" in text:
            return self.position(line, column, *token_end(tok))
        return self.position(line, column, line, column + len(text))

    # -- statements

    def module(self, text: str) -> Module:
        statements: list[Assignment | Directive | RuleDecl] = []
        try:
            return self.statements(text, statements)
        except (Fallback, RecursionError):
            stop = Fallback()
            stop.line = self.statement_line
            stop.before = tuple(statements)
            raise stop from None

    def statements(self, text: str, statements: list) -> Module:
        toks = self.toks
        while True:
            tok = toks[self.i]
            kind = tok[0]
            self.statement_line = tok[2]  # the line the next statement starts on
            if kind == "NL":
                self.i += 1
            elif kind == "N":
                if tok[1] == "rule" or tok[1] == "checkpoint":
                    statements.append(self.rule())
                elif tok[1] == "from":
                    statements.append(self.import_from())
                elif tok[1] == "use" and toks[self.i + 1][:2] == ("N", "rule"):
                    statements.append(self.use_rule())
                elif tok[1] == "module" and toks[self.i + 1][0] == "N" \
                        and toks[self.i + 1][2] == tok[2] and toks[self.i + 2][0] == ":":
                    statements.append(self.module_decl())
                elif toks[self.i + 1][0] == "=":
                    statements.append(self.assignment())
                else:
                    statements.append(self.directive())
            elif kind == "C":
                _, sep, line, column, name, value_kind, value, value_column = tok
                # a keyword starts a statement: Lark says what is wrong
                if name in ("rule", "checkpoint", "from"):
                    raise Fallback
                if sep == ":":
                    statements.append(self.directive())
                else:
                    self.i += 1
                    node = self.leaf(value_kind, value, line, value_column)
                    self.expect("NL")
                    statements.append(build_assignment_at(
                        self.path, line, column, line, column + len(name), name, node))
            elif kind == "END":
                return Module(self.path, text, tuple(statements))
            else:
                raise Fallback

    def assignment(self) -> Assignment:
        name = self.toks[self.i]
        self.i += 2
        value = self.expr()
        self.expect("NL")
        return build_assignment(self.tok_pos(name), name[1], value)

    def rule(self) -> RuleDecl:
        toks = self.toks
        i = self.i
        name = toks[i + 1]
        if name[0] != "N" or toks[i + 2][0] != ":" or toks[i + 3][0] != "NL" \
                or toks[i + 4][0] != "IN":
            raise Fallback
        self.i = i + 5
        directive = self.directive
        directives = []
        while True:
            tok = toks[self.i]
            kind = tok[0]
            if kind == "C" and tok[1] == ":" or kind == "N":
                directives.append(directive())
            elif kind == "NL":
                self.i += 1
            elif kind == "DE" and directives:
                self.i += 1
                line, column = name[2], name[3]
                return build_rule_at(self.path, line, column, line, column + len(name[1]), name[1],
                                     tuple(directives), tok[2], toks[i][1] == "checkpoint")
            else:
                raise Fallback

    def directive(self) -> Directive:
        toks = self.toks
        i = self.i
        tok = toks[i]
        if tok[0] == "C":  # `name: value` read as one token
            _, _, line, column, name, value_kind, value, value_column = tok
            path = self.path
            if value_kind == "S" and "\\" not in value:  # inline self.leaf: the common case
                args = [build_const_at(path, line, value_column, line, value_column + len(value),
                                       value[1:-1])]
            else:
                args = [self.leaf(value_kind, value, line, value_column)]
            kind = toks[i + 1][0]
            if kind == "NL":  # the common case: nothing more on the line
                self.i = i + 2
            else:
                self.i = i + 1
                if kind == ",":
                    self.i += 1
                    if toks[self.i][0] != "NL":  # not a trailing comma
                        args += self.arguments()
                self.expect("NL")
            if toks[self.i][0] == "IN":
                self.i += 1
                args += self.block_arguments()
            return build_directive_at(path, line, column, line, column + len(name), name,
                                      tuple(args))
        if toks[i + 1][0] != ":":
            raise Fallback
        self.i = i + 2
        if toks[i + 2][0] == "NL":
            self.i = i + 3
            self.expect("IN")
            args = self.block_arguments()
        else:
            args = self.arguments()
            self.expect("NL")
            if toks[self.i][0] == "IN":
                self.i += 1
                args += self.block_arguments()
        line, column, name = tok[2], tok[3], tok[1]
        return build_directive_at(self.path, line, column, line, column + len(name), name,
                                  tuple(args))

    def block_arguments(self) -> list:
        """(arguments _NL)+ _DEDENT"""
        toks = self.toks
        args = []
        while True:
            args += self.arguments()
            if toks[self.i][0] != "NL":  # self.expect("NL"), inline: a call saved on each line
                raise Fallback
            self.i += 1
            if toks[self.i][0] == "DE":
                self.i += 1
                return args

    def arguments(self) -> list:
        """argument ("," argument)* [","]: expressions and `name = expr`."""
        toks = self.toks
        path = self.path
        args = []
        while True:
            tok = toks[self.i]
            kind = tok[0]
            if kind == "C":  # `name = value` read as one token
                _, sep, line, column, name, value_kind, value, value_column = tok
                if sep != "=" or name in _CONSTANTS or name == "not":
                    raise Fallback
                self.i += 1
                args.append(build_keyword_at(path, line, column, line, column + len(name), name,
                                             self.leaf(value_kind, value, line, value_column)))
            elif kind == "N" and toks[self.i + 1][0] == "=" and tok[1] not in _CONSTANTS \
                    and tok[1] != "not":
                self.i += 2
                args.append(build_keyword(self.tok_pos(tok), tok[1], self.expr()))
            else:
                args.append(self.expr())
            if toks[self.i][0] != ",":
                return args
            self.i += 1
            if toks[self.i][0] in ("NL", ")"):  # a trailing comma
                return args

    # -- expressions

    def leaf(self, kind: str, text: str, line: int, column: int):
        """A lone string, name, number or f-string: a "C" token's value (never raw or long)."""
        if kind == "F":
            return self.fstring((kind, text, line, column))
        end = column + len(text)
        if kind == "S":
            if "\\" in text:
                try:
                    value = decode_string(text)
                except BadLiteral:
                    raise Fallback from None
            else:
                value = text[1:-1]
            return build_const_at(self.path, line, column, line, end, value)
        if kind == "N":
            if text == "not":
                raise Fallback
            if text in _CONSTANTS:
                return build_const_at(self.path, line, column, line, end, _CONSTANTS[text])
            return build_name_at(self.path, line, column, line, end, text)
        try:
            return build_const_at(self.path, line, column, line, end, decode_number(text))
        except BadLiteral:
            raise Fallback from None

    def expr(self):
        """A `test`; a lone string, name or number (the common case) is built at once."""
        return self.quick(self.test, _ENDS_TEST)

    def quick(self, parse, end_words: frozenset[str]):
        """What `parse` (test or or_test) reads, built at once when it is a lone string, name,
        number or f-string, or a lone postfix chain (`f(x)`, `a.b`, `a[k]`, `[...]`): when the
        token after it ends the expression (an _ENDS_EXPR token or one of `end_words`)."""
        toks = self.toks
        i = self.i
        tok = toks[i]
        after = toks[i + 1]
        if (after[0] in _ENDS_EXPR or after[0] == "N" and after[1] in end_words) \
                and tok[0] != "C":
            kind, text, line, column = tok
            if kind == "S":
                self.i = i + 1
                if "\n" in text:
                    return self.strings([tok])
                try:
                    value = decode_string(text)
                except BadLiteral:
                    raise Fallback from None
                return build_const_at(self.path, line, column, line, column + len(text), value)
            if kind == "N" and text not in _CONSTANTS and text != "not":
                self.i = i + 1
                return build_name_at(self.path, line, column, line, column + len(text), text)
            if kind == "D":
                return self.atom()
            if kind == "F":
                self.i = i + 1
                return self.fstring(tok)
        elif tok[0] == "N" and after[0] in _POSTFIX_STARTS and tok[1] != "not" \
                or tok[0] == "[" or tok[0] == "{":
            # The postfix chain (a list or dict is one too), kept if the expression ends
            # after it; else parsed again.
            node = self.postfix()
            after = toks[self.i]
            if after[0] in _ENDS_EXPR or after[0] == "N" and after[1] in end_words:
                return node
            self.discarded.append(node)  # alive: its id stays out of reach of new nodes
            self.i = i
        return parse()

    def test(self):
        then = self.or_test()
        tok = self.toks[self.i]
        if tok[0] == "N" and tok[1] == "if":
            self.i += 1
            cond = self.or_test()
            tok = self.toks[self.i]
            if tok[0] != "N" or tok[1] != "else":
                raise Fallback
            self.i += 1
            otherwise = self.test()
            return build_conditional(self.span(then, self.end_of(otherwise)), cond, then, otherwise)
        return then

    def _bool_op(self, word: str, operand):
        first = operand()
        tok = self.toks[self.i]
        if tok[0] != "N" or tok[1] != word:
            return first
        values = [first]
        while tok[0] == "N" and tok[1] == word:
            self.i += 1
            values.append(operand())
            tok = self.toks[self.i]
        return build_bool_op(self.span(first, self.end_of(values[-1])), word, tuple(values))

    def or_test(self):
        return self._bool_op("or", self.and_test)

    def and_test(self):
        return self._bool_op("and", self.not_test)

    def not_test(self):
        tok = self.toks[self.i]
        if tok[0] == "N" and tok[1] == "not":
            self.i += 1
            operand = self.not_test()
            end_line, end_column = self.end_of(operand)
            return build_not(self.position(tok[2], tok[3], end_line, end_column), operand)
        return self.comparison()

    def comparison(self):
        first = self.sum()
        toks = self.toks
        ops, rights = [], []
        while True:
            tok = toks[self.i]
            kind = tok[0]
            if kind in _COMPARISONS:
                op = kind
                self.i += 1
            elif kind == "N" and tok[1] == "in":
                op = "in"
                self.i += 1
            elif kind == "N" and tok[1] == "not" and toks[self.i + 1][0] == "N" \
                    and toks[self.i + 1][1] == "in":
                op = "not in"
                self.i += 2
            else:
                break
            ops.append(op)
            rights.append(self.sum())
        if not ops:
            return first
        return build_compare(self.span(first, self.end_of(rights[-1])), first, tuple(ops), tuple(rights))

    def _binary(self, ops, operand):
        """`operand (OP operand)+ -> binary`: folded to the left; Lark gives the whole
        chain, as a child, the extent from its first operand to its last."""
        first = node = operand()
        toks = self.toks
        while toks[self.i][0] in ops:
            op = toks[self.i][0]
            self.i += 1
            right = operand()
            pos, rpos = node.pos, right.pos
            node = build_binary(self.position(pos.line, pos.column, rpos.end_line, rpos.end_column),
                          op, node, right)
        if node is not first:
            start, end = self.start_of(first), self.end_of(right)
            pos = node.pos
            if start != (pos.line, pos.column) or end != (pos.end_line, pos.end_column):
                self.extent[id(node)] = (*start, *end)
        return node

    def sum(self):
        return self._binary(("+", "-"), self.term)

    def term(self):
        return self._binary(("*", "/", "//", "%"), self.factor)

    def factor(self):
        tok = self.toks[self.i]
        if tok[0] in ("+", "-"):
            self.i += 1
            operand = self.factor()
            end_line, end_column = self.end_of(operand)
            return build_unary(self.position(tok[2], tok[3], end_line, end_column), tok[0], operand)
        return self.postfix()

    def postfix(self):
        node = self.atom()
        toks = self.toks
        while True:
            tok = toks[self.i]
            kind = tok[0]
            if kind == ".":
                name = toks[self.i + 1]
                if name[0] != "N":
                    raise Fallback
                self.i += 2
                node = build_attribute(self.span(node, token_end(name)), node, name[1])
            elif kind == "[":
                self.i += 1
                key = self.expr() if toks[self.i][0] != ":" else None
                if key is None or toks[self.i][0] == ":":
                    key = self.slice(key)
                close = self.expect("]")
                node = build_index(self.span(node, token_end(close)), node, key)
            elif kind == "(":
                self.i += 1
                args = self.arguments() if toks[self.i][0] != ")" else []
                close = toks[self.i]  # self.expect(")"), inline: the most common close
                if close[0] != ")":
                    raise Fallback
                self.i += 1
                positional, keywords = [], []
                for arg in args:
                    if isinstance(arg, Keyword):
                        keywords.append(arg)
                    elif keywords:
                        raise Fallback  # positional after keyword: Lark words the error
                    else:
                        positional.append(arg)
                node = build_call(self.span(node, token_end(close)), node, tuple(positional),
                            tuple(keywords))
            else:
                return node

    def atom(self):
        toks = self.toks
        tok = toks[self.i]
        kind = tok[0]
        if kind == "S":
            i = self.i + 1
            while toks[i][0] == "S":
                i += 1
            run = toks[self.i:i]
            self.i = i
            return self.strings(run)
        if kind == "N":
            word = tok[1]
            self.i += 1
            line, column = tok[2], tok[3]
            if word in _CONSTANTS:
                return build_const_at(self.path, line, column, line, column + len(word),
                                      _CONSTANTS[word])
            # `not` here is a name: not_test() took it where it is the operator, and where
            # a factor starts (after '+' or '=='), Lark's lexer does not expect NOT.
            return build_name_at(self.path, line, column, line, column + len(word), word)
        if kind == "D":
            self.i += 1
            line, column, text = tok[2], tok[3], tok[1]
            try:
                return build_const_at(self.path, line, column, line, column + len(text),
                                      decode_number(text))
            except BadLiteral:
                raise Fallback from None
        if kind == "(":
            return self.parenthesised(tok)
        if kind == "[":
            self.i += 1
            items = []
            while toks[self.i][0] != "]":
                items.append(self.expr())
                if len(items) == 1 and self.at_word("for"):
                    clauses = self.comp_fors()
                    close = self.expect("]")
                    return build_list_comp(self.position(tok[2], tok[3], *token_end(close)), items[0],
                                    clauses)
                if toks[self.i][0] != ",":
                    break
                self.i += 1
            close = self.expect("]")
            return build_list(self.position(tok[2], tok[3], *token_end(close)), tuple(items))
        if kind == "{":
            self.i += 1
            pairs = []
            while toks[self.i][0] != "}":
                key = self.expr()
                self.expect(":")
                pairs.append((key, self.expr()))
                if len(pairs) == 1 and self.at_word("for"):
                    clauses = self.comp_fors()
                    close = self.expect("}")
                    return build_dict_comp(self.position(tok[2], tok[3], *token_end(close)), key,
                                    pairs[0][1], clauses)
                if toks[self.i][0] != ",":
                    break
                self.i += 1
            close = self.expect("}")
            return build_dict(self.position(tok[2], tok[3], *token_end(close)), tuple(pairs))
        if kind == "F":
            self.i += 1
            return self.fstring(tok)
        raise Fallback


def parse_fast(text: str, source: str, path: str, tokens_out: list | None = None) -> Module:
    """The Module of `source` (text with a final newline), or Fallback. `tokens_out`, if
    given, receives the tokens of a successful parse (what the parse cache keeps)."""
    if "\f" in source:
        raise Fallback  # form feeds count as blanks only between tokens: Lark knows where
    try:
        tokens = tokenize(source)
    except TokenizerStop as stop:
        # Parse the statements before the one the tokenizer stopped in, then leave the rest
        # to Lark, unless the rest is indented with the other character than the text
        # before: Lark, reading only the rest, would not see the mix.
        other = {" ": "\t", "\t": " "}.get(stop.indent_char)
        rest_start = 0
        for _ in range(stop.line - 1):
            rest_start = source.find("\n", rest_start) + 1
        if stop.mixed or (other and "\n" + other in "\n" + source[rest_start:]):
            raise Fallback from None
        tokens = stop.tokens + [("END", None, stop.line, 0)]
        try:
            before = _Parser(tokens, path).module(text)
        except (RecursionError, IndexError):
            raise Fallback from None
        fallback = Fallback()
        fallback.line, fallback.before = stop.line, before.statements
        raise fallback from None
    module = parse_tokens(tokens, text, path)
    if tokens_out is not None:
        tokens_out += tokens
    return module


def parse_tokens(tokens: list, text: str, path: str) -> Module:
    """The Module of `text` from its tokens (tokenize's, or the parse cache's), or Fallback."""
    try:
        return _Parser(tokens, path).module(text)
    except (RecursionError, IndexError):
        raise Fallback from None
