"""The fast parser (tokenizer.py, fast_parser.py) against the Lark parser, the specification.

Property: whenever the fast parser returns a tree, the Lark parser returns an equal one (same
node classes, same values, same positions), and whenever the Lark parser refuses a text, the
fast parser refuses it too (it raises Fallback, and parse_flowfile then gives Lark's error).
Checked on every Flowfile of examples/ and tests/flowfiles/, on the benchmark's generated
Flowfile, on hand-picked corners, on generated Flowfiles, and on the mutation fuzz corpus of
test_fuzz_flowfile.py. For valid text written the usual way, the fast parser must not fall back.
"""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_fuzz_flowfile import mutated_flowfile

from fileflow.errors import FlowfileError
from fileflow.lang import syntax as s
from fileflow.lang.fast_parser import Fallback, parse_fast

ROOT = Path(__file__).resolve().parent.parent
FLOWFILES = sorted(
    p for base in (ROOT / "examples", ROOT / "tests" / "flowfiles") for p in base.rglob("*")
    if p.is_file() and (p.name == "Flowfile" or p.suffix == ".flow"))
EXAMPLES = int(os.environ.get("FILEFLOW_FUZZ_EXAMPLES", "200"))


def both(text: str, path: str = "Flowfile"):
    """(fast tree or None if it fell back, Lark tree or the FlowfileError it raised)."""
    source = text if text.endswith("\n") else text + "\n"
    try:
        fast = parse_fast(text, source, path)
    except Fallback:
        fast = None
    try:
        lark = s.parse_with_lark(text, path)
    except FlowfileError as err:
        lark = err
    return fast, lark


def assert_equivalent(text: str, path: str = "Flowfile", must_be_fast: bool = False) -> None:
    fast, lark = both(text, path)
    if isinstance(lark, FlowfileError):
        assert fast is None, f"the fast parser accepted what Lark refuses ({lark.message}):\n{text}"
        return
    if fast is None:
        assert not must_be_fast, f"the fast parser fell back on valid text:\n{text}"
        return
    for mine, spec in zip(fast.statements, lark.statements):
        assert mine == spec, f"trees differ:\nfast: {mine}\nlark: {spec}\nin:\n{text}"
    assert fast == lark


def test_there_are_flowfiles_to_compare():
    assert len(FLOWFILES) >= 40


