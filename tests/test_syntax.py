"""fileflow.lang.syntax: Flowfile text -> frozen syntax nodes with positions."""
from __future__ import annotations

import dataclasses

import pytest

from fileflow.errors import FlowfileError
from fileflow.lang import syntax as s
from fileflow.lang.lark_parser import lark_parser


def parse(text: str) -> s.Module:
    return s.parse_flowfile(text, "Flowfile")


def expr(text: str):
    """The node of one expression (parsed as the right side of an assignment)."""
    (stmt,) = parse(f"X = {text}\n").statements
    assert isinstance(stmt, s.Assignment)
    return stmt.value


def const(text: str):
    node = expr(text)
    assert isinstance(node, s.Const), node
    return node.value


# ---------------------------------------------------------------- literals

def test_comments_and_blank_lines_are_ignored():
    module = parse("# header\n\n   # indented comment\nX = 1  # trailing\n\n# end")
    assert [type(st) for st in module.statements] == [s.Assignment]


def test_empty_files():
    assert parse("").statements == ()
    assert parse("# only a comment").statements == ()
    assert parse("\n\n\n").statements == ()


@pytest.mark.parametrize("text, value", [
    ("'single'", "single"),
    ('"double"', "double"),
    ("'it\"s'", 'it"s'),
    ('"tab\\tnew\\nline"', "tab\tnew\nline"),
    ('"quote \\" inside"', 'quote " inside'),
    ('"unknown \\d stays"', "unknown \\d stays"),
    ('"\\u00e9\\x41"', "éA"),
    ('r"raw\\n\\d"', "raw\\n\\d"),
    ("R'C:\\path'", "C:\\path"),
    ('""', ""),
    ('"a#b"', "a#b"),  # not a comment
    ('"x" + "y"', None),  # not a constant: a Binary (checked below)
])
def test_strings(text, value):
    if value is None:
        assert isinstance(expr(text), s.Binary)
    else:
        assert const(text) == value


def test_triple_quoted_strings_are_dedented():
    text = 'X = """\n    first\n      indented\n    last\n    """\n'
    (stmt,) = parse(text).statements
    assert stmt.value.value == "first\n  indented\nlast"
    assert const("'''one line'''") == "one line"
    assert const('"""has "quotes" inside"""') == 'has "quotes" inside'
    assert const('r"""raw \\n"""') == "raw \\n"


def test_triple_quoted_strings_are_dedented_before_escapes_are_decoded():
    # An escaped tab stays a tab (not expanded to spaces as inspect.cleandoc would), and a
    # backslash at the end of a line joins it with the next, dedented, line.
    (stmt,) = parse('X = """\n    a\\tb \\\n    c\n    """\n').statements
    assert stmt.value.value == "a\tb c"
    (stmt,) = parse('X = """\n    \\n    x\n    """\n').statements
    assert stmt.value.value == "\n    x"


def test_adjacent_strings_on_separate_lines_are_joined():
    assert const('("abc"\n     "def"\n     \'ghi\')') == "abcdefghi"
    assert const('[\n  "a"\n  "b",\n  "c"\n]'.replace("[", "(").replace("]", ")").replace(",", "")) == "abc"


def test_adjacent_strings_on_one_line_are_a_missing_comma():
    with pytest.raises(FlowfileError, match="a ',' is missing between them") as info:
        parse('rule a:\n    input: "a.txt" "b.txt"\n')
    assert (info.value.pos.line, info.value.pos.column) == (2, 20)


@pytest.mark.parametrize("text, value", [
    ("0", 0), ("42", 42), ("1_000", 1000), ("3.5", 3.5), (".5", 0.5), ("2.", 2.0),
    ("1e3", 1000.0), ("1.5E-2", 0.015),
])
def test_numbers(text, value):
    got = const(text)
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize("text, value", [
    ("true", True), ("false", False), ("none", None),
    ("True", True), ("False", False), ("None", None),
])
def test_true_false_none_in_both_spellings(text, value):
    assert const(text) is value


def test_lists_and_dicts():
    node = expr('[1, "a", [2],]')
    assert isinstance(node, s.ListExpr) and len(node.items) == 3
    assert expr("[]").items == ()
    d = expr('{"a": 1, "b": [2], }')
    assert isinstance(d, s.DictExpr)
    assert [k.value for k, _ in d.pairs] == ["a", "b"]
    assert expr("{}").pairs == ()


