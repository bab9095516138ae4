"""The fast parser's statements beyond assignments, rules and directives: `from "x.py"
import`, `use rule ... [from ...] [as ...] [with:]`, `module NAME:` and the indented block of
directives they share, as methods that fast_parser.py's parser inherits. Layer 1.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from fileflow.errors import Position
from fileflow.lang.fast_parser_forms import Fallback
from fileflow.lang.nodes import Directive, ImportFrom, ModuleDecl, Name, UseRule, build_name_at

__all__ = ["StatementForms"]


class StatementForms:
    """Statements for the parser class of fast_parser.py (which provides the state, the
    directives and the string literals declared here)."""

    toks: list[tuple]
    i: int
    path: str

    if TYPE_CHECKING:
        def expect(self, kind: str) -> tuple: ...
        def tok_pos(self, tok: tuple) -> Position: ...
        def directive(self) -> Directive: ...
        def strings(self, toks: list[tuple]): ...

    def import_from(self) -> ImportFrom:
        """FROM STRING IMPORT NAME ("," NAME)* [","] _NL"""
        toks, i = self.toks, self.i
        path, word = toks[i + 1], toks[i + 2]
        if path[0] != "S" or path[1].lstrip("rR")[:3] in ('"""', "'''") or word[:2] != ("N", "import"):
            raise Fallback
        self.i += 3
        names = [self.expect("N")]
        while toks[self.i][0] == ",":
            self.i += 1
            if toks[self.i][0] != "NL":  # not a trailing comma
                names.append(self.expect("N"))
        self.expect("NL")
        made = [build_name_at(self.path, n[2], n[3], n[2], n[3] + len(n[1]), n[1]) for n in names]
        return ImportFrom(self.tok_pos(toks[i]), self.strings([path]), tuple(made))

    def name_node(self, tok: tuple) -> Name:
        return build_name_at(self.path, tok[2], tok[3], tok[2], tok[3] + len(tok[1]), tok[1])

    def use_rule(self) -> UseRule:
        """use rule NAMES [from MODULE] [as NEW[*]] (NL | with: block)"""
        toks = self.toks
        use = toks[self.i]
        self.i += 2
        names: tuple[Name, ...]
        if toks[self.i][:2] == ("*", "*"):
            names = (self.name_node(toks[self.i]),)
            self.i += 1
        else:
            names = (self.name_node(self.expect("N")),)
            while toks[self.i][0] == ",":
                self.i += 1
                names += (self.name_node(self.expect("N")),)
        module = None
        if toks[self.i][:2] == ("N", "from"):
            self.i += 1
            module = self.name_node(self.expect("N"))
        new_name = None
        if toks[self.i][:2] == ("N", "as"):
            new = toks[self.i + 1]
            if new[0] != "N" or new[1] in ("rule", "checkpoint", "from"):
                raise Fallback
            self.i += 2
            new_name = self.name_node(new)
            if toks[self.i][:2] == ("*", "*"):
                end = toks[self.i]
                self.i += 1
                new_name = build_name_at(self.path, new[2], new[3], end[2], end[3] + 1, new[1] + "*")
        directives: tuple = ()
        end_line = toks[self.i - 1][2]
        if toks[self.i][:2] == ("N", "with"):
            self.i += 1
            self.expect(":")
            directives, end_line = self.block_directives()
        else:
            self.expect("NL")
        return UseRule(self.tok_pos(use), names, module, new_name, directives, end_line)

    def module_decl(self) -> ModuleDecl:
        """module NAME: block"""
        name = self.toks[self.i + 1]
        self.i += 2
        self.expect(":")
        directives, end_line = self.block_directives()
        return ModuleDecl(self.tok_pos(name), name[1], directives, end_line)

    def block_directives(self) -> tuple[tuple[Directive, ...], int]:
        """_NL _INDENT (directive | _NL)+ _DEDENT: the directives and the block's end line."""
        toks = self.toks
        self.expect("NL")
        self.expect("IN")
        directives: list[Directive] = []
        while True:
            tok = toks[self.i]
            kind = tok[0]
            if kind == "C" and tok[1] == ":" or kind == "N":
                directives.append(self.directive())
            elif kind == "NL":
                self.i += 1
            elif kind == "DE" and directives:
                self.i += 1
                return tuple(directives), tok[2]
            else:
                raise Fallback