@pytest.mark.parametrize("path", FLOWFILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_repository_flowfiles(path):
    text = path.read_text(encoding="utf-8-sig")
    # Files under errors/ with a syntax error fall back; every other file is parsed fast.
    assert_equivalent(text, str(path), must_be_fast="errors" not in path.parts)


def test_the_benchmark_flowfile(tmp_path):
    spec = importlib.util.spec_from_file_location("bench_parse", ROOT / "benchmarks" / "bench_parse.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    path = bench.generate(str(tmp_path), 120)
    assert_equivalent(Path(path).read_text(encoding="utf-8"), path, must_be_fast=True)


def test_the_sample_sheet_benchmark_flowfile(tmp_path):
    """f-strings, comprehensions and helper calls in every rule, as bench_samplesheet.py
    writes them."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        spec = importlib.util.spec_from_file_location(
            "bench_samplesheet", ROOT / "benchmarks" / "bench_samplesheet.py")
        bench = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(bench)
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    path = bench.generate_new(str(tmp_path), 120)
    assert_equivalent(Path(path).read_text(encoding="utf-8"), path, must_be_fast=True)


CORNERS = [
    # checkpoints: a rule written `checkpoint NAME:`, read through `checkpoints.NAME.get(...)`
    "checkpoint split:\n    output: directory('c/{s}')\n    shell: 'x'\n",
    "rule g:\n    input: checkpoints.split.get(s=wildcards.s).output[0]\n",
    "checkpoint = 1\n", "X = checkpoint\n", "checkpoint: x\n", "checkpoint a\n    output: 'x'\n",
    "rule checkpoint:\n    output: 'x'\n",
    # software directives: one string, several strings, a list
    "rule a:\n    conda: 'envs/a.yaml'\n    envmodules: 'bwa/0.7.17', \"samtools/1.19\"\n",
    "rule a:\n    envmodules: ['a/1', 'b']\n    conda: \"name\"\n",
    # rule references: attributes and an index after a name
    "rule a:\n    input: rules.b.output.bam, rules.b.output[0], rules.rule.log\n",
    # keywords are names where Lark's contextual lexer does not expect the keyword
    "X = in\n", "X = if\n", "X = rule\n", "X = a.if + b.true\n", "rule if:\n    output: 'x'\n",
    "X = f(if=1, rule=2)\n", "X = in in in\n", "X = a if else else b\n", "true = 1\n",
    "X = 1 + not\n", "X = not\n", "a = [] + not (a)\n", "X = a == not\n", "X = - not\n",
    "X = a not in b\n", "X = not not a\n", "X = -not\n", "input: not\n", "X = f(k = not)\n",
    # `name: value` and `name = value` read as one token, in every place they occur
    "X = 1\nrule a:\n    input: x, 'y', z = 2,\n    output: 'o'\n    params: k = 1, j = true\n",
    "true = 1\nrule = 2\n", "rule: x\n", "rule a:\n    true: x\n    k = 1\n",
    "rule a:\n    input: 'a',\n        k = 'v',\n        j: 'w'\n", "X = {a: b, c: 'd'}\n",
    "X = f(a = 1,\n      b = 'x')\n", "X = a = 1\n", "X = 1.5\nY: 1e3\n", "input: r'x'\n",
    "X = 'a'  # c\nY: b, # c\n", "X = 1 \\\n  + 2\ninput: 'a' \\\n  'b'\n", "k = 'a\\q'\n",
    "rule a:\n    rule: 'x'\n", "X = True or False and None\n",
    # parentheses: a child's extent includes them, its own position does not
    "X = (a) + b == c\n", "X = -(x)\n", "X = ((x))\n", "X = (a)(b)\n", "X = (a).b[c](d)\n",
    "X = (a + b) * c\n", "X = a + (b)\n", "X = (a) * b + (c)\n", "X = not (a)\n",
    "X = (a) if (b) else (c)\n", "X = (a) or (b) and (c)\n", "X = [(1)]\n", "X = f((a), k=(b))\n",
    # operators and precedence
    "X = a if b else c if d else e\n", "X = 1 < 2 <= 3 != 4 == 5 > 6 >= 7\n",
    "X = a or b or c and d and e\n", "X = -a ** b\n", "X = - - 1\n", "X = +1 - -2\n",
    "X = a // b / c % d * e\n", "X = a.b.c[d][e](f)(g=h)\n", "X = f()\n", "X = f(a,)\n",
    "X = f(a, k=1, j=2,)\n", "X = f(k=1, a)\n", "X = [1, 2,]\n", "X = []\n", "X = {}\n",
    "X = {'a': 1, 'b': [2, 3],}\n", "X = {a: b for a in c}\n",
    # literals
    "X = .5 + 1. + 1e5 + 1_000 + 2.5E-3\n", "X = 1.e5\n", "X = " + "9" * 5000 + "\n",
    "X = 'a' \"b\"\n", "X = ('a'\n     'b')\n", "X = \"a\" \\\n    \"b\"\n",
    "X = r'a\\d' + R\"\\n\" + 'tab\\there' + '\\x41\\u00e9\\N{BULLET}'\n", "X = '\\q'\n",
    'X = """\n    one\n      two\n    """\n', "X = '''a\\\n   b'''\n", 'X = """a"""\n',
    "X = ''\n", 'X = ""\n', "X = \"\"\"\"\"\"\n", "X = 'é'\n", "é = 1\n", "X = br'x'\n",
    # layout
    "# only a comment", "\n\n# c\n\n", "", "X = 1", "X = 1 # c\nY = 2  \n",
    "   X = 1\n", "X = 1\n    Y = 2\n", "X = [1,\n# c\n  2]\n", "X = 1 \\\n + 2\n",
    "rule a:\n\toutput: 'x'\n\tshell: 'y'\n", "rule a:\n    output: 'x'\n\tshell: 'y'\n",
    "rule a:\r\n    output: 'x'\r\n    shell: 'y'\r\n", "X = 1\f\n", "X = 1\rY = 2\n",
    "rule a:\n    input:\n        'a',\n        b='c'\n    output: 'x',\n        'y'\n"
    "rule b:\n    output: 'z'\n",
    "rule a:\n    output: 'x'\n\n# trailing\n\n\nrule b:\n    output: 'y'\n# end",
    "rule a:\n    input:\n        'a'\n\n    output: 'x'\n", "localrules: a,\n    b\n",
    "ruleorder:\n    a > b\n", "rule a:\n  output: 'x'\n    shell: 'y'\n", "rule a:\n",
    "rule a:\n    output:\n", "rule a\n    output: 'x'\n", "X = [1, 2\n", "X = (1))\n",
    # errors the tokenizer meets, after statements indented with spaces or tabs
    "X = 'open\nrule b:\n\toutput: 'x'\n", "rule b:\n\toutput: 'x\n", "Y = 1 ; 2\n",
    "rule b:\n    output: 'x'\n  shell: 'y'\n", "rule b:\n    output: [1,\n\t2]\n    shell: `\n",
    "rule b:\n  \toutput: 'x'\n", 'X = """never closed\n\nY = 2\n', "X = (\n\t1 +\n",
    # comprehensions, tuples, slices
    "X = [s for s in S if s != 'c']\n", "X = {r.a: r.b for r in U}\n", "X = [(a) for (a) in b]\n",
    "X = [k + v for k, v in d.items() for q in range(3) if q if k]\n", "X = [a for a in b if c else d]\n",
    "X = [a if b else c for a in (d) if (e)]\n", "X = [for for for in in]\n", "X = [a for a in]\n",
    "X = [a for a, in b]\n", "X = [a for in b]\n", "X = {a: b for a in c if d, e: f}\n",
    "X = [a, b for a in c]\n", "X = ()\n", "X = (a,)\n", "X = (a, b)\n", "X = (a, b,)\n",
    "X = (a,,)\n", "X = ((a), (b))\n", "X = x[1:]\n", "X = x[:-1]\n", "X = x[::2]\n",
    "X = x[:]\n", "X = x[::]\n", "X = x[(a):(b):(c)]\n", "X = x[1:2:]\n", "X = x[a:b:c:d]\n",
    "X = x[,]\n", "X = [x for x in a][1:]\n",
    # f-strings
    "X = f'a{b}c'\n", 'X = f"results/{config.ref}/{{sample}}.bam"\n', "X = f'{x:03d}'\n",
    "X = rf'a\\d{b}' + Fr'{c}' + F'{d}'\n", "X = f'{a if b else c} {d[\"k\"]} {e[1:]}'\n",
    "X = f'{}'\n", "X = f'{'\n", "X = f'}'\n", "X = f'{a!r}'\n", "X = f'{a #}'\n",
    "X = f'{a b}'\n", "X = f'{ (a) }'\n", "X = f'{[x for x in y]}{ {a: b} }'\n",
    "X = f'{a:{b}}'\n", "X = f'\\q{a}'\n", "X = f'a' 'b'\n", "X = f'a'\n'b'\n", "input: f'{a}'\n",
    "X = f + fx + rf + fr_ + f'{f}'\n", 'X = f"""{a}"""\n', "X = f'{a = 1}'\n",
    "X = f'{x}' f'{y}'\n",
    "X = f'}{{}'\n", "X = f'{{}}}'\n", "X = f'a{{b}}c' + f'{true}' + f'{not}' + f'{x_1}'\n",
    "X = f'{ x}{x }{x.y}'\n", "X = rf'{{\\d}}'\n", "X = f'{{{x}}}'\n",
    # an f-string as the one value of `name: value` or `name = value`, read as one token
    "X = rf'{a}\\d'\n", "X = Fr'{a}'  # c\n", "X = f'{a'\n", "X = f'a' f'b'\n", "X = f'{a}' + b\n",
    "rule a:\n    output: f'o/{X}', fR'b'\n    input:\n        a = f'{x}',\n        b = F'{y}'\n",
    "rule a:\n    params: k = f'{t(1, S)}', m = f'{x:>3}'\n    shell: f'{c}'\n",
    "X = d(k = f'{a}', m = [f'{b}'])\n", "X: f'{a}'\n", "X = f'{a}',\n", "X = f'}'\n",
    # a lone call, attribute, index, list or dict, and what continues after one
    "X = [a] + [b]\n", "X = {a: 1}[k] + 1\n", "X = f(x) + g(y)\n", "X = a.b if c else d\n",
    "X = [f(s) for s in g(t) if h(s)]\n", "X = [s.x for s in a.b if c[d] or e]\n",
    "X = [s for s in S if not s.endswith('1')]\n", "X = [{a: b}[c] for c in d]\n",
    "X = [[a] for a in b if [a]]\n", "X = [not (a) for a in b]\n", "X = [a for a in b.c() if d]\n",
    "rule a:\n    params: b = [s for s in S if s.endswith('1')], c = f'{X} {t(1, S)}'\n",
    # `from "file.py" import names`: 'from' is a keyword only where a statement starts
    'from "w/common.py" import get_fastq, groups\n', "from 'a.py' import x,\n",
    "from r'a\\b.py' import rule, true, from, import\n", "from 'a.py' import x  # c\nY = 1\n",
    "X = from\n", "X = f(from=1)\n", "rule a:\n    from: 'x'\n", "from = 1\n", "from: 'x'\n",
    "from x import y\n", "from 'a.py'\n", "from 'a.py' import\n", "from 'a.py' import x y\n",
    "from '''a.py''' import x\n", "from 'a' 'b' import x\n", "from 'a.py' import (x)\n",
    "from 'a.py' import x.y\n", "from 'a.py' import x: 1\n", "import x\n",
    "rule from:\n    output: 'x'\n", "from 'a\\q.py' import x\n", "  from 'a.py' import x\n",
    "from 'a.py' import x = 1\n", "X = 1\nfrom 'a.py' import x\nrule a:\n    output: 'x'\n",
    # `use rule` and `module`: use, as, with and module are names where no statement starts
    "use rule a as b\n", "use rule a as b with:\n    output: 'y'\n    params: k = 1\n",
    "use rule a as b with:\n    output: 'y'\n\n# c\nrule c:\n    output: 'z'\n",
    "use rule * from qc\n", "use rule * from qc as qc_*\n", "use rule a, b from qc\n",
    "use rule a from qc as b with:\n    shell: 'x'\n", "use rule a, b, from qc\n",
    "use rule a as\n", "use rule a with\n", "use rule a as b with\n", "use rule / from qc\n",
    "use rule a as b /\n", "use rule a as b c:\n    shell: 'x'\n", "use rule a as rule\n",
    "usage rule a as b\n", "use = 1\nas = use\nwith = as\nmodule = with\n", "use: 'x'\n",
    "module qc:\n    flowfile: 'modules/qc/Flowfile'\n    prefix: 'r/qc'\n",
    "module qc:\n    config: config.qc\n    replace_prefix: {'data/': 'raw/'}\n",
    "modul qc:\n    flowfile: 'x'\n", "module qc\n", "module qc:\n", "module: 'x'\n",
    "use rule a as b  # c\nmodule m:  # c\n    flowfile: 'f'  # c\n",
    "use rule a \\\n    as b\n", "module = 1\nmodule: 'x'\n", "module qc: 'x'\n",
    "module \\\n  qc:\n    flowfile: 'f'\n", "module\tqc :\n    flowfile: 'f'\n",
    "rule a:\n    module qc:\n        flowfile: 'f'\n", "def f(x):\n    return 1\n",
    "if x:\n    y = 1\n",
]


@pytest.mark.parametrize("text", CORNERS)
def test_corners(text):
    assert_equivalent(text)


def test_an_f_string_as_a_directive_s_or_an_assignment_s_value_takes_the_fast_path():
    for text in ("X = f'{a}'\n", "rule a:\n    output: f'o/{X}'\n    input:\n        a = f'{x}',\n"
                 "        b = rf'{y}'\n    params: k = f'{t(1, S)}'\n"):
        assert_equivalent(text, must_be_fast=True)


def test_the_fast_path_is_taken_and_errors_come_from_lark():
    tree = s.parse_flowfile("rule a:\n    output: 'x'\n")
    assert tree == s.parse_with_lark("rule a:\n    output: 'x'\n")
    with pytest.raises(FlowfileError) as info:
        s.parse_flowfile("rule a\n    output: 'x'\n")
    assert info.value.message == "expected ':' after the rule name 'a'"


# ---------------------------------------------------------------- generated Flowfiles

NAMES = st.sampled_from(["a", "b_1", "config", "wildcards", "sample", "x", "in", "if", "rule"])
STRINGS = st.sampled_from(['"s"', "'t'", '"{x}.txt"', 'r"a\\d"', '"a\\tb"', "''", '"""doc"""'])
NUMBERS = st.sampled_from(["0", "1", "42", "2.5", ".5", "1e3", "1_000"])
CONSTANTS = st.sampled_from(["true", "false", "none", "True", "False", "None"])
BINARY = st.sampled_from(["+", "-", "*", "/", "//", "%", "==", "!=", "<", "<=", ">", ">=",
                          "in", "not in", "and", "or"])


def _expressions():
    atoms = st.one_of(NAMES, STRINGS, NUMBERS, CONSTANTS)

    def grow(inner):
        wrapped = inner.map(lambda e: f"({e})")  # operands of prefix and postfix forms
        return st.one_of(
            st.tuples(inner, BINARY, inner).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
            inner.map(lambda e: f"({e})"),
            st.tuples(st.sampled_from(["-", "+"]), st.one_of(atoms, wrapped)).map("".join),
            inner.map(lambda e: f"not {e}"),
            st.tuples(inner, inner, inner).map(lambda t: f"{t[0]} if {t[1]} else {t[2]}"),
            st.tuples(st.one_of(NAMES, wrapped), NAMES).map(lambda t: f"{t[0]}.{t[1]}"),
            st.tuples(st.one_of(NAMES, wrapped), inner).map(lambda t: f"{t[0]}[{t[1]}]"),
            st.tuples(st.one_of(NAMES, wrapped), st.lists(inner, max_size=3),
                      st.lists(st.tuples(NAMES, inner), max_size=2), st.booleans()).map(
                lambda t: f"{t[0]}(" + ", ".join(t[1] + [f"{k}={v}" for k, v in t[2]])
                + ("," if t[3] and (t[1] or t[2]) else "") + ")"),
            st.lists(inner, max_size=3).map(lambda items: "[" + ", ".join(items) + "]"),
            st.lists(st.tuples(inner, inner), max_size=2).map(
                lambda pairs: "{" + ", ".join(f"{k}: {v}" for k, v in pairs) + "}"),
            st.tuples(inner, NAMES, inner, st.lists(inner, max_size=2)).map(
                lambda t: f"[{t[0]} for {t[1]} in {t[2]}" + "".join(f" if {c}" for c in t[3]) + "]"),
            st.tuples(inner, inner, NAMES, NAMES, inner).map(
                lambda t: f"{{{t[0]}: {t[1]} for {t[2]}, {t[3]} in {t[4]}}}"),
            st.lists(inner, max_size=3).map(lambda items: "(" + ", ".join(items) + ",)"),
            st.tuples(st.one_of(NAMES, wrapped), st.lists(st.one_of(inner, st.just("")),
                                                          min_size=2, max_size=3)).map(
                lambda t: f"{t[0]}[{':'.join(t[1])}]"),
            st.tuples(NAMES, st.lists(inner, max_size=2)).map(
                lambda t: "f'" + t[0] + "".join("{" + e.replace("'", '"') + "}" for e in t[1]) + "'"),
        )

    return st.recursive(atoms, grow, max_leaves=10)


EXPRESSIONS = _expressions()


@st.composite
def flowfiles(draw) -> str:
    indent = draw(st.sampled_from(["    ", "  ", "\t"]))
    newline = draw(st.sampled_from(["\n", "\n", "\r\n"]))
    lines = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["assign", "rule", "directive", "blank"]))
        if kind == "assign":
            lines.append(f"{draw(NAMES.filter(lambda n: n != 'rule'))} = {draw(EXPRESSIONS)}")
        elif kind == "blank":
            lines.append(draw(st.sampled_from(["", "# a comment", "   "])))
        elif kind == "directive":
            lines.append(f"localrules: {draw(EXPRESSIONS)}, {draw(EXPRESSIONS)}")
        else:
            lines.append(f"rule {draw(NAMES)}:")
            for _ in range(draw(st.integers(1, 3))):
                name = draw(st.sampled_from(["input", "output", "params", "shell"]))
                args = draw(st.lists(st.one_of(
                    EXPRESSIONS, st.tuples(NAMES, EXPRESSIONS).map(lambda t: f"{t[0]}={t[1]}")),
                    min_size=1, max_size=3))
                layout = draw(st.sampled_from(["inline", "block", "continued"]))
                if layout == "inline":
                    lines.append(f"{indent}{name}: {', '.join(args)}")
                elif layout == "block":
                    lines.append(f"{indent}{name}:")
                    lines.extend(f"{indent * 2}{a}," for a in args)
                else:
                    lines.append(f"{indent}{name}: {args[0]},")
                    lines.extend(f"{indent * 2}{a}" for a in args[1:] or ["'more'"])
                if draw(st.booleans()):
                    lines.append(draw(st.sampled_from(["", f"{indent}# comment", "# comment"])))
    return newline.join(lines) + draw(st.sampled_from(["", newline, newline * 2]))