def test_names_attributes_indexing_calls():
    assert expr("samples") == s.Name(expr("samples").pos, "samples")
    attr = expr("config.samples.a")
    assert isinstance(attr, s.Attribute) and attr.attr == "a"
    assert isinstance(attr.obj, s.Attribute) and attr.obj.attr == "samples"
    idx = expr('config["x"][0]')
    assert isinstance(idx, s.Index) and idx.key.value == 0 and isinstance(idx.obj, s.Index)
    call = expr('expand("{a}", a=[1, 2], zip=true)')
    assert isinstance(call, s.Call) and call.func.id == "expand"
    assert [a.value for a in call.args] == ["{a}"]
    assert [k.name for k in call.kwargs] == ["a", "zip"]
    method = expr('name.replace("a", "b")')
    assert isinstance(method, s.Call) and isinstance(method.func, s.Attribute)
    assert expr("f()").args == () and expr("f()").kwargs == ()


def test_positional_argument_after_keyword_is_an_error():
    with pytest.raises(FlowfileError, match="positional argument after a keyword argument"):
        expr('f(a=1, "b")')


def test_arithmetic_precedence_and_left_associativity():
    node = expr("1 + 2 * 3 - 4")
    assert isinstance(node, s.Binary) and node.op == "-"
    assert node.left.op == "+" and node.left.right.op == "*"
    for op in ("+", "-", "*", "/", "//", "%"):
        assert expr(f"a {op} b").op == op
    paren = expr("(1 + 2) * 3")
    assert paren.op == "*" and paren.left.op == "+"
    neg = expr("-x")
    assert isinstance(neg, s.Unary) and neg.op == "-"


def test_comparisons_and_boolean_operators():
    cmp = expr("a == b != c < d <= e > f >= g")
    assert isinstance(cmp, s.Compare)
    assert cmp.ops == ("==", "!=", "<", "<=", ">", ">=")
    assert expr("a in b").ops == ("in",)
    assert expr("a not in b").ops == ("not in",)
    both = expr("a and b or not c")
    assert isinstance(both, s.BoolOp) and both.op == "or"
    assert both.values[0].op == "and" and isinstance(both.values[1], s.Not)


def test_conditional_expression():
    node = expr('"x" if a == 1 else "y" if b else "z"')
    assert isinstance(node, s.Conditional)
    assert node.then.value == "x" and isinstance(node.cond, s.Compare)
    assert isinstance(node.otherwise, s.Conditional)


def test_line_continuation_and_brackets_span_lines():
    assert isinstance(expr("1 + \\\n    2"), s.Binary)
    assert len(expr("[\n  1,\n    2,\n]").items) == 2


# ---------------------------------------------------------------- statements

FLOW = '''\
configfile: "config.yaml"
N = 3

rule align:
    input: reads="a.fq", ref="ref.fa"
    output:
        "out.bam",
        "out.bai"
    params:
        depth = 3
        mode = "fast"
    shell: "align {input} > {output}"
'''


def test_statements_rules_and_directives_with_positions():
    module = parse(FLOW)
    configfile, assignment, rule = module.statements
    assert isinstance(configfile, s.Directive) and configfile.name == "configfile"
    assert (configfile.pos.line, configfile.pos.column) == (1, 1)
    assert isinstance(assignment, s.Assignment) and assignment.name == "N"
    assert isinstance(rule, s.RuleDecl) and rule.name == "align"
    assert (rule.pos.line, rule.pos.column) == (4, 6)
    assert rule.end_line >= 11
    names = [d.name for d in rule.directives]
    assert names == ["input", "output", "params", "shell"]
    inp, out, params, shell = rule.directives
    assert [k.name for k in inp.args] == ["reads", "ref"]
    assert (inp.pos.line, inp.pos.column) == (5, 5)
    assert [a.value for a in out.args] == ["out.bam", "out.bai"]
    assert [k.name for k in params.args] == ["depth", "mode"]  # one per line, no comma needed
    assert shell.args[0].value == "align {input} > {output}"
    value = inp.args[0].value
    assert (value.pos.line, value.pos.column, value.pos.end_column) == (5, 18, 24)


def test_nodes_are_frozen_with_slots():
    module = parse(FLOW)
    rule = module.statements[2]
    with pytest.raises(dataclasses.FrozenInstanceError):
        rule.name = "other"
    assert not hasattr(rule, "__dict__")
    assert module.path == "Flowfile" and module.source == FLOW


