"""fileflow.lang.evaluate: expressions compiled to closures, builtins, and errors at positions."""
from __future__ import annotations

import pytest

from fileflow.errors import FlowfileError
from fileflow.lang import syntax as s
from fileflow.lang.builtins import EvalContext, make_builtins
from fileflow.lang.evaluate import compile_expr
from fileflow.lang.expr_names import free_names
from fileflow.lang.values import Flagged, Record, a_type, record_from


def ev(text: str, workdir: str = ".", **scope):
    (stmt,) = s.parse_flowfile(f"X = {text}\n", "Flowfile").statements
    fn = compile_expr(stmt.value, make_builtins(EvalContext(workdir)))
    return fn({"config": record_from({}, "config"), **scope})


def ev_error(text: str, **scope) -> FlowfileError:
    with pytest.raises(FlowfileError) as info:
        ev(text, **scope)
    return info.value


# ---------------------------------------------------------------- operators

@pytest.mark.parametrize("text, value", [
    ('"a" + "b"', "ab"),
    ("[1] + [2, 3]", [1, 2, 3]),
    ("1 + 2.5", 3.5),
    ("7 - 10", -3),
    ("3 * 4", 12),
    ('"ab" * 2', "abab"),
    ("7 / 2", 3.5),
    ("7 // 2", 3),
    ("7 % 3", 1),
    ("-7 // 2", -4),
    ("2 * (3 + 4)", 14),
    ("2 * 3 + 4", 10),
    ("--3", 3),
    ("+3", 3),
])
def test_arithmetic(text, value):
    got = ev(text)
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize("text, value", [
    ("1 == 1", True), ("1 != 1", False), ("1 < 2", True), ("2 <= 2", True),
    ("1 > 2", False), ("2 >= 3", False), ("1 < 2 < 3", True), ("1 < 3 < 2", False),
    ('"a" in ["a", "b"]', True), ('"c" not in ["a", "b"]', True), ('"ell" in "hello"', True),
    ('"k" in {"k": 1}', True),
    ("true and false", False), ("true or false", True), ("not true", False),
    ("not 1 == 2", True), ("1 and 2", 2), ("0 or \"x\"", "x"), ("none or 3", 3),
    ('"yes" if 1 < 2 else "no"', "yes"), ('"yes" if 1 > 2 else "no"', "no"),
    ('"a" if false else "b" if false else "c"', "c"),
])
def test_comparisons_boolean_operators_and_conditionals(text, value):
    assert ev(text) == value


def test_and_or_and_conditional_do_not_evaluate_what_they_skip():
    assert ev("false and undefined_name") is False
    assert ev("true or undefined_name") is True
    assert ev('"x" if true else undefined_name') == "x"
    assert ev_error("true and undefined_name").message == "name 'undefined_name' is not defined"


def test_lists_dicts_and_indexing():
    assert ev('[1, "a", [2]]') == [1, "a", [2]]
    d = ev('{"a": 1, "b": [2, 3]}')
    assert isinstance(d, Record) and d == {"a": 1, "b": [2, 3]}
    assert ev('{"a": 1, "b": [2, 3]}.b[1]') == 3
    assert ev('{"a": 1}["a"]') == 1
    assert ev("[10, 20, 30][-1]") == 30
    assert ev('"abc"[1]') == "b"


def test_names_and_config_records():
    config = record_from({"samples": {"a": {"depth": 3}}, "list": [{"x": 1}]}, "config")
    assert ev("config.samples.a.depth", config=config) == 3
    assert ev('config.samples["a"].depth', config=config) == 3
    assert ev("config.list[0].x", config=config) == 1
    assert ev("N * 2", N=21) == 42
    err = ev_error("config.samples.b", config=config)
    assert err.message == "config.samples has no key 'b'"
    assert err.hint == "keys: a"
    err = ev_error("config.smaples", config=config)
    assert err.message == "config has no key 'smaples'" and err.hint == "did you mean 'samples'?"


def test_methods_on_values():
    assert ev('"a_b".replace("_", "-")') == "a-b"
    assert ev('"a b c".split()') == ["a", "b", "c"]
    assert ev('",".join(["x", "y"])') == "x,y"
    assert ev('"{}-{n}".format(1, n=2)') == "1-2"
    assert ev('{"a": 1}.get("b", 5)') == 5
    assert ev('{"a": 1}.keys()') == ["a"]
    assert ev('"x.fq".endswith(".fq")') is True
    err = ev_error('"abc".nope()')
    assert err.message == "a string has no method 'nope'" and "replace" in err.hint