@pytest.mark.e2e  # a long generated run: each example parsed by Lark too
@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(EXPRESSIONS)
def test_generated_expressions(expr):
    assert_equivalent(f"X = {expr}\n", must_be_fast=True)


@pytest.mark.e2e  # a long generated run: each example parsed by Lark too
@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(flowfiles())
def test_generated_flowfiles(text):
    assert_equivalent(text, must_be_fast=True)


@pytest.mark.e2e  # a long generated run: each example parsed by Lark too
@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(mutated_flowfile())
def test_mutation_corpus(case):
    path, text = case
    assert_equivalent(text, str(path))


# ---------------------------------------------------------------- parse_flowfile as a whole
# When the fast parser stops inside a statement, Lark parses from that statement on (the
# lines before it blanked): the result, or the error with its words, position, hint and
# rendering, must be what Lark gives for the whole text.

def assert_same_outcome(text: str, path: str = "Flowfile") -> None:
    try:
        expected = s.parse_with_lark(text, path)
    except FlowfileError as err:
        with pytest.raises(FlowfileError) as info:
            s.parse_flowfile(text, path)
        got = info.value
        assert (got.message, got.pos, got.hint, got.render()) == \
            (err.message, err.pos, err.hint, err.render()), text
    else:
        assert s.parse_flowfile(text, path) == expected


VALID_PREFIX = 'X = 1\nrule first:\n    output: "a.txt"\n    shell: "touch {output}"\n\n# c\n'


@pytest.mark.parametrize("path", FLOWFILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_outcome_after_valid_statements(path, tmp_path, monkeypatch):
    monkeypatch.setenv("FILEFLOW_CACHE_DIR", str(tmp_path))
    text = path.read_text(encoding="utf-8-sig")
    assert_same_outcome(text, str(path))
    assert_same_outcome(VALID_PREFIX + text, str(path))


@pytest.mark.parametrize("text", CORNERS)
def test_corner_outcomes_after_valid_statements(text, tmp_path, monkeypatch):
    monkeypatch.setenv("FILEFLOW_CACHE_DIR", str(tmp_path))
    assert_same_outcome(VALID_PREFIX + text)


@pytest.mark.e2e  # a long generated run: each example parsed by Lark too
@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(mutated_flowfile())
def test_mutation_corpus_outcomes(case):
    path, text = case
    assert_same_outcome(text, str(path))