def test_directive_values_continue_on_indented_lines():
    module = parse('rule a:\n    input: "x",\n        "y", "z"\n        "w"\n    output: "o"\n')
    inp, out = module.statements[0].directives
    assert [a.value for a in inp.args] == ["x", "y", "z", "w"]
    assert [a.value for a in out.args] == ["o"]


def test_crlf_line_endings_and_missing_final_newline():
    module = parse(FLOW.replace("\n", "\r\n").rstrip())
    assert [d.name for d in module.statements[2].directives] == ["input", "output", "params", "shell"]


def test_tabs_alone_are_accepted_as_indentation():
    module = parse('rule a:\n\toutput: "x"\n\tshell: "touch {output}"\n')
    assert [d.name for d in module.statements[0].directives] == ["output", "shell"]


def test_keyword_like_rule_names_and_directive_names():
    module = parse('rule all:\n    input: "x"\nrule default_rule:\n    output: "y"\n')
    assert [r.name for r in module.statements] == ["all", "default_rule"]


def test_parse_is_reentrant_and_the_parser_is_built_once():
    first = lark_parser()
    parse(FLOW)
    with pytest.raises(FlowfileError):
        parse("rule a\n")
    assert lark_parser() is first
    assert parse(FLOW) == parse(FLOW)


@pytest.mark.parametrize("text, line, column, message", [
    ("rule a\n    output: 'x'\n", 1, 7, "expected ':' after the rule name 'a'"),
    ("rule a:\n    output 'x'\n", 2, 12, "expected ':' after directive name 'output'"),
    ("rule a:\noutput: 'x'\n", 2, 1, "expected an indented block of directives after 'rule a:'"),
    ("rule a:\n    output: 'x'\n  shell: 'y'\n", 3, 3, "unindent does not match"),
    ("rule a:\n    output: 'x'\n\tshell: 'y'\n", 3, 1, "inconsistent use of tabs and spaces"),
    ("X = 'abc\n", 1, 5, "unterminated string"),
    ('X = """abc\n\nY = 1\n', 1, 5, "unterminated triple-quoted string"),
    ("X = [1, 2\n\nY = 3\n", 1, 5, "'[' opened here is never closed"),
    ("X = (1 + 2", 1, 5, "'(' is never closed"),
    ("X = [1 2]\n", 1, 8, "a ',' or an operator is missing before it"),
    ("X = 1 if 2 = 3 else 4\n", 1, 12, "use '==' to compare"),
    ("X = [1]]\n", 1, 8, "unmatched ']'"),
    ("X = 1 ; Y = 2\n", 1, 7, "unexpected character ';'"),
    ("rule:\n    output: 'x'\n", 1, 5, "expected a rule name after 'rule'"),
    ("rule a:\n    output:\n    shell: 'x'\n", 2, 12, "expected a value after 'output:'"),
    ("X = 1 +\n", 1, 8, "expected a value after '+', but the line ends"),
    ('X = "\\x4"\n', 1, 5, "bad escape sequence '\\x4' in string"),
    ("X = \\ 1\n", 1, 5, "line continuation"),
    ("rule a:\n    rule b:\n        output: 'x'\n", 2, 5, "a rule cannot be defined inside another rule"),
    ("rule a:\n  output: 'x'\n    shell: 'y'\n", 3, 5, "'shell:' is indented more than the line above it"),
    ("X = 1\n    Y = 2\n", 2, 5, "unexpected indentation"),
    ("rule a:", 1, 8, "expected an indented block of directives after 'rule a:'"),
    ("rule a:\n    output:", 2, 12, "expected a value after 'output:'"),
    ("X = f'{a'\n", 1, 7, "'{' in an f-string is never closed (write '{{' for a literal brace)"),
    ("X = f'a}'\n", 1, 8, "single '}' in an f-string (write '}}' for a literal brace)"),
    ("X = f'{}'\n", 1, 7, "empty expression in an f-string's braces"),
    ("X = f'{a!r}'\n", 1, 9, "conversions such as '!r' are not supported in f-strings"),
    ("X = f'{a:{b}}'\n", 1, 10, "a format spec cannot hold '{' in an f-string"),
    ("X = f'{a +}'\n", 1, 11, "in an f-string's braces: the expression 'a +' is incomplete"),
    ("X = f'{a b}'\n", 1, 10, "in an f-string's braces: 'a b' is not an expression"),
    ("X = f'{a #}'\n", 1, 10, "'#' cannot appear inside an f-string field"),
    ("X = [a for a in b if c else d]\n", 1, 24, "unexpected"),
    ("X = x[1:2:3:4]\n", 1, 12, "unexpected"),
])
def test_syntax_errors_have_positions_and_words(text, line, column, message):
    with pytest.raises(FlowfileError) as info:
        parse(text)
    err = info.value
    assert message in err.message
    assert (err.pos.path, err.pos.line, err.pos.column) == ("Flowfile", line, column)
    rendered = err.render()
    assert rendered.startswith(f"Flowfile:{line}:{column}: error: ")
    assert "^" in rendered
    for token_name in ("RPAR", "LSQB", "_NL", "_INDENT", "$END", "COLON"):
        assert token_name not in rendered  # words, not Lark's token names