def test_format_cannot_reach_into_python_objects():
    assert "not allowed" in ev_error('"{0.__class__}".format(1)').message
    assert "not allowed" in ev_error('"{0[0]}".format("ab")').message
    assert "too large" in ev_error('"{:99999999}".format(1)').message


# ---------------------------------------------------------------- builtins

def test_expand():
    assert ev('expand("{s}.txt", s=["a", "b"])') == ["a.txt", "b.txt"]
    assert ev('expand("{a}-{b}", a=["x", "y"], b=[1, 2])') == ["x-1", "x-2", "y-1", "y-2"]
    assert ev('expand("{a}-{b}", a=["x", "y"], b=[1, 2], zip=true)') == ["x-1", "y-2"]
    assert ev('expand("{a}/{b}", a="x", allow_missing=true)') == ["x/{b}"]
    assert ev('expand(["{a}.1", "{a}.2"], a=["x"])') == ["x.1", "x.2"]
    assert ev('expand("plain")') == ["plain"]


def test_glob_wildcards_on_real_files(tmp_path):
    for name in ("data/a.fq", "data/b.fq", "data/sub/c.fq", "data/d.txt", "other/e.fq"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    found = ev('glob_wildcards("data/{sample}.fq")', workdir=str(tmp_path))
    assert found["sample"] == ["a", "b", "sub/c"]
    flat = ev('glob_wildcards("data/{sample,[^/]+}.fq").sample', workdir=str(tmp_path))
    assert flat == ["a", "b"]
    two = ev('glob_wildcards("{dir}/{name}.fq")', workdir=str(tmp_path))
    assert sorted(zip(two["dir"], two["name"])) == [("data", "a"), ("data", "b"), ("data/sub", "c"),
                                              ("other", "e")]
    assert ev('glob_wildcards("nothing/{x}.fq").x', workdir=str(tmp_path)) == []


def test_glob_wildcards_with_an_absolute_pattern(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.fq").write_text("")
    pattern = str(tmp_path / "in" / "{s}.fq")
    assert ev(f'glob_wildcards("{pattern}").s', workdir=str(tmp_path / "elsewhere")) == ["a"]


@pytest.mark.parametrize("text, value", [
    ("range(3)", [0, 1, 2]), ("range(1, 7, 2)", [1, 3, 5]),
    ('len([1, 2])', 2), ('len("abc")', 3), ('len({"a": 1})', 1),
    ('int("42")', 42), ("int(3.9)", 3), ('str(5)', "5"), ("str(true)", "true"),
    ('float("2.5")', 2.5), ("min(3, 1, 2)", 1), ("max([3, 1, 2])", 3),
    ('sorted(["b", "a"])', ["a", "b"]), ('sorted([1, 3, 2], reverse=true)', [3, 2, 1]),
    ("abs(-2)", 2), ("sum([1, 2])", 3), ("round(2.6)", 3), ("bool(0)", False),
    ('list("ab")', ["a", "b"]),
])
def test_small_builtins(text, value):
    assert ev(text) == value


def test_env_with_and_without_default(monkeypatch):
    monkeypatch.setenv("FILEFLOW_TEST_VAR", "set")
    monkeypatch.delenv("FILEFLOW_TEST_UNSET", raising=False)
    assert ev('env("FILEFLOW_TEST_VAR", "d")') == "set"
    assert ev('env("FILEFLOW_TEST_UNSET", "d")') == "d"
    assert ev('env("FILEFLOW_TEST_UNSET", none)') is None
    err = ev_error('env("FILEFLOW_TEST_UNSET")')
    assert "FILEFLOW_TEST_UNSET is not set" in err.message


def test_file_flags_wrap_paths():
    assert ev('temp("a")') == Flagged("a", frozenset({"temp"}))
    assert ev('protected(temp("a"))').flags == {"temp", "protected"}
    assert ev('directory(["a", "b"])') == [Flagged("a", frozenset({"directory"})),
                                           Flagged("b", frozenset({"directory"}))]
    assert ev('ancient("a")').flags == {"ancient"}
    assert ev('str(temp("a"))') == "a"


# ---------------------------------------------------------------- errors

@pytest.mark.parametrize("text, message, hint", [
    ('"a" + 1', "cannot add a string and an int with '+'", "convert with str(...) or int(...) first"),
    ("[1] - [1]", "cannot subtract a list and a list with '-'", ""),
    ('"%s" % 1', "cannot take the remainder of a string and an int with '%'", None),
    ("1 / 0", "division by zero", ""),
    ("1 % 0", "division by zero", ""),
    ('-"a"', "cannot apply '-' to a string", ""),
    ('1 < "a"', "cannot compare an int and a string with '<'", ""),
    ('1 in 2', "'in' needs a list, dict or string on its right, got an int", ""),
    ('1 not in 2.5', "'not in' needs a list, dict or string on its right, got a float", ""),
    ('1 in "a1"', "'in' a string needs a string on its left, got an int", ""),
    ("[1][5]", "index 5 is out of range (the list has 1 items)", ""),
    ('[1]["a"]', "cannot index a list with a string", ""),
    ("(5).x", "an int has no attribute 'x'", ""),
    ("undefined", "name 'undefined' is not defined",
     "define it above this line (names are defined in order)"),
    ("SAMPLE", "name 'SAMPLE' is not defined", "did you mean 'SAMPLES'?"),
    ("expand", "'expand' is a function; call it as expand(...)", ""),
    ("wildcards.x",
     "'wildcards' is only known inside a rule's directives (they are evaluated for each job)", ""),
    ('expnad("a")', "unknown function 'expnad'", "did you mean 'expand'?"),
    ('zzz("a")', "unknown function 'zzz'", None),
    ("(1)(2)", "only functions and methods can be called", ""),
    ("len(5)", "len() cannot take the number 5: it takes a list, a string or a dict", ""),
    ('int("x1")', "int() cannot take the string 'x1': it takes a number or a string of digits", ""),
    ("min([])", "min() cannot take a list: it takes a non-empty list, or several values of one kind", ""),
    ("sorted([1], key=1)", "sorted() got an unknown keyword argument 'key' (it takes reverse=)", ""),
    ("len([1], x=1)", "len() got an unknown keyword argument 'x' (it takes none)", ""),
    ("expand(3)", "expand() takes a pattern string or a list of them, not an int", ""),
    ('expand("{a}", a={"x": 1})',
     "expand() value for 'a' must be a string, a number or a list of them, not a dict", ""),
    ('expand("{a}-{b}", a=[1])',
     "expand() got no value for wildcard {b} in '{a}-{b}' (give it, or pass allow_missing=true)", ""),
    ('expand("{a}", a=1, a=2)', "keyword argument 'a' given twice", ""),
    ("temp(1)", "temp() takes a file path, not an int", ""),
    ("temp()", "temp() takes one file path or a list of them", ""),
    ("glob_wildcards(1)", "glob_wildcards() takes one pattern string", ""),
    ('{[1]: 2}', "a dict key must be a string or a number, not a list", ""),
    ("range(100000000000)", "range() would make 100000000000 numbers (at most 10000000)", ""),
    ('"ab" * 100000000', "'*' would make a string of 200000000 characters (at most 10000000)", ""),
])
def test_errors_name_the_problem(text, message, hint):
    err = ev_error(text, SAMPLES=["a"])
    assert err.message == message
    if hint is not None:
        assert err.hint == hint
    assert err.pos.path == "Flowfile" and err.pos.line == 1 and err.pos.column >= 5


# ---------------------------------------------------------------- f-strings, comprehensions

CONFIG = {"ref": "GRCh38", "n": 7, "units": [{"sample": "a", "fq1": "a.fq"},
                                             {"sample": "b", "fq1": "b.fq"}]}


@pytest.mark.parametrize("text, value", [
    ('f"results/{config.ref}/{{sample}}.bam"', "results/GRCh38/{sample}.bam"),
    ('f"{config.n:03d}|{config.n:>4}|{2.5:.2f}"', "007|   7|2.50"),
    ("f'{1 + 2} {true} {none} {[1, 2]}'", "3 true None [1, 2]"),
    ("f'{temp(\"a\")} {temp(\"b\"):>3}'", "a   b"),
    ('rf"\\d{config.n}\\t"', "\\d7\\t"),
    ('f"tab\\t{{}}"', "tab\t{}"),
    ("f'{\"x\" if config.n > 5 else \"y\"}{config.units[0].sample}'", "xa"),
    ('[s for s in S if s != "ctrl"]', ["a", "b"]),
    ("{r.sample: r.fq1 for r in config.units}", {"a": "a.fq", "b": "b.fq"}),
    ("[a + b for a in ['x', 'y'] for b in ['1', '2'] if a != 'y' or b != '2']",
     ["x1", "x2", "y1"]),
    ("[k + v for k, v in {'a': 'b', 'c': 'd'}.items()]", ["ab", "cd"]),
    ("[i * x for i, x in enumerate([5, 6], start=1)]", [5, 12]),
    ("[c for c in 'ab']", ["a", "b"]),
    ("[k for k in {'a': 1, 'b': 2, 'c': 3} if k in S]", ["a", "b"]),
    ("[[x for x in range(y)] for y in range(3)]", [[], [0], [0, 1]]),
    ("[s for s in S] + [s for s in S]", ["a", "ctrl", "b", "a", "ctrl", "b"]),
    ("'a' if 'c' in 'abc' else 'b'", "a"),
    ("'ctrl' not in S", False),
    ("(1, 'a')", (1, "a")),
    ("()", ()),
    ("(1,)", (1,)),
    ("(1, 2)[1]", 2),
    ("S[1:]", ["ctrl", "b"]),
    ("S[:-1]", ["a", "ctrl"]),
    ("S[::2]", ["a", "b"]),
    ("S[::-1]", ["b", "ctrl", "a"]),
    ('"sample.fastq"[:-6]', "sample"),
    ("S[:]", ["a", "ctrl", "b"]),
    ("zip(S, [1, 2, 3])", [("a", 1), ("ctrl", 2), ("b", 3)]),
    ("{a: b for a, b in zip(S, range(3))}", {"a": 0, "ctrl": 1, "b": 2}),
    ("enumerate(['x'])", [(0, "x")]),
    ("any([0, 1])", True), ("all([1, 0])", False), ("all([])", True),
    ("sorted(set(['b', 'a', 'b']))", ["a", "b"]),
    ("set(['b', 'a', 'b'])", ["b", "a"]),
    ("'-'.join([s.upper() for s in S if s.startswith('c') or s.endswith('b')])", "CTRL-B"),
    ("' a.b '.strip().split('.')", ["a", "b"]),
    ("'{} {x}'.format(1, x=2)", "1 2"),
    ("{'a': 1}.get('b', 3)", 3),
    ("[k for k in {'a': 1}.keys()] + [v for v in {'a': 1}.values()]", ["a", 1]),
])
def test_fstrings_comprehensions_tuples_slices_and_their_builtins(text, value):
    assert ev(text, S=["a", "ctrl", "b"], config=record_from(CONFIG, "config")) == value


@pytest.mark.parametrize("text, message, column", [
    ("[x for x in 5]", "'for' needs a list, dict or string to loop over, got an int", 17),
    ("[a for a, b in [[1, 2, 3]]]", "cannot unpack 3 values into 2 names (a, b)", 8),
    ("[a for a, b in ['ab']]", "cannot unpack a string into 2 names (a, b)", 8),
    ("{x: 1 for x in [[1]]}", "a dict key must be a string or a number, not a list", 6),
    ("[y for x in S]", "name 'y' is not defined", 6),
    ("[x for x in range(4000) for y in range(4000)]",
     "this comprehension would take more than 10000000 steps", 5),
    ("[R for x in range(2)]",
     "this list would hold more than 10000000 values once the lists and dicts inside it are "
     "counted", 5),
    ("5[1:]", "cannot slice an int: slices take a list or a string", 5),
    ("S['a':]", "a slice's bounds and step are whole numbers, not a string", 7),
    ("S[::0]", "a slice's step cannot be zero", 7),
    ("f'a{1:>5000}'", "the width in '{...:>5000}' is too large", 8),
    ("f'a{S:03d}'", "cannot format a list with '03d': unsupported format string passed to "
                    "list.__format__", 8),
    ("f'{undefined}'", "name 'undefined' is not defined", 8),
    ("f'{R}'", "str() would make a string of more than 10000000 characters", 7),
    ("'a'.foo()", "a string has no method 'foo'", 5),
    ("(1, 2).foo()", "a tuple has no method 'foo'", 5),
    ("zip(1)", "zip() takes a list, a dict or a string, not an int", 5),
    ("enumerate(S, start='a')", "enumerate() takes a whole number as start, not a string", 5),
    ("set([[1]])", "set() takes values that are strings, numbers or booleans", 5),
    ("any(3)", "any() takes a list, a dict or a string, not an int", 5),
])
def test_errors_of_the_newer_forms_name_the_problem_at_its_place(text, message, column):
    nested = [list(range(1000))] * 6000
    err = ev_error(text, S=["a"], R=nested)
    assert err.message == message
    assert (err.pos.line, err.pos.column) == (1, column)


@pytest.mark.parametrize("text, value", [
    ('[s for s in S if s.endswith("1")]', ["a1", "c1"]),
    ('[s for s in S if s.startswith("b")]', ["b2"]),
    ('[s for s in S if s.endswith(("2", "3"))]', ["b2"]),
    ('[s for s in S if s.startswith("1", 1)]', ["a1", "c1"]),
    ('[s for s in S if s.endswith("")]', ["a1", "b2", "c1"]),
    ('[c for c in "a1b" if c.endswith("1")]', ["1"]),
    ('[s for s in [] if s.endswith("1")]', []),
    ('[s for s in {"a1": 1, "b2": 2} if s.endswith("1")]', ["a1"]),
    ('[s + "!" for s in S if s.endswith("1")]', ["a1!", "c1!"]),
    ('[t for s in S if s.endswith("1")]', ["T", "T"]),
    ('{s: 1 for s in S if s.endswith("1")}', {"a1": 1, "c1": 1}),
])
def test_a_comprehension_filtering_strings_by_their_start_or_end(text, value):
    assert ev(text, S=["a1", "b2", "c1"], t="T") == value


@pytest.mark.parametrize("items, message, column", [
    (["a1", 1], "an int has no method 'endswith'", 22),
    ([1, "a1"], "an int has no method 'endswith'", 22),
    (["a1", ["b"]], "a list has no method 'endswith'", 22),
])
def test_a_string_filter_meets_an_item_that_is_not_a_string(items, message, column):
    err = ev_error('[s for s in S if s.endswith("1")]', S=items)
    assert (err.message, err.pos.column) == (message, column)


def test_a_string_filter_with_a_wrong_argument_fails_at_the_call():
    err = ev_error("[s for s in S if s.endswith(1)]", S=["a1"])
    assert err.message == "endswith(): endswith first arg must be str or a tuple of str, not int"
    assert err.pos.column == 22
    assert ev("[s for s in S if s.endswith(1)]", S=[]) == []


def test_an_unknown_method_lists_the_methods_there_are():
    err = ev_error("'a'.foo()")
    assert err.hint == ("methods: endswith, format, join, lower, lstrip, removeprefix, "
                        "removesuffix, replace, rstrip, split, startswith, strip, upper")


def test_a_comprehension_s_own_names_are_not_free():
    (stmt,) = s.parse_flowfile(
        'X = [f"{s}{t}" for s in S if s != c for t in T[s]] + [s]\n').statements
    assert free_names(stmt.value) == {"S", "c", "T", "s"}
    (stmt,) = s.parse_flowfile("X = {k: v for k, v in d.items() if k}\n").statements
    assert free_names(stmt.value) == {"d"}


def test_error_positions_point_at_the_sub_expression():
    err = ev_error('"a" + (1 + undefined)')
    assert (err.pos.column, err.pos.end_column) == (16, 25)
    err = ev_error('[1, 2, config.nope]')
    assert err.pos.column == 12


def test_free_names_and_a_type():
    (stmt,) = s.parse_flowfile('X = f(a.b, c[d]) if e else g\n').statements
    assert free_names(stmt.value) == {"f", "a", "c", "d", "e", "g"}
    assert [a_type(v) for v in (1, "s", [], None, 1.5, Record())] == [
        "an int", "a string", "a list", "none", "a float", "a dict"]


# ---------------------------------------------------------------- limits

@pytest.mark.parametrize("text, message", [
    ('"a" * 6000000 + "b" * 6000000',
     "'+' would make a string of 12000000 characters (at most 10000000)"),
    ("R + R", "'+' would make a list of 12012000 items (at most 10000000)"),
    ("[R] * 2", "'*' would make a list of 12012002 items (at most 10000000)"),
    ("[R, R]", "this list would hold more than 10000000 values once the lists and dicts inside "
               "it are counted"),
    ('{"a": R, "b": R}', "this dict would hold more than 10000000 values once the lists and dicts "
                         "inside it are counted"),
    ('expand("{a}_{b}", a=range(4000), b=range(4000))',
     "expand() would make 16000000 paths (at most 10000000)"),
    ('expand(["{a}", "{a}.x"], a=range(6000000))',
     "expand() would make 12000000 paths (at most 10000000)"),
    ('("a" * 5000).join(["x"] * 3000)',
     "join() would make a string of 14998000 characters (at most 10000000)"),
    ('("a" * 400000).replace("a", "b" * 30)',
     "replace() would make a string of 12000000 characters (at most 10000000)"),
    ("(1,) * 100000000", "'*' would make a tuple of 100000000 items (at most 10000000)"),
    ("tuple_ + tuple_", "'+' would make a tuple of 12000000 items (at most 10000000)"),
    ('"{}{}".format("a" * 6000000, "b" * 6000000)',
     "format() would make a string of more than 10000000 characters"),
])
def test_what_an_expression_builds_is_bounded_before_it_is_built(text, message):
    nested = [list(range(1000))] * 6000   # 6,006,000 values: within the limit, twice is not
    err = ev_error(text, R=nested, tuple_=(0,) * 6000000)
    assert err.message == message
    assert err.pos.line == 1


def test_a_list_shown_as_text_is_bounded_before_it_is_built():
    long = "a" * 5_000_000
    err = ev_error("str([S] * 3)", S=long)
    assert err.message == "str() would make a string of more than 10000000 characters"
    err = ev_error('"{} {x}".format(1, x=[S, S, S])', S=long)
    assert err.message == "format() would make a string of more than 10000000 characters"
    assert ev("str([S, S])", S="ab") == "['ab', 'ab']"


def test_nested_lists_doubling_over_a_few_lines_are_refused(tmp_path):
    from fileflow.lang.loader import load_workflow

    lines = ["X0 = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]"]
    lines += [f"X{i} = [X{i - 1}, X{i - 1}, X{i - 1}, X{i - 1}, X{i - 1}, X{i - 1}, X{i - 1}, "
              f"X{i - 1}, X{i - 1}, X{i - 1}]" for i in range(1, 12)]
    lines += ["Y = str(X11)", 'rule a:\n    output: "a"\n']
    (tmp_path / "Flowfile").write_text("\n".join(lines) + "\n")
    with pytest.raises(FlowfileError) as info:
        load_workflow(str(tmp_path / "Flowfile"), workdir=str(tmp_path))
    assert info.value.pos.line == 7   # X6: ten million values and more
    assert "would hold more than 10000000 values" in info.value.message


def test_expanded_size_counts_shared_values_without_expanding_them():
    from fileflow.lang.values import expanded_size

    shared = ["x"] * 9
    for _ in range(30):   # 9 ** 31 values once expanded
        shared = [shared] * 9
    assert expanded_size(shared, 1000) == 1001
    assert expanded_size([[1, 2], {"a": [3]}]) == 8
    looped: list = [1]
    looped.append(looped)
    assert expanded_size(looped, 50) == 51


# ---------------------------------------------------------------- sample sheets, data files

SHEET = "sample\tfq1\treads\nA\ta_1.fq\t10\n\nB\t\t20\n"


def sheet_ev(tmp_path, monkeypatch, text: str, files: dict[str, str | bytes]):
    monkeypatch.chdir(tmp_path)
    for name, content in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            (tmp_path / name).write_bytes(content)
        else:
            (tmp_path / name).write_text(content)
    ctx = EvalContext(str(tmp_path))
    (stmt,) = s.parse_flowfile(f"X = {text}\n", "Flowfile").statements
    return compile_expr(stmt.value, make_builtins(ctx))({}), ctx


@pytest.mark.parametrize("text, value", [
    ('table("s.tsv")', [{"sample": "A", "fq1": "a_1.fq", "reads": "10"},
                        {"sample": "B", "fq1": "", "reads": "20"}]),
    ('table("s.tsv", na=true)[1].fq1', None),
    ('table("s.tsv", key="sample")["B"].reads', "20"),
    ('int(table("s.tsv", key="sample").A["reads"]) * 2', 20),
    ('list(table("s.tsv", key="sample"))', ["A", "B"]),
    ('table("s.csv")[0].b', "x, y"),
    ('table("s.txt", sep=";")[0].b', "2"),
    ('table("bom.csv")[0].name', "x"),
    ('load("m.yaml").samples[1].id', "S2"),
    ('load("m.json").n + 1', 4),
])
def test_table_and_load_read_files_into_values(tmp_path, monkeypatch, text, value):
    files = {"s.tsv": SHEET, "s.csv": 'a,b\n1,"x, y"\n', "s.txt": "a;b\n1;2\n",
             "bom.csv": "\ufeffname\nx\n", "m.yaml": "samples:\n  - id: S1\n  - id: S2\n",
             "m.json": '{"n": 3}'}
    got, ctx = sheet_ev(tmp_path, monkeypatch, text, files)
    assert got == value
    assert len(ctx.read_files) == 1 and ctx.read_files[0].startswith(str(tmp_path))


def test_a_file_is_read_once_per_load(tmp_path, monkeypatch):
    got, ctx = sheet_ev(tmp_path, monkeypatch, '[table("s.tsv"), table("s.tsv"), load("m.yaml")]',
                        {"s.tsv": SHEET, "m.yaml": "a: 1\n"})
    assert got[0] is got[1]
    assert ctx.read_files == [str(tmp_path / "s.tsv"), str(tmp_path / "m.yaml")]


@pytest.mark.parametrize("text, content, where, message", [
    ('table("s.tsv")', "a\tb\n1\t2\n3\n", "s.tsv:3:1",
     "this row of s.tsv has 1 field, the header has 2"),
    ('table("s.tsv")', "a\tb\n1\t2\t3\n", "s.tsv:2:1",
     "this row of s.tsv has 3 fields, the header has 2"),
    ('table("s.tsv", key="sample")', "sample\tx\nA\t1\nB\t2\nA\t3\n", "s.tsv:4:1",
     "sample 'A' appears twice in s.tsv"),
    ('table("s.tsv", key="sampel")', "sample\tx\nA\t1\n", "s.tsv:1:1",
     "s.tsv has no column 'sampel', the key of table()"),
    ('table("s.tsv", key="sample")', "sample\tx\n\t1\n", "s.tsv:2:1",
     "this row of s.tsv has no 'sample', the key of table()"),
    ('table("s.tsv")', b"a\tb\n1\t\xff\n", "s.tsv:2:3", "s.tsv is not UTF-8 text (byte 0xff)"),
    ('table("s.tsv")', "a\ta\n1\t2\n", "s.tsv:1:1", "column 'a' appears twice in the header of s.tsv"),
    ('table("s.tsv")', 'a\tb\n"1\t2\n', "s.tsv:2:1", "cannot read s.tsv: unexpected end of data"),
    ('load("m.json")', '{"a": 1,\n "b": }', "m.json:2:7",
     "invalid JSON in m.json: Expecting value"),
    ('load("m.yaml")', "a: [1,\n", "m.yaml:2:1",
     "invalid YAML in data file: expected the node content, but found '<stream end>'"),
    ('load("m.yaml")', "a: 1\nb: x\x01y\n", "m.yaml:2:5",
     "invalid YAML in data file: the character '\\x01' is not allowed in YAML text"),
])
def test_errors_in_a_sheet_name_its_own_line(tmp_path, monkeypatch, text, content, where, message):
    name = "m.json" if "m.json" in text else "m.yaml" if "m.yaml" in text else "s.tsv"
    with pytest.raises(FlowfileError) as info:
        sheet_ev(tmp_path, monkeypatch, text, {name: content})
    assert (str(info.value.pos), info.value.message) == (where, message)


def test_a_sheet_field_beyond_the_csv_limit_says_so_in_its_hint(tmp_path, monkeypatch):
    with pytest.raises(FlowfileError) as info:
        sheet_ev(tmp_path, monkeypatch, 'table("s.tsv")', {"s.tsv": "a\tb\n1\t" + "x" * 200_000 + "\n"})
    assert (str(info.value.pos), info.value.message) == (
        "s.tsv:2:1", "cannot read s.tsv: field larger than field limit (131072)")
    assert info.value.hint.startswith("a field of a sheet holds at most 131072 characters")


@pytest.mark.parametrize("text, message", [
    ('table("none.tsv")', "file not found: none.tsv"),
    ('table("s.dat")', "table() cannot tell the separator of 's.dat' from its name (.csv, .tsv "
                       "or .tab): give it, e.g. sep=\",\" or sep=\"\\t\""),
    ('table("s.tsv", sep=",,")', "table() sep= takes one character such as \",\" or \"\\t\", "
                                 "not ',,'"),
    ('table("s.tsv", keys="a")', "table() got an unknown keyword argument 'keys' "
                                 "(it takes sep=, key=, na=)"),
    ('table("s.tsv", key=1)', "table() key= takes a column name, not an int"),
    ('table(1)', "table() takes a file path, not an int"),
    ('table("dir.tsv")', "cannot read dir.tsv: it is a directory, not a regular file"),
    ('table("empty.tsv")', "empty.tsv is empty: a sheet starts with a header row naming its "
                           "columns"),
    ('table("s.tsv")[0].fq2', "s.tsv:2 has no key 'fq2'"),
    ('table("s.tsv", key="sample").C', "table('s.tsv') has no key 'C'"),
    ('load("none.yaml")', "data file not found: none.yaml"),
    ('load("s.tsv", key="a")', "load() got an unknown keyword argument 'key' (it takes none)"),
    ('load("m.yaml").b', "load('m.yaml') has no key 'b'"),
])
def test_table_and_load_errors_at_the_call(tmp_path, monkeypatch, text, message):
    (tmp_path / "dir.tsv").mkdir()
    with pytest.raises(FlowfileError) as info:
        sheet_ev(tmp_path, monkeypatch, text, {"s.tsv": SHEET, "s.dat": "a\n", "empty.tsv": "\n",
                                               "m.yaml": "a: 1\n"})
    assert (info.value.message, str(info.value.pos)) == (message, "Flowfile:1:5")


def test_a_sheet_larger_than_a_config_file_may_be_is_refused(tmp_path, monkeypatch):
    big = "a\n" + "x" * (16 * 1024 * 1024) + "\n"
    with pytest.raises(FlowfileError) as info:
        sheet_ev(tmp_path, monkeypatch, 'table("big.csv")', {"big.csv": big})
    assert info.value.message == ("cannot read big.csv: it is larger than 16 MiB, the most a "
                                  "sample sheet may hold")


def test_multiext_touch_ensure_and_repeat():
    assert ev('multiext("ref/{s}", ".amb", ".bwt")') == ["ref/{s}.amb", "ref/{s}.bwt"]
    named = ev('multiext("ref/g", amb=".amb", bwt=".bwt")')
    assert named.items == (("amb", "ref/g.amb"), ("bwt", "ref/g.bwt"))
    assert ev('touch("a.done")') == Flagged("a.done", frozenset({"touch"}))
    digest = "AB" * 32
    assert ev(f'ensure(temp("x"), non_empty=true, sha256="{digest}")') == Flagged(
        "x", frozenset({"temp", "ensure_non_empty", "ensure_sha256=" + "ab" * 32}))
    assert ev('repeat("b.tsv", 3)') == Flagged("b.tsv", frozenset({"repeat=3"}))


@pytest.mark.parametrize("text, words", [
    ('multiext("a")', "either extensions"),
    ('multiext("a", ".x", y=".y")', "not both"),
    ('multiext("a", 3)', "extensions are non-empty strings, not the number 3"),
    ('ensure("x")', "ensure() needs a check"),
    ('ensure("x", sha256="abc")', "64 hexadecimal digits"),
    ('ensure("x", size=3)', "size"),
    ('repeat("b.tsv", 0)', "from 1 to 1000"),
])
def test_output_helper_errors(text, words):
    assert words in ev_error(text).message