@pytest.mark.parametrize("text, line, column, message, hint", [
    ("rule a:\n    input: lambda wildcards: 'x'\n", 2, 12, "'lambda' is not Flowfile syntax",
     "write the expression itself, e.g. input: f\"data/{wildcards.sample}.txt\""),
    ("X = lambda: 1\n", 1, 5, "'lambda' is not Flowfile syntax", "evaluated for each job"),
    ("def helper(w):\n    return 1\n", 1, 1, "functions are not defined in a Flowfile ('def')",
     'from "helpers.py" import NAME'),
    ("import os\n", 1, 1, "Python's 'import' statement is not Flowfile syntax",
     'from "helpers.py" import NAME'),
    ("from os import path\n", 1, 1, "Python's 'from' statement is not Flowfile syntax",
     'from "helpers.py" import NAME'),
    ("S, = glob_wildcards('data/{sample}.txt')\n", 1, 2,
     "unpacking several names ('A, B = ...') is not Flowfile syntax",
     "assign one name: S = glob_wildcards(...).sample"),
    ("X = any(x > 0 for x in V)\n", 1, 15, "generator expressions are not Flowfile syntax",
     "write a list comprehension, in brackets: any([x > 0 for x in VALUES])"),
    ("X = sorted({x for x in V})\n", 1, 15, "set comprehensions are not Flowfile syntax",
     "set([x for x in VALUES])"),
    ('X = f"""a{b}"""\n', 1, 5, "f-strings are written on one line", "join one-line f-strings"),
    ("A, B = glob_wildcards('{a}/{b}.txt')\n", 1, 2,
     "unpacking several names ('A, B = ...') is not Flowfile syntax",
     "assign one name: W = glob_wildcards(...), then W.NAME for each wildcard's values"),
])
def test_python_constructs_say_what_to_write_instead(text, line, column, message, hint):
    with pytest.raises(FlowfileError) as info:
        parse(text)
    err = info.value
    assert err.message == message
    assert hint in err.hint
    assert (err.pos.line, err.pos.column) == (line, column)
# ---------------------------------------------------------------- imports of Python functions

def test_from_file_import_names_with_positions():
    (stmt,) = parse('from "workflow/common.py" import get_fastq, groups,\n').statements
    assert isinstance(stmt, s.ImportFrom)
    assert (stmt.pos.line, stmt.pos.column, stmt.pos.end_column) == (1, 1, 5)
    assert stmt.path.value == "workflow/common.py"
    assert (stmt.path.pos.column, stmt.path.pos.end_column) == (6, 26)
    assert [(n.id, n.pos.column, n.pos.end_column) for n in stmt.names] == [
        ("get_fastq", 34, 43), ("groups", 45, 51)]


def test_from_is_a_keyword_only_where_a_statement_starts():
    assert isinstance(expr("from"), s.Name)
    (rule,) = parse("rule a:\n    from: 'x'\n").statements
    assert rule.directives[0].name == "from"


@pytest.mark.parametrize(("text", "column"), [
    ("from: 'x'\n", 5), ("from 'a.py'\n", 12), ("from 'a.py' import\n", 19),
    ("from '''a.py''' import x\n", 6),
])
def test_an_incomplete_import_says_how_it_is_written(text, column):
    with pytest.raises(FlowfileError) as info:
        parse(text)
    assert info.value.message == "expected 'from \"FILE.py\" import NAME, ...'"
    assert info.value.pos.column == column
    assert 'from "workflow/common.py" import get_fastq, sample_groups' in info.value.hint
